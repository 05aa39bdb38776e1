//! What each command takes, built once from the parsed command line: the
//! one place that knows both `cli` and the parts it drives. The server's
//! configuration is checked here; the client's and the bench's are
//! carried over as they are.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use crate::answer::Reply;
use crate::bench::{BenchConfig, BenchJob, MergeConfig, ShardSpec};
use crate::capture::CaptureOptions;
use crate::cli::{
    BenchArgs, BenchCommand, CaptureArgs, ClientArgs, ClientTlsArgs, RelayArgs, ReplayArgs,
    ServerArgs, ServerTlsArgs, TlsMode, WebArgs,
};
use crate::client::ClientConfig;
use crate::client_stream::{TlsClient, TlsOptions};
use crate::decode::DecodeMode;
use crate::encoding::TextEncoding;
use crate::exit::UsageError;
use crate::fault_spec::Fault;
use crate::framing::Framing;
use crate::log::LogFormat;
use crate::modbus::Table;
use crate::protocol::{DEFAULT_ACK, Proto};
use crate::replay::{PlayedSide, ReplayConfig};
use crate::rules::{Rules, Template};
use crate::state::Store;
use crate::tls::ServerIdentity;
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
    /// Checks the parsed flags; a value that cannot be used is a `UsageError`.
    pub(crate) fn from_args(args: &ServerArgs) -> Result<Self> {
        let usage = |message: String| anyhow::Error::new(UsageError(message));
        let encoding = args.reply_encoding;
        let store = Arc::new(Store::new(args.max_keys));
        if let Some(path) = &args.state_file {
            crate::state::persist::load(&store, path).map_err(usage)?;
        }
        let rules = if args.rules_inline.is_empty() && args.rules_file.is_none() {
            None
        } else {
            Some(
                Rules::load(
                    &args.rules_inline,
                    args.rules_file.clone(),
                    encoding,
                    Arc::clone(&store),
                )
                .map_err(usage)?,
            )
        };
        let template = |flag: &str, text: &str| {
            Template::parse(text, encoding).map_err(|e| usage(format!("{flag} {text:?}: {e}")))
        };
        let modbus = Table::load(
            args.modbus.as_deref(),
            args.rules_file.as_deref(),
            &args.framing,
            &store,
        )
        .map_err(usage)?
        .map(Arc::new);
        if modbus.is_some() && args.proto == Proto::Udp {
            return Err(UsageError(
                "the Modbus table answers TCP (and TLS) connections: use --proto tcp or --proto both".into(),
            )
            .into());
        }
        if !args.proto.udp() && (args.udp_workers.is_some() || args.udp_rate.is_some()) {
            return Err(UsageError(
                "--udp-workers and --udp-rate apply to UDP: add --proto udp or --proto both".into(),
            )
            .into());
        }
        let reply = if args.echo {
            Reply::Echo
        } else if let (Some(text), Some(_)) = (&args.reply, &rules) {
            Reply::Template(template("--reply", text)?)
        } else {
            let text = args
                .reply
                .as_deref()
                .map_or_else(|| DEFAULT_ACK.to_owned(), unescape);
            let Some(bytes) = args.reply_encoding.encode(&text) else {
                return Err(UsageError(format!(
                    "--reply {text:?} has characters that GBK cannot encode; use --reply-encoding utf-8"
                ))
                .into());
            };
            Reply::Fixed(bytes)
        };
        #[cfg(debug_assertions)]
        let test_hooks = crate::test_hooks::TestHooks::from_env();
        #[allow(unused_mut)] // release builds have no test hooks to apply
        let mut capture: CaptureOptions = (&args.capture).into();
        #[allow(unused_mut)]
        let mut web = web_config(&args.web).map_err(usage)?;
        #[cfg(debug_assertions)]
        {
            capture.queue_bytes = test_hooks.capture_queue_bytes;
            if let (Some(web), Some(timeout)) = (&mut web, test_hooks.web_write_timeout) {
                web.write_timeout = timeout;
            }
        }
        Ok(Self {
            bind: args.bind,
            workers: args.workers,
            backlog: args.backlog,
            framing: args.framing.clone(),
            reply,
            reply_encoding: encoding,
            decode: args.decode,
            idle_timeout: args.idle_timeout,
            queue_timeout: args.queue_timeout,
            max_pending: args.max_pending,
            drain_timeout: args.drain_timeout,
            write_timeout: args.write_timeout,
            max_frame: args.max_frame,
            log_format: args.log_format,
            quiet: args.quiet,
            reuse_port: args.reuse_port,
            status_bind: args.status_bind,
            rules,
            modbus,
            store,
            state_file: args.state_file.clone(),
            seed: args.seed,
            greeting: args
                .greeting
                .as_deref()
                .map(|text| template("--greeting", text))
                .transpose()?,
            push: match (&args.push, args.push_every) {
                (Some(text), Some(every)) => Some(Push {
                    text: template("--push", text)?,
                    every,
                }),
                _ => None,
            },
            console: args.console || stdin_is_our_terminal(),
            control: args.control,
            tls: tls_config(&args.tls).map_err(usage)?,
            proto: args.proto,
            udp_workers: args.udp_workers.unwrap_or(DEFAULT_UDP_WORKERS),
            udp_rate: args.udp_rate.unwrap_or(DEFAULT_UDP_RATE),
            web,
            #[cfg(debug_assertions)]
            test_hooks,
            relay: None,
            capture,
        })
    }

    /// `tcpack relay`'s configuration: the server's, with an upstream.
    pub(crate) fn from_relay_args(args: &RelayArgs) -> Result<Self> {
        let usage = |message: String| anyhow::Error::new(UsageError(message));
        let server = &args.server;
        let unused = [
            ("--reply", server.reply.is_some()),
            ("--echo", server.echo),
            ("--greeting", server.greeting.is_some()),
            ("--push", server.push.is_some()),
            ("--proto", server.proto != Proto::Tcp),
            ("--modbus", server.modbus.is_some()),
        ];
        if let Some((flag, _)) = unused.iter().find(|(_, given)| *given) {
            return Err(usage(format!(
                "{flag} is not for tcpack relay: the upstream answers; to answer a message from tcpack, use --rule or --rules"
            )));
        }
        let host = upstream_host(&args.to).map_err(usage)?;
        let faults = args
            .faults
            .iter()
            .map(|text| crate::fault_spec::parse(text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(usage)?;
        let options = TlsOptions {
            enabled: args.to_tls,
            ca: args.to_tls_ca.clone(),
            insecure: args.insecure,
            name: args.to_tls_name.clone(),
            cert: None,
            key: None,
        };
        let tls = TlsClient::new(&options, host).map_err(|e| usage(format!("--to-tls: {e}")))?;
        let mut config = Self::from_args(server)?;
        if config.modbus.is_some() {
            return Err(usage(
                "the rules file has a [modbus] table, which is not for tcpack relay: the upstream answers; move the table out, or serve it with tcpack server".into(),
            ));
        }
        config.relay = Some(RelayConfig {
            to: args.to.clone(),
            connect_timeout: args.connect_timeout,
            faults,
            tls,
        });
        Ok(config)
    }

    /// The server `tcpack replay --serve` runs: the recorded answers as
    /// rules (`rules_toml`, as `--to-rules` prints them), the recorded
    /// greeting, and no answer at all to a message the recording lacks.
    /// `proto`: `tcp`, `udp` or `both`, as the recording had them.
    pub(crate) fn replaying(
        bind: SocketAddr,
        framing: &Framing,
        proto: &str,
        rules_toml: &str,
        greeting: Option<Vec<u8>>,
    ) -> Result<Self> {
        let args = [
            "tcpack".to_owned(),
            "server".to_owned(),
            format!("--bind={bind}"),
            format!("--framing={framing}"),
            format!("--proto={proto}"),
            "--reply=".to_owned(),
        ];
        use clap::Parser;
        let crate::cli::CliCommand::Server(args) = crate::cli::Cli::try_parse_from(args)
            .map_err(|e| UsageError(e.to_string()))?
            .command
        else {
            unreachable!("the command is `server`")
        };
        let mut config = Self::from_args(&args)?;
        let rules = Rules::from_text(
            rules_toml,
            "the transcript's rules",
            config.reply_encoding,
            Arc::clone(&config.store),
        )
        .map_err(UsageError)?;
        config.rules = Some(rules);
        config.greeting = greeting.map(Template::bytes);
        Ok(config)
    }

    /// `tcpack server FLAGS`' configuration, for unit tests elsewhere.
    #[cfg(test)]
    pub(crate) fn from_flags(flags: &[&str]) -> Self {
        use clap::Parser;
        let args = ["tcpack", "server"].iter().chain(flags);
        let crate::cli::CliCommand::Server(args) = crate::cli::Cli::parse_from(args).command else {
            unreachable!("the command is `server`")
        };
        Self::from_args(&args).expect("a valid configuration")
    }

    /// Whether anything can push to connections: heartbeats or an operator.
    pub(crate) fn can_push(&self) -> bool {
        self.push.is_some() || self.console || self.control || self.web.is_some()
    }
}

impl From<ClientArgs> for ClientConfig {
    fn from(args: ClientArgs) -> Self {
        Self {
            capture: (&args.capture).into(),
            target: args.host.into_iter().chain(args.port).collect(),
            messages: args.messages,
            count: args.count,
            interval: args.interval,
            encoding: args.encoding,
            timeout: args.timeout,
            no_wait: args.no_wait,
            hex: args.hex,
            framing: args.framing,
            quiet: args.quiet,
            udp: args.udp,
            retries: args.retries,
            tls: args.tls.into(),
        }
    }
}

impl From<BenchArgs> for BenchJob {
    fn from(args: BenchArgs) -> Self {
        if let Some(BenchCommand::Merge(merge)) = args.command {
            return BenchJob::Merge(MergeConfig {
                files: merge.files,
                json: merge.json,
                per_shard: merge.per_shard,
                max_skew: merge.max_skew,
            });
        }
        BenchJob::Load(Box::new(BenchConfig {
            // clap requires it unless `merge` is given.
            target: args.target.unwrap_or_default(),
            scenario: args.scenario,
            connections: args.connections,
            messages: args.messages,
            size: args.size,
            duration: args.duration,
            warmup: args.warmup,
            depth: args.depth,
            idle: args.idle,
            timeout: args.timeout,
            server_pid: args.server_pid,
            framing: args.framing,
            hex: args.hex,
            json: args.json,
            udp: args.udp,
            tls: args.tls.into(),
            shard: match (args.shard, args.shards) {
                (Some((index, of)), _) => Some(ShardSpec::Fixed { index, of }),
                (None, Some(of)) => Some(ShardSpec::FromEnv { of }),
                (None, None) => None,
            },
            start_at: args.start_at,
            hdr_log: args.hdr_log,
            quiet: args.quiet,
        }))
    }
}

impl From<ClientTlsArgs> for TlsOptions {
    fn from(args: ClientTlsArgs) -> Self {
        Self {
            enabled: args.tls,
            ca: args.tls_ca,
            insecure: args.insecure,
            name: args.tls_name,
            cert: args.tls_cert,
            key: args.tls_key,
        }
    }
}

/// The host of `--to HOST:PORT`, checked to have a port.
fn upstream_host(to: &str) -> Result<&str, String> {
    let usage = || {
        format!("--to {to:?}: give HOST:PORT, such as 127.0.0.1:502, [::1]:502 or device.local:502")
    };
    let (host, port) = to.rsplit_once(':').ok_or_else(usage)?;
    if port.parse::<u16>().is_err() || host.is_empty() {
        return Err(usage());
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(format!(
            "--to {to:?}: an IPv6 address goes in brackets, as in [::1]:502"
        ));
    }
    Ok(host.trim_start_matches('[').trim_end_matches(']'))
}

/// Whether stdin is a terminal and we run in its foreground: a background
/// job (`tcpack server &`) that read its terminal would be stopped (SIGTTIN).
fn stdin_is_our_terminal() -> bool {
    let stdin = std::io::stdin();
    stdin.is_terminal()
        && rustix::termios::tcgetpgrp(&stdin).is_ok_and(|group| group == rustix::process::getpgrp())
}

/// `--web` and its token, checked before anything is bound (`server` and `relay`).
pub(crate) fn web_config(args: &WebArgs) -> Result<Option<WebConfig>, String> {
    args.web
        .map(|addr| {
            WebConfig::new(
                addr,
                args.web_token.as_deref(),
                args.web_token_file.as_deref(),
                args.web_max_viewers,
            )
        })
        .transpose()
}

fn tls_config(args: &ServerTlsArgs) -> Result<Option<TlsConfig>, String> {
    let identity = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => ServerIdentity::Files { cert, key },
        _ if args.tls_self_signed => ServerIdentity::SelfSigned {
            names: &args.tls_names,
            save: args.tls_save_cert.as_deref(),
        },
        _ => {
            if args.tls_mode.is_some() || args.tls_client_ca.is_some() {
                return Err(
                    "--tls-mode and --tls-client-ca need TLS: add --tls-self-signed, or --tls-cert FILE --tls-key FILE"
                        .into(),
                );
            }
            return Ok(None);
        }
    };
    Ok(Some(TlsConfig {
        server: crate::tls::server(identity, args.tls_client_ca.as_deref())?,
        auto: args.tls_mode == Some(TlsMode::Auto),
        handshake_timeout: args.tls_handshake_timeout,
    }))
}

/// `--reply 'OK\n'` as a shell user types it: `\n`, `\r`, `\t` and `\\` are
/// escapes, as in printf; any other backslash stays as it is.
fn unescape(text: &str) -> String {
    let mut chars = text.chars().peekable();
    let mut out = String::with_capacity(text.len());
    while let Some(c) = chars.next() {
        let escaped = match c {
            '\\' => chars.next_if(|e| matches!(e, 'n' | 'r' | 't' | '\\')),
            _ => None,
        };
        out.push(match escaped {
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some(other) => other,
            None => c,
        });
    }
    out
}

impl From<&CaptureArgs> for CaptureOptions {
    fn from(args: &CaptureArgs) -> Self {
        Self {
            transcript: args.capture.clone(),
            pcap: args.capture_pcap.clone(),
            max: args.capture_max,
            queue_bytes: None,
        }
    }
}

impl From<ReplayArgs> for ReplayConfig {
    fn from(args: ReplayArgs) -> Self {
        let side = match args.to {
            Some(target) => PlayedSide::Client {
                target,
                speed: args.speed,
                serial: args.serial,
                ignore: args.ignore,
                timeout: args.timeout,
            },
            None if args.serve => PlayedSide::Server { bind: args.bind },
            None => PlayedSide::Rules,
        };
        Self {
            file: args.file,
            side,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_reply_in_gbk_is_the_windows_bytes() {
        let bytes = TextEncoding::Gbk.encode(DEFAULT_ACK).unwrap();
        assert_eq!(bytes, b"\xd2\xd1\xca\xd5\xb5\xbd\n");
    }

    #[test]
    fn reply_escapes_are_those_of_printf_and_other_backslashes_stay() {
        assert_eq!(unescape(r"OK\r\n"), "OK\r\n");
        assert_eq!(unescape(r"a\tb\\n"), "a\tb\\n");
        assert_eq!(unescape(r"C:\dir\"), r"C:\dir\");
        assert_eq!(unescape("已收到"), "已收到");
    }

    #[test]
    fn gbk_refuses_what_it_cannot_encode() {
        assert_eq!(TextEncoding::Gbk.encode("ok 🙂"), None);
    }
}
