//! The command line, as clap parses it. Validation beyond types lives in `config`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "tcpack",
    version,
    about = "A TCP acknowledgement server: shows every message, answers each with an ack."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Listen for TCP clients, log every message they send and acknowledge it.
    Server(ServerArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Framing {
    /// One ack per read of up to 1024 bytes, as the tutorial's `recv(1024)`.
    Raw,
    /// One ack per `\n`-terminated line; a final unterminated line is acked at EOF.
    Line,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplyEncoding {
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    Gbk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DecodeMode {
    /// UTF-8 if valid, else GBK if it decodes cleanly, else escaped bytes.
    Auto,
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    Gbk,
    Hex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Address to listen on; 0.0.0.0:7785 or [::]:7785 to expose it, port 0 picks a free port
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:7785")]
    pub bind: SocketAddr,

    /// Worker threads = connections served at once; others wait in the queue
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = at_least_one)]
    pub workers: usize,

    /// Listen backlog, as the tutorial's listen(128)
    #[arg(long, value_name = "N", default_value_t = 128, value_parser = clap::value_parser!(i32).range(1..))]
    pub backlog: i32,

    /// raw: one ack per read (up to 1024 bytes); line: one ack per \n-terminated line
    #[arg(long, value_enum, default_value_t = Framing::Raw)]
    pub framing: Framing,

    /// Text of the ack [default: 已收到 followed by a newline]
    #[arg(long, value_name = "TEXT", conflicts_with = "echo")]
    pub reply: Option<String>,

    /// Reply with the received data instead of the ack text
    #[arg(long)]
    pub echo: bool,

    /// Bytes of the ack on the wire; gbk lets Windows tools show it right
    #[arg(long, value_enum, value_name = "ENC", default_value_t = ReplyEncoding::Utf8)]
    pub reply_encoding: ReplyEncoding,

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

    /// Line framing: longer lines are cut into pieces of this size, each acked
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024, value_parser = at_least_one)]
    pub max_line: usize,

    /// Console log format, one event a line
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log connections and errors, not each message
    #[arg(long)]
    pub quiet: bool,
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a whole number")),
    }
}

/// Seconds as a decimal number, so tests and impatient users can say `0.5`.
fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 1e9) {
        return Err(format!("`{text}` must be more than 0 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
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
    fn seconds_accept_fractions_and_refuse_nonsense() {
        assert_eq!(parse_secs("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_secs("300"), Ok(Duration::from_secs(300)));
        assert!(parse_secs("0").is_err());
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("soon").is_err());
        assert!(parse_secs("NaN").is_err());
    }
}
