//! Running tcpack like a service: the systemd unit, and three instances behind
//! HAProxy restarted one at a time while clients keep sending. `make test-cluster`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::util::{
    DEADLINE, DEFAULT_ACK, Server, TestCommand, free_fixed_port, required_tool, tcpack, tempdir,
};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn the_systemd_unit_verifies() {
    let analyze = required_tool("systemd-analyze", "systemd");
    let unit = std::fs::read_to_string(format!("{REPO}/deploy/tcpack.service")).unwrap();
    // verify checks that ExecStart exists: point it at the binary under test.
    let unit = unit.replace("/usr/local/bin/tcpack", tcpack());
    let dir = tempdir("unit");
    let path = dir.join("tcpack.service");
    std::fs::write(&path, unit).unwrap();
    let out = TestCommand::new(analyze)
        .args(["verify", path.to_str().unwrap()])
        .run()
        .success();
    assert!(
        !out.stderr.contains("tcpack.service"),
        "systemd-analyze complains:\n{out}"
    );
    let unit = std::fs::read_to_string(&path).unwrap();
    for needle in [
        "KillSignal=SIGTERM",
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ] {
        assert!(unit.contains(needle), "{needle}");
    }
    let timeout: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        timeout > 10 + 2,
        "TimeoutStopSec must exceed the drain timeout (10 s) plus the ack grace and linger"
    );
}

/// HAProxy as a child, killed on drop.
struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One instance of the cluster: `tcpack server` on a shared port.
fn instance(port: u16, status: u16) -> Server {
    Server::start(&[
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--status-bind",
        &format!("127.0.0.1:{status}"),
        "--reuse-port",
        "--framing",
        "line",
        "--drain-timeout",
        "1",
    ])
}

/// How the clients' messages fared, counted across them all: sent, acked,
/// resent after a draining instance closed on them, and the reconnects.
#[derive(Default)]
struct Delivery {
    sent: AtomicU64,
    acked: AtomicU64,
    resent: AtomicU64,
    reconnects: AtomicU64,
    progress: Mutex<u64>,
    moved: Condvar,
}

impl Delivery {
    /// Waits until `more` further acks arrived (a failure bound, not a pause).
    fn wait_for_acks(&self, more: u64) {
        let deadline = Instant::now() + DEADLINE;
        let mut acked = self.progress.lock().unwrap();
        let target = *acked + more;
        while *acked < target {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "clients made no progress through HAProxy");
            acked = self.moved.wait_timeout(acked, left).unwrap().0;
        }
    }
}

/// A client sending through HAProxy until told to stop: each message waits
/// for its ack; a connection that ends first is reopened and the unacked
/// message sent again.
fn client(
    id: usize,
    front: SocketAddr,
    stop: Arc<AtomicBool>,
    delivery: Arc<Delivery>,
) -> Vec<String> {
    let deadline = Instant::now() + DEADLINE * 4;
    let mut acked_ids = Vec::new();
    let mut seq = 0u64;
    let mut owed: Option<String> = None;
    while Instant::now() < deadline && (!stop.load(Relaxed) || owed.is_some()) {
        let Ok(stream) = TcpStream::connect(front) else {
            delivery.reconnects.fetch_add(1, Relaxed);
            continue;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        loop {
            let message = match owed.take() {
                Some(m) => {
                    delivery.resent.fetch_add(1, Relaxed);
                    m
                }
                None if stop.load(Relaxed) || Instant::now() >= deadline => break,
                None => {
                    seq += 1;
                    delivery.sent.fetch_add(1, Relaxed);
                    format!("c{id}-{seq}")
                }
            };
            let mut line = String::new();
            let answered = writer.write_all(format!("{message}\n").as_bytes()).is_ok()
                && matches!(reader.read_line(&mut line), Ok(n) if n > 0);
            if !answered || line != DEFAULT_ACK {
                // Closed by a draining instance (or told so): send it again elsewhere.
                owed = Some(message);
                delivery.reconnects.fetch_add(1, Relaxed);
                break;
            }
            acked_ids.push(message);
            delivery.acked.fetch_add(1, Relaxed);
            *delivery.progress.lock().unwrap() += 1;
            delivery.moved.notify_all();
        }
    }
    acked_ids
}

#[test]
fn rolling_restart_behind_haproxy_loses_no_message() {
    let haproxy = required_tool("haproxy", "haproxy");
    // Below the ephemeral range: the restarts bind these ports again.
    let front = free_fixed_port();
    let ports: Vec<(u16, u16)> = (0..3)
        .map(|_| (free_fixed_port(), free_fixed_port()))
        .collect();
    let mut config = std::fs::read_to_string(format!("{REPO}/deploy/haproxy.cfg")).unwrap();
    config = config.replace("127.0.0.1:7785", &format!("127.0.0.1:{front}"));
    for (i, (port, status)) in ports.iter().enumerate() {
        config = config
            .replace(
                &format!("127.0.0.1:780{}", i + 1),
                &format!("127.0.0.1:{port}"),
            )
            .replace(&format!("port 781{}", i + 1), &format!("port {status}"));
    }
    let dir = tempdir("haproxy");
    let config_path = dir.join("haproxy.cfg");
    std::fs::write(&config_path, config).unwrap();

    let mut instances: Vec<Server> = ports.iter().map(|&(p, s)| instance(p, s)).collect();
    let haproxy_log = dir.join("haproxy.log");
    let mut proxy = Haproxy(
        Command::new(haproxy)
            .args(["-db", "-f", config_path.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&haproxy_log).unwrap())
            .spawn()
            .expect("start haproxy"),
    );
    let front_addr: SocketAddr = format!("127.0.0.1:{front}").parse().unwrap();
    let deadline = Instant::now() + DEADLINE;
    while TcpStream::connect(front_addr).is_err() {
        let exited = proxy.0.try_wait().ok().flatten();
        if exited.is_some() || Instant::now() > deadline {
            let log = std::fs::read_to_string(&haproxy_log).unwrap_or_default();
            panic!("haproxy did not start listening ({exited:?}):\n{log}");
        }
        thread::sleep(Duration::from_millis(20));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let delivery = Arc::new(Delivery::default());
    let clients: Vec<_> = (0..4)
        .map(|id| {
            let (stop, delivery) = (Arc::clone(&stop), Arc::clone(&delivery));
            thread::spawn(move || client(id, front_addr, stop, delivery))
        })
        .collect();
    delivery.wait_for_acks(200);

    // Restart each instance: the new one first, on the same ports, then SIGTERM the old.
    let mut retired = Vec::new();
    for (i, &(port, status)) in ports.iter().enumerate() {
        let fresh = instance(port, status);
        let mut old = std::mem::replace(&mut instances[i], fresh);
        old.signal(Signal::TERM);
        assert_eq!(old.wait_exit().code(), Some(0), "{}", old.log());
        old.wait_for("listener closed");
        retired.push(old);
        delivery.wait_for_acks(200);
    }
    stop.store(true, Relaxed);
    let acked_ids: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    drop(proxy);
    for mut server in instances {
        server.signal(Signal::TERM);
        assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
        retired.push(server);
    }

    // Every message the clients count as acked was received exactly once, by some instance.
    let mut received: HashMap<String, usize> = HashMap::new();
    for server in &retired {
        for line in server.log().lines() {
            if let Some(text) = line.split("bytes): ").nth(1) {
                *received.entry(text.to_owned()).or_default() += 1;
            }
        }
    }
    let sent = delivery.sent.load(Relaxed);
    let acked = delivery.acked.load(Relaxed);
    let resent = delivery.resent.load(Relaxed);
    let lost = sent - acked;
    println!(
        "cluster: sent={sent} acked={acked} resent={resent} lost={lost} reconnects={}",
        delivery.reconnects.load(Relaxed)
    );
    assert_eq!(lost, 0, "messages sent but never acked");
    assert_eq!(acked_ids.len() as u64, acked);
    for id in &acked_ids {
        assert_eq!(
            received.get(id),
            Some(&1),
            "{id} was received {:?} times",
            received.get(id)
        );
    }
    assert_eq!(
        received.len(),
        acked_ids.len(),
        "instances received messages no client saw acked"
    );
    // HAProxy resets a forwarded connection whose client left before saying
    // anything (the readiness probe above); one that carried messages must
    // end cleanly.
    for server in &retired {
        let log = server.log();
        for line in log.lines().filter(|l| l.contains("closed: reset by peer")) {
            assert!(line.ends_with(", 0 messages, 0 bytes"), "{line}\n{log}");
        }
    }
}

/// The lines of `path` once one contains `needle` (bounded by `DEADLINE`):
/// HAProxy, run in the foreground, reports each server's state change there.
fn wait_for_in_file(path: &std::path::Path, needle: &str) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(needle)) {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in {}:\n{text}",
            path.display()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn haproxy_takes_a_draining_instance_out_by_its_healthz() {
    let haproxy = required_tool("haproxy", "haproxy");
    let (front, port, status) = (free_fixed_port(), free_fixed_port(), free_fixed_port());
    // deploy/haproxy.cfg with its first server only: `option httpchk GET /healthz`.
    let config = std::fs::read_to_string(format!("{REPO}/deploy/haproxy.cfg")).unwrap();
    assert!(config.contains("option httpchk GET /healthz"), "{config}");
    let config: String = config
        .lines()
        .filter(|l| !l.contains("server b ") && !l.contains("server c "))
        .map(|l| {
            l.replace("127.0.0.1:7785", &format!("127.0.0.1:{front}"))
                .replace("127.0.0.1:7801", &format!("127.0.0.1:{port}"))
                .replace("port 7811", &format!("port {status}"))
                + "\n"
        })
        .collect();
    let dir = tempdir("haproxy-healthz");
    let config_path = dir.join("haproxy.cfg");
    std::fs::write(&config_path, config).unwrap();
    let mut server = Server::start(&[
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--status-bind",
        &format!("127.0.0.1:{status}"),
        "--reuse-port",
        "--drain-timeout",
        "30",
    ]);
    let haproxy_log = dir.join("haproxy.log");
    let _proxy = Haproxy(
        Command::new(haproxy)
            .args(["-db", "-f", config_path.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&haproxy_log).unwrap())
            .spawn()
            .expect("start haproxy"),
    );
    // Through HAProxy while the instance is healthy; the client stays, so the drain lasts.
    let deadline = Instant::now() + DEADLINE;
    let mut client = loop {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", front)) {
            break stream;
        }
        assert!(Instant::now() < deadline, "haproxy did not start listening");
        thread::sleep(Duration::from_millis(20));
    };
    client.set_read_timeout(Some(DEADLINE)).unwrap();
    client.write_all(b"hi").unwrap();
    let mut ack = vec![0u8; DEFAULT_ACK.len()];
    std::io::Read::read_exact(&mut client, &mut ack).unwrap();
    assert_eq!(ack, DEFAULT_ACK.as_bytes());

    server.signal(Signal::TERM);
    server.wait_for("shutting down: 1 active");
    let down = wait_for_in_file(&haproxy_log, "tcpack_instances/a is DOWN");
    assert!(down.contains("503"), "{down}");
    // The drain goes on: the client is still answered.
    client.write_all(b"again").unwrap();
    std::io::Read::read_exact(&mut client, &mut ack).unwrap();
    assert_eq!(ack, DEFAULT_ACK.as_bytes());
    drop(client);
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
}
