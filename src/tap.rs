//! What passes through tcpack, for those who watch it: the capture writer
//! and the web console. The message path publishes each connection's
//! opening, messages both ways and close; a `Watcher` copies what it needs
//! and returns at once. With no watcher, publishing is one branch.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use crate::framing::Framing;
use crate::state::{Value, Var};
use crate::stats::Protocol;

/// Who sent the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Server,
}

impl Side {
    /// As transcripts and the web console name it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// One thing that happened on a connection or the UDP socket, borrowed
/// from the thread that moved the bytes.
///
/// The contract for watchers: a message, from either side, is the message
/// as framing cut it — under `len:` without its length field, as the log
/// shows it. Watchers know the framing in force from the config they were
/// built with; only one that writes wire bytes (pcap) frames it again.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TapEvent<'a> {
    /// A connection is being served: after any TLS handshake, before the
    /// greeting.
    Open(TapOpen),
    /// One message: from the client, one framed message; from the server,
    /// one answer, greeting or push.
    Message {
        conn: u64,
        from: Side,
        bytes: &'a [u8],
        /// The rule that answered it (client messages only).
        rule: Option<&'a str>,
    },
    /// The connection ended; `reason` as the log's `closed` line says it.
    Close { conn: u64, reason: &'a str },
    /// One UDP datagram, either way; `local` is the server's address.
    Datagram {
        peer: SocketAddr,
        local: SocketAddr,
        from: Side,
        bytes: &'a [u8],
    },
    /// A rule changed variables (`conn` 0: a UDP datagram's rule).
    Changed {
        conn: u64,
        rule: &'a str,
        changed: &'a [(Var, Value)],
    },
    /// The server is done: flush and close now, before the process exits.
    /// `forced`: a second Ctrl-C, which asks to stop at once; finish the
    /// record in hand, flush, and leave what is still queued.
    Stopped { forced: bool },
}

/// A connection being served, as the tap's `Open` says it: owns nothing,
/// so the borrowed event and the owned record carry the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TapOpen {
    pub conn: u64,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub protocol: Protocol,
    /// In relay mode, the server side's address.
    pub upstream: Option<SocketAddr>,
}

/// A `TapEvent` copied out of the mover's buffers, for a watcher that
/// works on a thread of its own: the capture writer and the web console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TapRecord {
    Open(TapOpen),
    Message {
        conn: u64,
        from: Side,
        /// The message, or its first bytes when the copy was cut.
        bytes: Box<[u8]>,
        /// The whole message's length.
        size: usize,
        rule: Option<Box<str>>,
    },
    Close {
        conn: u64,
        reason: Box<str>,
    },
    Datagram {
        peer: SocketAddr,
        local: SocketAddr,
        from: Side,
        bytes: Box<[u8]>,
        size: usize,
    },
}

impl TapRecord {
    /// Copies `event`, keeping at most `keep` bytes of a message: a page
    /// shows the start of a big one, a capture keeps it all. `Stopped` is
    /// no record: it is what a watcher acts on at once.
    pub(crate) fn copy(event: &TapEvent<'_>, keep: usize) -> Option<Self> {
        let kept = |bytes: &[u8]| Box::from(&bytes[..bytes.len().min(keep)]);
        Some(match *event {
            TapEvent::Open(open) => TapRecord::Open(open),
            TapEvent::Message {
                conn,
                from,
                bytes,
                rule,
            } => TapRecord::Message {
                conn,
                from,
                bytes: kept(bytes),
                size: bytes.len(),
                rule: rule.map(Into::into),
            },
            TapEvent::Close { conn, reason } => TapRecord::Close {
                conn,
                reason: reason.into(),
            },
            TapEvent::Datagram {
                peer,
                local,
                from,
                bytes,
            } => TapRecord::Datagram {
                peer,
                local,
                from,
                bytes: kept(bytes),
                size: bytes.len(),
            },
            // Changes are the web console's alone; it copies them itself.
            TapEvent::Stopped { .. } | TapEvent::Changed { .. } => return None,
        })
    }

    /// The bytes kept of a message or datagram; 0 for the rest.
    pub(crate) fn payload(&self) -> usize {
        match self {
            TapRecord::Message { bytes, .. } | TapRecord::Datagram { bytes, .. } => bytes.len(),
            _ => 0,
        }
    }

    /// The connection it belongs to; `None` for a datagram.
    pub(crate) fn conn(&self) -> Option<u64> {
        match self {
            TapRecord::Open(TapOpen { conn, .. })
            | TapRecord::Message { conn, .. }
            | TapRecord::Close { conn, .. } => Some(*conn),
            TapRecord::Datagram { .. } => None,
        }
    }
}

/// Something that watches the traffic.
pub(crate) trait Watcher: Send + Sync {
    /// Called on the thread that moved the bytes, a worker among them: it
    /// must never block. Copy into a bounded queue; when full, drop and count.
    fn see(&self, at: SystemTime, what: &TapEvent<'_>);
}

/// The watchers, shared by every thread that moves bytes.
#[derive(Clone, Default)]
pub(crate) struct Tap {
    watchers: Arc<[Arc<dyn Watcher>]>,
}

impl Tap {
    pub(crate) fn new(watchers: Vec<Arc<dyn Watcher>>) -> Self {
        Self {
            watchers: watchers.into(),
        }
    }

    /// Whether anybody watches: callers skip building what nobody sees.
    #[inline]
    pub(crate) fn is_on(&self) -> bool {
        !self.watchers.is_empty()
    }

    /// Tells every watcher; nothing at all when nobody watches.
    #[inline]
    pub(crate) fn publish(&self, what: TapEvent<'_>) {
        if self.is_on() {
            self.tell(&what);
        }
    }

    /// Publishes one frame tcpack wrote on `conn` as the message it
    /// carries (under `len:`, without its length field), as the contract
    /// says; an empty frame is nothing to see.
    #[inline]
    pub(crate) fn publish_frame(&self, conn: u64, from: Side, framing: &Framing, frame: &[u8]) {
        if self.is_on() && !frame.is_empty() {
            self.tell(&TapEvent::Message {
                conn,
                from,
                bytes: &framing.unframed(frame),
                rule: None,
            });
        }
    }

    #[inline(never)]
    fn tell(&self, what: &TapEvent<'_>) {
        let at = SystemTime::now();
        for watcher in self.watchers.iter() {
            watcher.see(at, what);
        }
    }
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tap({} watchers)", self.watchers.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct SeenEvents(Mutex<Vec<String>>);

    impl Watcher for SeenEvents {
        fn see(&self, _at: SystemTime, what: &TapEvent<'_>) {
            let line = match what {
                TapEvent::Message {
                    conn, from, bytes, ..
                } => {
                    format!(
                        "{conn} {} {}",
                        from.as_str(),
                        String::from_utf8_lossy(bytes)
                    )
                }
                other => format!("{other:?}"),
            };
            self.0.lock().unwrap().push(line);
        }
    }

    #[test]
    fn every_watcher_sees_what_is_published() {
        let (a, b) = (
            Arc::new(SeenEvents::default()),
            Arc::new(SeenEvents::default()),
        );
        let tap = Tap::new(vec![a.clone(), b.clone()]);
        assert!(tap.is_on());
        tap.publish(TapEvent::Message {
            conn: 3,
            from: Side::Server,
            bytes: b"hi",
            rule: None,
        });
        tap.publish(TapEvent::Stopped { forced: false });
        for recorder in [a, b] {
            assert_eq!(
                *recorder.0.lock().unwrap(),
                ["3 server hi", "Stopped { forced: false }"]
            );
        }
    }

    #[test]
    fn an_empty_tap_is_off() {
        assert!(!Tap::default().is_on());
    }
}
