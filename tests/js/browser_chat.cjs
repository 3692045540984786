// A real browser (Debian's chromium, headless, driven by puppeteer-core;
// nothing downloads a browser) loads the demo chat page of two nodes of a
// `nodus cluster`; a message typed on one page appears on the other.
//   node browser_chat.cjs URL_OF_NODE_1 URL_OF_NODE_3 SCREENSHOT_DIR
"use strict";
const puppeteer = require("puppeteer-core");
const fs = require("fs");
const path = require("path");
const os = require("os");

const [url1, url3, outDir] = process.argv.slice(2);
const exe = process.env.CHROMIUM || "/usr/bin/chromium";

async function page(browser, url) {
  const p = await browser.newPage();
  p.on("pageerror", (e) => console.error(`page error on ${url}: ${e.message}`));
  await p.goto(url, { waitUntil: "load", timeout: 30000 });
  await p.waitForFunction(() => document.body.dataset.joined === "1", { timeout: 30000, polling: 100 });
  return p;
}

async function say(p, user, body) {
  await p.bringToFront();
  await p.$eval("#user", (el, v) => { el.value = v; }, user);
  await p.type("#body", body);
  await p.click("button[type=submit]");
}

async function waitFor(p, text) {
  await p.waitForFunction((t) => [...document.querySelectorAll("#log .body")].some((e) => e.textContent === t),
    { timeout: 30000, polling: 100 }, text);
}

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "nodus-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: exe,
    headless: true,
    // Software rendering on a loaded 2-core machine: a screenshot once
    // took over the default 180 s.
    protocolTimeout: 600000,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-background-timer-throttling",
      "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows", `--user-data-dir=${profile}`],
  });
  let code = 0;
  const t0 = Date.now();
  const step = (what) => console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  try {
    const p1 = await page(browser, url1);
    const p3 = await page(browser, url3);
    const n1 = await p1.$eval("#node", (e) => e.textContent);
    const n3 = await p3.$eval("#node", (e) => e.textContent);
    if (n1 === n3) throw new Error(`both pages are served by ${n1}`);
    step("both pages loaded");
    await say(p1, "alice", "hello from the first node");
    await waitFor(p3, "hello from the first node");
    await say(p3, "bob", "and back from the third");
    await waitFor(p1, "and back from the third");
    const from = await p3.$eval("#log li .from", (e) => e.textContent);
    if (!from.includes(n1)) throw new Error(`the message on ${n3} says it came from "${from}", not ${n1}`);
    step("messages went both ways");
    fs.mkdirSync(outDir, { recursive: true });
    // A page in a background tab produces no frame to capture: each is
    // brought to the front first.
    await p1.bringToFront();
    await p1.screenshot({ path: path.join(outDir, "chat-node1.png") });
    await p3.bringToFront();
    await p3.screenshot({ path: path.join(outDir, "chat-node3.png") });
    step("screenshots taken");
    console.log(`ok: ${n1} -> ${n3} and back; screenshots in ${outDir}`);
  } catch (e) {
    console.error(`browser test failed: ${e.stack || e}`);
    code = 1;
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.exit(code);
})();
