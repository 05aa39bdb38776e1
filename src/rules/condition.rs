//! `when`: a small condition on variables, parsed once at load and checked
//! per message without allocating. `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`,
//! `||`, `!`, parentheses, integer and quoted text literals, variables
//! (`conn.user`, `global.count`, `key.balance`). A variable never set reads
//! as 0 or "", whichever it meets; a bare value holds when non-zero or
//! non-empty. Comparing an integer with text that is no integer compares
//! their text.

use std::cmp::Ordering;

use crate::state::{Lookup, Value, Var};

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Condition {
    Literal(Value),
    Var(Var),
    Not(Box<Condition>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Compare(Compare, Box<Condition>, Box<Condition>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compare {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A value met while checking: borrowed, never copied.
#[derive(Debug, Clone, Copy)]
enum Operand<'a> {
    Unset,
    Int(i64),
    Text(&'a str),
}

impl Operand<'_> {
    fn holds(self) -> bool {
        match self {
            Operand::Unset => false,
            Operand::Int(n) => n != 0,
            Operand::Text(t) => !t.is_empty(),
        }
    }
}

fn order(a: Operand<'_>, b: Operand<'_>) -> Ordering {
    use Operand::{Int, Text, Unset};
    match (a, b) {
        (Unset, Unset) => Ordering::Equal,
        (Unset, Int(n)) => 0.cmp(&n),
        (Int(n), Unset) => n.cmp(&0),
        (Unset, Text(t)) => "".cmp(t),
        (Text(t), Unset) => t.cmp(""),
        (Int(a), Int(b)) => a.cmp(&b),
        (Text(a), Text(b)) => a.cmp(b),
        (Int(n), Text(t)) => match t.parse::<i64>() {
            Ok(m) => n.cmp(&m),
            Err(_) => n.to_string().as_str().cmp(t),
        },
        (Text(_), Int(_)) => order(b, a).reverse(),
    }
}

impl Condition {
    /// Whether the condition holds for these variables.
    pub(crate) fn holds(&self, vars: &dyn Lookup) -> bool {
        self.eval(vars).holds()
    }

    fn eval<'a>(&'a self, vars: &'a dyn Lookup) -> Operand<'a> {
        let truth = |b: bool| Operand::Int(i64::from(b));
        match self {
            Condition::Literal(Value::Int(n)) => Operand::Int(*n),
            Condition::Literal(Value::Text(t)) => Operand::Text(t),
            Condition::Var(var) => match vars.lookup(var) {
                None => Operand::Unset,
                Some(Value::Int(n)) => Operand::Int(*n),
                Some(Value::Text(t)) => Operand::Text(t),
            },
            Condition::Not(inner) => truth(!inner.holds(vars)),
            Condition::And(a, b) => truth(a.holds(vars) && b.holds(vars)),
            Condition::Or(a, b) => truth(a.holds(vars) || b.holds(vars)),
            Condition::Compare(op, a, b) => {
                let ordering = order(a.eval(vars), b.eval(vars));
                truth(match op {
                    Compare::Eq => ordering.is_eq(),
                    Compare::Ne => ordering.is_ne(),
                    Compare::Lt => ordering.is_lt(),
                    Compare::Le => ordering.is_le(),
                    Compare::Gt => ordering.is_gt(),
                    Compare::Ge => ordering.is_ge(),
                })
            }
        }
    }

    /// Every variable the condition reads, into `out`.
    pub(crate) fn vars<'a>(&'a self, out: &mut Vec<&'a Var>) {
        match self {
            Condition::Literal(_) => {}
            Condition::Var(var) => out.push(var),
            Condition::Not(inner) => inner.vars(out),
            Condition::And(a, b) | Condition::Or(a, b) | Condition::Compare(_, a, b) => {
                a.vars(out);
                b.vars(out);
            }
        }
    }
}

/// A mistake: the 1-based column (in characters) and what is wrong.
pub(crate) type Mistake = (usize, String);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    Not,
    And,
    Or,
    Compare(Compare),
    Value(Value),
    Var(Var),
}

/// Parses a `when`; a mistake says at which column and what is wrong.
pub(crate) fn parse(text: &str) -> Result<Condition, Mistake> {
    let tokens = tokens(text)?;
    let mut parser = Parser {
        tokens: &tokens,
        at: 0,
        end: text.chars().count() + 1,
    };
    let condition = parser.or()?;
    match parser.tokens.get(parser.at) {
        None => Ok(condition),
        Some((column, Token::Close)) => Err((*column, "a `)` with no `(` before it".into())),
        Some((column, _)) => Err((
            *column,
            "expected `&&`, `||`, a comparison or the end here".into(),
        )),
    }
}

fn tokens(text: &str) -> Result<Vec<(usize, Token)>, Mistake> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let column = i + 1;
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let two = |t: Token| (t, 2);
        let (token, width) = match (c, next) {
            (c, _) if c.is_whitespace() => {
                i += 1;
                continue;
            }
            ('(', _) => (Token::Open, 1),
            (')', _) => (Token::Close, 1),
            ('&', Some('&')) => two(Token::And),
            ('|', Some('|')) => two(Token::Or),
            ('=', Some('=')) => two(Token::Compare(Compare::Eq)),
            ('!', Some('=')) => two(Token::Compare(Compare::Ne)),
            ('<', Some('=')) => two(Token::Compare(Compare::Le)),
            ('>', Some('=')) => two(Token::Compare(Compare::Ge)),
            ('<', _) => (Token::Compare(Compare::Lt), 1),
            ('>', _) => (Token::Compare(Compare::Gt), 1),
            ('!', _) => (Token::Not, 1),
            ('=', _) => return Err((column, "`=` compares as `==` in a condition".into())),
            ('&', _) | ('|', _) => {
                return Err((column, format!("`{c}` alone: write `{c}{c}`")));
            }
            ('"' | '\'', _) => {
                let quote = c;
                let Some(len) = chars[i + 1..].iter().position(|&d| d == quote) else {
                    return Err((column, format!("text starting here has no closing {quote}")));
                };
                let text: String = chars[i + 1..i + 1 + len].iter().collect();
                (Token::Value(Value::Text(text)), len + 2)
            }
            (c, _)
                if c.is_ascii_digit() || (c == '-' && next.is_some_and(|d| d.is_ascii_digit())) =>
            {
                let len = 1 + chars[i + 1..]
                    .iter()
                    .take_while(|d| d.is_ascii_digit())
                    .count();
                let digits: String = chars[i..i + len].iter().collect();
                let n = digits
                    .parse::<i64>()
                    .map_err(|_| (column, format!("{digits} does not fit a 64-bit integer")))?;
                (Token::Value(Value::Int(n)), len)
            }
            (c, _) if c.is_ascii_alphabetic() || c == '_' => {
                let len = chars[i..]
                    .iter()
                    .take_while(|d| d.is_ascii_alphanumeric() || **d == '_' || **d == '.')
                    .count();
                let word: String = chars[i..i + len].iter().collect();
                let var = Var::parse(&word).ok_or_else(|| {
                    (
                        column,
                        format!(
                            "{word:?} is not a variable: write conn.NAME, global.NAME or key.NAME, and text in quotes"
                        ),
                    )
                })?;
                (Token::Var(var), len)
            }
            (c, _) => return Err((column, format!("unexpected {c:?}"))),
        };
        tokens.push((column, token));
        i += width;
    }
    Ok(tokens)
}

/// Recursive descent, loosest first: `||`, `&&`, comparison, `!`, operand.
struct Parser<'t> {
    tokens: &'t [(usize, Token)],
    at: usize,
    /// The column just past the text, for "ends too soon".
    end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn column(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(c, _)| *c)
    }

    fn or(&mut self) -> Result<Condition, Mistake> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            left = Condition::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, Mistake> {
        let mut left = self.comparison()?;
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            left = Condition::And(Box::new(left), Box::new(self.comparison()?));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Condition, Mistake> {
        let left = self.unary()?;
        if let Some(&Token::Compare(op)) = self.peek() {
            self.at += 1;
            let right = self.unary()?;
            if let Some(Token::Compare(_)) = self.peek() {
                return Err((
                    self.column(),
                    "comparisons do not chain: join them with `&&`".into(),
                ));
            }
            return Ok(Condition::Compare(op, Box::new(left), Box::new(right)));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Condition, Mistake> {
        if self.peek() == Some(&Token::Not) {
            self.at += 1;
            return Ok(Condition::Not(Box::new(self.unary()?)));
        }
        self.operand()
    }

    fn operand(&mut self) -> Result<Condition, Mistake> {
        let column = self.column();
        let token = self.peek().cloned();
        self.at += 1;
        match token {
            Some(Token::Value(value)) => Ok(Condition::Literal(value)),
            Some(Token::Var(var)) => Ok(Condition::Var(var)),
            Some(Token::Open) => {
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err((
                        self.column(),
                        format!("the `(` at column {column} is not closed"),
                    ));
                }
                self.at += 1;
                Ok(inner)
            }
            None => Err((
                column,
                "the condition ends too soon: a value is missing".into(),
            )),
            Some(_) => Err((
                column,
                "expected a variable, a number or quoted text here".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
