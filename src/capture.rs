//! `--capture FILE` and `--capture-pcap FILE`: keep what passes through
//! tcpack (server, client), as a transcript `tcpack replay` plays back and
//! as a pcap Wireshark reads.
//!
//! Each file is a `Watcher` of the `Tap` (see `queue`): `see` copies the
//! event into a bounded queue and returns; a writer thread of its own does
//! the disk I/O, so a worker never waits for the disk. When the queue is
//! full, events are dropped, counted and reported. At `Stopped` the writer
//! writes out what is queued and flushes, bounded in time, so the file is
//! whole after Ctrl-C, a second Ctrl-C and SIGTERM: every line complete.

mod batched;
mod jsonl;
mod pcap;
mod queue;
pub(crate) mod transcript;

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, Result};

use crate::framing::Framing;
use crate::tap::Watcher;

pub(crate) use self::queue::CaptureLog;

/// What `--capture`, `--capture-pcap` and `--capture-max` ask for.
#[derive(Debug, Clone, Default)]
pub(crate) struct CaptureOptions {
    pub transcript: Option<PathBuf>,
    pub pcap: Option<PathBuf>,
    /// Bytes each file may grow to.
    pub max: Option<u64>,
    /// Bytes of messages each file's queue holds; `None`: 64 MiB. Only a
    /// test sets it (`TCPACK_TEST_CAPTURE_QUEUE_BYTES`, debug builds).
    pub queue_bytes: Option<usize>,
}

impl CaptureOptions {
    /// Whether anything is captured at all.
    pub(crate) fn is_on(&self) -> bool {
        self.transcript.is_some() || self.pcap.is_some()
    }
}

/// The watchers `options` asks for; each file is created (and its header
/// written) now, so a path that cannot be written is an error at start.
/// `mode` is who records (`server`, `client`, `relay`); `say` logs.
pub(crate) fn watchers(
    options: &CaptureOptions,
    mode: &str,
    framing: &Framing,
    say: &CaptureLog,
) -> Result<Vec<Arc<dyn Watcher>>> {
    let started = SystemTime::now();
    let mut watchers: Vec<Arc<dyn Watcher>> = Vec::new();
    let create = |path: &PathBuf, flag: &str| {
        File::create(path).with_context(|| format!("{flag} {}: cannot create it", path.display()))
    };
    if let Some(path) = &options.transcript {
        let (format, written) =
            jsonl::Jsonl::start(create(path, "--capture")?, mode, framing, started)
                .with_context(|| format!("--capture {}: cannot write it", path.display()))?;
        let name = path.display().to_string();
        let recorder = queue::Recorder::start(
            name,
            format,
            options.max,
            options.queue_bytes,
            written,
            Arc::clone(say),
        )
        .context("starting the capture thread")?;
        watchers.push(Arc::new(recorder));
    }
    if let Some(path) = &options.pcap {
        let (format, written) = pcap::Pcap::start(create(path, "--capture-pcap")?, framing)
            .with_context(|| format!("--capture-pcap {}: cannot write it", path.display()))?;
        let name = path.display().to_string();
        let recorder = queue::Recorder::start(
            name,
            format,
            options.max,
            options.queue_bytes,
            written,
            Arc::clone(say),
        )
        .context("starting the capture thread")?;
        watchers.push(Arc::new(recorder));
    }
    Ok(watchers)
}
