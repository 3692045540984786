//! A supervision tree in Rust: a one_for_one supervisor with a worker
//! that crashes and a nested one_for_all supervisor; crashes are
//! restarted within the intensity, as in OTP.
//!
//! `cargo run --release -p nodus --example supervisor_tree`

use std::time::Duration;

use nodus::supervisor::{self, ChildSpec, Flags, Strategy};
use nodus::{Node, Term};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::builder("sup_example@127.0.0.1")
        .cookie("example")
        .epmd_port(4392)
        .start()
        .await?;
    // A worker that registers itself and panics when told to.
    let flaky = ChildSpec::task("flaky", |mut me| async move {
        let _ = me.register("flaky");
        while let Some(m) = me.recv().await {
            if m.is_atom("crash") {
                panic!("flaky was told to crash");
            }
        }
    });
    let quiet = |id: &'static str| {
        ChildSpec::task(id, move |mut me| async move {
            let _ = me.register(id);
            while me.recv().await.is_some() {}
        })
    };
    let inner = ChildSpec::supervisor(
        "inner",
        Flags::new(Strategy::OneForAll),
        vec![quiet("a"), quiet("b")],
    );
    let flags = Flags::new(Strategy::OneForOne).intensity(3, Duration::from_secs(10));
    let sup = supervisor::start(&node, flags, vec![flaky, inner], Some("top"))
        .await
        .map_err(|r| format!("start: {r}"))?;
    for c in supervisor::which_children(&node, &sup).await? {
        println!("child {} {:?} running: {}", c.id, c.kind, c.pid.is_some());
    }
    let first = node.whereis("flaky").ok_or("no flaky")?;
    node.send(&first, Term::atom("crash")).await?;
    let mut again = None;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        again = node.whereis("flaky").filter(|p| *p != first);
        if again.is_some() {
            break;
        }
    }
    let again = again.ok_or("flaky was not restarted")?;
    println!("flaky crashed and was restarted: {first} -> {again}");
    supervisor::stop(&node, &sup)
        .await
        .map_err(|r| format!("stop: {r}"))?;
    println!("tree stopped");
    node.shutdown();
    Ok(())
}
