//! `ServerConfig` built from the server's and the relay's flags (and from the
//! replayed transcript's): every value checked once, at start; a value that
//! cannot be used is a `UsageError`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;

use super::server_config::{
    DEFAULT_UDP_RATE, DEFAULT_UDP_WORKERS, Push, RelayConfig, ServerConfig, TlsConfig,
};
use crate::answer::Reply;
use crate::capture::CaptureOptions;
use crate::cli::{RelayArgs, ServerArgs, ServerTlsArgs, TlsMode, WebArgs};
use crate::client_stream::{TlsClient, TlsOptions};
use crate::exit::UsageError;
use crate::framing::Framing;
use crate::modbus::Table;
use crate::protocol::{DEFAULT_ACK, Proto};
use crate::rules::{Rules, Template};
use crate::state::Store;
use crate::tls::ServerIdentity;
use crate::web::WebConfig;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::TextEncoding;

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
