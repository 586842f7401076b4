//! Tokenizer: filter text → tokens, each with the byte offset it starts at.

use super::FilterError;
use super::num::{Num, skip_digits};

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    Amp,
    Pipe,
    Caret,
    Tilde,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    /// A name: a field name, or a keyword (`contains`, `like`, `true`,
    /// `false`, `null`), which the parser recognises case-insensitively.
    Word(String),
    /// A string literal, escapes resolved.
    Str(String),
    /// A number literal (never negative: `-` is an operator).
    Num(Num),
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) at: usize,
}

/// Splits `text` into tokens.
pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let mut lexer = Lexer { text, pos: 0 };
    let mut tokens = Vec::new();
    while let Some(token) = lexer.next_token()? {
        tokens.push(token);
    }
    Ok(tokens)
}

/// How a token is named in error messages.
pub(super) fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) if w.eq_ignore_ascii_case("and") => format!("`{w}` (write `&&`)"),
        Tok::Word(w) if w.eq_ignore_ascii_case("or") => format!("`{w}` (write `||`)"),
        Tok::Word(w) => format!("`{w}`"),
        Tok::Str(_) => "a string".to_owned(),
        Tok::Num(n) => format!("`{n}`"),
        symbol => format!("`{}`", symbol_text(symbol)),
    }
}

fn symbol_text(tok: &Tok) -> &'static str {
    match tok {
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::LBracket => "[",
        Tok::RBracket => "]",
        Tok::Comma => ",",
        Tok::Dot => ".",
        Tok::EqEq => "==",
        Tok::NotEq => "!=",
        Tok::Lt => "<",
        Tok::Le => "<=",
        Tok::Gt => ">",
        Tok::Ge => ">=",
        Tok::AndAnd => "&&",
        Tok::OrOr => "||",
        Tok::Bang => "!",
        Tok::Amp => "&",
        Tok::Pipe => "|",
        Tok::Caret => "^",
        Tok::Tilde => "~",
        Tok::Plus => "+",
        Tok::Minus => "-",
        Tok::Star => "*",
        Tok::Slash => "/",
        Tok::Percent => "%",
        Tok::Word(_) | Tok::Str(_) | Tok::Num(_) => "?",
    }
}

struct Lexer<'s> {
    text: &'s str,
    /// Always on a character boundary.
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    /// Whether the character after the current (ASCII) one is `c`.
    fn followed_by(&self, c: char) -> bool {
        self.text[self.pos + 1..].starts_with(c)
    }

    fn next_token(&mut self) -> Result<Option<Token>, FilterError> {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
        let at = self.pos;
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let tok = match c {
            '\'' | '"' => self.string(c)?,
            '0'..='9' => self.number()?,
            c if is_word_start(c) => self.word(),
            _ => self.symbol(c)?,
        };
        Ok(Some(Token { tok, at }))
    }

    /// An operator or punctuation token, one or two characters long.
    fn symbol(&mut self, c: char) -> Result<Tok, FilterError> {
        let pair = |lexer: &Self, second: char, double: Tok, single: Tok| {
            if lexer.followed_by(second) {
                (double, 2)
            } else {
                (single, 1)
            }
        };
        let (tok, len) = match c {
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            '[' => (Tok::LBracket, 1),
            ']' => (Tok::RBracket, 1),
            ',' => (Tok::Comma, 1),
            '.' => (Tok::Dot, 1),
            '^' => (Tok::Caret, 1),
            '~' => (Tok::Tilde, 1),
            '+' => (Tok::Plus, 1),
            '-' => (Tok::Minus, 1),
            '*' => (Tok::Star, 1),
            '/' => (Tok::Slash, 1),
            '%' => (Tok::Percent, 1),
            '!' => pair(self, '=', Tok::NotEq, Tok::Bang),
            '<' => pair(self, '=', Tok::Le, Tok::Lt),
            '>' => pair(self, '=', Tok::Ge, Tok::Gt),
            '&' => pair(self, '&', Tok::AndAnd, Tok::Amp),
            '|' => pair(self, '|', Tok::OrOr, Tok::Pipe),
            '=' if self.followed_by('=') => (Tok::EqEq, 2),
            '=' => {
                return Err(FilterError::new(
                    "`=` is not an operator: compare with `==`",
                    self.pos,
                ));
            }
            other => {
                return Err(FilterError::new(
                    format!("unexpected character {other:?}"),
                    self.pos,
                ));
            }
        };
        self.pos += len;
        Ok(tok)
    }

    /// A string in `quote`s. `\'`, `\"` and `\\` stand for the character
    /// after the backslash; any other backslash is kept as it is, so that a
    /// `like` pattern receives its `\*` escapes intact.
    fn string(&mut self, quote: char) -> Result<Tok, FilterError> {
        let start = self.pos;
        let body = &self.text[start + 1..];
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                self.pos = start + 1 + i + 1;
                return Ok(Tok::Str(out));
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some((_, e @ ('\'' | '"' | '\\'))) => out.push(e),
                Some((_, e)) => {
                    out.push('\\');
                    out.push(e);
                }
                None => break,
            }
        }
        Err(FilterError::new("unterminated string", start))
    }

    /// An unsigned number: `digits(.digits)?([eE][+-]?digits)?`.
    fn number(&mut self) -> Result<Tok, FilterError> {
        let start = self.pos;
        let b = self.text.as_bytes();
        let mut i = start;
        skip_digits(b, &mut i);
        if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
            skip_digits(b, &mut i);
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(b.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if skip_digits(b, &mut j) {
                i = j;
            }
        }
        self.pos = i;
        if let Some(c) = self.peek().filter(|&c| is_word_char(c)) {
            return Err(FilterError::new(
                format!("unexpected character {c:?} after a number"),
                i,
            ));
        }
        Num::parse(&self.text[start..i])
            .map(Tok::Num)
            .ok_or_else(|| FilterError::new("number out of range", start))
    }

    fn word(&mut self) -> Tok {
        let rest = &self.text[self.pos..];
        let len = rest.find(|c| !is_word_char(c)).unwrap_or(rest.len());
        self.pos += len;
        Tok::Word(rest[..len].to_owned())
    }
}

fn is_word_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}
