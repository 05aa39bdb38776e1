use super::*;

fn render(template: &str, message: &[u8], groups: &[Option<Range<usize>>]) -> Vec<u8> {
    let template = Template::parse(template, TextEncoding::Utf8).unwrap();
    let mut out = Vec::new();
    let context = Context {
        message,
        raw: message,
        groups,
        conn: 7,
        seq: 3,
        peer: "127.0.0.1:5000".parse().unwrap(),
        vars: None,
    };
    template.render(&context, &mut out);
    out
}

#[test]
fn placeholders_braces_and_escapes() {
    let groups = [Some(0..6), Some(5..6)];
    assert_eq!(
        render(
            "VALUE {1}={msg} #{conn}/{seq} {len}\\r\\n",
            b"READ 7",
            &groups
        ),
        b"VALUE 7=READ 7 #7/3 6\r\n"
    );
    assert_eq!(render("{{x}} {hex}", b"hi", &[]), b"{x} 68 69");
    assert_eq!(render("\\x00\\xff|\\q", b"", &[]), b"\x00\xff|\\q");
    assert_eq!(render("{peer} {9}", b"", &[]), b"127.0.0.1:5000 ");
    let time = render("{time}", b"", &[]);
    assert_eq!(time.len(), 23, "{}", String::from_utf8_lossy(&time));
    assert!(render("{unix_ms}", b"", &[]).len() >= 13);
}

#[test]
fn bytes_of_the_message_and_checksums_of_the_reply() {
    let modbus = b"\x00\x07\x00\x00\x01\x2b\x0e";
    assert_eq!(
        render("{bytes:0..2}|{bytes:5..}|{bytes:..1}", modbus, &[]),
        b"\x00\x07|\x2b\x0e|\x00"
    );
    assert_eq!(
        render("{bytes:5..6|0x80}{bytes:5..6|80}", modbus, &[]),
        b"\xab\xab"
    );
    // Past the end: what there is.
    assert_eq!(render("{bytes:6..100}{bytes:50..60}", modbus, &[]), b"\x0e");
    // Checksums cover what the template rendered before them, nothing before it.
    let t = Template::parse_hex("01 03 00 00 00 0A {crc16_modbus}").unwrap();
    let mut out = b"owed already".to_vec();
    t.render(
        &Context::unprompted(1, 1, "127.0.0.1:1".parse().unwrap()),
        &mut out,
    );
    assert_eq!(&out[12..], b"\x01\x03\x00\x00\x00\x0a\xc5\xcd");
    let checksums: [(&str, &[u8], &[u8]); 4] = [
        ("123456789{crc16_ccitt}", b"", b"123456789\x29\xb1"),
        ("123456789{crc32}", b"", b"123456789\x26\x39\xf4\xcb"),
        ("123456789{sum8}{xor8}", b"", b"123456789\xdd\xec"),
        (
            "{msg}{lrc}",
            b"\x01\x03\x00\x00\x00\x0a",
            b"\x01\x03\x00\x00\x00\x0a\xf2",
        ),
    ];
    for (template, message, rendered) in checksums {
        assert_eq!(render(template, message, &[]), rendered, "{template}");
    }
    let echo = Template::parse_hex("{bytes:0..5} {bytes:5..6|80} 01").unwrap();
    let mut out = Vec::new();
    let context = Context {
        message: modbus,
        raw: modbus,
        groups: &[],
        conn: 1,
        seq: 1,
        peer: "127.0.0.1:1".parse().unwrap(),
        vars: None,
    };
    echo.render(&context, &mut out);
    assert_eq!(out, b"\x00\x07\x00\x00\x01\xab\x01");
}

#[test]
fn hex_templates() {
    assert_eq!(
        Template::parse_hex("0xAA 55{seq}ff").unwrap().parts.len(),
        3
    );
    assert_eq!(
        Template::parse_hex("aa 55").unwrap().as_fixed(),
        Some(&b"\xaa\x55"[..])
    );
    for (bad, says) in [
        ("aa {nope}", "unknown placeholder {nope}"),
        ("aa {crc32", "is not closed"),
        ("aa } 55", "a lone `}`"),
        ("a {crc32}", "\"a\" is not hex bytes"),
        ("{bytes:3..1}", "unknown placeholder {bytes:3..1}"),
    ] {
        let error = Template::parse_hex(bad).unwrap_err();
        assert!(error.contains(says), "{bad}: {error}");
    }
}

#[test]
fn mistakes_are_reported_at_parse_time() {
    for (bad, says) in [
        ("{nope}", "unknown placeholder {nope}"),
        ("a {msg", "is not closed"),
        ("a } b", "a lone `}`"),
        ("\\x4", "needs two hex digits"),
        ("{10}", "unknown placeholder {10}"),
    ] {
        let error = Template::parse(bad, TextEncoding::Utf8).unwrap_err();
        assert!(error.contains(says), "{bad}: {error}");
    }
    let error = Template::parse("🙂", TextEncoding::Gbk).unwrap_err();
    assert!(error.contains("GBK cannot encode"), "{error}");
}

#[test]
fn literal_text_is_encoded_for_the_wire() {
    let t = Template::parse("已收到\\n", TextEncoding::Gbk).unwrap();
    assert_eq!(t.as_fixed(), Some(&b"\xd2\xd1\xca\xd5\xb5\xbd\n"[..]));
}
