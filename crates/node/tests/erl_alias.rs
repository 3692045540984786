//! Process aliases both ways with real `erl` (`ALIAS_SEND`).

use std::time::Duration;

use nodus::Node;
use nodus_term::Term;

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_work_both_ways() {
    let epmd = support::free_port();
    let home = support::home("alias");
    let node = Node::builder("rustalias@127.0.0.1")
        .cookie("c")
        .epmd_port(epmd)
        .start()
        .await
        .expect("node");
    let mut me = node.process();
    node.register("aliastest", me.pid()).expect("register");
    let eval = "R = 'rustalias@127.0.0.1', pong = net_adm:ping(R), A = alias(), \
        {aliastest, R} ! {self(), A}, \
        receive {via_alias, X} -> io:format(\"got=~p~n\", [X]) after 10000 -> io:format(\"got=none~n\") end, \
        receive {nodus_alias, NA} -> io:format(\"na=~p ~p~n\", [NA, catch (NA ! {hello_alias, 1})]) after 10000 -> io:format(\"na=none~n\") end, \
        timer:sleep(60000).";
    let (_erl, out) = support::erl(
        epmd,
        &home,
        &[
            "-name",
            "erlalias@127.0.0.1",
            "-setcookie",
            "c",
            "-eval",
            eval,
        ],
    );
    let t = Duration::from_secs(20);
    let first = me
        .recv_match(|_| true, t)
        .await
        .expect("erl's pid and alias");
    let Some([Term::Pid(erl_pid), erl_alias]) = first.as_tuple() else {
        panic!("{first}")
    };
    let erl_pid = erl_pid.clone();
    // nodus -> erl alias.
    let msg = Term::tuple(vec![Term::atom("via_alias"), Term::Int(42)]);
    node.send_alias(me.pid(), erl_alias, msg)
        .await
        .expect("alias send");
    assert_eq!(support::wait_line(&out, "got="), "got=42");
    // erl -> nodus alias.
    let mine = me.alias();
    node.send(
        &erl_pid,
        Term::tuple(vec![Term::atom("nodus_alias"), mine.clone()]),
    )
    .await
    .expect("send");
    assert!(support::wait_line(&out, "na=").ends_with("{hello_alias,1}"));
    let got = me
        .recv_match(
            |m| matches!(m.as_tuple(), Some([t, _]) if t.is_atom("hello_alias")),
            t,
        )
        .await;
    assert_eq!(
        got,
        Some(Term::tuple(vec![Term::atom("hello_alias"), Term::Int(1)]))
    );
    // After unalias, messages to it are dropped.
    assert!(me.unalias(&mine));
    node.send_alias(me.pid(), &mine, Term::atom("late"))
        .await
        .expect("send");
    assert_eq!(
        me.recv_match(|m| m.is_atom("late"), Duration::from_millis(300))
            .await,
        None
    );
    node.shutdown();
    let _ = std::fs::remove_dir_all(&home);
}
