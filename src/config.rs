//! What each command takes, built once from the parsed command line: the
//! one place that knows both `cli` and the parts it drives. The server's
//! configuration is checked here; the client's and the bench's are
//! carried over as they are.

mod client_side;
mod server_config;
mod server_from_args;

pub(crate) use server_config::{Push, RelayConfig, ServerConfig, TlsConfig};
// The defaults `--help` states, which the cli's help test compares.
#[cfg(test)]
pub(crate) use server_config::{DEFAULT_UDP_RATE, DEFAULT_UDP_WORKERS};
