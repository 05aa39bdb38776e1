//! Reply templates: text with placeholders, parsed once at start so a typo is
//! a usage error, not a surprise on the wire. Literal text is encoded for
//! `--reply-encoding` when parsed; `{msg}` and captures are the received
//! bytes as they came.

use std::net::SocketAddr;
use std::ops::Range;

use crate::encoding::TextEncoding;

/// The placeholders a template may use, for error messages.
const KNOWN: &str = "{0}..{9}, {msg}, {hex}, {len}, {conn}, {seq}, {peer}, {time}, {unix_ms}";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Bytes(Vec<u8>),
    /// `{0}` the whole match, `{1}`..`{9}` regex captures.
    Group(usize),
    Msg,
    Hex,
    Len,
    Conn,
    Seq,
    Peer,
    Time,
    UnixMs,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

/// What a template is rendered with.
pub(crate) struct Context<'a> {
    /// The message without its line terminator.
    pub message: &'a [u8],
    /// Byte ranges of `{0}`..`{9}` in `message`; empty outside rules.
    pub groups: &'a [Option<Range<usize>>],
    pub conn: u64,
    /// Message number on the connection, or push number for pushes.
    pub seq: u64,
    pub peer: SocketAddr,
}

impl Context<'_> {
    /// For what the server sends unasked (a greeting, a push): no message.
    pub(crate) fn unprompted(conn: u64, seq: u64, peer: SocketAddr) -> Self {
        Context {
            message: &[],
            groups: &[],
            conn,
            seq,
            peer,
        }
    }
}

impl Template {
    /// Parses `text`: placeholders in braces, `{{` and `}}` for braces, and
    /// the escapes `\n \r \t \\ \xHH`; any other backslash stays as it is.
    pub(crate) fn parse(text: &str, encoding: TextEncoding) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        let flush = |literal: &mut String, parts: &mut Vec<Part>| -> Result<(), String> {
            if literal.is_empty() {
                return Ok(());
            }
            let bytes = encoding.encode(literal).ok_or_else(|| {
                format!("{literal:?} has characters GBK cannot encode; use --reply-encoding utf-8")
            })?;
            push_bytes(parts, &bytes);
            literal.clear();
            Ok(())
        };
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.next_if(|&(_, c)| c == '{').is_some() => literal.push('{'),
                '}' if chars.next_if(|&(_, c)| c == '}').is_some() => literal.push('}'),
                '}' => {
                    return Err(format!(
                        "a lone `}}` at byte {at}; write `}}}}` for a brace"
                    ));
                }
                '{' => {
                    let rest = &text[at + 1..];
                    let Some(end) = rest.find('}') else {
                        return Err(format!(
                            "`{{` at byte {at} is not closed; write `{{{{` for a brace"
                        ));
                    };
                    let name = &rest[..end];
                    let part = placeholder(name).ok_or_else(|| {
                        format!("unknown placeholder {{{name}}}; known: {KNOWN}; `{{{{` is a brace")
                    })?;
                    flush(&mut literal, &mut parts)?;
                    parts.push(part);
                    for _ in 0..name.chars().count() + 1 {
                        chars.next();
                    }
                }
                '\\' => match chars.peek().map(|&(_, c)| c) {
                    Some('n') => escape(&mut chars, &mut literal, '\n'),
                    Some('r') => escape(&mut chars, &mut literal, '\r'),
                    Some('t') => escape(&mut chars, &mut literal, '\t'),
                    Some('\\') => escape(&mut chars, &mut literal, '\\'),
                    Some('x') => {
                        let hex = text
                            .get(at + 2..at + 4)
                            .filter(|h| h.len() == 2 && h.bytes().all(|b| b.is_ascii_hexdigit()));
                        let Some(hex) = hex else {
                            return Err(format!(
                                "`\\x` at byte {at} needs two hex digits, as in \\x0d"
                            ));
                        };
                        flush(&mut literal, &mut parts)?;
                        let byte = u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
                        push_bytes(&mut parts, &[byte]);
                        for _ in 0..3 {
                            chars.next();
                        }
                    }
                    _ => literal.push('\\'),
                },
                c => literal.push(c),
            }
        }
        flush(&mut literal, &mut parts)?;
        Ok(Self { parts })
    }

    /// Fixed bytes, as `reply_hex` gives them.
    pub(crate) fn bytes(bytes: Vec<u8>) -> Self {
        Self {
            parts: vec![Part::Bytes(bytes)],
        }
    }

    /// The bytes when the template has no placeholder.
    #[cfg(test)]
    fn as_fixed(&self) -> Option<&[u8]> {
        match self.parts.as_slice() {
            [] => Some(&[]),
            [Part::Bytes(bytes)] => Some(bytes),
            _ => None,
        }
    }

    /// Appends the rendered template to `out`.
    pub(crate) fn render(&self, context: &Context<'_>, out: &mut Vec<u8>) {
        for part in &self.parts {
            match part {
                Part::Bytes(bytes) => out.extend_from_slice(bytes),
                Part::Group(n) => {
                    let range = context.groups.get(*n).cloned().flatten();
                    if let Some(group) = range.and_then(|r| context.message.get(r)) {
                        out.extend_from_slice(group);
                    }
                }
                Part::Msg => out.extend_from_slice(context.message),
                Part::Hex => {
                    let mut text = String::with_capacity(context.message.len() * 3);
                    crate::hex::push(&mut text, context.message);
                    out.extend_from_slice(text.as_bytes());
                }
                Part::Len => out.extend_from_slice(context.message.len().to_string().as_bytes()),
                Part::Conn => out.extend_from_slice(context.conn.to_string().as_bytes()),
                Part::Seq => out.extend_from_slice(context.seq.to_string().as_bytes()),
                Part::Peer => out.extend_from_slice(context.peer.to_string().as_bytes()),
                Part::Time => {
                    let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.3f");
                    out.extend_from_slice(now.to_string().as_bytes());
                }
                Part::UnixMs => {
                    let ms = chrono::Utc::now().timestamp_millis();
                    out.extend_from_slice(ms.to_string().as_bytes());
                }
            }
        }
    }
}

fn placeholder(name: &str) -> Option<Part> {
    Some(match name {
        "msg" => Part::Msg,
        "hex" => Part::Hex,
        "len" => Part::Len,
        "conn" => Part::Conn,
        "seq" => Part::Seq,
        "peer" => Part::Peer,
        "time" => Part::Time,
        "unix_ms" => Part::UnixMs,
        digit if digit.len() == 1 => Part::Group(digit.parse().ok()?),
        _ => return None,
    })
}

fn escape(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    literal: &mut String,
    c: char,
) {
    chars.next();
    literal.push(c);
}

fn push_bytes(parts: &mut Vec<Part>, bytes: &[u8]) {
    if let Some(Part::Bytes(last)) = parts.last_mut() {
        last.extend_from_slice(bytes);
    } else {
        parts.push(Part::Bytes(bytes.to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, message: &[u8], groups: &[Option<Range<usize>>]) -> Vec<u8> {
        let template = Template::parse(template, TextEncoding::Utf8).unwrap();
        let mut out = Vec::new();
        let context = Context {
            message,
            groups,
            conn: 7,
            seq: 3,
            peer: "127.0.0.1:5000".parse().unwrap(),
        };
        template.render(&context, &mut out);
        out
    }

    #[test]
    fn placeholders_braces_and_escapes() {
        let groups = [Some(0..6), Some(5..6)];
        assert_eq!(
            render(
                "VALUE {1}={msg} #{conn}/{seq} {len}\\r\\n",
                b"READ 7",
                &groups
            ),
            b"VALUE 7=READ 7 #7/3 6\r\n"
        );
        assert_eq!(render("{{x}} {hex}", b"hi", &[]), b"{x} 68 69");
        assert_eq!(render("\\x00\\xff|\\q", b"", &[]), b"\x00\xff|\\q");
        assert_eq!(render("{peer} {9}", b"", &[]), b"127.0.0.1:5000 ");
        let time = render("{time}", b"", &[]);
        assert_eq!(time.len(), 23, "{}", String::from_utf8_lossy(&time));
        assert!(render("{unix_ms}", b"", &[]).len() >= 13);
    }

    #[test]
    fn mistakes_are_reported_at_parse_time() {
        for (bad, says) in [
            ("{nope}", "unknown placeholder {nope}"),
            ("a {msg", "is not closed"),
            ("a } b", "a lone `}`"),
            ("\\x4", "needs two hex digits"),
            ("{10}", "unknown placeholder {10}"),
        ] {
            let error = Template::parse(bad, TextEncoding::Utf8).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
        let error = Template::parse("🙂", TextEncoding::Gbk).unwrap_err();
        assert!(error.contains("GBK cannot encode"), "{error}");
    }

    #[test]
    fn literal_text_is_encoded_for_the_wire() {
        let t = Template::parse("已收到\\n", TextEncoding::Gbk).unwrap();
        assert_eq!(t.as_fixed(), Some(&b"\xd2\xd1\xca\xd5\xb5\xbd\n"[..]));
    }
}
