//! Server-wide counters for the summary. Atomics, so workers never contend on a lock.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use crate::log::Event;

pub struct Stats {
    started: Instant,
    connections: AtomicU64,
    messages: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    rejected: AtomicU64,
    pushed: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            connections: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            pushed: AtomicU64::new(0),
        }
    }

    /// One connection's totals, added once when it closes.
    pub fn add_connection(&self, messages: u64, bytes: u64, failed: bool) {
        self.connections.fetch_add(1, Relaxed);
        self.messages.fetch_add(messages, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
        if failed {
            self.errors.fetch_add(1, Relaxed);
        }
    }

    pub fn add_rejected(&self) {
        self.rejected.fetch_add(1, Relaxed);
    }

    pub fn add_pushed(&self) {
        self.pushed.fetch_add(1, Relaxed);
    }

    pub fn add_error(&self) {
        self.errors.fetch_add(1, Relaxed);
    }

    /// The closing line; `with_pushes` when the server could push at all.
    pub fn summary(&self, with_pushes: bool) -> Event<'static> {
        let s = self.snapshot();
        Event::Summary {
            uptime_ms: s.uptime_ms,
            connections: s.connections,
            messages: s.messages,
            bytes: s.bytes,
            errors: s.errors,
            rejected: s.rejected,
            pushed: with_pushes.then_some(s.pushed),
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            uptime_ms: millis(self.started.elapsed()),
            connections: self.connections.load(Relaxed),
            messages: self.messages.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            errors: self.errors.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            pushed: self.pushed.load(Relaxed),
        }
    }
}

/// The counters at one moment; connections, messages and bytes count closed connections.
pub struct Snapshot {
    pub uptime_ms: u64,
    pub connections: u64,
    pub messages: u64,
    pub bytes: u64,
    pub errors: u64,
    pub rejected: u64,
    pub pushed: u64,
}

pub fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
