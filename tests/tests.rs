//! One integration test binary (links once), one module per area.

mod util;

mod bench;
mod client;
mod cluster;
mod faults;
mod kit;
mod panics;
mod scripts;
mod server;
mod shutdown;
mod udp;
