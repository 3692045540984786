//! Logs of refused connections that an attacker cannot inflate: per kind
//! of listener and source address, the first refusal of an interval is
//! logged in full, the others are counted and summed up in one line when
//! the interval ends ("refused 995 distribution connections from
//! 127.0.0.1 in 10 s: 990 handshake timed out, 5 invalid handshake").
//! Sources beyond a bound share one line, so the lines per interval are
//! bounded whatever the number of addresses.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The interval of a summary.
pub(crate) const INTERVAL: Duration = Duration::from_secs(10);

/// Sources followed one by one in an interval; the others are summed as
/// one.
const MAX_SOURCES: usize = 32;

#[derive(Default)]
struct Window {
    /// Per (listener, source; `None` for "other addresses"): refusals
    /// counted after the first, by reason.
    by_source: HashMap<(&'static str, Option<IpAddr>), BTreeMap<String, u64>>,
    /// A summary is due (its timer runs).
    flush_scheduled: bool,
}

/// The refusal log of one node (a node extension).
#[derive(Clone, Default)]
pub(crate) struct Refusals(Arc<Mutex<Window>>);

/// The short form of a reason (its text before any detail after a colon).
fn class(reason: &str) -> String {
    let r = reason.split(':').next().unwrap_or(reason).trim();
    r.chars().take(80).collect()
}

impl Refusals {
    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection of `what` ("distribution connections", "EPMD
    /// requests") from `addr` was refused for `reason`; `full` is the
    /// line to log when it is the first of its kind in the interval.
    pub(crate) fn refused(
        &self,
        what: &'static str,
        addr: IpAddr,
        reason: &str,
        full: impl FnOnce() -> String,
    ) {
        let mut w = self.lock();
        let key =
            if w.by_source.contains_key(&(what, Some(addr))) || w.by_source.len() < MAX_SOURCES {
                (what, Some(addr))
            } else {
                (what, None)
            };
        match w.by_source.get_mut(&key) {
            Some(reasons) => *reasons.entry(class(reason)).or_insert(0) += 1,
            None => {
                w.by_source.insert(key, BTreeMap::new());
                drop(w);
                let line = full();
                tracing::warn!("{line}");
                w = self.lock();
            }
        }
        if !w.flush_scheduled && tokio::runtime::Handle::try_current().is_ok() {
            w.flush_scheduled = true;
            let me = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(INTERVAL).await;
                me.flush();
            });
        }
    }

    /// Logs the interval's summaries and starts a new interval.
    pub(crate) fn flush(&self) {
        let window = std::mem::take(&mut *self.lock());
        let mut lines: Vec<String> = window
            .by_source
            .into_iter()
            .filter_map(|((what, addr), reasons)| {
                let n: u64 = reasons.values().sum();
                (n > 0).then(|| {
                    let from =
                        addr.map_or_else(|| "other addresses".to_string(), |a| a.to_string());
                    let why: Vec<String> =
                        reasons.iter().map(|(r, k)| format!("{k} {r}")).collect();
                    format!(
                        "refused {n} more {what} from {from} in {} s: {}",
                        INTERVAL.as_secs(),
                        why.join(", ")
                    )
                })
            })
            .collect();
        lines.sort();
        for l in lines {
            tracing::warn!("{l}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_in_full_then_counted() {
        let r = Refusals::default();
        let a: IpAddr = [127, 0, 0, 1].into();
        let mut full = 0;
        for i in 0..100 {
            r.refused(
                "distribution connections",
                a,
                if i % 2 == 0 {
                    "invalid handshake: x"
                } else {
                    "timed out"
                },
                || {
                    full += 1;
                    String::new()
                },
            );
        }
        assert_eq!(full, 1);
        let w = r.lock();
        let reasons = &w.by_source[&("distribution connections", Some(a))];
        assert_eq!(reasons["invalid handshake"], 49);
        assert_eq!(reasons["timed out"], 50);
    }

    #[test]
    fn many_sources_share_a_line() {
        let r = Refusals::default();
        let mut full = 0;
        for i in 0..1000u32 {
            let addr: IpAddr = std::net::Ipv4Addr::from(0x0a00_0000 + i).into();
            r.refused("EPMD requests", addr, "bad", || {
                full += 1;
                String::new()
            });
        }
        assert_eq!(full, MAX_SOURCES + 1);
        assert_eq!(r.lock().by_source.len(), MAX_SOURCES + 1);
    }
}
