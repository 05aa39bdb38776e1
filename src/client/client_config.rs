//! What `tcpack client` was asked to do, as `config` carries it over from the flags.

use std::time::Duration;

use crate::framing::Framing;

/// What `tcpack client` was asked to do.
#[derive(Debug, Clone)]
pub(crate) struct ClientConfig {
    /// HOST and PORT as given: none, one (HOST:PORT) or both.
    pub target: Vec<String>,
    /// `-m` messages; none: stdin's lines (or the tutorial's prompts).
    pub messages: Vec<String>,
    /// Send the messages this many times in all.
    pub count: Option<usize>,
    /// Milliseconds between repeated messages.
    pub interval: u64,
    /// Bytes sent for text.
    pub encoding: crate::encoding::TextEncoding,
    /// For the connection, each ack, and with UDP each try.
    pub timeout: Duration,
    /// Send and close without waiting for acks.
    pub no_wait: bool,
    /// Messages are hex bytes, acks shown as hex.
    pub hex: bool,
    /// How messages are framed and answers cut; `None`: lines, or reads.
    pub framing: Option<Framing>,
    /// Only the acks on stdout.
    pub quiet: bool,
    pub udp: bool,
    /// UDP: tries after the first.
    pub retries: u32,
    pub tls: crate::client_stream::TlsOptions,
    /// `--capture`, `--capture-pcap`, `--capture-max`.
    pub capture: crate::capture::CaptureOptions,
}
