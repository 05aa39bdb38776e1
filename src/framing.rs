//! Bytes in, messages out; and under `len:`, messages out as frames. Pure:
//! no I/O, so every split of the input can be tested.
//!
//! `--framing` is one of
//! - `raw`: one message per read of up to 1024 bytes;
//! - `line`: one per `\n`-terminated line (the `\n` stays part of it);
//! - `delim:SEQ`: one per byte sequence SEQ (it stays part of the message);
//! - `fixed:N`: every N bytes;
//! - `len:FIELD[@OFFSET][+ADJ|-ADJ]`: a length field FIELD (`u8`, `u16be`,
//!   `u16le`, `u32be`, `u32le`) OFFSET bytes into the frame, whose value is
//!   the number of bytes after it plus ADJ. The message is the frame without
//!   its length field, and `frame_out` writes the field into what is sent.

use std::borrow::Cow;
use std::sync::Arc;

/// How a connection's byte stream is cut into messages (`--framing`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// One ack per read of up to 1024 bytes, as the tutorial's `recv(1024)`.
    Raw,
    /// One ack per `\n`-terminated line; a final unterminated line is acked at EOF.
    Line,
    /// Messages end with this byte sequence (never empty), which stays part of them.
    Delim(Delim),
    /// Every N bytes (N ≥ 1) are one message.
    Fixed(usize),
    /// A length field says how long each frame is.
    Len(LenField),
}

/// The byte sequence that ends a message under `delim:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delim(Arc<[u8]>);

impl Delim {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A message too long for its `len:` field: it is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a message of {len} bytes does not fit the {field} length field: not sent")]
pub struct TooLongToSend {
    len: usize,
    field: &'static str,
}

impl Framing {
    /// A framer for a connection under this framing; messages longer than
    /// `max` (`--max-frame`) are cut into pieces (line, delim) or close the
    /// connection (len).
    pub(crate) fn framer(&self, max: usize) -> Framer {
        let max = max.max(1);
        Framer::new(match self {
            Framing::Raw => Cut::Raw,
            Framing::Line => Cut::delim(b"\n", max),
            Framing::Delim(seq) => Cut::delim(&seq.0, max),
            Framing::Fixed(n) => Cut::Fixed((*n).max(1)),
            Framing::Len(field) => Cut::Len { field: *field, max },
        })
    }

    /// Whether messages under this framing are binary rather than text:
    /// `len`, `fixed`, and `delim` with a delimiter that is not printable
    /// (white space aside). The log shows such a message as hex when it is
    /// not text.
    pub fn is_binary(&self) -> bool {
        match self {
            Framing::Raw | Framing::Line => false,
            Framing::Fixed(_) | Framing::Len(_) => true,
            Framing::Delim(delim) => delim
                .0
                .iter()
                .any(|&b| !(b.is_ascii_graphic() || matches!(b, b' ' | b'\r' | b'\n' | b'\t'))),
        }
    }

    /// Makes the message at `out[start..]` a frame for the wire: under
    /// `len:`, inserts its length field (at OFFSET, or at the end of a
    /// message shorter than that); other framings send messages as they are.
    /// A message too long for its field is removed from `out`.
    pub fn frame_out(&self, out: &mut Vec<u8>, start: usize) -> Result<(), TooLongToSend> {
        let Framing::Len(field) = self else {
            return Ok(());
        };
        let len = out.len() - start;
        let at = start + field.offset.min(len);
        let after = (out.len() - at) as i64;
        let value = after.saturating_add(field.adjust);
        let size = field.width.size();
        if value < 0 || value as u64 > field.width.max() {
            out.truncate(start);
            return Err(TooLongToSend {
                len,
                field: field.width.name(),
            });
        }
        let end = out.len();
        out.resize(end + size, 0);
        out.copy_within(at..end, at + size);
        field.width.write(value as u64, &mut out[at..at + size]);
        Ok(())
    }

    /// The message in one frame `frame_out` made: under `len:`, the frame
    /// without its length field; other framings' frames are their messages.
    /// Watchers see messages this way from both sides, so only a writer of
    /// wire bytes (pcap) frames them again.
    pub fn unframed<'b>(&self, frame: &'b [u8]) -> Cow<'b, [u8]> {
        let Framing::Len(field) = self else {
            return Cow::Borrowed(frame);
        };
        let size = field.width.size();
        let Some(len) = frame.len().checked_sub(size) else {
            return Cow::Borrowed(frame);
        };
        match field.offset.min(len) {
            0 => Cow::Borrowed(&frame[size..]),
            at => Cow::Owned([&frame[..at], &frame[at + size..]].concat()),
        }
    }

    /// The byte that ends a message the client sends as text, if the
    /// framing has one: `\n` for line, the sequence for delim.
    pub(crate) fn terminator(&self) -> Option<&[u8]> {
        match self {
            Framing::Line | Framing::Raw => Some(b"\n"),
            Framing::Delim(delim) => Some(&delim.0),
            Framing::Fixed(_) | Framing::Len(_) => None,
        }
    }
}

/// What `frames` makes of a connection's reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framed {
    pub messages: Vec<Vec<u8>>,
    /// How it ended if not cleanly: the error that closed it, or the frame
    /// EOF cut short.
    pub end: Option<String>,
}

/// Every message `reads` make, as if they arrived on one connection that
/// then closed. For the property tests and the fuzz target.
pub fn frames(framing: &Framing, max: usize, reads: &[&[u8]]) -> Framed {
    let mut framer = framing.framer(max);
    let mut messages = Vec::new();
    for read in reads {
        let mut frames = framer.feed(read);
        while let Some(message) = frames.next() {
            match message {
                Ok(message) => messages.push(message.to_vec()),
                Err(e) => {
                    return Framed {
                        messages,
                        end: Some(e.to_string()),
                    };
                }
            }
        }
    }
    let end = match framer.finish() {
        Some(Ok(message)) => {
            messages.push(message.to_vec());
            None
        }
        Some(Err(cut)) => Some(cut.to_string()),
        None => None,
    };
    Framed { messages, end }
}

/// `bytes` cut at `points` (any order, clamped to its length) into
/// consecutive reads that add up to it: how the network might deliver it.
pub fn cut_at(bytes: &[u8], points: impl IntoIterator<Item = usize>) -> Vec<&[u8]> {
    let mut points: Vec<usize> = points.into_iter().map(|p| p.min(bytes.len())).collect();
    points.sort_unstable();
    let mut reads = Vec::with_capacity(points.len() + 1);
    let mut start = 0;
    for p in points {
        reads.push(&bytes[start..p]);
        start = p;
    }
    reads.push(&bytes[start..]);
    reads
}

mod framer;
mod len;
mod spec;

use framer::Cut;
pub(crate) use framer::Framer;
pub use framer::Truncated;
pub use len::{FrameError, LenField};
#[cfg(test)]
mod tests;
