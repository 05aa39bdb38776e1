//! `tcpack client`'s flags, and the TLS flags it shares with `tcpack bench`.

use std::time::Duration;

use super::capture_args::CaptureArgs;
use super::value_parsers::{at_least_one, parse_secs};
use crate::encoding::TextEncoding;
use crate::framing::Framing;

/// `tcpack client`'s flags; `config` turns them into a `ClientConfig`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ClientArgs {
    /// Server address or name, or HOST:PORT ([::1]:7785 for IPv6); none: 127.0.0.1:7785 (asked for on a terminal without -m)
    pub host: Option<String>,

    /// Server port, unless given in HOST:PORT
    pub port: Option<String>,

    /// Message to send instead of stdin's lines (repeatable)
    #[arg(short, long = "message", value_name = "TEXT")]
    pub messages: Vec<String>,

    /// Send the -m messages this many times in all, like ping
    #[arg(short, long, value_name = "N", requires = "messages", value_parser = at_least_one)]
    pub count: Option<usize>,

    /// Pause between repeated messages with --count
    #[arg(
        short,
        long,
        value_name = "MS",
        default_value_t = 1000,
        requires = "count"
    )]
    pub interval: u64,

    /// Bytes sent for text: gbk as Windows network tools send it
    #[arg(long, value_enum, value_name = "ENC", default_value_t = TextEncoding::Utf8)]
    pub encoding: TextEncoding,

    /// Seconds to wait for the connection and for each ack (with --udp: for each try)
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub timeout: Duration,

    /// Send and close without waiting for acks, like the tutorial's client
    #[arg(long)]
    pub no_wait: bool,

    /// Messages are hex bytes ("48 69 0a", with placeholders such as {crc16_modbus}); acks are shown as hex
    #[arg(long)]
    pub hex: bool,

    /// Frame messages and cut answers as a server with this --framing does [default: answers end at \n, or with a read]
    #[arg(long, value_name = "FRAMING", long_help = CLIENT_FRAMING_HELP, conflicts_with = "udp")]
    pub framing: Option<Framing>,

    /// Print only the acks: no progress, round-trip times or summary
    #[arg(short, long)]
    pub quiet: bool,

    /// Send each message as one UDP datagram and wait for the answer datagram
    #[arg(long)]
    pub udp: bool,

    /// UDP: tries after the first for a message that got no answer within --timeout
    #[arg(long, value_name = "N", default_value_t = 2, requires = "udp")]
    pub retries: u32,
    #[command(flatten)]
    pub tls: ClientTlsArgs,
    #[command(flatten)]
    pub capture: CaptureArgs,
}

/// TLS for `tcpack client` and `tcpack bench`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ClientTlsArgs {
    /// Speak TLS to the server
    #[arg(long, help_heading = "TLS")]
    pub tls: bool,

    /// Trust the server's certificate if this PEM file (its CA, or the certificate itself) signed it
    /// [default: the system's CAs, or the bundle named by SSL_CERT_FILE]
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls",
        conflicts_with = "insecure",
        help_heading = "TLS"
    )]
    pub tls_ca: Option<std::path::PathBuf>,

    /// Do not check the server's certificate (prints a warning)
    #[arg(long, requires = "tls", help_heading = "TLS")]
    pub insecure: bool,

    /// The name the certificate must carry [default: the host connected to]
    #[arg(long, value_name = "NAME", requires = "tls", help_heading = "TLS")]
    pub tls_name: Option<String>,

    /// A client certificate (PEM) for servers that require one (mutual TLS), with --tls-key
    #[arg(long, value_name = "FILE", requires_all = ["tls", "tls_key"], help_heading = "TLS")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert", help_heading = "TLS")]
    pub tls_key: Option<std::path::PathBuf>,
}

/// The client's and bench's `--framing` long help.
pub(super) const CLIENT_FRAMING_HELP: &str = "Frame what is sent and cut what comes back as a server with this --framing does:
line and raw as without it; delim:SEQ ends each message with SEQ; fixed:N and len:FIELD[@OFFSET][+ADJ|-ADJ]
send messages as they are, len: with its length field written in, and show each answer without it.
Without --framing the client ends text messages with \\n and takes an answer to end at \\n or with a read";
