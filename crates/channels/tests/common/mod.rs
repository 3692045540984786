//! What the channel tests share: a test endpoint (the demo `room:*`, a
//! `test:*` channel that exercises every callback, `log:*` to watch
//! `terminate`), a socket handler that refuses `token=bad` and names the
//! socket after its user, and running the official JS client in Node.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nodus::pubsub::{Options, PubSub};
use nodus::Node;
use nodus_channels::{
    demo, Assigns, Channel, ChannelSocket, Config, ConnectInfo, Endpoint, HandleIn, Payload,
    Reason, SocketHandler,
};
use serde_json::json;

/// A TCP port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The repository's `tests/js`, with its `node_modules` (`npm ci`).
pub fn js_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/js");
    assert!(
        d.join("node_modules/phoenix").is_dir(),
        "{}: run `npm ci` there first (the official phoenix client, ws and puppeteer-core)",
        d.display()
    );
    d
}

/// Runs `node ARGS` in `tests/js` with `env`, killed after `limit`;
/// returns (success, stdout + stderr).
pub fn node_js(args: &[&str], env: &[(&str, String)], limit: Duration) -> (bool, String) {
    let dir = js_dir();
    let mut cmd = Command::new("node");
    // Output straight to the test's: a hanging suite still shows how far it got.
    cmd.args(args)
        .current_dir(&dir)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("node on PATH");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(out)) => (
            out.status.success(),
            format!("node exited with {}", out.status),
        ),
        Ok(Err(e)) => (false, format!("node: {e}")),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            (false, format!("node {args:?} did not finish in {limit:?}"))
        }
    }
}

/// Refuses `token=bad`; the user is the `user` param or the auth token;
/// the socket id is `user_socket:USER`.
pub struct TestSocket;

impl SocketHandler for TestSocket {
    async fn connect(
        &self,
        params: &HashMap<String, String>,
        info: &ConnectInfo,
        assigns: &mut Assigns,
    ) -> Result<(), ()> {
        if params.get("token").map(String::as_str) == Some("bad") {
            return Err(());
        }
        if let Some(u) = params
            .get("user")
            .cloned()
            .or_else(|| info.auth_token.clone())
        {
            assigns.insert("user", u);
        }
        assigns.insert("transport", format!("{:?}", info.transport));
        Ok(())
    }

    fn id(&self, assigns: &Assigns) -> Option<String> {
        assigns
            .get::<String>("user")
            .map(|u| format!("user_socket:{u}"))
    }
}

/// Exercises every callback (see the module docs).
#[derive(Default)]
pub struct TestChannel;

impl Channel for TestChannel {
    async fn join(
        &mut self,
        topic: &str,
        p: Payload,
        s: &mut ChannelSocket,
    ) -> Result<Payload, Payload> {
        if topic == "test:crashjoin" {
            panic!("join crashes on purpose");
        }
        if p.as_json().and_then(|v| v.get("refuse")).is_some() {
            return Err(Payload::json(json!({"reason": "refused"})));
        }
        s.assigns.insert("count", 0);
        s.push("welcome", Payload::json(json!({"topic": topic})));
        Ok(Payload::json(json!({"joined": topic})))
    }

    async fn handle_in(&mut self, event: &str, p: Payload, s: &mut ChannelSocket) -> HandleIn {
        match event {
            "crash" => panic!("handle_in crashes on purpose"),
            "assigns" => HandleIn::ok(Payload::json(json!({
                "user": s.assigns.value("user"),
                "transport": s.assigns.value("transport"),
                "count": s.assigns.value("count"),
            }))),
            "inc" => {
                let n = s.assigns.get::<i64>("count").unwrap_or(0) + 1;
                s.assigns.insert("count", n);
                HandleIn::ok(Payload::json(json!({ "count": n })))
            }
            "later" => {
                let r = s.reply_later();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    r.reply("ok", &Payload::json(json!({"late": true})));
                });
                HandleIn::NoReply
            }
            "push" => {
                s.push("pushed", p);
                HandleIn::ok(Payload::empty())
            }
            "flood" => {
                let n = p
                    .as_json()
                    .and_then(|v| v.get("n"))
                    .and_then(|v| v.as_u64())
                    .unwrap_or(10);
                let size = p
                    .as_json()
                    .and_then(|v| v.get("size"))
                    .and_then(|v| v.as_u64())
                    .unwrap_or(10);
                let body = "x".repeat(size as usize);
                let topic = p
                    .as_json()
                    .and_then(|v| v.get("topic"))
                    .and_then(|v| v.as_str())
                    .unwrap_or(s.topic())
                    .to_string();
                let ep = s.endpoint().clone();
                tokio::spawn(async move {
                    for i in 0..n {
                        if ep
                            .broadcast(
                                &topic,
                                "flood",
                                Payload::json(json!({"i": i, "body": body})),
                            )
                            .is_err()
                        {
                            break;
                        }
                        if i % 64 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                });
                HandleIn::NoReply
            }
            "kick" => {
                let user = p
                    .as_json()
                    .and_then(|v| v.get("user"))
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                let _ = s.endpoint().broadcast(
                    &format!("user_socket:{user}"),
                    "disconnect",
                    Payload::empty(),
                );
                HandleIn::ok(Payload::empty())
            }
            "shout" => {
                s.broadcast("shout", p);
                HandleIn::ok(Payload::empty())
            }
            "bfrom" => {
                s.broadcast_from("bfrom", p);
                HandleIn::ok(Payload::empty())
            }
            "filtered" => {
                s.broadcast("filtered", p);
                HandleIn::ok(Payload::empty())
            }
            "stop_error" => HandleIn::Stop(Reason::Error("stopped with an error".into()), None),
            "stop_reply" => HandleIn::Stop(
                Reason::Normal,
                Some(("ok".into(), Payload::json(json!({"bye": true})))),
            ),
            _ => HandleIn::error(Payload::json(json!({"reason": "unknown event"}))),
        }
    }

    fn intercepts(&self) -> Vec<String> {
        vec!["filtered".into()]
    }

    async fn handle_out(&mut self, event: &str, p: Payload, s: &mut ChannelSocket) {
        s.push(
            event,
            Payload::json(json!({"intercepted": true, "original": p.as_json()})),
        );
    }

    async fn terminate(&mut self, reason: &Reason, s: &mut ChannelSocket) {
        let _ = s.endpoint().broadcast(
            "log:terminate",
            "terminated",
            Payload::json(json!({"topic": s.topic(), "reason": reason.to_string()})),
        );
    }
}

/// The endpoint's test configuration: small limits so that tests reach
/// them, a 3 s client-silence timeout.
pub fn test_config() -> Config {
    Config {
        timeout: Duration::from_secs(3),
        max_frame_size: 64 * 1024,
        max_queue: 256,
        max_channels: 20,
        longpoll_window: Duration::from_secs(2),
        ..Config::default()
    }
}

/// A node with PubSub `pubsub` and the test endpoint, serving on a free
/// port; returns the node, the endpoint and its address.
pub async fn start(
    name: &str,
    epmd: u16,
    pubsub: &str,
    cfg: Config,
) -> (Node, Endpoint, SocketAddr) {
    let node = Node::builder(name)
        .cookie("chan")
        .epmd_port(epmd)
        .start()
        .await
        .expect("node");
    let ps = PubSub::start(&node, pubsub, Options::default())
        .await
        .expect("pubsub");
    let ep = Endpoint::builder(&node, &ps)
        .socket(TestSocket)
        .channel("room:*", demo::Room::default)
        .channel("test:*", TestChannel::default)
        .channel("log:*", demo::Room::default)
        .config(cfg)
        .build()
        .expect("endpoint");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let serving = ep.clone();
    tokio::spawn(async move { serving.serve(listener, demo::router("test")).await });
    (node, ep, addr)
}

/// A child process killed when dropped, with its stdout lines.
pub struct Child {
    pub child: std::process::Child,
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Child {
    /// Starts `cmd` with its stdout read line by line (stderr to `err`).
    pub fn spawn(mut cmd: Command, err: &Path) -> Child {
        cmd.stdout(Stdio::piped())
            .stderr(std::fs::File::create(err).map_or_else(|_| Stdio::null(), Stdio::from));
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Child { child, lines }
    }

    /// The next line starting with `prefix` (others are printed and
    /// skipped); panics after `limit`, with `err`'s content.
    pub fn line(&self, prefix: &str, limit: Duration, err: &Path) -> String {
        let end = std::time::Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(l) => println!("  | {l}"),
                Err(e) => panic!(
                    "no line starting with {prefix:?} ({e}); stderr:\n{}",
                    std::fs::read_to_string(err).unwrap_or_default()
                ),
            }
        }
    }
}
