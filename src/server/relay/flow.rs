//! One direction of a relayed connection: the bytes read from one side
//! and not yet written to the other, when each may go (the faults'
//! `Shaping`), and how the direction is cut into messages for the log.

use std::collections::VecDeque;
use std::time::Instant;

use super::faults::Shaping;
use crate::decode::TextDecoder;
use crate::framing::{Framer, Framing};
use crate::tap::Side;

/// Bytes a direction holds read and not yet written; beyond it, that
/// side is not read until the other takes some.
pub(super) const QUEUE_CAP: usize = 256 * 1024;
/// A chunk of bytes on its way, and when it may go.
pub(super) struct Chunk {
    pub(super) due: Instant,
    pub(super) data: Vec<u8>,
    /// How much of it has gone.
    pub(super) at: usize,
}

/// One direction: bytes from one side to the other.
pub(super) struct Flow {
    /// Client → server.
    pub(super) up: bool,
    /// `None` once a frame could not be cut: the bytes still pass, unlogged.
    pub(super) framer: Option<Framer>,
    pub(super) decoder: TextDecoder,
    pub(super) queue: VecDeque<Chunk>,
    pub(super) queued: usize,
    /// The sending side has closed (or was shut by the drain).
    pub(super) eof: bool,
    /// Our FIN to the receiving side has gone.
    pub(super) fin_sent: bool,
    /// The receiving side's socket was full at the last write.
    pub(super) blocked: bool,
    /// Since when bytes have waited for a full socket.
    pub(super) stalled_since: Option<Instant>,
    /// When the next piece may go (bandwidth, slicer).
    pub(super) next_write: Instant,
    /// When the last chunk read may go (latency).
    pub(super) last_due: Instant,
    pub messages: u64,
    pub bytes: u64,
    /// Bytes written to the receiving side.
    pub(super) sent: u64,
    pub(super) shaping: Shaping,
    /// Set when this direction's `timeout` fault holds it: nothing is read.
    pub(super) held_until: Option<Instant>,
}

impl Flow {
    pub(super) fn new(
        up: bool,
        framing: &Framing,
        max_frame: usize,
        decoder: TextDecoder,
        shaping: Shaping,
        now: Instant,
    ) -> Self {
        Self {
            up,
            framer: Some(framing.framer(max_frame)),
            decoder,
            queue: VecDeque::new(),
            queued: 0,
            eof: false,
            fin_sent: false,
            blocked: false,
            stalled_since: None,
            next_write: now,
            last_due: now,
            messages: 0,
            bytes: 0,
            sent: 0,
            held_until: shaping.timeout.as_ref().map(|(after, _)| now + *after),
            shaping,
        }
    }

    /// The side whose bytes this flow carries.
    pub(super) fn from(&self) -> Side {
        if self.up { Side::Client } else { Side::Server }
    }

    /// Whether its sending side should be read now.
    pub(super) fn wants_read(&self) -> bool {
        !self.eof && self.queued < QUEUE_CAP && self.held_until.is_none()
    }

    /// Queues `data`, to go at `due`.
    pub(super) fn push(&mut self, data: &[u8], due: Instant) {
        if data.is_empty() {
            return;
        }
        self.queued += data.len();
        self.last_due = due;
        self.queue.push_back(Chunk {
            due,
            data: data.to_vec(),
            at: 0,
        });
    }

    /// When its next piece may go, if it has one waiting for time (not for room).
    pub(super) fn next_due(&self) -> Option<Instant> {
        let chunk = self.queue.front()?;
        (!self.blocked).then(|| chunk.due.max(self.next_write))
    }
}
