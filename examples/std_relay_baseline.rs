//! The relay's design floor for `make bench`: what the fixed design (blocking
//! std threads, no runtime) can do at best. Each client gets a connection to
//! the upstream and two threads, one per direction, each `std::io::copy`
//! then a half-close, with no framing, logging, faults or thread budget.
//! `tcpack relay --quiet` is compared with it in the same run as with
//! tokio's `copy_bidirectional` (`tokio_relay_baseline`). Dev-only.
//!
//! Usage: cargo run --release --example std_relay_baseline -- 127.0.0.1:0 UPSTREAM

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let Some(upstream) = args.next() else {
        eprintln!("usage: std_relay_baseline LISTEN UPSTREAM");
        std::process::exit(2);
    };
    let listener = TcpListener::bind(&bind)?;
    println!("listening on {}", listener.local_addr()?);
    for client in listener.incoming() {
        let Ok(client) = client else { continue };
        let upstream = upstream.clone();
        thread::spawn(move || {
            let _ = relay(client, &upstream);
        });
    }
    Ok(())
}

/// This thread copies client → upstream; a second one the other way.
fn relay(client: TcpStream, upstream: &str) -> io::Result<()> {
    client.set_nodelay(true)?;
    let server = TcpStream::connect(upstream)?;
    server.set_nodelay(true)?;
    let (client_in, server_out) = (client.try_clone()?, server.try_clone()?);
    let down = thread::spawn(move || copy_then_close(&server, &client));
    copy_then_close(&client_in, &server_out);
    let _ = down.join();
    Ok(())
}

/// Copies until `from` ends, then passes the end on as a FIN.
fn copy_then_close(mut from: &TcpStream, mut to: &TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}
