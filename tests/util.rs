//! Spawning the real binary, as a server or as a command run to completion,
//! and talking to it over real loopback sockets.

use std::ffi::OsStr;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// A failure bound, not a pause: every wait ends as soon as its event happens.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// What the server says on the wire besides the user's replies, from the
/// library, so a test never retypes them: the default ack, and the notices
/// for a connection no worker will serve.
pub use tcpack::protocol::{BUSY, DEFAULT_ACK, SHUTTING_DOWN};

/// The default ack as the bytes a client reads.
pub const ACK: &[u8] = DEFAULT_ACK.as_bytes();

pub fn tcpack() -> &'static str {
    env!("CARGO_BIN_EXE_tcpack")
}

/// A place in a server's log (`Server::mark`): waits from it see only the
/// lines printed after it.
#[derive(Debug, Clone, Copy)]
pub struct Mark(usize);

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
    /// The server's stdin, for `--console` commands; `None` means /dev/null.
    stdin: Option<ChildStdin>,
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
        Self::spawn(command, false)
    }

    /// Starts `tcpack relay ARGS --bind 127.0.0.1:0` (unless ARGS bind) and waits for its first line.
    pub fn start_relay(args: &[&str]) -> Self {
        let mut all: Vec<&str> = vec!["relay"];
        all.extend_from_slice(args);
        if !args.contains(&"--bind") {
            all.extend_from_slice(&["--bind", "127.0.0.1:0"]);
        }
        let mut command = Command::new(tcpack());
        command.args(&all);
        Self::spawn(command, false)
    }

    /// As `start`, with a pipe on stdin for `console` (use `--console`).
    pub fn start_with_console(args: &[&str]) -> Self {
        let mut command = Command::new(tcpack());
        command
            .arg("server")
            .args(args)
            .args(["--bind", "127.0.0.1:0"]);
        Self::spawn(command, true)
    }

    /// Closes the server's stdin, as a pipe's writer does when it is done.
    pub fn close_console(&mut self) {
        drop(self.stdin.take());
    }

    /// Types one line on the server's console.
    pub fn console(&mut self, line: &str) {
        let Some(stdin) = self.stdin.as_mut() else {
            self.fail("console: this server was started without a stdin pipe")
        };
        if let Err(e) = writeln!(stdin, "{line}").and_then(|()| stdin.flush()) {
            self.fail(&format!("console: writing {line:?}: {e}"));
        }
    }

    /// Starts the server through `bash -c SCRIPT`, with `$TCPACK` set to the binary.
    pub fn start_via_shell(script: &str) -> Self {
        let mut command = Command::new("bash");
        command.args(["-c", script]).env("TCPACK", tcpack());
        Self::spawn(command, false)
    }

    fn spawn(mut command: Command, with_stdin: bool) -> Self {
        let description = command_line(&command);
        let mut child = command
            .stdin(if with_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {description}: {e}"));
        let lines = pipe_lines(child.stdout.take().expect("stdout"));
        let stderr = pipe_lines(child.stderr.take().expect("stderr"));
        let stdin = child.stdin.take();
        let mut server = Server {
            stdin,
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

    /// Waits for the first line since the server started that contains
    /// `needle`, however long ago it was printed; returns it. To wait for a
    /// line caused by something the test just did, take a `mark` first and
    /// use `wait_since`.
    pub fn wait_for(&mut self, needle: &str) -> String {
        self.wait_for_nth(needle, 1)
    }

    /// Waits until `n` lines in all contain `needle`; returns the last of them.
    pub fn wait_for_nth(&mut self, needle: &str, n: usize) -> String {
        self.wait_from(Mark(0), n, &format!("{needle:?}"), |l| l.contains(needle))
    }

    /// Waits for a line of connection `id` (`#ID 127.0.0.1:…`) that contains
    /// `needle`: `accepted`, `waiting for a worker`, `closed: eof`…
    pub fn wait_for_conn(&mut self, id: u64, needle: &str) -> String {
        let tag = format!(" #{id} ");
        let what = format!("{needle:?} of connection #{id}");
        self.wait_from(Mark(0), 1, &what, |l| {
            l.contains(&tag) && l.contains(needle)
        })
    }

    /// The point in the log reached now: every line the server printed
    /// before this call is before the mark.
    pub fn mark(&mut self) -> Mark {
        self.seen.extend(self.lines.try_iter());
        Mark(self.seen.len())
    }

    /// Waits for a line printed after `mark` that contains `needle`, as a
    /// log reader that starts at the mark does; returns it.
    pub fn wait_since(&mut self, mark: Mark, needle: &str) -> String {
        self.wait_from(mark, 1, &format!("{needle:?}"), |l| l.contains(needle))
    }

    /// Waits for the `n`th line after `mark` for which `wanted` holds.
    fn wait_from(
        &mut self,
        mark: Mark,
        n: usize,
        what: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + DEADLINE;
        let mut matched = 0;
        for line in self.seen.iter().skip(mark.0) {
            if wanted(line) {
                matched += 1;
                if matched == n {
                    return line.clone();
                }
            }
        }
        let since = if mark.0 == 0 {
            String::new()
        } else {
            format!(" after line {}", mark.0)
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = wanted(&line);
                    self.seen.push(line);
                    if hit {
                        matched += 1;
                        if matched == n {
                            return self.seen[self.seen.len() - 1].clone();
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.fail(&format!(
                    "no {n}. line containing {what}{since} within {DEADLINE:?}"
                )),
                Err(RecvTimeoutError::Disconnected) => self.fail(&format!(
                    "exited before a {n}. line containing {what}{since}"
                )),
            }
        }
    }

    /// Lines seen so far that contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.seen.iter().filter(|l| l.contains(needle)).count()
    }

    pub fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(self.pid()).expect("pid");
        kill_process(pid, signal).expect("kill");
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

/// Takes the only worker of a `--workers 1` server (default ack, either
/// framing): connects and is acked once, so the worker is provably serving
/// this client and every later one waits in the queue. The worker stays
/// taken until the returned client closes.
pub fn hold_the_only_worker(server: &Server) -> TcpStream {
    let listening = &server.seen[0];
    if !listening.contains("workers=1,") {
        server.fail(&format!("not a --workers 1 server: {listening}"));
    }
    let mut holder = connect(server.addr);
    exchange(&mut holder, b"hold\n", ACK);
    holder
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

/// How long a command run to completion may take before it is killed: a
/// failure bound, roomy because some commands start servers or run benches.
pub const RUN_DEADLINE: Duration = Duration::from_secs(4 * DEADLINE.as_secs());

/// A command the tests run to completion, the binary under test or a tool
/// around it, modelled on ripgrep's `TestCommand`:
///
/// ```ignore
/// let out = tcpack_cmd(&["client", "127.0.0.1", "7785"]).stdin("hi\n").run().success();
/// assert_eq!(out.stdout, DEFAULT_ACK, "{out}");
/// ```
///
/// A check that fails prints the whole command line, the exit status and
/// everything the command wrote.
pub struct TestCommand {
    command: Command,
    stdin: Vec<u8>,
}

/// `tcpack ARGS`: the binary under test.
pub fn tcpack_cmd(args: &[&str]) -> TestCommand {
    TestCommand::new(tcpack()).args(args)
}

impl TestCommand {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        TestCommand {
            command: Command::new(program),
            stdin: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    pub fn args(mut self, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Self {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// What the command reads on stdin (nothing unless given: stdin is then at its end).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = input.into();
        self
    }

    /// Runs the command to completion, bounded by `RUN_DEADLINE`.
    #[track_caller]
    pub fn run(self) -> Outcome {
        self.spawn().wait()
    }

    /// Starts the command, for a test that acts on it while it runs.
    pub fn spawn(mut self) -> Running {
        let line = command_line(&self.command);
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {line}: {e}"));
        let mut input = child.stdin.take().expect("stdin");
        let stdin = self.stdin;
        thread::spawn(move || {
            let _ = input.write_all(&stdin);
        });
        let pid = child.id();
        let (tx, output) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        Running { pid, line, output }
    }
}

/// A command started by `TestCommand::spawn`.
pub struct Running {
    pid: u32,
    line: String,
    output: Receiver<std::io::Result<Output>>,
}

impl Running {
    pub fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(self.pid as i32).expect("pid");
        kill_process(pid, signal).expect("kill");
    }

    /// Waits for the command to exit; kills it and fails if it overruns `RUN_DEADLINE`.
    #[track_caller]
    pub fn wait(self) -> Outcome {
        let output = match self.output.recv_timeout(RUN_DEADLINE) {
            Ok(output) => output,
            Err(_) => {
                if let Some(pid) = Pid::from_raw(self.pid as i32) {
                    let _ = kill_process(pid, Signal::KILL);
                }
                // What it wrote before it was killed, unless a child of its own
                // still holds the pipes open.
                match self.output.recv_timeout(Duration::from_secs(2)) {
                    Ok(Ok(output)) => Outcome::new(self.line, output).fail(&format!(
                        "did not finish within {RUN_DEADLINE:?}, so it was killed"
                    )),
                    _ => panic!("{} did not finish within {RUN_DEADLINE:?}", self.line),
                }
            }
        };
        let output = output.unwrap_or_else(|e| panic!("{}: {e}", self.line));
        Outcome::new(self.line, output)
    }
}

/// How a command ended and what it wrote.
pub struct Outcome {
    /// The command line, as a shell would take it.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    fn new(command: String, output: Output) -> Self {
        Outcome {
            command,
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Checks that the command exited 0.
    #[track_caller]
    pub fn success(self) -> Self {
        if !self.status.success() {
            self.fail("expected success");
        }
        self
    }

    /// Checks the command's exit code.
    #[track_caller]
    pub fn code(self, expected: i32) -> Self {
        if self.status.code() != Some(expected) {
            self.fail(&format!("expected exit code {expected}"));
        }
        self
    }

    /// Panics with everything a reader needs to see why.
    #[track_caller]
    pub fn fail(&self, what: &str) -> ! {
        panic!("{what}\n{self}");
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "command: {}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

/// `command` as one could paste it into a shell: directory, environment, words.
fn command_line(command: &Command) -> String {
    let mut words = Vec::new();
    if let Some(dir) = command.get_current_dir() {
        words.extend(["cd".to_owned(), quote(dir.as_os_str()), "&&".to_owned()]);
    }
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            words.push(format!("{}={}", key.to_string_lossy(), quote(value)));
        }
    }
    words.push(quote(command.get_program()));
    words.extend(command.get_args().map(quote));
    words.join(" ")
}

fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The number of messages the server's closing summary line counts.
pub fn summary_messages(summary: &str) -> u64 {
    summary
        .split(", ")
        .find_map(|part| part.strip_suffix(" messages")?.parse().ok())
        .unwrap_or_else(|| panic!("no message count in {summary:?}"))
}

/// `nc -N -w 10 127.0.0.1 PORT`: a line client that closes its side when
/// its stdin ends, with a bound on a silent server.
pub fn nc(server: &Server) -> TestCommand {
    TestCommand::new("nc").args([
        "-N",
        "-w",
        "10",
        "127.0.0.1",
        &server.addr.port().to_string(),
    ])
}

/// A port nothing listens on right now (the listener that found it is closed).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A port free right now and below the kernel's ephemeral range, for a
/// server that must bind a port it chose first (and bind it again, in a
/// restart): no other test binding port 0, and no outgoing connection, is
/// ever given such a port, so nothing takes it meanwhile.
pub fn free_fixed_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering::Relaxed};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let (first, span) = (10_000u16, low.saturating_sub(10_000).max(1));
    // Each test process starts elsewhere, so parallel runs rarely meet.
    let start = (std::process::id() % u32::from(span)) as u16;
    for _ in 0..span {
        let port = first + (start + NEXT.fetch_add(1, Relaxed)) % span;
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port));
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
    panic!("no free port between {first} and {low}");
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
/// to the binary under test.
#[track_caller]
pub fn run_script(name: &str, args: &[&str]) -> Outcome {
    TestCommand::new("bash")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg(format!("scripts/{name}"))
        .args(args)
        .env("TCPACK", tcpack())
        .env("NC_TIMEOUT", "10")
        .run()
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

/// A log line's local timestamp (`2026-12-06 19:29:41.684 INFO ...`).
pub fn log_time(line: &str) -> chrono::NaiveDateTime {
    line.get(..23)
        .and_then(|stamp| {
            chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S%.3f").ok()
        })
        .unwrap_or_else(|| panic!("no timestamp in {line:?}"))
}

/// Where the tests record what they skipped at run time, one file a test,
/// for the summary `make test` prints (scripts/skips.sh).
pub fn skipped_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped")
}

/// Skips the calling test for a reason of this machine's (no IPv6 loopback,
/// say): prints why and records it, so the skip is counted in `make test`'s
/// summary instead of passing unseen. Call it, then return.
pub fn skip(why: &str) {
    let test = thread::current().name().unwrap_or("a test").to_owned();
    eprintln!("skipped {test}: {why}");
    let dir = skipped_dir();
    let recorded = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::write(
            dir.join(test.replace("::", "-")),
            format!("{test}: {why}\n"),
        )
    });
    if let Err(e) = recorded {
        panic!("cannot record the skip of {test} in {}: {e}", dir.display());
    }
}

/// The path of a tool that `scripts/ensure-deps.sh` installs (`make test`
/// runs it first): a missing one fails the test with how to install it.
pub fn required_tool(tool: &str, package: &str) -> String {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/bin", "/sbin"]
        .iter()
        .map(|dir| format!("{dir}/{tool}"))
        .find(|path| Path::new(path).exists())
        .unwrap_or_else(|| {
            panic!(
                "{tool} is not installed: `make test` installs it (scripts/ensure-deps.sh), or apt-get install {package}"
            )
        })
}

/// Waits out the window in which a second stop signal is the same request
/// as the first (Ctrl-C reaching tcpack twice, from the terminal and from a
/// wrapper), so that the next signal counts as a second Ctrl-C. The window
/// is the server's `lifecycle::SAME_REQUEST` (100 ms); this is not a wait
/// for an event but the gap a person leaves between two presses.
pub fn leave_the_same_request_window() {
    thread::sleep(Duration::from_millis(150));
}

/// A process's CPU time so far (utime + stime), in clock ticks, from /proc.
pub fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields 14 and 15, counted after the ")" that ends the command name.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// What `tshark -q -z follow,tcp,raw,STREAM` shows of a pcap's TCP stream:
/// each piece the client sent as a hex line, the server's indented by a tab.
pub fn tshark_follow(tshark: &str, pcap: &Path, stream: usize) -> Vec<String> {
    let follow = TestCommand::new(tshark)
        .args([
            OsStr::new("-r"),
            pcap.as_os_str(),
            OsStr::new("-q"),
            OsStr::new("-z"),
        ])
        .arg(format!("follow,tcp,raw,{stream}"))
        .run()
        .success();
    follow
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Node 1"))
        .skip(1)
        .take_while(|l| !l.starts_with("====="))
        .map(str::to_owned)
        .collect()
}

/// Bytes as tshark's raw follow shows them: hex, no spaces.
pub fn plain_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A line client: one connection, answers read a line at a time.
pub struct LineClient {
    pub stream: TcpStream,
    pub reader: BufReader<TcpStream>,
}

impl LineClient {
    pub fn new(server: &Server) -> Self {
        let stream = connect(server.addr);
        let reader = BufReader::new(stream.try_clone().expect("a second handle"));
        Self { stream, reader }
    }

    pub fn send(&mut self, bytes: &str) {
        self.stream.write_all(bytes.as_bytes()).expect("sending");
    }

    /// The next answer line, with its line end.
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("an answer line");
        line
    }

    /// Sends `bytes` as they are and returns the answer line, line end and all.
    pub fn round_trip(&mut self, bytes: &str) -> String {
        self.send(bytes);
        self.line()
    }

    /// Sends `line` and a newline; returns the answer without its line end.
    pub fn ask(&mut self, line: &str) -> String {
        self.round_trip(&format!("{line}\n")).trim_end().to_owned()
    }
}

/// A server's status port address, from its `status on ADDR` log line.
pub fn status_port(server: &mut Server) -> String {
    let line = server.wait_for("status on ");
    line.rsplit("status on ")
        .next()
        .expect("an address after `status on`")
        .to_owned()
}

/// Sends `input` to the status port at `status` as `nc -N` does; its answer.
pub fn to_status_port(status: &str, input: &str) -> String {
    let (host, port) = status.rsplit_once(':').expect("HOST:PORT");
    TestCommand::new("nc")
        .args(["-N", "-w", "10", host, port])
        .stdin(input)
        .run()
        .success()
        .stdout
}
