//! A published (visible) nodus node: BEAM's `nodes()` lists it, and what
//! BEAM sends to visible nodes (global's protocol, rpc's
//! features_request) neither hangs BEAM nor drops the connection.

use std::time::Duration;

use nodus::Node;

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beam_lists_a_visible_nodus_node_and_does_not_hang() {
    let epmd = support::free_port();
    let home = support::home("visible");
    let node = Node::builder("visible@127.0.0.1")
        .cookie("c")
        .epmd_port(epmd)
        .published(true)
        .start()
        .await
        .expect("node");
    let eval = "R = 'visible@127.0.0.1', \
        io:format(\"ping=~p~n\", [net_adm:ping(R)]), \
        io:format(\"nodes=~p~n\", [nodes()]), \
        io:format(\"hidden=~p~n\", [nodes(hidden)]), \
        Self = self(), \
        spawn(fun() -> Self ! {trans, global:trans({nodus_test, self()}, fun() -> done end)} end), \
        receive {trans, T} -> io:format(\"trans=~p~n\", [T]) after 10000 -> io:format(\"trans=hang~n\") end, \
        io:format(\"multicall=~p~n\", [rpc:multicall(nodes(), erlang, node, [], 5000)]), \
        io:format(\"sync=~p~n\", [global:sync()]), \
        Holder = spawn(fun() -> Self ! {locked, global:set_lock({nodus_res, self()}, [R], 0)}, receive stop -> ok end end), \
        receive {locked, L1} -> io:format(\"locked=~p~n\", [L1]) end, \
        io:format(\"busy=~p~n\", [global:set_lock({nodus_res, self()}, [R], 0)]), \
        exit(Holder, kill), timer:sleep(300), \
        io:format(\"freed=~p~n\", [global:set_lock({nodus_res, self()}, [R], 0)]), \
        global:del_lock({nodus_res, self()}, [R]), \
        timer:sleep(1000), \
        io:format(\"still=~p~n\", [nodes()]), \
        timer:sleep(60000), halt().";
    let (_erl, rx) = support::erl(
        epmd,
        &home,
        &[
            "-name",
            "watcher@127.0.0.1",
            "-setcookie",
            "c",
            "-eval",
            eval,
        ],
    );
    let lines = tokio::task::spawn_blocking(move || {
        rx.iter()
            .take_while(|l| !l.starts_with("still="))
            .collect::<Vec<_>>()
    });
    let lines = tokio::time::timeout(Duration::from_secs(60), lines)
        .await
        .expect("erl finished")
        .expect("reader");
    let get = |k: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(k))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(get("ping="), "ping=pong");
    assert_eq!(get("nodes="), "nodes=['visible@127.0.0.1']", "{lines:?}");
    assert_eq!(get("hidden="), "hidden=[]");
    assert_eq!(get("trans="), "trans=done", "global:trans must not hang");
    assert_eq!(get("multicall="), "multicall={['visible@127.0.0.1'],[]}");
    // nodus takes part in global: sync returns, a lock held on the nodus
    // node by a BEAM process excludes others, and goes when it dies.
    assert_eq!(get("sync="), "sync=ok");
    assert_eq!(get("locked="), "locked=true");
    assert_eq!(get("busy="), "busy=false");
    assert_eq!(get("freed="), "freed=true", "{lines:?}");
    assert!(node
        .nodes()
        .iter()
        .any(|n| n.as_str() == "watcher@127.0.0.1"));
    node.shutdown();
    let _ = std::fs::remove_dir_all(&home);
}
