//! The served half of the `Registry`: who is being served right now, found
//! by id for pushes, `list` and `close`, counted for the status report, and
//! woken (their sockets shut down) when the server stops. The same lock as
//! the queue's, so a connection is never in neither set while it moves.

use std::net::Shutdown;
use std::sync::Arc;
use std::time::Instant;

use super::Registry;
use crate::server::conn::connection::Connection;
use crate::sync::{lock, wait_timeout};

impl Registry {
    /// Registry being served and waiting, right now.
    pub(in crate::server) fn counts(&self) -> (usize, usize) {
        let state = lock(&self.state);
        (state.serving.len(), state.waiting.len())
    }

    /// Waits until no connection is being served, or `deadline`; returns how many still are.
    pub(in crate::server) fn wait_idle(&self, deadline: Instant) -> usize {
        let mut state = lock(&self.state);
        loop {
            let now = Instant::now();
            if state.serving.is_empty() || now >= deadline {
                return state.serving.len();
            }
            state = wait_timeout(&self.idle, state, deadline - now);
        }
    }

    /// Every connection being served right now, oldest first.
    pub(in crate::server) fn served(&self) -> Vec<Arc<Connection>> {
        let mut served: Vec<Arc<Connection>> =
            lock(&self.state).serving.values().cloned().collect();
        served.sort_by_key(|s| s.id);
        served
    }

    /// The ids of the connections being served right now, oldest first.
    pub(in crate::server) fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = lock(&self.state).serving.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The served connection with this id, if there is one.
    pub(in crate::server) fn find(&self, id: u64) -> Option<Arc<Connection>> {
        lock(&self.state).serving.get(&id).cloned()
    }

    /// Wakes the workers of every served connection by shutting their sockets down.
    pub(in crate::server) fn shutdown_serving(&self, how: Shutdown) {
        let state = lock(&self.state);
        for served in state.serving.values() {
            served.shutdown(how);
        }
    }

    /// Wakes the workers blocked writing to clients that do not read.
    pub(in crate::server) fn shutdown_writing(&self) {
        let state = lock(&self.state);
        for served in state.serving.values() {
            served.shutdown_if_writing();
        }
    }
}
