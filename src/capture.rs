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
use std::io;
use std::path::{Path, PathBuf};
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
    if let Some(path) = &options.transcript {
        let begin = |file| jsonl::Jsonl::start(file, mode, framing, started);
        watchers.push(recorder(options, path, "--capture", begin, say)?);
    }
    if let Some(path) = &options.pcap {
        let begin = |file| pcap::Pcap::start(file, framing);
        watchers.push(recorder(options, path, "--capture-pcap", begin, say)?);
    }
    Ok(watchers)
}

/// Creates `path` (named by `flag` in errors), has `begin` write its
/// header, and starts the thread that writes the rest.
fn recorder<F: queue::Format>(
    options: &CaptureOptions,
    path: &Path,
    flag: &str,
    begin: impl FnOnce(File) -> io::Result<(F, u64)>,
    say: &CaptureLog,
) -> Result<Arc<dyn Watcher>> {
    let file = File::create(path)
        .with_context(|| format!("{flag} {}: cannot create it", path.display()))?;
    let (format, written) =
        begin(file).with_context(|| format!("{flag} {}: cannot write it", path.display()))?;
    let recorder = queue::Recorder::start(
        path.display().to_string(),
        format,
        options.max,
        options.queue_bytes,
        written,
        Arc::clone(say),
    )
    .context("starting the capture thread")?;
    Ok(Arc::new(recorder))
}
