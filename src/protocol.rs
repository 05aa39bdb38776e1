//! What tcpack says on the wire besides the user's own replies: the default
//! ack and the two notices for connections no worker will serve. The server
//! sends them, the client and bench recognise them, the tests expect them;
//! this is their one home. Also which transports are served, and how big a
//! datagram can be, for whoever reads one.

/// Where `tcpack server` listens, and `tcpack client` goes, unless told otherwise.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:7785";

/// The tutorial's ack: "received", then a newline so line-based clients see it.
pub const DEFAULT_ACK: &str = "已收到\n";

/// Told to a connection that waited past `--queue-timeout`, or found the queue full.
pub const BUSY: &str = "server busy\n";

/// Told to a connection that arrives, or is still waiting, during shutdown.
pub const SHUTTING_DOWN: &str = "server shutting down\n";

/// Why a connection is turned away, as the log says after the notice.
pub(crate) const SHUTTING_DOWN_WHY: &str = "the server is shutting down";

/// A buffer this big reads any UDP datagram whole, short of an IPv6
/// jumbogram: payloads are at most 65,507 bytes over IPv4, 65,527 over IPv6.
pub(crate) const DATAGRAM_BUFFER: usize = 64 * 1024;
const _: () = assert!(DATAGRAM_BUFFER >= 65_527);

/// Which protocols the server answers on its address and port (`--proto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    Tcp,
    /// Each datagram is one message.
    Udp,
    /// TCP and UDP on the same address and port.
    Both,
}

impl Proto {
    /// Whether TCP is served.
    pub(crate) fn tcp(self) -> bool {
        matches!(self, Proto::Tcp | Proto::Both)
    }

    /// Whether UDP is served.
    pub(crate) fn udp(self) -> bool {
        matches!(self, Proto::Udp | Proto::Both)
    }
}

/// Whether an answer line is one of the notices rather than an ack.
pub(crate) fn is_notice(line: &[u8]) -> bool {
    [BUSY, SHUTTING_DOWN]
        .iter()
        .any(|notice| line.starts_with(notice.trim_end().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_told_apart_from_acks() {
        assert!(is_notice(BUSY.as_bytes()));
        assert!(is_notice(b"server shutting down\r\n"));
        assert!(!is_notice(DEFAULT_ACK.as_bytes()));
    }
}
