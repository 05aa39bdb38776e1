//! Why the client failed, each reason with its own exit status.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::exit::Exit;

/// Why the client failed; each has its own exit status (`Exit`), listed in `--help`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("{0}")]
    Usage(String),
    #[error("connection to {0} refused: is the server running on that port?")]
    Refused(SocketAddr),
    #[error("no answer from {0} within {1:?}: check the address and firewall, or raise --timeout")]
    ConnectTimeout(SocketAddr, Duration),
    #[error("cannot resolve {0:?}: {1}; check the host name")]
    NotResolved(String, io::Error),
    #[error("the server closed the connection before acking message {0}")]
    ClosedEarly(u64),
    #[error(
        "no ack for message {0} within {1:?}: the server may be busy or not ack; raise --timeout or use --no-wait"
    )]
    AckTimeout(u64, Duration),
    #[error("the server turned the connection away with {0:?}; try again later")]
    TurnedAway(String),
    #[error(
        "{0} is unreachable: each of {1} tries got an ICMP port unreachable; is a UDP server running on that port (tcpack server --proto udp)?"
    )]
    UdpRefused(SocketAddr, u32),
    #[error(
        "no answer to message {0} after {1} tries of {2:?} each: the server may be down, not answer, or limit this address (--udp-rate); raise --timeout or --retries"
    )]
    NoAnswer(u64, u32, Duration),
    #[error("{0}: {1}")]
    Io(&'static str, io::Error),
    #[error("{0}")]
    Tls(crate::client_stream::TlsError),
}

impl ClientError {
    /// The exit status that tells this failure apart for scripts.
    pub(crate) fn exit(&self) -> Exit {
        match self {
            ClientError::Io(..) => Exit::Failure,
            ClientError::Usage(_) => Exit::Usage,
            ClientError::Refused(_) | ClientError::UdpRefused(..) => Exit::Refused,
            ClientError::ConnectTimeout(..) => Exit::ConnectTimeout,
            ClientError::NotResolved(..) => Exit::NotResolved,
            ClientError::ClosedEarly(_) => Exit::ClosedEarly,
            ClientError::AckTimeout(..) | ClientError::NoAnswer(..) => Exit::NoAck,
            ClientError::TurnedAway(_) => Exit::TurnedAway,
            ClientError::Tls(_) => Exit::Tls,
        }
    }
}

/// Bad usage or input, with what to do instead.
pub(super) fn usage(message: &str) -> ClientError {
    ClientError::Usage(message.to_owned())
}
