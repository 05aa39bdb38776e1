//! What `tcpack bench` was asked to do, as `config` carries it over from the flags.

use std::path::PathBuf;
use std::time::Duration;

use super::merge::MergeConfig;
use super::shard::ShardSpec;
use crate::client_stream::TlsOptions;
use crate::framing::Framing;

/// What `tcpack bench` measures (`--scenario`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// Persistent connections, each sending a line and waiting for its ack.
    Rr,
    /// Connect, one line, ack, close, again and again.
    Conn,
    /// Persistent connections writing `--depth` lines at once, then reading their acks.
    Pipeline,
    /// Silent connections held open while fresh clients measure their time to an answer.
    Idle,
}

impl Scenario {
    /// The name the report gives it, as `--scenario` spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Rr => "rr",
            Scenario::Conn => "conn",
            Scenario::Pipeline => "pipeline",
            Scenario::Idle => "idle",
        }
    }
}

/// What `tcpack bench` was asked to measure, and how.
#[derive(Debug, Clone)]
pub(crate) struct BenchConfig {
    /// The server as HOST:PORT.
    pub target: String,
    pub scenario: Scenario,
    /// Concurrent connections, or connect loops.
    pub connections: usize,
    /// Per connection or loop; 0: until `duration`.
    pub messages: u64,
    /// Bytes per message, its `\n` included.
    pub size: usize,
    /// Measured, after `warmup`.
    pub duration: Duration,
    pub warmup: Duration,
    /// Lines per burst (pipeline).
    pub depth: usize,
    /// Silent connections held (idle).
    pub idle: usize,
    /// For a connection or an ack, before counting a timeout.
    pub timeout: Duration,
    /// The server's process, for its CPU time and memory.
    pub server_pid: Option<u32>,
    /// How messages are framed and answers cut.
    pub framing: Framing,
    /// Each message is these hex bytes (with placeholders).
    pub hex: Option<String>,
    /// The report as JSON.
    pub json: bool,
    pub udp: bool,
    pub tls: TlsOptions,
    /// `--shard I/N` or `--shards N`: this run is one shard of many.
    pub shard: Option<ShardSpec>,
    /// Wait until then to start (`--start-at`).
    pub start_at: Option<std::time::SystemTime>,
    /// Write an HdrHistogram interval log there (`--hdr-log`).
    pub hdr_log: Option<PathBuf>,
    /// No progress line (`--quiet`).
    pub quiet: bool,
}

/// What `tcpack bench` does: load a server, or merge the logs of runs.
#[derive(Debug, Clone)]
pub(crate) enum BenchJob {
    Load(Box<BenchConfig>),
    Merge(MergeConfig),
}
