//! rpc both ways with real `erl`: `rpc:call/4` and `erpc:call/4` into
//! nodus (registered Rust functions and the built-ins), and `Node::rpc`
//! into erl.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nodus::{Exception, Node};
use nodus_term::{text, Term};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_both_ways() {
    let dir = std::env::temp_dir().join(format!("nodus-rpc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for m in ["nodus_corpus.erl", "nodus_rpc.erl"] {
        let ok = Command::new("erlc")
            .arg("-o")
            .arg(&dir)
            .arg(root.join("tests/erl").join(m))
            .status()
            .expect("erlc");
        assert!(ok.success());
    }
    let epmd = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let node = Node::builder("rustrpc@127.0.0.1")
        .cookie("c")
        .epmd_port(epmd)
        .start()
        .await
        .expect("node");
    node.register_fn("demo", "add", |_, args| match args {
        [Term::Int(a), Term::Int(b)] => Ok(Term::Int(a + b)),
        _ => Err(Exception::Error(Term::atom("badarith"))),
    });
    node.register_fn("demo", "fail", |_, _| {
        Err(Exception::Error(Term::atom("badarith")))
    });
    node.register_fn("demo", "throw", |_, _| {
        Err(Exception::Throw(Term::atom("thrown")))
    });

    let mut child = Command::new("erl")
        .args([
            "-noshell",
            "-name",
            "erlrpc@127.0.0.1",
            "-setcookie",
            "c",
            "-pa",
        ])
        .arg(&dir)
        .args(["-run", "nodus_rpc", "start", "rustrpc@127.0.0.1"])
        .env("ERL_EPMD_PORT", epmd.to_string())
        .env("HOME", &dir)
        .env("ERL_CRASH_DUMP_SECONDS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("erl");
    let out = child.stdout.take().expect("stdout");
    let _erl = Proc(child);
    let lines = tokio::task::spawn_blocking(move || {
        let mut v = Vec::new();
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if l == "done" {
                break;
            }
            v.push(l);
        }
        v
    });
    let lines = tokio::time::timeout(Duration::from_secs(120), lines)
        .await
        .expect("erl finished")
        .expect("reader");
    let fails: Vec<&String> = lines.iter().filter(|l| !l.starts_with("ok ")).collect();
    assert!(fails.is_empty(), "{fails:#?}");
    assert_eq!(lines.len(), 14, "{lines:#?}");

    // nodus -> erl through rex.
    let t = Duration::from_secs(10);
    let r = node
        .rpc("erlrpc@127.0.0.1", "erlang", "node", vec![], t)
        .await
        .expect("rpc");
    assert!(r.is_atom("erlrpc@127.0.0.1"));
    let arg = text::parse_term("[[1, 2, 3]]").expect("term");
    let r = node
        .rpc(
            "erlrpc@127.0.0.1",
            "lists",
            "reverse",
            arg.as_list().expect("list").to_vec(),
            t,
        )
        .await
        .expect("rpc");
    assert_eq!(r, text::parse_term("[3, 2, 1]").expect("term"));
    let r = node
        .rpc("erlrpc@127.0.0.1", "nomod", "nofun", vec![], t)
        .await
        .expect("rpc");
    let s = r.to_string();
    assert!(s.starts_with("{badrpc,{'EXIT',{undef,"), "{s}");
    node.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
