//! A device that remembers, as a user drives it with nc and line clients:
//! variables in three scopes, `when`, `set`, counting rules, reply
//! sequences, atomic changes, mistakes that name their column, and
//! arithmetic that fails without taking anything down.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::thread;

use rustix::process::Signal;

use crate::util::{LineClient, Server, nc, status_port, tcpack_cmd, tempdir, to_status_port};

/// Writes `text` to a rules file of this test's own.
fn rules_file(name: &str, text: &str) -> PathBuf {
    let path = tempdir("state").join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A line server with `rules` and `ERR {msg}` for anything they skip.
fn device(name: &str, rules: &str, more: &[&str]) -> (Server, PathBuf) {
    let path = rules_file(name, rules);
    let mut args = vec![
        "--framing",
        "line",
        "--rules",
        path.to_str().unwrap(),
        "--reply",
        "ERR {msg}\\n",
    ];
    args.extend_from_slice(more);
    (Server::start(&args), path)
}

const THERMOSTAT: &str = r#"
[[rule]]
name = "set"
regex = '^SET (\w+) (\S+)$'
set = "global.{1} = {2}"
reply = "OK {1}={2}\n"

[[rule]]
name = "bad set"
regex = '^SET'
reply = "ERR usage: SET NAME VALUE\n"

[[rule]]
name = "read"
exact = "READ temp"
reply = "VALUE temp={global.temp}\n"

[[rule]]
name = "login"
regex = '^LOGIN (\w+)$'
set = ["conn.user = {1}"]
reply = "WELCOME {1}\n"

[[rule]]
name = "secret"
exact = "SECRET"
when = 'conn.user != ""'
reply = "SECRET for {conn.user}\n"

[[rule]]
exact = "SECRET"
reply = "DENIED: LOGIN first\n"
"#;

#[test]
fn set_then_read_gives_the_new_value_and_a_login_gate_is_per_connection() {
    let rules = THERMOSTAT.replace("global.{1} = {2}", "global.temp = {2}");
    let (server, _) = device("thermostat", &rules, &[]);
    let mut first = LineClient::new(&server);
    assert_eq!(first.ask("READ temp"), "VALUE temp=");
    assert_eq!(first.ask("SET temp 22.5"), "OK temp=22.5");
    assert_eq!(first.ask("READ temp"), "VALUE temp=22.5");
    assert_eq!(first.ask("SECRET"), "DENIED: LOGIN first");
    assert_eq!(first.ask("LOGIN bob"), "WELCOME bob");
    assert_eq!(first.ask("SECRET"), "SECRET for bob");
    // Another connection: the global value, but its own (empty) login.
    let mut second = LineClient::new(&server);
    assert_eq!(second.ask("READ temp"), "VALUE temp=22.5");
    assert_eq!(second.ask("SECRET"), "DENIED: LOGIN first");
    // nc, as a user would: a fresh connection is logged out again.
    let out = nc(&server)
        .stdin("SECRET\nLOGIN amy\nSECRET\n")
        .run()
        .success();
    assert_eq!(
        out.stdout, "DENIED: LOGIN first\nWELCOME amy\nSECRET for amy\n",
        "{out}"
    );
}

const COUNTERS: &str = r#"
[[rule]]
exact = "HIT"
set = ["global.hits += 1", "conn.hits += 1"]
reply = "before: global {global.hits} mine {conn.hits}\n"

[[rule]]
exact = "HITS"
reply = "global {global.hits} mine {conn.hits}\n"

[[rule]]
regex = '^DEPOSIT (\w+) (-?\d+)$'
key = "{1}"
set = ["key.balance += {2}"]
reply = "{1} had {key.balance}\n"

[[rule]]
regex = '^BALANCE (\w+)$'
key = "{1}"
reply = "{1} has {key.balance}\n"
"#;

#[test]
fn a_global_counter_across_connections_and_a_balance_per_key() {
    let (server, _) = device("counters", COUNTERS, &[]);
    let mut a = LineClient::new(&server);
    let mut b = LineClient::new(&server);
    // Changes apply after the answer is rendered: it shows the values before.
    assert_eq!(a.ask("HIT"), "before: global  mine");
    assert_eq!(a.ask("HIT"), "before: global 1 mine 1");
    assert_eq!(b.ask("HIT"), "before: global 2 mine");
    assert_eq!(b.ask("HITS"), "global 3 mine 1");
    assert_eq!(a.ask("HITS"), "global 3 mine 2");
    assert_eq!(a.ask("DEPOSIT alice 5"), "alice had");
    assert_eq!(b.ask("DEPOSIT alice 7"), "alice had 5");
    assert_eq!(b.ask("DEPOSIT bob -2"), "bob had");
    assert_eq!(a.ask("BALANCE alice"), "alice has 12");
    assert_eq!(a.ask("BALANCE bob"), "bob has -2");
    assert_eq!(a.ask("BALANCE carol"), "carol has");
}

#[test]
fn two_clients_incrementing_one_counter_end_at_exactly_twenty_thousand() {
    let rules = r#"
[[rule]]
exact = "INC"
set = ["global.count += 1", "global.twin += 1"]
reply = "ok\n"

[[rule]]
exact = "PAIR"
reply = "[{global.count}|{global.twin}]\n"
"#;
    let (server, _) = device("atomic", rules, &[]);
    const EACH: usize = 10_000;
    let addr = server.addr;
    let hammer = |_| {
        thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            let reader = BufReader::new(stream.try_clone().unwrap());
            let writer = thread::spawn(move || {
                stream.write_all("INC\n".repeat(EACH).as_bytes()).unwrap();
                stream
            });
            let acks = reader
                .lines()
                .take(EACH)
                .filter(|l| l.as_ref().is_ok_and(|l| l == "ok"));
            assert_eq!(acks.count(), EACH);
            drop(writer.join().unwrap());
        })
    };
    let hammers: Vec<_> = (0..2).map(hammer).collect();
    // Meanwhile a third client never sees one half of an INC without the other.
    let mut watcher = LineClient::new(&server);
    let mut looks = 0;
    while hammers.iter().any(|h| !h.is_finished()) && looks < 100_000 {
        let pair = watcher.ask("PAIR");
        let inner = pair.trim_start_matches('[').trim_end_matches(']');
        let (count, twin) = inner.split_once('|').unwrap_or(("?", "!"));
        assert_eq!(count, twin, "half of a message's changes seen: {pair}");
        looks += 1;
    }
    for h in hammers {
        h.join().unwrap();
    }
    assert_eq!(watcher.ask("PAIR"), "[20000|20000]", "after {looks} looks");
}

#[test]
fn times_after_every_and_their_scopes() {
    let rules = r#"
[[rule]]
exact = "TRY"
times = 2
reply = "yes\n"

[[rule]]
exact = "TRY"
reply = "no more\n"

[[rule]]
exact = "WARM"
after = 2
reply = "warm\n"

[[rule]]
exact = "WARM"
reply = "cold\n"

[[rule]]
exact = "TICK"
every = 3
count_in = "global"
reply = "TOCK\n"

[[rule]]
exact = "TICK"
reply = "tick\n"

[[rule]]
regex = '^ONCE (\w+)$'
key = "{1}"
times = 1
count_in = "key"
reply = "first for {1}\n"

[[rule]]
prefix = "ONCE"
reply = "again\n"
"#;
    let (server, _) = device("counting", rules, &[]);
    let mut a = LineClient::new(&server);
    let answers = |c: &mut LineClient, line: &str, n: usize| {
        (0..n).map(|_| c.ask(line)).collect::<Vec<_>>().join(",")
    };
    assert_eq!(answers(&mut a, "TRY", 3), "yes,yes,no more");
    assert_eq!(answers(&mut a, "WARM", 4), "cold,cold,warm,warm");
    let mut b = LineClient::new(&server);
    // Counted per connection by default: b starts afresh.
    assert_eq!(answers(&mut b, "TRY", 3), "yes,yes,no more");
    // count_in = "global": a and b share the count.
    assert_eq!(answers(&mut a, "TICK", 2), "tick,tick");
    assert_eq!(answers(&mut b, "TICK", 2), "TOCK,tick");
    assert_eq!(answers(&mut a, "TICK", 2), "tick,TOCK");
    // count_in = "key": once per key, whichever connection asks.
    assert_eq!(a.ask("ONCE x"), "first for x");
    assert_eq!(b.ask("ONCE x"), "again");
    assert_eq!(b.ask("ONCE y"), "first for y");
}

#[test]
fn reply_sequences_repeat_their_last_or_cycle() {
    let rules = r#"
[[rule]]
exact = "STATUS"
replies = ["BUSY\n", "BUSY\n", "READY\n"]

[[rule]]
exact = "LIGHT"
replies = ["red\n", "green\n", "{msg} yellow\n"]
cycle = true

[[rule]]
exact = "BEEP"
reply_hex = ["41 31 0A", "41 32 0A"]
"#;
    let (server, _) = device("sequences", rules, &[]);
    let out = nc(&server)
        .stdin("STATUS\nSTATUS\nSTATUS\nSTATUS\nLIGHT\nLIGHT\nLIGHT\nLIGHT\nBEEP\nBEEP\nBEEP\n")
        .run()
        .success();
    assert_eq!(
        out.stdout, "BUSY\nBUSY\nREADY\nREADY\nred\ngreen\nLIGHT yellow\nred\nA1\nA2\nA2\n",
        "{out}"
    );
}

#[test]
fn a_when_or_set_that_does_not_parse_names_the_rule_and_the_column() {
    let cases = [
        (
            "[[rule]]\nexact = \"A\"\nreply = \"x\"\n\n[[rule]]\nname = \"gate\"\nexact = \"B\"\nwhen = \"conn.user = 'bob'\"\nreply = \"y\"\n",
            ":8:8: rule 2: when \"conn.user = 'bob'\", column 11: `=` compares as `==`",
        ),
        (
            "[[rule]]\nexact = \"A\"\nset = [\"conn.n += 1\", \"conn.m +- 2\"]\nreply = \"x\"\n",
            ":3:7: rule 1: set \"conn.m +- 2\", column 12: expected `=`, `+=`",
        ),
        (
            "[[rule]]\nexact = \"A\"\nset = \"key.n += 1\"\nreply = \"x\"\n",
            "rule 1: uses key.* (or count_in = \"key\") but names no key",
        ),
        (
            "[[rule]]\nexact = \"A\"\nreply = \"{conn.9}\"\n",
            "unknown placeholder {conn.9}",
        ),
        // The left side is fixed: no variable named from a capture.
        (
            "[[rule]]\nregex = 'SET (\\w+) (\\d+)'\nset = \"global.{1} = {2}\"\nreply = \"x\"\n",
            ":3:7: rule 1: set \"global.{1} = {2}\", column 1: \"global.{1}\" is not a variable",
        ),
    ];
    for (i, (text, says)) in cases.into_iter().enumerate() {
        let path = rules_file(&format!("mistake{i}"), text);
        let out = tcpack_cmd(&["server", "--rules", path.to_str().unwrap()])
            .run()
            .code(2);
        assert!(out.stderr.contains(says), "{text}\n{out}");
    }
}

#[test]
fn arithmetic_on_text_fails_that_message_alone_and_the_default_answer_goes() {
    let rules = r#"
[[rule]]
regex = '^SET (\S+)$'
set = "global.temp = {1}"
reply = "OK\n"

[[rule]]
name = "add"
regex = '^ADD (\S+)$'
set = ["global.other = 1", "global.temp += {1}"]
reply = "ADDED\n"
action = "close"

[[rule]]
exact = "GET"
reply = "temp={global.temp} other={global.other}\n"
"#;
    let (mut server, _) = device("text-arithmetic", rules, &[]);
    let mut client = LineClient::new(&server);
    assert_eq!(client.ask("SET 21.5"), "OK");
    // Text plus a number, a number plus text, then an overflow.
    assert_eq!(client.ask("ADD 1"), "ERR ADD 1");
    server.wait_for("rule 2 \"add\" failed: global.temp += 1: global.temp holds text \"21.5\"");
    assert_eq!(client.ask("SET 9223372036854775807"), "OK");
    assert_eq!(client.ask("ADD x"), "ERR ADD x");
    assert_eq!(client.ask("ADD 1"), "ERR ADD 1");
    server.wait_for("overflows a 64-bit integer");
    // Nothing changed (not even the first of the rule's changes), the
    // connection is still open (no close), and the server still answers.
    assert_eq!(client.ask("GET"), "temp=9223372036854775807 other=");
    assert_eq!(client.ask("SET 1"), "OK");
    assert_eq!(client.ask("ADD 2"), "ADDED");
    assert_eq!(LineClient::new(&server).ask("GET"), "temp=3 other=1");
}

#[test]
fn control_shows_sets_resets_and_saves_the_variables_and_http_serves_them() {
    let dir = tempdir("state-control");
    let file = dir.join("control.state");
    let _ = std::fs::remove_file(&file);
    let file_arg = file.to_str().unwrap().to_owned();
    let (mut server, _) = device(
        "control",
        COUNTERS,
        &[
            "--status-bind",
            "127.0.0.1:0",
            "--control",
            "--state-file",
            &file_arg,
        ],
    );
    let status = status_port(&mut server);
    let nc = |input: &str| to_status_port(&status, input);
    let mut client = LineClient::new(&server);
    client.ask("HIT");
    client.ask("DEPOSIT alice 5");
    assert_eq!(
        nc("state\n"),
        "ok 2 variables\nglobal.hits = 1\nkey[alice].balance = 5\n"
    );
    assert_eq!(nc("set global.hits 41\n"), "ok global.hits = 41\n");
    assert_eq!(
        nc("set key[bob].balance \"lots\"\n"),
        "ok key[bob].balance = \"lots\"\n"
    );
    assert_eq!(client.ask("HITS"), "global 41 mine 1");
    assert_eq!(client.ask("BALANCE bob"), "bob has lots");
    assert!(nc("set conn.x 1\n").starts_with("error \"conn.x\" is not a shared variable"));
    // The report and GET /state show them too.
    let report = nc("");
    assert!(
        report.contains(
            "\nvar global.hits = 41\nvar key[alice].balance = 5\nvar key[bob].balance = \"lots\"\n"
        ),
        "{report}"
    );
    let http = nc("GET /state HTTP/1.0\r\n\r\n");
    // tiny_http answers in the request's version.
    assert!(http.starts_with("HTTP/1.0 200 OK\r\n"), "{http}");
    assert!(http.contains("Content-Type: application/json"), "{http}");
    let body = http.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(json["global"]["hits"], 41);
    assert_eq!(json["keys"]["alice"]["balance"], 5);
    assert_eq!(json["keys"]["bob"]["balance"], "lots");
    // /metrics counts the changes each rule made.
    let metrics = nc("GET /metrics HTTP/1.0\r\n\r\n");
    assert!(
        metrics.contains("tcpack_rule_variable_changes_total{rule=\"1\",name=\"HIT\"} 2\n"),
        "{metrics}"
    );
    assert!(metrics.contains("tcpack_rule_variable_changes_total{rule=\"3\",name=\"/^DEPOSIT (\\\\w+) (-?\\\\d+)$/\"} 1\n"), "{metrics}");
    // save writes the file; reset forgets, by scope.
    assert_eq!(
        nc("save\n"),
        format!("ok saved 3 variables to {file_arg}\n")
    );
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(
        saved.contains(r#"{"name":"hits","scope":"global","value":41}"#),
        "{saved}"
    );
    assert_eq!(nc("reset key\n"), "ok forgot 2 variables\n");
    assert_eq!(nc("state\n"), "ok 1 variables\nglobal.hits = 41\n");
    assert_eq!(nc("reset\n"), "ok forgot 1 variables\n");
    assert_eq!(client.ask("HITS"), "global  mine 1");
    assert!(nc("reset conn\n").starts_with("error reset takes global, key"));
}

#[test]
fn the_state_file_survives_sigint_sigterm_and_a_restart_and_a_corrupt_one_is_exit_2() {
    let dir = tempdir("state-file");
    let file = dir.join("device.state");
    let _ = std::fs::remove_file(&file);
    let file_arg = file.to_str().unwrap().to_owned();
    let rules = rules_file("persisted", COUNTERS);
    let start = || {
        Server::start(&[
            "--framing",
            "line",
            "--rules",
            rules.to_str().unwrap(),
            "--state-file",
            &file_arg,
        ])
    };
    for (round, signal) in [Signal::INT, Signal::TERM].into_iter().enumerate() {
        let mut server = start();
        let mut client = LineClient::new(&server);
        let before = if round == 0 { "" } else { "1" };
        assert_eq!(
            client.ask("HIT"),
            format!("before: global {before} mine").trim_end()
        );
        client.ask("DEPOSIT alice 5");
        drop(client);
        server.signal(signal);
        assert!(server.wait_exit().success());
        server.wait_for("state saved: 2 variables to");
    }
    let server = start();
    let mut client = LineClient::new(&server);
    assert_eq!(client.ask("HITS"), "global 2 mine");
    assert_eq!(client.ask("BALANCE alice"), "alice has 10");
    // conn.* are not kept: they live and die with their connection.
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(!saved.contains("\"conn\""), "{saved}");
    drop(client);
    drop(server);
    // A file cut short (as no atomic write leaves it) is refused with its line.
    let torn = &saved[..saved.len() - 10];
    std::fs::write(&file, torn).unwrap();
    let lines = torn.lines().count();
    let out = tcpack_cmd(&[
        "server",
        "--rules",
        rules.to_str().unwrap(),
        "--state-file",
        &file_arg,
    ])
    .run()
    .code(2);
    assert!(
        out.stderr
            .contains(&format!("{file_arg}:{lines}: not a JSON object")),
        "{out}"
    );
    std::fs::write(&file, "{\"scope\":\"conn\",\"name\":\"x\",\"value\":1}\n").unwrap();
    let out = tcpack_cmd(&["server", "--state-file", &file_arg])
        .run()
        .code(2);
    assert!(
        out.stderr
            .contains(":1: \"scope\" is neither \"global\" nor \"key\""),
        "{out}"
    );
}

#[test]
fn a_sighup_keeps_the_values_of_variables_still_named_and_a_bad_reload_keeps_all() {
    let (mut server, path) = device("reloaded", COUNTERS, &[]);
    let mut client = LineClient::new(&server);
    client.ask("HIT");
    client.ask("HIT");
    client.ask("DEPOSIT alice 5");
    // The new file still names global.hits, no longer key.balance.
    std::fs::write(
        &path,
        "[[rule]]\nexact = \"HITS\"\nreply = \"hits {global.hits}\\n\"\n",
    )
    .unwrap();
    let mark = server.mark();
    server.signal(Signal::HUP);
    server.wait_since(mark, "rules reloaded: 1 rules");
    server.wait_since(mark, "1 variables no rule names any more were dropped");
    assert_eq!(client.ask("HITS"), "hits 2");
    // A file with a mistake: the old rules and every value stay.
    std::fs::write(
        &path,
        "[[rule]]\nexact = \"HITS\"\nwhen = \"global.hits >\"\nreply = \"x\"\n",
    )
    .unwrap();
    let mark = server.mark();
    server.signal(Signal::HUP);
    let line = server.wait_since(mark, "rules not reloaded, the old ones stay");
    assert!(
        line.contains("rule 1: when \"global.hits >\", column 14: the condition ends too soon"),
        "{line}"
    );
    assert_eq!(client.ask("HITS"), "hits 2");
}

#[test]
fn max_keys_evicts_the_least_recently_used_key_and_says_so() {
    let (mut server, _) = device(
        "max-keys",
        COUNTERS,
        &[
            "--max-keys",
            "2",
            "--status-bind",
            "127.0.0.1:0",
            "--control",
        ],
    );
    let status = status_port(&mut server);
    assert_eq!(
        to_status_port(&status, "save\n"),
        "error save needs --state-file FILE, and none was given\n"
    );
    let mut client = LineClient::new(&server);
    client.ask("DEPOSIT a 1");
    client.ask("DEPOSIT b 2");
    client.ask("BALANCE a");
    client.ask("DEPOSIT c 3");
    server.wait_for("key \"b\" evicted, the least recently used, to stay within --max-keys");
    assert_eq!(client.ask("BALANCE a"), "a has 1");
    assert_eq!(client.ask("BALANCE b"), "b has");
    assert_eq!(client.ask("BALANCE c"), "c has 3");
    // Many more keys: memory stays bounded at two.
    for i in 0..500 {
        client.send(&format!("DEPOSIT k{i} 1\n"));
    }
    for _ in 0..500 {
        client.line();
    }
    let report = to_status_port(&status, "");
    assert!(report.contains("\nstate_keys_evicted 501\n"), "{report}");
    assert_eq!(report.matches("\nvar key[").count(), 2, "{report}");
}

#[test]
fn the_web_console_shows_the_variables_and_their_changes_live() {
    let (mut server, _) = device(
        "web",
        THERMOSTAT
            .replace("global.{1} = {2}", "global.temp = {2}")
            .as_str(),
        &["--web", "127.0.0.1:0"],
    );
    let (browser, _) = crate::web::open_page(&mut server);
    let mut client = LineClient::new(&server);
    assert_eq!(client.ask("SET temp 22.5"), "OK temp=22.5");
    assert_eq!(client.ask("LOGIN bob"), "WELCOME bob");
    browser.wait(
        "[...document.querySelectorAll('#variables td')].map(e => e.textContent).join(' ') === 'global.temp \"22.5\"'",
    );
    browser.wait(
        "[...document.querySelectorAll('#stream .changed .content')].some(e => e.textContent === 'rule login set conn.user = \"bob\"')",
    );
}

#[test]
fn a_relay_mocks_with_state_and_forwards_the_rest() {
    // A --rule, so that --reply is a template ({msg}).
    let upstream = Server::start(&[
        "--framing",
        "line",
        "--reply",
        "UPSTREAM {msg}\\n",
        "--rule",
        "x=>x",
    ]);
    let path = rules_file(
        "relay",
        "[[rule]]\nexact = \"COUNT\"\nset = \"global.n += 1\"\nreply = \"n was {global.n}\\n\"\n",
    );
    let to = upstream.addr.to_string();
    let mut relay = Server::start_relay(&[
        "--to",
        &to,
        "--framing",
        "line",
        "--rules",
        path.to_str().unwrap(),
    ]);
    let mut client = LineClient::new(&relay);
    assert_eq!(client.ask("COUNT"), "n was");
    assert_eq!(client.ask("COUNT"), "n was 1");
    assert_eq!(client.ask("HELLO"), "UPSTREAM HELLO");
    assert_eq!(LineClient::new(&relay).ask("COUNT"), "n was 2");
    relay.wait_for("rule 1 \"COUNT\"");
}

/// The value of `global.mark` in a state file's text, every line checked
/// as whole JSON; panics (naming `what`) on a torn line.
fn mark_in(text: &str, what: &str) -> (i64, usize) {
    let mut mark = None;
    let mut lines = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let json: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{what}: a torn line {line:?}: {e}"));
        if json["name"] == "mark" {
            mark = json["value"].as_i64();
        }
        lines += 1;
    }
    (
        mark.unwrap_or_else(|| panic!("{what}: no global.mark")),
        lines,
    )
}

#[test]
fn a_kill_9_during_save_leaves_the_old_file_or_the_new_never_a_torn_one() {
    use std::fmt::Write as _;
    use std::os::unix::fs::MetadataExt;
    use std::time::{Duration, Instant};
    // Enough keys that a save takes a while (about 2 MB to write).
    const KEYS: usize = 40_000;
    let dir = tempdir("state-kill");
    let file = dir.join("big.state");
    let temp = dir.join("big.state.tmp");
    let mut text = String::from("{\"scope\":\"global\",\"name\":\"mark\",\"value\":0}\n");
    for i in 0..KEYS {
        writeln!(
            text,
            "{{\"scope\":\"key\",\"key\":\"k{i}\",\"name\":\"v\",\"value\":{i}}}"
        )
        .unwrap();
    }
    std::fs::write(&file, text).unwrap();
    let file_arg = file.to_str().unwrap().to_owned();
    // The moments of the kill: as soon as `save` is sent, as the temporary
    // file appears, once it holds data, after the answer.
    for attempt in 0..4 {
        let _ = std::fs::remove_file(&temp);
        let (old, _) = mark_in(&std::fs::read_to_string(&file).unwrap(), "before");
        let new = old + 1;
        let before = std::fs::metadata(&file).unwrap();
        let unchanged = || {
            std::fs::metadata(&file)
                .map_or(true, |m| m.ino() == before.ino() && m.len() == before.len())
        };
        // The previous attempt's file loads: it is whole.
        let mut server = Server::start(&[
            "--state-file",
            &file_arg,
            "--max-keys",
            "100000",
            "--status-bind",
            "127.0.0.1:0",
            "--control",
        ]);
        let status = status_port(&mut server);
        assert_eq!(
            to_status_port(&status, &format!("set global.mark {new}\n")),
            format!("ok global.mark = {new}\n")
        );
        let mut control = TcpStream::connect(&status).unwrap();
        control.write_all(b"save\n").unwrap();
        control.shutdown(std::net::Shutdown::Write).unwrap();
        // Until `seen`, or the file itself changed (renamed over, or a save
        // that writes in place began), or a deadline.
        let wait_until = |seen: &dyn Fn() -> bool| {
            let deadline = Instant::now() + Duration::from_secs(20);
            while !seen() && unchanged() {
                assert!(Instant::now() < deadline, "attempt {attempt}: no save");
                thread::yield_now();
            }
        };
        match attempt {
            0 => {}
            1 => wait_until(&|| temp.exists()),
            2 => wait_until(&|| std::fs::metadata(&temp).is_ok_and(|m| m.len() > 0)),
            _ => {
                let mut answer = String::new();
                BufReader::new(&control).read_line(&mut answer).unwrap();
                assert!(answer.starts_with("ok saved "), "{answer}");
            }
        }
        server.signal(Signal::KILL);
        server.wait_exit();
        let what = format!("attempt {attempt}");
        let (mark, lines) = mark_in(&std::fs::read_to_string(&file).unwrap(), &what);
        assert_eq!(lines, KEYS + 1, "{what}: a variable is missing");
        assert!(mark == old || mark == new, "{what}: global.mark = {mark}");
        if attempt == 3 {
            assert_eq!(mark, new, "{what}: the answered save is on disk");
        }
    }
}
