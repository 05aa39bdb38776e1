//! What the bench sends under `--framing`, and how it reads the answers:
//! lines, as always, or frames cut by the same framer the server uses,
//! counted without copying them.

use std::io::{self, BufRead, ErrorKind};
use std::net::SocketAddr;

use crate::framing::{Framer, Framing};
use crate::rules::{Context, Template};

/// One message as the bench sends it: `--hex` bytes (placeholders
/// rendered) or `size` bytes, ended as the framing ends messages and, under
/// `len:`, with its length field. `{conn}` in `--hex` is `conn`, the
/// connection's index in the whole run (a shard's start at its offset).
pub(super) fn message(
    framing: &Framing,
    hex: Option<&str>,
    size: usize,
    conn: u64,
) -> Result<Vec<u8>, String> {
    let mut message = match hex {
        Some(hex) => {
            let template = Template::parse_hex(hex).map_err(|e| format!("--hex: {e}"))?;
            let mut bytes = Vec::new();
            let nowhere = SocketAddr::from(([0, 0, 0, 0], 0));
            template.render(&Context::unprompted(conn, 0, nowhere), &mut bytes);
            bytes
        }
        None => {
            let ending = framing.terminator().unwrap_or_default();
            let size = match framing {
                Framing::Fixed(n) => *n,
                _ => size.max(ending.len()),
            };
            let mut bytes = vec![b'x'; size - ending.len()];
            bytes.extend_from_slice(ending);
            bytes
        }
    };
    framing
        .frame_out(&mut message, 0)
        .map_err(|e| e.to_string())?;
    Ok(message)
}

/// Reads answers one at a time: a line each, or a frame each.
pub(super) struct Answers {
    framer: Option<Framer>,
    /// Frames cut but not yet handed out.
    ready: u64,
    /// A busy / shutting-down notice came.
    notice: bool,
    line: Vec<u8>,
}

impl Answers {
    pub(super) fn new(framing: &Framing) -> Self {
        let framer = match framing {
            Framing::Raw | Framing::Line => None,
            _ => Some(framing.framer(usize::MAX)),
        };
        Self {
            framer,
            ready: 0,
            notice: false,
            line: Vec::new(),
        }
    }

    /// Reads one answer; `Ok(false)` if it was a busy / shutting-down notice.
    pub(super) fn next(&mut self, reader: &mut impl BufRead) -> io::Result<bool> {
        let Some(framer) = &mut self.framer else {
            return read_line(reader, &mut self.line);
        };
        loop {
            if self.notice {
                return Ok(false);
            }
            if self.ready > 0 {
                self.ready -= 1;
                return Ok(true);
            }
            let buf = reader.fill_buf()?;
            if buf.is_empty() {
                return Err(closed());
            }
            let n = buf.len();
            let (ready, notice) = (&mut self.ready, &mut self.notice);
            let mut frames = framer.feed(buf);
            while let Some(m) = frames.next() {
                match crate::protocol::is_notice(m.map_err(io::Error::other)?) {
                    true => *notice = true,
                    false => *ready += 1,
                }
            }
            reader.consume(n);
        }
    }
}

fn closed() -> io::Error {
    io::Error::new(ErrorKind::UnexpectedEof, "server closed the connection")
}

/// Reads one answer line; `Ok(false)` if it was a busy / shutting-down notice.
pub(super) fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<bool> {
    line.clear();
    if reader.read_until(b'\n', line)? == 0 {
        return Err(closed());
    }
    Ok(!crate::protocol::is_notice(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Write};
    use std::net::TcpStream;

    fn framing(text: &str) -> Framing {
        text.parse().unwrap()
    }

    #[test]
    fn messages_of_the_asked_size_framed() {
        assert_eq!(message(&Framing::Line, None, 1, 0).unwrap(), b"\n");
        assert_eq!(message(&Framing::Line, None, 4, 0).unwrap(), b"xxx\n");
        assert_eq!(
            message(&framing("len:u16be"), None, 3, 0).unwrap(),
            b"\x00\x03xxx"
        );
        assert_eq!(
            message(&framing("delim:\\r\\n"), None, 4, 0).unwrap(),
            b"xx\r\n"
        );
        assert_eq!(message(&framing("fixed:2"), None, 16, 0).unwrap(), b"xx");
        assert_eq!(
            message(
                &framing("len:u16be"),
                Some("01 03 00 00 00 0A {crc16_modbus}"),
                16,
                0
            )
            .unwrap(),
            b"\x00\x08\x01\x03\x00\x00\x00\x0a\xc5\xcd"
        );
        // `{conn}` is the connection's index in the run, as text.
        assert_eq!(
            message(&Framing::Line, Some("63 {conn}"), 16, 42).unwrap(),
            b"c42"
        );
        assert!(
            message(&Framing::Line, Some("zz"), 16, 0)
                .unwrap_err()
                .contains("--hex")
        );
    }

    #[test]
    fn frames_are_counted_and_notices_told_apart() {
        let wire = b"\x00\x02ok\x00\x03o".to_vec();
        let mut more = wire.clone();
        more.extend_from_slice(b"k!\x00\x0cserver busy\n");
        let mut reader = io::BufReader::with_capacity(3, &more[..]);
        let mut answers = Answers::new(&framing("len:u16be"));
        assert!(answers.next(&mut reader).unwrap());
        assert!(answers.next(&mut reader).unwrap());
        assert!(!answers.next(&mut reader).unwrap());
        let mut short = io::BufReader::new(&wire[..]);
        let mut answers = Answers::new(&framing("len:u16be"));
        assert!(answers.next(&mut short).unwrap());
        assert_eq!(
            answers.next(&mut short).unwrap_err().kind(),
            ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn busy_notices_are_not_acks() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        server
            .write_all("已收到\nserver busy\n".as_bytes())
            .unwrap();
        drop(server);
        let mut reader = BufReader::new(client.try_clone().unwrap());
        let mut line = Vec::new();
        assert!(read_line(&mut reader, &mut line).unwrap());
        assert!(!read_line(&mut reader, &mut line).unwrap());
        assert_eq!(
            read_line(&mut reader, &mut line).unwrap_err().kind(),
            ErrorKind::UnexpectedEof
        );
        let _ = client.flush();
    }
}
