//! Hostile clients and faults: nothing owed is lost, nothing falls over, and
//! well-behaved clients are served meanwhile. Each test prints its figures
//! (`cargo test --test tests faults:: -- --nocapture`) for docs/RELIABILITY.md.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use socket2::SockRef;

use crate::util::{
    ACK, BUSY, DEADLINE, DEFAULT_ACK, Server, connect, exchange, finish,
    leave_the_same_request_window, log_time, spawn_non_reader,
};

/// Peak resident memory of a process, from /proc.
fn peak_rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A well-behaved client: a few exchanges, each must be acked.
fn well_behaved(addr: SocketAddr) {
    talk(addr, |_| ACK.to_vec());
}

/// A few exchanges, each answered with `reply(message)`.
fn talk(addr: SocketAddr, reply: impl Fn(&[u8]) -> Vec<u8>) {
    let mut client = connect(addr);
    for i in 0..5 {
        let message = format!("good {i}\n");
        exchange(&mut client, message.as_bytes(), &reply(message.as_bytes()));
    }
    assert_eq!(finish(&mut client), b"");
}

#[test]
fn slowloris_tricklers_and_silent_clients_do_not_starve_others() {
    let mut server = Server::start(&[
        "--framing",
        "line",
        "--workers",
        "64",
        "--idle-timeout",
        "1",
    ]);
    let addr = server.addr;
    let silent: Vec<TcpStream> = (0..20).map(|_| connect(addr)).collect();
    let tricklers: Vec<_> = (0..20)
        .map(|i| {
            thread::spawn(move || {
                let mut stream = connect(addr);
                // One byte every 20 ms: each resets the idle timer, as slowloris does.
                for byte in format!("trickle {i:02}\n").bytes() {
                    stream.write_all(&[byte]).unwrap();
                    thread::sleep(Duration::from_millis(20));
                }
                finish(&mut stream)
            })
        })
        .collect();
    well_behaved(addr);
    for trickler in tricklers {
        assert_eq!(
            trickler.join().unwrap(),
            ACK,
            "a trickled line is acked once"
        );
    }
    // The silent ones are reclaimed by --idle-timeout, each told nothing and closed.
    server.wait_for_nth("closed: idle timeout", 20);
    for mut stream in silent {
        let mut rest = Vec::new();
        assert_eq!(stream.read_to_end(&mut rest).unwrap(), 0);
    }
    well_behaved(addr);
    println!(
        "slowloris: 20 tricklers acked, 20 silent closed by --idle-timeout 1, peak RSS {} KiB",
        peak_rss_kib(server.pid())
    );
}

#[test]
fn non_reading_clients_are_freed_and_memory_stays_bounded() {
    let mut server = Server::start(&[
        "--workers",
        "8",
        "--echo",
        "--write-timeout",
        "0.5",
        "--quiet",
    ]);
    let hogs: Vec<TcpStream> = (0..6).map(|_| connect(server.addr)).collect();
    let writers: Vec<_> = hogs.iter().map(spawn_non_reader).collect();
    let echo = |message: &[u8]| message.to_vec();
    talk(server.addr, echo);
    server.wait_for_nth("closed: write timeout (client is not reading its acks)", 6);
    for hog in &hogs {
        let _ = hog.shutdown(std::net::Shutdown::Both);
    }
    for writer in writers {
        writer.join().unwrap();
    }
    talk(server.addr, echo);
    let peak = peak_rss_kib(server.pid());
    println!(
        "non-readers: 6 clients writing up to 64 MiB each freed by --write-timeout 0.5, peak RSS {peak} KiB"
    );
    assert!(
        peak < 64 * 1024,
        "peak RSS {peak} KiB: the server buffered what it could not send"
    );
}

/// How each client of the flood ended, counted apart: only the first three
/// are allowed.
#[derive(Default)]
struct Outcomes {
    served: AtomicU64,
    busy: AtomicU64,
    /// The connect failed: the kernel dropped its SYNs while the listen
    /// backlog was full (refused or timed out).
    unconnected: AtomicU64,
    hung: AtomicU64,
    /// Anything else (an EOF, a reset, another notice, a failed write), each
    /// with what the client saw.
    unexpected: std::sync::Mutex<Vec<String>>,
}

impl Outcomes {
    fn unexpected(&self, what: String) {
        self.unexpected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(what);
    }
}

#[test]
fn a_connection_flood_is_served_or_told_busy_and_nobody_hangs() {
    const CLIENTS: usize = 300;
    // Far more clients than workers + queue + the default listen backlog (128).
    let mut server = Server::start(&[
        "--workers",
        "4",
        "--max-pending",
        "8",
        "--queue-timeout",
        "0.5",
    ]);
    let addr = server.addr;
    let outcomes = Arc::new(Outcomes::default());
    let start = Arc::new(Barrier::new(CLIENTS));
    // A served client keeps its worker until every client has its answer, so
    // the flood really outnumbers the workers however fast they serve.
    let answered = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (outcomes, start, answered) = (
                Arc::clone(&outcomes),
                Arc::clone(&start),
                Arc::clone(&answered),
            );
            thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    start.wait();
                    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
                    else {
                        outcomes.unconnected.fetch_add(1, Relaxed);
                        answered.wait();
                        return;
                    };
                    // Documented bounds: --queue-timeout 0.5 s, plus the kernel's
                    // retransmissions for a client that found the listen backlog full.
                    stream
                        .set_read_timeout(Some(Duration::from_secs(15)))
                        .expect("a read timeout");
                    let mut answer = String::new();
                    let read = stream
                        .write_all(b"hi\n")
                        .and_then(|()| BufReader::new(&stream).read_line(&mut answer));
                    match read {
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            outcomes.hung.fetch_add(1, Relaxed);
                        }
                        Ok(_) if answer.as_bytes() == ACK => {
                            outcomes.served.fetch_add(1, Relaxed);
                        }
                        Ok(_) if answer == BUSY => {
                            outcomes.busy.fetch_add(1, Relaxed);
                        }
                        Ok(_) => outcomes.unexpected(format!("answer {answer:?}")),
                        Err(e) => outcomes.unexpected(format!("{e} (answer so far {answer:?})")),
                    }
                    answered.wait();
                })
                .unwrap()
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let (served, busy, unconnected, hung) = (
        outcomes.served.load(Relaxed),
        outcomes.busy.load(Relaxed),
        outcomes.unconnected.load(Relaxed),
        outcomes.hung.load(Relaxed),
    );
    let unexpected = outcomes.unexpected.lock().unwrap().clone();
    println!(
        "flood: {CLIENTS} clients vs 4 workers, max-pending 8, backlog 128: served={served} busy={busy} not connected={unconnected} hung={hung} unexpected={}",
        unexpected.len()
    );
    assert_eq!(hung, 0, "clients waited past every documented timeout");
    assert!(
        unexpected.is_empty(),
        "a connected client must be acked or told busy: {unexpected:?}\n{}",
        server.log()
    );
    assert!(served > 0, "nobody was served");
    assert!(busy > 0, "the queue bound never answered `server busy`");
    server.wait_for("rejected with \"server busy\"");
    well_behaved(addr);
}

/// A socket that resets instead of closing.
fn reset(stream: TcpStream) {
    SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream);
}

#[test]
fn resets_mid_stream_and_mid_ack_and_half_closes() {
    let mut server = Server::start(&["--framing", "line"]);
    // Mid-stream: half a line, then a reset.
    let mut stream = connect(server.addr);
    stream.write_all(b"complete\nhalf a li").unwrap();
    let mut ack = [0u8; 10];
    stream.read_exact(&mut ack).unwrap();
    reset(stream);
    // Mid-ack: many lines, then a reset before reading any ack.
    let mut stream = connect(server.addr);
    stream.write_all(&b"line\n".repeat(20_000)).unwrap();
    reset(stream);
    server.wait_for_nth("closed:", 2);
    // Half-closed: every owed ack still arrives.
    let mut stream = connect(server.addr);
    stream.write_all(&b"line\n".repeat(1000)).unwrap();
    assert_eq!(finish(&mut stream), ACK.repeat(1000));
    well_behaved(server.addr);
    // Both resets are logged as such; the half-closed client's close is an EOF.
    server.wait_for_nth("closed: ", 3);
    let log = server.log();
    for (id, reason) in [(1, "reset by peer"), (2, "reset by peer"), (3, "eof")] {
        let close = log
            .lines()
            .find(|l| l.contains(&format!(" #{id} 127.0.0.1:")) && l.contains("closed: "))
            .unwrap_or_else(|| server.fail(&format!("no close of connection {id}")));
        assert!(
            close.contains(&format!("closed: {reason} ")),
            "connection {id} should close with {reason:?}: {close}"
        );
    }
    println!(
        "resets: 2 reset clients logged as `reset by peer`/eof, half-closed client got 1000/1000 acks"
    );
}

#[test]
fn bad_bytes_are_acked_and_shown_escaped() {
    let mut server = Server::start(&["--framing", "line", "--max-line", "65536"]);
    // Pseudo-random binary, NULs, invalid UTF-8 and GBK, CR/LF mixes, escapes.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed & 0xff) as u8
        })
        .filter(|&b| b != b'\n')
        .collect();
    let mut input = random.clone();
    input.extend_from_slice(
        b"\n\x00\x00\x00\n\xff\xfe\xfd\n\x81\n\x1b]0;owned\x07\x1b[2J\na\r\nb\rc\n\r\n",
    );
    let mut stream = connect(server.addr);
    stream.write_all(&input).unwrap();
    let lines = input.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(finish(&mut stream), ACK.repeat(lines));
    server.wait_for(r"(4 bytes): \x00\x00\x00");
    server.wait_for(r"(4 bytes): \xff\xfe\xfd");
    server.wait_for(r"\x1b]0;owned\x07\x1b[2J");
    server.wait_for("(4 bytes): b\\rc");
    assert!(
        !server.log().chars().any(|c| c.is_control() && c != '\n'),
        "raw control characters in the log"
    );

    // A 10 MiB line is cut at --max-line, every piece acked, never buffered whole.
    let mut stream = connect(server.addr);
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        thread::spawn(move || {
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..10 {
                stream.write_all(&chunk).unwrap();
            }
            stream.write_all(b"\n").unwrap();
            stream.shutdown(std::net::Shutdown::Write).unwrap();
        })
    };
    let mut acks = Vec::new();
    stream.read_to_end(&mut acks).unwrap();
    writer.join().unwrap();
    assert_eq!(acks, ACK.repeat(10 * (1 << 20) / 65536));
    let peak = peak_rss_kib(server.pid());
    println!(
        "bad bytes: {} lines of binary/NUL/invalid UTF-8 and GBK/escapes acked; 10 MiB line -> 160 pieces acked, peak RSS {peak} KiB",
        lines
    );
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn file_descriptor_exhaustion_is_logged_and_recovered_from() {
    let mut server = Server::start_via_shell(
        "ulimit -Sn 32 && ulimit -Hn 32 && exec \"$TCPACK\" server --bind 127.0.0.1:0 --workers 64 --queue-timeout 30",
    );
    let held: Vec<TcpStream> = (0..60).map(|_| connect(server.addr)).collect();
    let line = server.wait_for("accept failed");
    assert!(
        line.contains("Too many open files") || line.contains("os error 24"),
        "{line}"
    );
    drop(held);
    // Once they leave, the backlog drains and new clients are served.
    for _ in 0..3 {
        well_behaved(server.addr);
    }
    println!(
        "fd exhaustion: ulimit -n 32, 60 clients held; {} `accept failed` lines, then served again",
        server.count("accept failed")
    );
}

/// Clients that send lines one at a time, each waiting for its ack, until the
/// server closes them; returns how many acks they received in all.
fn busy_clients(
    addr: SocketAddr,
    count: usize,
    started: Arc<AtomicU64>,
) -> Vec<thread::JoinHandle<u64>> {
    (0..count)
        .map(|i| {
            let started = Arc::clone(&started);
            thread::spawn(move || {
                let stream = connect(addr);
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                let mut acked = 0;
                let deadline = Instant::now() + DEADLINE;
                let mut line = String::new();
                while Instant::now() < deadline {
                    if writer
                        .write_all(format!("client {i} message {acked}\n").as_bytes())
                        .is_err()
                    {
                        break;
                    }
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(n) if n > 0 && line == DEFAULT_ACK => acked += 1,
                        _ => break,
                    }
                    started.fetch_add(1, Relaxed);
                }
                acked
            })
        })
        .collect()
}

fn shutdown_under_load(signal: Signal) {
    let mut server = Server::start(&["--framing", "line", "--drain-timeout", "1", "--quiet"]);
    let started = Arc::new(AtomicU64::new(0));
    let clients = busy_clients(server.addr, 16, Arc::clone(&started));
    server.wait_for_nth("accepted", 16);
    let signalled = Instant::now();
    server.signal(signal);
    let status = server.wait_exit();
    let took = signalled.elapsed();
    let acked: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(status.code(), Some(0), "{}", server.log());
    let summary = server.wait_for("stopped:");
    let received = crate::util::summary_messages(&summary);
    println!(
        "shutdown under load ({signal:?}): 16 busy clients, {received} messages received, {acked} acked, exit 0 after {took:?} (drain timeout 1 s)"
    );
    assert_eq!(acked, received, "every message the server read was acked");
    assert!(server.log().contains("drain timeout"), "{}", server.log());
}

#[test]
fn sigint_under_load_acks_everything_it_read() {
    shutdown_under_load(Signal::INT);
}

#[test]
fn sigterm_under_load_acks_everything_it_read() {
    shutdown_under_load(Signal::TERM);
}

#[test]
fn a_second_sigint_under_load_forces_exit() {
    let mut server = Server::start(&["--framing", "line", "--drain-timeout", "600", "--quiet"]);
    let clients = busy_clients(server.addr, 8, Arc::new(AtomicU64::new(0)));
    server.wait_for_nth("accepted", 8);
    server.signal(Signal::INT);
    server.wait_for("shutting down");
    leave_the_same_request_window();
    server.signal(Signal::INT);
    assert_eq!(server.wait_exit().code(), Some(130), "{}", server.log());
    for client in clients {
        client.join().unwrap();
    }
}

fn concurrent_log_lines(format: &str) {
    let mut server = Server::start(&["--framing", "line", "--log-format", format]);
    let go = Arc::new(Barrier::new(64));
    let clients: Vec<_> = (0..64)
        .map(|i| {
            let go = Arc::clone(&go);
            let addr = server.addr;
            thread::spawn(move || {
                let mut stream = connect(addr);
                go.wait();
                let lines: String = (0..50)
                    .map(|j| format!("client {i:02} says {j:02} {}\n", "x".repeat(200)))
                    .collect();
                stream.write_all(lines.as_bytes()).unwrap();
                assert_eq!(finish(&mut stream), ACK.repeat(50));
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    server.wait_for_nth("closed", 64);
    let log = server.log();
    let messages: Vec<&str> = log.lines().filter(|l| l.contains("says")).collect();
    assert_eq!(
        messages.len(),
        64 * 50,
        "every message logged once, on its own line"
    );
    for line in log.lines() {
        if format == "json" {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert!(
                value["ts"].is_string() && value["event"].is_string(),
                "{line}"
            );
        } else {
            let stamp = line.get(..23).unwrap_or_default();
            assert!(
                chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S%.3f").is_ok(),
                "{line}"
            );
        }
    }
    for line in messages {
        assert!(
            line.ends_with(&"x".repeat(200)) || line.ends_with(&format!("{}\"}}", "x".repeat(200))),
            "{line}"
        );
    }
}

#[test]
fn log_lines_stay_whole_with_64_concurrent_clients() {
    concurrent_log_lines("text");
}

#[test]
fn json_log_lines_stay_valid_with_64_concurrent_clients() {
    concurrent_log_lines("json");
}

/// The most a socket's send buffer may grow to here (the third field of
/// `tcp_wmem`): an answer four times that size cannot hide in buffers.
fn send_buffer_max() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20)
}

#[test]
fn a_client_that_reads_slowly_cannot_hold_a_write_past_the_write_timeout() {
    // One line echoed to a client that takes 4 KiB every 10 ms through a
    // small receive buffer: each write call makes progress, but the whole
    // answer would take many seconds, and it is far more than any buffer holds.
    let size = (4 * send_buffer_max()).clamp(4 << 20, 64 << 20);
    let mut server = Server::start(&[
        "--framing",
        "line",
        "--max-line",
        &(size + 1).to_string(),
        "--echo",
        "--write-timeout",
        "0.5",
        "--quiet",
    ]);
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&server.addr.into()).unwrap();
    let client: TcpStream = socket.into();
    client.set_read_timeout(Some(DEADLINE)).unwrap();
    let writer = {
        let mut client = client.try_clone().unwrap();
        let mut line = vec![b'x'; size];
        line.push(b'\n');
        // When the last byte is written, the server has it (loopback) and
        // its answer starts.
        thread::spawn(move || client.write_all(&line).map(|()| chrono::Local::now()))
    };
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (mut client, stop) = (client.try_clone().unwrap(), Arc::clone(&stop));
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            // Bounded: 3000 reads take 30 s at least; the server gives up long before.
            for _ in 0..3000 {
                if stop.load(Relaxed) || !matches!(client.read(&mut chunk), Ok(n) if n > 0) {
                    return;
                }
                thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let close = server.wait_for("closed: ");
    stop.store(true, Relaxed);
    assert!(
        close.contains("closed: write timeout (client is not reading its acks)"),
        "{close}"
    );
    let _ = client.shutdown(std::net::Shutdown::Both);
    let written = writer.join().unwrap().expect("the whole line was written");
    reader.join().unwrap();
    // The write ends at the timeout: not before it, and not when the whole
    // answer is out, which would take many seconds.
    let took = (log_time(&close) - written.naive_local())
        .to_std()
        .unwrap_or_default();
    assert!(
        took >= Duration::from_millis(400) && took <= Duration::from_millis(2500),
        "closed {took:?} after the answer started, with --write-timeout 0.5"
    );
}
