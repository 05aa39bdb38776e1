//! Writing a side: what one direction queued goes out when it is due, in
//! the pieces the faults' pacing allows, up to a `limit` fault's bytes.

use std::io::ErrorKind;
use std::time::Instant;

use super::{Pump, side_of};
use crate::server::conn::served::Ending;
use crate::server::relay::endpoint::is_reset;

impl Pump<'_> {
    /// Writes what is due of one direction's queue (`up`: to the upstream);
    /// `all`: everything at once, faults' pacing aside (the drain's end).
    pub(super) fn send(&mut self, up: bool, now: Instant, all: bool) -> Result<(), Ending> {
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
}
