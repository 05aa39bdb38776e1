//! What the counters tell apart: why a connection was turned away, and
//! the kinds of error. Each is a label value on `/metrics`.

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// `server busy`: the queue was full, or no worker came within `--queue-timeout`.
    Busy = 0,
    /// `server shutting down`.
    ShuttingDown = 1,
}

impl Rejection {
    pub(crate) const ALL: [Rejection; 2] = [Rejection::Busy, Rejection::ShuttingDown];

    /// The label value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Rejection::Busy => "busy",
            Rejection::ShuttingDown => "shutting_down",
        }
    }
}

/// The kinds of error the server tells apart, each counted on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// `accept` failed (out of descriptors, say).
    Accept = 0,
    /// A read or write on a connection failed (not a reset: that is a close).
    Io = 1,
    /// A client did not take its answers within `--write-timeout`.
    WriteTimeout = 2,
    /// A client did not take a push within `--write-timeout`.
    Push = 3,
    /// A TLS handshake failed.
    TlsHandshake = 4,
    /// Serving a connection or a datagram panicked (a bug in tcpack).
    Panic = 5,
    /// Receiving or sending a datagram failed.
    Udp = 6,
    /// A frame could not be cut (a length over `--max-frame`).
    BadFrame = 7,
}

impl Failure {
    pub(crate) const ALL: [Failure; 8] = [
        Failure::Accept,
        Failure::Io,
        Failure::WriteTimeout,
        Failure::Push,
        Failure::TlsHandshake,
        Failure::Panic,
        Failure::Udp,
        Failure::BadFrame,
    ];

    /// The label value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Failure::Accept => "accept",
            Failure::Io => "io",
            Failure::WriteTimeout => "write_timeout",
            Failure::Push => "push",
            Failure::TlsHandshake => "tls_handshake",
            Failure::Panic => "panic",
            Failure::Udp => "udp",
            Failure::BadFrame => "bad_frame",
        }
    }
}
