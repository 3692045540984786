//! `demo`, the Rust application of the distributed-application tests.

use std::sync::{Arc, Mutex};

use nodus::application::{AppContext, AppFuture, Application, StartType};
use nodus::supervisor::{self, ChildSpec, Flags, Strategy};
use nodus::{Pid, Term};

/// Events, one line each ("NODE started normal").
pub type Log = Arc<Mutex<Vec<String>>>;

/// `demo`: one registered worker under a supervisor; every start, start
/// phase and stop is logged as "NODE started normal" and so on.
pub struct Demo {
    /// Where events go.
    pub log: Log,
    /// Whether it has a start phase (`go`).
    pub phases: bool,
}

impl Application for Demo {
    fn start(&self, ctx: AppContext, st: StartType) -> AppFuture<Result<Pid, Term>> {
        let log = self.log.clone();
        Box::pin(async move {
            let worker = ChildSpec::task("worker", |mut me| async move {
                let _ = me.register("demo_worker");
                while me.recv().await.is_some() {}
            });
            let pid = supervisor::start(
                &ctx.node,
                Flags::new(Strategy::OneForOne),
                vec![worker],
                Some("demo_sup"),
            )
            .await?;
            log.lock().unwrap().push(format!(
                "{} started {}",
                ctx.node.name().as_str(),
                st.to_term()
            ));
            Ok(pid)
        })
    }

    fn start_phases(&self, _ctx: &AppContext) -> Vec<(String, Term)> {
        if self.phases {
            vec![("go".to_string(), Term::list(vec![]))]
        } else {
            vec![]
        }
    }

    fn start_phase(
        &self,
        ctx: AppContext,
        phase: String,
        st: StartType,
        _args: Term,
    ) -> AppFuture<Result<(), Term>> {
        let log = self.log.clone();
        Box::pin(async move {
            log.lock().unwrap().push(format!(
                "{} phase {phase} {}",
                ctx.node.name().as_str(),
                st.to_term()
            ));
            Ok(())
        })
    }

    fn stop(&self, ctx: AppContext) -> AppFuture<()> {
        let log = self.log.clone();
        Box::pin(async move {
            log.lock()
                .unwrap()
                .push(format!("{} stopped", ctx.node.name().as_str()));
        })
    }
}

/// Where this node's dist_ac says `demo` runs.
pub async fn whereabouts(node: &nodus::Node) -> nodus::application::Whereabouts {
    nodus::application::distributed(node)
        .await
        .into_iter()
        .find(|(n, _, _)| n == "demo")
        .map(|(_, w, _)| w)
        .expect("demo is distributed")
}
