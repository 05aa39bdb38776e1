//! What each TCP client thread of a run does, scenario by scenario: rr and
//! pipeline on a persistent connection, conn's connect loop, idle's held
//! connections.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering::Relaxed;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::answers::Answers;
use super::clock::Clock;
use super::measurement::Measurement;
use crate::client_stream::{ClientStream, TlsClient};
use crate::framing::Framing;

/// Where the client threads connect, and how.
pub(super) struct Target {
    pub(super) addr: SocketAddr,
    pub(super) tls: Option<TlsClient>,
    pub(super) framing: Framing,
}

/// A connection, TLS if the target wants it, read through a buffer; writes go to `get_mut()`.
pub(super) fn open(target: &Target, timeout: Duration) -> io::Result<BufReader<ClientStream>> {
    let stream = TcpStream::connect_timeout(&target.addr, timeout)?;
    stream.set_nodelay(true)?;
    let link = ClientStream::new(stream, target.tls.as_ref(), timeout).map_err(io::Error::other)?;
    link.socket().set_read_timeout(Some(timeout))?;
    link.socket().set_write_timeout(Some(timeout))?;
    Ok(BufReader::new(link))
}

/// rr (depth 1) and pipeline (depth K): a persistent connection writing
/// `depth` lines in one write, then reading `depth` acks.
pub(super) fn request_response(
    target: &Target,
    message: &[u8],
    messages: u64,
    depth: usize,
    timeout: Duration,
    clock: &Clock,
    measured: &mut Measurement,
) {
    let burst = message.repeat(depth.max(1));
    let mut sent = 0u64;
    while clock.running() && (messages == 0 || sent < messages) {
        let mut reader = match open(target, timeout) {
            Ok(reader) => reader,
            Err(e) => {
                measured.fail(clock, &e);
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let mut answers = Answers::new(&target.framing);
        let result: io::Result<()> = (|| {
            while clock.running() && (messages == 0 || sent < messages) {
                let began = Instant::now();
                reader.get_mut().write_all(&burst)?;
                sent += depth as u64;
                for _ in 0..depth {
                    if !answers.next(&mut reader)? {
                        measured.busy += 1;
                        return Ok(());
                    }
                }
                measured.answered(clock, began, depth as u64);
            }
            Ok(())
        })();
        if let Err(e) = result {
            measured.fail(clock, &e);
        }
        reader.get_mut().finish();
    }
}

/// conn: connect → one line → ack → close, like `echo hi | nc -N`. Also the
/// idle scenario's fresh client.
pub(super) fn connect_loop(
    target: &Target,
    message: &[u8],
    messages: u64,
    timeout: Duration,
    clock: &Clock,
    measured: &mut Measurement,
) {
    let mut line = Vec::new();
    let mut cycles = 0u64;
    while clock.running() && (messages == 0 || cycles < messages) {
        cycles += 1;
        let began = Instant::now();
        let result: io::Result<bool> = (|| {
            let mut reader = open(target, timeout)?;
            reader.get_mut().write_all(message)?;
            reader.get_mut().finish();
            let acked = Answers::new(&target.framing).next(&mut reader)?;
            // Wait for the server's close, as nc -N does, so its side goes first.
            while reader.read_until(b'\n', &mut line)? > 0 {}
            Ok(acked)
        })();
        match result {
            Ok(true) => {
                if measured.record(clock, began, Instant::now()) {
                    measured.ops += 1;
                }
            }
            Ok(false) => measured.busy += 1,
            Err(e) => measured.fail(clock, &e),
        }
        clock.done.fetch_add(1, Relaxed);
    }
}

/// Opens `count` connections (TLS ones finish their handshake) that say
/// nothing and stay open for the run.
pub(super) fn hold_idle(
    target: &Target,
    count: usize,
    timeout: Duration,
) -> Result<Vec<BufReader<ClientStream>>> {
    (0..count)
        .map(|i| {
            open(target, timeout)
                .with_context(|| format!("opening idle connection {} of {count}", i + 1))
        })
        .collect()
}
