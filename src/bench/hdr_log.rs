//! `--hdr-log FILE`: the run as an HdrHistogram interval log, as Java's
//! `HistogramLogWriter` writes them (V2 compressed histograms, base64), so
//! `tcpack bench merge` and other HdrHistogram tools read it.
//!
//! Values are latencies in nanoseconds, the unit HdrHistogram's Java tools
//! assume (`HistogramLogProcessor` prints them in milliseconds by default);
//! the max column is in milliseconds too (`#[MaxValueDivisor: 1000000.000]`).
//! Both `#[StartTime:]` and `#[BaseTime:]` are the wall time the measured
//! part began, so each interval's timestamp is seconds into it. The last
//! line is a comment `#tcpack summary: {json}` with what the histograms
//! cannot hold: messages (a pipeline burst is one latency, many messages),
//! errors, timeouts, busy answers and the run's shape; a log without it was
//! cut short.

use std::fs::File;
use std::io::LineWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriter, IntervalLogWriterBuilder, Tag};
use serde::{Deserialize, Serialize};

use super::shard::Shard;

/// The comment that starts the summary line.
pub(super) const SUMMARY: &str = "tcpack summary: ";

/// Nanoseconds to the max column's milliseconds.
const MAX_VALUE_DIVISOR: f64 = 1e6;

/// What a run's log says of it besides its histograms, as its last line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Summary {
    /// The tag of its histograms: the scenario, `rr-udp` for `--udp`.
    pub tag: String,
    pub scenario: String,
    pub udp: bool,
    pub target: String,
    pub connections: usize,
    pub size: usize,
    /// The measured part's length.
    pub seconds: f64,
    /// Messages acked (connections completed in `conn`), as the report's `ops`.
    pub messages: u64,
    /// Latencies recorded: what the histograms hold together.
    pub latencies: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub busy: u64,
    pub first_ack_max_ms: Option<f64>,
    pub shard: Option<Shard>,
}

impl Summary {
    /// A run's, from its report; `latencies` is what its histogram holds.
    pub(super) fn of(report: &super::report::Report, tag: String, latencies: u64) -> Self {
        Self {
            tag,
            scenario: report.scenario.clone(),
            udp: report.udp,
            target: report.target.clone(),
            connections: report.connections,
            size: report.size,
            seconds: report.seconds,
            messages: report.ops,
            latencies,
            errors: report.errors,
            timeouts: report.timeouts,
            busy: report.busy,
            first_ack_max_ms: report.first_ack_max_ms,
            shard: report.shard,
        }
    }
}

/// The log's file, opened before the run so a bad path fails at once.
pub(super) struct HdrFile {
    path: PathBuf,
    file: LineWriter<File>,
    serializer: V2DeflateSerializer,
}

impl HdrFile {
    pub(super) fn create(path: &Path) -> Result<Self> {
        let file = File::create(path)
            .with_context(|| format!("cannot create --hdr-log {}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            file: LineWriter::new(file),
            serializer: V2DeflateSerializer::new(),
        })
    }

    /// Writes the headers: `about` as a comment, the measured part's start.
    pub(super) fn begin(
        &mut self,
        about: &str,
        tag: String,
        start: SystemTime,
    ) -> Result<HdrLog<'_>> {
        let path = &self.path;
        let writer = IntervalLogWriterBuilder::new()
            .add_comment(about)
            .add_comment("Values are latencies in nanoseconds; the max column is in milliseconds")
            .with_start_time(start)
            .with_base_time(start)
            .with_max_value_divisor(MAX_VALUE_DIVISOR)
            .begin_log_with(&mut self.file, &mut self.serializer)
            .with_context(|| format!("writing --hdr-log {}", path.display()))?;
        if Tag::new(&tag).is_none() {
            return Err(anyhow!("{tag:?} cannot be an interval log's tag"));
        }
        Ok(HdrLog { path, writer, tag })
    }
}

/// The log, its headers written.
pub(super) struct HdrLog<'a> {
    path: &'a Path,
    writer: IntervalLogWriter<'a, 'a, LineWriter<File>, V2DeflateSerializer>,
    tag: String,
}

impl HdrLog<'_> {
    /// Second `index` of the measured part, `length` long (the last may be shorter).
    pub(super) fn interval(
        &mut self,
        histogram: &Histogram<u32>,
        index: u64,
        length: Duration,
    ) -> Result<()> {
        self.writer
            .write_histogram(
                histogram,
                Duration::from_secs(index),
                length,
                Tag::new(&self.tag),
            )
            .map_err(|e| anyhow!("writing --hdr-log {}: {e}", self.path.display()))
    }

    /// The last line.
    pub(super) fn summary(&mut self, summary: &Summary) -> Result<()> {
        let json = serde_json::to_string(summary)?;
        self.writer
            .write_comment(&format!("{SUMMARY}{json}"))
            .with_context(|| format!("writing --hdr-log {}", self.path.display()))
    }
}
