use super::*;

fn parse(text: &str) -> Result<Vec<Rule>, String> {
    parse_file(text, TextEncoding::Utf8).map_err(|(span, why)| {
        let (line, column) = line_column(text, span.start);
        format!("{line}:{column}: {why}")
    })
}

#[test]
fn a_file_of_every_kind() {
    let rules = parse(
        r#"
[[rule]]
exact = "PING"
reply = "PONG\n"

[[rule]]
name = "read"
regex = '^READ (\d+)$'
reply = "VALUE {1}=42\n"
delay = "10ms..20ms"
probability = 0.5

[[rule]]
hex = "AA 55"
reply_hex = "55 AA"
action = "close"

[[rule]]
prefix = "QUIT"
action = "reset"
"#,
    )
    .unwrap();
    let labels: Vec<&str> = rules.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["PING", "read", "hex AA 55", "prefix QUIT"]);
    assert_eq!(rules[2].action, Action::Close);
    assert_eq!(rules[3].action, Action::Reset);
    assert_eq!(rules[1].probability, 0.5);
}

#[test]
fn mistakes_name_line_column_and_what_is_wrong() {
    let cases = [
        ("[[rule]]\nexact = \"a\"\nreply = 3\n", "3:9: invalid type"),
        (
            "[[rule]]\nexact = \"a\"\nrepyl = \"x\"\n",
            "3:1: unknown field `repyl`",
        ),
        (
            "\n[[rule]]\nregex = \"(\"\nreply = \"x\"\n",
            "2:1: rule 1: regex /(/ does not compile",
        ),
        (
            "[[rule]]\nreply = \"x\"\n",
            "1:1: rule 1: needs one of exact",
        ),
        (
            "[[rule]]\nexact = \"a\"\nprefix = \"b\"\nreply = \"x\"\n",
            "has exact and prefix",
        ),
        (
            "[[rule]]\nexact = \"a\"\n",
            "action \"reply\" needs a reply",
        ),
        (
            "[[rule]]\nexact = \"a\"\nreply = \"{nope}\"\n",
            "reply: unknown placeholder {nope}",
        ),
        (
            "[[rule]]\nexact = \"a\"\nreply = \"x\"\ndelay = \"soon\"\n",
            "is not a duration",
        ),
        (
            "[[rule]]\nexact = \"a\"\nreply = \"x\"\nprobability = 2.0\n",
            "not between 0 and 1",
        ),
        (
            "[[rule]]\nexact = \"a\"\nreply = \"x\"\naction = \"explode\"\n",
            "unknown variant `explode`",
        ),
        ("[[rule]\n", "1:"),
    ];
    for (text, says) in cases {
        let error = parse(text).err().unwrap_or_default();
        assert!(error.contains(says), "{text:?}: {error}");
    }
}

#[test]
fn one_liners() {
    let rule = one_liner("PING=>PONG\\n", TextEncoding::Utf8).unwrap();
    assert_eq!(rule.label, "PING");
    assert!(rule.matcher.find(b"PING", b"PING\n", None).is_some());
    let rule = one_liner("/^READ (\\d+)$/=>VALUE {1}", TextEncoding::Utf8).unwrap();
    assert!(rule.matcher.find(b"READ 7", b"READ 7", None).is_some());
    let rule = one_liner("/a=>b/=>X", TextEncoding::Utf8).unwrap();
    assert_eq!(rule.label, "/a=>b/");
    assert!(rule.matcher.find(b"xa=>by", b"xa=>by", None).is_some());
    for (bad, says) in [
        ("PING", "write it as MATCH=>REPLY"),
        ("=>x", "MATCH is empty"),
        ("/(/=>x", "does not compile"),
        ("a=>{x}", "unknown placeholder"),
    ] {
        let error = one_liner(bad, TextEncoding::Utf8).err().unwrap_or_default();
        assert!(
            error.contains(says) && error.starts_with("--rule"),
            "{bad}: {error}"
        );
    }
}

#[test]
fn delays() {
    assert_eq!(duration("200ms"), Ok(Duration::from_millis(200)));
    assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
    let range = delay("100ms..500ms").unwrap();
    assert_eq!(
        (range.min, range.max),
        (Duration::from_millis(100), Duration::from_millis(500))
    );
    assert!(delay("5s..1s").is_err());
    assert!(duration("-1s").is_err());
    assert!(duration("10").is_err());
}
