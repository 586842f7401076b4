//! PubNub subscribe filter expressions: the `filter-expr` query parameter of
//! `/v2/subscribe`.
//!
//! A subscriber may send a filter; the server then delivers to it only the
//! messages the filter passes. [`Filter::parse`] turns the (already
//! percent-decoded) text into a [`Filter`] once, and [`Filter::matches`]
//! evaluates it against each message's payload and `meta`. Both are pure (no
//! I/O, no shared state) and never panic, whatever the input. An empty
//! `filter-expr` means "no filter": callers should not parse it (parsing an
//! empty or blank text is an error).
//!
//! # Grammar
//!
//! From loosest to tightest binding (`{x}` is zero or more `x`, `[x]` an
//! optional `x`):
//!
//! ```text
//! filter   = or
//! or       = and { "||" and }
//! and      = not { "&&" not }
//! not      = "!" not | relation
//! relation = bitor [ relop bitor ]          relations do not chain
//! relop    = "==" | "!=" | "<" | "<=" | ">" | ">=" | "contains" | "like"
//! bitor    = bitxor { "|" bitxor }
//! bitxor   = bitand { "^" bitand }
//! bitand   = sum { "&" sum }
//! sum      = product { ("+" | "-") product }
//! product  = prefix { ("*" | "/" | "%") prefix }
//! prefix   = ("-" | "~") prefix | primary
//! primary  = literal | field | "(" or ")" | list
//! list     = "(" literal "," literal { "," literal } ")"
//! literal  = string | number | "true" | "false" | "null"
//! field    = ("data" | "meta") step { step } | name { step }
//! step     = "." name | "[" string "]" | "[" integer "]"
//! ```
//!
//! - Binary operators are left-associative; `&&` binds tighter than `||`.
//!   The arithmetic and bitwise operators bind tighter than the relations
//!   (as in Python, unlike C), so `meta.flags & 4 == 4` means
//!   `(meta.flags & 4) == 4`. `!` binds looser than the relations, so
//!   `!meta.x == 1` means `!(meta.x == 1)`; `!` can't appear inside an
//!   operand unless parenthesized.
//! - Keywords (`contains`, `like`, `true`, `false`, `null`) are
//!   case-insensitive (`LIKE`, `Contains`). As field names they must follow a
//!   `.` or sit in brackets: `meta.like`, `meta["null"]`.
//! - Strings are in single or double quotes. `\'`, `\"` and `\\` stand for
//!   the character after the backslash; any other backslash is kept as it
//!   is, so `'match\*'` reaches `like` with its `\*` escape intact.
//! - Numbers are decimal, with an optional fraction and exponent (`3`,
//!   `2.5`, `1e3`); `-3` is the negation of `3`.
//! - Names are letters, digits, `_` and `$`, not starting with a digit.
//! - Whitespace between tokens is ignored.
//!
//! # Fields
//!
//! `data.<path>` reads the payload (useless when the payload is encrypted:
//! it is then a string, and every `data.` field is missing). `meta.<path>`
//! reads the publish `meta`. A path starting with any other name reads
//! `meta`, as in the older PubNub docs and SDK examples (`uuid != 'me'` reads
//! `meta.uuid`, `region == 'us-west'` reads `meta.region`). Paths go through
//! objects with `.name` or `["name"]` and into arrays with `[index]`:
//! `meta.user.role`, `data.user["role"]`, `data.items[0].id`. A bare `data`
//! or `meta` (no field) is an error, as is `data.*`.
//!
//! A field that is not there, whether the message has no `meta`, a member
//! is absent, an index is past the end, or a step goes through a value that
//! is not an object or array, is **missing**.
//!
//! # Semantics
//!
//! - **`==` and `!=`.** `!=` is always the negation of `==`. Numbers compare by
//!   value (`3 == 3.0`; integers exactly, up to the full `i64`/`u64` range);
//!   strings compare exactly (case-sensitive); booleans with booleans. A
//!   number and a string are equal when the string reads as that number
//!   (`"3"` and `"3.0"` equal `3`; "reads as a number" means exactly
//!   `-?digits[.digits][e[+-]digits]`, no spaces). Arrays and objects are
//!   equal when their elements/members are. A missing field equals `null`
//!   and other missing fields, and nothing else. Anything else is unequal.
//!   So a missing field makes `==` false and `!=` true: `uuid != 'me'`
//!   passes messages that have no `meta` at all, which is what a subscriber
//!   excluding its own messages wants (and what JavaScript's `!=` does).
//! - **`<`, `<=`, `>`, `>=`** are numeric only: both sides must be numbers or
//!   strings that read as numbers, otherwise the comparison is false (strings
//!   are not ordered; a missing field is false on either side).
//! - **`contains`.** When the left side is an array (from the message) or a
//!   list literal, it is true when an element `==` the right side
//!   (`meta.tags contains 'x'`, `(3,5,9) contains meta.n`). Otherwise it is a
//!   case-sensitive substring test on the text of both sides, where a
//!   number's text is its decimal form (`meta.s contains 5` looks for `"5"`,
//!   as PubNub documents). A list on the right means "contains any of
//!   these". Missing fields, booleans, null and objects contain nothing
//!   (and are found in no string).
//! - **`like`** matches the text of the left side (string, or number's
//!   decimal text) against a pattern where `*` matches any run of characters,
//!   `\*` is a literal star and `\` makes any next character literal,
//!   ignoring case (each character lowercased on its own). An array or list
//!   on the left matches when any element does (`('Anne','anna') LIKE
//!   'ann*'`); a list on the right when any pattern does. The pattern may be
//!   a field (`data.name like meta.pattern`). Matching is linear-time, with
//!   no backtracking (see `glob.rs`).
//! - **Arithmetic** `+ - * / %` and **bitwise** `| & ^ ~` work on numbers
//!   (and strings that read as numbers). `+ - *` are exact on integers
//!   (falling back to floats on overflow); `/` gives an integer when the
//!   division is exact and a float otherwise; `%` takes the sign of the
//!   dividend; the bitwise operators need integral operands (they act on the
//!   two's-complement integer, so `~5 == -6`). Anything undefined (a
//!   non-number operand, division or `%` by zero, a fraction under a bitwise
//!   operator, an infinite result) gives a missing value, which then fails
//!   every comparison except `!=` (and `== null`). `%` is an extension: not
//!   in PubNub's list, but handy for sampling (`meta.seq % 10 == 0`).
//! - **Conditions.** `&&`, `||` and `!` (and the filter as a whole) take any
//!   value as a condition with JavaScript-like truthiness: false for missing,
//!   `null`, `false`, `0` and `""`; true for everything else, including every
//!   array and object. So `meta.urgent` alone, or `!meta.muted`, are valid
//!   filters. `&&` and `||` short-circuit.
//! - **Lists** are literals only (no fields inside) and may only be operands
//!   of `contains` or `like`; elsewhere (`meta.x == (1,2)`) they are a parse
//!   error. `(x)` with one element is just a parenthesized `x`.
//!
//! # Limits
//!
//! Filters come from untrusted clients. [`Filter::parse`] rejects texts longer
//! than [`MAX_LEN`] bytes, nesting deeper than [`MAX_DEPTH`] (each `(`, `!`,
//! prefix `-` and `~` is one level; chains like `a && b && c` or `1 + 2 + 3`
//! are flat and don't count), and lists longer than [`MAX_LIST_LEN`].
//! Evaluation takes time linear in the size of the filter and of the message
//! fields it reads; deep equality between arrays/objects stops (unequal)
//! below 64 levels.

mod eval;
mod glob;
mod lexer;
mod num;
mod parser;
#[cfg(test)]
mod tests;

use serde_json::Value;

/// The longest filter expression accepted, in bytes.
pub const MAX_LEN: usize = 2048;

/// The deepest nesting accepted: parentheses and the prefix operators `!`,
/// `-` and `~`, each one level.
pub const MAX_DEPTH: usize = 32;

/// The most values a list literal such as `('a','b')` may hold.
pub const MAX_LIST_LEN: usize = 100;

/// A parsed subscribe filter expression, ready to be matched against
/// messages. Cheap to share between threads; see the
/// [module documentation](self) for the language.
#[derive(Debug, Clone)]
pub struct Filter {
    source: Box<str>,
    root: parser::Expr,
}

impl Filter {
    /// Parses a filter expression.
    ///
    /// # Errors
    ///
    /// When the text is not a valid filter or breaks a limit ([`MAX_LEN`],
    /// [`MAX_DEPTH`], [`MAX_LIST_LEN`]). The error says what is wrong and the
    /// byte offset where, e.g. "expected a value after `==` at 14".
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        if text.len() > MAX_LEN {
            return Err(FilterError::new(
                format!("the filter expression is longer than {MAX_LEN} bytes"),
                MAX_LEN,
            ));
        }
        let root = parser::parse(text)?;
        Ok(Filter {
            source: text.into(),
            root,
        })
    }

    /// Whether a message with this payload and meta passes. `meta` is `None`
    /// when the message has no meta.
    #[must_use]
    pub fn matches(&self, payload: &Value, meta: Option<&Value>) -> bool {
        eval::matches(
            &self.root,
            &eval::Message {
                data: payload,
                meta,
            },
        )
    }

    /// The text this filter was parsed from.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// Why a filter expression could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {offset}")]
pub struct FilterError {
    message: String,
    offset: usize,
}

impl FilterError {
    fn new(message: impl Into<String>, offset: usize) -> FilterError {
        FilterError {
            message: message.into(),
            offset,
        }
    }

    /// What is wrong, without the position.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The byte offset in the expression where the problem was found (the
    /// length of the text when the expression ended too early).
    pub fn offset(&self) -> usize {
        self.offset
    }
}
