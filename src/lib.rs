//! tcpack: a TCP acknowledgement server.
//!
//! Data flows one way: accept → queue → worker → framing → decode/log → ack.

pub mod bench;
pub mod cli;
pub mod client;
pub mod closer;
pub mod config;
pub mod connection;
pub mod connections;
pub mod decode;
pub mod drain;
pub mod framing;
pub mod limits;
pub mod log;
pub mod protocol;
pub mod server;
pub mod shutdown;
pub mod sink;
pub mod stats;
pub mod status;

use anyhow::{Context, Result};

use crate::cli::{Cli, ClientArgs, Command, ServerArgs};
use crate::client::{Client, ClientError};
use crate::config::ServerConfig;
use crate::server::Server;

/// Exit status when a second signal cuts the drain short, as shells report SIGINT.
pub const FORCED_EXIT: i32 = 130;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Server(args) => run_server(&args),
        Command::Client(args) => run_client(args),
        Command::Bench(args) => bench::run(&args),
    }
}

/// The process exit status for an error `run` returned.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.is::<config::UsageError>() {
        return 2;
    }
    error
        .downcast_ref::<ClientError>()
        .map_or(1, ClientError::exit_code)
}

fn run_server(args: &ServerArgs) -> Result<()> {
    let server = Server::bind(ServerConfig::from_args(args)?)?;
    let handle = server.shutdown_handle();
    ctrlc::set_handler(move || {
        if !handle.request() {
            handle.log_forced_stop();
            std::process::exit(FORCED_EXIT);
        }
    })
    .context("installing the Ctrl-C handler")?;
    server.run()
}

fn run_client(args: ClientArgs) -> Result<()> {
    let client = Client::new(args);
    let tally = client.tally();
    ctrlc::set_handler(move || {
        let summary = tally.lock().map(|t| t.summary()).unwrap_or_default();
        eprintln!("\ninterrupted: {summary}");
        std::process::exit(FORCED_EXIT);
    })
    .context("installing the Ctrl-C handler")?;
    Ok(client.run()?)
}
