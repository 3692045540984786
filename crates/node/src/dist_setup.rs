//! Connection attempts: at most one per peer, shared by everyone who
//! needs that peer, and the messages sent to it while it is set up.
//!
//! As in ERTS, a send to a node that is not connected never waits for the
//! connection: it starts the attempt in the background (the
//! `dist_auto_connect` policy permitting) and queues the message on it.
//! The queue is flushed onto the connection, in order, before anyone else
//! can see the connection; when the attempt fails the queue is dropped, as
//! Erlang's send semantics allow for an unreachable node.

use std::collections::HashMap;

use nodus_proto::dist::Control;
use nodus_term::{Atom, Term};
use tokio::sync::watch;

use crate::error::Error;
use crate::net_kernel::{self, Conn};
use crate::node::{lock, Node};

/// What an attempt ended with (`None` while it runs).
type Outcome = Option<Result<Conn, String>>;

/// One attempt in progress.
pub(crate) struct Attempt {
    outcome: watch::Receiver<Outcome>,
    queue: Vec<(Control, Option<Term>)>,
    /// Estimated bytes in `queue`, bounded by the busy limit.
    bytes: usize,
    /// Messages dropped because the queue was full.
    dropped: usize,
}

/// Connection attempts in progress, by peer.
#[derive(Default)]
pub(crate) struct Attempts(std::sync::Mutex<HashMap<Atom, Attempt>>);

/// The attempt to reach `peer`, started if there is none. The caller
/// holds the attempts lock.
fn start(node: &Node, map: &mut HashMap<Atom, Attempt>, peer: &Atom) -> watch::Receiver<Outcome> {
    if let Some(a) = map.get(peer) {
        return a.outcome.clone();
    }
    let (tx, rx) = watch::channel(None);
    map.insert(
        peer.clone(),
        Attempt {
            outcome: rx.clone(),
            queue: Vec::new(),
            bytes: 0,
            dropped: 0,
        },
    );
    let node = node.clone();
    let peer = peer.clone();
    // Its own task: the attempt goes on (and its queue is delivered) when
    // the process that started it stops waiting.
    tokio::spawn(async move {
        let setup = node.0.setup_time;
        let result = match tokio::time::timeout(setup, net_kernel::dial(&node, &peer)).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "connection setup did not complete within net_setuptime ({} ms)",
                setup.as_millis()
            )),
        };
        let attempt = lock(&node.0.attempts.0).remove(&peer);
        if let Some(a) = attempt {
            let lost = a.queue.len() + a.dropped;
            if lost > 0 {
                tracing::debug!("{peer}: {lost} message(s) dropped: the node is unreachable");
            }
        }
        tx.send_replace(Some(result));
    });
    rx
}

/// The connection to `peer`: the one that exists, or the outcome of the
/// one attempt in progress (started if need be).
pub(crate) async fn connect(node: &Node, peer: &Atom) -> Result<Conn, Error> {
    if let Some(c) = lock(&node.0.conns).get(peer) {
        return Ok(c.clone());
    }
    let mut rx = {
        let mut map = lock(&node.0.attempts.0);
        if let Some(c) = lock(&node.0.conns).get(peer) {
            return Ok(c.clone());
        }
        start(node, &mut map, peer)
    };
    let outcome = rx
        .wait_for(Option::is_some)
        .await
        .map(|o| o.clone())
        .ok()
        .flatten();
    match outcome {
        Some(Ok(c)) => Ok(c),
        Some(Err(reason)) => Err(Error::Connect {
            node: peer.as_str().to_string(),
            reason,
        }),
        None => Err(Error::Connect {
            node: peer.as_str().to_string(),
            reason: "the connection attempt was abandoned".into(),
        }),
    }
}

/// Sends on the connection to `peer` if there is one (returned, so that
/// the caller can wait while it is busy); otherwise queues the message on
/// the attempt in progress, starting one. Never waits.
pub(crate) fn send(
    node: &Node,
    peer: &Atom,
    control: Control,
    payload: Option<Term>,
) -> Result<Option<Conn>, Error> {
    let live = lock(&node.0.conns).get(peer).cloned();
    if let Some(c) = live {
        c.send(&control, payload.as_ref())?;
        return Ok(Some(c));
    }
    net_kernel::may_auto_connect(node, peer.as_str())?;
    let mut map = lock(&node.0.attempts.0);
    // Installed meanwhile (the queue was flushed under this lock).
    let live = lock(&node.0.conns).get(peer).cloned();
    if let Some(c) = live {
        drop(map);
        c.send(&control, payload.as_ref())?;
        return Ok(Some(c));
    }
    start(node, &mut map, peer);
    let limit = node.0.busy_limit;
    if let Some(a) = map.get_mut(peer) {
        let size = net_kernel::size_hint(payload.as_ref());
        if a.bytes + size > limit && !a.queue.is_empty() {
            a.dropped += 1;
        } else {
            a.bytes += size;
            a.queue.push((control, payload));
        }
    }
    Ok(None)
}

/// Called by `install` with the attempts lock held, before the new
/// connection is published: the messages queued for `peer`, in order.
pub(crate) fn take_queue(
    map: &mut HashMap<Atom, Attempt>,
    peer: &Atom,
) -> Vec<(Control, Option<Term>)> {
    match map.get_mut(peer) {
        Some(a) => {
            a.bytes = 0;
            std::mem::take(&mut a.queue)
        }
        None => Vec::new(),
    }
}

impl Attempts {
    /// Locks the table (for `install`).
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Atom, Attempt>> {
        lock(&self.0)
    }

    /// True while an attempt to reach `peer` runs.
    pub(crate) fn in_progress(&self, peer: &Atom) -> bool {
        lock(&self.0).contains_key(peer)
    }
}
