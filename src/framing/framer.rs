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
    /// Bytes at the front of `partial` lent out as the latest message:
    /// dropped when the next one is asked for, so it needs no copy.
    handed: usize,
}

/// One read's messages, in order, each lent until the next is asked for:
/// straight from the read when it holds the whole message, else from the
/// framer's buffer. A lending cursor, not an `Iterator`, for that reason.
pub(crate) struct Frames<'f> {
    framer: &'f mut Framer,
    /// What the read still holds past the messages handed out.
    rest: &'f [u8],
    /// After an error nothing more can be framed.
    failed: bool,
}

/// Where the message one step found is.
enum Piece<'d> {
    /// In the read itself.
    Read(&'d [u8]),
    /// `partial[from..to]`: a frame that arrived in pieces.
    Partial(usize, usize),
    /// `message`: a `len:` frame with OFFSET, put together without its field.
    Joined,
}

impl Frames<'_> {
    /// The next complete message; `None` once the read is used up. An
    /// error means the connection must close: the messages before it were
    /// handed out, nothing after it can be framed. Ask until `None` (or
    /// the error): what is not asked for is not buffered.
    // Always inlined into the caller's loop: per message, the common case
    // is a few comparisons and one delimiter search, as with a callback.
    #[inline(always)]
    #[allow(clippy::should_implement_trait)] // it lends: Iterator cannot
    pub(crate) fn next(&mut self) -> Option<Result<&[u8], FrameError>> {
        if self.failed {
            return None;
        }
        self.framer.release();
        let piece = match self.framer.step(&mut self.rest) {
            Ok(piece) => piece?,
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        };
        Some(Ok(match piece {
            Piece::Read(message) => message,
            Piece::Partial(from, to) => &self.framer.partial[from..to],
            Piece::Joined => &self.framer.message,
        }))
    }
}

impl Framer {
    /// A framer that cuts as `cut` says (`Framing::framer` makes one).
    pub(super) fn new(cut: Cut) -> Self {
        Self {
            cut,
            partial: Vec::new(),
            scan: 0,
            message: Vec::new(),
            handed: 0,
        }
    }

    /// How much one read should ask for.
    pub(crate) fn read_size(&self) -> usize {
        match self.cut {
            Cut::Raw => RAW_READ_SIZE,
            _ => 16 * 1024,
        }
    }

    /// Takes one read; its messages come out of the cursor, in order.
    pub(crate) fn feed<'f>(&'f mut self, data: &'f [u8]) -> Frames<'f> {
        Frames {
            framer: self,
            rest: data,
            failed: false,
        }
    }

    /// At EOF: under line and delim, the final unterminated piece is a
    /// message too (`Ok`); under fixed and len, a frame cut short is
    /// reported (`Err`), not handed out.
    pub(crate) fn finish(&mut self) -> Option<Result<&[u8], Truncated>> {
        self.release();
        if self.partial.is_empty() {
            return None;
        }
        let truncated = match &self.cut {
            Cut::Raw => None,
            Cut::Delim { .. } => {
                self.scan = 0;
                self.handed = self.partial.len();
                return Some(Ok(&self.partial));
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
        truncated.map(Err)
    }

    /// Drops what the latest message lent from `partial`.
    #[inline(always)]
    fn release(&mut self) {
        if self.handed > 0 {
            self.partial.drain(..self.handed);
            self.handed = 0;
        }
    }

    /// Finds the next message in `partial` and `data`, taking from `data`
    /// what it uses; `None` once `data` is used up.
    #[inline(always)]
    fn step<'d>(&mut self, data: &mut &'d [u8]) -> Result<Option<Piece<'d>>, FrameError> {
        match &self.cut {
            Cut::Raw => Ok((!data.is_empty()).then(|| Piece::Read(std::mem::take(data)))),
            Cut::Delim { .. } => Ok(self.step_delim(data)),
            Cut::Fixed(n) => {
                let n = *n;
                Ok(self.step_fixed(n, data))
            }
            Cut::Len { field, max } => {
                let (field, max) = (*field, *max);
                self.step_len(field, max, data)
            }
        }
    }

    #[inline(always)]
    fn step_delim<'d>(&mut self, data: &mut &'d [u8]) -> Option<Piece<'d>> {
        let Cut::Delim { finder, max } = &self.cut else {
            return None;
        };
        if data.is_empty() {
            return None;
        }
        if !self.partial.is_empty() {
            return self.step_delim_buffered(data);
        }
        let (d, max) = (finder.len(), *max);
        // A delimiter must start within the first `max` bytes of a message,
        // so `max + d` bytes always decide where the message ends.
        let window = max.saturating_add(d);
        let seen = &data[..data.len().min(window)];
        let end = match finder.find(seen) {
            Some(at) => at + d,
            None if seen.len() == window => max,
            None => {
                self.partial.extend_from_slice(data);
                self.scan = data.len().saturating_sub(d - 1);
                *data = &[];
                return None;
            }
        };
        let (message, rest) = data.split_at(end);
        *data = rest;
        Some(Piece::Read(message))
    }

    /// `step_delim` once the start of a message is buffered: out of the
    /// inlined common case.
    #[inline(never)]
    fn step_delim_buffered<'d>(&mut self, data: &mut &'d [u8]) -> Option<Piece<'d>> {
        let Cut::Delim { finder, max } = &self.cut else {
            return None;
        };
        let (d, max) = (finder.len(), *max);
        let window = max.saturating_add(d);
        let had = self.partial.len();
        let taken = data.len().min(window - had);
        self.partial.extend_from_slice(&data[..taken]);
        // Bytes taken past the message's end go back to `data`.
        let end = match finder.find(&self.partial[self.scan..]) {
            Some(at) => self.scan + at + d,
            None if self.partial.len() == window => max,
            None => {
                // All of `data` was taken: short of the window, it fit.
                self.scan = self.partial.len().saturating_sub(d - 1);
                *data = &[];
                return None;
            }
        };
        let beyond = self.partial.len() - end;
        if beyond <= taken {
            *data = &data[taken - beyond..];
            self.partial.truncate(end);
        } else {
            // Only when a cut leaves bytes that were already buffered:
            // `release` keeps them.
            *data = &data[taken..];
        }
        self.scan = 0;
        self.handed = end;
        Some(Piece::Partial(0, end))
    }

    fn step_fixed<'d>(&mut self, n: usize, data: &mut &'d [u8]) -> Option<Piece<'d>> {
        if !self.partial.is_empty() {
            let taken = data.len().min(n - self.partial.len());
            self.partial.extend_from_slice(&data[..taken]);
            *data = &data[taken..];
            if self.partial.len() < n {
                return None;
            }
            self.handed = n;
            return Some(Piece::Partial(0, n));
        }
        if data.len() < n {
            self.partial.extend_from_slice(data);
            *data = &[];
            return None;
        }
        let (frame, rest) = data.split_at(n);
        *data = rest;
        Some(Piece::Read(frame))
    }

    fn step_len<'d>(
        &mut self,
        field: LenField,
        max: usize,
        data: &mut &'d [u8],
    ) -> Result<Option<Piece<'d>>, FrameError> {
        let header = field.header();
        loop {
            if self.partial.is_empty() {
                if data.len() < header {
                    self.partial.extend_from_slice(data);
                    *data = &[];
                    return Ok(None);
                }
                let total = frame_len(field, max, &data[..header])?;
                if data.len() < total {
                    self.partial.extend_from_slice(data);
                    self.scan = total;
                    *data = &[];
                    return Ok(None);
                }
                let (frame, rest) = data.split_at(total);
                *data = rest;
                return Ok(Some(match field.offset {
                    0 => Piece::Read(&frame[header..]),
                    _ => join(field, frame, &mut self.message),
                }));
            }
            // `scan` is the frame's length once its header is in.
            let want = if self.scan == 0 { header } else { self.scan };
            let taken = data.len().min(want - self.partial.len());
            self.partial.extend_from_slice(&data[..taken]);
            *data = &data[taken..];
            if self.partial.len() < want {
                return Ok(None);
            }
            if self.scan == 0 {
                self.scan = frame_len(field, max, &self.partial[..header])?;
                if self.scan > header {
                    continue;
                }
            }
            self.scan = 0;
            self.handed = self.partial.len();
            return Ok(Some(match field.offset {
                0 => Piece::Partial(header, self.partial.len()),
                _ => join(field, &self.partial, &mut self.message),
            }));
        }
    }
}

/// Puts `frame`'s message together without its length field, in `message`.
fn join<'d>(field: LenField, frame: &[u8], message: &mut Vec<u8>) -> Piece<'d> {
    message.clear();
    message.extend_from_slice(&frame[..field.offset]);
    message.extend_from_slice(&frame[field.header()..]);
    Piece::Joined
}
