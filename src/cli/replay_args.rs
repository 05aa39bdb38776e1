//! `tcpack replay`'s flags.

use std::net::SocketAddr;
use std::time::Duration;

use super::value_parsers::{parse_bind, parse_secs};
use crate::replay::Speed;

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
