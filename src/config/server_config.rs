//! What `tcpack server` and `tcpack relay` run with: `ServerConfig` and its
//! parts, as `server_from_args` checks them in.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::answer::Reply;
use crate::capture::CaptureOptions;
use crate::client_stream::TlsClient;
use crate::decode::DecodeMode;
use crate::encoding::TextEncoding;
use crate::fault_spec::Fault;
use crate::framing::Framing;
use crate::log::LogFormat;
use crate::modbus::Table;
use crate::protocol::Proto;
use crate::rules::{Rules, Template};
use crate::state::Store;
use crate::web::WebConfig;

/// UDP receiver threads when `--udp-workers` is not given: receiving is
/// mostly the kernel's work, and more threads than this only add wake-ups
/// (README, UDP, for the measurement).
pub(crate) const DEFAULT_UDP_WORKERS: usize = 4;

/// UDP answers a second to one source address when `--udp-rate` is not
/// given: enough for a device or a person testing, too few to make tcpack
/// worth aiming at a victim with a spoofed source (README, UDP).
pub(crate) const DEFAULT_UDP_RATE: u32 = 100;

/// TLS for the server, loaded and checked at start.
pub(crate) struct TlsConfig {
    pub server: crate::tls::ServerTls,
    /// `--tls-mode auto`: plaintext clients are served too.
    pub auto: bool,
    pub handshake_timeout: Duration,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("source", &self.server.source)
            .field("auto", &self.auto)
            .finish_non_exhaustive()
    }
}

/// `--push TEXT --push-every DUR`: a heartbeat to every served connection.
#[derive(Debug)]
pub(crate) struct Push {
    pub text: Template,
    pub every: Duration,
}

/// `tcpack relay`: where each client is relayed to, and how badly.
pub(crate) struct RelayConfig {
    /// `--to` as given (a name is resolved for each connection).
    pub to: String,
    pub connect_timeout: Duration,
    pub faults: Vec<Fault>,
    /// `--to-tls`: how to speak TLS to the upstream.
    pub tls: Option<TlsClient>,
}

impl std::fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayConfig")
            .field("to", &self.to)
            .field("faults", &self.faults)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Everything the server needs, checked once at start.
#[derive(Debug)]
pub(crate) struct ServerConfig {
    pub bind: SocketAddr,
    pub workers: usize,
    pub backlog: i32,
    pub framing: Framing,
    pub reply: Reply,
    /// How operator text is encoded on the wire.
    pub reply_encoding: TextEncoding,
    pub decode: DecodeMode,
    pub idle_timeout: Duration,
    pub queue_timeout: Duration,
    pub max_pending: usize,
    pub drain_timeout: Duration,
    pub write_timeout: Duration,
    /// `--max-frame` (`--max-line`): the longest message buffered.
    pub max_frame: usize,
    pub log_format: LogFormat,
    pub quiet: bool,
    pub reuse_port: bool,
    pub status_bind: Option<SocketAddr>,
    /// `--rule`s and `--rules FILE`; `None` when neither was given.
    pub rules: Option<Rules>,
    /// The Modbus register table (`--modbus FILE` or the rules file's
    /// `[modbus]`), one for the whole server: every connection reads and
    /// writes the same values.
    pub modbus: Option<Arc<Table>>,
    /// The rules' shared variables (`global.*`, `key.*`), loaded from
    /// `--state-file` if given; the rules hold it too.
    pub store: Arc<Store>,
    /// `--state-file`: where the store is written at a clean stop and on `save`.
    pub state_file: Option<std::path::PathBuf>,
    /// Seeds each connection's random choices from this and its id.
    pub seed: Option<u64>,
    pub greeting: Option<Template>,
    pub push: Option<Push>,
    /// Whether stdin is read for operator commands.
    pub console: bool,
    /// Whether the status port takes commands.
    pub control: bool,
    /// `None`: plaintext only, as the tutorial.
    pub tls: Option<TlsConfig>,
    pub proto: Proto,
    /// UDP receiver threads.
    pub udp_workers: usize,
    /// UDP answers a second to one source address; 0: unlimited.
    pub udp_rate: u32,
    /// `--web`: the web console; `None` when not asked for.
    pub web: Option<WebConfig>,
    /// Debug builds only: the knobs tests set from the environment, read
    /// once here (`crate::test_hooks`). Release builds have no such field.
    #[cfg(debug_assertions)]
    pub test_hooks: crate::test_hooks::TestHooks,
    /// `tcpack relay`: each connection is relayed to an upstream instead of answered.
    pub relay: Option<RelayConfig>,
    /// `--capture`, `--capture-pcap`, `--capture-max`.
    pub capture: CaptureOptions,
}

impl ServerConfig {
    /// Whether anything can push to connections: heartbeats or an operator.
    pub(crate) fn can_push(&self) -> bool {
        self.push.is_some() || self.console || self.control || self.web.is_some()
    }
}
