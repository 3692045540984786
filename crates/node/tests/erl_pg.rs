//! `pg` scopes shared by nodus and real `erl` (OTP 25 from Debian, and
//! OTP 27 fetched by `../shared/tools/get-otp.sh trixie`): each side sees
//! the other's members, joins, leaves and deaths; monitors get the
//! changes; churn on both sides converges to one view; a disconnect, a
//! SIGKILL and a restart under the same name are all seen.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nodus::{pg, Node, Pid, Term};

mod support;

const SCOPE: &str = "demo";
const WAIT: Duration = Duration::from_secs(30);

/// A view: group -> sorted members (several entries for a pid that
/// joined several times).
type View = HashMap<Term, Vec<Pid>>;

fn sort_pids(v: &mut [Pid]) {
    v.sort_by_key(|p| Term::from(p.clone()));
}

fn normalise(t: &Term) -> View {
    let mut v = View::new();
    for e in t.as_list().unwrap_or(&[]) {
        if let Some([g, Term::List(pids)]) = e.as_tuple() {
            let mut ps: Vec<Pid> = pids
                .iter()
                .filter_map(|p| match p {
                    Term::Pid(p) => Some(p.clone()),
                    _ => None,
                })
                .collect();
            sort_pids(&mut ps);
            if !ps.is_empty() {
                v.insert(g.clone(), ps);
            }
        }
    }
    v
}

fn local_view(node: &Node) -> View {
    let mut v = View::new();
    for g in pg::which_groups(node, SCOPE) {
        let mut ps = pg::get_members(node, SCOPE, &g);
        sort_pids(&mut ps);
        v.insert(g, ps);
    }
    v
}

async fn erl_view(node: &Node, erl: &str) -> View {
    let r = node
        .rpc(
            erl,
            "nodus_pg",
            "view",
            vec![Term::atom(SCOPE)],
            Duration::from_secs(10),
        )
        .await
        .expect("rpc view");
    normalise(&r)
}

/// Waits until erl's view equals ours; panics with both otherwise.
async fn converge(node: &Node, erl: &str) -> View {
    let deadline = Instant::now() + WAIT;
    loop {
        let ours = local_view(node);
        let theirs = erl_view(node, erl).await;
        if ours == theirs {
            return ours;
        }
        assert!(
            Instant::now() < deadline,
            "views differ:\n nodus {ours:?}\n erl   {theirs:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn erl_member(node: &Node, erl: &str, groups: &[&str]) -> Pid {
    let gs = Term::List(groups.iter().map(|g| Term::atom(g)).collect());
    match node
        .rpc(
            erl,
            "nodus_pg",
            "member",
            vec![Term::atom(SCOPE), gs],
            Duration::from_secs(10),
        )
        .await
        .expect("rpc member")
    {
        Term::Pid(p) => p,
        other => panic!("member returned {other:?}"),
    }
}

fn idle(node: &Node) -> Pid {
    node.spawn(|mut me| async move { while me.recv().await.is_some() {} })
}

fn start_erl(bin: &Path, epmd: u16, dir: &Path, name: &str) -> support::Proc {
    let (erl, rx) = support::erl_with(
        bin,
        epmd,
        dir,
        &[
            "-name",
            name,
            "-setcookie",
            "c",
            "-eval",
            "{ok, _} = pg:start(demo), io:format(\"ready~n\").",
        ],
    );
    support::wait_line(&rx, "ready");
    erl
}

async fn scope_is_shared_with(bin: PathBuf, tag: &str) {
    let epmd = support::free_port();
    let dir = support::home(&format!("pg-{tag}"));
    support::compile(&dir, &["nodus_pg"]);
    let erl_name = format!("pgerl{tag}@127.0.0.1");
    let erl_name = erl_name.as_str();
    let mut erl = start_erl(&bin, epmd, &dir, erl_name);
    let node = Node::builder(format!("pgrust{tag}@127.0.0.1"))
        .cookie("c")
        .epmd_port(epmd)
        .start()
        .await
        .expect("node");
    pg::start(&node, SCOPE).await.expect("scope");
    assert!(matches!(
        pg::start(&node, SCOPE).await,
        Err(pg::Error::AlreadyStarted(_))
    ));
    assert!(node.ping(erl_name).await);
    let g = |s: &str| Term::atom(s);

    // erl's members, one of them in g1 twice, reach nodus.
    let a = erl_member(&node, erl_name, &["g1", "g1"]).await;
    let b = erl_member(&node, erl_name, &["g1", "g2"]).await;
    wait_for("erl's members seen by nodus", || {
        pg::get_members(&node, SCOPE, &g("g1")).len() == 3
    })
    .await;
    let mut g1 = pg::get_members(&node, SCOPE, &g("g1"));
    sort_pids(&mut g1);
    let mut want = vec![a.clone(), a.clone(), b.clone()];
    sort_pids(&mut want);
    assert_eq!(g1, want);
    assert!(pg::get_local_members(&node, SCOPE, &g("g1")).is_empty());

    // nodus's members reach erl; a scope monitor sees erl's joins.
    let mut me = node.process();
    let (mref, groups_now) = pg::monitor_scope(&mut me, SCOPE).await.expect("monitor");
    assert_eq!(groups_now.len(), 2, "{groups_now:?}");
    let n1 = idle(&node);
    let n2 = idle(&node);
    pg::join(&node, SCOPE, &g("g1"), std::slice::from_ref(&n1))
        .await
        .expect("join");
    pg::join(&node, SCOPE, &g("g3"), &[n1.clone(), n2.clone()])
        .await
        .expect("join");
    assert_eq!(pg::get_local_members(&node, SCOPE, &g("g3")).len(), 2);
    let view = converge(&node, erl_name).await;
    assert_eq!(view[&g("g3")].len(), 2);
    let c = erl_member(&node, erl_name, &["g4"]).await;
    let note = me
        .recv_match(
            |m| matches!(m.as_tuple(), Some([r, v, grp, _]) if *r == mref && v.is_atom("join") && grp.is_atom("g4")),
            WAIT,
        )
        .await
        .expect("join notification");
    assert_eq!(
        note.as_tuple().map(|t| t[3].clone()),
        Some(Term::list(vec![Term::from(c.clone())]))
    );
    // A group monitor.
    let (gref, members) = pg::monitor(&mut me, SCOPE, &g("g3"))
        .await
        .expect("monitor g3");
    assert_eq!(members.len(), 2);

    // Leaves: a member that joined once leaves once; then not_joined.
    assert!(pg::leave(&node, SCOPE, &g("g1"), std::slice::from_ref(&n1))
        .await
        .expect("leave"));
    assert!(
        !pg::leave(&node, SCOPE, &g("g1"), std::slice::from_ref(&n1))
            .await
            .expect("leave")
    );
    converge(&node, erl_name).await;
    // A member from another node cannot be joined from here.
    assert!(matches!(
        pg::join(&node, SCOPE, &g("g1"), std::slice::from_ref(&a)).await,
        Err(pg::Error::NotLocal(_))
    ));

    // Deaths on either side leave every group.
    node.exit_pid(me.pid(), &n2, Term::atom("kill"));
    let left = me
        .recv_match(
            |m| matches!(m.as_tuple(), Some([r, v, _, _]) if *r == gref && v.is_atom("leave")),
            WAIT,
        )
        .await;
    assert!(left.is_some(), "the group monitor saw n2 leave g3");
    let _ = node
        .rpc(
            erl_name,
            "erlang",
            "exit",
            vec![Term::from(b.clone()), Term::atom("kill")],
            Duration::from_secs(10),
        )
        .await;
    wait_for("b's death seen by nodus", || {
        !pg::get_members(&node, SCOPE, &g("g2")).contains(&b)
    })
    .await;
    let view = converge(&node, erl_name).await;
    assert!(!view.values().flatten().any(|p| p == &n2 || p == &b));
    assert!(pg::demonitor(&mut me, SCOPE, &gref)
        .await
        .expect("demonitor"));
    assert!(!pg::demonitor(&mut me, SCOPE, &gref)
        .await
        .expect("demonitor"));

    // Something a scope does not expect is logged and ignored.
    let scope_pid = node.whereis(SCOPE).expect("scope");
    let _ = node
        .rpc(
            erl_name,
            "erlang",
            "send",
            vec![
                Term::tuple(vec![Term::atom(SCOPE), Term::Atom(node.name().clone())]),
                Term::tuple(vec![Term::atom("join"), Term::atom("garbage")]),
            ],
            Duration::from_secs(10),
        )
        .await;
    converge(&node, erl_name).await;
    assert_eq!(node.whereis(SCOPE), Some(scope_pid));

    // Churn on both sides at once converges to one view.
    let churn = {
        let node = node.clone();
        let erl_name = erl_name.to_string();
        tokio::spawn(async move {
            node.rpc(
                &erl_name,
                "nodus_pg",
                "churn",
                vec![Term::atom(SCOPE), Term::from(500i64), Term::from(7i64)],
                Duration::from_secs(60),
            )
            .await
        })
    };
    let mut live: Vec<Pid> = Vec::new();
    let mut seed: u64 = 12345;
    let mut rnd = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    for _ in 0..500 {
        let grp = g(&format!("g{}", rnd(5)));
        match (rnd(4), live.is_empty()) {
            (1, false) => {
                let p = live[rnd(live.len() as u64) as usize].clone();
                pg::join(&node, SCOPE, &grp, &[p]).await.expect("join");
            }
            (2, false) => {
                let p = live[rnd(live.len() as u64) as usize].clone();
                let _ = pg::leave(&node, SCOPE, &grp, &[p]).await.expect("leave");
            }
            (3, false) => {
                let p = live.remove(rnd(live.len() as u64) as usize);
                node.exit_pid(me.pid(), &p, Term::atom("kill"));
            }
            _ => {
                let p = idle(&node);
                pg::join(&node, SCOPE, &grp, std::slice::from_ref(&p))
                    .await
                    .expect("join");
                live.push(p);
            }
        }
    }
    churn.await.expect("task").expect("erl churn");
    let view = converge(&node, erl_name).await;
    assert!(view.values().flatten().any(|p| p.node == *node.name()));
    assert!(view.values().flatten().any(|p| p.node.as_str() == erl_name));

    // A disconnect drops all of erl's members; a ping brings them back.
    assert!(node.disconnect(erl_name));
    wait_for("erl's members gone after the disconnect", || {
        local_view(&node)
            .values()
            .flatten()
            .all(|p| p.node == *node.name())
    })
    .await;
    assert!(node.ping(erl_name).await);
    converge(&node, erl_name).await;

    // SIGKILL: erl's members vanish; restarted under the same name, its
    // new scope is discovered.
    let _ = Command::new("kill")
        .args(["-KILL", &erl.0.id().to_string()])
        .status();
    let _ = erl.0.wait();
    wait_for("erl's members gone after SIGKILL", || {
        local_view(&node)
            .values()
            .flatten()
            .all(|p| p.node == *node.name())
    })
    .await;
    erl = start_erl(&bin, epmd, &dir, erl_name);
    assert!(node.ping(erl_name).await);
    let d = erl_member(&node, erl_name, &["g9"]).await;
    wait_for("the restarted erl's member seen", || {
        pg::get_members(&node, SCOPE, &g("g9")) == vec![d.clone()]
    })
    .await;
    converge(&node, erl_name).await;

    node.shutdown();
    drop(erl);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_is_shared_with_otp_25() {
    scope_is_shared_with(PathBuf::from("erl"), "25").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_is_shared_with_otp_27() {
    scope_is_shared_with(support::newer_erl("trixie"), "27").await;
}
