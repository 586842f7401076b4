//! App Context filter expressions, as PubNub defines them for listing
//! objects (`filter=` on get all): comparisons of an object's fields with
//! literals, combined with `&&`, `||`, `!` and parentheses.
//!
//! ```text
//! expr       := and ("||" and)*
//! and        := unary ("&&" unary)*
//! unary      := "!" unary | "(" expr ")" | comparison
//! comparison := field op literal
//! field      := name ("." name)*          e.g. name, custom.rank, updated,
//!                                         channel.name, uuid.custom.rank
//! op         := "==" | "!=" | "<" | "<=" | ">" | ">=" | "LIKE"
//! literal    := "string" | 'string' | number | true | false | null
//! ```
//! `LIKE` compares strings, case-insensitively, where `*` matches any run
//! of characters (`\*` a star). Strings compare lexicographically (so
//! ISO-8601 `updated` values compare as times), numbers numerically; a
//! comparison of different types, or with a field the object lacks, is
//! false (except `!=`, which is true). Errors name the character position
//! (0-based) where the expression went wrong.

use serde_json::Value;

/// Longest expression accepted, in bytes.
pub const MAX_LEN: usize = 2048;
/// Deepest nesting of `!` and parentheses accepted.
const MAX_DEPTH: usize = 32;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Either side holds.
    Or(Box<Expr>, Box<Expr>),
    /// Both sides hold.
    And(Box<Expr>, Box<Expr>),
    /// The inner expression does not hold.
    Not(Box<Expr>),
    /// A field compared with a literal.
    Compare {
        /// The field's path (`["custom", "rank"]`).
        field: Vec<String>,
        /// How.
        op: Op,
        /// With what.
        value: Value,
    },
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `LIKE`, with `*` wildcards.
    Like,
}

/// Why an expression does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid filter expression at position {position}: {message}")]
pub struct FilterError {
    /// Where (a character index).
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Literal(Value),
    Op(Op),
    And,
    Or,
    Not,
    Open,
    Close,
    Dot,
}

/// Parses `text`; `fields` are the field paths it may use (`name`,
/// `channel.name`), where a `custom` or `X.custom` takes one key more.
///
/// # Errors
/// [`FilterError`] naming the position of the first problem.
pub fn parse(text: &str, fields: &[&str]) -> Result<Expr, FilterError> {
    if text.len() > MAX_LEN {
        return Err(FilterError {
            position: MAX_LEN,
            message: format!("the expression is longer than {MAX_LEN} bytes"),
        });
    }
    let tokens = lex(text)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        end: text.chars().count(),
        fields,
        depth: 0,
    };
    let expr = parser.or()?;
    match parser.tokens.get(parser.at) {
        None => Ok(expr),
        Some((position, token)) => Err(FilterError {
            position: *position,
            message: format!("unexpected {}", describe(token)),
        }),
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Name(n) => format!("`{n}`"),
        Token::Literal(v) => format!("literal {v}"),
        Token::Op(_) => "operator".into(),
        Token::And => "`&&`".into(),
        Token::Or => "`||`".into(),
        Token::Not => "`!`".into(),
        Token::Open => "`(`".into(),
        Token::Close => "`)`".into(),
        Token::Dot => "`.`".into(),
    }
}

fn lex(text: &str) -> Result<Vec<(usize, Token)>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let error = |position, message: &str| FilterError {
        position,
        message: message.to_owned(),
    };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let next = chars.get(i + 1).copied();
        let token = match (c, next) {
            (c, _) if c.is_whitespace() => {
                i += 1;
                continue;
            }
            ('=', Some('=')) => Token::Op(Op::Eq),
            ('!', Some('=')) => Token::Op(Op::Ne),
            ('<', Some('=')) => Token::Op(Op::Le),
            ('>', Some('=')) => Token::Op(Op::Ge),
            ('&', Some('&')) => Token::And,
            ('|', Some('|')) => Token::Or,
            ('<', _) => Token::Op(Op::Lt),
            ('>', _) => Token::Op(Op::Gt),
            ('!', _) => Token::Not,
            ('(', _) => Token::Open,
            (')', _) => Token::Close,
            ('.', _) => Token::Dot,
            ('"' | '\'', _) => {
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(error(start, "unterminated string")),
                        Some(q) if *q == c => break,
                        Some('\\') => {
                            let escaped = chars
                                .get(i + 1)
                                .ok_or_else(|| error(i, "unterminated string"))?;
                            // `\*` stays escaped for LIKE; other escapes
                            // stand for the character itself.
                            if *escaped == '*' {
                                value.push('\\');
                            }
                            value.push(*escaped);
                            i += 2;
                        }
                        Some(ch) => {
                            value.push(*ch);
                            i += 1;
                        }
                    }
                }
                i += 1;
                tokens.push((start, Token::Literal(Value::String(value))));
                continue;
            }
            (c, _) if c.is_ascii_digit() || c == '-' => {
                while chars
                    .get(i + 1)
                    .is_some_and(|d| d.is_ascii_digit() || matches!(d, '.' | 'e' | 'E' | '+' | '-'))
                {
                    i += 1;
                }
                let number: String = chars[start..=i].iter().collect();
                let value: f64 = number
                    .parse()
                    .map_err(|_| error(start, &format!("`{number}` is not a number")))?;
                let value = serde_json::Number::from_f64(value)
                    .ok_or_else(|| error(start, "the number is out of range"))?;
                i += 1;
                tokens.push((start, Token::Literal(Value::Number(value))));
                continue;
            }
            (c, _) if c.is_alphabetic() || c == '_' => {
                while chars
                    .get(i + 1)
                    .is_some_and(|d| d.is_alphanumeric() || matches!(d, '_' | '-'))
                {
                    i += 1;
                }
                let word: String = chars[start..=i].iter().collect();
                i += 1;
                let token = match word.as_str() {
                    w if w.eq_ignore_ascii_case("like") => Token::Op(Op::Like),
                    "true" => Token::Literal(Value::Bool(true)),
                    "false" => Token::Literal(Value::Bool(false)),
                    "null" => Token::Literal(Value::Null),
                    _ => Token::Name(word),
                };
                tokens.push((start, token));
                continue;
            }
            (c, _) => return Err(error(start, &format!("unexpected character `{c}`"))),
        };
        i += match token {
            Token::Op(Op::Lt | Op::Gt) | Token::Not | Token::Open | Token::Close | Token::Dot => 1,
            _ => 2,
        };
        tokens.push((start, token));
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<(usize, Token)>,
    at: usize,
    end: usize,
    fields: &'a [&'a str],
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(p, _)| *p)
    }

    fn fail<T>(&self, message: impl Into<String>) -> Result<T, FilterError> {
        Err(FilterError {
            position: self.position(),
            message: message.into(),
        })
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).map(|(_, t)| t.clone());
        self.at += 1;
        token
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        if self.depth >= MAX_DEPTH {
            return self.fail(format!("nested deeper than {MAX_DEPTH}"));
        }
        match self.peek() {
            Some(Token::Not) => {
                self.at += 1;
                self.depth += 1;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Expr::Not(Box::new(inner)))
            }
            Some(Token::Open) => {
                self.at += 1;
                self.depth += 1;
                let inner = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Token::Close) {
                    return self.fail("expected `)`");
                }
                self.at += 1;
                Ok(inner)
            }
            _ => self.comparison(),
        }
    }

    fn comparison(&mut self) -> Result<Expr, FilterError> {
        let position = self.position();
        let Some(Token::Name(first)) = self.next() else {
            self.at -= 1;
            return self.fail("expected a field name");
        };
        let mut field = vec![first];
        while self.peek() == Some(&Token::Dot) {
            self.at += 1;
            match self.next() {
                Some(Token::Name(name)) => field.push(name),
                _ => {
                    self.at -= 1;
                    return self.fail("expected a field name after `.`");
                }
            }
        }
        check_field(&field, self.fields).map_err(|message| FilterError { position, message })?;
        let Some(Token::Op(op)) = self.next() else {
            self.at -= 1;
            return self.fail("expected an operator (==, !=, <, <=, >, >=, LIKE)");
        };
        let Some(Token::Literal(value)) = self.next() else {
            self.at -= 1;
            return self.fail("expected a string, number, true, false or null");
        };
        if op == Op::Like && !value.is_string() {
            self.at -= 1;
            return self.fail("LIKE needs a string");
        }
        Ok(Expr::Compare { field, op, value })
    }
}

/// Checks a field path against `fields`: it names one of them, or is
/// `X.custom.KEY` for an `X.custom` (or `custom`) among them.
fn check_field(field: &[String], fields: &[&str]) -> Result<(), String> {
    let known = (1..=field.len())
        .rev()
        .map(|n| field[..n].join("."))
        .find(|prefix| fields.contains(&prefix.as_str()));
    let Some(known) = known else {
        return Err(format!(
            "unknown field `{}` (expected one of {})",
            field.join("."),
            fields.join(", ")
        ));
    };
    let depth = known.split('.').count();
    let custom = known == "custom" || known.ends_with(".custom");
    match (custom, field.len() - depth) {
        (true, 1) | (false, 0) => Ok(()),
        (true, _) => Err(format!("custom fields are named `{known}.KEY`")),
        (false, _) => Err(format!("`{known}` has no fields")),
    }
}

impl Expr {
    /// Whether `object` (an object's JSON, fields by their wire names)
    /// satisfies the expression.
    pub fn matches(&self, object: &Value) -> bool {
        match self {
            Self::Or(a, b) => a.matches(object) || b.matches(object),
            Self::And(a, b) => a.matches(object) && b.matches(object),
            Self::Not(inner) => !inner.matches(object),
            Self::Compare { field, op, value } => {
                let found = field.iter().try_fold(object, |v, name| v.get(name));
                compare(found.unwrap_or(&Value::Null), *op, value)
            }
        }
    }
}

fn compare(found: &Value, op: Op, wanted: &Value) -> bool {
    use std::cmp::Ordering;
    let order = match (found, wanted) {
        (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
        (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    };
    match op {
        Op::Eq => order == Some(Ordering::Equal),
        Op::Ne => order != Some(Ordering::Equal),
        Op::Lt => order == Some(Ordering::Less),
        Op::Le => matches!(order, Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => order == Some(Ordering::Greater),
        Op::Ge => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
        Op::Like => match (found, wanted) {
            (Value::String(text), Value::String(pattern)) => like(text, pattern),
            _ => false,
        },
    }
}

/// Whether `text` matches `pattern` (`*` any run, `\*` a star),
/// ignoring case.
fn like(text: &str, pattern: &str) -> bool {
    // Pattern pieces between unescaped stars.
    let mut pieces = vec![String::new()];
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => pieces
                .last_mut()
                .expect("one piece")
                .push(chars.next().unwrap_or('\\')),
            '*' => pieces.push(String::new()),
            c => pieces.last_mut().expect("one piece").push(c),
        }
    }
    let text = text.to_lowercase();
    let pieces: Vec<String> = pieces.iter().map(|p| p.to_lowercase()).collect();
    let (first, rest) = pieces.split_first().expect("one piece");
    let Some(mut rest_of_text) = text.strip_prefix(first.as_str()) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return rest_of_text.is_empty();
    };
    for piece in middle {
        match rest_of_text.find(piece.as_str()) {
            Some(at) => rest_of_text = &rest_of_text[at + piece.len()..],
            None => return false,
        }
    }
    rest_of_text.ends_with(last.as_str())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const FIELDS: &[&str] = &["id", "name", "updated", "custom", "status"];

    fn holds(filter: &str, object: &Value) -> bool {
        parse(filter, FIELDS)
            .unwrap_or_else(|e| panic!("{filter}: {e}"))
            .matches(object)
    }

    #[test]
    fn evaluates_comparisons_and_connectives() {
        let o = json!({"id": "u1", "name": "Alice Smith", "updated": "2026-01-02T03:04:05.678Z",
            "custom": {"rank": 3, "admin": true, "team": "red"}});
        assert!(holds(r#"name == "Alice Smith""#, &o));
        assert!(holds("name == 'Alice Smith'", &o));
        assert!(!holds(r#"name != "Alice Smith""#, &o));
        assert!(holds(r#"name LIKE "alice*""#, &o));
        assert!(holds(r#"name like "*SMITH""#, &o));
        assert!(holds(r#"name LIKE "*ce S*""#, &o));
        assert!(!holds(r#"name LIKE "bob*""#, &o));
        assert!(holds("custom.rank == 3 && custom.rank >= 2.5", &o));
        assert!(holds("custom.admin == true", &o));
        assert!(holds(r#"custom.team == "blue" || custom.rank < 4"#, &o));
        assert!(holds(r#"!(custom.team == "blue")"#, &o));
        assert!(holds(r#"updated >= "2026-01-01T00:00:00Z""#, &o));
        assert!(!holds(r#"updated < "2026-01-01""#, &o));
        assert!(holds("status == null && status != \"x\"", &o));
        assert!(!holds("custom.missing == 1", &o));
        assert!(holds(
            r#"(name LIKE "a*" || id == "x") && !custom.admin == false"#,
            &o
        ));
    }

    #[test]
    fn binds_and_tighter_than_or() {
        let o = json!({"id": "a", "name": "n"});
        assert!(holds(r#"id == "a" || id == "b" && name == "x""#, &o));
        assert!(!holds(r#"(id == "a" || id == "b") && name == "x""#, &o));
    }

    #[test]
    fn like_handles_escaped_stars() {
        assert!(like("a*b", "a\\*b"));
        assert!(!like("axb", "a\\*b"));
        assert!(like("anything", "*"));
        assert!(like("", "*"));
        assert!(!like("ab", "abc*"));
        assert!(like("abcabc", "a*c*c"));
    }

    #[test]
    fn errors_name_the_position() {
        let error = |text: &str| parse(text, FIELDS).unwrap_err();
        assert_eq!(error("name == ").position, 8);
        assert_eq!(error(r#"name = "x""#).position, 5);
        assert_eq!(error(r#"nope == "x""#).position, 0);
        assert_eq!(error(r#"(name == "x""#).position, 12);
        assert_eq!(error(r#"name == "x" &&"#).position, 14);
        assert_eq!(error(r#"name == "x"#).position, 8);
        assert_eq!(error(r#"name LIKE 3"#).position, 10);
        assert_eq!(error("custom == 1").position, 0);
        assert_eq!(error(r#"name == "x" )"#).position, 12);
        assert!(error(&"(".repeat(100)).message.contains("nested"));
        assert!(error(&"a".repeat(MAX_LEN + 1)).message.contains("longer"));
    }

    #[test]
    fn nested_paths_name_joined_objects() {
        let fields = &["status", "custom", "channel.name", "channel.custom"];
        let o = json!({"status": "s", "channel": {"name": "Room", "custom": {"topic": "cats"}}});
        let holds = |text: &str| parse(text, fields).unwrap().matches(&o);
        assert!(holds(r#"channel.name == "Room" && status == "s""#));
        assert!(holds(r#"channel.custom.topic LIKE "c*""#));
        let error = |text: &str| parse(text, fields).unwrap_err().message;
        assert!(error(r#"channel.id == "x""#).contains("unknown field `channel.id`"));
        assert!(error(r#"channel == "x""#).contains("unknown field `channel`"));
        assert!(error(r#"channel.custom == 1"#).contains("`channel.custom.KEY`"));
        assert!(error(r#"channel.name.x == 1"#).contains("`channel.name` has no fields"));
    }
}
