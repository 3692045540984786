//! A wrong cookie is refused both ways with a clear log line on the nodus
//! side, and the node keeps serving.

mod support;

use std::time::Duration;

use support::World;

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn wrong_cookies_are_refused_both_ways_with_a_clear_log_line() {
    let w = World::new("cookielog");
    let seed = support::seed();
    let mut n1 = w.nodus(&[
        "start",
        "--name",
        "n1@127.0.0.1",
        "--cookie",
        "right",
        "--config",
        &seed.to_string_lossy(),
    ]);
    // erl with the wrong cookie pings nodus: pang, and nodus says why.
    let mut erl = w.erl(&[
        "-name",
        "e@127.0.0.1",
        "-setcookie",
        "wrong",
        "-eval",
        "io:format(\"ping ~p~n\", [net_adm:ping('n1@127.0.0.1')]), timer:sleep(60000), halt().",
    ]);
    assert_eq!(erl.wait_line("ping", WAIT), "ping pang");
    let line = n1.wait_line("refused a connection", WAIT);
    assert!(
        line.contains("e@127.0.0.1") && line.contains("cookies differ"),
        "{line}"
    );
    // nodus with the wrong cookie pings erl: pang, and nodus says why.
    let out = w.run(&["ping", "e@127.0.0.1", "--cookie", "right"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "pang");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("e@127.0.0.1") && err.contains("wrong cookie"),
        "{err}"
    );
    // The node is still there for the right cookie.
    let out = w.run(&["ping", "n1@127.0.0.1", "--cookie", "right"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "pong");
}
