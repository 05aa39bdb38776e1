//! `tcpack server`'s flags, with its web console and TLS groups.

use std::net::SocketAddr;
use std::time::Duration;

use clap::ValueEnum;

use super::capture_args::CaptureArgs;
use super::value_parsers::{at_least_one, parse_bind, parse_interval, parse_secs};
use crate::decode::DecodeMode;
use crate::encoding::TextEncoding;
use crate::framing::Framing;
use crate::log::LogFormat;
use crate::protocol::Proto;

/// `--framing`'s long help: the framings, as docs/framing.md lists them.
const FRAMING_HELP: &str = "How a connection's bytes are cut into messages, each answered once:
  raw        one message per read of up to 1024 bytes, as the tutorial's recv(1024)
  line       one per \\n-terminated line; a final unterminated line is one at EOF
  delim:SEQ  one per byte sequence SEQ, which stays part of it; SEQ in escapes or hex:
             delim:\\r\\n, delim:0x03, delim:0x7e, delim:;
  fixed:N    every N bytes
  len:FIELD[@OFFSET][+ADJ|-ADJ]
             a length field FIELD (u8, u16be, u16le, u32be, u32le) starting OFFSET bytes
             into the frame (default 0); its value is the number of bytes after it plus
             ADJ (+2: a u16 that counts itself). The message is the frame without the
             field, and tcpack writes the field into everything it sends. Modbus TCP is
             len:u16be@4. A length over --max-frame closes the connection";

/// `tcpack server`'s flags; `config` checks them into a `ServerConfig`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServerArgs {
    /// Address to listen on (or a bare PORT on loopback); 0.0.0.0:7785 or [::]:7785 to expose it, port 0 picks a free port
    #[arg(long, value_name = "ADDR:PORT", default_value = crate::protocol::DEFAULT_ADDRESS, value_parser = parse_bind)]
    pub bind: SocketAddr,

    /// Worker threads = connections served at once; others wait in the queue
    #[arg(long, value_name = "N", default_value_t = 2048, value_parser = at_least_one)]
    pub workers: usize,

    /// Listen backlog, as the tutorial's listen(128)
    #[arg(long, value_name = "N", default_value_t = 128, value_parser = clap::value_parser!(i32).range(1..))]
    pub backlog: i32,

    /// How messages are cut: raw, line, delim:SEQ, fixed:N or len:FIELD[@OFFSET][+ADJ|-ADJ] (--help says more)
    #[arg(long, value_name = "FRAMING", default_value = "raw", long_help = FRAMING_HELP)]
    pub framing: Framing,

    /// Text of the ack; \n \r \t \\ are escapes, as in printf [default: 已收到\n]
    #[arg(long, value_name = "TEXT", conflicts_with = "echo")]
    pub reply: Option<String>,

    /// Reply with the received data instead of the ack text
    #[arg(long)]
    pub echo: bool,

    /// Bytes of the ack on the wire; gbk lets Windows tools show it right
    #[arg(long, value_enum, value_name = "ENC", default_value_t = TextEncoding::Utf8)]
    pub reply_encoding: TextEncoding,

    /// How received bytes are shown: auto = UTF-8 if valid, else GBK, else escaped bytes
    #[arg(long, value_enum, value_name = "MODE", default_value_t = DecodeMode::Auto)]
    pub decode: DecodeMode,

    /// Close a connection that has been silent this long, freeing its worker
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = parse_secs)]
    pub idle_timeout: Duration,

    /// A connection that waited this long for a worker is told `server busy` and closed
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub queue_timeout: Duration,

    /// Connections allowed to wait for a worker; beyond it they are told `server busy` at once
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = at_least_one)]
    pub max_pending: usize,

    /// On shutdown, how long active connections may go on before they are closed
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    pub drain_timeout: Duration,

    /// Close a connection whose client has not read its acks for this long
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    pub write_timeout: Duration,

    /// Longest message buffered: longer lines and delim messages are cut into pieces, a longer len: frame closes the connection
    #[arg(long, visible_alias = "max-line", value_name = "BYTES", default_value_t = 64 * 1024, value_parser = at_least_one)]
    pub max_frame: usize,

    /// Console log format, one event a line
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log connections and errors, not each message
    #[arg(long)]
    pub quiet: bool,

    /// Share the port with sibling instances (SO_REUSEPORT); on shutdown the listener closes at once
    #[arg(long)]
    pub reuse_port: bool,

    /// Also answer health checks here: `status ok|draining` and counters, then close;
    /// over HTTP, `GET /healthz` (200 ok, 503 draining) and `GET /metrics` (Prometheus)
    #[arg(long, value_name = "ADDR:PORT", value_parser = parse_bind)]
    pub status_bind: Option<SocketAddr>,

    /// tcp, udp, or both on the same address and port (udp: one datagram = one message)
    #[arg(long, value_enum, default_value_t = Proto::Tcp)]
    pub proto: Proto,

    /// UDP receiver threads, each blocking in recv_from on the socket [default: 4]
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub udp_workers: Option<usize>,

    /// UDP answers per second to one source address (reflection guard); 0: unlimited [default: 100]
    #[arg(long, value_name = "N")]
    pub udp_rate: Option<u32>,
    /// Answer MATCH with REPLY: MATCH is an exact message or /REGEX/; REPLY a template (repeatable, first match wins)
    #[arg(
        long = "rule",
        value_name = "MATCH=>REPLY",
        help_heading = "Scripted answers"
    )]
    pub rules_inline: Vec<String>,

    /// TOML file of [[rule]] tables (exact/prefix/contains/regex/hex, reply/reply_hex, action, delay, probability); SIGHUP reloads it
    #[arg(long = "rules", value_name = "FILE", help_heading = "Scripted answers")]
    pub rules_file: Option<std::path::PathBuf>,

    /// Modbus register table (a TOML file with a [modbus] table; docs/modbus.md): answers what no rule answers
    #[arg(long, value_name = "FILE", help_heading = "Scripted answers")]
    pub modbus: Option<std::path::PathBuf>,

    /// Keep the rules' global.* and key.* variables in FILE: loaded at start, written at a clean stop and on `save`
    #[arg(long, value_name = "FILE", help_heading = "Scripted answers")]
    pub state_file: Option<std::path::PathBuf>,

    /// At most N keys of key.* variables; a new key past N evicts the least recently used
    #[arg(long, value_name = "N", default_value_t = crate::state::DEFAULT_MAX_KEYS, value_parser = at_least_one, help_heading = "Scripted answers")]
    pub max_keys: usize,

    /// Seed for the rules' random choices (probability, delay ranges), so a run can be repeated
    #[arg(long, value_name = "N", help_heading = "Scripted answers")]
    pub seed: Option<u64>,

    /// Sent to each connection when a worker takes it (a template, as --reply)
    #[arg(long, value_name = "TEXT", help_heading = "Scripted answers")]
    pub greeting: Option<String>,

    /// Sent to every served connection each --push-every ({seq} counts pushes)
    #[arg(
        long,
        value_name = "TEXT",
        requires = "push_every",
        help_heading = "Scripted answers"
    )]
    pub push: Option<String>,

    /// How often --push is sent: 1s, 500ms, or seconds
    #[arg(long, value_name = "DUR", requires = "push", value_parser = parse_interval, help_heading = "Scripted answers")]
    pub push_every: Option<Duration>,

    /// Read operator commands (/list, /send ID TEXT, /all TEXT, /close ID) from stdin even when it is not a terminal
    #[arg(long, help_heading = "Scripted answers")]
    pub console: bool,

    /// Take commands on the status port too (list, send ID TEXT, all TEXT, close ID)
    #[arg(long, requires = "status_bind", help_heading = "Scripted answers")]
    pub control: bool,

    #[command(flatten)]
    pub tls: ServerTlsArgs,

    #[command(flatten)]
    pub capture: CaptureArgs,

    #[command(flatten)]
    pub web: WebArgs,
}

/// The web console's flags, shared by `server` and `relay`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WebArgs {
    /// Serve the web console here, e.g. 127.0.0.1:7786 (another address than loopback needs --web-token)
    #[arg(long, value_name = "ADDR:PORT", value_parser = parse_bind, help_heading = "Web console")]
    pub web: Option<SocketAddr>,

    /// Changes (send, close, reload) and the live stream need this token; required off loopback
    #[arg(
        long,
        value_name = "TOKEN",
        requires = "web",
        conflicts_with = "web_token_file",
        help_heading = "Web console"
    )]
    pub web_token: Option<String>,

    /// Read the --web-token from this file (its first line), so it stays out of `ps`
    #[arg(
        long,
        value_name = "FILE",
        requires = "web",
        help_heading = "Web console"
    )]
    pub web_token_file: Option<std::path::PathBuf>,

    /// Browser tabs that may watch at once, each with a thread of its own
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = at_least_one, help_heading = "Web console")]
    pub web_max_viewers: usize,
}

/// The server's TLS flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServerTlsArgs {
    /// Serve TLS with this PEM certificate chain (with --tls-key)
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "tls_self_signed",
        help_heading = "TLS"
    )]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert", help_heading = "TLS")]
    pub tls_key: Option<std::path::PathBuf>,

    /// Serve TLS with a throwaway certificate for localhost, 127.0.0.1, ::1 and each --tls-name
    #[arg(long, help_heading = "TLS")]
    pub tls_self_signed: bool,

    /// Another name (or IP address) for the self-signed certificate (repeatable)
    #[arg(
        long = "tls-name",
        value_name = "NAME",
        requires = "tls_self_signed",
        help_heading = "TLS"
    )]
    pub tls_names: Vec<String>,

    /// Write the self-signed certificate (PEM) here, for clients to trust (--tls-ca)
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_self_signed",
        help_heading = "TLS"
    )]
    pub tls_save_cert: Option<std::path::PathBuf>,

    /// only: TLS clients only; auto: TLS and plaintext on the same port, told apart by the first byte
    #[arg(long, value_enum, value_name = "MODE", help_heading = "TLS")]
    pub tls_mode: Option<TlsMode>,

    /// Require client certificates signed by this CA (PEM): mutual TLS
    #[arg(long, value_name = "FILE", help_heading = "TLS")]
    pub tls_client_ca: Option<std::path::PathBuf>,

    /// A TLS handshake not done within this long is dropped, freeing its worker
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs, help_heading = "TLS")]
    pub tls_handshake_timeout: Duration,
}

/// `--tls-mode`: whether plaintext clients share the TLS port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TlsMode {
    /// Every client must speak TLS
    Only,
    /// TLS clients and plaintext clients on one port
    Auto,
}
