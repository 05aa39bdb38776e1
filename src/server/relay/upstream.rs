//! The relayed client's own connection to the real server: resolved for
//! each client (a name may move), connected within `--connect-timeout`,
//! with `--to-tls` its handshake done too. A failure is a sentence naming
//! what went wrong, for the log line that names the upstream.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::endpoint::Endpoint;
use crate::client_stream::ClientStream;
use crate::config::RelayConfig;

/// A connected upstream, ready to relay.
pub(super) struct Upstream {
    pub endpoint: Endpoint,
    pub addr: SocketAddr,
    pub local: SocketAddr,
    /// The TLS version and cipher suite, with `--to-tls`.
    pub tls: Option<String>,
}

/// Connects to `--to`; `Err` says why not, as "refused the connection".
pub(super) fn connect(relay: &RelayConfig) -> Result<Upstream, String> {
    let timeout = relay.connect_timeout;
    let addrs: Vec<SocketAddr> = relay
        .to
        .to_socket_addrs()
        .map_err(|e| format!("cannot be resolved ({e})"))?
        .collect();
    if addrs.is_empty() {
        return Err("resolves to no address".into());
    }
    let deadline = Instant::now() + timeout;
    let mut why = String::new();
    let mut connected = None;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => {
                connected = Some((stream, addr));
                break;
            }
            Err(e) => {
                why = match e.kind() {
                    ErrorKind::ConnectionRefused => format!("refused the connection ({addr})"),
                    ErrorKind::TimedOut | ErrorKind::WouldBlock => format!(
                        "did not answer within {} (--connect-timeout)",
                        secs(timeout)
                    ),
                    _ => format!("could not be reached ({addr}: {e})"),
                };
            }
        }
    }
    let Some((stream, addr)) = connected else {
        if why.is_empty() {
            why = format!(
                "did not answer within {} (--connect-timeout)",
                secs(timeout)
            );
        }
        return Err(why);
    };
    let local = stream
        .local_addr()
        .map_err(|e| format!("could not be used ({e})"))?;
    // Small writes go at once both ways, as the client and the server sent them.
    stream
        .set_nodelay(true)
        .map_err(|e| format!("could not be used ({e})"))?;
    let (endpoint, tls) = match &relay.tls {
        None => (Endpoint::Plain(stream), None),
        Some(tls) => {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            match ClientStream::new(stream, Some(tls), left) {
                Ok(ClientStream::Tls { sock, tls }) => {
                    let about = format!(
                        "{}, {}",
                        crate::tls::version(tls.conn()),
                        crate::tls::cipher(tls.conn())
                    );
                    (Endpoint::tls(sock, *tls), Some(about))
                }
                Ok(ClientStream::Plain(stream)) => (Endpoint::Plain(stream), None),
                Err(e) => return Err(format!("TLS: {e}")),
            }
        }
    };
    endpoint
        .socket()
        .set_nonblocking(true)
        .map_err(|e| format!("could not be used ({e})"))?;
    Ok(Upstream {
        endpoint,
        addr,
        local,
        tls,
    })
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}
