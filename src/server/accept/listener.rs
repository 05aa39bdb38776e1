//! The listening socket: bind it with a message a user can act on, and the
//! accept loop that numbers each connection and hands it to admission.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use super::admission;
use super::registry::Arrival;
use crate::config::ServerConfig;
use crate::log::ServerEvent;
use crate::server::shared::ServerState;
use crate::server::stop::lifecycle::Phase;
use crate::stats::{Failure, millis};

/// A listening socket, bound with the options a restartable server needs.
pub(in crate::server) fn listen(
    addr: SocketAddr,
    backlog: i32,
    reuse_port: bool,
) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    // Lets a restarted server bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// Whether every client of this port speaks first: TLS only (its first
/// bytes are the ClientHello) and no `--greeting`. Never with plaintext or
/// `--tls-mode auto`, where a client may wait for the server to speak.
pub(in crate::server) fn client_speaks_first(config: &ServerConfig) -> bool {
    config.tls.as_ref().is_some_and(|tls| !tls.auto) && config.greeting.is_none()
}

/// Where every client speaks first, the kernel holds a connection back
/// until its first bytes arrive (`TCP_DEFER_ACCEPT`, about a second at
/// most): the worker then starts its handshake with the ClientHello there,
/// rather than sleeping in a read for it. Only a saving: a kernel that
/// refuses changes nothing else.
pub(in crate::server) fn defer_until_client_speaks(listener: &TcpListener, config: &ServerConfig) {
    if client_speaks_first(config) {
        let _ = crate::sys::defer_accept(listener);
    }
}

/// One line a user can act on.
pub(in crate::server) fn bind_error(addr: SocketAddr, error: io::Error) -> anyhow::Error {
    let advice = match error.kind() {
        ErrorKind::AddrInUse => format!(
            "address {addr} is already in use: stop the program using port {} or choose another with --bind",
            addr.port()
        ),
        ErrorKind::PermissionDenied => format!(
            "permission denied to listen on {addr}: ports below 1024 need privileges; choose a port of 1024 or more with --bind"
        ),
        ErrorKind::AddrNotAvailable => format!(
            "address {} is not on this machine: use 127.0.0.1, 0.0.0.0, [::] or one of this host's addresses",
            addr.ip()
        ),
        // Only here does the system's own wording add anything.
        _ => return anyhow::Error::new(error).context(format!("cannot listen on {addr}")),
    };
    anyhow::anyhow!(advice)
}

/// Accepts until the shutdown is done. Errors never stop it: a client that
/// gave up is logged, running out of descriptors backs off and retries.
pub(in crate::server) fn accept_loop(state: &ServerState, listener: &TcpListener) {
    const MIN_BACKOFF: Duration = Duration::from_millis(10);
    let mut backoff = MIN_BACKOFF;
    let mut next_id: u64 = 0;
    loop {
        let accepted = listener.accept();
        let phase = state.lifecycle.phase();
        if phase == Phase::Done {
            return;
        }
        let (stream, peer) = match accepted {
            Ok((stream, peer)) => (stream, as_seen(peer)),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => {
                // The client gave up before we accepted it: worth a line, not a pause.
                state.log.log(
                    None,
                    &ServerEvent::AcceptError {
                        error: e.to_string(),
                        retry_ms: 0,
                    },
                );
                continue;
            }
            // With --reuse-port the drain shut the listener down: that is our cue.
            Err(_) if phase != Phase::Running && state.config.reuse_port => return,
            Err(e) => {
                // EMFILE and friends: the client stays in the backlog; try again soon.
                state.stats.add_error(Failure::Accept);
                state.log.log(
                    None,
                    &ServerEvent::AcceptError {
                        error: e.to_string(),
                        retry_ms: millis(backoff),
                    },
                );
                thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = MIN_BACKOFF;
        next_id += 1;
        let arrival = Arrival {
            id: next_id,
            peer,
            stream,
            since: Instant::now(),
            queued: false,
        };
        if phase == Phase::Running {
            admission::admit(state, arrival);
        } else {
            admission::turn_away_shutting_down(state, arrival);
        }
    }
}

/// On a `[::]` listener IPv4 clients arrive as `[::ffff:127.0.0.1]:port`;
/// they are logged as the `127.0.0.1:port` they connected from.
fn as_seen(peer: SocketAddr) -> SocketAddr {
    SocketAddr::new(peer.ip().to_canonical(), peer.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_tls_only_port_without_greeting_waits_for_the_client() {
        let speaks_first = |flags: &[&str]| client_speaks_first(&ServerConfig::from_flags(flags));
        assert!(speaks_first(&["--tls-self-signed"]));
        assert!(speaks_first(&["--tls-self-signed", "--tls-mode", "only"]));
        assert!(!speaks_first(&[]), "plaintext");
        assert!(
            !speaks_first(&["--greeting", "hi"]),
            "plaintext with a greeting"
        );
        assert!(!speaks_first(&["--tls-self-signed", "--tls-mode", "auto"]));
        assert!(!speaks_first(&["--tls-self-signed", "--greeting", "hi"]));
    }

    #[test]
    fn ipv4_clients_of_a_dual_stack_listener_are_shown_as_ipv4() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:4000".parse().unwrap();
        assert_eq!(as_seen(mapped), "127.0.0.1:4000".parse().unwrap());
        let v6: SocketAddr = "[::1]:4000".parse().unwrap();
        assert_eq!(as_seen(v6), v6);
    }
}
