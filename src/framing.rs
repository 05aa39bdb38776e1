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
//!
//! The `Framer` never looks at a buffered byte twice: a frame that arrives
//! in pieces is copied once, and a delimiter search resumes where it left off.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use memchr::memmem;

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

/// `len:FIELD[@OFFSET][+ADJ|-ADJ]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LenField {
    width: Width,
    /// Bytes of the frame before the field.
    offset: usize,
    /// What the field counts beyond the bytes after it (`+2`: it counts itself too).
    adjust: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Width {
    U8,
    U16Be,
    U16Le,
    U32Be,
    U32Le,
}

impl Width {
    const ALL: [(Width, &'static str); 5] = [
        (Width::U8, "u8"),
        (Width::U16Be, "u16be"),
        (Width::U16Le, "u16le"),
        (Width::U32Be, "u32be"),
        (Width::U32Le, "u32le"),
    ];

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(w, _)| *w == self)
            .map_or("?", |(_, n)| n)
    }

    fn size(self) -> usize {
        match self {
            Width::U8 => 1,
            Width::U16Be | Width::U16Le => 2,
            Width::U32Be | Width::U32Le => 4,
        }
    }

    fn max(self) -> u64 {
        match self {
            Width::U8 => u8::MAX.into(),
            Width::U16Be | Width::U16Le => u16::MAX.into(),
            Width::U32Be | Width::U32Le => u32::MAX.into(),
        }
    }

    /// The value in `field`, which is `size()` bytes.
    fn read(self, field: &[u8]) -> u64 {
        let mut be = [0u8; 8];
        let n = self.size();
        be[8 - n..].copy_from_slice(&field[..n]);
        if matches!(self, Width::U16Le | Width::U32Le) {
            be[8 - n..].reverse();
        }
        u64::from_be_bytes(be)
    }

    /// Writes `value` (at most `max()`) into `field`, which is `size()` bytes.
    fn write(self, value: u64, field: &mut [u8]) {
        let n = self.size();
        field[..n].copy_from_slice(&value.to_be_bytes()[8 - n..]);
        if matches!(self, Width::U16Le | Width::U32Le) {
            field[..n].reverse();
        }
    }
}

impl LenField {
    /// Bytes up to the end of the length field.
    fn header(&self) -> usize {
        self.offset + self.width.size()
    }
}

/// Why a connection's input cannot be framed: it is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A message longer than `--max-frame` (`len:` only: elsewhere long
    /// messages are cut into pieces).
    #[error("frame too long: {len} > {max}")]
    TooLong { len: u64, max: usize },
    /// A length field smaller than its adjustment says "fewer than no bytes".
    #[error("length field {value} is less than its adjustment {adjust}")]
    BelowAdjust { value: u64, adjust: i64 },
}

/// A frame that EOF cut short (`len:` and `fixed:`): logged, never acked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated {
    /// Bytes of it that arrived.
    pub have: usize,
    /// Its length, once known (not yet, while its length field is incomplete).
    pub want: Option<usize>,
}

impl fmt::Display for Truncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.want {
            Some(want) => write!(
                f,
                "frame cut short by EOF: {} of {want} bytes arrived, not acked",
                self.have
            ),
            None => write!(
                f,
                "frame cut short by EOF: {} bytes arrived, its length field incomplete, not acked",
                self.have
            ),
        }
    }
}

/// A message too long for its `len:` field: it is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a message of {len} bytes does not fit the {field} length field: not sent")]
pub struct TooLongToSend {
    len: usize,
    field: &'static str,
}

/// Bytes the tutorial's `recv(1024)` reads at a time; one raw message at most.
pub(crate) const RAW_READ_SIZE: usize = 1024;

impl Framing {
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

/// How the framer cuts, with what it needs to know.
enum Cut {
    Raw,
    /// Line framing is `delim:\n`.
    Delim {
        finder: Finder,
        max: usize,
    },
    Fixed(usize),
    Len {
        field: LenField,
        max: usize,
    },
}

/// Finds a delimiter: one byte (line framing) without an allocation.
enum Finder {
    Byte(u8),
    Seq(Box<memmem::Finder<'static>>),
}

impl Finder {
    fn len(&self) -> usize {
        match self {
            Finder::Byte(_) => 1,
            Finder::Seq(finder) => finder.needle().len(),
        }
    }

    fn find(&self, haystack: &[u8]) -> Option<usize> {
        match self {
            Finder::Byte(byte) => memchr::memchr(*byte, haystack),
            Finder::Seq(finder) => finder.find(haystack),
        }
    }
}

/// Cuts a connection's byte stream into messages, each of which gets one ack.
pub(crate) struct Framer {
    cut: Cut,
    /// The start of a frame whose end has not arrived yet. Under delim, it
    /// never holds a whole delimiter, nor more than `max + delimiter - 1`
    /// bytes; under fixed and len, never more than the frame.
    partial: Vec<u8>,
    /// Delim: bytes of `partial` known not to start a delimiter. Len: the
    /// frame's length once its field has arrived, else 0.
    scan: usize,
    /// Len with OFFSET: the message put together without its field.
    message: Vec<u8>,
}

impl Framer {
    /// A framer for `framing`; messages longer than `max` (`--max-frame`)
    /// are cut into pieces (line, delim) or close the connection (len).
    pub(crate) fn new(framing: &Framing, max: usize) -> Self {
        let max = max.max(1);
        let delim = |seq: &[u8]| Cut::Delim {
            finder: match seq {
                [byte] => Finder::Byte(*byte),
                _ => Finder::Seq(Box::new(memmem::Finder::new(seq).into_owned())),
            },
            max,
        };
        let cut = match framing {
            Framing::Raw => Cut::Raw,
            Framing::Line => delim(b"\n"),
            Framing::Delim(seq) => delim(&seq.0),
            Framing::Fixed(n) => Cut::Fixed((*n).max(1)),
            Framing::Len(field) => Cut::Len { field: *field, max },
        };
        Self {
            cut,
            partial: Vec::new(),
            scan: 0,
            message: Vec::new(),
        }
    }

    /// How much one read should ask for.
    pub(crate) fn read_size(&self) -> usize {
        match self.cut {
            Cut::Raw => RAW_READ_SIZE,
            _ => 16 * 1024,
        }
    }

    /// Feeds one read; calls `emit` for each complete message, in order.
    /// After an error, the messages before it have been emitted and the
    /// connection must close: nothing after it can be framed.
    pub(crate) fn push(
        &mut self,
        data: &[u8],
        emit: &mut impl FnMut(&[u8]),
    ) -> Result<(), FrameError> {
        match &self.cut {
            Cut::Raw => {
                if !data.is_empty() {
                    emit(data);
                }
                Ok(())
            }
            Cut::Delim { .. } => {
                self.push_delim(data, emit);
                Ok(())
            }
            Cut::Fixed(n) => {
                let n = *n;
                self.push_fixed(n, data, emit);
                Ok(())
            }
            Cut::Len { field, max } => {
                let (field, max) = (*field, *max);
                self.push_len(field, max, data, emit)
            }
        }
    }

    /// At EOF: under line and delim, the final unterminated piece is a
    /// message too; under fixed and len, a frame cut short is returned,
    /// not emitted.
    pub(crate) fn finish(&mut self, emit: &mut impl FnMut(&[u8])) -> Option<Truncated> {
        if self.partial.is_empty() {
            return None;
        }
        let truncated = match &self.cut {
            Cut::Raw => None,
            Cut::Delim { .. } => {
                emit(&self.partial);
                None
            }
            Cut::Fixed(n) => Some(Truncated {
                have: self.partial.len(),
                want: Some(*n),
            }),
            Cut::Len { .. } => Some(Truncated {
                have: self.partial.len(),
                want: (self.scan > 0).then_some(self.scan),
            }),
        };
        self.partial.clear();
        self.scan = 0;
        truncated
    }

    fn push_delim(&mut self, mut data: &[u8], emit: &mut impl FnMut(&[u8])) {
        let Cut::Delim { finder, max } = &self.cut else {
            return;
        };
        let (d, max) = (finder.len(), *max);
        // A delimiter must start within the first `max` bytes of a message,
        // so `max + d` bytes always decide where the message ends.
        let window = max.saturating_add(d);
        while !data.is_empty() {
            if self.partial.is_empty() {
                let seen = &data[..data.len().min(window)];
                if let Some(at) = finder.find(seen) {
                    emit(&data[..at + d]);
                    data = &data[at + d..];
                } else if seen.len() == window {
                    emit(&data[..max]);
                    data = &data[max..];
                } else {
                    self.partial.extend_from_slice(data);
                    self.scan = data.len().saturating_sub(d - 1);
                    return;
                }
                continue;
            }
            let had = self.partial.len();
            let taken = data.len().min(window - had);
            self.partial.extend_from_slice(&data[..taken]);
            // Bytes taken past the message's end go back to `data`.
            let end = match finder.find(&self.partial[self.scan..]) {
                Some(at) => self.scan + at + d,
                None if self.partial.len() == window => max,
                None => {
                    self.scan = self.partial.len().saturating_sub(d - 1);
                    return;
                }
            };
            emit(&self.partial[..end]);
            let beyond = self.partial.len() - end;
            if beyond <= taken {
                data = &data[taken - beyond..];
                self.partial.clear();
            } else {
                // Only when a cut leaves bytes that were already buffered.
                self.partial.drain(..end);
                data = &data[taken..];
            }
            self.scan = 0;
        }
    }

    fn push_fixed(&mut self, n: usize, mut data: &[u8], emit: &mut impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            let taken = data.len().min(n - self.partial.len());
            self.partial.extend_from_slice(&data[..taken]);
            data = &data[taken..];
            if self.partial.len() < n {
                return;
            }
            emit(&self.partial);
            self.partial.clear();
        }
        let mut frames = data.chunks_exact(n);
        for frame in &mut frames {
            emit(frame);
        }
        self.partial.extend_from_slice(frames.remainder());
    }

    fn push_len(
        &mut self,
        field: LenField,
        max: usize,
        mut data: &[u8],
        emit: &mut impl FnMut(&[u8]),
    ) -> Result<(), FrameError> {
        let header = field.header();
        loop {
            if self.partial.is_empty() {
                if data.len() < header {
                    self.partial.extend_from_slice(data);
                    return Ok(());
                }
                let total = frame_len(field, max, &data[..header])?;
                if data.len() < total {
                    self.partial.extend_from_slice(data);
                    self.scan = total;
                    return Ok(());
                }
                emit_message(field, &data[..total], &mut self.message, emit);
                data = &data[total..];
                continue;
            }
            // `scan` is the frame's length once its header is in.
            let want = if self.scan == 0 { header } else { self.scan };
            let taken = data.len().min(want - self.partial.len());
            self.partial.extend_from_slice(&data[..taken]);
            data = &data[taken..];
            if self.partial.len() < want {
                return Ok(());
            }
            if self.scan == 0 {
                self.scan = frame_len(field, max, &self.partial[..header])?;
                if self.scan > header {
                    continue;
                }
            }
            emit_message(field, &self.partial, &mut self.message, emit);
            self.partial.clear();
            self.scan = 0;
        }
    }
}

/// The length of the frame whose first `header` bytes are `header`.
fn frame_len(field: LenField, max: usize, header: &[u8]) -> Result<usize, FrameError> {
    let value = field.width.read(&header[field.offset..]);
    let after = value as i64 - field.adjust;
    if after < 0 {
        return Err(FrameError::BelowAdjust {
            value,
            adjust: field.adjust,
        });
    }
    let len = field.offset as u64 + after as u64;
    if len > max as u64 {
        return Err(FrameError::TooLong { len, max });
    }
    Ok(field.header() + after as usize)
}

/// Emits `frame` without its length field.
fn emit_message(
    field: LenField,
    frame: &[u8],
    message: &mut Vec<u8>,
    emit: &mut impl FnMut(&[u8]),
) {
    if field.offset == 0 {
        emit(&frame[field.header()..]);
    } else {
        message.clear();
        message.extend_from_slice(&frame[..field.offset]);
        message.extend_from_slice(&frame[field.header()..]);
        emit(message);
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
    let mut framer = Framer::new(framing, max);
    let mut messages = Vec::new();
    let mut emit = |m: &[u8]| messages.push(m.to_vec());
    for read in reads {
        if let Err(e) = framer.push(read, &mut emit) {
            return Framed {
                messages,
                end: Some(e.to_string()),
            };
        }
    }
    let end = framer.finish(&mut emit).map(|t| t.to_string());
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

mod spec;
#[cfg(test)]
mod tests;
