//! Processes that live and die like Erlang's, on one nodus node: exit
//! reasons of returns and panics, links, monitors, kills, registration.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nodus::{Node, Term};

mod support;

const T: Duration = Duration::from_secs(10);

async fn node(name: &str) -> Node {
    Node::builder(format!("{name}@127.0.0.1"))
        .cookie("rt")
        .epmd_port(support::free_port())
        .start()
        .await
        .expect("node")
}

fn is_exit_from(m: &Term, pid: &nodus::Pid) -> bool {
    matches!(m.as_tuple(), Some([e, Term::Pid(p), _]) if e.is_atom("EXIT") && *p == *pid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_a_non_normal_exit_that_links_and_monitors_see() {
    let n = node("rt_panic").await;
    // A normal return exits `normal`.
    let (_, h) = n.spawn_monitor(|_me| async {});
    assert_eq!(h.await, Term::atom("normal"));
    // A returned reason is the exit reason.
    let (_, h) = n.spawn_monitor(|me| async move { me.exit(Term::atom("done")) });
    assert_eq!(h.await, Term::atom("done"));

    // A panic: the monitor, a trapping link and a plain link all see it.
    let mut watcher = n.process();
    watcher.trap_exit(true);
    let victim_of_link = Arc::new(AtomicU64::new(0));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let crasher = n.spawn(|mut me| async move {
        let _ = me.recv().await; // wait for "go"
        let v: Vec<i32> = Vec::new();
        drop(rx);
        let _x = v[3];
    });
    watcher.link(&crasher).await;
    let mref = watcher.monitor(&Term::from(crasher.clone())).await;
    let plain = {
        let c = crasher.clone();
        let flag = victim_of_link.clone();
        n.spawn(move |me| async move {
            me.link(&c).await;
            flag.store(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(3600)).await;
        })
    };
    let plain_exit = n.exit_handle(&plain);
    while victim_of_link.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(tx);
    n.send(&crasher, Term::atom("go")).await.expect("send");
    let reason = Term::from((
        Term::atom("panic"),
        "index out of bounds: the len is 0 but the index is 3",
    ));
    let exit = watcher
        .recv_match(|m| is_exit_from(m, &crasher), T)
        .await
        .expect("EXIT");
    assert_eq!(exit.as_tuple().expect("tuple")[2], reason);
    let down = watcher
        .recv_match(
            |m| matches!(m.as_tuple(), Some([d, r, ..]) if d.is_atom("DOWN") && *r == mref),
            T,
        )
        .await
        .expect("DOWN");
    assert_eq!(down.as_tuple().expect("tuple")[4], reason);
    // The plain linked process died of it, its sleep cut short.
    assert_eq!(
        tokio::time::timeout(T, plain_exit).await.expect("exit"),
        reason
    );
    assert!(!n.is_process_alive(&plain));
    // The node lives on.
    let (_, h) = n.spawn_monitor(|me| async move { me.exit(Term::atom("still_here")) });
    assert_eq!(h.await, Term::atom("still_here"));
    n.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_stops_running() {
    let n = node("rt_kill").await;
    let ticks = Arc::new(AtomicU64::new(0));
    let t2 = ticks.clone();
    let (pid, h) = n.spawn_monitor(move |_me| async move {
        loop {
            t2.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    while ticks.load(Ordering::SeqCst) < 3 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let killer = n.process();
    n.exit_pid(killer.pid(), &pid, Term::atom("kill"));
    assert_eq!(h.await, Term::atom("killed"));
    let after = ticks.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        ticks.load(Ordering::SeqCst) <= after + 1,
        "the task kept running"
    );
    // A `normal` exit signal does not end a process that does not trap.
    let (p2, h2) = n.spawn_monitor(|mut me| async move {
        let _ = me.recv().await;
    });
    n.exit_pid(killer.pid(), &p2, Term::atom("normal"));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(n.is_process_alive(&p2));
    n.exit_pid(killer.pid(), &p2, Term::atom("shutdown"));
    assert_eq!(h2.await, Term::atom("shutdown"));
    n.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_link_and_spawn_monitor_from_a_process() {
    let n = node("rt_spawn").await;
    let mut me = n.process();
    me.trap_exit(true);
    let child = me.spawn_link(|c| async move { c.exit(Term::atom("bye")) });
    let exit = me
        .recv_match(|m| is_exit_from(m, &child), T)
        .await
        .expect("EXIT");
    assert_eq!(exit.as_tuple().expect("tuple")[2], Term::atom("bye"));
    let (pid, r) = me.spawn_monitor(|_c| async { panic!("oh no") });
    let down = me
        .recv_match(
            |m| matches!(m.as_tuple(), Some([d, rr, ..]) if d.is_atom("DOWN") && *rr == r),
            T,
        )
        .await
        .expect("DOWN");
    let d = down.as_tuple().expect("tuple");
    assert_eq!(d[3], Term::from(pid));
    assert_eq!(d[4], Term::from((Term::atom("panic"), "oh no")));
    n.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_errors_are_clear() {
    let n = node("rt_reg").await;
    let a = n.process();
    let b = n.process();
    n.register("svc", a.pid()).expect("register");
    let taken = n.register("svc", b.pid()).expect_err("taken").to_string();
    assert!(taken.contains("already registered"), "{taken}");
    assert!(!taken.contains("node name"), "{taken}");
    let second = n
        .register("other", a.pid())
        .expect_err("second name")
        .to_string();
    assert!(second.contains("already registered as svc"), "{second}");
    let long = n
        .register(&"x".repeat(300), b.pid())
        .expect_err("long")
        .to_string();
    assert!(long.contains("255"), "{long}");
    // The name goes with its process.
    drop(a);
    assert!(n.whereis("svc").is_none());
    n.register("svc", b.pid()).expect("free again");
    assert!(n.unregister("svc"));
    assert!(!n.unregister("svc"));
    n.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_monitor_nodes_watchers_are_removed() {
    let n = node("rt_watch").await;
    let before = n.processes().len();
    let watchers = n.monitor_nodes_count();
    let kept = n.process();
    n.monitor_nodes(kept.pid());
    for _ in 0..100 {
        let p = n.process();
        n.monitor_nodes(p.pid());
    }
    assert_eq!(n.processes().len(), before + 1);
    assert_eq!(n.monitor_nodes_count(), watchers + 1);
    n.shutdown();
}
