//! Reply templates: text with placeholders, parsed once at start so a typo is
//! a usage error, not a surprise on the wire. Literal text is encoded for
//! `--reply-encoding` when parsed; `{msg}` and captures are the received
//! bytes as they came. Checksums cover the bytes the template rendered
//! before them.

use std::net::SocketAddr;
use std::ops::Range;

use crate::checksum::Checksum;
use crate::encoding::TextEncoding;
use crate::state::{Lookup, Var};

/// The placeholders a template may use, for error messages.
const KNOWN: &str = "{0}..{9}, {msg}, {hex}, {len}, {conn}, {seq}, {peer}, {time}, {unix_ms}, {bytes:A..B}, {crc16_modbus}, {crc16_ccitt}, {crc32}, {sum8}, {xor8}, {lrc}, {conn.NAME}, {global.NAME}, {key.NAME}";

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
    /// `{bytes:A..B}` (either end optional): bytes of the message as it
    /// came, each ORed with `or` (`{bytes:5..6|0x80}`).
    Slice {
        from: usize,
        to: Option<usize>,
        or: u8,
    },
    Check(Checksum),
    /// `{conn.NAME}`, `{global.NAME}`, `{key.NAME}`: empty if never set.
    Var(Var),
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
    /// The message as it came, for `{bytes:A..B}`.
    pub raw: &'a [u8],
    /// Byte ranges of `{0}`..`{9}` in `message`; empty outside rules.
    pub groups: &'a [Option<Range<usize>>],
    pub conn: u64,
    /// Message number on the connection, or push number for pushes.
    pub seq: u64,
    pub peer: SocketAddr,
    /// Variables, for `{conn.count}`; `None` where there are none (they render empty).
    pub vars: Option<&'a dyn Lookup>,
}

impl Context<'_> {
    /// For what the server sends unasked (a greeting, a push): no message.
    pub(crate) fn unprompted(conn: u64, seq: u64, peer: SocketAddr) -> Self {
        Context {
            message: &[],
            raw: &[],
            groups: &[],
            conn,
            seq,
            peer,
            vars: None,
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

    /// Fixed bytes.
    pub(crate) fn bytes(bytes: Vec<u8>) -> Self {
        Self {
            parts: vec![Part::Bytes(bytes)],
        }
    }

    /// Hex bytes with placeholders between them, as `reply_hex` and the
    /// client's `--hex` take them: `"{bytes:0..2} 00 00 01 03 {crc16_modbus}"`.
    pub(crate) fn parse_hex(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let hex_end = rest.find(['{', '}']).unwrap_or(rest.len());
            let bytes = crate::hex::parse(&rest[..hex_end]).map_err(|_| {
                format!(
                    "{:?} is not hex bytes; write them as \"AA 55 01\" or \"aa5501\", placeholders in braces between them",
                    rest[..hex_end].trim()
                )
            })?;
            push_bytes(&mut parts, &bytes);
            rest = &rest[hex_end..];
            if rest.starts_with('}') {
                return Err(format!("a lone `}}` in {text:?}"));
            }
            let Some(inner) = rest.strip_prefix('{') else {
                break;
            };
            let Some(end) = inner.find('}') else {
                return Err(format!("`{{` is not closed in {text:?}"));
            };
            let name = &inner[..end];
            parts.push(
                placeholder(name)
                    .ok_or_else(|| format!("unknown placeholder {{{name}}}; known: {KNOWN}"))?,
            );
            rest = &inner[end + 1..];
        }
        Ok(Self { parts })
    }

    /// The variables it shows, in order (repeats included).
    pub(crate) fn vars(&self) -> impl Iterator<Item = &Var> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(var) => Some(var),
            _ => None,
        })
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
        let start = out.len();
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
                Part::Slice { from, to, or } => {
                    let raw = context.raw;
                    let to = to.unwrap_or(raw.len()).min(raw.len());
                    let slice = raw.get(*from..to).unwrap_or_default();
                    out.extend(slice.iter().map(|b| b | or));
                }
                Part::Check(checksum) => checksum.append(out, start),
                Part::Var(var) => {
                    if let Some(value) = context.vars.and_then(|v| v.lookup(var)) {
                        value.write(out);
                    }
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
        _ if name.starts_with("bytes:") => slice(&name["bytes:".len()..])?,
        _ if name.contains('.') => Part::Var(Var::parse(name)?),
        _ if Checksum::named(name).is_some() => Part::Check(Checksum::named(name)?),
        digit if digit.len() == 1 => Part::Group(digit.parse().ok()?),
        _ => return None,
    })
}

/// `A..B`, `A..`, `..B`, optionally `|MASK` (hex, `0x` optional).
fn slice(spec: &str) -> Option<Part> {
    let (range, or) = match spec.split_once('|') {
        Some((range, mask)) => {
            let mask = mask.trim_start_matches("0x").trim_start_matches("0X");
            (range, u8::from_str_radix(mask, 16).ok()?)
        }
        None => (spec, 0),
    };
    let (from, to) = range.split_once("..")?;
    let from = if from.is_empty() {
        0
    } else {
        from.parse().ok()?
    };
    let to = if to.is_empty() {
        None
    } else {
        Some(to.parse().ok()?)
    };
    if to.is_some_and(|to| to < from) {
        return None;
    }
    Some(Part::Slice { from, to, or })
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
mod tests;
