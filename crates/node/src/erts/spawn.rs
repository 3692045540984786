//! Spawning processes that live and die like Erlang's. Answers to ERTS's
//! `spawn/1`, `spawn_link/1`, `spawn_monitor/1` and a process's exit when
//! its function returns or crashes.
//!
//! A process is an async closure that gets its [`Process`]. When the
//! future completes, the process exits `normal` (or with the reason given
//! to [`Process::exit`]). When it panics, the process
//! exits with `{panic, Message}` (`Message` the panic's text as a UTF-8
//! binary, e.g. `{panic, <<"index out of bounds: the len is 0 but the
//! index is 3">>}`): links fire and monitors get that reason; the node
//! and every other process go on. A process killed by an exit signal has
//! its task stopped, as an Erlang process is.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use nodus_term::{Pid, Term};
use tokio::sync::oneshot;

use super::dest_cache::DestCache;
use super::ptab::{ProcEntry, Watcher};
use crate::node::{lock, Node};
use crate::process::Process;

/// What a process's future ends with, turned into its exit reason.
pub(crate) trait IntoExitReason {
    /// The exit reason.
    fn into_exit_reason(self) -> Term;
}

impl IntoExitReason for () {
    fn into_exit_reason(self) -> Term {
        Term::atom("normal")
    }
}

impl IntoExitReason for Term {
    fn into_exit_reason(self) -> Term {
        self
    }
}

impl<E: Into<Term>> IntoExitReason for Result<(), E> {
    fn into_exit_reason(self) -> Term {
        match self {
            Ok(()) => Term::atom("normal"),
            Err(e) => e.into(),
        }
    }
}

/// The exit reason of a panic: `{panic, Message}`.
pub fn panic_reason(payload: &(dyn std::any::Any + Send)) -> Term {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    };
    Term::tuple(vec![Term::atom("panic"), Term::binary(text.into_bytes())])
}

/// A future awaiting a process's exit reason (from
/// [`Node::spawn_monitor`] or [`Node::exit_handle`]). A process that was
/// already gone gives `noproc`.
pub struct ExitHandle {
    rx: Option<oneshot::Receiver<Term>>,
}

impl Future for ExitHandle {
    type Output = Term;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Term> {
        match &mut self.rx {
            None => Poll::Ready(Term::atom("noproc")),
            Some(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or_else(|_| Term::atom("noproc"))),
        }
    }
}

/// Runs `f`, turning a panic inside it into `Err({panic, Message})`.
pub async fn catch_panic<F: Future>(f: F) -> Result<F::Output, Term> {
    let mut f = std::pin::pin!(f);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_reason(payload.as_ref()))),
        }
    })
    .await
}

/// A spawned process's task: runs its future, and ends the process with
/// the reason the future gives, or `{panic, Message}` when it panics, or
/// `killed` when the task is dropped unfinished (the runtime shutting
/// down; a no-op when the process already exited). One struct around the
/// user's future, so an idle process costs the future and a few words.
struct ProcessTask<F> {
    fut: F,
    node: Node,
    id: u32,
    /// Where it sent last (see [`super::dest_cache`]).
    dests: DestCache,
}

impl<F> Future for ProcessTask<F>
where
    F: Future,
    F::Output: IntoExitReason,
{
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `fut` is structurally pinned: it is never moved out of
        // the task, which is pinned; `node` and `id` are never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        let polled =
            super::dest_cache::with_cache(&this.node.0.erts.procs, &mut this.dests, || {
                std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx)))
            });
        let reason = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(out)) => out.into_exit_reason(),
            Err(payload) => {
                let reason = panic_reason(payload.as_ref());
                tracing::error!("process {} crashed: {reason}", this.node.local_pid(this.id));
                reason
            }
        };
        this.node
            .process_exited(&this.node.local_pid(this.id), reason);
        Poll::Ready(())
    }
}

impl<F> Drop for ProcessTask<F> {
    fn drop(&mut self) {
        self.node
            .process_exited(&self.node.local_pid(self.id), Term::atom("killed"));
    }
}

impl Node {
    /// Runs `fut` as the body of process `pid` (already in the table,
    /// with `entry`).
    pub(crate) fn run_process<Fut>(&self, pid: Pid, entry: Arc<ProcEntry>, fut: Fut)
    where
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        let task = tokio::spawn(ProcessTask {
            fut,
            node: self.clone(),
            id: pid.id,
            dests: DestCache::default(),
        });
        let mut st = lock(&entry.state);
        // Killed before it ran: its exit, which takes this state after
        // marking the mailbox closed, has been or will be seen here.
        if entry.mailbox.is_closed() {
            task.abort();
        } else {
            st.task = Some(task.abort_handle());
        }
    }

    /// Starts a process whose future gives its exit reason, linked to
    /// local `parent` when given (for services: `gen_server`,
    /// `supervisor`).
    pub(crate) fn spawn_reason<F, Fut>(&self, parent: Option<&Pid>, f: F) -> Pid
    where
        F: FnOnce(Process) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        let p = self.spawned_process();
        let pid = p.pid().clone();
        let entry = p.entry.clone();
        if let Some(parent) = parent {
            if self.add_link(parent, &pid) {
                self.add_link(&pid, parent);
            } else {
                self.exit_signal(&pid, parent, Term::atom("noproc"), false);
            }
        }
        self.run_process(pid.clone(), entry, f(p));
        pid
    }

    /// `spawn/1`: starts a process running `f`; its pid.
    pub fn spawn<F, Fut>(&self, f: F) -> Pid
    where
        F: FnOnce(Process) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let p = self.spawned_process();
        let pid = p.pid().clone();
        let entry = p.entry.clone();
        self.run_process(pid.clone(), entry, f(p));
        pid
    }

    /// Starts a process running `f`, linked to local process `parent`
    /// (what `spawn_link` does when `parent` calls it).
    pub fn spawn_linked_to<F, Fut>(&self, parent: &Pid, f: F) -> Pid
    where
        F: FnOnce(Process) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.spawn_reason(Some(parent), f)
    }

    /// `spawn_monitor/1` from Rust: starts a process running `f`; its pid
    /// and a handle that resolves to its exit reason.
    pub fn spawn_monitor<F, Fut>(&self, f: F) -> (Pid, ExitHandle)
    where
        F: FnOnce(Process) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let p = self.spawned_process();
        let pid = p.pid().clone();
        let entry = p.entry.clone();
        let handle = self.exit_handle(&pid);
        self.run_process(pid.clone(), entry, f(p));
        (pid, handle)
    }

    /// A handle that resolves to the exit reason of local process `pid`
    /// (`noproc` if it is not alive).
    pub fn exit_handle(&self, pid: &Pid) -> ExitHandle {
        let (tx, rx) = oneshot::channel();
        match self.add_watcher(pid, Watcher::Handle(tx)) {
            Ok(()) => ExitHandle { rx: Some(rx) },
            Err(_) => ExitHandle { rx: None },
        }
    }
}

impl Process {
    /// `spawn_link/1`: starts a process running `f`, linked to this one.
    pub fn spawn_link<F, Fut>(&self, f: F) -> Pid
    where
        F: FnOnce(Process) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let node = self.node();
        let p = node.spawned_process();
        let pid = p.pid().clone();
        let entry = p.entry.clone();
        node.add_link(&pid, self.pid());
        node.add_link(self.pid(), &pid);
        node.run_process(pid.clone(), entry, f(p));
        pid
    }

    /// `spawn_monitor/1`: starts a process running `f`, monitored by this
    /// one; its pid and the monitor reference of the `DOWN` message.
    pub fn spawn_monitor<F, Fut>(&self, f: F) -> (Pid, Term)
    where
        F: FnOnce(Process) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let node = self.node();
        let p = node.spawned_process();
        let pid = p.pid().clone();
        let entry = p.entry.clone();
        let reference = node.monitor_local(self.pid(), &pid);
        node.run_process(pid.clone(), entry, f(p));
        (pid, reference)
    }
}
