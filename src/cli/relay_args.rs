//! `tcpack relay`'s flags: the server's, plus where to and the faults.

use std::time::Duration;

use super::server_args::ServerArgs;
use super::value_parsers::parse_secs;

/// `tcpack relay`'s long help: the faults.
pub(super) const RELAY_HELP: &str = "Faults (--fault DIR:KIND[=V][,k=v], repeatable; they combine):
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
