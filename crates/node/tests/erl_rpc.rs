//! rpc both ways with real `erl`: `rpc:call/4` and `erpc:call/4` into
//! nodus (registered Rust functions and the built-ins), and `Node::rpc`
//! into erl.

use std::time::Duration;

use nodus::{Exception, Node};
use nodus_term::{text, Term};

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_both_ways() {
    let dir = support::home("rpc");
    support::compile(&dir, &["nodus_corpus", "nodus_rpc"]);
    let epmd = support::free_port();
    let node = Node::builder("rustrpc@127.0.0.1")
        .cookie("c")
        .epmd_port(epmd)
        .start()
        .await
        .expect("node");
    node.register_sync_fn("demo", "add", |_, args| match args {
        [Term::Int(a), Term::Int(b)] => Ok(Term::Int(a + b)),
        _ => Err(Exception::Error(Term::atom("badarith"))),
    });
    node.register_sync_fn("demo", "fail", |_, _| {
        Err(Exception::Error(Term::atom("badarith")))
    });
    node.register_sync_fn("demo", "throw", |_, _| {
        Err(Exception::Throw(Term::atom("thrown")))
    });

    let (_erl, rx) = support::erl(
        epmd,
        &dir,
        &[
            "-name",
            "erlrpc@127.0.0.1",
            "-setcookie",
            "c",
            "-run",
            "nodus_rpc",
            "start",
            "rustrpc@127.0.0.1",
        ],
    );
    let lines = tokio::task::spawn_blocking(move || {
        rx.iter().take_while(|l| l != "done").collect::<Vec<_>>()
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
