//! The console log: one event a line, text or JSON, timestamped with milliseconds.
//!
//! Each line is formatted whole in its thread's buffer and handed to the sink
//! in one piece, so lines from concurrent workers never interleave.

use std::cell::RefCell;
use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use chrono::SecondsFormat;
use serde::Serialize;

/// How each log line is written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// For people: timestamp, level, connection, then words.
    Text,
    /// One JSON object a line, for tools.
    Json,
}

mod clock;
mod sink;

pub(crate) use sink::Sink;

/// How serious a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Level {
    Info,
    Warn,
    Error,
}

/// Which connection a line is about.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnTag {
    pub id: u64,
    pub peer: SocketAddr,
}

/// Who a line is about: the server, a TCP connection, or a UDP peer.
#[derive(Debug, Clone, Copy)]
enum Subject {
    Server,
    Conn(ConnTag),
    Udp(SocketAddr),
}

/// UDP's counts in the summary, when the server answers UDP.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct UdpTotals {
    pub datagrams: u64,
    /// Their real sizes, also of any that were truncated.
    pub datagram_bytes: u64,
    /// Distinct source addresses and ports, counted up to a bound.
    pub peers: u64,
    pub answered: u64,
    /// Not answered: over `--udp-rate` for their source address.
    pub rate_limited: u64,
    /// Not answered: the answer was over the amplification limit.
    pub too_big: u64,
}

/// Relayed messages and bytes each way: of one connection, or of all.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct RelayTotals {
    pub up_messages: u64,
    pub up_bytes: u64,
    pub down_messages: u64,
    pub down_bytes: u64,
}

impl fmt::Display for RelayTotals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "client→server {} messages ({} bytes), server→client {} messages ({} bytes)",
            self.up_messages, self.up_bytes, self.down_messages, self.down_bytes
        )
    }
}

/// `client→server` or `server→client`, for who sent a relayed message.
fn direction(from: &str) -> &'static str {
    match from {
        "client" => "client→server",
        _ => "server→client",
    }
}

/// Everything the server logs, one variant a kind of line.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Event<'a> {
    Listening {
        addr: SocketAddr,
        workers: usize,
        backlog: i32,
        framing: &'a str,
        max_open_files: Option<u64>,
        /// Slots of the futex hash table sized for the workers; `None`: the kernel's default.
        futex_slots: Option<usize>,
        /// `tcpack relay`: the upstream, as `--to` gave it.
        #[serde(skip_serializing_if = "Option::is_none")]
        upstream: Option<&'a str>,
    },
    Warning {
        message: &'a str,
    },
    StatusPort {
        addr: SocketAddr,
    },
    /// The web console's page, and whether it needs a token.
    WebConsole {
        url: &'a str,
        token: bool,
    },
    /// TLS is on: where the certificate came from and its fingerprint.
    TlsReady {
        source: &'a str,
        fingerprint: &'a str,
        mode: &'static str,
    },
    /// A connection's TLS handshake is done.
    TlsAccepted {
        version: &'a str,
        cipher: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        sni: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        client: Option<&'a str>,
    },
    ListenerClosed,
    Queued {
        busy_workers: usize,
        waiting: usize,
    },
    Accepted {
        /// Whether every worker was busy when it arrived.
        queued: bool,
        waited_ms: u64,
    },
    Message {
        bytes: usize,
        text: &'a str,
        /// The rule that answered it, if one did.
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        rule: Option<RuleTag<'a>>,
        /// In relay mode, who sent it: "client" or "server".
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<&'static str>,
    },
    /// A relayed client's upstream connection is up.
    Upstream {
        upstream: SocketAddr,
        local: SocketAddr,
        /// TLS version and cipher suite, with `--to-tls`.
        #[serde(skip_serializing_if = "Option::is_none")]
        tls: Option<&'a str>,
    },
    /// No upstream connection for a relayed client: why, naming the upstream.
    UpstreamFailed {
        upstream: &'a str,
        why: &'a str,
    },
    /// One of the relay's faults acted on a connection.
    Fault {
        fault: &'a str,
        what: &'a str,
    },
    /// A relayed connection ended: both sides are closed.
    #[serde(rename = "closed")]
    RelayClosed {
        reason: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        duration_ms: u64,
        #[serde(flatten)]
        flows: RelayTotals,
    },
    Closed {
        reason: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        duration_ms: u64,
        messages: u64,
        bytes: u64,
    },
    Rejected {
        reply: &'static str,
        why: &'a str,
    },
    /// Serving a connection panicked; the worker lives on.
    Panicked {
        message: &'a str,
    },
    /// A heartbeat or an operator's push could not be written.
    PushFailed {
        error: String,
    },
    /// One line of an answer to an operator's command on the console.
    Console {
        line: &'a str,
    },
    RulesReloaded {
        rules: usize,
        file: &'a str,
    },
    RulesNotReloaded {
        error: &'a str,
    },
    /// `--state-file` written, at a clean stop or on `save`.
    StateSaved {
        variables: usize,
        file: &'a str,
    },
    StateNotSaved {
        error: &'a str,
    },
    AcceptError {
        error: String,
        retry_ms: u64,
    },
    ShutdownStarted {
        active: usize,
        waiting: usize,
        drain_timeout_ms: u64,
    },
    DrainTimeout {
        active: usize,
    },
    ForcedStop,
    Summary {
        uptime_ms: u64,
        connections: u64,
        messages: u64,
        bytes: u64,
        errors: u64,
        rejected: u64,
        /// Pushes delivered, when pushing is possible at all.
        #[serde(skip_serializing_if = "Option::is_none")]
        pushed: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        udp: Option<UdpTotals>,
        #[serde(skip_serializing_if = "Option::is_none")]
        relay: Option<RelayTotals>,
    },
    /// The UDP socket is bound; `only`: no TCP, so this is the first line.
    UdpListening {
        addr: SocketAddr,
        receivers: usize,
        /// Answers a second per source address; 0: unlimited.
        rate: u32,
        only: bool,
    },
    /// One datagram, logged with its peer; JSON calls it a message, as over TCP.
    #[serde(rename = "message")]
    Datagram {
        /// Its real size.
        bytes: usize,
        /// Bytes read, when it was bigger than the receive buffer.
        #[serde(skip_serializing_if = "Option::is_none")]
        truncated_to: Option<usize>,
        text: &'a str,
        /// The rule that answered it, if one did.
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        rule: Option<RuleTag<'a>>,
    },
    /// Datagrams from one address over `--udp-rate`, not answered.
    UdpRateLimited {
        rate: u32,
        unanswered: u64,
    },
    /// The rate limit's table is full of busy addresses: new ones are not answered.
    UdpTableFull {
        capacity: usize,
    },
    /// An answer over the amplification limit, not sent.
    UdpTooBig {
        answer: usize,
        limit: usize,
    },
    UdpError {
        action: &'static str,
        error: String,
    },
    UdpDraining {
        receivers: usize,
    },
}

/// Which rule answered a message, and how.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct RuleTag<'a> {
    pub rule: usize,
    pub rule_label: &'a str,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

impl RuleTag<'_> {
    /// `, rule 3 "PING", close, delay 0.200s`, as the message line shows it.
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ", rule {} \"{}\"", self.rule, self.rule_label)?;
        if self.action != "reply" {
            write!(f, ", {}", self.action)?;
        }
        if let Some(ms) = self.delay_ms {
            write!(f, ", delay {}", Secs(ms))?;
        }
        Ok(())
    }
}

/// What `Logger::log` takes: one group's event. Generic rather than one
/// umbrella enum, so a call borrows its event as built (no wrapping copy)
/// and each group's formatting is called directly, not through a vtable.
pub(crate) trait LogEvent: fmt::Display + Serialize {
    fn level(&self) -> Level;
}

impl LogEvent for Event<'_> {
    fn level(&self) -> Level {
        match self {
            Event::Warning { .. }
            | Event::UpstreamFailed { .. }
            | Event::Rejected { .. }
            | Event::DrainTimeout { .. }
            | Event::UdpRateLimited { .. }
            | Event::UdpTableFull { .. }
            | Event::UdpTooBig { .. }
            | Event::UdpError { .. } => Level::Warn,
            Event::Closed { error: Some(_), .. } | Event::RelayClosed { error: Some(_), .. } => {
                Level::Warn
            }
            Event::AcceptError { .. }
            | Event::ForcedStop
            | Event::Panicked { .. }
            | Event::RulesNotReloaded { .. }
            | Event::StateNotSaved { .. } => Level::Error,
            Event::PushFailed { .. } => Level::Warn,
            _ => Level::Info,
        }
    }
}

/// Milliseconds as seconds with three decimals, for people.
struct Secs(u64);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Listening {
                addr,
                workers,
                backlog,
                framing,
                max_open_files,
                futex_slots,
                upstream,
            } => {
                write!(f, "listening on {addr} ")?;
                if let Some(upstream) = upstream {
                    write!(f, "relaying to {upstream} ")?;
                }
                write!(
                    f,
                    "(workers={workers}, backlog={backlog}, framing={framing}"
                )?;
                match max_open_files {
                    Some(n) => write!(f, ", max open files={n}")?,
                    None => write!(f, ", max open files=unlimited")?,
                }
                match futex_slots {
                    Some(n) => write!(f, ", futex slots={n})"),
                    None => write!(f, ", futex slots=default)"),
                }
            }
            Event::Warning { message } => write!(f, "{message}"),
            Event::StatusPort { addr } => write!(f, "status on {addr}"),
            Event::WebConsole { url, token: false } => write!(f, "web console on {url}"),
            Event::WebConsole { url, token: true } => {
                write!(
                    f,
                    "web console on {url} (open {url}#token=TOKEN with your --web-token)"
                )
            }
            Event::TlsReady {
                source,
                fingerprint,
                mode,
            } => write!(f, "tls {mode}: {source}, SHA-256 fingerprint {fingerprint}"),
            Event::TlsAccepted {
                version,
                cipher,
                sni,
                client,
            } => {
                write!(f, "tls: {version}, {cipher}")?;
                if let Some(sni) = sni {
                    write!(f, ", sni {sni}")?;
                }
                if let Some(client) = client {
                    write!(f, ", client {client}")?;
                }
                Ok(())
            }
            Event::ListenerClosed => write!(
                f,
                "listener closed: new clients go to instances sharing the port (--reuse-port)"
            ),
            Event::Queued {
                busy_workers,
                waiting,
            } => {
                write!(
                    f,
                    "waiting for a worker: all {busy_workers} busy, {waiting} waiting"
                )
            }
            Event::Accepted { queued: false, .. } => write!(f, "accepted"),
            Event::Accepted {
                queued: true,
                waited_ms,
            } => write!(
                f,
                "accepted after waiting {} for a worker",
                Secs(*waited_ms)
            ),
            Event::Message {
                bytes,
                text,
                rule: None,
                from,
            } => match from {
                None => write!(f, "message ({bytes} bytes): {text}"),
                Some(from) => write!(f, "{} ({bytes} bytes): {text}", direction(from)),
            },
            Event::Message {
                bytes,
                text,
                rule: Some(tag),
                from,
            } => {
                match from {
                    None => write!(f, "message")?,
                    Some(from) => write!(f, "{}", direction(from))?,
                }
                write!(
                    f,
                    " ({bytes} bytes, rule {} \"{}\"",
                    tag.rule, tag.rule_label
                )?;
                if from.is_some() {
                    write!(f, ", answered by tcpack")?;
                }
                if tag.action != "reply" {
                    write!(f, ", {}", tag.action)?;
                }
                if let Some(ms) = tag.delay_ms {
                    write!(f, ", delay {}", Secs(ms))?;
                }
                write!(f, "): {text}")
            }
            Event::Closed {
                reason,
                error,
                duration_ms,
                messages,
                bytes,
            } => {
                write!(f, "closed: {reason}")?;
                if let Some(error) = error {
                    write!(f, " ({error})")?;
                }
                write!(
                    f,
                    " after {}, {messages} messages, {bytes} bytes",
                    Secs(*duration_ms)
                )
            }
            Event::Upstream {
                upstream,
                local,
                tls,
            } => {
                write!(f, "relaying to {upstream} (from {local}")?;
                if let Some(tls) = tls {
                    write!(f, ", tls {tls}")?;
                }
                write!(f, ")")
            }
            Event::UpstreamFailed { upstream, why } => {
                write!(f, "upstream {upstream} {why}; closing the client")
            }
            Event::Fault { fault, what } => write!(f, "fault {fault}: {what}"),
            Event::RelayClosed {
                reason,
                error,
                duration_ms,
                flows,
            } => {
                write!(f, "closed: {reason}")?;
                if let Some(error) = error {
                    write!(f, " ({error})")?;
                }
                write!(f, " after {}, {flows}", Secs(*duration_ms))
            }
            Event::Rejected { reply, why } => write!(f, "rejected with {reply:?}: {why}"),
            Event::Panicked { message } => write!(
                f,
                "internal error while serving this connection (a bug: please report it): {message}; the worker goes on serving"
            ),
            Event::AcceptError { error, retry_ms } => {
                write!(
                    f,
                    "accept failed: {error}; still serving, next accept in {retry_ms} ms"
                )
            }
            Event::ShutdownStarted {
                active,
                waiting,
                drain_timeout_ms,
            } => write!(
                f,
                "shutting down: {active} active connections may finish within {}, {waiting} waiting are turned away",
                Secs(*drain_timeout_ms)
            ),
            Event::DrainTimeout { active } => {
                write!(
                    f,
                    "drain timeout: closing {active} connections after acking what they sent"
                )
            }
            Event::ForcedStop => write!(f, "second signal: stopping now without draining"),
            Event::PushFailed { error } => {
                write!(f, "push failed: {error}; closing the connection")
            }
            Event::Console { line } => write!(f, "console: {line}"),
            Event::RulesReloaded { rules, file } => {
                write!(f, "rules reloaded: {rules} rules from {file}")
            }
            Event::RulesNotReloaded { error } => {
                write!(f, "rules not reloaded, the old ones stay: {error}")
            }
            Event::StateSaved { variables, file } => {
                write!(f, "state saved: {variables} variables to {file}")
            }
            Event::StateNotSaved { error } => write!(f, "state not saved: {error}"),
            Event::Summary {
                uptime_ms,
                connections,
                messages,
                bytes,
                errors,
                rejected,
                pushed,
                udp,
                relay,
            } => {
                match relay {
                    None => write!(
                        f,
                        "stopped: uptime {}, {connections} connections, {messages} messages, {bytes} bytes, {errors} errors, {rejected} rejected",
                        Secs(*uptime_ms)
                    )?,
                    Some(relay) => write!(
                        f,
                        "stopped: uptime {}, {connections} connections, {relay}, {errors} errors, {rejected} rejected",
                        Secs(*uptime_ms)
                    )?,
                }
                if let Some(pushed) = pushed {
                    write!(f, ", {pushed} pushed")?;
                }
                match udp {
                    Some(u) => write!(
                        f,
                        ", {} datagrams ({} bytes) from {} peers, {} answered, {} rate-limited, {} too big",
                        u.datagrams,
                        u.datagram_bytes,
                        u.peers,
                        u.answered,
                        u.rate_limited,
                        u.too_big
                    ),
                    None => Ok(()),
                }
            }
            Event::UdpListening {
                addr,
                receivers,
                rate,
                only,
            } => {
                let rate = match rate {
                    0 => "unlimited".to_owned(),
                    n => format!("{n}/s per address"),
                };
                if *only {
                    write!(
                        f,
                        "listening on {addr} (udp, receivers={receivers}, rate={rate})"
                    )
                } else {
                    write!(
                        f,
                        "listening on udp {addr} (receivers={receivers}, rate={rate})"
                    )
                }
            }
            Event::Datagram {
                bytes,
                truncated_to,
                text,
                rule,
            } => {
                write!(f, "message ({bytes} bytes")?;
                if let Some(read) = truncated_to {
                    write!(f, ", truncated to {read}")?;
                }
                if let Some(tag) = rule {
                    tag.describe(f)?;
                }
                write!(f, "): {text}")
            }
            Event::UdpRateLimited { rate, unanswered } => write!(
                f,
                "rate limit: {unanswered} datagrams from this address not answered (over --udp-rate {rate} a second)"
            ),
            Event::UdpTableFull { capacity } => write!(
                f,
                "rate limit: {capacity} addresses heard within the last second fill the table; datagrams from new addresses are not answered"
            ),
            Event::UdpTooBig { answer, limit } => write!(
                f,
                "answer of {answer} bytes not sent: over {limit} bytes, the most this request may get (reflection guard)"
            ),
            Event::UdpError { action, error } => {
                write!(f, "udp {action} failed: {error}; still serving")
            }
            Event::UdpDraining { receivers } => write!(
                f,
                "udp: answering the datagrams already received, then stopping {receivers} receivers"
            ),
        }
    }
}

#[derive(Serialize)]
struct JsonLine<'a, E> {
    ts: String,
    level: Level,
    #[serde(skip_serializing_if = "Option::is_none")]
    conn: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer: Option<SocketAddr>,
    /// "udp" on lines about a UDP peer; absent on TCP's, the usual case.
    #[serde(skip_serializing_if = "Option::is_none")]
    proto: Option<&'static str>,
    #[serde(flatten)]
    event: &'a E,
}

/// The server's log: formats events as text or JSON onto the sink.
pub(crate) struct Logger {
    format: LogFormat,
    quiet: bool,
    sink: Arc<Sink>,
}

/// Appends `peer` as `Display` writes it; an IPv4 one digit by digit, as
/// `fmt` would nest five calls deep for it on a worker's stack.
fn write_peer(out: &mut Vec<u8>, peer: SocketAddr) {
    match peer {
        SocketAddr::V4(v4) => {
            for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                clock::digits(out, octet.into(), 1);
            }
            out.push(b':');
            clock::digits(out, v4.port().into(), 1);
        }
        SocketAddr::V6(_) => {
            let _ = write!(out, "{peer}");
        }
    }
}

/// Bytes of a thread's line buffer from its first line: most lines fit.
const LINE_START: usize = 512;

thread_local! {
    /// Where each thread formats its lines: once grown, a line costs no allocation.
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Logger {
    /// A log in `format`; `quiet` leaves out each message's line.
    pub(crate) fn new(format: LogFormat, quiet: bool, sink: Arc<Sink>) -> Self {
        Self {
            format,
            quiet,
            sink,
        }
    }

    /// False under `--quiet`: callers then skip decoding messages altogether.
    pub(crate) fn messages_enabled(&self) -> bool {
        !self.quiet
    }

    /// Logs `event`, about connection `conn` or the server as a whole.
    pub(crate) fn log(&self, conn: Option<ConnTag>, event: &impl LogEvent) {
        self.write(conn.map_or(Subject::Server, Subject::Conn), event);
    }

    /// A line about a UDP peer: `udp 127.0.0.1:5555 message (5 bytes): hello`.
    pub(crate) fn log_udp(&self, peer: SocketAddr, event: &impl LogEvent) {
        self.write(Subject::Udp(peer), event);
    }

    fn write(&self, subject: Subject, event: &impl LogEvent) {
        LINE.with_borrow_mut(|line| {
            line.clear();
            // Grown here, not deep in the formatting below: a worker's stack
            // then stays within the pages it has touched (docs/bench.md).
            line.reserve(LINE_START);
            self.format_line(line, subject, event);
            self.sink.write_line(line);
        });
    }

    /// Writes out every line logged so far; before exiting, say.
    pub(crate) fn flush(&self) {
        self.sink.flush();
    }

    /// Flushes and stops the log's thread; later lines are written directly.
    pub(crate) fn close(&self) {
        self.sink.close();
    }

    /// Appends one whole line, newline included, to `out`.
    fn format_line(&self, out: &mut Vec<u8>, subject: Subject, event: &impl LogEvent) {
        let now = clock::now();
        let level = event.level();
        match self.format {
            LogFormat::Text => {
                let level = match level {
                    Level::Info => "INFO ",
                    Level::Warn => "WARN ",
                    Level::Error => "ERROR",
                };
                clock::write_timestamp(out, &now);
                // Writing to a Vec cannot fail.
                let _ = match subject {
                    Subject::Conn(c) => {
                        let _ = write!(out, " {level} #{} ", c.id);
                        write_peer(out, c.peer);
                        writeln!(out, " {event}")
                    }
                    Subject::Udp(peer) => writeln!(out, " {level} udp {peer} {event}"),
                    Subject::Server => writeln!(out, " {level} {event}"),
                };
            }
            LogFormat::Json => {
                let (conn, peer, proto) = match subject {
                    Subject::Server => (None, None, None),
                    Subject::Conn(c) => (Some(c.id), Some(c.peer), None),
                    Subject::Udp(peer) => (None, Some(peer), Some("udp")),
                };
                let line = JsonLine {
                    ts: now.to_rfc3339_opts(SecondsFormat::Millis, false),
                    level,
                    conn,
                    peer,
                    proto,
                    event,
                };
                let start = out.len();
                if let Err(e) = serde_json::to_writer(&mut *out, &line) {
                    out.truncate(start);
                    let error = serde_json::json!({"level": "ERROR", "event": "log_error", "error": e.to_string()});
                    let _ = write!(out, "{error}");
                }
                out.push(b'\n');
            }
        }
    }
}

/// The text a panic was raised with, if it has one, for the log line that
/// reports it.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

#[cfg(test)]
mod golden_lines;

#[cfg(test)]
mod tests {
    use super::*;

    fn line(logger: &Logger, conn: Option<ConnTag>, event: &Event<'_>) -> String {
        udp_line(logger, conn.map_or(Subject::Server, Subject::Conn), event)
    }

    fn udp_line(logger: &Logger, subject: Subject, event: &Event<'_>) -> String {
        let mut out = Vec::new();
        logger.format_line(&mut out, subject, event);
        String::from_utf8(out).unwrap()
    }

    fn tag() -> ConnTag {
        ConnTag {
            id: 7,
            peer: "127.0.0.1:5000".parse().unwrap(),
        }
    }

    #[test]
    fn peers_read_as_display_writes_them() {
        for peer in [
            "127.0.0.1:7785",
            "10.200.3.4:0",
            "0.0.0.0:65535",
            "[::1]:80",
            "[fe80::1%2]:9",
        ] {
            let peer: SocketAddr = peer.parse().unwrap();
            let mut out = Vec::new();
            write_peer(&mut out, peer);
            assert_eq!(String::from_utf8(out).unwrap(), peer.to_string());
        }
    }

    #[test]
    fn text_lines_carry_timestamp_level_and_connection() {
        let logger = Logger::new(LogFormat::Text, false, Sink::stdout().unwrap());
        let line = line(
            &logger,
            Some(tag()),
            &Event::Message {
                bytes: 5,
                text: "hello",
                rule: None,
                from: None,
            },
        );
        let (date, rest) = line.split_at(23);
        assert!(
            chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M:%S%.3f").is_ok(),
            "{line}"
        );
        assert_eq!(rest, " INFO  #7 127.0.0.1:5000 message (5 bytes): hello\n");
    }

    #[test]
    fn json_lines_are_one_object_with_the_same_fields() {
        let logger = Logger::new(LogFormat::Json, false, Sink::stdout().unwrap());
        let event = Event::Closed {
            reason: "eof",
            error: None,
            duration_ms: 1500,
            messages: 2,
            bytes: 9,
        };
        let line = line(&logger, Some(tag()), &event);
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["event"], "closed");
        assert_eq!(value["level"], "INFO");
        assert_eq!(value["conn"], 7);
        assert_eq!(value["peer"], "127.0.0.1:5000");
        assert_eq!(value["reason"], "eof");
        assert_eq!(value["messages"], 2);
        assert!(value["ts"].as_str().unwrap().contains('T'));
    }

    #[test]
    fn durations_read_as_seconds() {
        let event = Event::Closed {
            reason: "idle timeout",
            error: None,
            duration_ms: 61_005,
            messages: 0,
            bytes: 0,
        };
        assert_eq!(
            event.to_string(),
            "closed: idle timeout after 61.005s, 0 messages, 0 bytes"
        );
    }

    #[test]
    fn udp_lines_name_the_peer_and_json_says_udp() {
        let peer: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let event = Event::Datagram {
            bytes: 5,
            truncated_to: None,
            text: "hello",
            rule: None,
        };
        let text = Logger::new(LogFormat::Text, false, Sink::stdout().unwrap());
        let line = udp_line(&text, Subject::Udp(peer), &event);
        assert!(
            line.ends_with(" INFO  udp 127.0.0.1:5555 message (5 bytes): hello\n"),
            "{line}"
        );
        let json = Logger::new(LogFormat::Json, false, Sink::stdout().unwrap());
        let value: serde_json::Value =
            serde_json::from_str(&udp_line(&json, Subject::Udp(peer), &event)).unwrap();
        assert_eq!(value["event"], "message");
        assert_eq!(value["proto"], "udp");
        assert_eq!(value["peer"], "127.0.0.1:5555");
        assert_eq!(value["bytes"], 5);
        assert!(value.get("conn").is_none() && value.get("truncated_to").is_none());
        let truncated = Event::Datagram {
            bytes: 70_000,
            truncated_to: Some(65_536),
            text: "x",
            rule: None,
        };
        assert_eq!(
            truncated.to_string(),
            "message (70000 bytes, truncated to 65536): x"
        );
    }

    #[test]
    fn the_summary_adds_udp_counts_only_when_udp_is_served() {
        let summary = |udp| Event::Summary {
            uptime_ms: 1500,
            connections: 2,
            messages: 3,
            bytes: 4,
            errors: 0,
            rejected: 0,
            pushed: None,
            udp,
            relay: None,
        };
        let tcp_only =
            "stopped: uptime 1.500s, 2 connections, 3 messages, 4 bytes, 0 errors, 0 rejected";
        assert_eq!(summary(None).to_string(), tcp_only);
        let udp = UdpTotals {
            datagrams: 9,
            datagram_bytes: 90,
            peers: 2,
            answered: 7,
            rate_limited: 1,
            too_big: 1,
        };
        assert_eq!(
            summary(Some(udp)).to_string(),
            format!(
                "{tcp_only}, 9 datagrams (90 bytes) from 2 peers, 7 answered, 1 rate-limited, 1 too big"
            )
        );
    }
}
