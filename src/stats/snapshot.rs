//! The counters at one moment, as every view shows them. `Stats::snapshot`
//! takes one (the server's `snapshot::take` is the one caller); the log
//! summary (`summary`), the status report, the web console and `/metrics`
//! are each a function of it, so a word means the same wherever it is
//! shown (docs/metrics.md has the table).

use std::time::SystemTime;

use super::kinds::{Failure, Rejection};
use super::traffic::{Protocol, TrafficTotals};
use crate::log::{RelayTotals, ServerEvent, UdpTotals};

/// What only the server knows when a snapshot is taken: its phase, pool
/// and queue, its rules, and what it serves.
#[derive(Debug, Clone, Default)]
pub(crate) struct Gauges {
    /// The drain has started: a balancer should send no new clients.
    pub draining: bool,
    /// `--workers`: connections served at once.
    pub workers: usize,
    /// Connections a worker serves now.
    pub active: usize,
    /// Connections waiting for a worker now.
    pub waiting: usize,
    /// `Some(receivers)` when the server answers UDP.
    pub udp_receivers: Option<usize>,
    /// `tcpack relay`: messages and bytes are counted by direction.
    pub relay: bool,
    /// Whether anything can push (heartbeat, console, control, web).
    pub pushes: bool,
    /// Each rule's hits, with rules in use.
    pub rules: Vec<RuleHits>,
    /// With rules that keep variables (`set`): what they changed.
    pub state: Option<StateCounts>,
}

/// What stateful rules did to their variables (docs/state.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StateCounts {
    /// Variables changed, by every rule.
    pub changes: u64,
    /// `key.*` tables evicted to stay within `--max-keys`.
    pub keys_evicted: u64,
    /// Each rule's variable changes (`hits` counts changes here).
    pub by_rule: Vec<RuleHits>,
}

/// One rule's answers so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleHits {
    /// From 1, in the order of the rules.
    pub number: usize,
    /// Its `name`, or its matcher.
    pub label: String,
    pub hits: u64,
}

/// Every counter at one moment. Messages and bytes are counted as they
/// are read and written, on every connection, open or closed.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub uptime_ms: u64,
    /// When the server started, on the wall clock.
    pub started: SystemTime,
    /// TCP connections accepted, served or turned away.
    pub connections_accepted: u64,
    /// Served TCP connections that have closed.
    pub connections_closed: u64,
    /// Connections turned away, indexed by `Rejection`.
    pub rejected_by: [u64; 2],
    /// Errors, indexed by `Failure`.
    pub errors_by: [u64; 8],
    pub handshakes_ok: u64,
    pub handshakes_failed: u64,
    /// Pushes delivered; `None` when nothing can push.
    pub pushed: Option<u64>,
    /// UDP's counters, when the server answers UDP.
    pub udp: Option<UdpTotals>,
    /// Messages, bytes and answer latency by protocol, and the relay's.
    pub traffic: TrafficTotals,
    pub gauges: Gauges,
}

impl Snapshot {
    /// TCP and TLS messages received (framed as `--framing` cuts them).
    pub(crate) fn messages(&self) -> u64 {
        self.stream_sum(&self.traffic.messages_in)
    }

    /// TCP and TLS bytes received (TLS: decrypted).
    pub(crate) fn bytes(&self) -> u64 {
        self.stream_sum(&self.traffic.bytes_in)
    }

    /// TCP and TLS bytes sent: answers, greetings, pushes (TLS: before encryption).
    pub(crate) fn bytes_out(&self) -> u64 {
        self.stream_sum(&self.traffic.bytes_out)
    }

    fn stream_sum(&self, by_protocol: &[u64; 3]) -> u64 {
        by_protocol[Protocol::Tcp as usize] + by_protocol[Protocol::Tls as usize]
    }

    /// Every error, of every kind.
    pub(crate) fn errors(&self) -> u64 {
        self.errors_by.iter().sum()
    }

    /// Every connection turned away, for any reason.
    pub(crate) fn rejected(&self) -> u64 {
        self.rejected_by.iter().sum()
    }

    /// Errors of one kind.
    pub(crate) fn errors_of(&self, kind: Failure) -> u64 {
        self.errors_by[kind as usize]
    }

    /// Connections turned away for one reason.
    pub(crate) fn rejected_for(&self, why: Rejection) -> u64 {
        self.rejected_by[why as usize]
    }

    /// The relay's messages and bytes each way, in relay mode.
    pub(crate) fn relay(&self) -> Option<RelayTotals> {
        self.gauges.relay.then_some(self.traffic.relay)
    }

    /// `ok` while the server takes clients, `draining` once it stops.
    pub(crate) fn status(&self) -> &'static str {
        match self.gauges.draining {
            false => "ok",
            true => "draining",
        }
    }

    /// The log's closing line.
    pub(crate) fn summary(&self) -> ServerEvent<'static> {
        ServerEvent::Summary {
            uptime_ms: self.uptime_ms,
            connections: self.connections_closed,
            messages: self.messages(),
            bytes: self.bytes(),
            errors: self.errors(),
            rejected: self.rejected(),
            pushed: self.pushed,
            udp: self.udp,
            relay: self.relay(),
        }
    }
}
