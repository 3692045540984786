//! Messages both ways between nodus and real `erl`: the term layer's whole
//! random corpus and a 10 MB binary, compared with `=:=`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nodus::Node;
use nodus_term::{etf, Term};

mod support;

fn records(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).expect("corpus");
    let mut out = Vec::new();
    let mut rest = &data[..];
    while rest.len() >= 4 {
        let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        out.push(rest[4..4 + n].to_vec());
        rest = &rest[4 + n..];
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_and_a_10_mb_binary_cross_both_ways() {
    let size = std::env::var("NODUS_CORPUS_SIZE").unwrap_or_else(|_| "10000".into());
    let dir = support::home("msgs");
    support::compile(&dir, &["nodus_corpus", "nodus_echo"]);
    let gen = Command::new("erl")
        .args(["-noshell", "-pa"])
        .arg(&dir)
        .args(["-run", "nodus_corpus", "main", "gen"])
        .arg(&dir)
        .args(["3", &size])
        .env("ERL_CRASH_DUMP_SECONDS", "0")
        .status()
        .expect("erl");
    assert!(gen.success());

    let epmd = support::free_port();
    let node = Node::builder("rustmsg@127.0.0.1")
        .cookie("c")
        .epmd_port(epmd)
        .start()
        .await
        .expect("node");
    let echo = node.spawn(|mut me| async move {
        while let Some(m) = me.recv().await {
            if let Some([Term::Pid(from), msg]) = m.as_tuple() {
                let reply = Term::tuple(vec![Term::atom("echo_reply"), msg.clone()]);
                let _ = me.node().clone().send(from, reply).await;
            }
        }
    });
    node.register("echo", &echo).expect("register");

    let (_erl, rx) = support::erl(
        epmd,
        &dir,
        &[
            "-name",
            "erlmsg@127.0.0.1",
            "-setcookie",
            "c",
            "-run",
            "nodus_echo",
            "start",
            "rustmsg@127.0.0.1",
            "4",
            &size,
        ],
    );
    let wait_line = |prefix: &str| support::wait_line(&rx, prefix);
    wait_line("ready");

    // nodus -> erl: every corpus term comes back =:=.
    let mut terms: Vec<Term> = records(&dir.join("etf.bin"))
        .iter()
        .map(|r| etf::decode(&r[1..]).expect("decode"))
        .collect();
    terms.push(Term::binary(vec![7u8; 10_000_000]));
    let mut me = node.process();
    let mut bad = 0;
    for t in &terms {
        let msg = Term::tuple(vec![Term::from(me.pid().clone()), t.clone()]);
        node.send_named(&me.pid().clone(), "erl_echo", "erlmsg@127.0.0.1", msg)
            .await
            .expect("send");
        let reply = me
            .recv_match(
                |m| matches!(m.as_tuple(), Some([tag, _]) if tag.is_atom("echo_reply")),
                Duration::from_secs(30),
            )
            .await;
        match reply.as_ref().and_then(Term::as_tuple) {
            Some([_, back]) if back == t => {}
            _ => bad += 1,
        }
    }
    assert_eq!(bad, 0, "{bad} of {} terms came back different", terms.len());

    // erl -> nodus -> erl, checked by erl.
    let verdict = wait_line("erl->nodus");
    assert!(verdict.starts_with("erl->nodus ok"), "{verdict}");
    node.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
