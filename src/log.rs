//! The console log: one event a line, text or JSON, timestamped with milliseconds.
//!
//! Each line is formatted whole in its thread's buffer and handed to the sink
//! in one piece, so lines from concurrent workers never interleave.

use std::cell::RefCell;
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
mod conn_event;
mod event;
mod ops_event;
mod relay_event;
mod server_event;
mod sink;
mod udp_event;

pub(crate) use conn_event::ConnEvent;
pub(crate) use event::RuleTag;
use event::{Level, LogEvent};
pub(crate) use ops_event::OpsEvent;
pub(crate) use relay_event::{RelayEvent, RelayTotals};
pub(crate) use server_event::ServerEvent;
pub(crate) use sink::Sink;
pub(crate) use udp_event::{UdpEvent, UdpTotals};

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
const LINE_START: usize = 256;

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
        let level = event.level();
        match self.format {
            LogFormat::Text => {
                text_head(out, subject, level);
                // Writing to a Vec cannot fail.
                let _ = writeln!(out, "{event}");
            }
            LogFormat::Json => {
                let (conn, peer, proto) = match subject {
                    Subject::Server => (None, None, None),
                    Subject::Conn(c) => (Some(c.id), Some(c.peer), None),
                    Subject::Udp(peer) => (None, Some(peer), Some("udp")),
                };
                let line = JsonLine {
                    ts: clock::now().to_rfc3339_opts(SecondsFormat::Millis, false),
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

/// A text line up to its event: timestamp, level and who it is about
/// (`2026-12-08 04:14:49.123 INFO  #7 127.0.0.1:5000 `). One function for
/// every group's `format_line`, kept out of line so that, like the one
/// formatter before `Event` was split, it has the clock and the peer's
/// digits inlined into it (five inlined copies cost 6% more instructions a
/// message, measured with callgrind).
#[inline(never)]
fn text_head(out: &mut Vec<u8>, subject: Subject, level: Level) {
    let now = clock::now();
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
            out.push(b' ');
            Ok(())
        }
        Subject::Udp(peer) => write!(out, " {level} udp {peer} "),
        Subject::Server => write!(out, " {level} "),
    };
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

    fn line(logger: &Logger, conn: Option<ConnTag>, event: &impl LogEvent) -> String {
        udp_line(logger, conn.map_or(Subject::Server, Subject::Conn), event)
    }

    fn udp_line(logger: &Logger, subject: Subject, event: &impl LogEvent) -> String {
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
            &ConnEvent::Message {
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
        let event = ConnEvent::Closed {
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
        let event = ConnEvent::Closed {
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
        let event = UdpEvent::Datagram {
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
        let truncated = UdpEvent::Datagram {
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
}
