//! One open page's Server-Sent Events stream, on a thread of its own: takes
//! records from the viewer's queue, writes them as `data:` lines and flushes
//! after each batch, so nothing is held back (tiny_http's chunked responses
//! keep 8 KiB back, tiny-http #185: the stream is written by hand through
//! `Request::into_writer()`). Formatting (text, hex) happens here, not on
//! the worker that published the message.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::api::TextView;
use super::viewers::{Record, ViewerGuard};
use crate::decode::TextDecoder;
use crate::tap::{Side, TapRecord};

/// Records written at most in one go.
const BATCH: usize = 256;

/// The response head; the body is the event stream, until either side closes.
const HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\nretry: 3000\n\n";

/// Streams to the page until it leaves or the server stops. `hello` is
/// the first event: what the page shows before anything happens.
pub(super) fn stream(
    guard: &ViewerGuard,
    events: &Receiver<Arc<Record>>,
    out: &mut dyn Write,
    hello: &Value,
    display: TextView,
) -> io::Result<()> {
    let viewer = guard.viewer();
    let mut buf = Vec::with_capacity(64 * 1024);
    buf.extend_from_slice(HEAD.as_bytes());
    push_event(&mut buf, hello);
    out.write_all(&buf)?;
    out.flush()?;
    let mut decoder = TextDecoder::new(display.decode).binary_frames(display.binary);
    loop {
        let Ok(first) = events.recv() else {
            return Ok(());
        };
        buf.clear();
        let mut next = Some(first);
        let mut taken = 0;
        let mut stopped = viewer.stop.load(Relaxed);
        while let Some(record) = next.take() {
            if stopped {
                break;
            }
            if let Record::Stopped = *record {
                stopped = true;
                break;
            }
            push_record(&mut buf, &record, &mut decoder);
            taken += 1;
            if taken < BATCH {
                match events.try_recv() {
                    Ok(record) => next = Some(record),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => {}
                }
            }
            stopped = stopped || viewer.stop.load(Relaxed);
        }
        let dropped = viewer.dropped.swap(0, Relaxed);
        if dropped > 0 {
            push_event(&mut buf, &json!({"type": "dropped", "count": dropped}));
        }
        if stopped {
            push_event(&mut buf, &json!({"type": "stopped"}));
        }
        out.write_all(&buf)?;
        out.flush()?;
        if stopped {
            return Ok(());
        }
    }
}

/// One SSE event: a `data:` line and a blank line (JSON has no newline).
pub(super) fn push_event(buf: &mut Vec<u8>, value: &Value) {
    buf.extend_from_slice(b"data: ");
    // Writing JSON into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, value);
    buf.extend_from_slice(b"\n\n");
}

/// Milliseconds since the epoch, as JavaScript's `Date` takes them.
fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Appends a record as the page reads it: one `data:` event of JSON,
/// written straight into `buf` (no JSON tree per message: this runs for
/// every message a page is sent). Addresses and hex need no escaping;
/// text from the network is escaped by serde_json.
fn push_record(buf: &mut Vec<u8>, record: &Record, decoder: &mut TextDecoder) {
    buf.extend_from_slice(b"data: ");
    let _ = match record {
        Record::Seen(at, seen) => match seen {
            TapRecord::Open(open) => {
                let _ = write!(
                    buf,
                    r#"{{"type":"open","t":{},"conn":{},"peer":"{}","local":"{}","protocol":"{}","upstream":"#,
                    epoch_ms(*at),
                    open.conn,
                    open.peer,
                    open.local,
                    open.protocol.name()
                );
                match open.upstream {
                    Some(upstream) => write!(buf, r#""{upstream}"}}"#),
                    None => write!(buf, "null}}"),
                }
            }
            TapRecord::Message {
                conn,
                from,
                bytes,
                size,
                rule,
            } => push_message(
                buf,
                *at,
                (Some(*conn), None),
                *from,
                (bytes, *size),
                rule.as_deref(),
                decoder,
            ),
            TapRecord::Datagram {
                peer,
                from,
                bytes,
                size,
                ..
            } => push_message(
                buf,
                *at,
                (None, Some(*peer)),
                *from,
                (bytes, *size),
                None,
                decoder,
            ),
            TapRecord::Close { conn, reason } => {
                let _ = write!(
                    buf,
                    r#"{{"type":"close","t":{},"conn":{conn},"reason":"#,
                    epoch_ms(*at)
                );
                push_text(buf, Some(reason));
                write!(buf, "}}")
            }
        },
        Record::Changed(value) | Record::Tick(value) => {
            serde_json::to_writer(&mut *buf, value).map_err(io::Error::other)
        }
        Record::Stopped => write!(buf, r#"{{"type":"stopped"}}"#),
    };
    buf.extend_from_slice(b"\n\n");
}

/// A message of a connection (`conn`) or a UDP datagram (`peer`): its
/// first bytes as hex and text, and its whole size.
fn push_message(
    buf: &mut Vec<u8>,
    at: SystemTime,
    (conn, peer): (Option<u64>, Option<SocketAddr>),
    from: Side,
    (bytes, size): (&[u8], usize),
    rule: Option<&str>,
    decoder: &mut TextDecoder,
) -> io::Result<()> {
    let _ = write!(buf, r#"{{"type":"msg","t":{},"conn":"#, epoch_ms(at));
    let _ = match conn {
        Some(conn) => write!(buf, "{conn}"),
        None => write!(buf, "null"),
    };
    let _ = match peer {
        Some(peer) => write!(buf, r#","peer":"{peer}""#),
        None => write!(buf, r#","peer":null"#),
    };
    let _ = write!(
        buf,
        r#","from":"{}","size":{size},"cut":{},"hex":""#,
        from.as_str(),
        size > bytes.len()
    );
    for (i, b) in bytes.iter().enumerate() {
        let _ = match i {
            0 => write!(buf, "{b:02x}"),
            _ => write!(buf, " {b:02x}"),
        };
    }
    buf.extend_from_slice(br#"","text":"#);
    push_text(buf, Some(decoder.decode_whole(bytes)));
    buf.extend_from_slice(br#","rule":"#);
    push_text(buf, rule);
    write!(buf, "}}")
}

/// A JSON string, or `null`.
fn push_text(buf: &mut Vec<u8>, text: Option<&str>) {
    let _ = match text {
        Some(text) => serde_json::to_writer(&mut *buf, text),
        None => buf.write_all(b"null").map_err(serde_json::Error::io),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::DecodeMode;

    #[test]
    fn messages_carry_text_and_hex_and_gbk_is_read_as_chinese() {
        let mut decoder = TextDecoder::new(DecodeMode::Auto);
        let message = |bytes: &[u8]| {
            Record::Seen(
                UNIX_EPOCH,
                TapRecord::Message {
                    conn: 3,
                    from: Side::Client,
                    bytes: bytes.into(),
                    size: bytes.len(),
                    rule: Some("greet".into()),
                },
            )
        };
        let mut shown = |record: &Record| {
            let mut buf = Vec::new();
            push_record(&mut buf, record, &mut decoder);
            let line = std::str::from_utf8(&buf).unwrap();
            assert!(
                line.starts_with("data: {") && line.ends_with("}\n\n"),
                "{line}"
            );
            assert_eq!(line.matches('\n').count(), 2, "{line}");
            serde_json::from_str::<Value>(&line[6..]).unwrap()
        };
        let value = shown(&message(b"hello\n"));
        assert_eq!(value["text"], "hello");
        assert_eq!(value["hex"], "68 65 6c 6c 6f 0a");
        assert_eq!(value["rule"], "greet");
        assert_eq!(value["from"], "client");
        assert_eq!(value["conn"], 3);
        let gbk = shown(&message(b"\xc4\xe3\xba\xc3"));
        assert_eq!(gbk["text"], "你好");
        let quoted = shown(&message(b"say \"hi\"\\\n\x01"));
        assert_eq!(
            quoted["text"].as_str().map(|t| t.contains("\"hi\"")),
            Some(true)
        );
        let open = shown(&Record::Seen(
            UNIX_EPOCH,
            TapRecord::Open(crate::tap::TapOpen {
                conn: 4,
                peer: "127.0.0.1:5".parse().unwrap(),
                local: "[::1]:7".parse().unwrap(),
                protocol: crate::stats::Protocol::Tls,
                upstream: None,
            }),
        ));
        assert_eq!(
            (open["peer"].as_str(), open["local"].as_str()),
            (Some("127.0.0.1:5"), Some("[::1]:7"))
        );
        let close = shown(&Record::Seen(
            UNIX_EPOCH,
            TapRecord::Close {
                conn: 4,
                reason: "reset by peer".into(),
            },
        ));
        assert_eq!(close["reason"], "reset by peer");
        let mut buf = Vec::new();
        push_event(&mut buf, &value);
        assert!(buf.starts_with(b"data: {") && buf.ends_with(b"}\n\n"));
        assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 2);
    }
}
