//! What an operator sees and does while the server runs: the status port
//! (text report, commands, HTTP, `/metrics`), the console, pushes, the web
//! console's backend, the one `Snapshot` of the counters.

mod command;
pub(super) mod console;
pub(super) mod control;
pub(super) mod http;
pub(super) mod metrics;
pub(super) mod push;
pub(super) mod snapshot;
pub(super) mod status_port;
pub(super) mod web_backend;
