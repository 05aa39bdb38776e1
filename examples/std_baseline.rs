//! The thread baseline for `make bench`: the tutorial's server made
//! concurrent the simplest way, a std thread spawned per connection, acking
//! each `\n`-terminated line with `已收到\n` as `tcpack server --framing
//! line --quiet` does. It shows what tcpack's fixed pool, queue and drain
//! cost against no pool at all. Dev-only.
//!
//! Usage: cargo run --release --example std_baseline -- 127.0.0.1:0

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

const ACK: &[u8] = "已收到\n".as_bytes();

fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&bind)?;
    println!("listening on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        // As tcpack's workers: small stacks, a thousand threads cost little.
        let _ = thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || serve(stream));
    }
    Ok(())
}

fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut acks = Vec::new();
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        let lines = memchr::memchr_iter(b'\n', &buf[..n]).count();
        acks.clear();
        for _ in 0..lines {
            acks.extend_from_slice(ACK);
        }
        stream.write_all(&acks)?;
    }
}
