//! `--framing` as people write it, and back: `raw`, `line`, `delim:SEQ`,
//! `fixed:N`, `len:FIELD[@OFFSET][+ADJ|-ADJ]`.

use std::fmt;
use std::str::FromStr;

use super::len::{LenField, Width};
use super::{Delim, Framing};

const HELP_FIELDS: &str = "u8, u16be, u16le, u32be or u32le";

impl FromStr for Framing {
    type Err = String;

    /// `raw`, `line`, `delim:SEQ`, `fixed:N` or `len:FIELD[@OFFSET][+ADJ|-ADJ]`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (kind, arg) = text.split_once(':').unwrap_or((text, ""));
        match (kind, text.contains(':')) {
            ("raw", false) => Ok(Framing::Raw),
            ("line", false) => Ok(Framing::Line),
            ("delim", true) => parse_delim(arg).map(|d| Framing::Delim(Delim(d.into()))),
            ("fixed", true) => match arg.parse::<usize>() {
                Ok(0) => Err("fixed:N needs N of at least 1".into()),
                Ok(n) => Ok(Framing::Fixed(n)),
                Err(_) => Err(format!(
                    "fixed:{arg}: `{arg}` is not a whole number of bytes"
                )),
            },
            ("len", true) => parse_len(arg).map(Framing::Len),
            _ => Err(format!(
                "`{text}` is not a framing; give raw, line, delim:SEQ (delim:\\r\\n, delim:0x03), fixed:N or len:FIELD[@OFFSET][+ADJ|-ADJ] (len:u16be, len:u16be@4)"
            )),
        }
    }
}

/// `\r\n`, `;`, `0x03`, `0x0d0a`, `\x03`.
fn parse_delim(text: &str) -> Result<Vec<u8>, String> {
    if text.is_empty() {
        return Err("delim:SEQ needs a byte sequence, as in delim:\\r\\n or delim:0x03".into());
    }
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return crate::hex::parse(hex).map_err(|_| {
            format!("delim:{text}: after 0x come hex digits, two per byte, as in 0x03 or 0x0d0a")
        });
    }
    let mut out = Vec::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next().map(|(_, c)| c) {
            Some('r') => out.push(b'\r'),
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('0') => out.push(0),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex = text
                    .get(at + 2..at + 4)
                    .filter(|h| h.len() == 2 && h.bytes().all(|b| b.is_ascii_hexdigit()));
                let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(byte) = byte else {
                    return Err(format!(
                        "delim:{text}: `\\x` needs two hex digits, as in \\x03"
                    ));
                };
                out.push(byte);
                chars.next();
                chars.next();
            }
            _ => {
                return Err(format!(
                    "delim:{text}: unknown escape at byte {at}; use \\r \\n \\t \\0 \\\\ \\xHH or 0xHH"
                ));
            }
        }
    }
    Ok(out)
}

/// `u16be`, `u16be@4`, `u16be+2`, `u8@1-1`.
fn parse_len(text: &str) -> Result<LenField, String> {
    let bad = |why: &str| {
        format!(
            "len:{text}: {why}; give len:FIELD[@OFFSET][+ADJ|-ADJ], FIELD one of {HELP_FIELDS}, as in len:u16be or len:u16be@4"
        )
    };
    let (rest, adjust) = match text.find(['+', '-']) {
        Some(at) => {
            let adjust = text[at..]
                .parse::<i64>()
                .ok()
                .filter(|a| a.unsigned_abs() <= u64::from(u32::MAX))
                .ok_or_else(|| bad(&format!("`{}` is not an adjustment", &text[at..])))?;
            (&text[..at], adjust)
        }
        None => (text, 0),
    };
    let (name, offset) = match rest.split_once('@') {
        Some((name, offset)) => {
            let offset = offset
                .parse::<u32>()
                .map_err(|_| bad(&format!("`{offset}` is not an offset in bytes")))?;
            (name, offset as usize)
        }
        None => (rest, 0),
    };
    let width = Width::ALL
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(w, _)| *w)
        .ok_or_else(|| bad(&format!("`{name}` is not a length field")))?;
    Ok(LenField {
        width,
        offset,
        adjust,
    })
}

impl fmt::Display for Framing {
    /// As `--framing` spells it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Framing::Raw => f.write_str("raw"),
            Framing::Line => f.write_str("line"),
            Framing::Delim(delim) => {
                f.write_str("delim:")?;
                if delim.0.iter().all(|b| b.is_ascii_graphic() && *b != b'\\') {
                    f.write_str(&String::from_utf8_lossy(&delim.0))
                } else if delim.0.iter().all(|b| matches!(b, b'\r' | b'\n' | b'\t')) {
                    for b in delim.0.iter() {
                        f.write_str(match b {
                            b'\r' => "\\r",
                            b'\n' => "\\n",
                            _ => "\\t",
                        })?;
                    }
                    Ok(())
                } else {
                    f.write_str("0x")?;
                    delim.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
                }
            }
            Framing::Fixed(n) => write!(f, "fixed:{n}"),
            Framing::Len(field) => {
                write!(f, "len:{}", field.width.name())?;
                if field.offset != 0 {
                    write!(f, "@{}", field.offset)?;
                }
                if field.adjust != 0 {
                    write!(f, "{:+}", field.adjust)?;
                }
                Ok(())
            }
        }
    }
}
