//! The console log: one event a line, text or JSON, timestamped with milliseconds.
//!
//! Each line is formatted whole in its thread's buffer and handed to the sink
//! in one piece, so lines from concurrent workers never interleave.

use std::cell::RefCell;
use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use chrono::format::{Item, StrftimeItems};
use chrono::{Local, SecondsFormat};
use serde::Serialize;

use crate::cli::LogFormat;

mod sink;

pub use sink::Sink;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// Which connection a line is about.
#[derive(Debug, Clone, Copy)]
pub struct ConnTag {
    pub id: u64,
    pub peer: SocketAddr,
}

#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event<'a> {
    Listening {
        addr: SocketAddr,
        workers: usize,
        backlog: i32,
        framing: &'static str,
        max_open_files: Option<u64>,
        /// Slots of the futex hash table sized for the workers; `None`: the kernel's default.
        futex_slots: Option<usize>,
    },
    Warning {
        message: &'a str,
    },
    StatusPort {
        addr: SocketAddr,
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
    },
}

/// Which rule answered a message, and how.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RuleTag<'a> {
    pub rule: usize,
    pub rule_label: &'a str,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

impl Event<'_> {
    fn level(&self) -> Level {
        match self {
            Event::Warning { .. } | Event::Rejected { .. } | Event::DrainTimeout { .. } => {
                Level::Warn
            }
            Event::Closed { error: Some(_), .. } => Level::Warn,
            Event::AcceptError { .. }
            | Event::ForcedStop
            | Event::Panicked { .. }
            | Event::RulesNotReloaded { .. } => Level::Error,
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
            } => {
                write!(
                    f,
                    "listening on {addr} (workers={workers}, backlog={backlog}, framing={framing}"
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
            } => write!(f, "message ({bytes} bytes): {text}"),
            Event::Message {
                bytes,
                text,
                rule: Some(tag),
            } => {
                write!(
                    f,
                    "message ({bytes} bytes, rule {} \"{}\"",
                    tag.rule, tag.rule_label
                )?;
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
            Event::Summary {
                uptime_ms,
                connections,
                messages,
                bytes,
                errors,
                rejected,
                pushed,
            } => {
                write!(
                    f,
                    "stopped: uptime {}, {connections} connections, {messages} messages, {bytes} bytes, {errors} errors, {rejected} rejected",
                    Secs(*uptime_ms)
                )?;
                match pushed {
                    Some(pushed) => write!(f, ", {pushed} pushed"),
                    None => Ok(()),
                }
            }
        }
    }
}

#[derive(Serialize)]
struct JsonLine<'a> {
    ts: String,
    level: Level,
    #[serde(skip_serializing_if = "Option::is_none")]
    conn: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer: Option<SocketAddr>,
    #[serde(flatten)]
    event: &'a Event<'a>,
}

pub struct Logger {
    format: LogFormat,
    quiet: bool,
    sink: Arc<Sink>,
    /// The text timestamp, parsed once rather than on every line.
    timestamp: Vec<Item<'static>>,
}

thread_local! {
    /// Where each thread formats its lines: once grown, a line costs no allocation.
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Logger {
    pub fn new(format: LogFormat, quiet: bool, sink: Arc<Sink>) -> Self {
        Self {
            format,
            quiet,
            sink,
            timestamp: StrftimeItems::new("%Y-%m-%d %H:%M:%S%.3f")
                .parse_to_owned()
                .expect("a valid strftime format"),
        }
    }

    /// False under `--quiet`: callers then skip decoding messages altogether.
    pub fn messages_enabled(&self) -> bool {
        !self.quiet
    }

    pub fn log(&self, conn: Option<ConnTag>, event: &Event<'_>) {
        LINE.with_borrow_mut(|line| {
            line.clear();
            self.format_line(line, conn, event);
            self.sink.write_line(line);
        });
    }

    /// Writes out every line logged so far; before exiting, say.
    pub fn flush(&self) {
        self.sink.flush();
    }

    /// Flushes and stops the log's thread; later lines are written directly.
    pub fn close(&self) {
        self.sink.close();
    }

    /// Appends one whole line, newline included, to `out`.
    fn format_line(&self, out: &mut Vec<u8>, conn: Option<ConnTag>, event: &Event<'_>) {
        let now = Local::now();
        let level = event.level();
        match self.format {
            LogFormat::Text => {
                let level = match level {
                    Level::Info => "INFO ",
                    Level::Warn => "WARN ",
                    Level::Error => "ERROR",
                };
                let ts = now.format_with_items(self.timestamp.iter());
                // Writing to a Vec cannot fail.
                let _ = match conn {
                    Some(c) => writeln!(out, "{ts} {level} #{} {} {event}", c.id, c.peer),
                    None => writeln!(out, "{ts} {level} {event}"),
                };
            }
            LogFormat::Json => {
                let line = JsonLine {
                    ts: now.to_rfc3339_opts(SecondsFormat::Millis, false),
                    level,
                    conn: conn.map(|c| c.id),
                    peer: conn.map(|c| c.peer),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(logger: &Logger, conn: Option<ConnTag>, event: &Event<'_>) -> String {
        let mut out = Vec::new();
        logger.format_line(&mut out, conn, event);
        String::from_utf8(out).unwrap()
    }

    fn tag() -> ConnTag {
        ConnTag {
            id: 7,
            peer: "127.0.0.1:5000".parse().unwrap(),
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
}
