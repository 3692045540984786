//! The demo of `nodus cluster` in a real browser: headless Chromium
//! (Debian's `chromium`, driven by puppeteer-core from `tests/js`) loads
//! the chat page of node 1 and of node 3; what is typed on one appears on
//! the other. The screenshots are kept in `target/ci-artifacts/`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod support;
use support::World;

#[test]
fn chat_page_of_node_1_and_node_3_in_chromium() {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/js");
    assert!(
        js.join("node_modules/puppeteer-core").is_dir(),
        "{}: run `npm ci` there first",
        js.display()
    );
    let w = World::new("browser");
    let mut c = w.nodus(&[
        "cluster",
        "--http-port",
        "0",
        "--epmd-port",
        &w.epmd.to_string(),
    ]);
    let mut urls = Vec::new();
    for n in ["n1@127.0.0.1", "n2@127.0.0.1", "n3@127.0.0.1"] {
        let line = c.wait_line(&format!("node {n} chat: "), Duration::from_secs(60));
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("a URL on the chat line")
            .to_string();
        urls.push(url);
    }
    c.wait_line("running", Duration::from_secs(60));
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ci-artifacts");
    let out = Command::new("node")
        .arg("browser_chat.cjs")
        .arg(&urls[0])
        .arg(&urls[2])
        .arg(&out_dir)
        .current_dir(&js)
        .env("HOME", &w.home)
        .output()
        .expect("node on PATH");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ok: n1@127.0.0.1 -> n3@127.0.0.1"), "{text}");
    assert!(out_dir.join("chat-node3.png").is_file());
    c.signal("TERM");
    assert!(c.wait_exit(Duration::from_secs(20)).success());
}
