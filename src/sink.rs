//! Batched output for the log: whole lines in, one `write` per batch out.
//!
//! A write syscall per log line costs more than serving a short connection
//! does, so lines collect in a buffer that a flusher thread writes out within
//! a millisecond of the first one. An idle sink's thread sleeps on a condvar.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

/// How long the flusher lets lines gather once the first has arrived.
const BATCH_WINDOW: Duration = Duration::from_millis(1);
/// Past this, the logging thread writes itself: a stalled reader of our
/// stdout slows the server down instead of growing its memory without bound.
const MAX_BUFFERED: usize = 1 << 20;

pub struct Sink {
    pending: Mutex<Vec<u8>>,
    ready: Condvar,
    /// Serializes writers, so batches reach stdout in the order they were taken.
    writing: Mutex<()>,
}

impl Sink {
    /// A sink for stdout with its flusher thread, which lives as long as the process.
    pub fn stdout() -> std::io::Result<Arc<Self>> {
        let sink = Arc::new(Self {
            pending: Mutex::default(),
            ready: Condvar::new(),
            writing: Mutex::new(()),
        });
        let flusher = Arc::clone(&sink);
        thread::Builder::new()
            .name("tcpack-log".into())
            .spawn(move || flusher.run())?;
        Ok(sink)
    }

    fn pending(&self) -> MutexGuard<'_, Vec<u8>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn write_line(&self, line: &[u8]) {
        let mut pending = self.pending();
        let was_empty = pending.is_empty();
        pending.extend_from_slice(line);
        if pending.len() >= MAX_BUFFERED {
            drop(pending);
            self.flush();
        } else if was_empty {
            self.ready.notify_one();
        }
    }

    /// Writes everything logged so far, now.
    pub fn flush(&self) {
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let batch = std::mem::take(&mut *self.pending());
        let mut out = std::io::stdout().lock();
        // A closed stdout (`| head`) must not take the server down.
        let _ = out.write_all(&batch);
        let _ = out.flush();
    }

    fn run(&self) {
        loop {
            {
                let mut pending = self.pending();
                while pending.is_empty() {
                    pending = self.ready.wait(pending).unwrap_or_else(|p| p.into_inner());
                }
            }
            thread::sleep(BATCH_WINDOW);
            self.flush();
        }
    }
}
