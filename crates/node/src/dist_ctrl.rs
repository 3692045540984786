//! A connection's two tasks once the handshake is done: the writer, which
//! drains the queue of encoded frames into the socket (small frames
//! gathered into one write) and sends a tick when the line is idle, and
//! the reader, which reads frames (busy-polling between messages),
//! reassembles fragments and hands each message to its local target.
//! Answers to the distribution controller of a connection in ERTS
//! (`erts_dsig_send`, `erts_net_message`) and to `dist_util`'s tick loop.

use std::time::Duration;

use nodus_proto::dist::{Control, FrameReader};
use nodus_proto::dist_header::Receiver;
use nodus_term::etf::Limits;
use nodus_term::{Atom, Term};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::dist_queue::Outgoing;
use crate::node::{lock, Node};

/// Bytes a reader asks the socket for at once: from 64 KiB while traffic
/// is light up to 4 MiB while a peer streams big messages.
const MIN_READ: usize = 8 * 1024;
const MAX_READ: usize = 4 << 20;

/// Most bytes the writer gathers into one write.
pub(crate) const BATCH: usize = 256 * 1024;

/// Drains the queue into the socket until the queue or the socket closes.
pub(crate) async fn writer(
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    tick: Duration,
    out: std::sync::Arc<Outgoing>,
) {
    let mut buf = Vec::with_capacity(BATCH);
    loop {
        let first = match tokio::time::timeout(tick, rx.recv()).await {
            Ok(Some(f)) => f,
            Ok(None) => return,
            Err(_) => {
                // Idle for a quarter of the ticktime: a tick (not queued).
                if wr.write_all(&[0, 0, 0, 0]).await.is_err() {
                    return;
                }
                continue;
            }
        };
        // A large frame goes out as it is; small ones are gathered into
        // one write.
        if first.len() >= BATCH {
            if wr.write_all(&first).await.is_err() {
                return;
            }
            out.written(first.len());
            out.give(first);
            continue;
        }
        buf.clear();
        buf.extend_from_slice(&first);
        while buf.len() < BATCH {
            match rx.try_recv() {
                Ok(f) if f.len() >= BATCH => {
                    if wr.write_all(&buf).await.is_err() || wr.write_all(&f).await.is_err() {
                        return;
                    }
                    out.written(buf.len() + f.len());
                    out.give(f);
                    buf.clear();
                    break;
                }
                Ok(f) => buf.extend_from_slice(&f),
                Err(_) => break,
            }
        }
        if !buf.is_empty() {
            if wr.write_all(&buf).await.is_err() {
                return;
            }
            out.written(buf.len());
        }
    }
}

/// Reads and dispatches frames until the connection ends; the reason.
pub(crate) async fn reader(
    node: &Node,
    mut rd: tokio::net::tcp::OwnedReadHalf,
    leftover: Vec<u8>,
    peer: &Atom,
    stats: &crate::net_kernel::Stats,
) -> String {
    let mut frames = FrameReader::new(node.0.max_message);
    let mut receiver = Receiver::new(node.0.max_message, Limits::DEFAULT);
    frames.extend(&leftover);
    let ticktime = node.0.ticktime;
    let mut room = MIN_READ;
    let mut unyielded = 0usize;
    loop {
        // What was read is dispatched under `dispatching`, so that a
        // `disconnect_node` is either after all of it or before any.
        let dispatching = lock(&stats.dispatching);
        if stats.disconnected.load(std::sync::atomic::Ordering::SeqCst) {
            return "disconnected by this node".into();
        }
        loop {
            match frames.next_frame() {
                Ok(Some(Some(body))) => match receiver.frame(&body) {
                    Ok(Some(f)) => {
                        stats
                            .received
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        dispatch(node, peer, f.control, f.payload);
                        unyielded += 1;
                    }
                    Ok(None) => {}
                    Err(e) => return format!("bad frame: {e}"),
                },
                Ok(Some(None)) => {}
                Ok(None) => break,
                Err(e) => return format!("bad frame: {e}"),
            }
        }
        drop(dispatching);
        // Busy-poll only between messages: the rest of a message that is
        // on its way comes at the sender's pace, and a spinning reader
        // would take the CPU a sender on the same machine needs.
        let between = frames.buffered() == 0 && !receiver.has_partial();
        if unyielded > 0 && (!between || unyielded >= 64) {
            // While a peer streams, the processes just handed messages
            // get their turn before this reader reads on: messages cannot
            // pile up in a mailbox whose owner never runs. (Between
            // messages, the busy-poll below yields anyway.)
            unyielded = 0;
            tokio::task::yield_now().await;
        }
        let spin = if between {
            node.0.busy_poll
        } else {
            Duration::ZERO
        };
        match read_more(&mut rd, &mut frames, room, spin, ticktime, &mut unyielded).await {
            // A read that filled the room: the peer is streaming, read
            // more at once; a short one: back towards the small buffer.
            Ok(n) if n >= room => room = (room * 2).min(MAX_READ),
            Ok(n) if n < room / 4 => room = (room / 2).max(MIN_READ),
            Ok(_) => {}
            Err(reason) => return reason,
        }
        if room == MIN_READ {
            frames.shrink(4 * MIN_READ);
            if !receiver.has_partial() {
                receiver.release_buffers();
            }
        }
        if !lock(&node.0.conns).contains_key(peer) {
            return "shut down".into();
        }
    }
}

/// Reads what the socket has into `frames`. First it polls for up to
/// `spin`, yielding to the runtime between polls (a reply to what we just
/// sent often comes within microseconds, sooner than a sleeping thread
/// wakes); then it sleeps until data comes. Nothing at all for a whole
/// `ticktime` means the peer is gone.
async fn read_more(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    frames: &mut FrameReader,
    room: usize,
    spin: Duration,
    ticktime: Duration,
    unyielded: &mut usize,
) -> Result<usize, String> {
    if !spin.is_zero() {
        let until = std::time::Instant::now() + spin;
        loop {
            match rd.try_read_buf(frames.spare(room)) {
                Ok(0) => return Err("closed by peer".into()),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => *unyielded = 0,
                Err(e) => return Err(e.to_string()),
            }
            if std::time::Instant::now() >= until {
                break;
            }
            // Until the socket is readable or the runtime's next turn
            // (which asks the kernel about every socket at once); the
            // processes that were just handed messages run meanwhile.
            tokio::select! {
                biased;
                r = rd.readable() => r.map_err(|e| e.to_string())?,
                () = tokio::task::yield_now() => {}
            }
        }
    }
    match tokio::time::timeout(ticktime, rd.read_buf(frames.spare(room))).await {
        Ok(Ok(0)) => Err("closed by peer".into()),
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no traffic for {}s (net_ticktime)",
            ticktime.as_secs()
        )),
    }
}

fn dispatch(node: &Node, peer: &Atom, control: Control, payload: Option<Term>) {
    let payload = payload.unwrap_or_else(Term::nil);
    match control {
        Control::Send { to } | Control::SendSender { to, .. } => {
            node.deliver_local(&to, payload);
        }
        Control::RegSend { to, .. } => {
            if let Some(pid) = node.whereis(to.as_str()) {
                node.deliver_local(&pid, payload);
            }
        }
        Control::MonitorP {
            from,
            to,
            reference,
        } => match node.resolve(&to) {
            Some(target) if node.add_monitor(&target, from.clone(), reference.clone()) => {}
            _ => {
                let exit = Control::MonitorPExit {
                    from: to,
                    to: from,
                    reference,
                    reason: Term::atom("noproc"),
                };
                if let Some(c) = lock(&node.0.conns).get(peer) {
                    let _ = c.send(&exit, None);
                }
            }
        },
        Control::DemonitorP { to, reference, .. } => node.remove_monitor(&to, &reference),
        Control::MonitorPExit {
            reference, reason, ..
        } => node.monitor_fired(&reference, reason),
        Control::PayloadMonitorPExit { reference, .. } => node.monitor_fired(&reference, payload),
        Control::Link { from, to } => {
            if node.local_alive(&to) {
                node.add_link(&to, &from);
            } else {
                node.send_control(
                    peer,
                    Control::Exit {
                        from: to,
                        to: from,
                        reason: Term::atom("noproc"),
                    },
                );
            }
        }
        Control::Unlink { from, to } => node.remove_link(&to, &from),
        Control::UnlinkId { id, from, to } => {
            node.remove_link(&to, &from);
            node.send_control(
                peer,
                Control::UnlinkIdAck {
                    id,
                    from: to,
                    to: from,
                },
            );
        }
        Control::UnlinkIdAck { .. } | Control::GroupLeader { .. } => {}
        Control::Exit { from, to, reason } => node.exit_signal(&to, &from, reason, false),
        Control::PayloadExit { from, to } => node.exit_signal(&to, &from, payload, false),
        Control::Exit2 { from, to, reason } => node.exit_signal(&to, &from, reason, true),
        Control::PayloadExit2 { from, to } => node.exit_signal(&to, &from, payload, true),
        Control::AliasSend { alias, .. } => node.deliver_alias(&alias, payload),
        req @ Control::SpawnRequest { .. } => node.spawn_request(peer, req, payload),
        other => tracing::debug!("{peer}: ignoring {other:?}"),
    }
}
