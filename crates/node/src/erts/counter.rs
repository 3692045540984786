//! A counter bumped by every thread (messages delivered) without one
//! cache line bouncing between them: one cell per thread slot, summed
//! when read.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Cells: more than the worker threads of any runtime nodus runs on.
const CELLS: usize = 16;

/// One cell on its own cache line.
#[derive(Default)]
#[repr(align(128))]
struct Cell(AtomicU64);

/// A sum of per-thread cells.
#[derive(Default)]
pub(crate) struct StripedCounter {
    cells: [Cell; CELLS],
}

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's cell.
    static SLOT: usize = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % CELLS;
}

impl StripedCounter {
    /// Adds `n`.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        let i = SLOT.with(|s| *s);
        self.cells[i].0.fetch_add(n, Ordering::Relaxed);
    }

    /// The sum so far.
    pub(crate) fn get(&self) -> u64 {
        self.cells
            .iter()
            .map(|c| c.0.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_from_many_threads_all_count() {
        let c = std::sync::Arc::new(StripedCounter::default());
        let threads: Vec<_> = (0..20)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        c.add(1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(c.get(), 20_000);
    }
}
