//! What a served connection's skeleton (`worker`) and its two handlers
//! (`answering`, `relay`) agree on: how a connection ended (`Ending`), what
//! a handler hands back for the close (`Served`), and the two things both
//! handlers do at a moment only they know: telling the tap the connection
//! opened, and isolating a panic. The skeleton does everything else once,
//! for both: the `accepted` line, the socket's options, the TLS accept, the
//! `closed` line, the counters, and the close (lingering, or a reset).

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpStream};
use std::panic::{self, AssertUnwindSafe};

use crate::framing::FrameError;
use crate::log::{ConnEvent, ConnTag, RelayTotals, panic_message};
use crate::rules::HeldRules;
use crate::server::shared::ServerState;
use crate::stats::{Failure, Protocol};
use crate::tap::{Side, TapEvent, TapOpen};

/// Why a served connection ended, as its `closed` line says it. Where a
/// variant names a `Side`, it is the side it happened on: an answered
/// connection has only the client; a relayed one also the upstream,
/// which is the connection's server side (`Side::Server`).
pub(in crate::server) enum Ending {
    /// The client closed its side (relayed: both sides closed theirs, and
    /// each got everything): nothing more can arrive, so no linger is needed.
    Eof,
    IdleTimeout,
    /// A side did not take its bytes within `--write-timeout`.
    WriteTimeout(Side),
    /// A side reset (relayed: the other gets a reset too).
    Reset(Side),
    /// Shut down by the drain after `--drain-timeout`.
    Drained,
    /// A read or write on a side failed.
    Failed(Side, io::Error),
    /// Serving the connection panicked: a bug in tcpack, isolated to it.
    Panicked,
    /// A rule with `action = "close"` answered.
    RuleClose,
    /// A rule with `action = "reset"` matched.
    RuleReset,
    /// The operator's `/close` or `close ID`.
    OperatorClose,
    /// A push was not taken within `--write-timeout`.
    PushFailed,
    /// No TLS conversation came about; why.
    Handshake(String),
    /// The input cannot be framed (a length over --max-frame).
    BadFrame(FrameError),
    /// One of the relay's faults ended it: what it says, and which sides get a reset.
    Fault {
        what: String,
        reset_client: bool,
        reset_upstream: bool,
    },
    /// The relay could not reach its upstream.
    UpstreamFailed,
}

impl Ending {
    /// What the `closed` line and the tap say. `relayed`: the connection
    /// has two sides, so the words name which; an answered connection's
    /// one far end is its "peer".
    pub(in crate::server) fn reason(&self, relayed: bool) -> &'static str {
        use Side::{Client, Server};
        match (self, relayed) {
            (Ending::Eof, _) => "eof",
            (Ending::IdleTimeout, _) => "idle timeout",
            (Ending::WriteTimeout(_), false) => "write timeout (client is not reading its acks)",
            (Ending::WriteTimeout(Client), true) => "write timeout (client is not reading)",
            (Ending::WriteTimeout(Server), true) => "write timeout (upstream is not reading)",
            (Ending::Reset(_), false) => "reset by peer",
            (Ending::Reset(Client), true) => "reset by client",
            (Ending::Reset(Server), true) => "reset by upstream",
            (Ending::Drained, _) => "drain timeout",
            (Ending::Failed(..), false) => "error",
            (Ending::Failed(Client, _), true) => "client error",
            (Ending::Failed(Server, _), true) => "upstream error",
            (Ending::Panicked, _) => "internal error",
            (Ending::RuleClose, _) => "closed by rule",
            (Ending::RuleReset, _) => "reset by rule",
            (Ending::OperatorClose, _) => "closed by operator",
            (Ending::PushFailed, _) => "push failed (client is not reading)",
            (Ending::Handshake(_), _) => "tls handshake failed",
            (Ending::BadFrame(_), _) => "bad frame",
            (
                Ending::Fault {
                    reset_client: false,
                    reset_upstream: false,
                    ..
                },
                _,
            ) => "closed by fault",
            (Ending::Fault { .. }, _) => "reset by fault",
            (Ending::UpstreamFailed, _) => "upstream failed",
        }
    }

    /// What the `closed` line adds in parentheses.
    pub(in crate::server) fn error(&self) -> Option<String> {
        match self {
            Ending::Failed(_, e) => Some(e.to_string()),
            Ending::Handshake(why) => Some(why.clone()),
            Ending::BadFrame(why) => Some(why.to_string()),
            _ => None,
        }
    }

    /// The error it counts as, if it is one.
    pub(in crate::server) fn error_kind(&self) -> Option<Failure> {
        match self {
            Ending::WriteTimeout(_) => Some(Failure::WriteTimeout),
            Ending::Failed(..) => Some(Failure::Io),
            Ending::Panicked => Some(Failure::Panic),
            Ending::PushFailed => Some(Failure::Push),
            Ending::Handshake(_) => Some(Failure::TlsHandshake),
            Ending::BadFrame(_) => Some(Failure::BadFrame),
            _ => None,
        }
    }

    /// Whether `side`'s socket closes with a reset (`SO_LINGER` 0): the
    /// other side's reset passed on, a rule's or a fault's.
    pub(in crate::server) fn resets(&self, side: Side) -> bool {
        match self {
            Ending::Reset(by) => *by != side,
            Ending::RuleReset => side == Side::Client,
            Ending::Fault {
                reset_client,
                reset_upstream,
                ..
            } => match side {
                Side::Client => *reset_client,
                Side::Server => *reset_upstream,
            },
            _ => false,
        }
    }

    /// Whether the sockets get a lingering close: not after a reset, nor
    /// when both ends have closed already.
    pub(in crate::server) fn lingers(&self) -> bool {
        !(matches!(self, Ending::Eof | Ending::Reset(_))
            || self.resets(Side::Client)
            || self.resets(Side::Server))
    }

    /// Whether a TLS client gets a close_notify: nothing is written after a reset or a write timeout.
    pub(in crate::server) fn says_goodbye(&self) -> bool {
        !matches!(
            self,
            Ending::RuleReset | Ending::Reset(_) | Ending::WriteTimeout(_)
        )
    }

    /// A failed read of the client, as an answered connection ends on it.
    pub(in crate::server) fn after_read(error: io::Error) -> Self {
        match error.kind() {
            // On Unix an expired socket timeout is WouldBlock, on Windows TimedOut.
            ErrorKind::WouldBlock | ErrorKind::TimedOut => Ending::IdleTimeout,
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                Ending::Reset(Side::Client)
            }
            _ => Ending::Failed(Side::Client, error),
        }
    }

    /// A failed write to the client, as an answered connection ends on it.
    pub(in crate::server) fn after_write(error: io::Error) -> Self {
        match error.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => Ending::WriteTimeout(Side::Client),
            ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                Ending::Reset(Side::Client)
            }
            _ => Ending::Failed(Side::Client, error),
        }
    }
}

/// What the `closed` line counts: an answered connection's messages and
/// bytes read, or a relayed one's each way.
pub(in crate::server) enum Totals {
    Answered { messages: u64, bytes: u64 },
    Relayed(RelayTotals),
}

impl Totals {
    /// Nothing yet, for a connection that ended before its handler ran.
    pub(in crate::server) fn none(relayed: bool) -> Self {
        match relayed {
            true => Totals::Relayed(RelayTotals::default()),
            false => Totals::Answered {
                messages: 0,
                bytes: 0,
            },
        }
    }
}

/// What a handler hands back to the skeleton for the close.
pub(in crate::server) struct Served {
    pub ending: Ending,
    pub totals: Totals,
    /// The client's socket, whose close is the skeleton's.
    pub client: TcpStream,
    /// A relayed connection's upstream socket, closed as the client's is.
    pub upstream: Option<TcpStream>,
    /// Whether the tap was told it opened, so it is told it closed.
    pub opened: bool,
}

/// What a worker keeps from one connection to the next, so a short
/// connection costs no allocation for it.
#[derive(Default)]
pub(in crate::server) struct Buffers {
    pub read: Vec<u8>,
    /// Answers owed for the current read, sent in one write.
    pub owed: Vec<u8>,
    /// The rules as this worker holds them, with its regex caches.
    pub rules: Option<HeldRules>,
}

/// Runs a handler's serving; a panic in it ends this connection only:
/// logged, it comes back as `Err(Ending::Panicked)` and the worker goes on.
pub(in crate::server) fn isolate<T>(
    state: &ServerState,
    tag: ConnTag,
    run: impl FnOnce() -> Result<T, Ending>,
) -> Result<T, Ending> {
    panic::catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|payload| {
        log_panic(state, tag, payload.as_ref());
        Err(Ending::Panicked)
    })
}

/// The line saying serving the connection panicked, and why.
#[inline(never)]
fn log_panic(state: &ServerState, tag: ConnTag, payload: &(dyn std::any::Any + Send)) {
    let message = panic_message(payload);
    state.log.log(Some(tag), &ConnEvent::Panicked { message });
}

/// Tells the tap a connection (from the client's socket `client`) is
/// being served; false if its address is gone. `upstream`: where it is
/// relayed to.
#[inline(never)]
pub(in crate::server) fn publish_open(
    state: &ServerState,
    tag: ConnTag,
    client: &TcpStream,
    protocol: Protocol,
    upstream: Option<SocketAddr>,
) -> bool {
    let Ok(local) = client.local_addr() else {
        return false;
    };
    state.tap.publish(TapEvent::Open(TapOpen {
        conn: tag.id,
        peer: tag.peer,
        local,
        protocol,
        upstream,
    }));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How each side's socket closes: (client resets, upstream resets, lingers).
    fn close_of(ending: &Ending) -> (bool, bool, bool) {
        (
            ending.resets(Side::Client),
            ending.resets(Side::Server),
            ending.lingers(),
        )
    }

    #[test]
    fn a_reset_passes_to_the_other_side_and_nothing_lingers_after_one() {
        assert_eq!(close_of(&Ending::Reset(Side::Client)), (false, true, false));
        assert_eq!(close_of(&Ending::Reset(Side::Server)), (true, false, false));
        assert_eq!(close_of(&Ending::RuleReset), (true, false, false));
        let fault = |reset_client, reset_upstream| Ending::Fault {
            what: String::new(),
            reset_client,
            reset_upstream,
        };
        assert_eq!(close_of(&fault(false, true)), (false, true, false));
        assert_eq!(close_of(&fault(false, false)), (false, false, true));
        assert_eq!(close_of(&Ending::Eof), (false, false, false));
        assert_eq!(close_of(&Ending::RuleClose), (false, false, true));
        assert_eq!(close_of(&Ending::Panicked), (false, false, true));
    }

    #[test]
    fn an_answered_connection_s_one_side_is_its_peer() {
        let reset = Ending::Reset(Side::Client);
        assert_eq!(reset.reason(false), "reset by peer");
        assert_eq!(reset.reason(true), "reset by client");
        assert_eq!(
            Ending::Reset(Side::Server).reason(true),
            "reset by upstream"
        );
        let timeout = Ending::WriteTimeout(Side::Client);
        assert_eq!(
            timeout.reason(false),
            "write timeout (client is not reading its acks)"
        );
        assert_eq!(
            timeout.reason(true),
            "write timeout (client is not reading)"
        );
        let failed = Ending::Failed(Side::Server, io::ErrorKind::Other.into());
        assert_eq!(failed.reason(true), "upstream error");
    }
}
