//! `tcpack bench`'s flags, and `tcpack bench merge`'s.

use std::time::Duration;

use super::client_args::{CLIENT_FRAMING_HELP, ClientTlsArgs};
use super::value_parsers::{at_least_one, parse_secs, parse_secs_or_zero};
use crate::bench::Scenario;
use crate::framing::Framing;

/// `tcpack bench`'s help after the flags: the many-machines recipe.
pub(super) const BENCH_HELP: &str =
    "Many machines: run one shard per machine with a common start and a log each,
  tcpack bench HOST:PORT -c 256 -d 60 --shard I/4 --start-at TIME --hdr-log shardI.hlog
then add the logs up exactly: tcpack bench merge shard*.hlog (docs/bench.md says more)";

/// `tcpack bench`'s flags; `config` turns them into a `BenchConfig`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BenchArgs {
    /// Server as HOST:PORT
    #[arg(value_name = "HOST:PORT", required = true)]
    pub target: Option<String>,

    /// What to measure (--help says more)
    #[arg(long, value_enum, default_value_t = Scenario::Rr)]
    pub scenario: Scenario,

    /// Concurrent connections (rr, pipeline) or connect loops (conn)
    #[arg(short, long, value_name = "C", default_value_t = 16, value_parser = at_least_one)]
    pub connections: usize,

    /// Messages per connection (rr, pipeline), connections per loop (conn) or fresh clients (idle); 0: until --duration
    #[arg(short = 'n', long, value_name = "M", default_value_t = 0)]
    pub messages: u64,

    /// Bytes per message, its final \n included
    #[arg(short, long, value_name = "BYTES", default_value_t = 16, value_parser = at_least_one)]
    pub size: usize,

    /// Seconds measured, after the warm-up; every run ends by then
    #[arg(short, long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub duration: Duration,

    /// Seconds run first and not counted
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_secs_or_zero)]
    pub warmup: Duration,

    /// Lines per burst in the pipeline scenario
    #[arg(long, value_name = "K", default_value_t = 16, value_parser = at_least_one)]
    pub depth: usize,

    /// Silent connections held open in the idle scenario
    #[arg(long, value_name = "I", default_value_t = 1000)]
    pub idle: usize,

    /// Seconds to wait for a connection or an ack before counting a timeout
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub timeout: Duration,

    /// The server's process id: adds its CPU time per op and memory (Linux /proc)
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,

    /// Frame messages and cut answers as a server with this --framing does (line: as without it)
    #[arg(long, value_name = "FRAMING", default_value = "line", long_help = CLIENT_FRAMING_HELP)]
    pub framing: Framing,

    /// Each message is these hex bytes (placeholders such as {crc16_modbus}; {conn}: the connection's index, from a shard's offset) instead of --size bytes
    #[arg(long, value_name = "HEX")]
    pub hex: Option<String>,

    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,

    /// rr over UDP: each connection is a UDP socket sending a datagram and waiting for its answer
    #[arg(long)]
    pub udp: bool,

    /// Run shard I (0-based) of N: this shard's share of -c, its connections numbered from its offset
    #[arg(long, value_name = "I/N", value_parser = crate::bench::parse_shard, conflicts_with = "shards")]
    pub shard: Option<(usize, usize)>,

    /// N shards, this one's index from JOB_COMPLETION_INDEX (as a Kubernetes Indexed Job sets it)
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub shards: Option<usize>,

    /// Wait until TIME (RFC 3339 or unix seconds), then start; with --duration all shards end together
    #[arg(long, value_name = "TIME", value_parser = crate::bench::parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,

    /// Write the latencies as an HdrHistogram interval log (one histogram a second, in ns) for `bench merge`
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<std::path::PathBuf>,

    /// No live progress line on stderr (shown only on a terminal, for runs over 2 s)
    #[arg(short, long)]
    pub quiet: bool,

    #[command(flatten)]
    pub tls: ClientTlsArgs,

    #[command(subcommand)]
    pub command: Option<BenchCommand>,
}

/// What `tcpack bench` does besides loading a server.
#[derive(Debug, Clone, clap::Subcommand)]
pub(crate) enum BenchCommand {
    /// Add up the --hdr-log files of one run's shards exactly and print one report
    Merge(MergeArgs),
}

/// `tcpack bench merge`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct MergeArgs {
    /// Interval logs written by `tcpack bench --hdr-log`, one per shard
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<std::path::PathBuf>,

    /// Print the report as JSON: an array with one report per tag (scenario)
    #[arg(long)]
    pub json: bool,

    /// Add a row per file (messages, rate, errors, p50/p99/max), so a slow shard stands out
    #[arg(long)]
    pub per_shard: bool,

    /// Refuse files whose start times are further apart: they are from different runs
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_secs_or_zero)]
    pub max_skew: Duration,
}
