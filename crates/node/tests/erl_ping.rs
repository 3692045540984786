//! `net_adm:ping/1` both ways between a nodus node and real `erl`, with the
//! system's `epmd` and with nodus's embedded EPMD. Each test uses its own
//! EPMD port, node names and HOME, and stops what it starts.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nodus::Node;

mod support;
use support::{free_port, home, wait_line as line, Proc};

/// Starts `erl` named `name` with `cookie`, evaluating `eval`.
fn erl(
    epmd_port: u16,
    home: &std::path::Path,
    name: &str,
    cookie: &str,
    eval: &str,
) -> (Proc, mpsc::Receiver<String>) {
    support::erl(
        epmd_port,
        home,
        &["-name", name, "-setcookie", cookie, "-eval", eval],
    )
}

const ERL_LOOP: &str = "io:format(\"ready~n\"), Loop = fun L() -> receive {ping, N} -> io:format(\"ping=~p~n\", [net_adm:ping(N)]), L() after 60000 -> halt() end end, register(t, self()), Loop().";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_both_ways_with_the_embedded_epmd() {
    let epmd = free_port();
    let h = home("embedded");
    let node = Node::builder("rust@127.0.0.1")
        .cookie("secret")
        .epmd_port(epmd)
        .start()
        .await
        .expect("node starts");
    assert!(
        node.embedded_epmd_names().is_some(),
        "no EPMD was running: nodus embeds one"
    );

    // erl registers with nodus's EPMD and pings nodus.
    let eval =
        "io:format(\"ping=~p~n\", [net_adm:ping('rust@127.0.0.1')]), timer:sleep(60000), halt().";
    let (_erl, out) = erl(epmd, &h, "a@127.0.0.1", "secret", eval);
    assert_eq!(line(&out, "ping="), "ping=pong");
    let names = node.embedded_epmd_names().expect("embedded");
    assert!(names.iter().any(|(n, _)| n == "a"), "{names:?}");
    assert!(node.nodes().iter().any(|n| n.as_str() == "a@127.0.0.1"));

    // nodus pings erl.
    assert!(node.ping("a@127.0.0.1").await);
    assert!(
        !node.ping("nobody@127.0.0.1").await,
        "an unknown node is pang"
    );
    node.shutdown();
    let _ = std::fs::remove_dir_all(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_with_the_system_epmd_and_wrong_cookies_are_refused() {
    let epmd = free_port();
    let _epmd = Proc(
        Command::new("epmd")
            .args(["-port", &epmd.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("epmd (apt-get install erlang-nox)"),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let h = home("system");
    let node = Node::builder("rust2@127.0.0.1")
        .cookie("secret")
        .epmd_port(epmd)
        .start()
        .await
        .expect("node starts");
    assert!(
        node.embedded_epmd_names().is_none(),
        "the system epmd was used"
    );

    let (_good, good_out) = erl(epmd, &h, "b@127.0.0.1", "secret", ERL_LOOP);
    line(&good_out, "ready");
    assert!(node.ping("b@127.0.0.1").await, "nodus -> erl: pong");

    let (_bad, bad_out) = erl(
        epmd,
        &h,
        "c@127.0.0.1",
        "other",
        &ERL_LOOP.replace(
            "io:format(\"ready~n\"), ",
            "io:format(\"ready~n\"), self() ! {ping, 'rust2@127.0.0.1'}, ",
        ),
    );
    line(&bad_out, "ready");
    assert_eq!(
        line(&bad_out, "ping="),
        "ping=pang",
        "erl with another cookie is refused"
    );
    assert!(
        !node.ping("c@127.0.0.1").await,
        "nodus -> erl with another cookie: pang"
    );
    assert!(
        node.ping("b@127.0.0.1").await,
        "the node still serves its other peers"
    );
    node.shutdown();
    let _ = std::fs::remove_dir_all(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_takes_over_epmd_when_the_embedding_node_stops() {
    let epmd = free_port();
    let h = home("takeover");
    let n1 = Node::builder("first@127.0.0.1")
        .cookie("secret")
        .epmd_port(epmd)
        .start()
        .await
        .expect("n1");
    let n2 = Node::builder("second@127.0.0.1")
        .cookie("secret")
        .epmd_port(epmd)
        .start()
        .await
        .expect("n2");
    assert!(n1.embedded_epmd_names().is_some() && n2.embedded_epmd_names().is_none());
    n1.shutdown();
    // n2 notices, starts its own EPMD on the same port and registers again.
    let mut names = None;
    for _ in 0..100 {
        names = n2.embedded_epmd_names();
        if names
            .as_ref()
            .is_some_and(|n| n.iter().any(|(x, _)| x == "second"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        names.is_some_and(|n| n.iter().any(|(x, _)| x == "second")),
        "second re-registered"
    );
    let eval =
        "io:format(\"ping=~p~n\", [net_adm:ping('second@127.0.0.1')]), timer:sleep(60000), halt().";
    let (_erl, out) = erl(epmd, &h, "late@127.0.0.1", "secret", eval);
    assert_eq!(
        line(&out, "ping="),
        "ping=pong",
        "erl finds the node by name through the new EPMD"
    );
    n2.shutdown();
    let _ = std::fs::remove_dir_all(&h);
}
