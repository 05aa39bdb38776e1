//! How a relayed connection ends, short of a socket error: the faults'
//! timers, a rule's `close` or `reset`, the FINs passed on once a side is
//! done, and the drain's (or the operator's) bounded flush.

use std::time::{Duration, Instant};

use rustix::event::PollFlags;

use super::{Pump, PumpContext};
use crate::server::conn::served::Ending;
use crate::server::relay::endpoint::poll_two;

impl Pump<'_> {
    /// The faults' timers: timeout (a held direction closes), reset.
    pub(super) fn timers(&mut self, now: Instant) -> Option<Ending> {
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

    /// A rule's hangup, once its turn has come. `reset`: what the kernel
    /// takes of what is queued goes, then the reset, at once (as the server
    /// hands owed answers to the kernel before its reset). `close`: the
    /// rule's answer joins the client's queue once the upstream has closed
    /// (its answers to what was forwarded before come first), or its time
    /// is up; nothing more is read from either side after that.
    pub(super) fn hang_up(&mut self, now: Instant) -> Option<Ending> {
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
    pub(super) fn hung_up(&self) -> Option<Ending> {
        let hangup = self.hangup.as_ref()?;
        let done = hangup.answer.is_none()
            && self.up.queue.is_empty()
            && self.down.queue.is_empty()
            && !self.client.wants_write()
            && !self.upstream.wants_write();
        done.then_some(Ending::RuleClose)
    }

    /// A side that closed its sending side, and whose bytes have all gone:
    /// the other side gets a FIN. Both done: the relay is done.
    pub(super) fn pass_fins(&mut self) -> Option<Ending> {
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
    pub(super) fn flush_and_stop(&mut self, cx: &PumpContext<'_>) -> Ending {
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
