//! The transcript: a conversation kept as JSON Lines, written by the
//! capture and read back by `tcpack replay`.
//!
//! Line 1 is the header, `{"tcpack":"transcript","version":1,"mode":…,
//! "framing":…,"started":…}`; then one event a line, each with `t_ms` (since
//! `started`) and `conn`: `{"event":"open",…}` with the peers,
//! `{"event":"close","reason":…}`, or a message `{"from":"client"|"server",
//! "hex":…,"text":…}`. `hex` is the truth (bytes as framed: under `len:`
//! without the length field, which the sender writes in); `text` is for
//! people. UDP peers are pseudo-connections numbered from [`UDP_CONN_BASE`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::framing::Framing;
use crate::tap::Side;

/// The only version this tcpack writes and reads.
pub(crate) const VERSION: u64 = 1;

/// Connection numbers of UDP peers start here, far above any TCP connection's.
pub(crate) const UDP_CONN_BASE: u64 = 1 << 40;

/// Line 1.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Header {
    pub tcpack: String,
    pub version: u64,
    /// `server`, `client` or `relay`: who recorded it.
    pub mode: String,
    /// As `--framing` spells it.
    pub framing: String,
    /// RFC 3339, local time with its offset.
    pub started: String,
}

impl Header {
    pub(crate) fn new(
        mode: &str,
        framing: &Framing,
        started: chrono::DateTime<chrono::Local>,
    ) -> Self {
        Self {
            tcpack: "transcript".into(),
            version: VERSION,
            mode: mode.into(),
            framing: framing.to_string(),
            started: started.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        }
    }
}

/// One event line as written (borrowed) and read (owned strings).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Line<'a> {
    pub t_ms: u64,
    pub conn: u64,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub event: Option<Cow<'a, str>>,
    /// `open`: the client's address; `tcp`, `tls` or `udp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<SocketAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<SocketAddr>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Cow<'a, str>>,
    /// `open` in relay mode: the server's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<SocketAddr>,
    /// `close`: why, as the log's `closed` line says it.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Cow<'a, str>>,
    /// A message: who sent it.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub from: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub hex: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub text: Option<Cow<'a, str>>,
    /// The rule that answered a client message.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Cow<'a, str>>,
}

impl<'a> Line<'a> {
    /// A line with only `t_ms` and `conn` set.
    pub(crate) fn at(t_ms: u64, conn: u64) -> Self {
        Line {
            t_ms,
            conn,
            event: None,
            peer: None,
            local: None,
            protocol: None,
            upstream: None,
            reason: None,
            from: None,
            hex: None,
            text: None,
            rule: None,
        }
    }
}

/// One message of a recorded connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub t_ms: u64,
    pub from: Side,
    pub bytes: Vec<u8>,
}

/// One recorded connection (or UDP peer), in the order things happened.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    pub id: u64,
    pub opened_ms: u64,
    pub peer: Option<SocketAddr>,
    /// `tcp`, `tls` or `udp`.
    pub protocol: String,
    pub messages: Vec<Message>,
    pub close: Option<String>,
}

/// A transcript read back and checked.
#[derive(Debug)]
pub(crate) struct Transcript {
    pub mode: String,
    pub framing: Framing,
    /// In the order they opened.
    pub conns: Vec<Conn>,
}

/// What is wrong with a transcript, with the line it is on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadLine {
    pub line: usize,
    pub why: String,
}

impl Transcript {
    /// Reads `path`; a mistake names the file and line.
    pub(crate) fn read(path: &Path) -> Result<Self, String> {
        let file = std::fs::File::open(path)
            .map_err(|e| format!("cannot read the transcript {}: {e}", path.display()))?;
        Self::parse(std::io::BufReader::new(file)).map_err(|bad| {
            format!(
                "{}:{}: {}; a transcript is what `--capture FILE` writes",
                path.display(),
                bad.line,
                bad.why
            )
        })
    }

    /// The transcript in `input`, or the first line that is wrong and why.
    pub(crate) fn parse(input: impl BufRead) -> Result<Self, BadLine> {
        let mut lines = input.lines().enumerate().map(|(i, l)| (i + 1, l));
        let bad = |line: usize, why: String| BadLine { line, why };
        let Some((_, first)) = lines.next() else {
            return Err(bad(1, "empty file: no transcript header".into()));
        };
        let first = first.map_err(|e| bad(1, format!("cannot read: {e}")))?;
        let header: Header = serde_json::from_str(&first)
            .map_err(|e| bad(1, format!("not a transcript header: {e}")))?;
        if header.tcpack != "transcript" {
            return Err(bad(
                1,
                "not a transcript header (\"tcpack\" is not \"transcript\")".into(),
            ));
        }
        if header.version != VERSION {
            return Err(bad(
                1,
                format!(
                    "transcript version {}; this tcpack reads version {VERSION}",
                    header.version
                ),
            ));
        }
        let framing: Framing = header
            .framing
            .parse()
            .map_err(|e| bad(1, format!("framing: {e}")))?;
        let mut conns: Vec<Conn> = Vec::new();
        // Open connections: their index in `conns`.
        let mut open: HashMap<u64, usize> = HashMap::new();
        for (number, text) in lines {
            let text = text.map_err(|e| bad(number, format!("cannot read: {e}")))?;
            if text.trim().is_empty() {
                continue;
            }
            let line: Line<'_> =
                serde_json::from_str(&text).map_err(|e| bad(number, format!("not JSON: {e}")))?;
            match (line.event.as_deref(), line.from.as_deref()) {
                (Some("open"), None) => {
                    if open.contains_key(&line.conn) {
                        return Err(bad(number, format!("connection {} opens twice", line.conn)));
                    }
                    open.insert(line.conn, conns.len());
                    conns.push(Conn {
                        id: line.conn,
                        opened_ms: line.t_ms,
                        peer: line.peer,
                        protocol: line.protocol.as_deref().unwrap_or("tcp").to_owned(),
                        messages: Vec::new(),
                        close: None,
                    });
                }
                (Some("close"), None) => {
                    let Some(index) = open.remove(&line.conn) else {
                        return Err(bad(
                            number,
                            format!("close of connection {} before its open", line.conn),
                        ));
                    };
                    conns[index].close = Some(line.reason.as_deref().unwrap_or("").to_owned());
                }
                (None, Some(from)) => {
                    let from = match from {
                        "client" => Side::Client,
                        "server" => Side::Server,
                        other => {
                            return Err(bad(
                                number,
                                format!("\"from\": {other:?}; it is \"client\" or \"server\""),
                            ));
                        }
                    };
                    let Some(&index) = open.get(&line.conn) else {
                        return Err(bad(
                            number,
                            format!("message on connection {} before its open", line.conn),
                        ));
                    };
                    let hex = line
                        .hex
                        .as_deref()
                        .ok_or_else(|| bad(number, "a message without \"hex\"".into()))?;
                    let bytes = hex_bytes(hex).map_err(|e| bad(number, format!("bad hex: {e}")))?;
                    conns[index].messages.push(Message {
                        t_ms: line.t_ms,
                        from,
                        bytes,
                    });
                }
                (Some(other), None) => {
                    return Err(bad(number, format!("unknown event {other:?}")));
                }
                (Some(_), Some(_)) => {
                    return Err(bad(number, "both \"event\" and \"from\": give one".into()));
                }
                (None, None) => {
                    return Err(bad(number, "neither \"event\" nor \"from\"".into()));
                }
            }
        }
        Ok(Self {
            mode: header.mode,
            framing,
            conns,
        })
    }

    /// Messages in all, both ways.
    pub(crate) fn messages(&self) -> usize {
        self.conns.iter().map(|c| c.messages.len()).sum()
    }
}

/// `hex` as the capture writes it (`68 69 0a`) in one pass; other spellings
/// and mistakes go the way of `crate::hex::parse`, which says what is wrong.
fn hex_bytes(hex: &str) -> Result<Vec<u8>, String> {
    fn digit(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let mut out = Vec::with_capacity(hex.len() / 3 + 1);
    let mut high = None;
    for &b in hex.as_bytes() {
        if b == b' ' {
            if high.is_some() {
                return crate::hex::parse(hex);
            }
            continue;
        }
        let Some(d) = digit(b) else {
            return crate::hex::parse(hex);
        };
        match high.take() {
            None => high = Some(d),
            Some(h) => out.push(h << 4 | d),
        }
    }
    if high.is_some() {
        return crate::hex::parse(hex);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"tcpack":"transcript","version":1,"mode":"server","framing":"line","started":"2026-12-06T21:00:00.000+00:00"}"#;

    fn parse(lines: &[&str]) -> Result<Transcript, BadLine> {
        Transcript::parse(lines.join("\n").as_bytes())
    }

    #[test]
    fn a_conversation_reads_back() {
        let t = parse(&[
            HEADER,
            r#"{"t_ms":0,"conn":1,"event":"open","peer":"127.0.0.1:5000","local":"127.0.0.1:7785","protocol":"tcp"}"#,
            r#"{"t_ms":3,"conn":1,"from":"client","hex":"68 69 0a","text":"hi"}"#,
            r#"{"t_ms":4,"conn":1,"from":"server","hex":"6f6b0a","text":"ok"}"#,
            r#"{"t_ms":9,"conn":1,"event":"close","reason":"eof"}"#,
        ])
        .unwrap();
        assert_eq!(t.framing, Framing::Line);
        assert_eq!(t.conns.len(), 1);
        let c = &t.conns[0];
        assert_eq!(c.messages[0].bytes, b"hi\n");
        assert_eq!(c.messages[1].from, Side::Server);
        assert_eq!(c.close.as_deref(), Some("eof"));
    }

    #[test]
    fn hex_reads_as_written_and_as_people_type_it() {
        assert_eq!(hex_bytes("68 69 0a"), Ok(b"hi\n".to_vec()));
        assert_eq!(hex_bytes("68690A"), Ok(b"hi\n".to_vec()));
        assert_eq!(hex_bytes("0x68 0x69"), Ok(b"hi".to_vec()));
        assert_eq!(hex_bytes(""), Ok(Vec::new()));
        assert!(hex_bytes("6").is_err());
        assert!(hex_bytes("zz").is_err());
    }

    #[test]
    fn mistakes_name_their_line() {
        let open = r#"{"t_ms":0,"conn":1,"event":"open"}"#;
        let cases: [(&[&str], usize, &str); 6] = [
            (&["nonsense"], 1, "not a transcript header"),
            (
                &[&HEADER.replace("\"version\":1", "\"version\":2")],
                1,
                "version 2",
            ),
            (&[HEADER, open, "{oops"], 3, "not JSON"),
            (
                &[
                    HEADER,
                    open,
                    r#"{"t_ms":1,"conn":1,"from":"client","hex":"zz"}"#,
                ],
                3,
                "bad hex",
            ),
            (
                &[HEADER, r#"{"t_ms":1,"conn":7,"from":"client","hex":"00"}"#],
                2,
                "before its open",
            ),
            (
                &[
                    HEADER,
                    open,
                    r#"{"t_ms":1,"conn":1,"from":"nobody","hex":"00"}"#,
                ],
                3,
                "\"from\"",
            ),
        ];
        for (lines, line, why) in cases {
            let bad = parse(lines).unwrap_err();
            assert_eq!(bad.line, line, "{lines:?}: {bad:?}");
            assert!(bad.why.contains(why), "{lines:?}: {bad:?}");
        }
    }
}
