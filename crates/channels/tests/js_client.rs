//! The official `phoenix` JS client (1.8 and 1.7, in Node, over `ws`) and
//! raw `ws` clients against a nodus endpoint: everything
//! `tests/js/conformance.test.cjs` checks (serializers V1, V2 JSON and
//! binary, long-poll, the observed frames of a real Phoenix endpoint,
//! limits, failures, reconnect and rejoin).

use std::time::Duration;

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_js_client_against_a_nodus_endpoint() {
    let epmd = common::free_port();
    let (node, _ep, addr) =
        common::start("chjs@127.0.0.1", epmd, "Test.PubSub", common::test_config()).await;
    let url = format!("ws://{addr}/socket");
    let (ok, out) = tokio::task::spawn_blocking(move || {
        common::node_js(
            &[
                "--test",
                "--test-reporter=spec",
                "--test-timeout=90000",
                "--test-force-exit",
                "conformance.test.cjs",
            ],
            &[("NODUS_URL", url)],
            Duration::from_secs(300),
        )
    })
    .await
    .expect("join");
    println!("{out}");
    node.shutdown();
    assert!(ok, "the JS conformance suite failed:\n{out}");
}

/// The vendored phoenix.js the demo page serves is the npm package's.
#[test]
fn vendored_phoenix_js_is_the_npm_packages() {
    let npm = common::js_dir().join("node_modules/phoenix/priv/static/phoenix.min.js");
    let text = std::fs::read_to_string(&npm).expect("phoenix.min.js of the npm package");
    assert!(
        text == nodus_channels::demo::PHOENIX_JS,
        "crates/channels/static/phoenix.min.js differs from {} (copy it again after an npm update)",
        npm.display()
    );
}
