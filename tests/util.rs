//! Spawning the real binary and talking to it over real loopback sockets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// A failure bound, not a pause: every wait ends as soon as its event happens.
pub const DEADLINE: Duration = Duration::from_secs(15);

pub const ACK: &[u8] = "已收到\n".as_bytes();

pub fn tcpack() -> &'static str {
    env!("CARGO_BIN_EXE_tcpack")
}

/// A `tcpack server` child process, killed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    command: String,
    lines: Receiver<String>,
    /// Every stdout line read so far.
    seen: Vec<String>,
    stderr: Receiver<String>,
    status: Option<ExitStatus>,
}

impl Server {
    /// Starts `tcpack server ARGS --bind 127.0.0.1:0` (unless ARGS bind) and waits for its first line.
    pub fn start(args: &[&str]) -> Self {
        let mut all: Vec<&str> = vec!["server"];
        all.extend_from_slice(args);
        if !args.contains(&"--bind") {
            all.extend_from_slice(&["--bind", "127.0.0.1:0"]);
        }
        let mut command = Command::new(tcpack());
        command.args(&all);
        Self::spawn(command, format!("tcpack {}", all.join(" ")))
    }

    /// Starts the server through `bash -c SCRIPT`, with `$TCPACK` set to the binary.
    pub fn start_via_shell(script: &str) -> Self {
        let mut command = Command::new("bash");
        command.args(["-c", script]).env("TCPACK", tcpack());
        Self::spawn(command, format!("bash -c {script:?}"))
    }

    fn spawn(mut command: Command, description: String) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tcpack");
        let lines = pipe_lines(child.stdout.take().expect("stdout"));
        let stderr = pipe_lines(child.stderr.take().expect("stderr"));
        let mut server = Server {
            child,
            addr: "127.0.0.1:0".parse().expect("addr"),
            command: description,
            lines,
            seen: Vec::new(),
            stderr,
            status: None,
        };
        let first = server.wait_for("listening");
        match listening_addr(&first) {
            Some(addr) => server.addr = addr,
            None => server.fail(&format!("no address in the first line: {first}")),
        }
        assert_eq!(
            server.seen.len(),
            1,
            "the listening line must be the first line"
        );
        server
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for a line containing `needle` that was not matched before; returns it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        self.wait_for_nth(needle, 1)
    }

    /// Waits until `n` lines in all contain `needle`; returns the last of them.
    pub fn wait_for_nth(&mut self, needle: &str, n: usize) -> String {
        let deadline = Instant::now() + DEADLINE;
        let mut matched = 0;
        for line in &self.seen {
            if line.contains(needle) {
                matched += 1;
                if matched == n {
                    return line.clone();
                }
            }
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(needle);
                    self.seen.push(line);
                    if hit {
                        matched += 1;
                        if matched == n {
                            return self.seen[self.seen.len() - 1].clone();
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.fail(&format!(
                    "no {n}. line containing {needle:?} within {DEADLINE:?}"
                )),
                Err(RecvTimeoutError::Disconnected) => {
                    self.fail(&format!("exited before a {n}. line containing {needle:?}"))
                }
            }
        }
    }

    /// Lines seen so far that contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.seen.iter().filter(|l| l.contains(needle)).count()
    }

    pub fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.pid()).expect("pid");
        rustix::process::kill_process(pid, signal).expect("kill");
    }

    /// Waits for the process to exit (its stdout closes), reading every line it wrote.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => self.fail("did not exit in time"),
            }
        }
        let status = self.child.wait().expect("wait");
        self.status = Some(status);
        status
    }

    pub fn stderr(&self) -> String {
        self.stderr.try_iter().collect::<Vec<_>>().join("\n")
    }

    pub fn log(&self) -> String {
        self.seen.join("\n")
    }

    /// Panics with everything a reader needs to see why.
    pub fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\ncommand: {}\nstatus: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.status,
            self.log(),
            self.stderr()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The bound address from the first line, in text or JSON format.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    if line.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        return value["addr"].as_str()?.parse().ok();
    }
    line.split("listening on ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn pipe_lines(source: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(source).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A client socket whose reads fail after `DEADLINE` instead of hanging the suite.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    stream
}

/// Sends `data` and reads exactly `expected.len()` bytes back, checking them.
pub fn exchange(stream: &mut TcpStream, data: &[u8], expected: &[u8]) {
    stream.write_all(data).expect("write");
    let mut got = vec![0u8; expected.len()];
    stream.read_exact(&mut got).expect("read the ack");
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected)
    );
}

/// Reads until the server closes; fails on a reset, which would have destroyed data.
pub fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    stream
        .read_to_end(&mut got)
        .expect("read until the server closes");
    got
}

/// Half-closes, then reads everything the server still sends.
pub fn finish(stream: &mut TcpStream) -> Vec<u8> {
    stream.shutdown(Shutdown::Write).expect("shutdown");
    read_to_end(stream)
}

/// Runs a command to completion with `stdin`, bounded by `DEADLINE`; returns (status, stdout, stderr).
pub fn run(mut command: Command, stdin: &[u8]) -> (ExitStatus, String, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE * 4) {
        Ok(Ok(out)) => (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        Ok(Err(e)) => panic!("{command:?}: {e}"),
        Err(_) => {
            if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            panic!("{command:?} did not finish within {:?}", DEADLINE * 4)
        }
    }
}

/// A port nothing listens on right now (the listener that found it is closed).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A client that writes without ever reading its acks, from a thread; bounded
/// to 64 MiB, and it stops when the server stops reading or closes.
pub fn spawn_non_reader(stream: &TcpStream) -> thread::JoinHandle<()> {
    let mut hog = stream.try_clone().expect("clone");
    thread::spawn(move || {
        let chunk = [b'x'; 64 * 1024];
        for _ in 0..1024 {
            if hog.write_all(&chunk).is_err() {
                break;
            }
        }
    })
}

/// Runs `bash scripts/NAME ARGS` from the repository root with `$TCPACK` set
/// to the binary under test; returns (status, stdout, stderr).
pub fn run_script(name: &str, args: &[&str]) -> (ExitStatus, String, String) {
    let mut command = Command::new("bash");
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg(format!("scripts/{name}"))
        .args(args)
        .env("TCPACK", tcpack())
        .env("NC_TIMEOUT", "10");
    run(command, b"")
}

/// A directory of this test run's own under the system's temporary directory.
pub fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tcpack-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A host name no resolver can look up without asking the network: its first
/// label is 64 characters, one more than DNS allows, so the lookup fails on
/// this machine and no query leaves it (a made-up name such as
/// `x.invalid` would be sent to the configured name server).
pub fn unresolvable_host() -> String {
    format!("{}.invalid", "x".repeat(64))
}

/// A UDP socket on loopback connected to `addr`, whose reads fail after `DEADLINE`.
pub fn udp_client(addr: SocketAddr) -> std::net::UdpSocket {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a UDP client");
    socket.connect(addr).expect("connect the UDP client");
    socket.set_read_timeout(Some(DEADLINE)).expect("timeout");
    socket
}

/// Sends one datagram and returns the answer datagram.
pub fn udp_exchange(socket: &std::net::UdpSocket, data: &[u8]) -> Vec<u8> {
    socket.send(data).expect("send a datagram");
    let mut answer = vec![0u8; 64 * 1024];
    let n = socket.recv(&mut answer).expect("an answer datagram");
    answer.truncate(n);
    answer
}

/// A UDP port nothing listens on right now.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free UDP port")
        .port()
}
