use super::*;

#[test]
fn hosts_that_are_loopback() {
    for yes in [
        "127.0.0.1:7786",
        "localhost:80",
        "[::1]:7786",
        "LOCALHOST",
        "127.0.0.2:1",
    ] {
        assert!(is_loopback_host(yes), "{yes}");
    }
    for no in [
        "evil.example:7786",
        "10.0.0.1:7786",
        "[fe80::1]:1",
        "",
        "127.0.0.1.evil.example",
    ] {
        assert!(!is_loopback_host(no), "{no}");
    }
}

#[test]
fn tokens_and_actions() {
    assert!(token_ok(None, None));
    assert!(token_ok(Some("abc"), Some("abc")));
    assert!(!token_ok(Some("abc"), Some("abd")));
    assert!(!token_ok(Some("abc"), None));
    assert!(!token_ok(Some("abc"), Some("abcd")));
    assert_eq!(percent_decode("a%2Fb%zz"), "a/b%zz");
    assert_eq!(
        parse_action("send", &json!({"conn": 3, "text": "hi"})),
        Ok(PageAction::Send {
            to: Some(3),
            text: "hi".into(),
            hex: false,
            newline: true
        })
    );
    assert_eq!(
        parse_action("close", &json!({"conn": 4})),
        Ok(PageAction::Close(4))
    );
    assert!(parse_action("close", &json!({})).is_err());
    assert!(parse_action("send", &json!({"conn": "x", "text": "a"})).is_err());
}
