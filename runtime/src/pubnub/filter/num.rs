//! Numbers as filters see them: exact integers where possible, finite floats
//! otherwise, and the arithmetic and bitwise operators on them.

use std::cmp::Ordering;
use std::fmt;

/// A number: an exact integer (wide enough for every JSON `i64` and `u64`)
/// or a finite float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Num {
    Int(i128),
    Float(f64),
}

/// A binary arithmetic or bitwise operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    BitAnd,
    BitOr,
    BitXor,
}

/// Floats with a magnitude below this convert exactly to `i128` when integral.
const INT_RANGE: f64 = 1e38;

impl Num {
    /// The number a JSON number holds.
    pub(super) fn from_json(n: &serde_json::Number) -> Option<Num> {
        if let Some(i) = n.as_i64() {
            Some(Num::Int(i.into()))
        } else if let Some(u) = n.as_u64() {
            Some(Num::Int(u.into()))
        } else {
            n.as_f64().and_then(finite)
        }
    }

    /// Parses decimal text: `-?digits(.digits)?([eE][+-]?digits)?`, nothing
    /// else (no spaces, no `+`, no `inf`). `None` when the text is not such a
    /// number or its value is out of range.
    pub(super) fn parse(text: &str) -> Option<Num> {
        if !is_decimal(text) {
            return None;
        }
        if !text.contains(['.', 'e', 'E'])
            && let Ok(i) = text.parse::<i128>()
        {
            return Some(Num::Int(i));
        }
        text.parse::<f64>().ok().and_then(finite)
    }

    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// The exact integer value, if the number is integral.
    fn as_int(self) -> Option<i128> {
        match self {
            Num::Int(i) => Some(i),
            Num::Float(f) => (f.fract() == 0.0 && f.abs() < INT_RANGE).then_some(f as i128),
        }
    }

    /// Numeric order; `3` and `3.0` are equal.
    pub(super) fn compare(self, other: Num) -> Option<Ordering> {
        match (self.as_int(), other.as_int()) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => self.as_f64().partial_cmp(&other.as_f64()),
        }
    }

    /// `-self`.
    pub(super) fn neg(self) -> Num {
        match self {
            Num::Int(i) => i.checked_neg().map_or(Num::Float(-(i as f64)), Num::Int),
            Num::Float(f) => Num::Float(-f),
        }
    }

    /// `~self`, for integral numbers only.
    pub(super) fn bit_not(self) -> Option<Num> {
        self.as_int().map(|i| Num::Int(!i))
    }

    /// `self op rhs`; `None` when the result is undefined (division by zero,
    /// a bitwise operator on a fraction, an infinite result).
    pub(super) fn apply(self, op: ArithOp, rhs: Num) -> Option<Num> {
        match op {
            ArithOp::Add => int_or_float(self, rhs, i128::checked_add, |a, b| a + b),
            ArithOp::Sub => int_or_float(self, rhs, i128::checked_sub, |a, b| a - b),
            ArithOp::Mul => int_or_float(self, rhs, i128::checked_mul, |a, b| a * b),
            ArithOp::Div => self.divide(rhs),
            ArithOp::Rem => self.remainder(rhs),
            ArithOp::BitAnd => bitwise(self, rhs, |a, b| a & b),
            ArithOp::BitOr => bitwise(self, rhs, |a, b| a | b),
            ArithOp::BitXor => bitwise(self, rhs, |a, b| a ^ b),
        }
    }

    fn divide(self, rhs: Num) -> Option<Num> {
        if rhs.as_f64() == 0.0 {
            return None;
        }
        if let (Num::Int(a), Num::Int(b)) = (self, rhs)
            && a.checked_rem(b) == Some(0)
            && let Some(q) = a.checked_div(b)
        {
            return Some(Num::Int(q));
        }
        finite(self.as_f64() / rhs.as_f64())
    }

    fn remainder(self, rhs: Num) -> Option<Num> {
        if rhs.as_f64() == 0.0 {
            return None;
        }
        if let (Num::Int(a), Num::Int(b)) = (self, rhs) {
            return Some(Num::Int(a.checked_rem(b).unwrap_or(0)));
        }
        finite(self.as_f64() % rhs.as_f64())
    }
}

impl fmt::Display for Num {
    /// Integers without a fraction (`3`), floats in Rust's shortest
    /// round-trip form (`2.5`, and `3` for `3.0`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => write!(f, "{x}"),
        }
    }
}

fn finite(f: f64) -> Option<Num> {
    f.is_finite().then_some(Num::Float(f))
}

fn int_or_float(
    a: Num,
    b: Num,
    int_op: fn(i128, i128) -> Option<i128>,
    float_op: fn(f64, f64) -> f64,
) -> Option<Num> {
    if let (Num::Int(x), Num::Int(y)) = (a, b)
        && let Some(r) = int_op(x, y)
    {
        return Some(Num::Int(r));
    }
    finite(float_op(a.as_f64(), b.as_f64()))
}

fn bitwise(a: Num, b: Num, op: fn(i128, i128) -> i128) -> Option<Num> {
    Some(Num::Int(op(a.as_int()?, b.as_int()?)))
}

/// Advances `i` over ASCII digits; whether there was at least one.
pub(super) fn skip_digits(bytes: &[u8], i: &mut usize) -> bool {
    let start = *i;
    while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
        *i += 1;
    }
    *i > start
}

/// Whether `text` is exactly `-?digits(.digits)?([eE][+-]?digits)?`.
fn is_decimal(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    if !skip_digits(b, &mut i) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !skip_digits(b, &mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !skip_digits(b, &mut i) {
            return false;
        }
    }
    i == b.len()
}
