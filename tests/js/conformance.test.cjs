// The official `phoenix` JS client (1.8.x and 1.7.x) and raw `ws` clients
// against a nodus-channels endpoint at NODUS_URL (ws://host:port/socket),
// started by crates/channels/tests/js_client.rs with the test socket and
// channels of crates/channels/tests/common/mod.rs.
// Node 20 has no global WebSocket: the clients get `ws` as their transport.
"use strict";
const { test } = require("node:test");
const assert = require("node:assert/strict");
const WS = require("ws");
const Phoenix18 = require("phoenix");
const Phoenix17 = require("phoenix17");

const URL = process.env.NODUS_URL || "ws://127.0.0.1:4000/socket";
const HTTP = URL.replace(/^ws/, "http");
const WAIT = 10000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function within(ms, what, p) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]);
}

// A phoenix.js Socket over `ws`.
function socket(Phoenix, opts = {}) {
  const s = new Phoenix.Socket(URL, { transport: WS.WebSocket, timeout: WAIT, heartbeatIntervalMs: 1000, ...opts });
  s.connect();
  return s;
}

function join(ch) {
  return within(WAIT, `join ${ch.topic}`, new Promise((res, rej) => {
    ch.join().receive("ok", res).receive("error", (e) => rej(Object.assign(new Error("join error"), { reply: e })))
      .receive("timeout", () => rej(new Error("join timeout")));
  }));
}

function joinError(ch) {
  return within(WAIT, `refused join ${ch.topic}`, new Promise((res, rej) => {
    ch.join().receive("ok", () => rej(new Error("joined"))).receive("error", res);
  }));
}

function push(ch, event, payload) {
  return within(WAIT, `push ${event}`, new Promise((res, rej) => {
    ch.push(event, payload).receive("ok", (r) => res({ status: "ok", r })).receive("error", (r) => res({ status: "error", r }))
      .receive("timeout", () => rej(new Error(`${event} timeout`)));
  }));
}

function next(ch, event) {
  return within(WAIT, `event ${event} on ${ch.topic}`, new Promise((res) => {
    const ref = ch.on(event, (p) => { ch.off(event, ref); res(p); });
  }));
}

// A raw websocket client: frames as strings (or Buffers), in order.
function raw(query = "vsn=2.0.0", opts = {}) {
  const ws = new WS.WebSocket(`${URL}/websocket?${query}`, opts.protocols || [], { perMessageDeflate: true, ...opts.ws });
  const frames = [];
  const waiters = [];
  ws.on("message", (data, isBinary) => {
    const f = isBinary ? Buffer.from(data) : data.toString();
    const w = waiters.shift();
    if (w) w(f); else frames.push(f);
  });
  const opened = new Promise((res, rej) => {
    ws.on("open", res);
    ws.on("unexpected-response", (_req, resp) => rej(Object.assign(new Error(`HTTP ${resp.statusCode}`), { status: resp.statusCode })));
    ws.on("error", rej);
  });
  const closed = new Promise((res) => ws.on("close", (code, reason) => res({ code, reason: reason.toString() })));
  return {
    ws, opened, closed,
    send: (x) => ws.send(typeof x === "string" || Buffer.isBuffer(x) ? x : JSON.stringify(x)),
    next: (what = "a frame") => frames.length ? Promise.resolve(frames.shift())
      : within(WAIT, what, new Promise((res) => waiters.push(res))),
  };
}

async function rawJoined(topic, query) {
  const c = raw(query);
  await c.opened;
  c.send(["1", "1", topic, "phx_join", {}]);
  const r = JSON.parse(await c.next("join reply"));
  assert.equal(r[4].status, "ok");
  return c;
}

for (const [label, Phoenix] of [["1.8", Phoenix18], ["1.7", Phoenix17]]) {
  test(`phoenix ${label}: join, replies, pushes, assigns, broadcasts, leave`, async () => {
    const a = socket(Phoenix, { params: { user: "ann" } });
    const b = socket(Phoenix);
    try {
      const ch = a.channel("test:one", {});
      const welcome = next(ch, "welcome");
      assert.deepEqual(await join(ch), { joined: "test:one" });
      assert.deepEqual(await welcome, { topic: "test:one" });
      assert.deepEqual(await push(ch, "assigns", {}), { status: "ok", r: { user: "ann", transport: "WebSocket", count: 0 } });
      assert.deepEqual((await push(ch, "inc", {})).r, { count: 1 });
      assert.deepEqual((await push(ch, "inc", {})).r, { count: 2 });
      assert.deepEqual(await push(ch, "later", {}), { status: "ok", r: { late: true } });
      const pushed = next(ch, "pushed");
      await push(ch, "push", { n: 7 });
      assert.deepEqual(await pushed, { n: 7 });
      assert.deepEqual(await push(ch, "nope", {}), { status: "error", r: { reason: "unknown event" } });

      const room = a.channel("room:lobby", {});
      const other = b.channel("room:lobby", {});
      await join(room); await join(other);
      assert.deepEqual(await push(room, "ping", { x: 1 }), { status: "ok", r: { pong: { x: 1 } } });
      const got = [next(room, "shout"), next(other, "shout")];
      room.push("shout", { body: "hi from " + label });
      assert.deepEqual(await Promise.all(got), [{ body: "hi from " + label }, { body: "hi from " + label }]);

      assert.deepEqual((await joinError(a.channel("room:forbidden", {}))), { reason: "unauthorized" });
      assert.deepEqual((await joinError(a.channel("nomatch:x", {}))), { reason: "unmatched topic" });
      assert.deepEqual((await joinError(a.channel("test:two", { refuse: true }))), { reason: "refused" });
      assert.deepEqual((await joinError(a.channel("test:crashjoin", {}))), { reason: "join crashed" });

      const left = new Promise((res) => room.onClose(res));
      room.leave();
      await within(WAIT, "phx_close after leave", left);
    } finally {
      a.disconnect(); b.disconnect();
    }
  });
}

test("V1 JSON (vsn 1.0.0) with the client's object encoding", async () => {
  const s = socket(Phoenix18, {
    vsn: "1.0.0",
    encode: (msg, cb) => cb(JSON.stringify({ topic: msg.topic, event: msg.event, payload: msg.payload, ref: msg.ref, join_ref: msg.join_ref })),
    decode: (raw, cb) => cb(JSON.parse(raw)),
  });
  try {
    const ch = s.channel("room:v1", {});
    await join(ch);
    assert.deepEqual(await push(ch, "ping", { v: 1 }), { status: "ok", r: { pong: { v: 1 } } });
    const shout = next(ch, "shout");
    ch.push("shout", { body: "v1" });
    assert.deepEqual(await shout, { body: "v1" });
  } finally { s.disconnect(); }
  // The raw V1 frames: sorted objects, no join_ref.
  const c = raw("vsn=1.0.0");
  await c.opened;
  c.send({ topic: "room:v1", event: "phx_join", payload: {}, ref: "1", join_ref: "1" });
  assert.equal(await c.next(), '{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"1","topic":"room:v1"}');
  c.ws.close();
});

test("V2 binary payloads: a binary ping gets the same bytes back, binary broadcasts", async () => {
  const a = socket(Phoenix18);
  const b = socket(Phoenix18);
  try {
    const ch = a.channel("room:bin", {});
    const other = b.channel("room:bin", {});
    await join(ch); await join(other);
    const bytes = new Uint8Array([0, 1, 2, 250, 255]).buffer;
    const r = await push(ch, "ping", bytes);
    assert.equal(r.status, "ok");
    assert.ok(r.r instanceof ArrayBuffer, "a binary reply");
    assert.deepEqual([...new Uint8Array(r.r)], [0, 1, 2, 250, 255]);
    const got = next(other, "shout");
    ch.push("shout", new Uint8Array([9, 8, 7]).buffer);
    const p = await got;
    assert.ok(p instanceof ArrayBuffer, "a binary broadcast");
    assert.deepEqual([...new Uint8Array(p)], [9, 8, 7]);
  } finally { a.disconnect(); b.disconnect(); }
  // Layouts on the wire: reply kind 1, broadcast kind 2.
  const c = await rawJoined("room:bin2");
  const push0 = Buffer.concat([Buffer.from([0, 1, 1, 9, 4]), Buffer.from("12room:bin2ping"), Buffer.from([5, 6])]);
  c.send(push0);
  const reply = await c.next();
  assert.deepEqual([...reply], [1, 1, 1, 9, 2, ...Buffer.from("12room:bin2ok"), 5, 6]);
  const shout = Buffer.concat([Buffer.from([0, 1, 1, 9, 5]), Buffer.from("13room:bin2shout"), Buffer.from([7])]);
  c.send(shout);
  assert.deepEqual([...(await c.next())], [2, 9, 5, ...Buffer.from("room:bin2shout"), 7]);
  c.ws.close();
});

test("long-poll: join, ping, and broadcasts both ways with a WebSocket client", async () => {
  const lp = socket(Phoenix18, { transport: Phoenix18.LongPoll, params: { user: "lp" } });
  const ws = socket(Phoenix18);
  try {
    const ch = lp.channel("test:lp", {});
    await join(ch);
    assert.deepEqual((await push(ch, "assigns", {})).r, { user: "lp", transport: "LongPoll", count: 0 });
    const room = lp.channel("room:lp", {});
    const wroom = ws.channel("room:lp", {});
    await join(room); await join(wroom);
    assert.deepEqual(await push(room, "ping", { lp: true }), { status: "ok", r: { pong: { lp: true } } });
    let got = next(room, "shout");
    wroom.push("shout", { from: "ws" });
    assert.deepEqual(await got, { from: "ws" });
    got = next(wroom, "shout");
    room.push("shout", { from: "lp" });
    assert.deepEqual(await got, { from: "lp" });
    // Several pushes in one batch (ndjson), answered in order.
    const rs = await Promise.all([1, 2, 3].map((i) => push(room, "ping", { i })));
    assert.deepEqual(rs.map((r) => r.r.pong.i), [1, 2, 3]);
  } finally { lp.disconnect(); ws.disconnect(); }
  // Raw: an unknown token is gone (410), a bad vsn or a refused connect is 403.
  const gone = await (await fetch(`${HTTP}/longpoll?vsn=2.0.0&token=nope`)).json();
  assert.equal(gone.status, 410);
  assert.equal((await (await fetch(`${HTTP}/longpoll?vsn=3.0.0`)).json()).status, 403);
  assert.equal((await (await fetch(`${HTTP}/longpoll?vsn=2.0.0&token=bad`)).json()).status, 410);
});

test("the frames of a real Phoenix endpoint, byte for byte", async () => {
  const c = raw();
  await c.opened;
  assert.equal(c.ws.extensions, "", "no permessage-deflate although the client offers it");
  c.send([null, "12", "phoenix", "heartbeat", {}]);
  assert.equal(await c.next(), '[null,"12","phoenix","phx_reply",{"response":{},"status":"ok"}]');
  c.send(["5", "5", "room:lobby", "phx_join", {}]);
  assert.equal(await c.next(), '["5","5","room:lobby","phx_reply",{"response":{},"status":"ok"}]');
  c.send(["6", "6", "room:forbidden", "phx_join", {}]);
  assert.equal(await c.next(), '["6","6","room:forbidden","phx_reply",{"response":{"reason":"unauthorized"},"status":"error"}]');
  c.send(["7", "17", "nomatch:topic", "phx_join", {}]);
  assert.equal(await c.next(), '[null,"17","nomatch:topic","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]');
  c.send(["5", "18", "room:notjoined", "ping", {}]);
  assert.equal(await c.next(), '[null,"18","room:notjoined","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]');
  c.send(["5", "19", "room:lobby", "ping", { a: 1 }]);
  assert.equal(await c.next(), '["5","19","room:lobby","phx_reply",{"response":{"pong":{"a":1}},"status":"ok"}]');
  c.send(["5", "20", "room:lobby", "shout", { b: 2 }]);
  assert.equal(await c.next(), '[null,null,"room:lobby","shout",{"b":2}]');
  // Duplicate join: the new join's reply, then phx_close for the old join ref.
  c.send(["21", "21", "room:lobby", "phx_join", {}]);
  assert.equal(await c.next(), '["21","21","room:lobby","phx_reply",{"response":{},"status":"ok"}]');
  assert.equal(await c.next(), '["5","5","room:lobby","phx_close",{}]');
  // Leave: its reply, then phx_close.
  c.send(["21", "22", "room:lobby", "phx_leave", {}]);
  assert.equal(await c.next(), '["21","22","room:lobby","phx_reply",{"response":{},"status":"ok"}]');
  assert.equal(await c.next(), '["21","21","room:lobby","phx_close",{}]');
  // "stop" stops normally (phx_close); another event fails the channel (phx_error).
  c.send(["30", "30", "room:a", "phx_join", {}]);
  await c.next();
  c.send(["30", "31", "room:a", "stop", {}]);
  assert.equal(await c.next(), '["30","30","room:a","phx_close",{}]');
  c.send(["32", "32", "room:b", "phx_join", {}]);
  await c.next();
  c.send(["32", "33", "room:b", "whatever", {}]);
  assert.equal(await c.next(), '["32","32","room:b","phx_error",{}]');
  // A panic in a callback ends that channel with phx_error; the socket lives on.
  c.send(["40", "40", "test:p", "phx_join", {}]);
  await c.next(); await c.next(); // the reply, then the welcome push
  c.send(["40", "41", "test:p", "crash", {}]);
  assert.equal(await c.next(), '["40","40","test:p","phx_error",{}]');
  c.send([null, "42", "phoenix", "heartbeat", {}]);
  assert.equal(await c.next(), '[null,"42","phoenix","phx_reply",{"response":{},"status":"ok"}]');
  // A stop with a reply: the reply, then phx_close.
  c.send(["43", "43", "test:q", "phx_join", {}]);
  await c.next(); await c.next();
  c.send(["43", "44", "test:q", "stop_reply", {}]);
  assert.equal(await c.next(), '["43","44","test:q","phx_reply",{"response":{"bye":true},"status":"ok"}]');
  assert.equal(await c.next(), '["43","43","test:q","phx_close",{}]');
  c.send(["45", "45", "test:r", "phx_join", {}]);
  await c.next(); await c.next();
  c.send(["45", "46", "test:r", "stop_error", {}]);
  assert.equal(await c.next(), '["45","45","test:r","phx_error",{}]');
  // A frame that is not JSON: closed with 1011.
  c.send("this is not json");
  assert.equal((await within(WAIT, "close", c.closed)).code, 1011);
  // The client's close (an empty close frame) is answered: a clean close.
  // (A real Phoenix answers with code 1000; tungstenite echoes the empty
  // frame, which the client reports as 1005.)
  const d = raw();
  await d.opened;
  d.ws.close();
  assert.ok([1000, 1005].includes((await within(WAIT, "close", d.closed)).code));
});

test("vsn, origin, connect and authToken are checked before the upgrade", async () => {
  for (const q of ["vsn=3.0.0", "vsn=2.1.0", "vsn=2.0.0&token=bad"]) {
    await assert.rejects(raw(q).opened, (e) => e.status === 403, q);
  }
  await assert.rejects(raw("vsn=2.0.0", { ws: { origin: "http://evil.example" } }).opened, (e) => e.status === 403);
  const host = new globalThis.URL(URL).host;
  const ok = raw("vsn=2.0.0", { ws: { origin: `http://${host}` } });
  await ok.opened;
  ok.ws.close();
  // Phoenix 1.8's authToken: the "phoenix" subprotocol is selected, connect gets the token.
  const s = socket(Phoenix18, { authToken: "tok-alice" });
  try {
    const ch = s.channel("test:auth", {});
    await join(ch);
    assert.equal(s.conn.protocol, "phoenix");
    assert.equal((await push(ch, "assigns", {})).r.user, "tok-alice");
  } finally { s.disconnect(); }
});

test("intercepts, broadcast_from, terminate, and the disconnect broadcast of a socket id", async () => {
  const a = socket(Phoenix18, { params: { user: "amy" } });
  const b = socket(Phoenix18, { params: { user: "bob" } });
  try {
    const ca = a.channel("test:x", {}); const cb = b.channel("test:x", {});
    const log = a.channel("log:terminate", {});
    await join(ca); await join(cb); await join(log);
    // handle_out rewrites an intercepted event, for every subscriber.
    const fa = next(ca, "filtered"); const fb = next(cb, "filtered");
    await push(ca, "filtered", { k: 1 });
    assert.deepEqual(await fa, { intercepted: true, original: { k: 1 } });
    assert.deepEqual(await fb, { intercepted: true, original: { k: 1 } });
    // broadcast_from: everyone but the sender.
    let mine = 0;
    ca.on("bfrom", () => { mine += 1; });
    const gb = next(cb, "bfrom");
    await push(ca, "bfrom", { z: 1 });
    assert.deepEqual(await gb, { z: 1 });
    await push(ca, "ping", {}); // after the broadcast on the same socket
    assert.equal(mine, 0, "broadcast_from does not reach its sender");
    // terminate runs on leave.
    const term = next(log, "terminated");
    cb.leave();
    assert.deepEqual(await term, { topic: "test:x", reason: "{shutdown, left}" });
    // "disconnect" to user_socket:bob closes bob's socket, not amy's.
    const bobClosed = new Promise((res) => b.onClose(res));
    await push(ca, "kick", { user: "bob" });
    await within(WAIT, "bob disconnected", bobClosed);
    assert.deepEqual((await push(ca, "inc", {})).r, { count: 1 });
  } finally { a.disconnect(); b.disconnect(); }
});

test("limits: frame size, join flood, client silence, a client that stops reading", async () => {
  // A frame over max_frame_size (64 KiB in the test endpoint) closes the socket.
  const big = raw();
  await big.opened;
  big.send(JSON.stringify(["1", "1", "room:big", "phx_join", { pad: "x".repeat(70 * 1024) }]));
  assert.equal((await within(WAIT, "close", big.closed)).code, 1009);

  // Join flood: 20 channels at most (the test endpoint's max_channels).
  const f = raw();
  await f.opened;
  for (let i = 0; i < 50; i++) f.send([String(i), String(i), `room:f${i}`, "phx_join", {}]);
  let ok = 0, refused = 0;
  for (let i = 0; i < 50; i++) {
    const r = JSON.parse(await f.next());
    if (r[4].status === "ok") ok++; else { assert.deepEqual(r[4].response, { reason: "too many channels" }); refused++; }
  }
  assert.deepEqual([ok, refused], [20, 30]);
  f.send([null, "99", "phoenix", "heartbeat", {}]);
  assert.match(await f.next(), /"status":"ok"/);
  f.ws.close();

  // Silence: a client that sends nothing is closed after the timeout (3 s here).
  const quiet = raw();
  await quiet.opened;
  const t0 = Date.now();
  const qc = await within(20000, "closed for silence", quiet.closed);
  assert.ok(Date.now() - t0 >= 2500, "not before the timeout");
  assert.equal(qc.code, 1001);

  // A client that stops reading: its queue (256 frames here) fills and it is dropped.
  const slow = await rawJoined("test:slow");
  await slow.next(); // the welcome push
  slow.ws._socket.pause();
  // It still talks (heartbeats), so only its reading is at fault.
  const hb = setInterval(() => slow.send([null, "hb", "phoenix", "heartbeat", {}]), 500);
  const talker = await rawJoined("test:ctl");
  await talker.next();
  // 20,000 broadcasts of 2 kB to the slow client's topic: far more than the queue and the socket buffers.
  talker.send(["1", "2", "test:ctl", "flood", { n: 20000, size: 2000, topic: "test:slow" }]);
  const sc = await within(60000, "slow client dropped", (async () => {
    await sleep(1500);
    slow.ws._socket.resume();
    return slow.closed;
  })());
  clearInterval(hb);
  assert.ok(sc.code === 1006 || sc.code === 1008, `closed (${sc.code})`);
  // The talker reads, and keeps its socket.
  talker.send([null, "t", "phoenix", "heartbeat", {}]);
  for (;;) { const m = await talker.next(); if (m.includes('"t","phoenix"')) break; }
  talker.ws.close();
});

test("reconnect and rejoin after the server drops the socket", async () => {
  // heartbeats rarer than the server's 3 s timeout: the server drops the socket.
  const s = socket(Phoenix18, { heartbeatIntervalMs: 60000, reconnectAfterMs: () => 50, rejoinAfterMs: () => 50 });
  const w = socket(Phoenix18);
  try {
    const ch = s.channel("room:re", {});
    const wc = w.channel("room:re", {});
    let joins = 0;
    await join(ch); joins++;
    await join(wc);
    const closed = new Promise((res) => s.onClose(res));
    await within(20000, "server drops the silent socket", closed);
    // phoenix.js reconnects and rejoins; broadcasts reach it again.
    await within(20000, "rejoined", (async () => { while (!ch.isJoined() || !s.isConnected()) await sleep(50); })());
    const got = next(ch, "shout");
    wc.push("shout", { again: true });
    assert.deepEqual(await got, { again: true });
    assert.ok(joins === 1);
  } finally { s.disconnect(); w.disconnect(); }
});
