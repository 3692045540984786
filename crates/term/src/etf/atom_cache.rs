//! A small per-thread cache of recently decoded atoms, so that decoding a
//! common atom is a lookup and a reference-count increment, not an
//! allocation. (BEAM gets the same from its global atom table.)

use std::cell::RefCell;

use crate::atom::{Atom, AtomTooLong};

const SLOTS: usize = 1024;
const MAX_CACHED_LEN: usize = 64;

thread_local! {
    static CACHE: RefCell<Vec<Option<Atom>>> = RefCell::new(vec![None; SLOTS]);
}

fn slot(s: &str) -> usize {
    // FNV-1a: short keys, no need for DoS resistance in a lossy cache.
    let mut h: u32 = 0x811c_9dc5;
    for &b in s.as_bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h as usize % SLOTS
}

/// The atom with text `s`, from the cache when it is there.
pub(crate) fn lookup(s: &str) -> Result<Atom, AtomTooLong> {
    if s.len() > MAX_CACHED_LEN {
        return Atom::try_new(s);
    }
    let i = slot(s);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(a) = &c[i] {
            if a.as_str() == s {
                return Ok(a.clone());
            }
        }
        let a = Atom::try_new(s)?;
        c[i] = Some(a.clone());
        Ok(a)
    })
}
