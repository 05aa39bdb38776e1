//! One integration test binary (links once), one module per area.

mod util;

mod client;
mod scripts;
mod server;
mod shutdown;
