//! Links, exit signals and monitors between nodus and real `erl`, both
//! ways, including `noproc` and `noconnection`.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use nodus::{Node, Process};
use nodus_term::{Pid, Term};

mod support;
use support::{wait_line, Proc};

const ERL: &str = "erllinks@127.0.0.1";
const T: Duration = Duration::from_secs(20);

fn start_erl(dir: &Path, epmd: u16) -> (Proc, mpsc::Receiver<String>) {
    support::compile(dir, &["nodus_links"]);
    support::erl(
        epmd,
        dir,
        &[
            "-name",
            ERL,
            "-setcookie",
            "c",
            "-run",
            "nodus_links",
            "start",
        ],
    )
}

async fn ask(node: &Node, me: &mut Process, msg: Vec<Term>, reply_tag: &str) -> Term {
    let mut m = msg;
    m.push(Term::from(me.pid().clone()));
    node.send_named(&me.pid().clone(), "ctl", ERL, Term::tuple(m))
        .await
        .expect("send");
    let tag = reply_tag.to_string();
    me.recv_match(
        move |t| t.is_atom(&tag) || matches!(t.as_tuple(), Some([a, _]) if a.is_atom(&tag)),
        T,
    )
    .await
    .unwrap_or_else(|| panic!("no {reply_tag} from erl"))
}

async fn victim(node: &Node, me: &mut Process) -> Pid {
    match ask(node, me, vec![Term::atom("spawn_victim")], "victim")
        .await
        .as_tuple()
    {
        Some([_, Term::Pid(p)]) => p.clone(),
        other => panic!("bad victim reply {other:?}"),
    }
}

fn die(reason: &str) -> Term {
    Term::tuple(vec![Term::atom("die"), Term::atom(reason)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_and_monitors_work_both_ways() {
    let dir = support::home("links");
    let epmd = support::free_port();
    let node = Node::builder("rustlinks@127.0.0.1")
        .cookie("c")
        .epmd_port(epmd)
        .start()
        .await
        .expect("node");
    let (mut erl, out) = start_erl(&dir, epmd);
    wait_line(&out, "ready");
    let mut me = node.process();

    // An erl process dies: a trapping nodus process gets {'EXIT', V, boom}.
    let v = victim(&node, &mut me).await;
    let trapper = node.process();
    trapper.trap_exit(true);
    trapper.link(&v).await;
    let mut trapper = trapper;
    tokio::time::sleep(Duration::from_millis(200)).await;
    node.send(&v, die("boom")).await.expect("send");
    let exit = trapper
        .recv_match(
            |m| matches!(m.as_tuple(), Some([t, ..]) if t.is_atom("EXIT")),
            T,
        )
        .await;
    assert_eq!(
        exit,
        Some(Term::tuple(vec![
            Term::atom("EXIT"),
            Term::from(v.clone()),
            Term::atom("boom")
        ]))
    );

    // ... and a non-trapping one is ended by it.
    let v2 = victim(&node, &mut me).await;
    let mut plain = node.process();
    plain.link(&v2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    node.send(&v2, die("boom")).await.expect("send");
    assert_eq!(
        tokio::time::timeout(T, plain.recv()).await,
        Ok(None),
        "the linked process ended"
    );
    assert!(!plain.is_alive());

    // A nodus process exits: a linked, trapping erl process sees the reason.
    let r = node.process();
    let reply = ask(
        &node,
        &mut me,
        vec![Term::atom("link_to"), Term::from(r.pid().clone())],
        "linked",
    )
    .await;
    assert!(reply.is_atom("linked"));
    r.exit(Term::atom("bye"));
    assert_eq!(wait_line(&out, "exit_from_rust="), "exit_from_rust=bye");

    // erl monitors a nodus process, and a dead one.
    let s = node.process();
    ask(
        &node,
        &mut me,
        vec![Term::atom("monitor"), Term::from(s.pid().clone())],
        "monitoring",
    )
    .await;
    drop(s);
    assert_eq!(wait_line(&out, "down="), "down=normal");
    let gone = node.process();
    let gone_pid = gone.pid().clone();
    drop(gone);
    ask(
        &node,
        &mut me,
        vec![Term::atom("monitor"), Term::from(gone_pid)],
        "monitoring",
    )
    .await;
    assert_eq!(wait_line(&out, "down="), "down=noproc");

    // nodus monitors an erl process, a dead one, and a name that is not there.
    let v3 = victim(&node, &mut me).await;
    let r3 = me.monitor(&Term::from(v3.clone())).await;
    node.send(&v3, die("crash")).await.expect("send");
    let down = me
        .recv_match(
            |m| matches!(m.as_tuple(), Some([t, r, ..]) if t.is_atom("DOWN") && *r == r3),
            T,
        )
        .await;
    assert_eq!(
        down.as_ref().and_then(Term::as_tuple).map(|t| t[4].clone()),
        Some(Term::atom("crash"))
    );
    let r4 = me.monitor(&Term::from(v3.clone())).await;
    let down = me
        .recv_match(|m| matches!(m.as_tuple(), Some([_, r, ..]) if *r == r4), T)
        .await;
    assert_eq!(
        down.as_ref().and_then(Term::as_tuple).map(|t| t[4].clone()),
        Some(Term::atom("noproc"))
    );
    let name = Term::tuple(vec![Term::atom("no_such_name"), Term::atom(ERL)]);
    let r5 = me.monitor(&name).await;
    let down = me
        .recv_match(|m| matches!(m.as_tuple(), Some([_, r, ..]) if *r == r5), T)
        .await;
    assert_eq!(
        down.as_ref().and_then(Term::as_tuple).map(|t| t[4].clone()),
        Some(Term::atom("noproc"))
    );

    // exit/2 from erl with reason kill ends even a trapping nodus process.
    let k = node.process();
    k.trap_exit(true);
    let kpid = k.pid().clone();
    ask(
        &node,
        &mut me,
        vec![Term::atom("exit2"), Term::from(kpid), Term::atom("kill")],
        "sent",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!k.is_alive());

    // The erl node dies: monitors fire with noconnection, links too.
    let v4 = victim(&node, &mut me).await;
    let r6 = me.monitor(&Term::from(v4.clone())).await;
    let watcher = node.process();
    watcher.trap_exit(true);
    watcher.link(&v4).await;
    let mut watcher = watcher;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = erl.0.kill();
    let down = me
        .recv_match(|m| matches!(m.as_tuple(), Some([_, r, ..]) if *r == r6), T)
        .await;
    assert_eq!(
        down.as_ref().and_then(Term::as_tuple).map(|t| t[4].clone()),
        Some(Term::atom("noconnection"))
    );
    let exit = watcher
        .recv_match(
            |m| matches!(m.as_tuple(), Some([t, ..]) if t.is_atom("EXIT")),
            T,
        )
        .await;
    assert_eq!(
        exit.as_ref().and_then(Term::as_tuple).map(|t| t[2].clone()),
        Some(Term::atom("noconnection"))
    );
    assert!(node.nodes().is_empty());
    node.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
