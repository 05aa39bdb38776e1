//! What a bench run measured, as a table for people or JSON for scripts.

use std::io::{self, Write};
use std::net::SocketAddr;

use serde::Serialize;

/// What one run measured. Latencies are per message (rr), per connection
/// cycle (conn), per burst (pipeline) or per fresh client (idle).
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub scenario: &'static str,
    /// Datagrams over UDP rather than lines over TCP.
    pub udp: bool,
    pub target: SocketAddr,
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
}

/// Round-trip latency percentiles, in milliseconds.
#[derive(Debug, Serialize)]
pub(crate) struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// The server's own cost, read from /proc around the measured part of the run.
#[derive(Debug, Serialize)]
pub(crate) struct ServerUsage {
    pub cpu_seconds: f64,
    pub cpu_us_per_op: f64,
    pub rss_kib: u64,
}

impl Report {
    /// Prints the report as the table people read.
    pub(crate) fn print_table(&self) {
        let r = self;
        let unit = match r.scenario {
            _ if r.udp => "datagrams",
            "conn" => "connections",
            "idle" => "fresh clients",
            _ => "messages",
        };
        let held = match r.scenario {
            _ if r.udp => "sockets",
            "idle" => "idle connections",
            _ => "connections",
        };
        let over = if r.udp { " over udp" } else { "" };
        let mut out = io::stdout().lock();
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
    }
}
