//! One integration test binary (links once), one module per area.

mod util;

mod bench;
mod client;
mod cluster;
mod faults;
mod panics;
mod rules;
mod scripts;
mod server;
mod shutdown;
mod tls;
mod udp;
