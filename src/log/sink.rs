//! Batched output for the log: whole lines in, one `write` per batch out.
//!
//! A write syscall per log line costs more than serving a short connection
//! does, so lines collect in a buffer that a flusher thread writes out within
//! a millisecond of the first one. An idle sink's thread sleeps on a condvar.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::sync::{lock, wait};

/// How long the flusher lets lines gather once the first has arrived.
const BATCH_WINDOW: Duration = Duration::from_millis(1);
/// Past this, the logging thread writes itself: a stalled reader of our
/// stdout slows the server down instead of growing its memory without bound.
const MAX_BUFFERED: usize = 1 << 20;

#[derive(Default)]
struct Buffered {
    bytes: Vec<u8>,
    /// Once closed, lines are written at once and the flusher has ended.
    closed: bool,
}

/// Where log lines go: batched onto stdout by a flusher thread, so a line
/// costs a copy rather than a write syscall.
pub(crate) struct Sink {
    pending: Mutex<Buffered>,
    ready: Condvar,
    /// Serializes writers, so batches reach stdout in the order they were taken.
    writing: Mutex<Vec<u8>>,
    flusher: Mutex<Option<JoinHandle<()>>>,
}

impl Sink {
    /// A sink for stdout, with its flusher thread.
    pub(crate) fn stdout() -> std::io::Result<Arc<Self>> {
        let sink = Arc::new(Self {
            pending: Mutex::default(),
            ready: Condvar::new(),
            writing: Mutex::default(),
            flusher: Mutex::new(None),
        });
        let flusher = Arc::clone(&sink);
        let handle = thread::Builder::new()
            .name("tcpack-log".into())
            .spawn(move || flusher.run())?;
        *lock(&sink.flusher) = Some(handle);
        Ok(sink)
    }

    /// Queues one whole line for the log thread.
    pub(crate) fn write_line(&self, line: &[u8]) {
        let mut pending = lock(&self.pending);
        let was_empty = pending.bytes.is_empty();
        pending.bytes.extend_from_slice(line);
        if pending.closed || pending.bytes.len() >= MAX_BUFFERED {
            drop(pending);
            self.flush();
        } else if was_empty {
            self.ready.notify_one();
        }
    }

    /// Writes everything logged so far, now.
    pub(crate) fn flush(&self) {
        let mut batch = lock(&self.writing);
        std::mem::swap(&mut *batch, &mut lock(&self.pending).bytes);
        let mut out = std::io::stdout().lock();
        // A closed stdout (`| head`) must not take the server down.
        let _ = out.write_all(&batch);
        let _ = out.flush();
        // Keeps the buffer's capacity for the next batch.
        batch.clear();
    }

    /// Flushes, ends the flusher thread and waits for it; later lines are written at once.
    pub(crate) fn close(&self) {
        lock(&self.pending).closed = true;
        self.ready.notify_one();
        if let Some(handle) = lock(&self.flusher).take() {
            let _ = handle.join();
        }
        self.flush();
    }

    fn run(&self) {
        loop {
            {
                let mut pending = lock(&self.pending);
                while pending.bytes.is_empty() && !pending.closed {
                    pending = wait(&self.ready, pending);
                }
                if pending.closed {
                    return;
                }
            }
            thread::sleep(BATCH_WINDOW);
            self.flush();
        }
    }
}
