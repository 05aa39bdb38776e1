//! Reading a side and taking in what it sent: the bytes are cut into
//! messages (the direction's framer), each logged and published to the tap,
//! the client's decided by the rules when they mock; then on to the other
//! side, straight through when nothing waits, else queued (`output`).

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use super::{PendingHangup, Pump, PumpContext, side_of};
use crate::answer::MessageOrigin;
use crate::decode::TextDecoder;
use crate::framing::Framing;
use crate::log::{ConnEvent, OpsEvent};
use crate::rules::Action;
use crate::server::conn::served::Ending;
use crate::server::relay::endpoint::{is_reset, write_some};
use crate::server::shared::report_state;
use crate::tap::{Side, TapEvent};

/// Reads from one side per wake-up at most, so the other side gets its turn.
const READS_PER_WAKE: usize = 64;

impl Pump<'_> {
    /// Reads what one side has (the client if `from_client`), a bounded number of times.
    pub(super) fn read_side(
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

    /// One read of `n` bytes (in `buf`) from a side: logged, then on its way to the other.
    pub(super) fn take_in(
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

    /// The side's end: what its framer holds is a message too.
    pub(super) fn take_eof(&mut self, cx: &PumpContext<'_>, from_client: bool, now: Instant) {
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
}

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
