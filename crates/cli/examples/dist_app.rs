//! `nodus start` plus a distributed application `demo` (one gen_server
//! under a supervisor), for the README's walkthrough of failover and
//! takeover. It prints, on stdout, as they happen:
//! `demo started normal`, `demo started {failover,'n1@h'}`,
//! `demo started {takeover,'n1@h'}` and `demo stopped`. `demo` has a
//! start phase (`go`) only when the configuration says
//! `{demo, [{phases, true}]}` (without one, OTP fails over as `normal`).
//!
//! `cargo run --release -p nodus-cli --example dist_app -- start --name
//! n1@127.0.0.1 --config sys.config` (arguments as for `nodus start`;
//! the `sys.config` has the kernel's `distributed`).

use std::io::Write;
use std::process::ExitCode;

use nodus::application::{AppContext, AppFuture, AppSpec, Application, RestartType, StartType};
use nodus::gen_server::{CallReply, GenServer, ReplyTo};
use nodus::supervisor::{self, ChildSpec, Flags, Strategy};
use nodus::{Pid, Process, Term};

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The application's one server: counts the calls it gets (`demo_server`;
/// `gen_server:call({demo_server, Node}, hit)` from BEAM).
struct Counter(i64);

impl GenServer for Counter {
    type Args = ();
    type Call = Term;
    type Reply = i64;
    type Cast = Term;

    async fn init(_: (), _me: &mut Process) -> Result<Self, Term> {
        Ok(Counter(0))
    }

    async fn handle_call(
        &mut self,
        _req: Term,
        _from: ReplyTo,
        _me: &mut Process,
    ) -> CallReply<i64> {
        self.0 += 1;
        CallReply::Reply(self.0)
    }

    fn format_state(&self) -> Term {
        Term::from(self.0)
    }
}

struct Demo;

impl Application for Demo {
    fn start(&self, ctx: AppContext, st: StartType) -> AppFuture<Result<Pid, Term>> {
        Box::pin(async move {
            let server = ChildSpec::gen_server::<Counter>("demo_server", (), Some("demo_server"));
            let sup = supervisor::start(
                &ctx.node,
                Flags::new(Strategy::OneForOne),
                vec![server],
                Some("demo_sup"),
            )
            .await?;
            say(&format!("demo started {}", st.to_term()));
            Ok(sup)
        })
    }

    fn start_phases(&self, ctx: &AppContext) -> Vec<(String, Term)> {
        if ctx.env("phases").is_some_and(|v| v.is_atom("true")) {
            vec![("go".to_string(), Term::list(vec![]))]
        } else {
            Vec::new()
        }
    }

    fn start_phase(
        &self,
        _ctx: AppContext,
        phase: String,
        st: StartType,
        _args: Term,
    ) -> AppFuture<Result<(), Term>> {
        Box::pin(async move {
            say(&format!("demo phase {phase} {}", st.to_term()));
            Ok(())
        })
    }

    fn stop(&self, _ctx: AppContext) -> AppFuture<()> {
        Box::pin(async {
            say("demo stopped");
        })
    }
}

fn main() -> ExitCode {
    nodus_cli::main_with(vec![AppSpec::new("demo", Demo)
        .restart(RestartType::Permanent)
        .describe("nodus distributed application example", "1.0.0")])
}
