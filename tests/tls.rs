//! TLS as users meet it: `openssl s_client`, `socat`, `tcpack client --tls`,
//! mutual TLS, both protocols on one port, stalled handshakes, plaintext on a
//! TLS port, and Ctrl-C with TLS clients busy. Certificates are made here,
//! with rcgen, for each run; no key is ever committed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustix::process::Signal;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::util::{
    ACK, DEADLINE, DEFAULT_ACK, Server, TestCommand, connect, read_to_end, run_script, tcpack_cmd,
    tempdir,
};

/// A CA of this test run's own, and certificates it signs.
struct Pki {
    dir: PathBuf,
    ca: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new(name: &str) -> Self {
        let dir = tempdir(&format!("tls-{name}"));
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "tcpack test CA");
        let cert = params.self_signed(&key).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, cert.pem()).unwrap();
        Self {
            dir,
            ca,
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate for `names` signed by the CA, its subject `CN=cn`: (cert, key) files.
    fn issue(&self, cn: &str, names: &[&str], expired: bool) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        self.write(cn, &cert.pem(), &key.serialize_pem())
    }

    /// A self-signed certificate no CA vouches for.
    fn stranger(&self, cn: &str) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.self_signed(&key).unwrap();
        self.write(cn, &cert.pem(), &key.serialize_pem())
    }

    fn write(&self, name: &str, cert: &str, key: &str) -> (PathBuf, PathBuf) {
        let (cert_path, key_path) = (
            self.dir.join(format!("{name}.pem")),
            self.dir.join(format!("{name}.key")),
        );
        std::fs::write(&cert_path, cert).unwrap();
        std::fs::write(&key_path, key).unwrap();
        (cert_path, key_path)
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A self-signed TLS server and the certificate it saved for clients.
fn self_signed_server(name: &str, args: &[&str]) -> (Server, PathBuf) {
    let saved = tempdir(&format!("tls-{name}")).join("server.pem");
    let mut all = vec![
        "--framing",
        "line",
        "--tls-self-signed",
        "--tls-save-cert",
        path(&saved),
    ];
    all.extend_from_slice(args);
    let mut server = Server::start(&all);
    let ready = server.wait_for("tls only: self-signed certificate");
    assert!(ready.contains("SHA-256 fingerprint "), "{ready}");
    (server, saved)
}

fn client(server: &Server, args: &[&str]) -> TestCommand {
    let port = server.addr.port().to_string();
    let mut all = vec!["client", "127.0.0.1", &port];
    all.extend_from_slice(args);
    tcpack_cmd(&all)
}

#[test]
fn openssl_socat_and_tcpack_client_get_their_acks() {
    let (mut server, saved) = self_signed_server("clients", &[]);
    let port = server.addr.port().to_string();
    // openssl s_client, verifying the saved certificate, through scripts/tls-say.sh.
    let said = TestCommand::new("bash")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["scripts/tls-say.sh", "127.0.0.1", &port, "hello", "你好"])
        .env("TLS_CA", path(&saved))
        .env("NC_TIMEOUT", "10")
        .run()
        .success();
    assert_eq!(said.stdout, DEFAULT_ACK.repeat(2), "{said}");
    let line = server.wait_for("tls: TLSv1.3, ");
    assert!(line.contains("#1 127.0.0.1:"), "{line}");
    server.wait_for("message (6 bytes): hello");
    // socat, verifying too.
    let socat = TestCommand::new("socat")
        .args([
            "-",
            &format!("OPENSSL:127.0.0.1:{port},cafile={}", path(&saved)),
        ])
        .stdin("from socat\n")
        .run()
        .success();
    assert_eq!(socat.stdout, DEFAULT_ACK, "{socat}");
    // tcpack's own client.
    let out = client(&server, &["--tls", "--tls-ca", path(&saved), "-m", "hi"])
        .run()
        .success();
    assert_eq!(out.stdout, DEFAULT_ACK, "{out}");
    assert!(out.stderr.contains("with TLS (TLSv1.3)"), "{out}");
    server.wait_for("message (3 bytes): hi");
}

#[test]
fn a_client_that_cannot_verify_says_how_to_trust_the_server() {
    let (_server, _saved) = self_signed_server("trust", &[]);
    let server = &_server;
    let out = client(server, &["--tls", "--insecure", "-m", "hi"])
        .run()
        .success();
    assert_eq!(out.stdout, DEFAULT_ACK, "{out}");
    assert!(out.stderr.contains("warning: --insecure"), "{out}");
    // Without --tls-ca, the system's CAs (here: none) do not vouch for it.
    let out = client(server, &["--tls", "-m", "hi"])
        .env("SSL_CERT_FILE", "/nonexistent/tcpack-no-bundle.pem")
        .run()
        .code(9);
    assert!(
        out.stderr.contains("--tls-ca FILE")
            && out.stderr.contains("SSL_CERT_FILE")
            && out.stderr.contains("--insecure"),
        "{out}"
    );
    // Another server's certificate is not this one's.
    let (_other, other_cert) = self_signed_server("trust-other", &[]);
    let out = client(
        server,
        &["--tls", "--tls-ca", path(&other_cert), "-m", "hi"],
    )
    .run()
    .code(9);
    assert!(
        out.stderr.contains("certificate is not trusted") && out.stderr.contains("--tls-ca FILE"),
        "{out}"
    );
}

#[test]
fn without_tls_ca_the_client_trusts_the_system_store_named_by_ssl_cert_file() {
    let pki = Pki::new("system");
    let (cert, key) = pki.issue("tcpack test server", &["localhost", "127.0.0.1"], false);
    let server = Server::start(&["--tls-cert", path(&cert), "--tls-key", path(&key)]);
    // A bundle as the system keeps one: another CA first, then the test's.
    let other = Pki::new("system-other");
    let bundle = pki.dir.join("bundle.pem");
    let pems = [&other.ca, &pki.ca].map(|p| std::fs::read_to_string(p).unwrap());
    std::fs::write(&bundle, pems.concat()).unwrap();
    let ok = client(&server, &["--tls", "-m", "hi"])
        .env("SSL_CERT_FILE", &bundle)
        .run()
        .success();
    assert_eq!(ok.stdout, DEFAULT_ACK, "{ok}");
    // The bench trusts the same way.
    let addr = format!("127.0.0.1:{}", server.addr.port());
    tcpack_cmd(&[
        "bench", &addr, "--tls", "-c", "1", "-n", "2", "-d", "1", "--warmup", "0",
    ])
    .env("SSL_CERT_FILE", &bundle)
    .run()
    .success();
    // A store without the test's CA: not trusted, exit 9, and how to trust it.
    let out = client(&server, &["--tls", "-m", "hi"])
        .env("SSL_CERT_FILE", &other.ca)
        .run()
        .code(9);
    assert!(
        out.stderr.contains("certificate is not trusted")
            && out.stderr.contains("--tls-ca FILE")
            && out.stderr.contains("SSL_CERT_FILE"),
        "{out}"
    );
}

#[test]
fn certificates_from_files_a_wrong_name_and_an_expired_one() {
    let pki = Pki::new("files");
    let (cert, key) = pki.issue("tcpack test server", &["localhost", "127.0.0.1"], false);
    let server = Server::start(&["--tls-cert", path(&cert), "--tls-key", path(&key)]);
    let ok = client(&server, &["--tls", "--tls-ca", path(&pki.ca), "-m", "hi"])
        .run()
        .success();
    assert_eq!(ok.stdout, DEFAULT_ACK, "{ok}");
    let out = client(
        &server,
        &[
            "--tls",
            "--tls-ca",
            path(&pki.ca),
            "--tls-name",
            "elsewhere.test",
            "-m",
            "hi",
        ],
    )
    .run()
    .code(9);
    assert!(
        out.stderr.contains("certificate is not for this name")
            && out.stderr.contains("--tls-name"),
        "{out}"
    );

    let (old, old_key) = pki.issue("expired", &["127.0.0.1"], true);
    let expired = Server::start(&["--tls-cert", path(&old), "--tls-key", path(&old_key)]);
    let out = client(&expired, &["--tls", "--tls-ca", path(&pki.ca), "-m", "hi"])
        .run()
        .code(9);
    assert!(out.stderr.contains("certificate is out of date"), "{out}");
}

#[test]
fn bad_tls_files_are_usage_errors_that_say_what_to_do() {
    let pki = Pki::new("bad-files");
    let (cert, _key) = pki.issue("a", &["localhost"], false);
    let (_other_cert, other_key) = pki.issue("b", &["localhost"], false);
    let out = tcpack_cmd(&[
        "server",
        "--tls-cert",
        path(&cert),
        "--tls-key",
        path(&other_key),
    ])
    .run()
    .code(2);
    assert!(
        out.stderr
            .contains("the key does not match the certificate"),
        "{out}"
    );
    let out = tcpack_cmd(&[
        "server",
        "--tls-cert",
        path(&cert),
        "--tls-key",
        "/nonexistent/key.pem",
    ])
    .run()
    .code(2);
    assert!(
        out.stderr
            .contains("cannot read --tls-key /nonexistent/key.pem"),
        "{out}"
    );
    let out = tcpack_cmd(&[
        "server",
        "--tls-cert",
        path(&other_key),
        "--tls-key",
        path(&other_key),
    ])
    .run()
    .code(2);
    assert!(out.stderr.contains("holds no certificate"), "{out}");
    let out = tcpack_cmd(&["server", "--tls-mode", "auto"]).run().code(2);
    assert!(out.stderr.contains("need TLS"), "{out}");
    let out = tcpack_cmd(&["server", "--tls-cert", path(&cert)])
        .run()
        .code(2);
    assert!(out.stderr.contains("--tls-key"), "{out}");
}

#[test]
fn mutual_tls_accepts_a_signed_client_and_refuses_others() {
    let pki = Pki::new("mtls");
    let (cert, key) = pki.issue("server", &["localhost", "127.0.0.1"], false);
    let mut server = Server::start(&[
        "--tls-cert",
        path(&cert),
        "--tls-key",
        path(&key),
        "--tls-client-ca",
        path(&pki.ca),
    ]);
    let (device, device_key) = pki.issue("device-7", &["device-7"], false);
    let trust = ["--tls", "--tls-ca", path(&pki.ca)];
    let mut signed = trust.to_vec();
    signed.extend([
        "--tls-cert",
        path(&device),
        "--tls-key",
        path(&device_key),
        "-m",
        "hi",
    ]);
    let out = client(&server, &signed).run().success();
    assert_eq!(out.stdout, DEFAULT_ACK, "{out}");
    server.wait_for("client CN=device-7");

    let mut bare = trust.to_vec();
    bare.extend(["-m", "hi"]);
    let out = client(&server, &bare).run().code(9);
    assert!(
        out.stderr
            .contains("requires a client certificate: give one with --tls-cert"),
        "{out}"
    );
    let refused = server.wait_for("tls handshake failed (");
    assert!(
        refused.contains("requires a client certificate"),
        "{refused}"
    );

    let (stranger, stranger_key) = pki.stranger("stranger");
    let mut unsigned = trust.to_vec();
    unsigned.extend([
        "--tls-cert",
        path(&stranger),
        "--tls-key",
        path(&stranger_key),
        "-m",
        "hi",
    ]);
    let out = client(&server, &unsigned).run().code(9);
    assert!(
        out.stderr
            .contains("does not accept this client certificate"),
        "{out}"
    );
    let refused = server.wait_for_nth("tls handshake failed (", 2);
    assert!(
        refused.contains("not signed by --tls-client-ca"),
        "{refused}"
    );
}

#[test]
fn auto_mode_serves_nc_and_openssl_on_one_port_at_once() {
    let mut server = Server::start(&[
        "--framing",
        "line",
        "--tls-self-signed",
        "--tls-mode",
        "auto",
    ]);
    server.wait_for("tls and plaintext on one port (--tls-mode auto)");
    // A plaintext client stays connected while a TLS client talks.
    let mut plain = connect(server.addr);
    plain.write_all(b"plain one\n").unwrap();
    let mut ack = vec![0u8; ACK.len()];
    plain.read_exact(&mut ack).unwrap();
    assert_eq!(ack, ACK);
    let port = server.addr.port().to_string();
    let said = run_script("tls-say.sh", &["127.0.0.1", &port, "over tls"]).success();
    assert_eq!(said.stdout, DEFAULT_ACK, "{said}");
    let nc = TestCommand::new("nc")
        .args(["-N", "-w", "10", "127.0.0.1", &port])
        .stdin("plain two\n")
        .run()
        .success();
    assert_eq!(nc.stdout, DEFAULT_ACK, "{nc}");
    plain.write_all(b"plain three\n").unwrap();
    plain.read_exact(&mut ack).unwrap();
    for text in ["plain one", "over tls", "plain two", "plain three"] {
        server.wait_for(&format!("): {text}"));
    }
    assert_eq!(server.count("tls: TLSv1"), 1, "{}", server.log());
}

#[test]
fn a_stalled_handshake_is_cut_and_frees_its_worker() {
    let mut server = Server::start(&[
        "--workers",
        "1",
        "--tls-self-signed",
        "--tls-handshake-timeout",
        "0.3",
    ]);
    // The start of a ClientHello record, and then nothing.
    let mut stalled = connect(server.addr);
    stalled.write_all(&[0x16, 0x03, 0x01, 0x00]).unwrap();
    let cut = server.wait_for("tls handshake failed");
    assert!(
        cut.contains("no complete handshake within 0.3s (--tls-handshake-timeout)"),
        "{cut}"
    );
    assert_eq!(read_to_end(&mut stalled), b"");
    let out = client(&server, &["--tls", "--insecure", "-m", "after"])
        .run()
        .success();
    assert_eq!(out.stdout, DEFAULT_ACK, "{out}");
}

#[test]
fn plaintext_on_a_tls_port_and_tls_on_a_plaintext_port_are_named() {
    let mut server = Server::start(&["--workers", "1", "--tls-self-signed"]);
    let nc = crate::util::nc(&server).stdin("hello\n").run();
    assert_eq!(nc.stdout, "", "{nc}");
    let line = server.wait_for("closed: tls handshake failed");
    assert!(
        line.contains(r#"a plaintext client on a TLS-only port: its first bytes are "hello\n""#),
        "{line}"
    );
    // The only worker is free again.
    let out = client(&server, &["--tls", "--insecure", "-m", "next"])
        .run()
        .success();
    assert_eq!(out.stdout, DEFAULT_ACK, "{out}");

    let mut plain = Server::start(&[]);
    let out = client(&plain, &["--tls", "--insecure", "-m", "hi"])
        .run()
        .code(9);
    assert!(out.stderr.contains("does not speak TLS"), "{out}");
    let warned = plain.wait_for("looks like a TLS ClientHello");
    assert!(warned.contains("--tls-self-signed"), "{warned}");
}

/// A rustls client configuration that trusts the certificates in `ca`.
fn trusting(ca: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(config)
}

/// A TLS client that trusts `ca`, sending lines and counting acks until the
/// server closes; returns the acks.
fn busy_tls_client(addr: std::net::SocketAddr, ca: PathBuf, i: usize) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let conn = rustls::ClientConnection::new(trusting(&ca), name).unwrap();
        let sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut tls = BufReader::new(rustls::StreamOwned::new(conn, sock));
        let mut acked = 0;
        let deadline = Instant::now() + DEADLINE;
        let mut line = String::new();
        while Instant::now() < deadline {
            let message = format!("client {i} message {acked}\n");
            if tls.get_mut().write_all(message.as_bytes()).is_err() {
                break;
            }
            line.clear();
            match tls.read_line(&mut line) {
                Ok(n) if n > 0 && line == DEFAULT_ACK => acked += 1,
                _ => break,
            }
        }
        acked
    })
}

#[test]
fn sigint_with_busy_tls_clients_acks_every_message_it_read() {
    let (mut server, saved) = self_signed_server("sigint", &["--drain-timeout", "1", "--quiet"]);
    let clients: Vec<_> = (0..8)
        .map(|i| busy_tls_client(server.addr, saved.clone(), i))
        .collect();
    server.wait_for_nth("tls: TLSv1.3", 8);
    server.signal(Signal::INT);
    let status = server.wait_exit();
    let acked: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(status.code(), Some(0), "{}", server.log());
    let summary = server.wait_for("stopped:");
    let received = crate::util::summary_messages(&summary);
    assert!(received > 0, "{summary}");
    assert_eq!(acked, received, "every message the server read was acked");
}

#[test]
fn bench_measures_tls_handshakes_and_round_trips() {
    let (server, saved) = self_signed_server("bench", &["--quiet"]);
    let target = server.addr.to_string();
    for scenario in ["conn", "rr"] {
        let out = tcpack_cmd(&[
            "bench",
            &target,
            "--tls",
            "--tls-ca",
            path(&saved),
            "--scenario",
            scenario,
            "-c",
            "2",
            "-n",
            "20",
            "-d",
            "30",
            "--warmup",
            "0",
            "--json",
        ])
        .run()
        .success();
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        // -n 20 on each of -c 2: 40 handshakes (conn) or round trips (rr).
        assert_eq!(report["ops"], 40, "{out}");
        assert_eq!(report["errors"], 0, "{out}");
    }
}

#[test]
fn a_tls_client_turned_away_by_a_busy_server_exits_9_and_the_log_says_why() {
    let (mut server, saved) = self_signed_server("busy", &["--workers", "1", "--max-pending", "1"]);
    // The only worker waits for a ClientHello that does not come; the next
    // connection fills the queue.
    let _holder = connect(server.addr);
    server.wait_for_conn(1, "accepted");
    let _waiting = connect(server.addr);
    server.wait_for_conn(2, "waiting for a worker");
    let out = client(&server, &["--tls", "--tls-ca", path(&saved), "-m", "hi"])
        .run()
        .code(9);
    assert!(
        out.stderr.contains("the server does not speak TLS"),
        "{out}"
    );
    let rejected = server.wait_for("rejected with \"server busy\"");
    assert!(rejected.contains(" #3 127.0.0.1:"), "{rejected}");
}

/// A rustls client that trusts `ca`, connected to `server` and done with its handshake.
fn rustls_client(
    server: &Server,
    ca: &Path,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(trusting(ca), name).unwrap();
    let mut sock = connect(server.addr);
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).expect("handshake");
    }
    rustls::StreamOwned::new(conn, sock)
}

#[test]
fn close_notify_follows_the_owed_acks_and_failed_handshakes_count_as_errors() {
    let (mut server, saved) = self_signed_server("notify", &["--drain-timeout", "0.5"]);
    let mut tls = rustls_client(&server, &saved);
    // Two whole lines, then one the drain timeout finds unfinished.
    tls.write_all(b"one\ntwo\nthree, unfinished").unwrap();
    tls.flush().unwrap();
    let mut acks = vec![0u8; 2 * ACK.len()];
    tls.read_exact(&mut acks).unwrap();
    assert_eq!(acks, ACK.repeat(2));
    // A plaintext client on the TLS port, and a TLS client that distrusts it.
    let mut plain = connect(server.addr);
    plain.write_all(b"hello\n").unwrap();
    assert_eq!(read_to_end(&mut plain), b"");
    let out = client(
        &server,
        &["--tls", "--tls-ca", path(&Pki::new("other").ca), "-m", "x"],
    )
    .run()
    .code(9);
    assert!(out.stderr.contains("not trusted"), "{out}");
    server.wait_for_nth("tls handshake failed", 2);
    server.signal(Signal::INT);
    // The owed ack, then close_notify: rustls reads a clean end (Ok(0)) only
    // after one; a close without it is an UnexpectedEof error.
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest)
        .expect("the ack owed at the drain, then close_notify");
    assert_eq!(rest, ACK);
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
    let summary = server.wait_for("stopped:");
    assert!(summary.contains(", 2 errors,"), "{summary}");
}

/// Reads `sock` record by record, feeding each to `conn` alone, until `want`
/// bytes of plaintext have come; returns them and how many records carried
/// some (session tickets carry none).
fn read_counting_records(
    conn: &mut rustls::ClientConnection,
    sock: &mut TcpStream,
    want: usize,
) -> (Vec<u8>, usize) {
    const HEADER: usize = 5;
    let (mut raw, mut plain, mut carrying) = (Vec::new(), Vec::new(), 0);
    let deadline = Instant::now() + DEADLINE;
    while plain.len() < want {
        assert!(Instant::now() < deadline, "only {plain:?} came");
        let mut buf = [0u8; 4096];
        let n = sock.read(&mut buf).expect("the answers");
        assert!(n > 0, "the server closed after {plain:?}");
        raw.extend_from_slice(&buf[..n]);
        while raw.len() >= HEADER {
            let len = HEADER + usize::from(u16::from_be_bytes([raw[3], raw[4]]));
            if raw.len() < len {
                break;
            }
            let record: Vec<u8> = raw.drain(..len).collect();
            let (mut rest, before) = (record.as_slice(), plain.len());
            // rustls takes a big record in pieces.
            while !rest.is_empty() {
                conn.read_tls(&mut rest).unwrap();
                conn.process_new_packets().unwrap();
                let mut chunk = [0u8; 4096];
                while let Ok(n @ 1..) = conn.reader().read(&mut chunk) {
                    plain.extend_from_slice(&chunk[..n]);
                }
            }
            carrying += usize::from(plain.len() > before);
        }
    }
    (plain, carrying)
}

#[test]
fn one_reads_answers_leave_in_one_tls_record_whatever_their_pieces() {
    let dir = tempdir("tls-records");
    let rules = dir.join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nregex = '^(\\w+)$'\nreply = \"{seq} {1} {len} {hex}\\n\"\n",
    )
    .unwrap();
    let (server, saved) = self_signed_server("records", &["--rules", path(&rules)]);
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(trusting(&saved), name).unwrap();
    let mut sock = connect(server.addr);
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).expect("handshake");
    }
    // Three messages in one record, so the server reads them at once.
    conn.writer().write_all(b"one\ntwo\nthree\n").unwrap();
    while conn.wants_write() {
        conn.write_tls(&mut sock).unwrap();
    }
    let expected = "1 one 3 6f 6e 65\n2 two 3 74 77 6f\n3 three 5 74 68 72 65 65\n";
    let (answers, records) = read_counting_records(&mut conn, &mut sock, expected.len());
    assert_eq!(String::from_utf8_lossy(&answers), expected);
    assert_eq!(records, 1, "three answers of four pieces each, one record");
    // A message far over a record: the server's reads grow to whole records.
    let long = "x".repeat(40_000);
    conn.writer()
        .write_all(format!("{long}\n").as_bytes())
        .unwrap();
    while conn.wants_write() {
        conn.write_tls(&mut sock).unwrap();
    }
    let hex = vec!["78"; long.len()].join(" ");
    let expected = format!("4 {long} {} {hex}\n", long.len());
    let (answer, _) = read_counting_records(&mut conn, &mut sock, expected.len());
    assert!(answer == expected.as_bytes(), "{} bytes", answer.len());
}
