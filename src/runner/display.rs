//! Back-pressure from the screen to the executor, without ever slowing what reaches the disk.
//!
//! Output is always written to the spool in full. What goes to a screen is limited to a budget
//! of bytes in flight (sent, not yet folded into the view): when a fast command outruns the
//! screen, chunks beyond the budget are not sent, and the screen is told how many bytes it
//! skipped (they are on disk). Memory is bounded by the budget whatever the producer's speed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes in flight to a screen. Cloned by the runner (which takes) and by the screen's loop
/// (which gives back as it folds).
#[derive(Debug, Clone)]
pub struct DisplayBudget {
    in_flight: Arc<AtomicUsize>,
    limit: usize,
}

impl DisplayBudget {
    pub fn new(limit: usize) -> DisplayBudget {
        DisplayBudget {
            in_flight: Arc::default(),
            limit,
        }
    }

    /// Take room for `n` bytes, if there is any.
    pub fn take(&self, n: usize) -> bool {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                (cur + n <= self.limit || cur == 0).then_some(cur + n)
            })
            .is_ok()
    }

    /// The screen folded `n` bytes.
    pub fn give(&self, n: usize) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                Some(cur.saturating_sub(n))
            });
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_bounds_what_is_in_flight_and_refills_as_the_screen_folds() {
        let b = DisplayBudget::new(100);
        assert!(b.take(60));
        assert!(!b.take(60), "would exceed the limit");
        b.give(60);
        assert!(b.take(60));
        // A chunk larger than the whole budget still goes when nothing is in flight.
        b.give(60);
        assert!(b.take(500));
        assert_eq!(b.in_flight(), 500);
    }
}
