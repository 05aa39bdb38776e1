//! Every connection the server holds: waiting for a worker, or being served.
//!
//! `threadpool`'s own queue is unbounded and invisible, so connections wait
//! here instead, where their number and their wait can be bounded. Each pool
//! thread runs one long job that takes connections from here, which also costs
//! one wake-up per connection where a job per connection costs several. One
//! lock covers both sets, so a connection is never in neither while it moves
//! from waiting to served.

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crate::server::conn::connection::Connection;
use crate::sync::{lock, wait, wait_timeout};

// The served set's look-ups and wake-ups: more `impl Registry`, same lock.
mod serving;

/// An accepted connection that has no worker yet.
pub(in crate::server) struct Arrival {
    pub id: u64,
    pub peer: SocketAddr,
    pub stream: TcpStream,
    pub since: Instant,
    /// Whether every worker was busy when it arrived.
    pub queued: bool,
}

/// What became of a connection handed to `admit`.
pub(in crate::server) enum Admission {
    /// A worker is free or will be soon; `queued` says which.
    Admitted {
        queued: bool,
        busy: usize,
        waiting: usize,
    },
    /// `--max-pending` connections are waiting already.
    QueueFull(Arrival),
    /// The server is shutting down.
    Closed(Arrival),
}

/// A queued connection, with the handle other threads will reach it by once served.
struct Waiting {
    arrival: Arrival,
    served: Arc<Connection>,
}

#[derive(Default)]
struct Roster {
    waiting: VecDeque<Waiting>,
    /// Each served connection, so shutdown can wake its blocked read and
    /// pushes can reach it.
    serving: HashMap<u64, Arc<Connection>>,
    /// Workers parked in `next`, by number, most recently idle last: waking
    /// that one first finds its stack and caches warm, so a short connection
    /// costs less CPU than waking whichever waited longest (README, Benchmarks).
    idle_workers: Vec<(usize, Thread)>,
    /// Whether each worker, by number, is in `idle_workers`, so a park need
    /// not scan a list of thousands of workers.
    listed: Vec<bool>,
    /// Workers woken for an arrival and not yet running: the connections they
    /// will take have a worker and do not count against `--max-pending`.
    woken: usize,
    /// Whether the reaper waits with no deadline, so only a first arrival must wake it.
    reaper_untimed: bool,
    closed: bool,
}

/// Every connection the server holds: the bounded queue and the served set, under one lock.
pub(in crate::server) struct Registry {
    state: Mutex<Roster>,
    /// Signalled when the reaper has a new deadline to wait for, and at close.
    queue_changed: Condvar,
    /// Signalled, once closed, when the last served connection ends (wakes the drain).
    idle: Condvar,
    max_pending: usize,
    queue_timeout: Duration,
}

impl Registry {
    /// Empty; at most `max_pending` wait, each at most `queue_timeout`.
    pub(in crate::server) fn new(max_pending: usize, queue_timeout: Duration) -> Self {
        Self {
            state: Mutex::default(),
            queue_changed: Condvar::new(),
            idle: Condvar::new(),
            max_pending,
            queue_timeout,
        }
    }

    /// Queues `arrival` for a worker (waking an idle one), or says why not.
    pub(in crate::server) fn admit(&self, mut arrival: Arrival) -> Admission {
        // Cloned before locking, as a syscall under the lock makes workers wait on it.
        // Without a clone (out of descriptors) it is still served, only not woken early at shutdown.
        let served = Arc::new(Connection::new(
            arrival.id,
            arrival.peer,
            arrival.since,
            arrival.stream.try_clone().ok(),
        ));
        let mut state = lock(&self.state);
        if state.closed {
            return Admission::Closed(arrival);
        }
        if state.waiting.len().saturating_sub(state.woken) >= self.max_pending {
            return Admission::QueueFull(arrival);
        }
        let worker = state.idle_workers.pop();
        arrival.queued = worker.is_none();
        let queued = arrival.queued;
        state.waiting.push_back(Waiting { arrival, served });
        if let Some((number, _)) = &worker {
            state.listed[*number] = false;
            state.woken += 1;
        }
        let wake_reaper = std::mem::take(&mut state.reaper_untimed);
        let admitted = Admission::Admitted {
            queued,
            busy: state.serving.len(),
            waiting: state.waiting.len(),
        };
        // Woken outside the lock: a worker woken inside it would find the lock
        // still held and go back to sleep on it, a second context switch.
        drop(state);
        if let Some((_, thread)) = worker {
            thread.unpark();
        }
        if wake_reaper {
            self.queue_changed.notify_one();
        }
        admitted
    }

    /// Worker number `worker`'s wait for its next connection, which it then
    /// serves until it drops the guard; `None` once the server is shutting down.
    pub(in crate::server) fn next(&self, worker: usize) -> Option<(Arrival, ServingGuard<'_>)> {
        let mut state = lock(&self.state);
        if state.listed.len() <= worker {
            state.listed.resize(worker + 1, false);
        }
        loop {
            if let Some(Waiting { arrival, served }) = state.waiting.pop_front() {
                state.serving.insert(arrival.id, Arc::clone(&served));
                let guard = ServingGuard {
                    served,
                    id: arrival.id,
                    registry: self,
                };
                return Some((arrival, guard));
            }
            if state.closed {
                return None;
            }
            // After a spurious wake-up this worker may still be listed.
            if !state.listed[worker] {
                state.listed[worker] = true;
                state.idle_workers.push((worker, thread::current()));
            }
            drop(state);
            thread::park();
            state = lock(&self.state);
            if !state.listed[worker] {
                // Taken off the idle list to be woken: it is running now.
                state.woken = state.woken.saturating_sub(1);
            }
        }
    }

    /// Blocks until some waiting connections have waited past `--queue-timeout`
    /// and returns them; `None` once the queue is closed.
    pub(in crate::server) fn next_expired(&self) -> Option<Vec<Arrival>> {
        let mut state = lock(&self.state);
        loop {
            if state.closed {
                return None;
            }
            let now = Instant::now();
            let Some(oldest) = state.waiting.front() else {
                state.reaper_untimed = true;
                state = wait(&self.queue_changed, state);
                continue;
            };
            let deadline = oldest.arrival.since + self.queue_timeout;
            if deadline > now {
                state = wait_timeout(&self.queue_changed, state, deadline - now);
                continue;
            }
            let mut expired = Vec::new();
            while state
                .waiting
                .front()
                .is_some_and(|w| w.arrival.since + self.queue_timeout <= now)
            {
                expired.extend(state.waiting.pop_front().map(|w| w.arrival));
            }
            return Some(expired);
        }
    }

    /// Stops admitting and hands back everyone still waiting.
    pub(in crate::server) fn close(&self) -> Vec<Arrival> {
        let mut state = lock(&self.state);
        state.closed = true;
        let idle = std::mem::take(&mut state.idle_workers);
        for (number, thread) in idle {
            state.listed[number] = false;
            thread.unpark();
        }
        self.queue_changed.notify_all();
        self.idle.notify_all();
        state.waiting.drain(..).map(|w| w.arrival).collect()
    }
}

/// Marks a connection as served until dropped.
pub(in crate::server) struct ServingGuard<'a> {
    id: u64,
    served: Arc<Connection>,
    registry: &'a Registry,
}

impl ServingGuard<'_> {
    /// The served connection's handle.
    pub(in crate::server) fn served(&self) -> &Connection {
        &self.served
    }
}

impl Drop for ServingGuard<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.registry.state);
        state.serving.remove(&self.id);
        // Only the drain waits for this; a notify is a syscall even with no waiter.
        if state.closed && state.serving.is_empty() {
            self.registry.idle.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn arrival(listener: &TcpListener, id: u64, since: Instant) -> Arrival {
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        Arrival {
            id,
            peer: stream.local_addr().unwrap(),
            stream,
            since,
            queued: false,
        }
    }

    fn admitted(admission: Admission) -> Option<bool> {
        match admission {
            Admission::Admitted { queued, .. } => Some(queued),
            _ => None,
        }
    }

    #[test]
    fn queue_is_bounded_and_fifo() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let registry = Arc::new(Registry::new(2, Duration::from_secs(60)));
        let now = Instant::now();
        // No worker waits in `next`, so both arrivals queue.
        assert_eq!(
            admitted(registry.admit(arrival(&listener, 1, now))),
            Some(true)
        );
        assert_eq!(
            admitted(registry.admit(arrival(&listener, 2, now))),
            Some(true)
        );
        assert!(matches!(
            registry.admit(arrival(&listener, 3, now)),
            Admission::QueueFull(_)
        ));
        let (first, guard) = registry.next(0).unwrap();
        assert_eq!(first.id, 1);
        assert_eq!(registry.counts(), (1, 1));
        drop(guard);
        assert_eq!(registry.wait_idle(Instant::now()), 0);
        let rest = registry.close();
        assert_eq!(rest.iter().map(|p| p.id).collect::<Vec<_>>(), [2]);
        assert!(matches!(
            registry.admit(arrival(&listener, 4, now)),
            Admission::Closed(_)
        ));
        assert!(registry.next_expired().is_none());
        assert!(registry.next(0).is_none());
    }

    #[test]
    fn expired_waiters_are_handed_back_oldest_first() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let registry = Registry::new(10, Duration::from_millis(50));
        let long_ago = Instant::now() - Duration::from_secs(1);
        registry.admit(arrival(&listener, 1, long_ago));
        registry.admit(arrival(&listener, 2, long_ago));
        registry.admit(arrival(
            &listener,
            3,
            Instant::now() + Duration::from_secs(60),
        ));
        let expired = registry.next_expired().unwrap();
        assert_eq!(expired.iter().map(|p| p.id).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(registry.counts(), (0, 1));
    }

    #[test]
    fn an_idle_worker_takes_an_arrival_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let registry = Arc::new(Registry::new(10, Duration::from_secs(60)));
        let (started, waiting) = std::sync::mpsc::channel();
        let worker = {
            let registry = Arc::clone(&registry);
            std::thread::spawn(move || {
                started.send(()).unwrap();
                registry.next(0).map(|(p, _guard)| p.id)
            })
        };
        waiting.recv().unwrap();
        // The worker may not be waiting yet; either way the arrival reaches it.
        let queued = admitted(registry.admit(arrival(&listener, 1, Instant::now())));
        assert!(queued.is_some());
        assert_eq!(worker.join().unwrap(), Some(1));
    }

    #[test]
    fn arrivals_an_idle_worker_is_woken_for_do_not_fill_the_queue() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let registry = Arc::new(Registry::new(1, Duration::from_secs(60)));
        let (served_tx, served) = std::sync::mpsc::channel();
        let workers: Vec<_> = (0..2)
            .map(|number| {
                let (registry, served_tx) = (Arc::clone(&registry), served_tx.clone());
                std::thread::spawn(move || {
                    while let Some((p, _guard)) = registry.next(number) {
                        served_tx.send(p.id).unwrap();
                    }
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while lock(&registry.state).idle_workers.len() < 2 {
            assert!(Instant::now() < deadline, "workers never parked");
            std::thread::yield_now();
        }
        // A burst: both have a worker on its way, so neither is "waiting" yet.
        let now = Instant::now();
        assert_eq!(
            admitted(registry.admit(arrival(&listener, 1, now))),
            Some(false)
        );
        assert_eq!(
            admitted(registry.admit(arrival(&listener, 2, now))),
            Some(false)
        );
        let mut ids = vec![served.recv().unwrap(), served.recv().unwrap()];
        ids.sort_unstable();
        assert_eq!(ids, [1, 2]);
        registry.close();
        for worker in workers {
            worker.join().unwrap();
        }
    }
}
