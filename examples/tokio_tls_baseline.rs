//! The TLS baseline for `make bench`: the tokio line-ack server of
//! `tokio_baseline.rs` behind tokio-rustls, with the same rustls version,
//! the ring provider and the certificate and key tcpack is given. Dev-only.
//!
//! Usage: cargo run --release --example tokio_tls_baseline -- 127.0.0.1:0 CERT.pem KEY.pem

use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

const ACK: &[u8] = "已收到\n".as_bytes();

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(bind), Some(cert), Some(key)) = (args.next(), args.next(), args.next()) else {
        return Err("usage: tokio_tls_baseline ADDR CERT.pem KEY.pem".into());
    };
    let chain = CertificateDer::pem_file_iter(&cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(&key)?;
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(&bind).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(serve(acceptor.clone(), stream));
    }
}

async fn serve(acceptor: TlsAcceptor, stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut stream = acceptor.accept(stream).await?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut acks = Vec::new();
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return stream.shutdown().await;
        }
        let lines = memchr::memchr_iter(b'\n', &buf[..n]).count();
        acks.clear();
        for _ in 0..lines {
            acks.extend_from_slice(ACK);
        }
        stream.write_all(&acks).await?;
    }
}
