//! The running instance of an application on this node (BEAM's
//! `application_master`): `start/2` and its start phases, the top
//! supervisor watched, the restart type applied when it exits, and `stop`
//! (the supervisor shut down, then `stop/1`).

use std::time::Duration;

use nodus_term::{Pid, Term};

use super::{AppContext, Apps, RestartType, Running, StartType};
use crate::erts::spawn::catch_panic;
use crate::node::Node;

/// True when `name` runs here.
pub(crate) fn is_running(node: &Node, name: &str) -> bool {
    Apps::of(node).running_pid(name).is_some()
}

/// Starts `name` here: `start(StartType, Args)`, then each start phase
/// in order; the top supervisor is watched. `distributed`: its exit is
/// told to `dist_ac`.
pub(crate) async fn start(
    node: &Node,
    name: &str,
    st: StartType,
    distributed: bool,
) -> Result<(), Term> {
    let apps = Apps::of(node);
    if apps.running_pid(name).is_some() {
        return Err(Term::tuple(vec![
            Term::atom("already_started"),
            Term::atom(name),
        ]));
    }
    let spec = apps
        .spec(name)
        .ok_or_else(|| Term::tuple(vec![Term::atom("not_loaded"), Term::atom(name)]))?;
    let ctx = AppContext {
        node: node.clone(),
        name: name.to_string(),
    };
    let pid = match catch_panic(spec.app.start(ctx.clone(), st.clone())).await {
        Ok(Ok(pid)) => pid,
        Ok(Err(e)) | Err(e) => {
            return Err(Term::tuple(vec![
                Term::tuple(vec![Term::atom("bad_return"), e]),
                Term::tuple(vec![Term::atom(name), Term::atom("start")]),
            ]))
        }
    };
    for (phase, args) in spec.app.start_phases(&ctx) {
        let r = catch_panic(
            spec.app
                .start_phase(ctx.clone(), phase.clone(), st.clone(), args),
        )
        .await;
        if let Ok(Err(e)) | Err(e) = r {
            shut_down(node, &pid).await;
            return Err(Term::tuple(vec![
                Term::atom("start_phase"),
                Term::atom(&phase),
                Term::atom(name),
                e,
            ]));
        }
    }
    let handle = node.exit_handle(&pid);
    apps.set_running(Running {
        name: name.to_string(),
        pid: pid.clone(),
        restart: spec.restart,
        start_type: st.clone(),
    });
    tracing::info!(
        "application {name} started at {} ({})",
        node.name(),
        st.to_term()
    );
    let node2 = node.clone();
    let name2 = name.to_string();
    tokio::spawn(async move {
        let reason = handle.await;
        exited(&node2, &name2, &pid, reason, distributed).await;
    });
    Ok(())
}

/// The top supervisor of `name` exited: unless `stop` did it, its restart
/// type decides, as OTP's application controller does.
async fn exited(node: &Node, name: &str, pid: &Pid, reason: Term, distributed: bool) {
    let apps = Apps::of(node);
    let Some(run) = apps.take_running_if(name, pid) else {
        return; // stopped on purpose
    };
    tracing::info!(
        "application {name} exited: {reason}, type: {}",
        run.restart.as_str()
    );
    if let Some(d) = node.whereis("dist_ac").filter(|_| distributed) {
        let msg = Term::tuple(vec![Term::atom("ac_application_stopped"), Term::atom(name)]);
        let _ = node.send(&d, msg).await;
    }
    let stops_node = match run.restart {
        RestartType::Permanent => true,
        RestartType::Transient => !reason.is_atom("normal"),
        RestartType::Temporary => false,
    };
    if stops_node && !node.is_stopping() {
        tracing::error!(
            "application {name} exited with reason {reason}: it is {}, so node {} stops",
            run.restart.as_str(),
            node.name()
        );
        node.shutdown();
    }
}

/// Stops the top supervisor as its application master would: told to
/// terminate with `shutdown` (children stopped in reverse order); killed
/// if it does not answer the `sys` protocol or takes over a minute.
async fn shut_down(node: &Node, pid: &Pid) {
    let handle = node.exit_handle(pid);
    let told = crate::sys::terminate(
        node,
        pid.clone(),
        Term::atom("shutdown"),
        Duration::from_secs(60),
    )
    .await;
    if told.is_err() && node.is_process_alive(pid) {
        let me = node.process();
        node.exit_pid(me.pid(), pid, Term::atom("kill"));
    }
    let _ = handle.await;
}

/// Stops `name` if it runs here: its top supervisor is shut down, then
/// the application's `stop` runs.
pub(crate) async fn stop(node: &Node, name: &str) {
    let apps = Apps::of(node);
    let Some(run) = apps.take_running(name) else {
        return;
    };
    shut_down(node, &run.pid).await;
    if let Some(spec) = apps.spec(name) {
        let ctx = AppContext {
            node: node.clone(),
            name: name.to_string(),
        };
        let _ = catch_panic(spec.app.stop(ctx)).await;
    }
    tracing::info!("application {name} stopped at {}", node.name());
}
