//! The Modbus register table as users drive it: mbpoll and pymodbus (over
//! Modbus TCP and RTU) writing and reading back examples/modbus.toml, the
//! exceptions they hear, a rule answering before the table, writes of many
//! registers seen whole by another connection, and tables that are wrong.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::util::{
    DEADLINE, Server, TestCommand, connect, exchange, required_tool, run_script, tcpack_cmd,
    tempdir,
};

fn example() -> String {
    format!("{}/examples/modbus.toml", env!("CARGO_MANIFEST_DIR"))
}

/// examples/modbus.toml as a Modbus TCP device.
fn tcp_device() -> Server {
    Server::start(&["--framing", "len:u16be@4", "--rules", &example()])
}

/// `mbpoll -m tcp -a 1 -p PORT -o 5 ARGS 127.0.0.1 [VALUES]`, as a user
/// polls a Modbus TCP device (`-r 1` is address 0).
fn mbpoll(server: &Server, args: &[&str], values: &[&str]) -> TestCommand {
    let port = server.addr.port().to_string();
    TestCommand::new(required_tool("mbpoll", "mbpoll"))
        .args(["-m", "tcp", "-a", "1", "-p", &port, "-o", "5"])
        .args(args)
        .arg("127.0.0.1")
        .args(values)
}

/// The lines mbpoll prints for the values it read: `[1]: \t21` ...
fn polled(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with('[')).collect()
}

#[test]
fn mbpoll_writes_registers_and_coils_then_reads_them_back() {
    let server = tcp_device();
    // Three values: function 16; then a read (function 3) on a new connection.
    let out = mbpoll(&server, &["-r", "3"], &["5", "6", "7"])
        .run()
        .success();
    assert!(out.stdout.contains("Written 3 references."), "{out}");
    let out = mbpoll(&server, &["-r", "1", "-c", "5", "-1"], &[])
        .run()
        .success();
    assert_eq!(
        polled(&out.stdout),
        ["[1]: \t21", "[2]: \t42", "[3]: \t5", "[4]: \t6", "[5]: \t7"],
        "{out}"
    );
    // One value: function 6.
    let out = mbpoll(&server, &["-r", "4"], &["1000"]).run().success();
    assert!(out.stdout.contains("Written 1 references."), "{out}");
    // Coils: function 15, then 1.
    let out = mbpoll(&server, &["-t", "0", "-r", "1"], &["1", "0", "1", "1"])
        .run()
        .success();
    assert!(out.stdout.contains("Written 4 references."), "{out}");
    let out = mbpoll(&server, &["-t", "0", "-r", "1", "-c", "5", "-1"], &[])
        .run()
        .success();
    assert_eq!(
        polled(&out.stdout),
        ["[1]: \t1", "[2]: \t0", "[3]: \t1", "[4]: \t1", "[5]: \t0"],
        "{out}"
    );
    let out = mbpoll(&server, &["-r", "3", "-c", "2", "-1"], &[])
        .run()
        .success();
    assert_eq!(polled(&out.stdout), ["[3]: \t5", "[4]: \t1000"], "{out}");
}

#[test]
fn mbpoll_hears_the_exceptions_the_table_gives() {
    let server = tcp_device();
    // Addresses 12..14 run past the serial number (10, 11): exception 02.
    let out = mbpoll(&server, &["-r", "12", "-c", "3", "-1"], &[]).run();
    assert!(out.stderr.contains("Illegal data address"), "{out}");
    // The serial number is read-only: exception 02 too.
    let out = mbpoll(&server, &["-r", "11"], &["1"]).run();
    assert!(out.stderr.contains("Illegal data address"), "{out}");
    // A setpoint above its max of 1000: exception 03.
    let out = mbpoll(&server, &["-r", "3"], &["1001"]).run();
    assert!(out.stderr.contains("Illegal data value"), "{out}");
    // The refused writes changed nothing.
    let out = mbpoll(&server, &["-r", "3", "-c", "1", "-1"], &[])
        .run()
        .success();
    assert_eq!(polled(&out.stdout), ["[3]: \t0"], "{out}");
}

/// What tests/fixtures/pymodbus_session.py prints against a fresh
/// examples/modbus.toml, over either framing.
const PYMODBUS_SESSION: &str = "\
read holding 0 2: [21, 42]
write register 2: [777]
write registers 3: ok
read holding 2 4: [777, 1, 2, 3]
write coil 5: ok
write coils 0: ok
read coils 0 6: [1, 0, 1, 0, 0, 1]
read discrete 0 4: [1, 0, 1, 1]
read input 0 3: [215, 220, 198]
readwrite 6 2: [0, 99]
read unit 2 holding 0 3: [7, 8, 9]
read holding 9 3: [0, 2026, 1208]
read holding 12 1: exception 2
write register 10: exception 2
write register 4: exception 3
write registers 8: exception 2
read holding 8 2: [0, 0]
read exception status: exception 1
";

/// Runs the pymodbus session (`socket` or `rtu` framer) against `server`.
fn pymodbus_session(server: &Server, framer: &str) -> crate::util::Outcome {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/target/venv/bin/python");
    assert!(
        Path::new(python).exists(),
        "{python} is missing: `make test` makes it (scripts/ensure-deps.sh installs pymodbus there)"
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pymodbus_session.py"
    );
    TestCommand::new(python)
        .arg(script)
        .arg(server.addr.port().to_string())
        .arg(framer)
        .run()
}

#[test]
fn pymodbus_runs_a_session_over_modbus_tcp() {
    let server = tcp_device();
    let out = pymodbus_session(&server, "socket").success();
    assert_eq!(out.stdout, PYMODBUS_SESSION, "{out}");
}

#[test]
fn pymodbus_runs_a_session_over_modbus_rtu() {
    let server = Server::start(&["--framing", "raw", "--rules", &example()]);
    let out = pymodbus_session(&server, "rtu").success();
    assert_eq!(out.stdout, PYMODBUS_SESSION, "{out}");
}

/// `bytes` as a Modbus TCP frame: the length field inserted at offset 4.
fn mbap(bytes: &[u8]) -> Vec<u8> {
    let mut frame = bytes[..4].to_vec();
    frame.extend_from_slice(&(bytes.len() as u16 - 4).to_be_bytes());
    frame.extend_from_slice(&bytes[4..]);
    frame
}

#[test]
fn a_rule_answers_before_the_table() {
    let server = tcp_device();
    let mut device = connect(server.addr);
    // Address 99 is not in the table, but the example's rule takes it:
    // exception 04 after 200 ms, with the transaction id.
    let asked = Instant::now();
    exchange(
        &mut device,
        &mbap(b"\x00\x05\x00\x00\x01\x03\x00\x63\x00\x01"),
        &mbap(b"\x00\x05\x00\x00\x01\x83\x04"),
    );
    assert!(asked.elapsed() >= Duration::from_millis(200));
    // Address 98, which no rule takes, gets the table's exception 02.
    exchange(
        &mut device,
        &mbap(b"\x00\x06\x00\x00\x01\x03\x00\x62\x00\x01"),
        &mbap(b"\x00\x06\x00\x00\x01\x83\x02"),
    );
}

#[test]
fn bad_requests_get_exceptions_01_and_03_with_their_transaction_id() {
    let server = tcp_device();
    let mut device = connect(server.addr);
    // Function 0x11 (report server id): exception 01.
    exchange(
        &mut device,
        &mbap(b"\x12\x34\x00\x00\x07\x11"),
        &mbap(b"\x12\x34\x00\x00\x07\x91\x01"),
    );
    // 126 registers, one more than a read may ask: exception 03.
    exchange(
        &mut device,
        &mbap(b"\x12\x35\x00\x00\x01\x03\x00\x00\x00\x7e"),
        &mbap(b"\x12\x35\x00\x00\x01\x83\x03"),
    );
    // Coil value 0x1234 (only FF00 and 0000 are): exception 03.
    exchange(
        &mut device,
        &mbap(b"\x12\x36\x00\x00\x01\x05\x00\x00\x12\x34"),
        &mbap(b"\x12\x36\x00\x00\x01\x85\x03"),
    );
}

#[test]
fn rtu_requests_in_one_read_are_each_answered_and_a_bad_crc_is_not() {
    let table = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/modbus-table.toml");
    let mut server = Server::start(&["--framing", "raw", "--modbus", table]);
    let mut device = connect(server.addr);
    // Write 7 into address 1, then read it back, in one write; each with its CRC.
    let mut both = b"\x01\x06\x00\x01\x00\x07\x99\xc8".to_vec();
    both.extend_from_slice(b"\x01\x03\x00\x01\x00\x01\xd5\xca");
    exchange(
        &mut device,
        &both,
        b"\x01\x06\x00\x01\x00\x07\x99\xc8\x01\x03\x02\x00\x07\xf9\x86",
    );
    // A frame whose CRC is wrong gets nothing; the next good one (address 2) its answer.
    device
        .write_all(b"\x01\x03\x00\x00\x00\x01\x84\x0b")
        .unwrap();
    server.wait_for("message (8 bytes): \\x01\\x03\\x00\\x00\\x00\\x01\\x84\\x0b");
    exchange(
        &mut device,
        b"\x01\x03\x00\x02\x00\x01\x25\xca",
        b"\x01\x03\x02\x00\x03\xf8\x45",
    );
}

/// Sends Modbus TCP request `pdu` to unit 1 and reads its answer's PDU.
fn request(device: &mut TcpStream, pdu: &[u8]) -> Vec<u8> {
    let mut frame = vec![0, 1, 0, 0];
    frame.extend_from_slice(&(pdu.len() as u16 + 1).to_be_bytes());
    frame.push(1);
    frame.extend_from_slice(pdu);
    device.write_all(&frame).unwrap();
    let mut header = [0u8; 7];
    device.read_exact(&mut header).unwrap();
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes([header[4], header[5]])) - 1];
    device.read_exact(&mut answer).unwrap();
    answer
}

#[test]
fn a_write_of_many_registers_is_never_seen_half_done() {
    let server = tcp_device();
    let writes = 3000;
    let mut writer = connect(server.addr);
    let writing = thread::spawn(move || {
        for i in 0..writes {
            // Setpoints 2..9 all 1, then all 2, ...: function 16.
            let value = (i % 2 + 1) as u8;
            let mut pdu = vec![0x10, 0, 2, 0, 8, 16];
            for _ in 0..8 {
                pdu.extend_from_slice(&[0, value]);
            }
            assert_eq!(request(&mut writer, &pdu), [0x10, 0, 2, 0, 8]);
        }
    });
    let mut reader = connect(server.addr);
    let started = Instant::now();
    let mut reads = 0;
    let mut mixed = Vec::new();
    while !writing.is_finished() && started.elapsed() < DEADLINE {
        let answer = request(&mut reader, &[0x03, 0, 2, 0, 8]);
        assert_eq!(answer[..2], [0x03, 16], "{answer:02x?}");
        let registers: Vec<u16> = answer[2..]
            .chunks(2)
            .map(|r| u16::from_be_bytes([r[0], r[1]]))
            .collect();
        if registers.iter().any(|&r| r != registers[0]) {
            mixed.push(registers);
        }
        reads += 1;
    }
    writing.join().unwrap();
    assert!(
        reads > 10,
        "the reader read only {reads} times while the writer wrote"
    );
    assert!(
        mixed.is_empty(),
        "{} of {reads} reads saw a half-done write: {:?}",
        mixed.len(),
        &mixed[..mixed.len().min(3)]
    );
}

#[test]
fn a_table_that_is_wrong_is_a_usage_error_naming_its_line() {
    let dir = tempdir("modbus-bad");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[modbus.holding_registers]]\naddress = 0\nvalues = [1, 2]\n\n[[modbus.holding_registers]]\naddress = 1\n",
    )
    .unwrap();
    let bad = bad.to_str().unwrap();
    let out = tcpack_cmd(&["server", "--framing", "len:u16be@4", "--modbus", bad])
        .run()
        .code(2);
    assert!(
        out.stderr.contains(&format!(
            "{bad}:5:1: [modbus] holding_registers: the block at address 1 overlaps the one at 0..1"
        )),
        "{out}"
    );
    let example = example();
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "--framing",
                "len:u16be@4",
                "--rules",
                &example,
                "--modbus",
                &example,
            ],
            "give the table in one place",
        ),
        (
            &["--framing", "line", "--rules", &example],
            "Modbus TCP under --framing len:u16be@4 and RTU under --framing raw",
        ),
        (
            &["--proto", "udp", "--rules", &example],
            "the Modbus table answers TCP (and TLS) connections",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["server"];
        all.extend_from_slice(args);
        let out = tcpack_cmd(&all).run().code(2);
        assert!(out.stderr.contains(expected), "{out}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn modbus_script_drives_the_example_device() {
    required_tool("mbpoll", "mbpoll");
    let out = run_script("modbus.sh", &[]).success();
    assert!(out.stdout.contains("[1]: \t21\n[2]: \t42"), "{out}");
    assert!(out.stdout.contains("[1]: \t1234"), "{out}");
    assert!(out.stdout.contains("failed: Illegal data address"), "{out}");
    assert!(
        out.stdout
            .contains("failed: Slave device or server failure"),
        "{out}"
    );
    assert!(
        out.stdout.contains("the device answered every request"),
        "{out}"
    );
    let help = run_script("modbus.sh", &["--help"]).success();
    assert!(help.stdout.starts_with("modbus.sh"), "{help}");
}

/// Rules and a table sharing `global.temp`: text clients SET and READ it,
/// Modbus clients see it in holding register 0 (address 1 is a plain one).
const FOLLOWING: &str = r#"
[[rule]]
regex = '^SET temp (-?\d+)'
set = "global.temp = {1}"
reply = "OK temp={1}\n"

[[rule]]
regex = '^READ temp'
reply = "VALUE temp={global.temp}\n"

[[modbus.holding_registers]]
name = "temperature"
address = 0
value = 215
follows = "global.temp"

[[modbus.holding_registers]]
address = 1
value = 7
"#;

/// pymodbus over Modbus RTU: `wN` writes N to register 0, `r` reads
/// registers 0 and 1; one line printed per step.
const PYMODBUS_STEPS: &str = r#"
import sys
from pymodbus import FramerType
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient("127.0.0.1", port=int(sys.argv[1]), framer=FramerType.RTU, timeout=5, retries=0)
if not c.connect():
    sys.exit("cannot connect")
for step in sys.argv[2:]:
    if step.startswith("w"):
        r = c.write_register(0, int(step[1:]), device_id=1)
        print(f"exception {r.exception_code}" if r.isError() else "ok")
    else:
        r = c.read_holding_registers(0, count=2, device_id=1)
        print(f"exception {r.exception_code}" if r.isError() else r.registers)
"#;

fn pymodbus_steps(server: &Server, steps: &[&str]) -> String {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/target/venv/bin/python");
    TestCommand::new(python)
        .args(["-c", PYMODBUS_STEPS, &server.addr.port().to_string()])
        .args(steps)
        .run()
        .success()
        .stdout
}

#[test]
fn a_register_that_follows_a_global_shares_it_with_the_rules() {
    let dir = tempdir("modbus-follows");
    let rules = dir.join("follows.toml");
    std::fs::write(&rules, FOLLOWING).unwrap();
    let rules = rules.to_str().unwrap().to_owned();
    let mut server = Server::start(&[
        "--framing",
        "raw",
        "--rules",
        &rules,
        "--status-bind",
        "127.0.0.1:0",
    ]);
    let status = crate::util::status_port(&mut server);
    let text = |line: &str| crate::util::nc(&server).stdin(line).run().success().stdout;
    // Unset at start: the variable takes the register's value from the table.
    assert_eq!(text("READ temp\n"), "VALUE temp=215\n");
    // A Modbus write is read back by a rule, and a rule's SET by Modbus.
    assert_eq!(pymodbus_steps(&server, &["r", "w300"]), "[215, 7]\nok\n");
    assert_eq!(text("READ temp\n"), "VALUE temp=300\n");
    assert_eq!(text("SET temp -5\n"), "OK temp=-5\n");
    assert_eq!(pymodbus_steps(&server, &["r"]), "[65531, 7]\n");
    // A value no register holds: the register keeps its last one.
    assert_eq!(text("SET temp 70000\n"), "OK temp=70000\n");
    assert_eq!(pymodbus_steps(&server, &["r"]), "[65531, 7]\n");
    // The Modbus write counts as a change, with the rules' two.
    let status = |input: &str| crate::util::to_status_port(&status, input);
    let report = status("");
    assert!(report.contains("\nstate_changes 3\n"), "{report}");
    let metrics = status("GET /metrics HTTP/1.0\r\n\r\n");
    assert!(
        metrics.contains("\ntcpack_state_changes_total 3\n"),
        "{metrics}"
    );
    assert!(report.contains("\nvar global.temp = 70000\n"), "{report}");
    // A reload whose rules no longer name global.temp keeps it: the table shows it.
    let table_only = &FOLLOWING[FOLLOWING.find("[[modbus").unwrap()..];
    let rules_path = dir.join("follows.toml");
    std::fs::write(
        &rules_path,
        format!("[[rule]]\nexact = \"PING\"\nreply = \"PONG\\n\"\n\n{table_only}"),
    )
    .unwrap();
    let mark = server.mark();
    server.signal(Signal::HUP);
    server.wait_since(mark, "rules reloaded: 1 rules");
    assert!(status("").contains("\nvar global.temp = 70000\n"));
    std::fs::write(&rules_path, FOLLOWING).unwrap();

    // A value from --state-file wins over the table's.
    let state = dir.join("follows.state");
    std::fs::write(
        &state,
        "{\"scope\":\"global\",\"name\":\"temp\",\"value\":42}\n",
    )
    .unwrap();
    let server = Server::start(&[
        "--framing",
        "raw",
        "--rules",
        &rules,
        "--state-file",
        state.to_str().unwrap(),
    ]);
    assert_eq!(pymodbus_steps(&server, &["r"]), "[42, 7]\n");

    // follows on more than one address is refused, naming the line.
    let wrong = dir.join("wrong.toml");
    std::fs::write(
        &wrong,
        "[[modbus.holding_registers]]\naddress = 0\ncount = 2\nfollows = \"global.temp\"\n",
    )
    .unwrap();
    let out = tcpack_cmd(&[
        "server",
        "--framing",
        "raw",
        "--modbus",
        wrong.to_str().unwrap(),
    ])
    .run()
    .code(2);
    assert!(
        out.stderr.contains("wrong.toml:1:1: [modbus] holding_registers block 1: follows = \"global.temp\" shows one variable in one register, but the block has 2 addresses: give it count = 1"),
        "{out}"
    );
}
