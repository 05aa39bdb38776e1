//! The relay's comparison baseline for `make bench`: a minimal tokio relay
//! that connects each client to the upstream and copies bytes both ways
//! with `copy_bidirectional`, as `tcpack relay --quiet` does without faults
//! or framing. Dev-only; tcpack itself has no async runtime.
//!
//! Usage: cargo run --release --example tokio_relay_baseline -- 127.0.0.1:0 UPSTREAM

use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let Some(upstream) = args.next() else {
        eprintln!("usage: tokio_relay_baseline LISTEN UPSTREAM");
        std::process::exit(2);
    };
    let listener = TcpListener::bind(&bind).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (client, _) = listener.accept().await?;
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let _ = relay(client, &upstream).await;
        });
    }
}

async fn relay(mut client: TcpStream, upstream: &str) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    let mut server = TcpStream::connect(upstream).await?;
    server.set_nodelay(true)?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}
