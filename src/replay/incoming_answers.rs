//! The answers coming back from the server under replay, cut as the
//! recorded framing cuts them and compared with the recorded ones.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use memchr::memmem;

use super::compare::{Ignore, show};
use crate::framing::{Framer, Framing};

/// What the server sent and was not compared yet.
pub(super) struct Incoming {
    /// Fixed and len: frames, cut as the server cuts them.
    framer: Option<Framer>,
    frames: VecDeque<Vec<u8>>,
    /// Raw, line and delim: the bytes; answers end at the same count of
    /// terminators as the recorded ones.
    bytes: Vec<u8>,
    terminator: Vec<u8>,
    eof: bool,
    /// Where reads land, kept from read to read.
    buf: Vec<u8>,
}

/// What `cut` found.
enum CutResult {
    /// The answers, each as long as the framing says.
    Whole(Vec<Vec<u8>>),
    /// Not all there yet.
    More,
}

impl Incoming {
    pub(super) fn new(framing: &Framing) -> Self {
        let framer = matches!(framing, Framing::Fixed(_) | Framing::Len(_))
            .then(|| framing.framer(usize::MAX));
        Self {
            framer,
            frames: VecDeque::new(),
            bytes: Vec::new(),
            terminator: framing.terminator().unwrap_or(b"\n").to_vec(),
            eof: false,
            buf: vec![0u8; 64 * 1024],
        }
    }

    /// Reads until `expected`'s answers are there, or it is clear they won't
    /// be, and compares them one by one.
    pub(super) fn expect(
        &mut self,
        stream: &mut TcpStream,
        expected: &[Vec<u8>],
        timeout: Duration,
        ignore: &Ignore,
        what: &dyn Fn() -> String,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let CutResult::Whole(got) = self.cut(expected) {
                for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
                    if !ignore.same(e, g) {
                        return Err(format!(
                            "{}: expected {}, got {}",
                            part(&what(), i, expected.len()),
                            show(e),
                            show(g)
                        ));
                    }
                }
                return Ok(());
            }
            // Without masks, a byte that differs is known before the rest arrives.
            if ignore.is_empty() && self.framer.is_none() {
                if let Some((i, from)) = first_difference(expected, &self.bytes) {
                    return Err(format!(
                        "{}: expected {}, got {}",
                        part(&what(), i, expected.len()),
                        show(&expected[i]),
                        show(&self.bytes[from..])
                    ));
                }
            }
            let now = Instant::now();
            if self.eof || now >= deadline {
                let had = if self.framer.is_some() {
                    self.frames
                        .iter()
                        .map(|f| show(f))
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    show(&self.bytes)
                };
                let why = if self.eof {
                    "the server closed the connection".to_owned()
                } else {
                    format!("not all there within {}s", timeout.as_secs_f64())
                };
                return Err(format!(
                    "{}: expected {}, {why}; got {}",
                    what(),
                    expected
                        .iter()
                        .map(|e| show(e))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if had.is_empty() || had == "\"\"" {
                        "nothing".into()
                    } else {
                        had
                    }
                ));
            }
            let mut buf = std::mem::take(&mut self.buf);
            let read = stream.read(&mut buf);
            match read {
                Ok(0) => self.eof = true,
                Ok(n) => self.take(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    return Err(format!("{}: reading failed: {e}", what()));
                }
            }
            self.buf = buf;
        }
    }

    fn take(&mut self, data: &[u8]) {
        match &mut self.framer {
            Some(framer) => {
                let frames = &mut self.frames;
                let mut cut = framer.feed(data);
                while let Some(m) = cut.next() {
                    match m {
                        Ok(m) => frames.push_back(m.to_vec()),
                        Err(_) => self.eof = true,
                    }
                }
            }
            None => self.bytes.extend_from_slice(data),
        }
    }

    /// Takes `expected.len()` answers off the front, if they are all there.
    fn cut(&mut self, expected: &[Vec<u8>]) -> CutResult {
        if self.framer.is_some() {
            if self.frames.len() < expected.len() {
                return CutResult::More;
            }
            return CutResult::Whole(self.frames.drain(..expected.len()).collect());
        }
        let mut at = 0;
        let mut ends = Vec::with_capacity(expected.len());
        for e in expected {
            let end = if e.ends_with(&self.terminator) {
                let count = memmem::find_iter(e, &self.terminator).count();
                let mut end = None;
                let mut found = 0;
                for hit in memmem::find_iter(&self.bytes[at..], &self.terminator) {
                    found += 1;
                    if found == count {
                        end = Some(at + hit + self.terminator.len());
                        break;
                    }
                }
                end
            } else {
                Some(at + e.len()).filter(|&end| end <= self.bytes.len())
            };
            let Some(end) = end else {
                return CutResult::More;
            };
            ends.push(end);
            at = end;
        }
        let mut got = Vec::with_capacity(expected.len());
        let mut start = 0;
        for end in ends {
            got.push(self.bytes[start..end].to_vec());
            start = end;
        }
        self.bytes.drain(..start);
        CutResult::Whole(got)
    }
}

/// Where `got` (so far) stops matching the answers laid end to end: the
/// answer's index and where it starts in `got`.
fn first_difference(expected: &[Vec<u8>], got: &[u8]) -> Option<(usize, usize)> {
    let mut start = 0;
    for (i, e) in expected.iter().enumerate() {
        let have = &got[start.min(got.len())..];
        let n = have.len().min(e.len());
        if have[..n] != e[..n] {
            return Some((i, start));
        }
        if have.len() <= e.len() {
            return None;
        }
        start += e.len();
    }
    None
}

/// "the answer to message 3 (…)", or "part 2 of 3 of" it when it was several messages.
fn part(what: &str, i: usize, of: usize) -> String {
    if of == 1 {
        what.to_owned()
    } else {
        format!("message {} of {of} in {what}", i + 1)
    }
}
