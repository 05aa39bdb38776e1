//! The command line, as clap parses it. Validation beyond types lives in `config`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use clap::builder::PossibleValue;
use clap::{Parser, Subcommand, ValueEnum};

use crate::bench::Scenario;
use crate::decode::DecodeMode;
use crate::duration::{self, Unitless};
use crate::encoding::TextEncoding;
use crate::framing::Framing;
use crate::log::LogFormat;
use crate::protocol::Proto;
use crate::replay::Speed;

/// Implements `ValueEnum` for an enum of the core, which knows nothing of
/// clap: `Variant => "name" | "alias": "help"`, alias and help optional.
macro_rules! value_enum {
    ($type:ident { $($variant:ident => $name:literal $(| $alias:literal)? $(: $help:literal)?),+ $(,)? }) => {
        impl ValueEnum for $type {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($type::$variant),+]
            }

            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(match self {
                    $($type::$variant => PossibleValue::new($name)$(.alias($alias))?$(.help($help))?),+
                })
            }
        }
    };
}

/// The whole command line, as `main` parses it and hands it to `run`.
#[derive(Debug, Parser)]
#[command(
    name = "tcpack",
    version,
    about = "A TCP acknowledgement server: shows every message, answers each with an ack."
)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: CliCommand,
}

/// The subcommand and its flags.
#[derive(Debug, Subcommand)]
pub(crate) enum CliCommand {
    /// Listen for TCP clients, log every message they send and acknowledge it.
    Server(Box<ServerArgs>),
    /// Send messages and show each ack with its round-trip time.
    #[command(after_help = crate::exit::client_help())]
    Client(ClientArgs),
    /// Load-test any server that answers each line: throughput and latency percentiles.
    #[command(
        subcommand_negates_reqs = true,
        args_conflicts_with_subcommands = true,
        after_help = BENCH_HELP
    )]
    Bench(BenchArgs),
    /// Sit between clients and their real server: pass bytes both ways, log each direction, inject faults.
    #[command(
        after_long_help = RELAY_HELP,
        mut_arg("reply", |a| a.hide(true)),
        mut_arg("echo", |a| a.hide(true)),
        mut_arg("push", |a| a.hide(true)),
        mut_arg("push_every", |a| a.hide(true)),
        mut_arg("greeting", |a| a.hide(true)),
        mut_arg("proto", |a| a.hide(true)),
        mut_arg("udp_workers", |a| a.hide(true)),
        mut_arg("udp_rate", |a| a.hide(true)),
        mut_arg("framing", |a| a.help("How each direction is cut into messages for the log and the rules: raw, line, delim:SEQ, fixed:N or len:FIELD[@OFFSET][+ADJ|-ADJ] (tcpack server --help says more)").long_help(None)),
        mut_arg("reply_encoding", |a| a.help("Bytes of tcpack's own answers (--rule) on the wire; gbk lets Windows tools show them right")),
        mut_arg("seed", |a| a.help("Seed for the random choices of faults (probability, jitter) and rules, so a run can be repeated")),
        mut_arg("rules_inline", |a| a.help("Answer a client message matching MATCH with REPLY from tcpack, not forwarding it (mocks one command; repeatable)")),
        mut_arg("write_timeout", |a| a.help("Close both sides when one has not taken bytes owed to it for this long")),
        mut_arg("idle_timeout", |a| a.help("Close both sides when neither has sent anything for this long")),
    )]
    Relay(Box<RelayArgs>),
    /// Play a --capture transcript back: its clients against a server (--to), or its server (--serve, --to-rules).
    #[command(after_help = crate::exit::replay_help())]
    Replay(ReplayArgs),
}

/// `tcpack relay`'s long help: the faults.
const RELAY_HELP: &str = "Faults (--fault DIR:KIND[=V][,k=v], repeatable; they combine):
  DIR is up (client→server), down (server→client) or both. KIND:
  latency=200ms[,jitter=50ms]   hold each chunk that long (± jitter), order kept
  bandwidth=64KiB               at most that many bytes a second (B, KiB, MiB)
  slicer=16[,delay=5ms]         write in pieces of 16 bytes, delay between them
  limit-data=4096               close both sides after that many bytes in DIR
  timeout=5s                    forward nothing in DIR, then close both sides
  reset=2s                      after that long, RST to the receiving side of DIR, FIN to the other
  Each takes probability=P (0..1, default 1): the share of connections it applies to (--seed).
Examples:
  tcpack relay --bind 127.0.0.1:7000 --to 127.0.0.1:502 --framing len:u16be@4 --decode hex
  tcpack relay --to db.local:5432 --fault down:latency=200ms,jitter=50ms --fault up:slicer=8,delay=2ms
  tcpack relay --to api.example.com:443 --to-tls --tls-self-signed --rule 'PING=>PONG\\n'";

/// `tcpack bench`'s help after the flags: the many-machines recipe.
const BENCH_HELP: &str =
    "Many machines: run one shard per machine with a common start and a log each,
  tcpack bench HOST:PORT -c 256 -d 60 --shard I/4 --start-at TIME --hdr-log shardI.hlog
then add the logs up exactly: tcpack bench merge shard*.hlog (docs/bench.md says more)";

/// `tcpack relay`'s flags: the server's, plus where to and the faults.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RelayArgs {
    /// The real server every client is relayed to, HOST:PORT ([::1]:502 for IPv6)
    #[arg(long, value_name = "HOST:PORT", help_heading = "Relay")]
    pub to: String,

    /// How long to wait for the upstream to accept a connection (and finish a TLS handshake)
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs, help_heading = "Relay")]
    pub connect_timeout: Duration,

    /// A fault in one direction, as toxiproxy's: DIR:KIND[=V][,k=v] (--help lists them; repeatable)
    #[arg(
        long = "fault",
        value_name = "DIR:KIND[=V][,k=v]",
        help_heading = "Relay"
    )]
    pub faults: Vec<String>,

    /// Speak TLS to the upstream (trusting the system's CAs unless --to-tls-ca or --insecure)
    #[arg(long, help_heading = "Relay")]
    pub to_tls: bool,

    /// Trust the upstream's certificate if this PEM file (its CA, or the certificate itself) signed it
    #[arg(
        long,
        value_name = "FILE",
        requires = "to_tls",
        conflicts_with = "insecure",
        help_heading = "Relay"
    )]
    pub to_tls_ca: Option<std::path::PathBuf>,

    /// Do not check the upstream's certificate (prints a warning)
    #[arg(long, requires = "to_tls", help_heading = "Relay")]
    pub insecure: bool,

    /// The name the upstream's certificate must carry [default: the host of --to]
    #[arg(long, value_name = "NAME", requires = "to_tls", help_heading = "Relay")]
    pub to_tls_name: Option<String>,

    #[command(flatten)]
    pub server: ServerArgs,
}

/// `--capture`, `--capture-pcap` and `--capture-max`, for the server and the client.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CaptureArgs {
    /// Keep every message both ways in FILE: a JSON Lines transcript that `tcpack replay` plays back
    #[arg(long, value_name = "FILE", help_heading = "Capture")]
    pub capture: Option<std::path::PathBuf>,

    /// The same traffic as a pcap file that Wireshark and tshark follow as TCP streams (made-up packets)
    #[arg(long, value_name = "FILE", help_heading = "Capture")]
    pub capture_pcap: Option<std::path::PathBuf>,

    /// Stop adding to each capture file past this many bytes (a log line says so; serving goes on)
    #[arg(long, value_name = "BYTES", help_heading = "Capture", value_parser = clap::value_parser!(u64).range(1..))]
    pub capture_max: Option<u64>,
}

/// `tcpack replay`'s flags; `config` turns them into a `ReplayConfig`.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("side").required(true).args(["to", "serve", "to_rules"])))]
pub(crate) struct ReplayArgs {
    /// A transcript written by --capture
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,

    /// Play the client side against this server and compare its answers with the recorded ones
    #[arg(long, value_name = "HOST:PORT")]
    pub to: Option<String>,

    /// Play the server side: the recorded greeting, and each recorded message answered as it was
    #[arg(long)]
    pub serve: bool,

    /// Print the recorded messages and answers as a rules file for `tcpack server --rules`
    #[arg(long)]
    pub to_rules: bool,

    /// With --serve: the address to listen on
    #[arg(long, value_name = "ADDR:PORT", default_value = crate::protocol::DEFAULT_ADDRESS, value_parser = parse_bind, requires = "serve")]
    pub bind: SocketAddr,

    /// With --to: the recorded gaps divided by N (2: twice as fast), or max: no gaps at all
    #[arg(long, value_name = "N|max", default_value = "1", value_parser = parse_speed)]
    pub speed: Speed,

    /// With --to: one connection after another, instead of overlapping as recorded
    #[arg(long, requires = "to")]
    pub serial: bool,

    /// With --to: what matches REGEX does not count as a difference (timestamps, counters); repeatable
    #[arg(long = "ignore", value_name = "REGEX", requires = "to")]
    pub ignore: Vec<String>,

    /// With --to: how long to wait to connect and for each recorded answer
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub timeout: Duration,
}

/// `--speed`: a factor above 0, or `max`.
fn parse_speed(text: &str) -> Result<Speed, String> {
    if text == "max" {
        return Ok(Speed::Max);
    }
    match text.parse::<f64>() {
        Ok(n) if n > 0.0 && n.is_finite() => Ok(Speed::Times(n)),
        _ => Err(format!(
            "`{text}`: give a factor above 0, such as 2 or 0.5, or max"
        )),
    }
}

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

// The core's own enums, spelt for the command line: each value's name,
// aliases and the help `--help` lists for it.
value_enum!(Proto {
    Tcp => "tcp": "TCP only",
    Udp => "udp": "UDP only: each datagram is one message",
    Both => "both": "TCP and UDP on the same address and port",
});
value_enum!(TextEncoding {
    Utf8 => "utf-8" | "utf8",
    Gbk => "gbk",
});
value_enum!(DecodeMode {
    Auto => "auto": "UTF-8 if valid, else GBK if it decodes cleanly, else escaped bytes",
    Utf8 => "utf-8" | "utf8",
    Gbk => "gbk",
    Hex => "hex",
});
value_enum!(LogFormat {
    Text => "text",
    Json => "json",
});
value_enum!(Scenario {
    Rr => "rr": "Persistent connections, each sending a line and waiting for its ack",
    Conn => "conn": "Connect, one line, ack, close, again and again (like `echo hi | nc -N`)",
    Pipeline => "pipeline": "Persistent connections writing --depth lines at once, then reading --depth acks",
    Idle => "idle": "Hold --idle silent connections while fresh clients measure their time to an answer",
});

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

/// The client's and bench's `--framing` long help.
const CLIENT_FRAMING_HELP: &str = "Frame what is sent and cut what comes back as a server with this --framing does:
line and raw as without it; delim:SEQ ends each message with SEQ; fixed:N and len:FIELD[@OFFSET][+ADJ|-ADJ]
send messages as they are, len: with its length field written in, and show each answer without it.
Without --framing the client ends text messages with \\n and takes an answer to end at \\n or with a read";

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

/// `1s`, `500ms`, or a number of seconds; at least a millisecond.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let duration = duration::parse(text, Unitless::Seconds)?;
    if duration < Duration::from_millis(1) {
        return Err(format!("`{text}` is shorter than 1ms"));
    }
    Ok(duration)
}

/// An address to listen on as people write it: `127.0.0.1:7785`,
/// `[::1]:7785`, `localhost:7785`, or a bare port for loopback, as `ncat -l
/// 7785` takes one. A name that means both IPv4 and IPv6 (localhost) is taken
/// as IPv4, which is what most clients try first or alone.
fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    // std would read `::1` as host `::`, port 1.
    if text.matches(':').count() > 1 && !text.starts_with('[') {
        return Err("an IPv6 address goes in brackets, as in [::1]:7785".into());
    }
    let usage = "give ADDR:PORT such as 127.0.0.1:7785, [::1]:7785 or localhost:7785, or a PORT";
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| format!("{e}; {usage}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("the name has no address; {usage}"))
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a whole number")),
    }
}

/// `tcpack bench`'s flags; `config` turns them into a `BenchConfig`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BenchArgs {
    /// Server as HOST:PORT
    #[arg(value_name = "HOST:PORT", required = true)]
    pub target: Option<String>,

    /// What to measure (--help says more)
    #[arg(long, value_enum, default_value_t = Scenario::Rr)]
    pub scenario: Scenario,

    /// Concurrent connections (rr, pipeline) or connect loops (conn)
    #[arg(short, long, value_name = "C", default_value_t = 16, value_parser = at_least_one)]
    pub connections: usize,

    /// Messages per connection (rr, pipeline), connections per loop (conn) or fresh clients (idle); 0: until --duration
    #[arg(short = 'n', long, value_name = "M", default_value_t = 0)]
    pub messages: u64,

    /// Bytes per message, its final \n included
    #[arg(short, long, value_name = "BYTES", default_value_t = 16, value_parser = at_least_one)]
    pub size: usize,

    /// Seconds measured, after the warm-up; every run ends by then
    #[arg(short, long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub duration: Duration,

    /// Seconds run first and not counted
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_secs_or_zero)]
    pub warmup: Duration,

    /// Lines per burst in the pipeline scenario
    #[arg(long, value_name = "K", default_value_t = 16, value_parser = at_least_one)]
    pub depth: usize,

    /// Silent connections held open in the idle scenario
    #[arg(long, value_name = "I", default_value_t = 1000)]
    pub idle: usize,

    /// Seconds to wait for a connection or an ack before counting a timeout
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub timeout: Duration,

    /// The server's process id: adds its CPU time per op and memory (Linux /proc)
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,

    /// Frame messages and cut answers as a server with this --framing does (line: as without it)
    #[arg(long, value_name = "FRAMING", default_value = "line", long_help = CLIENT_FRAMING_HELP)]
    pub framing: Framing,

    /// Each message is these hex bytes (placeholders such as {crc16_modbus}; {conn}: the connection's index, from a shard's offset) instead of --size bytes
    #[arg(long, value_name = "HEX")]
    pub hex: Option<String>,

    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,

    /// rr over UDP: each connection is a UDP socket sending a datagram and waiting for its answer
    #[arg(long)]
    pub udp: bool,

    /// Run shard I (0-based) of N: this shard's share of -c, its connections numbered from its offset
    #[arg(long, value_name = "I/N", value_parser = crate::bench::parse_shard, conflicts_with = "shards")]
    pub shard: Option<(usize, usize)>,

    /// N shards, this one's index from JOB_COMPLETION_INDEX (as a Kubernetes Indexed Job sets it)
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub shards: Option<usize>,

    /// Wait until TIME (RFC 3339 or unix seconds), then start; with --duration all shards end together
    #[arg(long, value_name = "TIME", value_parser = crate::bench::parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,

    /// Write the latencies as an HdrHistogram interval log (one histogram a second, in ns) for `bench merge`
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<std::path::PathBuf>,

    /// No live progress line on stderr (shown only on a terminal, for runs over 2 s)
    #[arg(short, long)]
    pub quiet: bool,

    #[command(flatten)]
    pub tls: ClientTlsArgs,

    #[command(subcommand)]
    pub command: Option<BenchCommand>,
}

/// What `tcpack bench` does besides loading a server.
#[derive(Debug, Clone, clap::Subcommand)]
pub(crate) enum BenchCommand {
    /// Add up the --hdr-log files of one run's shards exactly and print one report
    Merge(MergeArgs),
}

/// `tcpack bench merge`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct MergeArgs {
    /// Interval logs written by `tcpack bench --hdr-log`, one per shard
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<std::path::PathBuf>,

    /// Print the report as JSON: an array with one report per tag (scenario)
    #[arg(long)]
    pub json: bool,

    /// Add a row per file (messages, rate, errors, p50/p99/max), so a slow shard stands out
    #[arg(long)]
    pub per_shard: bool,

    /// Refuse files whose start times are further apart: they are from different runs
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_secs_or_zero)]
    pub max_skew: Duration,
}

/// A number of seconds (`0.5`, so tests and impatient users can say it),
/// or `500ms`, `1.5s`; zero too.
fn parse_secs_or_zero(text: &str) -> Result<Duration, String> {
    duration::parse(text, Unitless::Seconds)
}

/// As `parse_secs_or_zero`, but more than zero: a timeout of nothing would
/// end everything at once.
fn parse_secs(text: &str) -> Result<Duration, String> {
    let duration = duration::parse(text, Unitless::Seconds)?;
    if duration.is_zero() {
        return Err(format!("`{text}` must be more than 0 seconds"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn client_help_lists_the_exit_statuses() {
        let mut cli = Cli::command();
        let help = cli
            .find_subcommand_mut("client")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains(&crate::exit::client_help()), "{help}");
    }

    #[test]
    fn server_help_states_the_udp_defaults_the_config_uses() {
        let mut cli = Cli::command();
        let help = cli
            .find_subcommand_mut("server")
            .unwrap()
            .render_help()
            .to_string();
        let flag = |name: &str| {
            let start = help
                .find(name)
                .unwrap_or_else(|| panic!("{name} in {help}"));
            let rest = &help[start + name.len()..];
            rest[..rest.find("\n  -").unwrap_or(rest.len())].to_owned()
        };
        let workers = format!("[default: {}]", crate::config::DEFAULT_UDP_WORKERS);
        assert!(flag("--udp-workers").contains(&workers), "{help}");
        let rate = format!("[default: {}]", crate::config::DEFAULT_UDP_RATE);
        assert!(flag("--udp-rate").contains(&rate), "{help}");
    }

    #[test]
    fn bind_takes_addresses_localhost_and_a_bare_port() {
        let v4: SocketAddr = "127.0.0.1:7785".parse().unwrap();
        assert_eq!(parse_bind("127.0.0.1:7785"), Ok(v4));
        assert_eq!(parse_bind("7785"), Ok(v4));
        // Only where /etc/hosts answers for localhost, so no query leaves the machine.
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        if hosts
            .lines()
            .any(|l| l.starts_with("127.") && l.contains("localhost"))
        {
            assert_eq!(parse_bind("localhost:7785"), Ok(v4));
        }
        assert_eq!(parse_bind("[::1]:0"), Ok("[::1]:0".parse().unwrap()));
        for bad in ["127.0.0.1", "127.0.0.1:http", "localhost:99999"] {
            let error = parse_bind(bad).unwrap_err();
            assert!(error.contains("give ADDR:PORT such as"), "{bad}: {error}");
        }
        let error = parse_bind("::1").unwrap_err();
        assert!(error.contains("goes in brackets"), "{error}");
    }

    #[test]
    fn seconds_accept_fractions_and_refuse_nonsense() {
        assert_eq!(parse_secs("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_secs("300"), Ok(Duration::from_secs(300)));
        assert!(parse_secs("0").is_err());
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("soon").is_err());
        assert!(parse_secs("NaN").is_err());
    }
}
