//! The comparison baseline for `make bench`: a minimal tokio multi-thread server
//! that acks each `\n`-terminated line with `已收到\n`, as `tcpack server
//! --framing line --quiet` does. Dev-only; tcpack itself has no async runtime.
//!
//! Usage: cargo run --release --example tokio_baseline -- 127.0.0.1:0

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ACK: &[u8] = "已收到\n".as_bytes();

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&bind).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(serve(stream));
    }
}

async fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut acks = Vec::new();
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        let lines = memchr::memchr_iter(b'\n', &buf[..n]).count();
        acks.clear();
        for _ in 0..lines {
            acks.extend_from_slice(ACK);
        }
        stream.write_all(&acks).await?;
    }
}
