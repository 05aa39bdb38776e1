//! The clock bench's client threads share: when to start counting and when
//! to stop, and the counts the progress line reads.

use std::sync::atomic::AtomicU64;
use std::time::Instant;

/// The longest latency the histograms hold (1 h); a longer one counts as this.
pub(super) const LONGEST_NS: u64 = 3_600_000_000_000;

/// Shared by the client threads: when to start counting and when to stop.
pub(super) struct Clock {
    pub start: Instant,
    pub measure_from: Instant,
    pub stop_at: Instant,
    /// Messages or connections done, for the progress line.
    pub done: AtomicU64,
    /// Errors and timeouts so far, for the progress line.
    pub failed: AtomicU64,
}

impl Clock {
    /// Whether the run goes on (warm-up or measuring).
    pub(super) fn running(&self) -> bool {
        Instant::now() < self.stop_at
    }

    /// Whether an operation finished `at` counts: the warm-up is over.
    pub(super) fn measuring(&self, at: Instant) -> bool {
        at >= self.measure_from
    }
}
