//! What passes through tcpack, for those who watch it: the capture writer
//! and the web console. The message path publishes each connection's
//! opening, messages both ways and close; a `Watcher` copies what it needs
//! and returns at once. With no watcher, publishing is one branch.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

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

/// One thing that happened on a connection or the UDP socket.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Happening<'a> {
    /// A connection is being served: after any TLS handshake, before the
    /// greeting. `upstream`: in relay mode, the server side's address.
    Open {
        conn: u64,
        peer: SocketAddr,
        local: SocketAddr,
        protocol: Protocol,
        upstream: Option<SocketAddr>,
    },
    /// One message. From the client: one framed message, as the log shows
    /// it. From the server: one answer, greeting or push, as written.
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

/// Something that watches the traffic.
pub(crate) trait Watcher: Send + Sync {
    /// Called on the thread that moved the bytes, a worker among them: it
    /// must never block. Copy into a bounded queue; when full, drop and count.
    fn see(&self, at: SystemTime, what: &Happening<'_>);
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
    pub(crate) fn publish(&self, what: Happening<'_>) {
        if self.is_on() {
            self.tell(&what);
        }
    }

    #[inline(never)]
    fn tell(&self, what: &Happening<'_>) {
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
    struct Recorder(Mutex<Vec<String>>);

    impl Watcher for Recorder {
        fn see(&self, _at: SystemTime, what: &Happening<'_>) {
            let line = match what {
                Happening::Message {
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
        let (a, b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
        let tap = Tap::new(vec![a.clone(), b.clone()]);
        assert!(tap.is_on());
        tap.publish(Happening::Message {
            conn: 3,
            from: Side::Server,
            bytes: b"hi",
            rule: None,
        });
        tap.publish(Happening::Stopped { forced: false });
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
