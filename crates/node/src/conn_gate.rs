//! A cap on connections in progress, in total and per source address:
//! what stands between a listener and a flood of half-open handshakes (or
//! EPMD requests). A connection over the cap is closed at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// In progress at once, from all addresses.
    pub total: usize,
    /// In progress at once from one address.
    pub per_address: usize,
}

#[derive(Default)]
struct Count {
    total: usize,
    by_addr: HashMap<IpAddr, usize>,
}

/// Counts connections in progress against [`Caps`].
#[derive(Clone)]
pub(crate) struct Gate {
    caps: Caps,
    count: Arc<Mutex<Count>>,
}

/// Why a connection was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Over {
    /// The total cap.
    Total(usize),
    /// The per-address cap.
    PerAddress(usize),
}

impl std::fmt::Display for Over {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Over::Total(n) => write!(f, "{n} handshakes in progress (the limit)"),
            Over::PerAddress(n) => write!(
                f,
                "{n} handshakes in progress from this address (the limit)"
            ),
        }
    }
}

/// A connection let in; it leaves the count when dropped.
pub(crate) struct Pass {
    gate: Gate,
    addr: IpAddr,
}

impl Gate {
    pub(crate) fn new(caps: Caps) -> Gate {
        Gate {
            caps,
            count: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Count> {
        self.count.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lets a connection from `addr` in, unless a cap is reached.
    pub(crate) fn enter(&self, addr: IpAddr) -> Result<Pass, Over> {
        let mut c = self.lock();
        if c.total >= self.caps.total {
            return Err(Over::Total(self.caps.total));
        }
        let n = c.by_addr.entry(addr).or_insert(0);
        if *n >= self.caps.per_address {
            return Err(Over::PerAddress(self.caps.per_address));
        }
        *n += 1;
        c.total += 1;
        Ok(Pass {
            gate: self.clone(),
            addr,
        })
    }

    /// Connections in progress now.
    #[cfg(test)]
    fn in_progress(&self) -> usize {
        self.lock().total
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut c = self.gate.lock();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_addr.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                c.by_addr.remove(&self.addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_and_passes_give_back() {
        let g = Gate::new(Caps {
            total: 3,
            per_address: 2,
        });
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let p1 = g.enter(a).expect("1");
        let _p2 = g.enter(a).expect("2");
        assert_eq!(g.enter(a).err(), Some(Over::PerAddress(2)));
        let _p3 = g.enter(b).expect("3");
        assert_eq!(g.enter(b).err(), Some(Over::Total(3)));
        drop(p1);
        assert!(g.enter(b).is_ok());
        assert_eq!(g.in_progress(), 2);
    }
}
