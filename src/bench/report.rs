//! What a bench run measured, as a table for people or JSON for scripts.
//! `bench merge` fills the same report from interval logs.

use std::fmt::Write;

use hdrhistogram::Histogram;
use serde::Serialize;

/// What one run measured. Latencies are per message (rr), per connection
/// cycle (conn), per burst (pipeline) or per fresh client (idle).
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub scenario: String,
    /// Datagrams over UDP rather than lines over TCP.
    pub udp: bool,
    /// The server as HOST:PORT (merged: each distinct one, comma-separated).
    pub target: String,
    /// Client connections (rr, conn, pipeline) or idle ones held (idle).
    pub connections: usize,
    pub size: usize,
    pub seconds: f64,
    /// Messages acked (rr, pipeline, idle probes) or connections completed (conn).
    pub ops: u64,
    pub ops_per_sec: f64,
    pub errors: u64,
    /// The first error's text, if there was one.
    pub first_error: Option<String>,
    pub timeouts: u64,
    /// `server busy` / `server shutting down` answers instead of acks.
    pub busy: u64,
    pub latency_us: Latency,
    /// rr: the slowest connection's time from start to its first ack; none if no ack came.
    pub first_ack_max_ms: Option<f64>,
    pub server: Option<ServerUsage>,
    /// `--shard`/`--shards`: which shard this was, and its connections.
    pub shard: Option<super::shard::Shard>,
    /// `bench merge`: the interval logs added up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<usize>,
    /// `bench merge --per-shard`: one row per file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_shard: Option<Vec<ShardRow>>,
}

/// Round-trip latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Latency {
    /// The percentiles of a histogram of nanoseconds.
    pub(crate) fn of(h: &Histogram<u64>) -> Self {
        let us = |ns: u64| ns as f64 / 1000.0;
        Self {
            p50: us(h.value_at_quantile(0.50)),
            p90: us(h.value_at_quantile(0.90)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
        }
    }
}

/// One interval log of a merge, so a slow shard stands out.
#[derive(Debug, Serialize)]
pub(crate) struct ShardRow {
    pub file: String,
    /// `I/N` if the run was a shard.
    pub shard: Option<String>,
    pub ops: u64,
    pub ops_per_sec: f64,
    pub errors: u64,
    pub timeouts: u64,
    pub latency_us: Latency,
}

/// The server's own cost, read from /proc around the measured part of the run.
#[derive(Debug, Serialize)]
pub(crate) struct ServerUsage {
    pub cpu_seconds: f64,
    pub cpu_us_per_op: f64,
    pub rss_kib: u64,
}

impl Report {
    /// The report as the table people read, whole, to print at once.
    pub(crate) fn table(&self) -> String {
        let r = self;
        let unit = match r.scenario.as_str() {
            _ if r.udp => "datagrams",
            "conn" => "connections",
            "idle" => "fresh clients",
            _ => "messages",
        };
        let held = match r.scenario.as_str() {
            _ if r.udp => "sockets",
            "idle" => "idle connections",
            _ => "connections",
        };
        let over = if r.udp { " over udp" } else { "" };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "scenario      {}{over} against {} ({} {held}, {} bytes)",
            r.scenario, r.target, r.connections, r.size
        );
        let _ = writeln!(
            out,
            "measured      {:.2} s, {} {unit}, {:.0} {unit}/s",
            r.seconds, r.ops, r.ops_per_sec
        );
        if let Some(files) = r.files {
            let logs = if files == 1 { "log" } else { "logs" };
            let _ = writeln!(
                out,
                "merged        {files} interval {logs}, from the first start to the last end"
            );
        }
        if let Some(s) = &r.shard {
            let _ = writeln!(
                out,
                "shard         {}/{}: connections {}..{} of {}",
                s.index,
                s.of,
                s.first_connection,
                s.first_connection + s.connections,
                s.total_connections
            );
        }
        let l = &r.latency_us;
        let _ = writeln!(
            out,
            "latency µs    p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
            l.p50, l.p90, l.p99, l.p999, l.max
        );
        if let Some(first) = r.first_ack_max_ms {
            let _ = writeln!(out, "first-ack max {first:.2} ms");
        }
        let _ = writeln!(
            out,
            "errors        {} errors, {} timeouts, {} busy answers",
            r.errors, r.timeouts, r.busy
        );
        if let Some(s) = &r.server {
            let _ = writeln!(
                out,
                "server        {:.2} s CPU, {:.2} µs CPU per op, RSS {} KiB",
                s.cpu_seconds, s.cpu_us_per_op, s.rss_kib
            );
        }
        if let Some(rows) = &r.per_shard {
            let width = rows.iter().map(|row| row.file.len()).max().unwrap_or(4);
            let _ = writeln!(
                out,
                "per shard     {:<width$}  shard  {:>10}  {:>9}  {:>6}  {:>8}  {:>9}  {:>9}  {:>9}",
                "file", unit, "per s", "errors", "timeouts", "p50 µs", "p99 µs", "max µs"
            );
            for row in rows {
                let l = &row.latency_us;
                let _ = writeln!(
                    out,
                    "              {:<width$}  {:<5}  {:>10}  {:>9.0}  {:>6}  {:>8}  {:>9.1}  {:>9.1}  {:>9.1}",
                    row.file,
                    row.shard.as_deref().unwrap_or("-"),
                    row.ops,
                    row.ops_per_sec,
                    row.errors,
                    row.timeouts,
                    l.p50,
                    l.p99,
                    l.max
                );
            }
        }
        out
    }
}
