//! The hub between the threads that move bytes and the open pages: one
//! bounded queue per viewer, filled with `try_send` so a worker never waits
//! for a browser. A full queue drops the event and counts it; the viewer's
//! thread tells the page how many it missed. With no page open, a worker's
//! whole cost is one atomic load.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use super::api::TextView;
use crate::sync::{lock, wait_timeout};
use crate::tap::{TapEvent, TapRecord, Watcher};

/// Events a viewer may have waiting: enough for a burst, bounded in memory
/// (at most `SHOWN` bytes of each message are kept).
pub(super) const QUEUE: usize = 1024;
/// Bytes of a message kept for the page; its size says the rest.
pub(super) const SHOWN: usize = 1024;
/// Messages a second the pages are sent at most; beyond it they are
/// dropped (and counted) before anything is copied. No one reads more rows
/// than that, and formatting them would take CPU from the server.
pub(super) const MESSAGES_PER_SECOND: u64 = 2000;
/// At the end, how long the pages get to be told "server stopped".
const STOP_WAIT: Duration = Duration::from_millis(500);

/// One thing to send to the pages.
#[derive(Debug)]
pub(super) enum Record {
    /// What the tap saw, copied out of the worker's hands; messages cut to
    /// their first `SHOWN` bytes.
    Seen(SystemTime, TapRecord),
    /// A rule's changes to variables, as the page reads them:
    /// `{"type":"changed","t":…,"conn":3,"rule":"login","changed":{"conn.user":"bob"}}`.
    Changed(serde_json::Value),
    /// Counters, connections and rules (one each second).
    Tick(serde_json::Value),
    /// The server is done.
    Stopped,
}

/// One open page's queue, as the workers see it.
pub(super) struct Viewer {
    queue: SyncSender<Arc<Record>>,
    /// Events dropped since the page was last told.
    pub dropped: AtomicU64,
    /// Set at the end: tell the page, skip what is still queued.
    pub stop: AtomicBool,
}

/// Every open page, and what the workers publish to them.
pub(crate) struct Hub {
    viewers: RwLock<Vec<Arc<Viewer>>>,
    /// `viewers.len()`, read without the lock on every event.
    count: AtomicUsize,
    /// The second (since the epoch) `sent` counts messages in.
    second: AtomicU64,
    sent: AtomicU64,
    max: usize,
    pub(super) display: TextView,
    stopped: AtomicBool,
    /// Viewer threads still running, and their last one out.
    running: Mutex<usize>,
    all_ended: Condvar,
    /// Wakes the ticker: a first viewer came, or the end.
    tick_wake: Condvar,
    tick_lock: Mutex<()>,
    /// Called once at the end, to stop the HTTP threads.
    on_stop: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Hub {
    pub(super) fn new(max: usize, display: TextView) -> Self {
        Self {
            viewers: RwLock::new(Vec::new()),
            count: AtomicUsize::new(0),
            second: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            max,
            display,
            stopped: AtomicBool::new(false),
            running: Mutex::new(0),
            all_ended: Condvar::new(),
            tick_wake: Condvar::new(),
            tick_lock: Mutex::new(()),
            on_stop: Mutex::new(None),
        }
    }

    /// A new viewer's queue, or `None` when `--web-max-viewers` watch
    /// already or the server has stopped. The guard unsubscribes it.
    pub(super) fn subscribe(self: &Arc<Self>) -> Option<(ViewerGuard, Receiver<Arc<Record>>)> {
        let (queue, receiver) = sync_channel(QUEUE);
        let viewer = Arc::new(Viewer {
            queue,
            dropped: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        {
            let mut viewers = crate::sync::write(&self.viewers);
            if viewers.len() >= self.max || self.stopped.load(Relaxed) {
                return None;
            }
            viewers.push(Arc::clone(&viewer));
            self.count.store(viewers.len(), Relaxed);
        }
        *lock(&self.running) += 1;
        {
            // Under the ticker's lock: between its look at `watched()` and
            // its wait, a wake-up would be lost.
            let _guard = lock(&self.tick_lock);
            self.tick_wake.notify_all();
        }
        let guard = ViewerGuard {
            hub: Arc::clone(self),
            viewer,
        };
        Some((guard, receiver))
    }

    /// Whether any page is open.
    pub(super) fn watched(&self) -> bool {
        self.count.load(Relaxed) > 0
    }

    pub(super) fn is_stopped(&self) -> bool {
        self.stopped.load(Relaxed)
    }

    /// Hands `record` to every viewer's queue; a full one counts a drop.
    pub(super) fn broadcast(&self, record: Record) {
        let record = Arc::new(record);
        for viewer in crate::sync::read(&self.viewers).iter() {
            match viewer.queue.try_send(Arc::clone(&record)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    viewer.dropped.fetch_add(1, Relaxed);
                }
                Err(TrySendError::Disconnected(_)) => {}
            }
        }
    }

    /// Whether a message seen `at` is within this second's budget; if not,
    /// every page is told of it as dropped.
    fn within_budget(&self, at: SystemTime) -> bool {
        let second = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self.second.load(Relaxed) != second && self.second.swap(second, Relaxed) != second {
            self.sent.store(0, Relaxed);
        }
        if self.sent.fetch_add(1, Relaxed) < MESSAGES_PER_SECOND {
            return true;
        }
        for viewer in crate::sync::read(&self.viewers).iter() {
            viewer.dropped.fetch_add(1, Relaxed);
        }
        false
    }

    /// The ticker's sleep: until a page is open, then `every`; false at the end.
    pub(super) fn wait_tick(&self, every: Duration) -> bool {
        let mut guard = lock(&self.tick_lock);
        while !self.watched() && !self.is_stopped() {
            guard = crate::sync::wait(&self.tick_wake, guard);
        }
        let deadline = Instant::now() + every;
        loop {
            let now = Instant::now();
            if self.is_stopped() {
                return false;
            }
            if now >= deadline {
                return true;
            }
            guard = wait_timeout(&self.tick_wake, guard, deadline - now);
        }
    }

    /// What to call at the end to stop the HTTP threads.
    pub(super) fn on_stop(&self, stop: Box<dyn FnOnce() + Send>) {
        *lock(&self.on_stop) = Some(stop);
    }

    /// The end: every page is told, for at most `STOP_WAIT`; a page that
    /// does not read is left behind (its thread ends with the process).
    fn stop(&self) {
        if self.stopped.swap(true, Relaxed) {
            return;
        }
        {
            let _guard = lock(&self.tick_lock);
            self.tick_wake.notify_all();
        }
        for viewer in crate::sync::read(&self.viewers).iter() {
            viewer.stop.store(true, Relaxed);
            // Wakes a viewer waiting on an empty queue; a full one is busy anyway.
            let _ = viewer.queue.try_send(Arc::new(Record::Stopped));
        }
        let deadline = Instant::now() + STOP_WAIT;
        let mut running = lock(&self.running);
        while *running > 0 && Instant::now() < deadline {
            running = wait_timeout(&self.all_ended, running, deadline - Instant::now());
        }
        drop(running);
        if let Some(stop) = lock(&self.on_stop).take() {
            stop();
        }
    }
}

impl Watcher for Hub {
    fn see(&self, at: SystemTime, what: &TapEvent<'_>) {
        if let TapEvent::Stopped { .. } = what {
            self.stop();
            return;
        }
        if !self.watched() {
            return;
        }
        if matches!(
            what,
            TapEvent::Message { .. } | TapEvent::Datagram { .. } | TapEvent::Changed { .. }
        ) && !self.within_budget(at)
        {
            return;
        }
        if let TapEvent::Changed {
            conn,
            rule,
            changed,
        } = *what
        {
            let changed: serde_json::Map<String, serde_json::Value> = changed
                .iter()
                .map(|(var, value)| (var.to_string(), value.to_json()))
                .collect();
            let t = at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            let event = serde_json::json!({
                "type": "changed", "t": t, "conn": conn, "rule": rule, "changed": changed,
            });
            self.broadcast(Record::Changed(event));
            return;
        }
        let Some(record) = TapRecord::copy(what, SHOWN) else {
            return;
        };
        self.broadcast(Record::Seen(at, record));
    }
}

/// An open page's place in the hub; dropping it frees the place.
pub(super) struct ViewerGuard {
    hub: Arc<Hub>,
    viewer: Arc<Viewer>,
}

impl ViewerGuard {
    pub(super) fn viewer(&self) -> &Viewer {
        &self.viewer
    }
}

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        {
            let mut viewers = crate::sync::write(&self.hub.viewers);
            viewers.retain(|v| !Arc::ptr_eq(v, &self.viewer));
            self.hub.count.store(viewers.len(), Relaxed);
        }
        let mut running = lock(&self.hub.running);
        *running = running.saturating_sub(1);
        if *running == 0 {
            self.hub.all_ended.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tap::Side;
    use std::time::UNIX_EPOCH;

    fn hub(max: usize) -> Arc<Hub> {
        Arc::new(Hub::new(
            max,
            TextView {
                decode: crate::decode::DecodeMode::Auto,
                binary: false,
            },
        ))
    }

    fn message(hub: &Hub, bytes: &[u8]) {
        hub.see(
            SystemTime::now(),
            &TapEvent::Message {
                conn: 1,
                from: Side::Client,
                bytes,
                rule: None,
            },
        );
    }

    #[test]
    fn a_full_queue_drops_and_counts_and_never_blocks() {
        let hub = hub(2);
        let (guard, events) = hub.subscribe().unwrap();
        // On another thread, so a broadcast that blocked fails the test.
        let (done, finished) = std::sync::mpsc::channel();
        let publisher = {
            let hub = Arc::clone(&hub);
            std::thread::spawn(move || {
                for _ in 0..QUEUE + 10 {
                    hub.broadcast(Record::Stopped);
                }
                let _ = done.send(());
            })
        };
        finished
            .recv_timeout(Duration::from_secs(10))
            .expect("a broadcast blocked on a full queue");
        publisher.join().unwrap();
        assert_eq!(guard.viewer().dropped.load(Relaxed), 10);
        assert_eq!(events.try_iter().count(), QUEUE);
    }

    #[test]
    fn messages_beyond_the_budget_are_counted_not_copied() {
        let hub = hub(2);
        let (guard, events) = hub.subscribe().unwrap();
        let second = UNIX_EPOCH + Duration::from_secs(1_000);
        let at = |offset_ms| second + Duration::from_millis(offset_ms);
        let send = |at| {
            hub.see(
                at,
                &TapEvent::Message {
                    conn: 1,
                    from: Side::Client,
                    bytes: b"x",
                    rule: None,
                },
            )
        };
        let mut received = 0;
        for _ in 0..MESSAGES_PER_SECOND + 5 {
            send(at(10));
            // A viewer that keeps up: its queue never fills.
            received += events.try_iter().count() as u64;
        }
        assert_eq!(guard.viewer().dropped.load(Relaxed), 5);
        assert_eq!(received, MESSAGES_PER_SECOND);
        send(at(1_010));
        assert_eq!(events.try_iter().count(), 1, "a new second, a new budget");
    }

    #[test]
    fn viewers_are_bounded_and_leave() {
        let hub = hub(1);
        let first = hub.subscribe().unwrap();
        assert!(hub.subscribe().is_none());
        drop(first);
        assert!(!hub.watched());
        let (_guard, events) = hub.subscribe().unwrap();
        let long = vec![b'x'; SHOWN * 2];
        message(&hub, &long);
        let Record::Seen(_, TapRecord::Message { bytes, size, .. }) = &*events.try_recv().unwrap()
        else {
            panic!("a message")
        };
        assert_eq!((bytes.len(), *size), (SHOWN, SHOWN * 2));
    }
}
