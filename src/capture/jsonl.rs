//! `--capture FILE`: the transcript format (see `transcript`), written by
//! the capture's writer thread, one whole line at a time.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::SystemTime;

use super::batched::Batched;
use super::queue::Format;
use super::transcript::{Header, Line, UDP_CONN_BASE};
use crate::decode::{DecodeMode, TextDecoder};
use crate::framing::Framing;
use crate::tap::{Side, TapRecord};

/// The transcript's writer.
pub(super) struct Jsonl<W: Write> {
    out: Batched<W>,
    started: SystemTime,
    decoder: TextDecoder,
    /// UDP peers and the connection numbers they were given.
    udp: HashMap<SocketAddr, u64>,
    line: Vec<u8>,
}

impl<W: Write + Send + 'static> Jsonl<W> {
    /// Writes the header to `out` at once (so a file that cannot be written
    /// is an error at start); returns the format and the bytes written.
    pub(super) fn start(
        out: W,
        mode: &str,
        framing: &Framing,
        started: SystemTime,
    ) -> io::Result<(Self, u64)> {
        let mut out = Batched::new(out);
        let mut line = serde_json::to_vec(&Header::new(mode, framing, started.into()))?;
        line.push(b'\n');
        out.write_all(&line)?;
        out.flush()?;
        let written = line.len() as u64;
        let format = Self {
            out,
            started,
            decoder: TextDecoder::new(DecodeMode::Auto).binary_frames(framing.is_binary()),
            udp: HashMap::new(),
            line,
        };
        Ok((format, written))
    }

    fn t_ms(&self, at: SystemTime) -> u64 {
        at.duration_since(self.started)
            .map_or(0, |d| d.as_millis() as u64)
    }

    /// Appends `line` (JSON and a newline) to the buffer unless that would pass `room`.
    fn put(&mut self, line: &Line<'_>, room: u64) -> io::Result<Option<u64>> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, line)?;
        self.line.push(b'\n');
        let len = self.line.len() as u64;
        if len > room {
            return Ok(None);
        }
        self.out.write_all(&self.line)?;
        self.out.end_of_record()?;
        Ok(Some(len))
    }

    fn message(
        &mut self,
        t_ms: u64,
        conn: u64,
        from: Side,
        bytes: &[u8],
        rule: Option<&str>,
        room: u64,
    ) -> io::Result<Option<u64>> {
        let mut hex = String::with_capacity(bytes.len() * 3);
        crate::hex::push(&mut hex, bytes);
        let text = self.decoder.decode_whole(bytes).to_owned();
        let mut line = Line::at(t_ms, conn);
        line.from = Some(Cow::Borrowed(from.as_str()));
        line.hex = Some(Cow::Owned(hex));
        line.text = Some(Cow::Owned(text));
        line.rule = rule.map(Cow::Borrowed);
        self.put(&line, room)
    }
}

impl<W: Write + Send + 'static> Format for Jsonl<W> {
    fn write(&mut self, at: SystemTime, what: &TapRecord, room: u64) -> io::Result<Option<u64>> {
        let t_ms = self.t_ms(at);
        match what {
            TapRecord::Open(open) => {
                let mut line = Line::at(t_ms, open.conn);
                line.event = Some(Cow::Borrowed("open"));
                line.peer = Some(open.peer);
                line.local = Some(open.local);
                line.protocol = Some(Cow::Borrowed(open.protocol.name()));
                line.upstream = open.upstream;
                self.put(&line, room)
            }
            TapRecord::Message {
                conn,
                from,
                bytes,
                rule,
                ..
            } => self.message(t_ms, *conn, *from, bytes, rule.as_deref(), room),
            TapRecord::Close { conn, reason } => {
                let mut line = Line::at(t_ms, *conn);
                line.event = Some(Cow::Borrowed("close"));
                line.reason = Some(Cow::Borrowed(reason));
                self.put(&line, room)
            }
            TapRecord::Datagram {
                peer,
                local,
                from,
                bytes,
                ..
            } => {
                let mut added = 0;
                let conn = match self.udp.get(peer) {
                    Some(conn) => *conn,
                    None => {
                        let conn = UDP_CONN_BASE + self.udp.len() as u64 + 1;
                        let mut line = Line::at(t_ms, conn);
                        line.event = Some(Cow::Borrowed("open"));
                        line.peer = Some(*peer);
                        line.local = Some(*local);
                        line.protocol = Some(Cow::Borrowed("udp"));
                        let Some(bytes) = self.put(&line, room)? else {
                            return Ok(None);
                        };
                        added = bytes;
                        self.udp.insert(*peer, conn);
                        conn
                    }
                };
                Ok(self
                    .message(t_ms, conn, *from, bytes, None, room - added)?
                    .map(|b| b + added))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
