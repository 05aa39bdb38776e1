//! `tcpack client` against the real server, and its failures against stand-ins.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use rustix::process::Signal;

use crate::util::{
    DEFAULT_ACK, Server, TestCommand, connect, free_port, hold_the_only_worker, skip, tcpack,
    tcpack_cmd, unresolvable_host,
};

/// `tcpack client ARGS`.
fn client(args: &[&str]) -> TestCommand {
    tcpack_cmd(&["client"]).args(args)
}

fn port(server: &Server) -> String {
    server.addr.port().to_string()
}

#[test]
fn stdin_lines_are_sent_one_at_a_time_and_each_ack_printed() {
    let mut server = Server::start(&[]);
    let out = client(&["127.0.0.1", &port(&server)])
        .stdin("one\ntwo\n你好\n")
        .run()
        .success();
    assert_eq!(out.stdout, DEFAULT_ACK.repeat(3), "{out}");
    assert!(
        out.stderr
            .contains("sent 3, acked 3, unacked 0, rtt min/avg/max = "),
        "{out}"
    );
    assert!(out.stderr.contains("ack 1: 10 bytes in "), "{out}");
    // A raw server acks each line exactly once because the client waits between lines.
    for text in ["(4 bytes): one", "(4 bytes): two", "(7 bytes): 你好"] {
        server.wait_for(text);
    }
    server.wait_for("closed: eof");
    assert_eq!(server.count("message ("), 3);
}

#[test]
fn messages_from_flags_repeat_like_ping() {
    let mut server = Server::start(&["--framing", "line"]);
    let target = server.addr.to_string();
    let out = client(&[
        &target,
        "-m",
        "a",
        "-m",
        "b",
        "--count",
        "5",
        "--interval",
        "1",
    ])
    .run()
    .success();
    assert_eq!(out.stdout.lines().count(), 5, "{out}");
    assert!(out.stderr.contains("sent 5, acked 5"), "{out}");
    server.wait_for_nth("(2 bytes): a", 3);
    server.wait_for_nth("(2 bytes): b", 2);
}

#[test]
fn ipv6_target_in_brackets() {
    if TcpListener::bind("[::1]:0").is_err() {
        return skip("this machine has no IPv6 loopback");
    }
    let server = Server::start(&["--bind", "[::1]:0"]);
    let out = client(&[&format!("[::1]:{}", port(&server)), "-m", "v6"])
        .run()
        .success();
    assert_eq!(out.stdout, DEFAULT_ACK, "{out}");
}

#[test]
fn gbk_encoding_sends_what_windows_tools_send() {
    // The ack reads right whether the server answers in GBK or in UTF-8.
    for reply_encoding in ["gbk", "utf-8"] {
        let mut server = Server::start(&["--decode", "hex", "--reply-encoding", reply_encoding]);
        let args = [
            "127.0.0.1",
            &port(&server),
            "--encoding",
            "gbk",
            "-m",
            "你好",
        ];
        let out = client(&args).run().success();
        server.wait_for("message (5 bytes): c4 e3 ba c3 0a");
        assert_eq!(
            out.stdout, DEFAULT_ACK,
            "--reply-encoding {reply_encoding}\n{out}"
        );
    }
}

#[test]
fn hex_sends_bytes_and_shows_acks_as_hex() {
    let mut server = Server::start(&["--echo"]);
    let out = client(&["127.0.0.1", &port(&server), "--hex", "-m", "00 ff 0a"])
        .run()
        .success();
    assert_eq!(out.stdout, "00 ff 0a\n", "{out}");
    server.wait_for(r"message (3 bytes): \x00\xff");
}

#[test]
fn no_wait_sends_and_leaves_and_quiet_prints_only_acks() {
    let mut server = Server::start(&["--framing", "line"]);
    let out = client(&[
        "127.0.0.1",
        &port(&server),
        "--no-wait",
        "-m",
        "x",
        "-m",
        "y",
    ])
    .run()
    .success();
    assert_eq!(out.stdout, "", "{out}");
    server.wait_for("(2 bytes): y");
    let out = client(&["127.0.0.1", &port(&server), "--quiet", "-m", "z"])
        .run()
        .success();
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        (DEFAULT_ACK, ""),
        "{out}"
    );
}

/// Runs the client with `args` and checks its exit code and its one-line message.
fn fails_with(args: &[&str], code: i32, message: &str) {
    let out = client(args).run().code(code);
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: ") && last.contains(message),
        "{out}"
    );
}

#[test]
fn refused_unresolved_and_bad_usage_have_their_own_exit_codes() {
    let closed = free_port().to_string();
    fails_with(
        &["127.0.0.1", &closed, "-m", "x"],
        3,
        "refused: is the server running",
    );
    let host = unresolvable_host();
    fails_with(
        &[&host, "7785", "-m", "x"],
        5,
        &format!("cannot resolve {host:?}"),
    );
    fails_with(&["127.0.0.1", "http", "-m", "x"], 2, "is not a number");
    fails_with(
        &["127.0.0.1", &closed, "--hex", "-m", "zz"],
        2,
        "is not hex bytes",
    );
}

#[test]
fn connect_timeout_when_nobody_answers() {
    // A listener that never accepts, with its backlog full: the kernel drops further SYNs.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let fillers: Vec<TcpStream> = (0..4)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(300)).ok())
        .collect();
    fails_with(
        &[&addr.to_string(), "--timeout", "0.5", "-m", "x"],
        4,
        "no answer from",
    );
    drop(fillers);
}

#[test]
fn server_closing_early_and_never_acking_are_told_apart() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let closer = std::thread::spawn(move || {
        let (mut first, _) = listener.accept().unwrap();
        let mut byte = [0u8; 1];
        let _ = first.read(&mut byte);
        drop(first);
        // The second client is held open and never acked.
        let (second, _) = listener.accept().unwrap();
        let mut rest = Vec::new();
        let _ = (&second).read_to_end(&mut rest);
    });
    fails_with(
        &[&addr, "-m", "x"],
        6,
        "closed the connection before acking message 1",
    );
    fails_with(
        &[&addr, "--timeout", "0.3", "-m", "x"],
        7,
        "no ack for message 1 within 300ms",
    );
    closer.join().unwrap();
}

#[test]
fn on_a_terminal_it_asks_like_the_tutorial() {
    let mut server = Server::start(&[]);
    // `script` gives the client a terminal, fed from our stdin.
    let answers = format!(
        "127.0.0.1\n{}\nhello from a terminal\n\n",
        server.addr.port()
    );
    let out = TestCommand::new("script")
        .args(["-qec", &format!("{} client", tcpack()), "/dev/null"])
        .stdin(answers)
        .run()
        .success();
    assert!(
        out.stdout.contains("请输入ip地址") && out.stdout.contains("请输入端口号"),
        "{out}"
    );
    assert!(out.stdout.contains(DEFAULT_ACK.trim_end()), "{out}");
    server.wait_for("message (22 bytes): hello from a terminal");
}

#[test]
fn ctrl_c_prints_the_summary_so_far() {
    let mut server = Server::start(&[]);
    let running = client(&[
        "127.0.0.1",
        &port(&server),
        "-m",
        "tick",
        "--count",
        "1000",
        "--interval",
        "200",
    ])
    .spawn();
    server.wait_for_nth("message (5 bytes): tick", 2);
    running.signal(Signal::INT);
    let out = running.wait().code(130);
    // "interrupted: sent 3, acked 2, unacked 1, rtt min/avg/max = 0.101/0.150/0.210 ms"
    let summary = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("interrupted: "))
        .unwrap_or_else(|| out.fail("no summary"));
    let numbers: Vec<f64> = summary
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|n| n.parse().ok())
        .collect();
    let [sent, acked, unacked, min, avg, max] = numbers[..] else {
        out.fail("a summary of sent, acked, unacked and min/avg/max")
    };
    assert!(
        summary.starts_with(&format!(
            "sent {sent}, acked {acked}, unacked {unacked}, rtt min/avg/max = "
        )) && summary.ends_with(" ms"),
        "{out}"
    );
    // Every ack it printed is counted, and at most the message in flight is not.
    let printed = out.stdout.lines().filter(|l| *l == "已收到").count() as f64;
    assert!(acked >= 2.0 && acked == printed, "{out}");
    assert!(sent - acked == unacked && unacked <= 1.0, "{out}");
    assert!(0.0 < min && min <= avg && avg <= max, "{out}");
}

#[test]
fn a_busy_server_is_reported_not_taken_for_an_ack() {
    let mut server = Server::start(&["--workers", "1", "--max-pending", "1"]);
    let _holder = hold_the_only_worker(&server);
    let _waiting = connect(server.addr);
    server.wait_for_conn(2, "waiting for a worker");
    let out = client(&["127.0.0.1", &port(&server), "-m", "x"])
        .run()
        .code(8);
    assert_eq!(out.stdout, "", "{out}");
    assert!(
        out.stderr
            .contains("turned the connection away with \"server busy\""),
        "{out}"
    );
}

#[test]
fn without_a_host_it_goes_where_the_server_listens_by_default() {
    if std::net::TcpListener::bind(tcpack::protocol::DEFAULT_ADDRESS).is_err() {
        return skip("something else listens on the default address 127.0.0.1:7785");
    }
    let mut server = Server::start(&["--bind", tcpack::protocol::DEFAULT_ADDRESS]);
    let out = tcpack_cmd(&["client", "-m", "to the default"])
        .run()
        .success();
    assert_eq!(out.stdout, DEFAULT_ACK, "{out}");
    server.wait_for("message (15 bytes): to the default");
}
