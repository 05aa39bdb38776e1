//! The relay's loop: one worker blocks in `poll(2)` on both sockets, reads
//! what either side sent, logs it per direction (framed and decoded as the
//! server would), and writes it to the other side as that side takes it.
//! The poll's timeout is the next thing due: a delayed chunk, a paced
//! piece, a fault's timer, the idle timeout. Nothing spins: a relay with
//! nothing to do sleeps in `poll`.
//!
//! Each direction is a `Flow`: its framer and decoder, and a bounded queue
//! of bytes read and not yet written (a side that does not read makes the
//! other side wait, as TCP would). A FIN passes as a FIN once the queue is
//! empty; a reset as a reset.
//!
//! One relayed message, top to bottom: `run` → `wait` (here: the poll) →
//! `intake` (read a side, frame, log and tap, the rules' mock, straight on
//! to the other side when nothing waits) → `output` (what was queued, as
//! the faults shape it) → `endings` (FINs, a rule's hangup, the faults'
//! timers, the drain's flush).

mod endings;
mod intake;
mod output;
#[cfg(test)]
mod tests;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use rustix::event::PollFlags;

use super::endpoint::{Endpoint, poll_two};
use super::flow::Flow;
use crate::answer::Answerer;
use crate::framing::Framing;
use crate::log::{ConnTag, Logger};
use crate::server::conn::served::Ending;
use crate::stats::Traffic;
use crate::tap::{Side, Tap};

/// The side `client` names: the client's, or the upstream's (the server side).
fn side_of(client: bool) -> Side {
    if client { Side::Client } else { Side::Server }
}

/// What the pump needs from the server, borrowed for the connection's life.
pub(super) struct PumpContext<'a> {
    pub log: &'a Logger,
    pub traffic: &'a Traffic,
    /// Watchers (capture, web console): each direction's messages.
    pub tap: &'a Tap,
    pub tag: ConnTag,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
    pub framing: &'a Framing,
    /// Whether the server is past its drain timeout, or the operator closed this one.
    pub stop: &'a dyn Fn() -> bool,
}

/// A relayed connection: both sides, both directions.
pub(super) struct Pump<'a> {
    pub client: Endpoint,
    pub upstream: Endpoint,
    pub up: Flow,
    pub down: Flow,
    pub answerer: Option<Answerer<'a>>,
    pub rng: fastrand::Rng,
    pub reset_at: Option<(Instant, String)>,
    buf: Vec<u8>,
    /// Messages of one read, as they are forwarded (with rules only).
    forward: Vec<u8>,
    /// Answers tcpack gives for one read (with rules only).
    answers: Vec<u8>,
    last_activity: Instant,
    /// A rule said close or reset: how the connection is to end.
    hangup: Option<PendingHangup>,
}

/// A rule's `close` (or `reset`), pending: what was read before it, and
/// the upstream's answers to that, go first; then its answer; then the end.
struct PendingHangup {
    reset: bool,
    /// The rule's answer, held until the upstream is done (`None`: it has gone to the queue).
    answer: Option<Vec<u8>>,
    /// When the answer may go (the rule's delay, the `down` faults).
    due: Instant,
    /// How long the upstream has to answer what was forwarded and close:
    /// after that the answer goes anyway (`--write-timeout`).
    until: Instant,
}

impl<'a> Pump<'a> {
    pub(super) fn new(
        client: Endpoint,
        upstream: Endpoint,
        (up, down): (Flow, Flow),
        answerer: Option<Answerer<'a>>,
        rng: fastrand::Rng,
        reset_at: Option<(Instant, String)>,
        read_size: usize,
    ) -> Self {
        Self {
            client,
            upstream,
            up,
            down,
            answerer,
            rng,
            reset_at,
            buf: vec![0; read_size],
            forward: Vec::new(),
            answers: Vec::new(),
            last_activity: Instant::now(),
            hangup: None,
        }
    }

    /// Relays until both sides are done, or something ends it.
    pub(super) fn run(&mut self, cx: &PumpContext<'_>) -> Ending {
        let mut now = Instant::now();
        loop {
            if (cx.stop)() {
                return self.flush_and_stop(cx);
            }
            if let Some(end) = self.timers(now) {
                return end;
            }
            if let Some(end) = self.hang_up(now) {
                return end;
            }
            for up in [true, false] {
                if let Err(end) = self.send(up, now, false) {
                    return end;
                }
            }
            if let Some(end) = self.hung_up() {
                return end;
            }
            if let Some(end) = self.pass_fins() {
                return end;
            }
            if now >= self.last_activity + cx.idle_timeout {
                return Ending::IdleTimeout;
            }
            for flow in [&self.up, &self.down] {
                if flow
                    .stalled_since
                    .is_some_and(|t| now >= t + cx.write_timeout)
                {
                    return Ending::WriteTimeout(side_of(!flow.up));
                }
            }
            now = match self.wait(cx, now) {
                Ok(woke) => woke,
                Err(end) => return end,
            };
        }
    }

    /// Sleeps in `poll` until a side can be read or written or something is
    /// due; then reads. Returns when it woke: the reads after it take
    /// microseconds, so the next turn's timers go by it (one clock read a turn).
    fn wait(&mut self, cx: &PumpContext<'_>, now: Instant) -> Result<Instant, Ending> {
        let mut deadline = self.last_activity + cx.idle_timeout;
        let mut soon = |at: Option<Instant>| {
            if let Some(at) = at {
                deadline = deadline.min(at);
            }
        };
        soon(self.up.next_due());
        soon(self.down.next_due());
        soon(self.reset_at.as_ref().map(|(at, _)| *at));
        soon(
            self.hangup
                .as_ref()
                .filter(|h| h.answer.is_some())
                .map(|h| h.until),
        );
        soon(self.up.held_until);
        soon(self.down.held_until);
        soon(self.up.stalled_since.map(|t| t + cx.write_timeout));
        soon(self.down.stalled_since.map(|t| t + cx.write_timeout));
        let read_client = self.up.wants_read();
        let read_upstream = self.down.wants_read();
        let mut flags = [PollFlags::empty(); 2];
        if read_client {
            flags[0] |= PollFlags::IN;
        }
        if read_upstream {
            flags[1] |= PollFlags::IN;
        }
        if self.down.blocked || self.client.wants_write() {
            flags[0] |= PollFlags::OUT;
        }
        if self.up.blocked || self.upstream.wants_write() {
            flags[1] |= PollFlags::OUT;
        }
        // Clear text rustls already holds: no socket event would say so.
        let buffered =
            (read_client && self.client.buffered()) || (read_upstream && self.upstream.buffered());
        let timeout = match buffered {
            true => Duration::ZERO,
            false => deadline.saturating_duration_since(now),
        };
        let revents = match poll_two(&self.client, &self.upstream, flags, timeout) {
            Ok(revents) => revents,
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(Instant::now()),
            Err(error) => {
                return Err(Ending::Failed(Side::Client, error));
            }
        };
        let ready = |r: PollFlags| !r.is_empty();
        if ready(revents[0]) && flags[0].contains(PollFlags::OUT) {
            self.down.blocked = false;
            let _ = self.client.flush();
        }
        if ready(revents[1]) && flags[1].contains(PollFlags::OUT) {
            self.up.blocked = false;
            let _ = self.upstream.flush();
        }
        let now = Instant::now();
        if read_client && (ready(revents[0]) || buffered) {
            self.read_side(cx, true, now)?;
        }
        if read_upstream && (ready(revents[1]) || buffered) {
            self.read_side(cx, false, now)?;
        }
        Ok(now)
    }
}
