//! Boot-time cluster formation: `sync_nodes_optional`,
//! `sync_nodes_mandatory` and `sync_nodes_timeout`, with the semantics of
//! OTP's `kernel_config.erl`:
//!
//! - without `sync_nodes_timeout`, nothing happens (no node is even
//!   contacted);
//! - otherwise every listed node is pinged once, then the boot waits for
//!   the `nodeup` of each missing one (they may connect to us later), up
//!   to the timeout (`infinity`: until all are up);
//! - at the timeout, a mandatory node still missing fails the boot.
//!
//! One difference: the pings run concurrently (OTP pings one node after
//! the other); the outcome is the same, only sooner.

use std::collections::HashSet;
use std::time::Duration;

use nodus_term::Term;

use crate::config::{Kernel, SyncTimeout};
use crate::node::Node;

/// Why the boot stops.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// `{mandatory_nodes_down, Nodes}`: these `sync_nodes_mandatory`
    /// nodes were not up at the `sync_nodes_timeout`.
    #[error("mandatory nodes down: {} (sync_nodes_mandatory, not connected within sync_nodes_timeout)", .0.join(", "))]
    MandatoryNodesDown(Vec<String>),
}

/// What the wait ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Listed nodes that came up.
    pub up: Vec<String>,
    /// Optional nodes still missing at the timeout.
    pub missing_optional: Vec<String>,
}

/// Waits for the `sync_nodes_*` nodes of `kernel`, as a BEAM node does
/// while its `kernel` application starts.
pub async fn sync_nodes(node: &Node, kernel: &Kernel) -> Result<SyncReport, SyncError> {
    let Some(timeout) = kernel.sync_nodes_timeout else {
        return Ok(SyncReport {
            up: Vec::new(),
            missing_optional: Vec::new(),
        });
    };
    let deadline = match timeout {
        SyncTimeout::Millis(ms) => Some(tokio::time::Instant::now() + Duration::from_millis(ms)),
        SyncTimeout::Infinity => None,
    };
    let mut mandatory: HashSet<String> = kernel.sync_nodes_mandatory.iter().cloned().collect();
    let mut optional: HashSet<String> = kernel.sync_nodes_optional.iter().cloned().collect();
    let mut up = Vec::new();
    let mut me = node.process();
    node.monitor_nodes(me.pid());
    let all: Vec<String> = mandatory.iter().chain(optional.iter()).cloned().collect();
    let pings = all.iter().map(|n| {
        let node = node.clone();
        let n = n.clone();
        async move { (node.ping(&n).await, n) }
    });
    let mut arrived: Vec<String> = Vec::new();
    for h in pings.map(tokio::spawn).collect::<Vec<_>>() {
        if let Ok((true, n)) = h.await {
            arrived.push(n);
        }
    }
    loop {
        for n in arrived.drain(..) {
            if mandatory.remove(&n) || optional.remove(&n) {
                up.push(n);
            }
        }
        if mandatory.is_empty() && optional.is_empty() {
            break;
        }
        let wait = match deadline {
            Some(d) => d.saturating_duration_since(tokio::time::Instant::now()),
            None => Duration::from_secs(86_400),
        };
        if wait.is_zero() {
            break;
        }
        let m = me
            .recv_match(
                |m| matches!(m.as_tuple(), Some([h, Term::Atom(_)]) if h.is_atom("nodeup")),
                wait,
            )
            .await;
        match m.as_ref().and_then(Term::as_tuple) {
            Some([_, Term::Atom(n)]) => arrived.push(n.as_str().to_string()),
            _ if deadline.is_none() => {}
            _ => break,
        }
    }
    node.unmonitor_nodes(me.pid());
    if !mandatory.is_empty() {
        let mut v: Vec<String> = mandatory.into_iter().collect();
        v.sort();
        return Err(SyncError::MandatoryNodesDown(v));
    }
    let mut missing: Vec<String> = optional.into_iter().collect();
    missing.sort();
    Ok(SyncReport {
        up,
        missing_optional: missing,
    })
}
