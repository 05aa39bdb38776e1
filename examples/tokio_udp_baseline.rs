//! The UDP comparison baseline for `make bench`: a minimal tokio
//! multi-thread server that answers each datagram with `已收到\n`, as
//! `tcpack server --proto udp --quiet --udp-rate 0` does. One task per
//! runtime thread loops `recv_from` → `send_to` on the shared socket.
//! Dev-only; tcpack itself has no async runtime.
//!
//! Usage: cargo run --release --example tokio_udp_baseline -- 127.0.0.1:0

use std::sync::Arc;

use tokio::net::UdpSocket;

const ACK: &[u8] = "已收到\n".as_bytes();

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let socket = Arc::new(UdpSocket::bind(&bind).await?);
    println!("listening on {}", socket.local_addr()?);
    let tasks = std::thread::available_parallelism().map_or(1, |n| n.get());
    let serving: Vec<_> = (0..tasks)
        .map(|_| tokio::spawn(serve(Arc::clone(&socket))))
        .collect();
    for task in serving {
        task.await?;
    }
    Ok(())
}

async fn serve(socket: Arc<UdpSocket>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if let Ok((_, peer)) = socket.recv_from(&mut buf).await {
            let _ = socket.send_to(ACK, peer).await;
        }
    }
}
