//! A variable's name and value: `conn.count = 3`, `global.mode = "idle"`.

use std::fmt;
use std::io::Write;

use serde_json::Value as Json;

/// Which table a variable lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Scope {
    /// Fresh for each connection (each datagram, under UDP).
    Conn,
    /// One for the whole server.
    Global,
    /// One table per key, the key named by the rule (`key = "{1}"`).
    Key,
}

impl Scope {
    /// `conn`, `global`, `key`: as rules spell it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scope::Conn => "conn",
            Scope::Global => "global",
            Scope::Key => "key",
        }
    }

    /// The scope named `word`.
    pub(crate) fn named(word: &str) -> Option<Self> {
        match word {
            "conn" => Some(Scope::Conn),
            "global" => Some(Scope::Global),
            "key" => Some(Scope::Key),
            _ => None,
        }
    }
}

/// A variable as rules name it: `conn.count`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Var {
    pub scope: Scope,
    pub name: Box<str>,
}

impl Var {
    /// `conn.NAME`, `global.NAME` or `key.NAME`, NAME of letters, digits
    /// and `_`, not starting with a digit; `None` for anything else.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (scope, name) = text.split_once('.')?;
        let scope = Scope::named(scope)?;
        is_name(name).then(|| Var {
            scope,
            name: name.into(),
        })
    }
}

/// Letters, digits and `_`, not starting with a digit.
pub(crate) fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.scope.name(), self.name)
    }
}

/// What a variable holds. A variable never set reads as `0` or `""`,
/// whichever it is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Int(i64),
    Text(String),
}

impl Value {
    /// Text as a template rendered it: an integer if it reads as one
    /// (`"42"`, `"-3"`), else text.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        match text.parse::<i64>() {
            Ok(n) if !text.starts_with('+') => Value::Int(n),
            _ => Value::Text(text.into_owned()),
        }
    }

    /// Appends the value as templates show it.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(n) => {
                // Into the Vec directly: no String per number.
                let _ = write!(out, "{n}");
            }
            Value::Text(text) => out.extend_from_slice(text.as_bytes()),
        }
    }

    /// As JSON: a number or a string.
    pub(crate) fn to_json(&self) -> Json {
        match self {
            Value::Int(n) => Json::from(*n),
            Value::Text(text) => Json::from(text.as_str()),
        }
    }

    /// From JSON, as the state file holds it.
    pub(crate) fn from_json(json: &Json) -> Option<Self> {
        match json {
            Json::Number(n) => n.as_i64().map(Value::Int),
            Json::String(text) => Some(Value::Text(text.clone())),
            _ => None,
        }
    }

    /// For lines: integers bare, text in quotes (`3`, `"bob"`).
    pub(crate) fn quoted(&self) -> String {
        match self {
            Value::Int(n) => n.to_string(),
            Value::Text(text) => format!("{text:?}"),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Text(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values() {
        let var = Var::parse("conn.count").unwrap();
        assert_eq!((var.scope, &*var.name), (Scope::Conn, "count"));
        assert_eq!(var.to_string(), "conn.count");
        for bad in [
            "count",
            "conn.",
            "user.x",
            "conn.1x",
            "conn.a-b",
            "global.a.b",
        ] {
            assert!(Var::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(Value::from_bytes(b"-42"), Value::Int(-42));
        assert_eq!(Value::from_bytes(b"+4"), Value::Text("+4".into()));
        assert_eq!(Value::from_bytes(b"22.5"), Value::Text("22.5".into()));
        assert_eq!(
            Value::from_bytes(b"99999999999999999999"),
            Value::Text("99999999999999999999".into())
        );
        let mut out = Vec::new();
        Value::Int(7).write(&mut out);
        Value::Text("x".into()).write(&mut out);
        assert_eq!(out, b"7x");
    }
}
