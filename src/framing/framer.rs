//! The stateful cutter: one connection's bytes in, its messages out.
//!
//! The `Framer` never looks at a buffered byte twice: a frame that arrives
//! in pieces is copied once, and a delimiter search resumes where it left off.

use memchr::memmem;

use std::fmt;

use super::len::{FrameError, LenField, frame_len};

/// Bytes the tutorial's `recv(1024)` reads at a time; one raw message at most.
pub(crate) const RAW_READ_SIZE: usize = 1024;

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

/// How the framer cuts, with what it needs to know.
pub(super) enum Cut {
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

impl Cut {
    /// Cuts after each `seq` (never empty), or after `max` bytes without one.
    pub(super) fn delim(seq: &[u8], max: usize) -> Self {
        Cut::Delim {
            finder: match seq {
                [byte] => Finder::Byte(*byte),
                _ => Finder::Seq(Box::new(memmem::Finder::new(seq).into_owned())),
            },
            max,
        }
    }
}

/// Finds a delimiter: one byte (line framing) without an allocation.
pub(super) enum Finder {
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
    pub(super) partial: Vec<u8>,
    /// Delim: bytes of `partial` known not to start a delimiter. Len: the
    /// frame's length once its field has arrived, else 0.
    scan: usize,
    /// Len with OFFSET: the message put together without its field.
    message: Vec<u8>,
}

impl Framer {
    /// A framer that cuts as `cut` says (`Framing::framer` makes one).
    pub(super) fn new(cut: Cut) -> Self {
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
