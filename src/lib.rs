//! tcpack: a TCP acknowledgement server, its client and its load generator.
//!
//! Data flows one way: accept → queue → worker → framing → log and answer
//! (`answer.rs` decides, for TCP, TLS and UDP) → send → close (see
//! `server.rs`). Only what `main.rs`, the fuzz target and the
//! tests use is public.
#![deny(unsafe_code)]

mod answer;
mod bench;
mod capture;
mod checksum;
mod cli;
mod client;
mod client_stream;
mod config;
pub mod decode;
mod duration;
mod encoding;
mod exit;
mod fault_spec;
pub mod framing;
mod hex;
mod log;
mod modbus;
pub mod protocol;
mod replay;
mod rules;
mod server;
mod state;
mod stats;
mod sync;
mod sys;
mod tap;
#[cfg(debug_assertions)]
mod test_hooks;
mod tls;
mod web;

use anyhow::{Context, Result};

use crate::cli::{CliCommand, ClientArgs, ServerArgs};
use crate::client::{Client, ClientConfig, ClientError};
use crate::config::ServerConfig;
use crate::exit::UsageError;
use crate::replay::ReplayConfig;
use crate::server::Server;
use crate::tap::{Tap, TapEvent};
use std::sync::Arc;

pub use crate::cli::Cli;
pub use crate::exit::Exit;

/// Runs one parsed command line to its end.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        CliCommand::Server(args) => run_server(&args),
        CliCommand::Client(args) => run_client(args),
        CliCommand::Bench(args) => bench::run(&args.into()),
        CliCommand::Relay(args) => Server::bind(ServerConfig::from_relay_args(&args)?)?.run(),
        CliCommand::Replay(args) => run_replay(&args.into()),
    }
}

/// How the process ends for an error `run` returned.
pub fn exit_status(error: &anyhow::Error) -> Exit {
    if error.is::<UsageError>() {
        return Exit::Usage;
    }
    if error.is::<replay::Differs>() {
        return Exit::Differs;
    }
    error
        .downcast_ref::<ClientError>()
        .map_or(Exit::Failure, ClientError::exit)
}

fn run_server(args: &ServerArgs) -> Result<()> {
    Server::bind(ServerConfig::from_args(args)?)?.run()
}

/// `tcpack replay`: `--serve` is a server built from the transcript.
fn run_replay(config: &ReplayConfig) -> Result<()> {
    let transcript = replay::load(&config.file)?;
    match config.side {
        replay::PlayedSide::Server { bind } => {
            let (rules, greeting) = replay::served(&transcript, &config.file);
            let proto = replay::proto(&transcript);
            let server =
                ServerConfig::replaying(bind, &transcript.framing, proto, &rules, greeting)?;
            Server::bind(server)?.run()
        }
        _ => replay::run(config, &transcript),
    }
}

fn run_client(args: ClientArgs) -> Result<()> {
    let config: ClientConfig = args.into();
    let capture = config.capture.clone();
    let client = Client::new(config);
    let say: capture::CaptureLog = Arc::new(|_, message: &str| eprintln!("{message}"));
    let tap = Tap::new(capture::watchers(
        &capture,
        "client",
        &client.framing(),
        &say,
    )?);
    let client = client.with_tap(tap.clone());
    let round_trips = client.round_trips();
    ctrlc::set_handler(move || {
        tap.publish(TapEvent::Stopped { forced: false });
        let summary = crate::sync::lock(&round_trips).summary();
        eprintln!("\ninterrupted: {summary}");
        Exit::Interrupted.now();
    })
    .context("installing the Ctrl-C handler")?;
    Ok(client.run()?)
}
