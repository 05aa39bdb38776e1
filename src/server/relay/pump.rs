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

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use rustix::event::PollFlags;

use super::endpoint::{Endpoint, is_reset, poll_two, write_some};
use super::flow::Flow;
use crate::answer::{Answerer, MessageOrigin};
use crate::decode::TextDecoder;
use crate::framing::Framing;
use crate::log::{ConnEvent, ConnTag, Logger, OpsEvent};
use crate::rules::Action;
use crate::server::conn::served::Ending;
use crate::server::shared::report_state;
use crate::stats::Traffic;
use crate::tap::{Side, Tap, TapEvent};

/// Reads from one side per wake-up at most, so the other side gets its turn.
const READS_PER_WAKE: usize = 64;

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

    /// A rule's hangup, once its turn has come. `reset`: what the kernel
    /// takes of what is queued goes, then the reset, at once (as the server
    /// hands owed answers to the kernel before its reset). `close`: the
    /// rule's answer joins the client's queue once the upstream has closed
    /// (its answers to what was forwarded before come first), or its time
    /// is up; nothing more is read from either side after that.
    fn hang_up(&mut self, now: Instant) -> Option<Ending> {
        let hangup = self.hangup.as_mut()?;
        if hangup.reset {
            for up in [true, false] {
                let _ = self.send(up, now, true);
            }
            let _ = self.client.flush();
            let _ = self.upstream.flush();
            return Some(Ending::RuleReset);
        }
        if self.down.eof || now >= hangup.until {
            if let Some(answer) = hangup.answer.take() {
                self.down.eof = true;
                self.down.push(&answer, hangup.due);
            }
        }
        None
    }

    /// A rule's `close` is done once its answer and everything before it
    /// went out, both ways.
    fn hung_up(&self) -> Option<Ending> {
        let hangup = self.hangup.as_ref()?;
        let done = hangup.answer.is_none()
            && self.up.queue.is_empty()
            && self.down.queue.is_empty()
            && !self.client.wants_write()
            && !self.upstream.wants_write();
        done.then_some(Ending::RuleClose)
    }

    /// The faults' timers: timeout (a held direction closes), reset.
    fn timers(&mut self, now: Instant) -> Option<Ending> {
        if let Some((at, what)) = &self.reset_at {
            if now >= *at {
                let reset_client = self.down.shaping.reset.is_some();
                let reset_upstream = self.up.shaping.reset.is_some();
                return Some(Ending::Fault {
                    what: what.clone(),
                    reset_client,
                    reset_upstream,
                });
            }
        }
        for flow in [&self.up, &self.down] {
            if let (Some(at), Some((_, fault))) = (flow.held_until, &flow.shaping.timeout) {
                if now >= at {
                    return Some(Ending::Fault {
                        what: format!("fault {fault}: held, now closing both sides"),
                        reset_client: false,
                        reset_upstream: false,
                    });
                }
            }
        }
        None
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

    /// Reads what one side has (the client if `from_client`), a bounded number of times.
    fn read_side(
        &mut self,
        cx: &PumpContext<'_>,
        from_client: bool,
        now: Instant,
    ) -> Result<(), Ending> {
        for _ in 0..READS_PER_WAKE {
            let flow = if from_client { &self.up } else { &self.down };
            if !flow.wants_read() {
                return Ok(());
            }
            let side = if from_client {
                &mut self.client
            } else {
                &mut self.upstream
            };
            match side.read(&mut self.buf) {
                Ok(0) => {
                    self.last_activity = now;
                    self.take_eof(cx, from_client, now);
                    return Ok(());
                }
                Ok(n) => {
                    self.last_activity = now;
                    let drained = n < self.buf.len();
                    self.take_in(cx, from_client, n, now)?;
                    // A read short of the buffer took what there was: no
                    // second read just to hear EAGAIN. The next poll says
                    // when more comes (TLS: `buffered` when rustls holds some).
                    if drained {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_reset(&e) => {
                    return Err(Ending::Reset(side_of(from_client)));
                }
                Err(error) => {
                    return Err(Ending::Failed(side_of(from_client), error));
                }
            }
        }
        Ok(())
    }

    /// The side's end: what its framer holds is a message too.
    fn take_eof(&mut self, cx: &PumpContext<'_>, from_client: bool, now: Instant) {
        let Pump {
            up,
            down,
            answerer,
            forward,
            ..
        } = self;
        let flow = if from_client { up } else { down };
        flow.eof = true;
        let Some(mut framer) = flow.framer.take() else {
            return;
        };
        forward.clear();
        let mut found = 0;
        let from = flow.from();
        match framer.finish() {
            Some(Ok(message)) => {
                found += 1;
                log_message(cx, (&mut flow.decoder, from), message, true, None);
                if from_client && answerer.is_some() {
                    forward_message(cx.framing, message, forward);
                }
            }
            Some(Err(cut)) => {
                let message = cut.to_string();
                cx.log
                    .log(Some(cx.tag), &OpsEvent::Warning { message: &message });
            }
            None => {}
        }
        flow.messages += found;
        cx.traffic.relayed(from_client, found, 0);
        if !forward.is_empty() {
            let due = flow.shaping.due(now, flow.last_due, &mut self.rng);
            flow.push(forward, due);
        }
    }

    /// One read of `n` bytes (in `buf`) from a side: logged, then on its way to the other.
    fn take_in(
        &mut self,
        cx: &PumpContext<'_>,
        from_client: bool,
        n: usize,
        now: Instant,
    ) -> Result<(), Ending> {
        let Pump {
            up,
            down,
            answerer,
            buf,
            forward,
            answers,
            rng,
            upstream,
            client,
            ..
        } = self;
        let data = &buf[..n];
        let (flow, other) = match from_client {
            true => (up, down),
            false => (down, up),
        };
        flow.bytes += n as u64;
        let mocking = from_client && answerer.is_some();
        forward.clear();
        answers.clear();
        let mut found = 0u64;
        let mut hangup = None;
        let mut answer_delay = None;
        if let Some(answerer) = answerer.as_mut().filter(|_| mocking) {
            answerer.refresh();
        }
        let from = flow.from();
        let seq_before = flow.messages;
        // Quiet, nobody watching, no rules: each message is only counted.
        let shown = cx.log.messages_enabled() || cx.tap.is_on();
        if let Some(mut framer) = flow.framer.take() {
            let decoder = &mut flow.decoder;
            let mut framed = Ok(());
            let mut frames = framer.feed(data);
            while let Some(message) = frames.next() {
                let message = match message {
                    Ok(message) => message,
                    Err(e) => {
                        framed = Err(e);
                        continue;
                    }
                };
                found += 1;
                let Some(answerer) = answerer.as_mut().filter(|_| mocking) else {
                    if shown {
                        log_message(cx, (&mut *decoder, from), message, false, None);
                    }
                    continue;
                };
                if hangup.is_some() {
                    continue;
                }
                let sender = MessageOrigin {
                    conn: cx.tag.id,
                    seq: seq_before + found,
                    peer: cx.tag.peer,
                };
                let mut answer = answerer.decide(message, sender);
                let Some(rule) = answer.tag() else {
                    log_message(cx, (&mut *decoder, from), message, false, None);
                    forward_message(cx.framing, message, forward);
                    continue;
                };
                log_message(cx, (&mut *decoder, from), message, false, Some(rule));
                let before = answers.len();
                if let Err(e) = answer.render(message, sender, answers) {
                    let message = e.to_string();
                    cx.log
                        .log(Some(cx.tag), &OpsEvent::Warning { message: &message });
                }
                report_state(cx.log, cx.tap, Some(cx.tag), &answer);
                if let Some(frame) = answers.get(before..) {
                    // tcpack's own answer, in the server's place.
                    cx.tap
                        .publish_frame(cx.tag.id, Side::Server, cx.framing, frame);
                }
                if let Some(delay) = answer.delay {
                    answer_delay = Some(answer_delay.map_or(delay, |d: Duration| d.max(delay)));
                }
                hangup = match answer.action() {
                    Action::Close => Some(false),
                    Action::Reset => Some(true),
                    Action::Reply | Action::Silent => None,
                };
            }
            match framed {
                Ok(()) => flow.framer = Some(framer),
                Err(e) => {
                    let message = format!(
                        "{e}; the {}'s bytes still pass, no longer logged",
                        from.as_str()
                    );
                    cx.log
                        .log(Some(cx.tag), &OpsEvent::Warning { message: &message });
                }
            }
        }
        flow.messages += found;
        cx.traffic.relayed(from_client, found, n);
        // Without rules (or once framing failed), the bytes go as they came.
        let out: &[u8] = if mocking && flow.framer.is_some() {
            forward
        } else {
            data
        };
        // tcpack's answers go the server's way to the client: the rule's
        // delay, the down direction's faults, after what is queued there.
        let answer_due = other
            .shaping
            .due(now, other.last_due, rng)
            .max(now + answer_delay.unwrap_or_default());
        if let Some(reset) = hangup {
            // What came before the rule goes (what came after it in this read
            // is not forwarded, and the client is read no more); the rule's
            // answer waits for the upstream's to what went before (`hang_up`).
            let due = flow.shaping.due(now, flow.last_due, rng);
            flow.push(out, due);
            flow.eof = true;
            let forwarded = flow.sent > 0 || !flow.queue.is_empty();
            let mut answer = answers.clone();
            if reset {
                // The server's reset gives no answer of its own: those owed before it go.
                other.push(&answer, answer_due);
                answer.clear();
            }
            self.hangup = Some(PendingHangup {
                reset,
                answer: Some(answer),
                due: answer_due,
                until: match forwarded {
                    true => now + cx.write_timeout,
                    false => now,
                },
            });
            return Ok(());
        }
        if !answers.is_empty() {
            other.push(answers, answer_due);
        }
        if out.is_empty() {
            return Ok(());
        }
        let to = if from_client { upstream } else { client };
        if flow.queue.is_empty()
            && !flow.shaping.holds()
            && flow.shaping.limit.is_none()
            && !flow.blocked
        {
            // The usual way: straight through, what does not fit queued.
            let written = match write_some(to, out) {
                Ok(w) => w,
                Err(e) if is_reset(&e) => {
                    return Err(Ending::Reset(side_of(!from_client)));
                }
                Err(error) => {
                    return Err(Ending::Failed(side_of(!from_client), error));
                }
            };
            flow.sent += written as u64;
            if written < out.len() {
                flow.blocked = true;
                flow.stalled_since.get_or_insert(now);
                flow.push(&out[written..], now);
            }
            return Ok(());
        }
        let due = flow.shaping.due(now, flow.last_due, rng);
        flow.push(out, due);
        Ok(())
    }

    /// Writes what is due of one direction's queue (`up`: to the upstream);
    /// `all`: everything at once, faults' pacing aside (the drain's end).
    fn send(&mut self, up: bool, now: Instant, all: bool) -> Result<(), Ending> {
        let (flow, to) = match up {
            true => (&mut self.up, &mut self.upstream),
            false => (&mut self.down, &mut self.client),
        };
        while let Some(chunk) = flow.queue.front_mut() {
            if !all && (chunk.due > now || flow.next_write > now) {
                break;
            }
            let rest = &chunk.data[chunk.at..];
            let mut n = match all {
                true => rest.len(),
                false => flow.shaping.piece(rest.len()),
            };
            if let Some((limit, fault)) = &flow.shaping.limit {
                let left = limit.saturating_sub(flow.sent);
                if left == 0 {
                    return Err(Ending::Fault {
                        what: format!("fault {fault}: {limit} bytes passed, closing both sides"),
                        reset_client: false,
                        reset_upstream: false,
                    });
                }
                n = n.min(usize::try_from(left).unwrap_or(usize::MAX));
            }
            match to.write(&rest[..n]) {
                Ok(w) => {
                    chunk.at += w;
                    flow.queued -= w;
                    flow.sent += w as u64;
                    flow.stalled_since = None;
                    self.last_activity = now;
                    if !all {
                        flow.next_write = flow.shaping.after(w, now, flow.next_write);
                    }
                    if chunk.at == chunk.data.len() {
                        flow.queue.pop_front();
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    flow.blocked = true;
                    flow.stalled_since.get_or_insert(now);
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_reset(&e) => return Err(Ending::Reset(side_of(!up))),
                Err(error) => return Err(Ending::Failed(side_of(!up), error)),
            }
        }
        if let Some((limit, fault)) = &flow.shaping.limit {
            if flow.sent >= *limit {
                return Err(Ending::Fault {
                    what: format!("fault {fault}: {limit} bytes passed, closing both sides"),
                    reset_client: false,
                    reset_upstream: false,
                });
            }
        }
        Ok(())
    }

    /// A side that closed its sending side, and whose bytes have all gone:
    /// the other side gets a FIN. Both done: the relay is done.
    fn pass_fins(&mut self) -> Option<Ending> {
        for up in [true, false] {
            let (flow, to) = match up {
                true => (&mut self.up, &mut self.upstream),
                false => (&mut self.down, &mut self.client),
            };
            // A rule's close ends the client's side itself, after its answer.
            let held = !up && self.hangup.is_some();
            if flow.eof && flow.queue.is_empty() && !flow.fin_sent && !to.wants_write() && !held {
                to.finish();
                flow.fin_sent = true;
            }
        }
        (self.up.fin_sent && self.down.fin_sent).then_some(Ending::Eof)
    }

    /// At the drain's end (or the operator's close): nothing more is read;
    /// what was read goes to the other side at once, within a bound.
    fn flush_and_stop(&mut self, cx: &PumpContext<'_>) -> Ending {
        let deadline = Instant::now() + cx.write_timeout.min(FLUSH_LIMIT);
        if let Some(answer) = self.hangup.as_mut().and_then(|h| h.answer.take()) {
            // The rule's answer is owed: it goes now, after what was read.
            self.down.push(&answer, Instant::now());
        }
        loop {
            let now = Instant::now();
            for up in [true, false] {
                if let Err(end) = self.send(up, now, true) {
                    return end;
                }
            }
            let _ = self.client.flush();
            let _ = self.upstream.flush();
            let pending = [
                (
                    !self.up.queue.is_empty() || self.upstream.wants_write(),
                    1usize,
                ),
                (!self.down.queue.is_empty() || self.client.wants_write(), 0),
            ];
            if pending.iter().all(|(p, _)| !p) || now >= deadline {
                // Or the operator's close: `relay::serve` tells them apart.
                return Ending::Drained;
            }
            let out = |pending: bool| match pending {
                true => PollFlags::OUT,
                false => PollFlags::empty(),
            };
            let flags = [out(pending[1].0), out(pending[0].0)];
            let left = deadline.saturating_duration_since(now);
            let _ = poll_two(&self.client, &self.upstream, flags, left);
        }
    }
}

/// After the drain timeout, how long the relay may take to write what it has read.
const FLUSH_LIMIT: Duration = Duration::from_secs(1);

/// A message that passes through, as it goes on the wire.
fn forward_message(framing: &Framing, message: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(message);
    // Under len: the message came without its length field; it goes with it.
    let _ = framing.frame_out(out, start);
}

/// The log line of one relayed message.
fn log_message(
    cx: &PumpContext<'_>,
    (decoder, from): (&mut TextDecoder, Side),
    message: &[u8],
    last: bool,
    rule: Option<crate::log::RuleTag<'_>>,
) {
    cx.tap.publish(TapEvent::Message {
        conn: cx.tag.id,
        from,
        bytes: message,
        rule: rule.map(|r| r.rule_label),
    });
    if !cx.log.messages_enabled() {
        return;
    }
    let text = decoder.decode(message, last);
    cx.log.log(
        Some(cx.tag),
        &ConnEvent::Message {
            bytes: message.len(),
            text,
            rule,
            from: Some(from.as_str()),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};
    use std::time::SystemTime;

    use crate::decode::DecodeMode;
    use crate::log::{LogFormat, Sink};
    use crate::server::relay::faults::Shaping;
    use crate::tap::Watcher;

    #[derive(Default)]
    struct SeenMessages(Mutex<Vec<String>>);

    impl Watcher for SeenMessages {
        fn see(&self, _: SystemTime, what: &TapEvent<'_>) {
            if let TapEvent::Message { from, bytes, .. } = what {
                let seen = format!("{}:{}", from.as_str(), String::from_utf8_lossy(bytes));
                self.0.lock().unwrap().push(seen);
            }
        }
    }

    /// A connected pair: (the far end a test holds, the near end the relay holds).
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let far = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let near = listener.accept().unwrap().0;
        near.set_nonblocking(true).unwrap();
        far.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        (far, near)
    }

    #[test]
    fn each_direction_is_published_to_the_tap_and_fins_end_the_relay() {
        let (mut client, client_near) = pair();
        let (mut upstream, upstream_near) = pair();
        let recorder = Arc::new(SeenMessages::default());
        let tap = Tap::new(vec![recorder.clone()]);
        let log = Logger::new(LogFormat::Text, true, Sink::stdout().unwrap());
        let traffic = Traffic::default();
        let stop = || false;
        let cx = PumpContext {
            log: &log,
            traffic: &traffic,
            tap: &tap,
            tag: ConnTag {
                id: 1,
                peer: client.local_addr().unwrap(),
            },
            idle_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            framing: &Framing::Line,
            stop: &stop,
        };
        let now = Instant::now();
        let flow = |up| {
            let decoder = TextDecoder::new(DecodeMode::Auto);
            Flow::new(up, &Framing::Line, 1024, decoder, Shaping::default(), now)
        };
        let mut pump = Pump::new(
            Endpoint::Plain(client_near),
            Endpoint::Plain(upstream_near),
            (flow(true), flow(false)),
            None,
            fastrand::Rng::with_seed(1),
            None,
            1024,
        );
        let end = std::thread::scope(|s| {
            s.spawn(|| {
                let mut got = [0u8; 3];
                client.write_all(b"hi\n").unwrap();
                upstream.read_exact(&mut got).unwrap();
                assert_eq!(&got, b"hi\n");
                upstream.write_all(b"ok\n").unwrap();
                client.read_exact(&mut got).unwrap();
                assert_eq!(&got, b"ok\n");
                client.shutdown(Shutdown::Write).unwrap();
                upstream.shutdown(Shutdown::Write).unwrap();
            });
            pump.run(&cx)
        });
        assert!(matches!(end, Ending::Eof));
        let seen = recorder.0.lock().unwrap().clone();
        assert_eq!(seen, ["client:hi\n", "server:ok\n"]);
        let totals = traffic.totals().relay;
        assert_eq!((totals.up_messages, totals.up_bytes), (1, 3));
        assert_eq!((totals.down_messages, totals.down_bytes), (1, 3));
    }
}
