//! Which phase the server is in: the one piece of shutdown state that the
//! signal handler, the accept loop, the workers and the drain all read.
//! `shutdown.rs` moves it forward; nothing moves it back.

use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Running,
    /// New and waiting connections are turned away; active ones may finish.
    Draining,
    /// `--drain-timeout` passed: remaining connections are being closed.
    DrainExpired,
    /// Every worker is done; the accept loop should stop.
    Done,
}

pub struct Lifecycle {
    phase: Mutex<Phase>,
    changed: Condvar,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            phase: Mutex::new(Phase::Running),
            changed: Condvar::new(),
        }
    }
}

impl Lifecycle {
    fn lock(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn phase(&self) -> Phase {
        *self.lock()
    }

    /// Starts the drain; false if one had already started (a second Ctrl-C).
    pub fn request(&self) -> bool {
        let mut phase = self.lock();
        if *phase != Phase::Running {
            return false;
        }
        *phase = Phase::Draining;
        self.changed.notify_all();
        true
    }

    /// Moves forward to `next`; phases never go back.
    pub fn advance(&self, next: Phase) {
        let mut phase = self.lock();
        if next > *phase {
            *phase = next;
            self.changed.notify_all();
        }
    }

    /// Blocks (using no CPU) until a shutdown is requested.
    pub fn wait_requested(&self) {
        self.wait_until(Phase::Draining);
    }

    /// Blocks (using no CPU) until the phase is `target` or later.
    pub fn wait_until(&self, target: Phase) {
        let mut phase = self.lock();
        while *phase < target {
            phase = self.changed.wait(phase).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_request_is_reported_and_phases_only_advance() {
        let shutdown = Lifecycle::default();
        assert!(shutdown.request());
        assert!(!shutdown.request());
        shutdown.advance(Phase::Done);
        shutdown.advance(Phase::DrainExpired);
        assert_eq!(shutdown.phase(), Phase::Done);
        shutdown.wait_requested();
        shutdown.wait_until(Phase::Done);
    }
}
