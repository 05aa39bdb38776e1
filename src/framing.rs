//! Bytes in, messages out. Pure: no I/O, so every split of the input can be tested.

/// How a connection's byte stream is cut into messages (`--framing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One ack per read of up to 1024 bytes, as the tutorial's `recv(1024)`.
    Raw,
    /// One ack per `\n`-terminated line; a final unterminated line is acked at EOF.
    Line,
}

/// Bytes the tutorial's `recv(1024)` reads at a time; one raw message at most.
pub(crate) const RAW_READ_SIZE: usize = 1024;

/// Cuts a connection's byte stream into messages, each of which gets one ack.
pub(crate) struct Framer {
    max_line: Option<usize>,
    /// The start of a line whose `\n` has not arrived yet; never holds a `\n`
    /// and never more than `max_line` bytes.
    partial: Vec<u8>,
}

impl Framer {
    /// A framer for `framing`; lines longer than `max_line` are cut into pieces.
    pub(crate) fn new(framing: Framing, max_line: usize) -> Self {
        let max_line = match framing {
            Framing::Raw => None,
            Framing::Line => Some(max_line.max(1)),
        };
        Self {
            max_line,
            partial: Vec::new(),
        }
    }

    /// How much one read should ask for.
    pub(crate) fn read_size(&self) -> usize {
        match self.max_line {
            None => RAW_READ_SIZE,
            Some(_) => 16 * 1024,
        }
    }

    /// Feeds one read; calls `emit` for each complete message, in order.
    /// Lines keep their `\n`; a line longer than `max_line` comes out in pieces.
    pub(crate) fn push(&mut self, mut data: &[u8], emit: &mut impl FnMut(&[u8])) {
        let Some(max_line) = self.max_line else {
            if !data.is_empty() {
                emit(data);
            }
            return;
        };
        while !data.is_empty() {
            let room = max_line - self.partial.len();
            // Look one byte past the room: a `\n` there still ends the line in time.
            let window = &data[..data.len().min(room + 1)];
            let (end, rest) = match memchr::memchr(b'\n', window) {
                Some(newline) => (newline + 1, newline + 1),
                None if window.len() > room => (room, room),
                None => {
                    self.partial.extend_from_slice(data);
                    return;
                }
            };
            if self.partial.is_empty() {
                emit(&data[..end]);
            } else {
                self.partial.extend_from_slice(&data[..end]);
                emit(&self.partial);
                self.partial.clear();
            }
            data = &data[rest..];
        }
    }

    /// At EOF: the final unterminated line, if any, is a message too.
    pub(crate) fn finish(&mut self, emit: &mut impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            emit(&self.partial);
            self.partial.clear();
        }
    }
}

/// Every message `reads` make, as if they arrived on one connection that
/// then closed. For the property tests and the fuzz target.
pub fn frames(framing: Framing, max_line: usize, reads: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut framer = Framer::new(framing, max_line);
    let mut out = Vec::new();
    let mut emit = |m: &[u8]| out.push(m.to_vec());
    for read in reads {
        framer.push(read, &mut emit);
    }
    framer.finish(&mut emit);
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Framing, --max-line, the reads, the messages they make.
    type Case<'a> = (Framing, usize, &'a [&'a [u8]], &'a [&'a [u8]]);

    #[test]
    fn table() {
        let cases: &[Case] = &[
            (Framing::Raw, 8, &[b"ab\ncd", b"e"], &[b"ab\ncd", b"e"]),
            (Framing::Raw, 8, &[b""], &[]),
            (Framing::Line, 8, &[b"ab\ncd\n"], &[b"ab\n", b"cd\n"]),
            (Framing::Line, 8, &[b"a", b"b\nc"], &[b"ab\n", b"c"]),
            (Framing::Line, 8, &[b"\n\n"], &[b"\n", b"\n"]),
            (Framing::Line, 8, &[b"a\r\nb\rc\n"], &[b"a\r\n", b"b\rc\n"]),
            (Framing::Line, 3, &[b"abcdefg\n"], &[b"abc", b"def", b"g\n"]),
            (Framing::Line, 3, &[b"abc\n"], &[b"abc\n"]),
            (Framing::Line, 3, &[b"ab", b"c", b"\nx"], &[b"abc\n", b"x"]),
            (Framing::Line, 3, &[b"ab", b"cd"], &[b"abc", b"d"]),
        ];
        for (framing, max, reads, expected) in cases {
            let expected: Vec<Vec<u8>> = expected.iter().map(|m| m.to_vec()).collect();
            assert_eq!(
                frames(*framing, *max, reads),
                expected,
                "{framing:?} {max} {reads:?}"
            );
        }
    }

    #[test]
    fn a_huge_line_is_never_buffered_whole() {
        let mut framer = Framer::new(Framing::Line, 1000);
        let chunk = [b'x'; 4096];
        let mut pieces = 0;
        for _ in 0..256 {
            framer.push(&chunk, &mut |m: &[u8]| {
                assert_eq!(m.len(), 1000);
                pieces += 1;
            });
            assert!(framer.partial.capacity() <= 2 * 1000);
        }
        assert_eq!(pieces, 256 * 4096 / 1000);
    }

    proptest! {
        /// Line framing depends on the bytes, never on how the reads cut them.
        #[test]
        fn any_split_gives_the_same_lines(
            bytes in prop::collection::vec(prop::sample::select(b"ab\n\r\xe5".to_vec()), 0..200),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
            max_line in 1usize..20,
        ) {
            let reads = cut_at(&bytes, cuts.iter().map(|c| c.index(bytes.len() + 1)));
            let whole = frames(Framing::Line, max_line, &[&bytes]);
            prop_assert_eq!(frames(Framing::Line, max_line, &reads), whole.clone());
            prop_assert_eq!(whole.concat(), bytes);
            for m in &whole {
                prop_assert!(m.len() <= max_line + 1);
            }
        }
    }
}
