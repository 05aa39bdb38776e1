use super::*;
use std::collections::HashMap;

struct Vars(HashMap<String, Value>);

impl Lookup for Vars {
    fn lookup(&self, var: &Var) -> Option<&Value> {
        self.0.get(&var.to_string())
    }
}

fn vars() -> Vars {
    Vars(HashMap::from([
        ("conn.user".to_string(), Value::Text("bob".into())),
        ("conn.count".to_string(), Value::Int(3)),
        ("global.temp".to_string(), Value::Text("22".into())),
        ("key.n".to_string(), Value::Int(-1)),
    ]))
}

fn holds(text: &str) -> bool {
    parse(text)
        .unwrap_or_else(|e| panic!("{text}: {e:?}"))
        .holds(&vars())
}

#[test]
fn comparisons_logic_and_precedence() {
    let table = [
        ("conn.user == \"bob\"", true),
        ("conn.user != 'bob'", false),
        ("conn.count < 4 && conn.count >= 3", true),
        ("conn.count > 3 || conn.count <= 2", false),
        ("!(conn.count == 3)", false),
        ("!conn.missing", true),
        ("conn.missing == 0 && conn.missing == \"\"", true),
        ("conn.missing < 1", true),
        ("global.temp > 20", true),
        ("global.temp == 22", true),
        ("key.n < 0", true),
        ("conn.count", true),
        ("conn.user", true),
        ("1 || 0 && 0", true),
        ("(1 || 0) && 0", false),
        ("!0 && !!1", true),
        ("conn.user > \"alice\"", true),
        ("conn.count == \"3\"", true),
        ("conn.user == 0", false),
        ("-5 < -4", true),
    ];
    for (text, expected) in table {
        assert_eq!(holds(text), expected, "{text}");
    }
}

#[test]
fn mistakes_name_the_column() {
    let table = [
        ("conn.count = 1", 12, "compares as `==`"),
        ("conn.count ==", 14, "ends too soon"),
        ("(conn.count == 1", 17, "the `(` at column 1 is not closed"),
        ("conn.count == 1)", 16, "a `)` with no `(`"),
        ("user == 1", 1, "\"user\" is not a variable"),
        ("conn.x == \"abc", 11, "no closing \""),
        ("conn.x & 1", 8, "write `&&`"),
        ("1 < 2 < 3", 7, "do not chain"),
        ("conn.x 1", 8, "expected `&&`"),
        ("", 1, "ends too soon"),
        ("conn.x == 99999999999999999999", 11, "does not fit"),
        ("conn.x == #", 11, "unexpected '#'"),
        ("&& 1", 1, "expected a variable"),
    ];
    for (text, column, says) in table {
        let (at, why) = parse(text).unwrap_err();
        assert!(at == column && why.contains(says), "{text}: {at} {why}");
    }
}

#[test]
fn the_variables_read() {
    let condition = parse("conn.a == 1 || !(global.b < key.c)").unwrap();
    let mut found = Vec::new();
    condition.vars(&mut found);
    let names: Vec<String> = found.iter().map(|v| v.to_string()).collect();
    assert_eq!(names, ["conn.a", "global.b", "key.c"]);
}
