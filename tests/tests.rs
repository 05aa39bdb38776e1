//! One integration test binary (links once), one module per area.

mod util;

mod scripts;
mod server;
mod shutdown;
