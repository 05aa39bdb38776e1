//! tcpack: a TCP acknowledgement server, its client and its load generator.
//!
//! Data flows one way: accept → queue → worker → framing → log and answer
//! (`answer.rs` decides, for TCP, TLS and UDP) → send → close (see
//! `server.rs`). Only what `main.rs`, the fuzz target and the
//! tests use is public.
#![deny(unsafe_code)]

mod answer;
mod bench;
mod checksum;
mod cli;
mod client;
mod client_stream;
mod config;
pub mod decode;
mod duration;
mod encoding;
mod exit;
pub mod framing;
mod hex;
mod log;
pub mod protocol;
mod rules;
mod server;
mod stats;
mod sync;
mod sys;
#[allow(dead_code)] // Until its watchers, the capture and the web console, land.
mod tap;
mod tls;
mod web;

use anyhow::{Context, Result};

use crate::cli::{ClientArgs, Command, ServerArgs};
use crate::client::{Client, ClientError};
use crate::config::ServerConfig;
use crate::exit::UsageError;
use crate::server::Server;

pub use crate::cli::Cli;
pub use crate::exit::Exit;

/// Runs one parsed command line to its end.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Server(args) => run_server(&args),
        Command::Client(args) => run_client(args),
        Command::Bench(args) => bench::run(&args.into()),
    }
}

/// How the process ends for an error `run` returned.
pub fn exit_status(error: &anyhow::Error) -> Exit {
    if error.is::<UsageError>() {
        return Exit::Usage;
    }
    error
        .downcast_ref::<ClientError>()
        .map_or(Exit::Failure, ClientError::exit)
}

fn run_server(args: &ServerArgs) -> Result<()> {
    Server::bind(ServerConfig::from_args(args)?)?.run()
}

fn run_client(args: ClientArgs) -> Result<()> {
    let client = Client::new(args.into());
    let round_trips = client.round_trips();
    ctrlc::set_handler(move || {
        let summary = crate::sync::lock(&round_trips).summary();
        eprintln!("\ninterrupted: {summary}");
        Exit::Interrupted.now();
    })
    .context("installing the Ctrl-C handler")?;
    Ok(client.run()?)
}
