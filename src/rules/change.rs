//! `set`: what a rule changes, `conn.user = {1}`, `global.count += 1`,
//! `key.balance -= {2}`. The right side is a template (captures,
//! `{msg}`, other variables), an integer if it renders as one, else text;
//! in double quotes it stays text. Arithmetic never panics: on text, past
//! the 64-bit range or dividing by zero it fails, and the rule's message
//! gets the default answer.

use super::condition::Mistake;
use super::template::Template;
use crate::encoding::TextEncoding;
use crate::state::{Lookup, Value, Var};

/// One assignment.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub var: Var,
    pub op: Op,
    pub value: Template,
    /// In quotes: text even if it reads as a number.
    pub text: bool,
}

/// How the new value comes from the old one and the right side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Assign,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Assign => "=",
            Op::Add => "+=",
            Op::Sub => "-=",
            Op::Mul => "*=",
            Op::Div => "/=",
            Op::Rem => "%=",
        }
    }
}

impl Change {
    /// The new value of the variable, from its value now (`None`: never
    /// set, 0 for arithmetic) and `vars` for the right side's placeholders.
    /// `render` renders the right side.
    pub(crate) fn new_value(&self, old: Option<&Value>, right: &[u8]) -> Result<Value, String> {
        let right = match self.text {
            true => Value::Text(String::from_utf8_lossy(right).into_owned()),
            false => Value::from_bytes(right),
        };
        if self.op == Op::Assign {
            return Ok(right);
        }
        let fail = |why: &str| {
            format!(
                "{} {} {}: {why}",
                self.var,
                self.op.symbol(),
                right.quoted()
            )
        };
        let old = match old {
            None => 0,
            Some(Value::Int(n)) => *n,
            Some(Value::Text(t)) => {
                return Err(fail(&format!(
                    "{} holds text {t:?}, not an integer",
                    self.var
                )));
            }
        };
        let Value::Int(by) = right else {
            return Err(fail("the right side is text, not an integer"));
        };
        let new = match self.op {
            Op::Add => old.checked_add(by),
            Op::Sub => old.checked_sub(by),
            Op::Mul => old.checked_mul(by),
            Op::Div | Op::Rem if by == 0 => return Err(fail("division by zero")),
            Op::Div => old.checked_div(by),
            Op::Rem => old.checked_rem(by),
            Op::Assign => Some(by),
        };
        new.map(Value::Int)
            .ok_or_else(|| fail(&format!("{old} overflows a 64-bit integer")))
    }

    /// The variables the right side reads.
    pub(crate) fn reads(&self) -> impl Iterator<Item = &Var> {
        self.value.vars()
    }
}

/// Reads a lookup through another: the changes staged so far shadow the
/// tables, so `set = ["global.a += 1", "global.b = {global.a}"]` sees the new `a`.
pub(crate) struct Staged<'a> {
    pub staged: &'a [(Var, Value)],
    pub under: &'a dyn Lookup,
}

impl Lookup for Staged<'_> {
    fn lookup(&self, var: &Var) -> Option<&Value> {
        match self.staged.iter().rev().find(|(v, _)| v == var) {
            Some((_, value)) => Some(value),
            None => self.under.lookup(var),
        }
    }
}

/// Parses one `set` entry; a mistake names the column.
pub(crate) fn parse(text: &str, encoding: TextEncoding) -> Result<Change, Mistake> {
    let column = |byte: usize| text[..byte].chars().count() + 1;
    let Some(eq) = text.find('=') else {
        return Err((
            column(text.len()),
            "expected `=`, `+=`, `-=`, `*=`, `/=` or `%=`, as in \"conn.count += 1\"".into(),
        ));
    };
    let (op, left_end) = match text[..eq].chars().last() {
        Some('+') => (Op::Add, eq - 1),
        Some('-') => (Op::Sub, eq - 1),
        Some('*') => (Op::Mul, eq - 1),
        Some('/') => (Op::Div, eq - 1),
        Some('%') => (Op::Rem, eq - 1),
        _ => (Op::Assign, eq),
    };
    let left = text[..left_end].trim();
    let left_at = text.len() - text.trim_start().len();
    let var = Var::parse(left).ok_or_else(|| {
        (
            column(left_at),
            format!("{left:?} is not a variable: write conn.NAME, global.NAME or key.NAME"),
        )
    })?;
    let right_raw = &text[eq + 1..];
    let right_at = eq + 1 + (right_raw.len() - right_raw.trim_start().len());
    let right = right_raw.trim();
    if right.starts_with("==") || text[eq + 1..].starts_with('=') {
        return Err((column(eq), "`==` compares; `set` assigns with `=`".into()));
    }
    let (inner, quoted) = match right.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) if right.len() >= 2 => (inner, true),
        _ => (right, false),
    };
    let value = Template::parse(inner, encoding).map_err(|e| (column(right_at), e))?;
    Ok(Change {
        var,
        op,
        value,
        text: quoted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(text: &str) -> Change {
        parse(text, TextEncoding::Utf8).unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    #[test]
    fn assignments_and_arithmetic() {
        let c = change("conn.user = {1}");
        assert_eq!((c.var.to_string(), c.op), ("conn.user".into(), Op::Assign));
        assert_eq!(c.new_value(None, b"bob"), Ok(Value::Text("bob".into())));
        assert_eq!(c.new_value(None, b"12"), Ok(Value::Int(12)));
        let c = change("  global.count+=1");
        assert_eq!(c.op, Op::Add);
        assert_eq!(c.new_value(None, b"1"), Ok(Value::Int(1)));
        assert_eq!(c.new_value(Some(&Value::Int(41)), b"1"), Ok(Value::Int(42)));
        let c = change("key.balance -= {2}");
        assert_eq!(c.new_value(Some(&Value::Int(5)), b"7"), Ok(Value::Int(-2)));
        assert_eq!(
            change("conn.x = \"12\"").new_value(None, b"12"),
            Ok(Value::Text("12".into()))
        );
        assert_eq!(
            change("conn.x *= 3").new_value(Some(&Value::Int(2)), b"3"),
            Ok(Value::Int(6))
        );
        assert_eq!(
            change("conn.x %= 3").new_value(Some(&Value::Int(7)), b"3"),
            Ok(Value::Int(1))
        );
    }

    #[test]
    fn arithmetic_failures_say_why() {
        let failures = [
            (
                "conn.x += 1",
                Some(Value::Text("a".into())),
                "1",
                "holds text \"a\"",
            ),
            ("conn.x += {1}", None, "abc", "the right side is text"),
            ("conn.x += 1", Some(Value::Int(i64::MAX)), "1", "overflows"),
            ("conn.x -= 1", Some(Value::Int(i64::MIN)), "1", "overflows"),
            (
                "conn.x /= {1}",
                Some(Value::Int(1)),
                "0",
                "division by zero",
            ),
            ("conn.x %= 0", Some(Value::Int(1)), "0", "division by zero"),
            (
                "conn.x /= -1",
                Some(Value::Int(i64::MIN)),
                "-1",
                "overflows",
            ),
        ];
        for (text, old, right, says) in failures {
            let error = change(text)
                .new_value(old.as_ref(), right.as_bytes())
                .unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn mistakes_name_the_column() {
        let table = [
            ("conn.count 1", 13, "expected `=`"),
            ("count = 1", 1, "\"count\" is not a variable"),
            ("  conn.a.b = 1", 3, "is not a variable"),
            ("conn.a == 1", 8, "`==` compares"),
            ("conn.a = {nope}", 10, "unknown placeholder {nope}"),
        ];
        for (text, at, says) in table {
            let (column, why) = parse(text, TextEncoding::Utf8).unwrap_err();
            assert!(column == at && why.contains(says), "{text}: {column} {why}");
        }
    }
}
