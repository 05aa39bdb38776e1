//! One integration test binary (links once), one module per area.

// The crate's `unreachable_pub` is for the library's API; here `pub` only
// shares helpers between the modules of this one binary.
#![allow(unreachable_pub)]

mod util;

mod bench;
mod capture;
mod client;
mod cluster;
mod faults;
mod framing;
mod metrics;
mod modbus;
mod panics;
mod relay;
mod rules;
mod scripts;
mod server;
mod shutdown;
mod state;
mod tls;
mod udp;
mod web;
