//! gen_server and supervisor on one nodus node, driven from Rust.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nodus::gen_server::{self, CallError, CallReply, Flow, GenServer, Options, ReplyTo};
use nodus::supervisor::{self, ChildSpec, Flags, Restart, Strategy};
use nodus::{Node, Process, Term};
use serde::{Deserialize, Serialize};

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

struct Counter {
    n: i64,
    starts: Arc<AtomicU64>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
enum Req {
    Get,
    Add(i64),
    Crash,
    Later,
    Stop,
}

impl GenServer for Counter {
    type Args = Arc<AtomicU64>;
    type Call = Req;
    type Reply = i64;
    type Cast = i64;

    async fn init(starts: Arc<AtomicU64>, _me: &mut Process) -> Result<Self, Term> {
        starts.fetch_add(1, Ordering::SeqCst);
        Ok(Counter { n: 0, starts })
    }

    async fn handle_call(&mut self, req: Req, from: ReplyTo, me: &mut Process) -> CallReply<i64> {
        match req {
            Req::Get => CallReply::Reply(self.n),
            Req::Add(k) => {
                self.n += k;
                CallReply::Reply(self.n)
            }
            Req::Crash => panic!("counter crashed on purpose"),
            Req::Later => {
                // A deferred reply, from another task.
                let node = me.node().clone();
                let n = self.n;
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    from.reply(&node, &(n + 1000)).await;
                });
                CallReply::NoReply
            }
            Req::Stop => CallReply::Stop(Term::atom("normal"), Some(-1)),
        }
    }

    async fn handle_cast(&mut self, k: i64, _me: &mut Process) -> Flow {
        self.n += k;
        Flow::Continue
    }

    fn format_state(&self) -> Term {
        let _ = &self.starts;
        Term::from(self.n)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gen_server_answers_calls_casts_and_sys() {
    let n = node("gs1").await;
    let starts = Arc::new(AtomicU64::new(0));
    let pid = gen_server::start::<Counter>(&n, starts.clone(), Options::named("counter"))
        .await
        .expect("start");
    assert_eq!(n.whereis("counter"), Some(pid.clone()));
    let again = gen_server::start::<Counter>(&n, starts.clone(), Options::named("counter")).await;
    assert_eq!(
        again,
        Err(Term::from((Term::atom("already_started"), pid.clone())))
    );

    let mut me = n.process();
    let v: i64 = gen_server::call(&mut me, "counter", &Req::Add(5), T)
        .await
        .expect("call");
    assert_eq!(v, 5);
    gen_server::cast(&n, "counter", &10i64).await.expect("cast");
    let v: i64 = gen_server::call(&mut me, &pid, &Req::Get, T)
        .await
        .expect("call");
    assert_eq!(v, 15);
    let v: i64 = gen_server::call(&mut me, "counter", &Req::Later, T)
        .await
        .expect("later");
    assert_eq!(v, 1015);
    // A request that does not decode gets an error and the server lives.
    let bad = gen_server::call_term(&mut me, "counter", Term::atom("what"), T)
        .await
        .expect("bad");
    assert_eq!(bad.to_string(), "{error,{bad_request,what}}");
    // sys:get_state, as iex sends it.
    let state = me
        .call(&Term::from(pid.clone()), Term::atom("get_state"), T)
        .await;
    assert!(state.is_ok());
    let r = me.node().make_ref();
    let sys = Term::from((
        Term::atom("system"),
        (Term::from(me.pid().clone()), r.clone()),
        Term::atom("get_state"),
    ));
    n.send(&pid, sys).await.expect("send");
    let reply = me
        .recv_match(|m| matches!(m.as_tuple(), Some([t, _]) if *t == r), T)
        .await
        .expect("sys reply");
    assert_eq!(reply.as_tuple().expect("tuple")[1], Term::Int(15));
    // A panic in a callback ends the server with the panic; the caller
    // learns it.
    let err = gen_server::call::<_, i64>(&mut me, "counter", &Req::Crash, T)
        .await
        .expect_err("crash");
    assert_eq!(
        err,
        CallError::Down(Term::from((
            Term::atom("panic"),
            "counter crashed on purpose"
        )))
    );
    assert!(!n.is_process_alive(&pid));
    // A timeout against a server that never answers.
    let silent = n.spawn(|mut p| async move { while p.recv().await.is_some() {} });
    let e =
        gen_server::call::<_, i64>(&mut me, &silent, &Req::Get, Duration::from_millis(50)).await;
    assert_eq!(e, Err(CallError::Timeout));
    // Stop with a reply.
    let pid = gen_server::start::<Counter>(&n, starts.clone(), Options::default())
        .await
        .expect("start");
    let h = n.exit_handle(&pid);
    let v: i64 = gen_server::call(&mut me, &pid, &Req::Stop, T)
        .await
        .expect("stop");
    assert_eq!(v, -1);
    assert_eq!(h.await, Term::atom("normal"));
    let pid = gen_server::start::<Counter>(&n, Arc::default(), Options::default())
        .await
        .expect("start");
    let h = n.exit_handle(&pid);
    gen_server::stop(&n, &pid, Term::atom("bye"), T)
        .await
        .expect("gen_server:stop");
    assert_eq!(h.await, Term::atom("bye"));
    n.shutdown();
}

fn counter_child(id: &str, starts: &Arc<AtomicU64>) -> ChildSpec {
    ChildSpec::gen_server::<Counter>(id, starts.clone(), Some(id))
}

async fn crash(n: &Node, name: &str) {
    let mut me = n.process();
    let _ = gen_server::call::<_, i64>(&mut me, name, &Req::Crash, T).await;
}

async fn wait_for_name(n: &Node, name: &str, not: Option<&nodus::Pid>) -> nodus::Pid {
    for _ in 0..1000 {
        if let Some(p) = n.whereis(name) {
            if Some(&p) != not {
                return p;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{name} never came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_one_restarts_within_intensity_then_gives_up() {
    let n = node("sup1").await;
    let a = Arc::new(AtomicU64::new(0));
    let b = Arc::new(AtomicU64::new(0));
    let flags = Flags::new(Strategy::OneForOne).intensity(2, Duration::from_secs(60));
    let sup = supervisor::start(
        &n,
        flags,
        vec![counter_child("a", &a), counter_child("b", &b)],
        Some("sup1"),
    )
    .await
    .expect("sup");
    let sup_exit = n.exit_handle(&sup);
    let kids = supervisor::which_children(&n, &sup)
        .await
        .expect("children");
    assert_eq!(
        kids.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        ["b", "a"]
    );
    let a1 = wait_for_name(&n, "a", None).await;
    let b1 = wait_for_name(&n, "b", None).await;
    crash(&n, "a").await;
    let a2 = wait_for_name(&n, "a", Some(&a1)).await;
    assert_eq!(a.load(Ordering::SeqCst), 2);
    assert_eq!(n.whereis("b"), Some(b1.clone()), "one_for_one left b alone");
    crash(&n, "a").await;
    wait_for_name(&n, "a", Some(&a2)).await;
    assert_eq!(a.load(Ordering::SeqCst), 3);
    // The third restart within the period exceeds intensity 2.
    crash(&n, "a").await;
    assert_eq!(
        tokio::time::timeout(T, sup_exit).await.expect("sup exit"),
        Term::atom("shutdown")
    );
    assert!(
        !n.is_process_alive(&b1),
        "children stop with their supervisor"
    );
    n.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_all_and_rest_for_one_restart_siblings() {
    let n = node("sup2").await;
    let c = Arc::new(AtomicU64::new(0));
    let flags = Flags::new(Strategy::OneForAll).intensity(5, Duration::from_secs(60));
    let kids = vec![
        counter_child("x1", &c),
        counter_child("x2", &c),
        counter_child("x3", &c),
    ];
    let _sup = supervisor::start(&n, flags, kids, None).await.expect("sup");
    let x3 = wait_for_name(&n, "x3", None).await;
    crash(&n, "x1").await;
    wait_for_name(&n, "x3", Some(&x3)).await;
    assert_eq!(c.load(Ordering::SeqCst), 6, "all three restarted");

    let d = Arc::new(AtomicU64::new(0));
    let flags = Flags::new(Strategy::RestForOne).intensity(5, Duration::from_secs(60));
    let kids = vec![
        counter_child("y1", &d),
        counter_child("y2", &d),
        counter_child("y3", &d),
    ];
    let sup = supervisor::start(&n, flags, kids, None).await.expect("sup");
    let y1 = wait_for_name(&n, "y1", None).await;
    let y3 = wait_for_name(&n, "y3", None).await;
    crash(&n, "y2").await;
    wait_for_name(&n, "y3", Some(&y3)).await;
    assert_eq!(d.load(Ordering::SeqCst), 5, "y2 and y3 restarted");
    assert_eq!(n.whereis("y1"), Some(y1));
    // terminate_child / restart_child.
    supervisor::terminate_child(&n, &sup, "y3")
        .await
        .expect("terminate");
    assert!(n.whereis("y3").is_none());
    let y3b = supervisor::restart_child(&n, &sup, "y3")
        .await
        .expect("restart");
    assert_eq!(n.whereis("y3"), Some(y3b));
    assert_eq!(
        supervisor::terminate_child(&n, &sup, "nope").await,
        Err(Term::from((Term::atom("error"), Term::atom("not_found"))))
    );
    n.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_types_and_nested_trees() {
    let n = node("sup3").await;
    let runs = Arc::new(AtomicU64::new(0));
    let r1 = runs.clone();
    let transient = ChildSpec::task("t", move |_me| {
        let r = r1.clone();
        async move {
            r.fetch_add(1, Ordering::SeqCst);
        }
    })
    .restart(Restart::Transient);
    let r2 = runs.clone();
    let temporary = ChildSpec::task("tmp", move |_me| {
        let r = r2.clone();
        async move {
            r.fetch_add(100, Ordering::SeqCst);
            panic!("temporary crash");
        }
    })
    .restart(Restart::Temporary);
    let inner_starts = Arc::new(AtomicU64::new(0));
    let inner = ChildSpec::supervisor(
        "inner",
        Flags::default(),
        vec![counter_child("deep", &inner_starts)],
    );
    let sup = supervisor::start(
        &n,
        Flags::new(Strategy::OneForOne).intensity(3, Duration::from_secs(60)),
        vec![transient, temporary, inner],
        None,
    )
    .await
    .expect("sup");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The transient child ended `normal`: not restarted; the temporary one
    // crashed: not restarted, and gone from the specs.
    assert_eq!(runs.load(Ordering::SeqCst), 101);
    let kids = supervisor::which_children(&n, &sup)
        .await
        .expect("children");
    let ids: Vec<&str> = kids.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ["inner", "t"]);
    assert!(kids[0].kind == supervisor::ChildType::Supervisor && kids[0].pid.is_some());
    assert!(kids[1].pid.is_none());
    // A crash deep in the tree is handled by the inner supervisor.
    let deep = wait_for_name(&n, "deep", None).await;
    crash(&n, "deep").await;
    wait_for_name(&n, "deep", Some(&deep)).await;
    assert_eq!(inner_starts.load(Ordering::SeqCst), 2);
    // Stopping the top stops the whole tree, in reverse order.
    let deep = wait_for_name(&n, "deep", None).await;
    let h = n.exit_handle(&deep);
    supervisor::stop(&n, &sup).await.expect("stop");
    assert!(!n.is_process_alive(&sup));
    assert_eq!(
        tokio::time::timeout(T, h).await.expect("deep stopped"),
        Term::atom("shutdown")
    );
    n.shutdown();
}
