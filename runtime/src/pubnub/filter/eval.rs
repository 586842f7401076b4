//! Evaluator: runs a parsed [`Expr`] against one message.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::glob::{Glob, fold};
use super::num::Num;
use super::parser::{CmpOp, Expr, Lit, Path, Pattern, Source, Step};

/// Arrays and objects nested deeper than this never compare equal (a bound
/// on the recursion of [`loose_eq`]).
const MAX_JSON_DEPTH: usize = 64;

/// The parts of a message a filter can read.
pub(super) struct Message<'a> {
    /// The payload.
    pub(super) data: &'a Value,
    /// The publish `meta`, if any.
    pub(super) meta: Option<&'a Value>,
}

/// A value during evaluation.
#[derive(Debug, Clone, Copy)]
enum Val<'a> {
    /// An absent field, or an undefined arithmetic result.
    Missing,
    Null,
    Bool(bool),
    Num(Num),
    Str(&'a str),
    Array(&'a [Value]),
    Object(&'a Map<String, Value>),
    /// A list literal.
    List(&'a [Lit]),
}

impl<'a> Val<'a> {
    fn json(value: &'a Value) -> Val<'a> {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Num::from_json(n).map_or(Val::Missing, Val::Num),
            Value::String(s) => Val::Str(s),
            Value::Array(items) => Val::Array(items),
            Value::Object(members) => Val::Object(members),
        }
    }

    fn lit(lit: &'a Lit) -> Val<'a> {
        match lit {
            Lit::Null => Val::Null,
            Lit::Bool(b) => Val::Bool(*b),
            Lit::Num(n) => Val::Num(*n),
            Lit::Str(s) => Val::Str(s),
        }
    }

    /// JavaScript-like truthiness, for values used as conditions.
    fn truthy(self) -> bool {
        match self {
            Val::Missing | Val::Null => false,
            Val::Bool(b) => b,
            Val::Num(n) => n.compare(Num::Int(0)) != Some(Ordering::Equal),
            Val::Str(s) => !s.is_empty(),
            Val::Array(_) | Val::Object(_) | Val::List(_) => true,
        }
    }

    fn is_nullish(self) -> bool {
        matches!(self, Val::Missing | Val::Null)
    }

    /// The numeric reading: a number, or a string holding a decimal number.
    fn number(self) -> Option<Num> {
        match self {
            Val::Num(n) => Some(n),
            Val::Str(s) => Num::parse(s),
            _ => None,
        }
    }

    /// The text reading: a string, or a number's decimal text.
    fn text(self) -> Option<Cow<'a, str>> {
        match self {
            Val::Str(s) => Some(Cow::Borrowed(s)),
            Val::Num(n) => Some(Cow::Owned(n.to_string())),
            _ => None,
        }
    }
}

/// Whether the message passes the filter.
pub(super) fn matches(expr: &Expr, message: &Message<'_>) -> bool {
    eval(expr, message).truthy()
}

fn eval<'a>(expr: &'a Expr, message: &Message<'a>) -> Val<'a> {
    match expr {
        Expr::Lit(lit) => Val::lit(lit),
        Expr::Field(path) => lookup(path, message).map_or(Val::Missing, Val::json),
        Expr::List(items) => Val::List(items),
        Expr::Or(items) => Val::Bool(items.iter().any(|e| eval(e, message).truthy())),
        Expr::And(items) => Val::Bool(items.iter().all(|e| eval(e, message).truthy())),
        Expr::Not(inner) => Val::Bool(!eval(inner, message).truthy()),
        Expr::Compare { op, left, right } => {
            Val::Bool(compare(*op, eval(left, message), eval(right, message)))
        }
        Expr::Contains { left, right } => {
            Val::Bool(contains(eval(left, message), eval(right, message)))
        }
        Expr::Like { left, pattern } => Val::Bool(like(eval(left, message), pattern, message)),
        Expr::Arith { first, rest } => {
            let mut acc = eval(first, message).number();
            for (op, operand) in rest {
                let Some(lhs) = acc else { break };
                acc = eval(operand, message)
                    .number()
                    .and_then(|rhs| lhs.apply(*op, rhs));
            }
            acc.map_or(Val::Missing, Val::Num)
        }
        Expr::Neg(inner) => eval(inner, message)
            .number()
            .map_or(Val::Missing, |n| Val::Num(n.neg())),
        Expr::BitNot(inner) => eval(inner, message)
            .number()
            .and_then(Num::bit_not)
            .map_or(Val::Missing, Val::Num),
    }
}

/// The JSON value a field path names, if the message has it.
fn lookup<'a>(path: &Path, message: &Message<'a>) -> Option<&'a Value> {
    let mut current = match path.source {
        Source::Data => message.data,
        Source::Meta => message.meta?,
    };
    for step in &path.steps {
        current = match (step, current) {
            (Step::Key(key), Value::Object(members)) => members.get(key.as_str())?,
            (Step::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(current)
}

fn compare(op: CmpOp, left: Val<'_>, right: Val<'_>) -> bool {
    let order = |want: fn(Ordering) -> bool| match (left.number(), right.number()) {
        (Some(a), Some(b)) => a.compare(b).is_some_and(want),
        _ => false,
    };
    match op {
        CmpOp::Eq => loose_eq(left, right, 0),
        CmpOp::Ne => !loose_eq(left, right, 0),
        CmpOp::Lt => order(Ordering::is_lt),
        CmpOp::Le => order(Ordering::is_le),
        CmpOp::Gt => order(Ordering::is_gt),
        CmpOp::Ge => order(Ordering::is_ge),
    }
}

/// `==`: missing and null equal each other only; numbers compare by value;
/// a number and a string are equal when the string reads as that number;
/// arrays and objects compare member by member.
fn loose_eq(left: Val<'_>, right: Val<'_>, depth: usize) -> bool {
    if depth > MAX_JSON_DEPTH {
        return false;
    }
    match (left, right) {
        (a, b) if a.is_nullish() || b.is_nullish() => a.is_nullish() && b.is_nullish(),
        (Val::Bool(a), Val::Bool(b)) => a == b,
        (Val::Str(a), Val::Str(b)) => a == b,
        (Val::Num(a), Val::Num(b)) => a.compare(b) == Some(Ordering::Equal),
        (Val::Num(n), Val::Str(s)) | (Val::Str(s), Val::Num(n)) => {
            Num::parse(s).is_some_and(|m| m.compare(n) == Some(Ordering::Equal))
        }
        (Val::Array(a), Val::Array(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| loose_eq(Val::json(x), Val::json(y), depth + 1))
        }
        (Val::Object(a), Val::Object(b)) => {
            a.len() == b.len()
                && a.iter().all(|(key, x)| {
                    b.get(key)
                        .is_some_and(|y| loose_eq(Val::json(x), Val::json(y), depth + 1))
                })
        }
        _ => false,
    }
}

/// `haystack contains needle`; a list of needles means "any of them".
fn contains(haystack: Val<'_>, needle: Val<'_>) -> bool {
    match needle {
        Val::List(needles) => needles.iter().any(|n| contains_one(haystack, Val::lit(n))),
        needle => contains_one(haystack, needle),
    }
}

fn contains_one(haystack: Val<'_>, needle: Val<'_>) -> bool {
    if matches!(needle, Val::Missing) {
        return false;
    }
    match haystack {
        Val::Array(items) => items.iter().any(|x| loose_eq(Val::json(x), needle, 1)),
        Val::List(items) => items.iter().any(|x| loose_eq(Val::lit(x), needle, 1)),
        _ => match (haystack.text(), needle.text()) {
            (Some(text), Some(part)) => text.contains(part.as_ref()),
            _ => false,
        },
    }
}

/// `subject like pattern`; an array or list subject matches when any of its
/// elements does.
fn like(subject: Val<'_>, pattern: &Pattern, message: &Message<'_>) -> bool {
    let dynamic: [Glob; 1];
    let globs: &[Glob] = match pattern {
        Pattern::Fixed(globs) => globs,
        Pattern::Dynamic(expr) => match eval(expr, message).text() {
            Some(text) => {
                dynamic = [Glob::compile(&text)];
                &dynamic
            }
            None => return false,
        },
    };
    match subject {
        Val::Array(items) => items.iter().any(|x| like_one(Val::json(x), globs)),
        Val::List(items) => items.iter().any(|x| like_one(Val::lit(x), globs)),
        subject => like_one(subject, globs),
    }
}

fn like_one(subject: Val<'_>, globs: &[Glob]) -> bool {
    let Some(text) = subject.text() else {
        return false;
    };
    let folded = fold(&text);
    globs.iter().any(|glob| glob.matches_folded(&folded))
}
