//! The command line, as clap parses it. Validation beyond types lives in `config`.

mod bench_args;
mod capture_args;
mod client_args;
mod relay_args;
mod replay_args;
mod server_args;
mod value_enums;
mod value_parsers;

use clap::{Parser, Subcommand};

pub(crate) use bench_args::{BenchArgs, BenchCommand};
pub(crate) use capture_args::CaptureArgs;
pub(crate) use client_args::{ClientArgs, ClientTlsArgs};
pub(crate) use relay_args::RelayArgs;
pub(crate) use replay_args::ReplayArgs;
pub(crate) use server_args::{ServerArgs, ServerTlsArgs, TlsMode, WebArgs};

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
        after_help = bench_args::BENCH_HELP
    )]
    Bench(BenchArgs),
    /// Sit between clients and their real server: pass bytes both ways, log each direction, inject faults.
    #[command(
        after_long_help = relay_args::RELAY_HELP,
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
}
