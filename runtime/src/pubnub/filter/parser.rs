//! Recursive-descent parser: tokens → [`Expr`], one function per precedence
//! level (see the grammar in the module documentation).
//!
//! Recursion happens only at `(` and at the prefix operators `!`, `-` and `~`,
//! and each of those counts one level against [`MAX_DEPTH`]; chains of binary
//! operators are parsed by loops into flat nodes. So both the parser and the
//! tree it builds are at most a small constant times `MAX_DEPTH` deep, and
//! neither parsing, evaluating nor dropping a filter can overflow the stack.

use super::glob::Glob;
use super::lexer::{Tok, Token, describe, tokenize};
use super::num::{ArithOp, Num};
use super::{FilterError, MAX_DEPTH, MAX_LIST_LEN};

/// A parsed expression.
#[derive(Debug, Clone)]
pub(super) enum Expr {
    Lit(Lit),
    Field(Path),
    /// A list literal; only ever an operand of `contains` (either side) or
    /// the left operand of `like` (a list on the right is compiled into the
    /// [`Pattern`]).
    List(Vec<Lit>),
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        op: CmpOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Contains {
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Like {
        left: Box<Expr>,
        pattern: Pattern,
    },
    /// `first op1 e1 op2 e2 ...`, evaluated left to right; all operators
    /// are of one precedence level.
    Arith {
        first: Box<Expr>,
        rest: Vec<(ArithOp, Expr)>,
    },
    Neg(Box<Expr>),
    BitNot(Box<Expr>),
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Lit {
    Null,
    Bool(bool),
    Num(Num),
    Str(String),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// The right side of `like`.
#[derive(Debug, Clone)]
pub(super) enum Pattern {
    /// Patterns known when parsing (a string, a number or a list of them),
    /// compiled once; the subject matches if it matches any of them.
    Fixed(Vec<Glob>),
    /// A pattern read from the message, compiled when evaluating.
    Dynamic(Box<Expr>),
}

/// A field reference: `data.a.b[0]`, `meta["x y"]`, or bare `region` (a
/// `meta` field).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Path {
    pub(super) source: Source,
    /// Never empty.
    pub(super) steps: Vec<Step>,
}

/// Where a field is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// The message payload.
    Data,
    /// The publish `meta` object.
    Meta,
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    /// An object member: `.name` or `["name"]`.
    Key(String),
    /// An array element: `[3]`.
    Index(usize),
}

/// What sits between the two operands of a relation.
enum Relation {
    Cmp(CmpOp),
    Contains,
    Like,
}

/// Parses a whole filter expression.
pub(super) fn parse(text: &str) -> Result<Expr, FilterError> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err(FilterError::new("the filter expression is empty", 0));
    }
    let mut parser = Parser {
        tokens: &tokens,
        pos: 0,
        end: text.len(),
        depth: 0,
    };
    let expr = parser.parse_or()?;
    if let Some(extra) = parser.peek() {
        let found = describe(&extra.tok);
        return Err(FilterError::new(
            format!("expected `&&`, `||` or the end of the expression, found {found}"),
            extra.at,
        ));
    }
    Ok(expr)
}

struct Parser<'t> {
    tokens: &'t [Token],
    /// Index of the next token.
    pos: usize,
    /// Length of the text, the offset reported for "end of expression".
    end: usize,
    /// Open parentheses and prefix operators around the current position.
    depth: usize,
}

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.pos)
    }

    fn peek_tok(&self) -> Option<&'t Tok> {
        self.peek().map(|t| &t.tok)
    }

    /// Offset of the next token, or the end of the text.
    fn offset(&self) -> usize {
        self.peek().map_or(self.end, |t| t.at)
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        let found = self.peek_tok() == Some(tok);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Goes one level deeper (at a `(` or prefix operator found at `at`).
    fn enter(&mut self, at: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::new(
                format!("the expression is nested more than {MAX_DEPTH} levels deep"),
                at,
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn expected_value(&self) -> FilterError {
        let message = match self.pos.checked_sub(1).and_then(|i| self.tokens.get(i)) {
            Some(prev) => format!("expected a value after {}", describe(&prev.tok)),
            None => "expected a value".to_owned(),
        };
        FilterError::new(message, self.offset())
    }

    /// `or = and { "||" and }`
    fn parse_or(&mut self) -> Result<Expr, FilterError> {
        let first = self.parse_and()?;
        if self.peek_tok() != Some(&Tok::OrOr) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat(&Tok::OrOr) {
            items.push(self.parse_and()?);
        }
        Ok(Expr::Or(items))
    }

    /// `and = not { "&&" not }`
    fn parse_and(&mut self) -> Result<Expr, FilterError> {
        let first = self.parse_not()?;
        if self.peek_tok() != Some(&Tok::AndAnd) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat(&Tok::AndAnd) {
            items.push(self.parse_not()?);
        }
        Ok(Expr::And(items))
    }

    /// `not = "!" not | relation`
    fn parse_not(&mut self) -> Result<Expr, FilterError> {
        let at = self.offset();
        if !self.eat(&Tok::Bang) {
            return self.parse_relation();
        }
        self.enter(at)?;
        let inner = self.parse_not()?;
        self.leave();
        Ok(Expr::Not(Box::new(inner)))
    }

    /// `relation = operand [ relop operand ]`, where `operand` is the
    /// arithmetic chain; relations do not chain.
    fn parse_relation(&mut self) -> Result<Expr, FilterError> {
        let left_at = self.offset();
        let left = self.parse_arith(0)?;
        let Some(relation) = self.peek_relation() else {
            reject_list(&left, left_at)?;
            return Ok(left);
        };
        self.pos += 1;
        let right_at = self.offset();
        let right = self.parse_arith(0)?;
        if self.peek_relation().is_some() {
            return Err(FilterError::new(
                "comparisons cannot be chained: join them with `&&` or `||`",
                self.offset(),
            ));
        }
        match relation {
            Relation::Cmp(op) => {
                reject_list(&left, left_at)?;
                reject_list(&right, right_at)?;
                Ok(Expr::Compare {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                })
            }
            Relation::Contains => Ok(Expr::Contains {
                left: Box::new(left),
                right: Box::new(right),
            }),
            Relation::Like => {
                let pattern = like_pattern(right, right_at)?;
                Ok(Expr::Like {
                    left: Box::new(left),
                    pattern,
                })
            }
        }
    }

    fn peek_relation(&self) -> Option<Relation> {
        let relation = match self.peek_tok()? {
            Tok::EqEq => Relation::Cmp(CmpOp::Eq),
            Tok::NotEq => Relation::Cmp(CmpOp::Ne),
            Tok::Lt => Relation::Cmp(CmpOp::Lt),
            Tok::Le => Relation::Cmp(CmpOp::Le),
            Tok::Gt => Relation::Cmp(CmpOp::Gt),
            Tok::Ge => Relation::Cmp(CmpOp::Ge),
            Tok::Word(w) if w.eq_ignore_ascii_case("contains") => Relation::Contains,
            Tok::Word(w) if w.eq_ignore_ascii_case("like") => Relation::Like,
            _ => return None,
        };
        Some(relation)
    }

    /// The binary arithmetic levels, loosest first:
    /// `|`, then `^`, then `&`, then `+ -`, then `* / %`.
    fn parse_arith(&mut self, level: usize) -> Result<Expr, FilterError> {
        if level == ARITH_LEVELS {
            return self.parse_prefix();
        }
        let first_at = self.offset();
        let first = self.parse_arith(level + 1)?;
        let mut rest = Vec::new();
        while let Some(op) = self.peek_tok().and_then(|tok| arith_op(level, tok)) {
            if rest.is_empty() {
                reject_list(&first, first_at)?;
            }
            self.pos += 1;
            let at = self.offset();
            let operand = self.parse_arith(level + 1)?;
            reject_list(&operand, at)?;
            rest.push((op, operand));
        }
        if rest.is_empty() {
            return Ok(first);
        }
        Ok(Expr::Arith {
            first: Box::new(first),
            rest,
        })
    }

    /// `prefix = ("-" | "~") prefix | primary`; `-` on a number literal is
    /// folded into the literal.
    fn parse_prefix(&mut self) -> Result<Expr, FilterError> {
        let at = self.offset();
        let negate = match self.peek_tok() {
            Some(Tok::Minus) => true,
            Some(Tok::Tilde) => false,
            _ => return self.parse_primary(),
        };
        self.pos += 1;
        self.enter(at)?;
        let operand_at = self.offset();
        let operand = self.parse_prefix()?;
        self.leave();
        reject_list(&operand, operand_at)?;
        Ok(match (negate, operand) {
            (true, Expr::Lit(Lit::Num(n))) => Expr::Lit(Lit::Num(n.neg())),
            (true, operand) => Expr::Neg(Box::new(operand)),
            (false, operand) => Expr::BitNot(Box::new(operand)),
        })
    }

    /// `primary = literal | field | "(" or ")" | list`
    fn parse_primary(&mut self) -> Result<Expr, FilterError> {
        let Some(token) = self.peek() else {
            return Err(self.expected_value());
        };
        let literal = match &token.tok {
            Tok::Str(s) => Lit::Str(s.clone()),
            Tok::Num(n) => Lit::Num(*n),
            Tok::LParen => return self.parse_group(),
            Tok::Word(word) => match word.to_ascii_lowercase().as_str() {
                "true" => Lit::Bool(true),
                "false" => Lit::Bool(false),
                "null" => Lit::Null,
                "contains" | "like" => return Err(self.expected_value()),
                _ => return self.parse_field(word, token.at),
            },
            _ => return Err(self.expected_value()),
        };
        self.pos += 1;
        Ok(Expr::Lit(literal))
    }

    /// `field = ("data" | "meta") step { step } | name { step }`, with the
    /// first word (found at `at`) not yet consumed.
    fn parse_field(&mut self, first: &str, at: usize) -> Result<Expr, FilterError> {
        self.pos += 1;
        let (source, mut steps) = match first {
            "data" => (Source::Data, Vec::new()),
            "meta" => (Source::Meta, Vec::new()),
            name => (Source::Meta, vec![Step::Key(name.to_owned())]),
        };
        loop {
            if self.eat(&Tok::Dot) {
                let Some(Tok::Word(name)) = self.peek_tok() else {
                    return Err(FilterError::new(
                        "expected a field name after `.`",
                        self.offset(),
                    ));
                };
                steps.push(Step::Key(name.clone()));
                self.pos += 1;
            } else if self.eat(&Tok::LBracket) {
                steps.push(self.parse_index()?);
            } else {
                break;
            }
        }
        if steps.is_empty() {
            return Err(FilterError::new(
                format!("`{first}` must be followed by a field name, as in `{first}.name`"),
                at,
            ));
        }
        Ok(Expr::Field(Path { source, steps }))
    }

    /// After `[`: `"name"` or `'name'` or an index, then `]`.
    fn parse_index(&mut self) -> Result<Step, FilterError> {
        let at = self.offset();
        let step = match self.peek_tok() {
            Some(Tok::Str(name)) => Step::Key(name.clone()),
            Some(Tok::Num(Num::Int(i))) => usize::try_from(*i)
                .map(Step::Index)
                .map_err(|_| FilterError::new("array index out of range", at))?,
            _ => {
                return Err(FilterError::new(
                    "expected a quoted field name or an array index after `[`",
                    at,
                ));
            }
        };
        self.pos += 1;
        if !self.eat(&Tok::RBracket) {
            return Err(FilterError::new("expected `]`", self.offset()));
        }
        Ok(step)
    }

    /// `"(" or ")"` or `"(" literal "," literal { "," literal } ")"`.
    fn parse_group(&mut self) -> Result<Expr, FilterError> {
        let open = self.offset();
        self.pos += 1;
        self.enter(open)?;
        let first_at = self.offset();
        let first = self.parse_or()?;
        let expr = if self.peek_tok() == Some(&Tok::Comma) {
            self.parse_list_rest(first, first_at)?
        } else {
            first
        };
        if !self.eat(&Tok::RParen) {
            let found = self
                .peek()
                .map_or("the end of the expression".to_owned(), |t| describe(&t.tok));
            return Err(FilterError::new(
                format!("expected `)` to close the `(` at {open}, found {found}"),
                self.offset(),
            ));
        }
        self.leave();
        Ok(expr)
    }

    /// The rest of a list literal, after its first element.
    fn parse_list_rest(&mut self, first: Expr, first_at: usize) -> Result<Expr, FilterError> {
        let mut items = vec![list_item(first, first_at)?];
        while self.eat(&Tok::Comma) {
            let at = self.offset();
            if items.len() == MAX_LIST_LEN {
                return Err(FilterError::new(
                    format!("a list may hold at most {MAX_LIST_LEN} values"),
                    at,
                ));
            }
            let item = self.parse_or()?;
            items.push(list_item(item, at)?);
        }
        Ok(Expr::List(items))
    }
}

/// Number of binary arithmetic precedence levels.
const ARITH_LEVELS: usize = 5;

/// The operator `tok` stands for at arithmetic precedence `level`, if any.
fn arith_op(level: usize, tok: &Tok) -> Option<ArithOp> {
    let op = match (level, tok) {
        (0, Tok::Pipe) => ArithOp::BitOr,
        (1, Tok::Caret) => ArithOp::BitXor,
        (2, Tok::Amp) => ArithOp::BitAnd,
        (3, Tok::Plus) => ArithOp::Add,
        (3, Tok::Minus) => ArithOp::Sub,
        (4, Tok::Star) => ArithOp::Mul,
        (4, Tok::Slash) => ArithOp::Div,
        (4, Tok::Percent) => ArithOp::Rem,
        _ => return None,
    };
    Some(op)
}

/// Lists may only be operands of `contains` and `like`.
fn reject_list(expr: &Expr, at: usize) -> Result<(), FilterError> {
    if matches!(expr, Expr::List(_)) {
        return Err(FilterError::new(
            "a list can only be an operand of `contains` or `like`",
            at,
        ));
    }
    Ok(())
}

fn list_item(expr: Expr, at: usize) -> Result<Lit, FilterError> {
    match expr {
        Expr::Lit(lit) => Ok(lit),
        _ => Err(FilterError::new(
            "a list may only hold literals (strings, numbers, `true`, `false`, `null`)",
            at,
        )),
    }
}

/// The right side of `like` (found at `at`): literal patterns are compiled now.
fn like_pattern(right: Expr, at: usize) -> Result<Pattern, FilterError> {
    let glob = |lit: &Lit| match lit {
        Lit::Str(s) => Ok(Glob::compile(s)),
        Lit::Num(n) => Ok(Glob::compile(&n.to_string())),
        Lit::Bool(_) | Lit::Null => Err(FilterError::new("`like` needs a string pattern", at)),
    };
    match right {
        Expr::Lit(lit) => Ok(Pattern::Fixed(vec![glob(&lit)?])),
        Expr::List(items) => items
            .iter()
            .map(glob)
            .collect::<Result<_, _>>()
            .map(Pattern::Fixed),
        dynamic => Ok(Pattern::Dynamic(Box::new(dynamic))),
    }
}
