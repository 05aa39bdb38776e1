//! The one thing both capture files share: a bounded queue between the
//! threads that move bytes and a writer thread that does the disk I/O.
//!
//! `see` copies the event and `try_send`s it; a full queue drops it and
//! counts what was dropped (a worker never waits for the disk), and says so
//! at most once a second. The writer batches: it writes whatever is queued,
//! flushes when the queue runs dry, and at `Stopped` writes out what is
//! queued, flushes and reports done, all within [`FINISH_WITHIN`].

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::sync::lock;
use crate::tap::{TapEvent, TapRecord, Watcher};

/// Events the queue holds at most.
const QUEUE_EVENTS: usize = 64 * 1024;
/// Places kept for opens and closes: messages are dropped first, so a
/// transcript that lost messages still says which connections there were.
const RESERVED: usize = 1024;
/// Bytes of messages the queue holds at most, so big messages cannot make it huge.
const QUEUE_BYTES: usize = 64 << 20;

/// How long the writer may go on writing out what is queued after
/// `Stopped`; then it flushes what it has, whole lines, and ends.
const FINISH_WITHIN: Duration = Duration::from_secs(3);
/// How long `Stopped` waits for it: a disk that takes nothing gets no more.
const WAIT_FOR_FINISH: Duration = Duration::from_millis(3500);
/// At most one "fell behind" line this often.
const REPORT_EVERY_MS: u64 = 1000;

/// What a watcher tells its people: a log line (a warning when `true`).
pub(crate) type CaptureLog = Arc<dyn Fn(bool, &str) + Send + Sync>;

/// A capture file's format: turns events into bytes on its writer.
pub(super) trait Format: Send + 'static {
    /// Writes one event; returns how many bytes it added to the file. The
    /// event is not written if that would pass `room` bytes: `Ok(None)`.
    fn write(&mut self, at: SystemTime, what: &TapRecord, room: u64) -> io::Result<Option<u64>>;
    /// Writes out what is buffered.
    fn flush(&mut self) -> io::Result<()>;
}

enum Item {
    Event(SystemTime, TapRecord),
    Finish,
}

/// What was dropped because the writer fell behind.
#[derive(Default)]
struct Drops {
    events: AtomicU64,
    messages: AtomicU64,
    bytes: AtomicU64,
    last_conn: AtomicU64,
    /// When the last "fell behind" line was said, in ms since the start.
    said_ms: AtomicU64,
}

/// The end of a capture, which the watcher asks for and the writer does.
#[derive(Default)]
struct CaptureEnd {
    /// `Stopped` came: write out what is queued, until the deadline.
    asked: AtomicBool,
    deadline: Mutex<Option<Instant>>,
    /// The file is flushed and the writer gone.
    done: Mutex<bool>,
    finished: Condvar,
}

impl CaptureEnd {
    fn deadline_passed(&self) -> bool {
        self.asked.load(Relaxed) && lock(&self.deadline).is_some_and(|d| Instant::now() >= d)
    }

    fn set_done(&self) {
        *lock(&self.done) = true;
        self.finished.notify_all();
    }
}

/// A capture file fed through a bounded queue: the `Watcher`.
pub(crate) struct Recorder {
    name: String,
    queue: SyncSender<Item>,
    queued_bytes: Arc<AtomicUsize>,
    queued_events: Arc<AtomicUsize>,
    /// `QUEUE_BYTES`, or a test's.
    max_queued: usize,
    /// Set at `Stopped` or when `--capture-max` is reached: see nothing more.
    done: Arc<AtomicBool>,
    ending: Arc<CaptureEnd>,
    drops: Arc<Drops>,
    start: Instant,
    say: CaptureLog,
}

impl Recorder {
    /// Starts the writer thread for `format`; `name` is how logs call the file.
    pub(super) fn start(
        name: String,
        format: impl Format,
        max: Option<u64>,
        max_queued: Option<usize>,
        written: u64,
        say: CaptureLog,
    ) -> io::Result<Self> {
        let (queue, items) = mpsc::sync_channel(QUEUE_EVENTS);
        let ending = Arc::new(CaptureEnd::default());
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let queued_events = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let drops = Arc::new(Drops::default());
        let mut writer = Writer {
            name: name.clone(),
            format,
            items,
            queued_bytes: Arc::clone(&queued_bytes),
            queued_events: Arc::clone(&queued_events),
            done: Arc::clone(&done),
            drops: Arc::clone(&drops),
            ending: Arc::clone(&ending),
            max,
            written,
            said_drops: 0,
            say: Arc::clone(&say),
        };
        thread::Builder::new()
            .name("tcpack-capture".into())
            .spawn(move || {
                writer.run();
                writer.ending.set_done();
            })?;
        Ok(Self {
            name,
            queue,
            queued_bytes,
            queued_events,
            max_queued: max_queued.unwrap_or(QUEUE_BYTES),
            done,
            ending,
            drops,
            start: Instant::now(),
            say,
        })
    }

    fn drop_event(&self, what: &TapRecord) {
        let d = &self.drops;
        let events = d.events.fetch_add(1, Relaxed) + 1;
        if matches!(what, TapRecord::Message { .. } | TapRecord::Datagram { .. }) {
            d.messages.fetch_add(1, Relaxed);
            d.bytes.fetch_add(what.payload() as u64, Relaxed);
        }
        if let Some(conn) = what.conn() {
            d.last_conn.store(conn, Relaxed);
        }
        let now = self.start.elapsed().as_millis() as u64 + REPORT_EVERY_MS;
        let said = d.said_ms.load(Relaxed);
        if now >= said + REPORT_EVERY_MS
            && d.said_ms
                .compare_exchange(said, now, Relaxed, Relaxed)
                .is_ok()
        {
            (self.say)(
                true,
                &format!(
                    "capture {} fell behind the disk: dropped {events} events so far ({} messages, {} bytes; the latest on connection #{}); the server goes on",
                    self.name,
                    d.messages.load(Relaxed),
                    d.bytes.load(Relaxed),
                    d.last_conn.load(Relaxed),
                ),
            );
        }
    }

    /// `Stopped`: has the writer write out what is queued (for at most
    /// `FINISH_WITHIN`; `forced`, only the event in hand) and flush, and
    /// waits for it, bounded. Whoever publishes `Stopped` (the normal
    /// finish, a forced stop, both) returns only once the file is whole, or
    /// the disk took nothing for that long.
    fn finish(&self, forced: bool) {
        self.done.store(true, Relaxed);
        let now = Instant::now();
        let deadline = now
            + if forced {
                Duration::ZERO
            } else {
                FINISH_WITHIN
            };
        {
            let mut asked = lock(&self.ending.deadline);
            *asked = Some(asked.map_or(deadline, |d| d.min(deadline)));
        }
        if !self.ending.asked.swap(true, Relaxed) {
            // Wakes an idle writer; a busy one sees `asked` when its queue runs dry.
            let _ = self.queue.try_send(Item::Finish);
        }
        let until = Instant::now() + WAIT_FOR_FINISH;
        let mut done = lock(&self.ending.done);
        while !*done {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                drop(done);
                (self.say)(
                    true,
                    &format!(
                        "capture {}: not finished within {:.1}s, the disk did not take it; the file may end early",
                        self.name,
                        WAIT_FOR_FINISH.as_secs_f64()
                    ),
                );
                return;
            }
            done = crate::sync::wait_timeout(&self.ending.finished, done, left);
        }
    }
}

impl Watcher for Recorder {
    fn see(&self, at: SystemTime, what: &TapEvent<'_>) {
        if let TapEvent::Stopped { forced } = what {
            // Also after an earlier one: a forced stop cuts a finish short,
            // and each thread that stops waits until the file is whole.
            self.finish(*forced);
            return;
        }
        if self.done.load(Relaxed) {
            return;
        }
        let Some(owned) = TapRecord::copy(what, usize::MAX) else {
            return;
        };
        let size = owned.payload();
        if size > 0 && self.queued_events.load(Relaxed) >= QUEUE_EVENTS - RESERVED {
            self.drop_event(&owned);
            return;
        }
        if self.queued_bytes.fetch_add(size, Relaxed) + size > self.max_queued {
            self.queued_bytes.fetch_sub(size, Relaxed);
            self.drop_event(&owned);
            return;
        }
        self.queued_events.fetch_add(1, Relaxed);
        match self.queue.try_send(Item::Event(at, owned)) {
            Ok(()) => {}
            Err(TrySendError::Full(Item::Event(_, owned))) => {
                self.queued_bytes.fetch_sub(size, Relaxed);
                self.queued_events.fetch_sub(1, Relaxed);
                self.drop_event(&owned);
            }
            // The writer ended (the file failed, and it said so).
            Err(_) => {
                self.queued_bytes.fetch_sub(size, Relaxed);
                self.queued_events.fetch_sub(1, Relaxed);
            }
        }
    }
}

/// The writer thread's side.
struct Writer<F> {
    name: String,
    format: F,
    items: Receiver<Item>,
    queued_bytes: Arc<AtomicUsize>,
    queued_events: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
    drops: Arc<Drops>,
    ending: Arc<CaptureEnd>,
    max: Option<u64>,
    written: u64,
    /// Drops already reported as caught up.
    said_drops: u64,
    say: CaptureLog,
}

impl<F: Format> Writer<F> {
    fn run(&mut self) {
        let mut full = false;
        while let Ok(item) = self.items.recv() {
            let mut next = Some(item);
            // Everything queued, then one flush.
            while let Some(item) = next.take() {
                match item {
                    Item::Finish => {
                        self.end();
                        return;
                    }
                    Item::Event(at, what) => {
                        self.queued_bytes.fetch_sub(what.payload(), Relaxed);
                        self.queued_events.fetch_sub(1, Relaxed);
                        let result = if full {
                            Ok(())
                        } else {
                            self.write(at, &what, &mut full)
                        };
                        if let Err(e) = result {
                            self.failed(&e);
                            return;
                        }
                    }
                }
                if self.ending.deadline_passed() {
                    self.end();
                    return;
                }
                next = self.items.try_recv().ok();
            }
            if self.ending.asked.load(Relaxed) {
                self.end();
                return;
            }
            if let Err(e) = self.format.flush() {
                self.failed(&e);
                return;
            }
            let dropped = self.drops.events.load(Relaxed);
            if dropped > self.said_drops {
                self.said_drops = dropped;
                (self.say)(
                    true,
                    &format!(
                        "capture {} caught up; {dropped} events dropped in all ({} messages, {} bytes)",
                        self.name,
                        self.drops.messages.load(Relaxed),
                        self.drops.bytes.load(Relaxed)
                    ),
                );
            }
        }
        self.end();
    }

    fn write(&mut self, at: SystemTime, what: &TapRecord, full: &mut bool) -> io::Result<()> {
        let room = self
            .max
            .map_or(u64::MAX, |max| max.saturating_sub(self.written));
        match self.format.write(at, what, room)? {
            Some(bytes) => self.written += bytes,
            None => {
                *full = true;
                self.done.store(true, Relaxed);
                (self.say)(
                    true,
                    &format!(
                        "capture {} stopped at {} bytes (--capture-max {}): later traffic is not recorded; the server goes on",
                        self.name,
                        self.written,
                        self.max.unwrap_or(0)
                    ),
                );
            }
        }
        Ok(())
    }

    fn end(&mut self) {
        if let Err(e) = self.format.flush() {
            self.failed(&e);
            return;
        }
        let dropped = self.drops.events.load(Relaxed);
        if dropped > 0 {
            (self.say)(
                true,
                &format!(
                    "capture {} closed; {dropped} events were dropped because the disk fell behind",
                    self.name
                ),
            );
        }
    }

    fn failed(&mut self, error: &io::Error) {
        self.done.store(true, Relaxed);
        (self.say)(
            true,
            &format!(
                "capture {}: cannot write ({error}); capturing stops, the server goes on",
                self.name
            ),
        );
    }
}
