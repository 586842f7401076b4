use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::glob::{Glob, fold};
use super::{Filter, FilterError, MAX_DEPTH, MAX_LEN, MAX_LIST_LEN};

fn filter(text: &str) -> Filter {
    Filter::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

/// Matches against a message with an empty object payload and this meta.
fn meta(text: &str, meta: Value) -> bool {
    filter(text).matches(&json!({}), Some(&meta))
}

/// Matches against a message with this payload and no meta.
fn data(text: &str, payload: Value) -> bool {
    filter(text).matches(&payload, None)
}

/// Matches against a message with this payload and this meta.
fn both(text: &str, payload: Value, meta: Value) -> bool {
    filter(text).matches(&payload, Some(&meta))
}

/// A filter with no fields: the result does not depend on the message.
fn constant(text: &str) -> bool {
    filter(text).matches(&Value::Null, None)
}

fn error(text: &str) -> FilterError {
    match Filter::parse(text) {
        Ok(f) => panic!("{text:?} should not parse, got {f:?}"),
        Err(e) => e,
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    Glob::compile(pattern).matches_folded(&fold(text))
}

// ---- PubNub's documented examples ----

#[test]
fn docs_priority_and_score() {
    let f = filter(r#"(meta.priority == "high") && (data.score > 80)"#);
    let high = json!({"priority": "high"});
    assert!(f.matches(&json!({"score": 81}), Some(&high)));
    assert!(f.matches(&json!({"score": 80.5}), Some(&high)));
    assert!(!f.matches(&json!({"score": 80}), Some(&high)));
    assert!(!f.matches(&json!({"score": 99}), Some(&json!({"priority": "low"}))));
    assert!(!f.matches(&json!({"score": 99}), None));
    assert!(!f.matches(&json!({"text": "no score"}), Some(&high)));
    assert!(!f.matches(&json!("encrypted payload"), Some(&high)));
}

#[test]
fn docs_uuid_not_me() {
    let f = filter("uuid != 'me'");
    assert!(!f.matches(&json!("hi"), Some(&json!({"uuid": "me"}))));
    assert!(f.matches(&json!("hi"), Some(&json!({"uuid": "you"}))));
    // No meta, or no uuid in it: not published by "me", so delivered.
    assert!(f.matches(&json!("hi"), None));
    assert!(f.matches(&json!("hi"), Some(&json!({"other": 1}))));
    assert!(f.matches(&json!("hi"), Some(&json!("not an object"))));
}

#[test]
fn docs_region() {
    assert!(meta("region == 'us-west'", json!({"region": "us-west"})));
    assert!(!meta("region == 'us-west'", json!({"region": "us-east"})));
    assert!(!meta("region == 'us-west'", json!({"region": "US-WEST"})));
    assert!(!meta("region == 'us-west'", json!({})));
    assert!(meta(
        "region == 'us-west' && priority == 'high'",
        json!({"region": "us-west", "priority": "high"})
    ));
    assert!(meta(
        "type != 'system' && (region == 'us-west' || region == 'us-east')",
        json!({"type": "chat", "region": "us-east"})
    ));
    assert!(!meta(
        "type != 'system' && (region == 'us-west' || region == 'us-east')",
        json!({"type": "system", "region": "us-east"})
    ));
}

#[test]
fn docs_tags_contains() {
    assert!(meta("meta.tags contains 'x'", json!({"tags": ["a", "x"]})));
    assert!(!meta(
        "meta.tags contains 'x'",
        json!({"tags": ["a", "xy"]})
    ));
    assert!(!meta("meta.tags contains 'x'", json!({"tags": []})));
    assert!(!meta("meta.tags contains 'x'", json!({})));
    // On a string, `contains` is a substring test.
    assert!(meta("meta.tags contains 'x'", json!({"tags": "a,x,b"})));
    assert!(meta("type contains 'alert'", json!({"type": "red-alert"})));
    assert!(!meta("type contains 'alert'", json!({"type": "ALERT"})));
}

#[test]
fn docs_like() {
    assert!(meta("name LIKE 'ann*'", json!({"name": "Annabel"})));
    assert!(meta("name LIKE 'ann*'", json!({"name": "ann"})));
    assert!(!meta("name LIKE 'ann*'", json!({"name": "Joanna"})));
    assert!(!meta("name LIKE 'ann*'", json!({})));
    assert!(meta("name like 'match'", json!({"name": "MATCH"})));
    assert!(!meta("name like 'match'", json!({"name": "matches"})));
    assert!(meta("type LIKE 'sport-*'", json!({"type": "sport-tennis"})));
    assert!(meta(r"name LIKE 'match\*'", json!({"name": "match*"})));
    assert!(!meta(r"name LIKE 'match\*'", json!({"name": "matches"})));
}

#[test]
fn docs_list_like() {
    assert!(constant("('Anne','anna','Ann') LIKE 'ann*'"));
    assert!(!constant("('a','b') LIKE 'ann*'"));
    assert!(constant("('a','annie') LIKE 'ann*'"));
}

#[test]
fn docs_list_contains() {
    let f = filter("(3,5,9) contains meta.n");
    assert!(f.matches(&json!({}), Some(&json!({"n": 5}))));
    assert!(f.matches(&json!({}), Some(&json!({"n": 5.0}))));
    assert!(f.matches(&json!({}), Some(&json!({"n": "5"}))));
    assert!(!f.matches(&json!({}), Some(&json!({"n": 4}))));
    assert!(!f.matches(&json!({}), Some(&json!({}))));
    assert!(!f.matches(&json!({}), None));
    assert!(meta(
        "('a','b','c') CONTAINS letter",
        json!({"letter": "b"})
    ));
    assert!(!meta(
        "('a','b','c') CONTAINS letter",
        json!({"letter": "abc"})
    ));
}

#[test]
fn docs_negation() {
    assert!(!meta("!(meta.x == 1)", json!({"x": 1})));
    assert!(meta("!(meta.x == 1)", json!({"x": 2})));
    assert!(meta("!(meta.x == 1)", json!({})));
    assert!(!meta("!((3,5,9) contains meta.n)", json!({"n": 9})));
    assert!(meta("!((3,5,9) contains meta.n)", json!({"n": 10})));
}

#[test]
fn docs_string_contains_number() {
    assert!(meta(
        "meta.s contains meta.n",
        json!({"s": "abc123", "n": 12})
    ));
    assert!(!meta(
        "meta.s contains meta.n",
        json!({"s": "abc123", "n": 4})
    ));
    assert!(meta("meta.s contains 2.5", json!({"s": "v2.5"})));
}

#[test]
fn docs_arithmetic_examples() {
    let m = json!({"a": 6, "b": 3, "c": 2, "v": 8});
    assert!(meta("meta.v > (meta.a + meta.b - meta.c)", m.clone()));
    assert!(!meta("meta.v > (meta.a + meta.b)", m.clone()));
    // 6 ^ 3 == 5, 8 * 10 == 80
    assert!(meta("(meta.a ^ meta.b) != (meta.v * 10)", m.clone()));
    assert!(meta("(meta.a ^ meta.b) == 5", m.clone()));
    // ~6 / 3: -7 / 3, non-zero, so truthy
    assert!(meta("(~meta.a / meta.b)", m.clone()));
    assert!(!meta("(meta.a - meta.b * meta.c)", m));
}

// ---- precedence and associativity ----

#[test]
fn and_binds_tighter_than_or() {
    assert!(constant("true || false && false"));
    assert!(!constant("(true || false) && false"));
    assert!(constant("false && false || true"));
    assert!(!constant("false && (false || true)"));
}

#[test]
fn not_binds_looser_than_relations_but_tighter_than_and() {
    assert!(meta("!meta.x == 1", json!({"x": 2})));
    assert!(!meta("!meta.x == 1", json!({"x": 1})));
    assert!(meta("!meta.a && meta.b", json!({"a": false, "b": true})));
    assert!(!meta("!meta.a && meta.b", json!({"a": false, "b": false})));
    assert!(constant("!!true"));
    assert!(!constant("!!!true"));
}

#[test]
fn arithmetic_precedence() {
    assert!(constant("1 + 2 * 3 == 7"));
    assert!(constant("(1 + 2) * 3 == 9"));
    assert!(constant("10 - 3 - 2 == 5"));
    assert!(constant("12 / 3 / 2 == 2"));
    assert!(constant("7 % 4 * 2 == 6"));
    assert!(constant("-2 * 3 == -6"));
    assert!(constant("- -2 == 2"));
    assert!(constant("2 - -2 == 4"));
    assert!(constant("1 | 2 ^ 3 & 6 == 1 | (2 ^ (3 & 6))"));
    assert!(constant("1 + 1 | 4 == 6"));
    assert!(constant("~0 == -1"));
    assert!(constant("~5 == -6"));
}

#[test]
fn bitwise_binds_tighter_than_relations() {
    assert!(meta("meta.flags & 4 == 4", json!({"flags": 6})));
    assert!(!meta("meta.flags & 4 == 4", json!({"flags": 3})));
    assert!(meta("meta.flags | 1 == 7", json!({"flags": 6})));
}

// ---- equality ----

#[test]
fn numbers_compare_by_value() {
    assert!(meta("meta.count == 3", json!({"count": 3})));
    assert!(meta("meta.count == 3", json!({"count": 3.0})));
    assert!(meta("meta.count == 3.0", json!({"count": 3})));
    assert!(!meta("meta.count == 3", json!({"count": 3.5})));
    assert!(meta("meta.count == -3", json!({"count": -3})));
    assert!(meta(
        "meta.big == 18446744073709551615",
        json!({"big": u64::MAX})
    ));
    assert!(!meta(
        "meta.big == 18446744073709551614",
        json!({"big": u64::MAX})
    ));
    assert!(meta(
        "meta.big == -9223372036854775808",
        json!({"big": i64::MIN})
    ));
    assert!(meta("meta.n == 1e3", json!({"n": 1000})));
    assert!(meta("meta.n == 0.1 + 0.2", json!({"n": 0.1 + 0.2})));
}

#[test]
fn numeric_strings_equal_numbers() {
    assert!(meta("meta.n == 3", json!({"n": "3"})));
    assert!(meta("meta.n == 3", json!({"n": "3.0"})));
    assert!(meta("meta.n == '3'", json!({"n": 3})));
    assert!(!meta("meta.n == 3", json!({"n": " 3"})));
    assert!(!meta("meta.n == 3", json!({"n": "three"})));
    assert!(!meta("meta.n == 3", json!({"n": "+3"})));
    // Two strings compare as strings.
    assert!(!meta("meta.n == '3'", json!({"n": "3.0"})));
}

#[test]
fn strings_booleans_and_null() {
    assert!(meta("meta.s == \"a b\"", json!({"s": "a b"})));
    assert!(meta("meta.ok == true", json!({"ok": true})));
    assert!(!meta("meta.ok == true", json!({"ok": "true"})));
    assert!(!meta("meta.ok == true", json!({"ok": 1})));
    assert!(meta("meta.ok == FALSE", json!({"ok": false})));
    assert!(meta("meta.x == null", json!({"x": null})));
    assert!(meta("meta.x == NULL", json!({})));
    assert!(meta("meta.x != null", json!({"x": 0})));
    assert!(!meta("meta.x != null", json!({})));
    assert!(!meta("meta.x == 0", json!({"x": null})));
    assert!(!meta("meta.x == ''", json!({})));
}

#[test]
fn missing_fields_fail_everything_but_not_equal() {
    let absent = json!({});
    for text in [
        "meta.x == 1",
        "meta.x == 'a'",
        "meta.x < 1",
        "meta.x >= 1",
        "meta.x contains 'a'",
        "meta.x like '*'",
        "meta.x + 1 == 1",
        "('a', 'b') contains meta.x",
    ] {
        assert!(!meta(text, absent.clone()), "{text}");
    }
    assert!(meta("meta.x != 1", absent.clone()));
    assert!(meta("meta.x != 'a'", absent));
    assert!(data("data.x != 1", json!("encrypted")));
}

#[test]
fn fields_compare_with_fields() {
    assert!(both(
        "data.owner == meta.user",
        json!({"owner": "ann"}),
        json!({"user": "ann"})
    ));
    assert!(!both(
        "data.owner == meta.user",
        json!({"owner": "ann"}),
        json!({"user": "bob"})
    ));
    assert!(both(
        "data.a == meta.a",
        json!({"a": [1, {"b": "c"}]}),
        json!({"a": [1.0, {"b": "c"}]})
    ));
    assert!(!both(
        "data.a == meta.a",
        json!({"a": [1, 2]}),
        json!({"a": [1, 2, 3]})
    ));
    assert!(both(
        "data.o == meta.o",
        json!({"o": {"x": 1, "y": 2}}),
        json!({"o": {"y": 2, "x": 1}})
    ));
    assert!(!both(
        "data.o == meta.o",
        json!({"o": {"x": 1}}),
        json!({"o": {"x": 1, "y": 2}})
    ));
    assert!(!both(
        "data.o == meta.o",
        json!({"o": {"x": 1}}),
        json!({"o": [1]})
    ));
}

#[test]
fn deep_equality_is_bounded() {
    let mut deep = json!(1);
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let payload = json!({ "a": deep.clone() });
    let meta_value = json!({ "a": deep });
    // Too deep to compare: unequal, and no stack overflow.
    assert!(!both(
        "data.a == meta.a",
        payload.clone(),
        meta_value.clone()
    ));
    assert!(both("data.a != meta.a", payload, meta_value));
}

// ---- ordering ----

#[test]
fn ordering_is_numeric_only() {
    assert!(meta("meta.level > 5", json!({"level": 6})));
    assert!(!meta("meta.level > 5", json!({"level": 5})));
    assert!(meta("meta.level >= 5", json!({"level": 5})));
    assert!(meta("meta.level <= 5", json!({"level": 4.99})));
    assert!(meta("meta.level < -1.5", json!({"level": -2})));
    assert!(meta("meta.level > 9", json!({"level": "10"})));
    assert!(!meta("meta.name > 'a'", json!({"name": "b"})));
    assert!(!meta("meta.name < 'c'", json!({"name": "b"})));
    assert!(!meta("meta.flag > 0", json!({"flag": true})));
    assert!(!meta("meta.list > 0", json!({"list": [1]})));
    assert!(meta(
        "meta.big > 9223372036854775807",
        json!({"big": u64::MAX})
    ));
}

// ---- contains ----

#[test]
fn contains_variants() {
    assert!(meta("meta.nums contains 2", json!({"nums": [1, 2.0, 3]})));
    assert!(meta("meta.nums contains '2'", json!({"nums": [1, 2, 3]})));
    assert!(!meta("meta.nums contains 4", json!({"nums": [1, 2, 3]})));
    assert!(meta(
        "meta.items contains null",
        json!({"items": [1, null]})
    ));
    assert!(meta("meta.n contains 2", json!({"n": 123})));
    assert!(meta(
        "meta.tags contains ('x', 'y')",
        json!({"tags": ["a", "y"]})
    ));
    assert!(!meta(
        "meta.tags contains ('x', 'y')",
        json!({"tags": ["a", "b"]})
    ));
    assert!(meta("meta.s contains ('x', 'y')", json!({"s": "hey"})));
    assert!(constant("(1, 2) contains (2, 3)"));
    assert!(!meta("meta.o contains 'a'", json!({"o": {"a": 1}})));
    assert!(!meta("meta.b contains 'true'", json!({"b": true})));
    assert!(!meta("meta.s contains meta.missing", json!({"s": "abc"})));
    assert!(!meta(
        "meta.items contains meta.missing",
        json!({"items": [null]})
    ));
    assert!(meta("meta.s contains ''", json!({"s": "abc"})));
}

// ---- like ----

#[test]
fn like_variants() {
    assert!(meta("meta.s like '*'", json!({"s": ""})));
    assert!(meta("meta.s like '*end'", json!({"s": "THE END"})));
    assert!(meta("meta.s like '*mid*'", json!({"s": "a mid b"})));
    assert!(meta("meta.s like 'a*b*c'", json!({"s": "aXXbYYc"})));
    assert!(!meta("meta.s like 'a*b*c'", json!({"s": "aXXcYYb"})));
    assert!(meta("meta.n like '12*'", json!({"n": 1234})));
    assert!(meta(
        "meta.tags like 'sp*'",
        json!({"tags": ["news", "Sport"]})
    ));
    assert!(!meta("meta.tags like 'sp*'", json!({"tags": ["news"]})));
    assert!(meta("meta.s like ('a*', 'b*')", json!({"s": "bee"})));
    assert!(!meta("meta.s like ('a*', 'b*')", json!({"s": "cee"})));
    assert!(meta("meta.s like 5", json!({"s": "5"})));
    assert!(!meta("meta.b like 'true'", json!({"b": true})));
    assert!(both(
        "data.name like meta.pattern",
        json!({"name": "Zed"}),
        json!({"pattern": "z*"})
    ));
    assert!(!both(
        "data.name like meta.pattern",
        json!({"name": "Zed"}),
        json!({"pattern": 3})
    ));
    assert!(!both(
        "data.name like meta.pattern",
        json!({"name": "Zed"}),
        json!({})
    ));
    assert!(meta("meta.s like 'ÉTÉ*'", json!({"s": "été indien"})));
}

#[test]
fn glob_matching() {
    assert!(glob("", ""));
    assert!(!glob("", "a"));
    assert!(glob("*", "anything"));
    assert!(glob("**", ""));
    assert!(glob("a**b", "ab"));
    assert!(glob("a*", "a"));
    assert!(glob("*a", "a"));
    assert!(!glob("a*a", "a"));
    assert!(glob("a*a", "aa"));
    assert!(!glob("ab*b", "ab"));
    assert!(glob("*aab", "aaab"));
    assert!(glob("*a*b*", "xxaxxbxx"));
    assert!(!glob("*a*b*", "xxbxxaxx"));
    assert!(glob(r"a\*b", "a*b"));
    assert!(!glob(r"a\*b", "axb"));
    assert!(glob(r"a\\", r"a\"));
    assert!(glob(r"a\", r"a\"));
    assert!(glob(r"\a", "a"));
    assert!(glob("HeLLo", "hello"));
    assert!(glob("straße", "STRASSE".replace("SS", "ß").as_str()));
    assert!(glob("ΟΔΟΣ", "οδοσ"));
}

#[test]
fn string_escapes() {
    assert!(meta(r"meta.s == 'it\'s'", json!({"s": "it's"})));
    assert!(meta(
        r#"meta.s == "say \"hi\"""#,
        json!({"s": "say \"hi\""})
    ));
    assert!(meta(r"meta.s == 'a\\b'", json!({"s": r"a\b"})));
    assert!(meta(r"meta.s == 'a\nb'", json!({"s": r"a\nb"})));
    assert!(meta(r#"meta.s == "it's""#, json!({"s": "it's"})));
    // `\\*` in the text is `\*` in the pattern: a literal star.
    assert!(meta(r"meta.s like 'a\\*'", json!({"s": "a*"})));
    assert!(!meta(r"meta.s like 'a\\*'", json!({"s": "ab"})));
    // `\\\\*` is `\\*`: a literal backslash, then a wildcard.
    assert!(meta(r"meta.s like 'a\\\\*'", json!({"s": r"a\bc"})));
}

// ---- arithmetic ----

#[test]
fn arithmetic_semantics() {
    assert!(meta("meta.seq % 10 == 0", json!({"seq": 120})));
    assert!(!meta("meta.seq % 10 == 0", json!({"seq": 121})));
    assert!(constant("-7 % 3 == -1"));
    assert!(constant("7 / 2 == 3.5"));
    assert!(constant("6 / 3 == 2"));
    assert!(constant("5.5 % 2 == 1.5"));
    // Undefined results are missing values: they fail comparisons, except
    // that missing equals null (and missing), as documented.
    assert!(!constant("1 / 0 == 0"));
    assert!(!constant("1 / 0 > 0"));
    assert!(constant("1 / 0 != 1"));
    assert!(constant("1 / 0 == null"));
    assert!(!constant("1 % 0 == 0"));
    assert!(!constant("(1.5 | 1) == 1"));
    assert!(constant("(2.0 | 1) == 3"));
    assert!(meta("meta.s + 1 == 11", json!({"s": "10"})));
    assert!(!meta("meta.s + 1 == 11", json!({"s": "ten"})));
    assert!(!meta("meta.b + 1 == 2", json!({"b": true})));
    assert!(meta(
        "meta.b * 2 == 18446744073709551614",
        json!({"b": 9223372036854775807_i64})
    ));
    // Exact integers beyond 2^53.
    assert!(meta(
        "meta.n + 1 == 9007199254740993",
        json!({"n": 9007199254740992_i64})
    ));
    // Overflow of i128 falls back to floats, then infinity is undefined.
    assert!(constant("170141183460469231731687303715884105727 + 1 > 0"));
    assert!(!constant("1e308 * 10 > 0"));
    assert!(constant("-(meta.missing) == null"));
    assert!(constant("~meta.missing == null"));
}

// ---- truthiness ----

#[test]
fn values_as_conditions() {
    assert!(meta("meta.urgent", json!({"urgent": true})));
    assert!(!meta("meta.urgent", json!({"urgent": false})));
    assert!(!meta("meta.urgent", json!({})));
    assert!(meta("!meta.muted", json!({})));
    assert!(!meta("!meta.muted", json!({"muted": 1})));
    assert!(!meta("meta.n", json!({"n": 0})));
    assert!(!meta("meta.n", json!({"n": 0.0})));
    assert!(meta("meta.n", json!({"n": -1})));
    assert!(!meta("meta.s", json!({"s": ""})));
    assert!(meta("meta.s", json!({"s": "0"})));
    assert!(meta("meta.a", json!({"a": []})));
    assert!(meta("meta.o", json!({"o": {}})));
    assert!(!meta("meta.z", json!({"z": null})));
    assert!(constant("'x'"));
    assert!(!constant("0"));
    assert!(constant("(meta.a == 1) == false"));
}

// ---- fields ----

#[test]
fn field_paths() {
    let m = json!({
        "user": {"role": "admin", "tags": ["a", "b"]},
        "items": [{"id": 7}, {"id": 8}],
        "key with space": 1,
        "like": "kw",
        "null": 0,
        "$x_1": 2
    });
    assert!(meta("meta.user.role == 'admin'", m.clone()));
    assert!(meta("meta.user[\"role\"] == 'admin'", m.clone()));
    assert!(meta("meta['user']['role'] == 'admin'", m.clone()));
    assert!(meta("meta.user.tags[1] == 'b'", m.clone()));
    assert!(meta("meta.items[1].id == 8", m.clone()));
    assert!(meta("items[0].id == 7", m.clone()));
    assert!(meta("user.role == 'admin'", m.clone()));
    assert!(meta("meta[\"key with space\"] == 1", m.clone()));
    assert!(meta("meta.like == 'kw'", m.clone()));
    assert!(meta("meta.null == 0", m.clone()));
    assert!(meta("$x_1 == 2", m.clone()));
    assert!(meta("meta . user . role == 'admin'", m.clone()));
    assert!(!meta("meta.items[2].id == 8", m.clone()));
    assert!(!meta("meta.user[0] == 'admin'", m.clone()));
    assert!(!meta("meta.items.id == 7", m.clone()));
    assert!(!meta("meta.user.role.x == 'admin'", m.clone()));
    assert!(!meta("meta.items['0'].id == 7", m));
    assert!(data("data.text == 'hi'", json!({"text": "hi"})));
    assert!(data("data[0] == 'first'", json!(["first"])));
    assert!(!data("data.text == 'hi'", json!("hi")));
}

#[test]
fn bare_names_read_meta_not_data() {
    assert!(!both("text == 'hi'", json!({"text": "hi"}), json!({})));
    assert!(both("text == 'hi'", json!({}), json!({"text": "hi"})));
    assert!(both("meta.text == 'hi'", json!({}), json!({"text": "hi"})));
    assert!(!data("text == 'hi'", json!({"text": "hi"})));
}

#[test]
fn keywords_are_case_insensitive() {
    assert!(meta(
        "meta.s LIKE 'a*' && meta.t CONTAINS 'b' && meta.u == True",
        json!({"s": "ab", "t": "abc", "u": true})
    ));
    assert!(meta(
        "meta.s Like 'a*' || meta.t contains 'z'",
        json!({"s": "ab", "t": ""})
    ));
}

#[test]
fn whitespace_is_free() {
    assert!(meta("meta.a==1&&meta.b!=2||false", json!({"a": 1, "b": 3})));
    assert!(meta("  (\tmeta.a\n==\r\n1 )  ", json!({"a": 1})));
    assert!(constant("(1,2,3)contains 2"));
}

// ---- errors ----

fn assert_error(text: &str, message: &str, offset: usize) {
    let e = error(text);
    assert_eq!((e.message(), e.offset()), (message, offset), "{text:?}");
    assert_eq!(e.to_string(), format!("{message} at {offset}"));
}

#[test]
fn errors_say_what_and_where() {
    assert_error("meta.priority == ", "expected a value after `==`", 17);
    assert_error("meta.priority ==", "expected a value after `==`", 16);
    assert_error("meta.a == == 1", "expected a value after `==`", 10);
    assert_error("meta.a &&", "expected a value after `&&`", 9);
    assert_error("|| meta.a", "expected a value", 0);
    assert_error("meta.a == )", "expected a value after `==`", 10);
    assert_error("()", "expected a value after `(`", 1);
    assert_error("(1,)", "expected a value after `,`", 3);
    assert_error("!", "expected a value after `!`", 1);
    assert_error(
        "meta.a == 1 meta.b == 2",
        "expected `&&`, `||` or the end of the expression, found `meta`",
        12,
    );
    assert_error(
        "meta.a == 1 and meta.b == 2",
        "expected `&&`, `||` or the end of the expression, found `and` (write `&&`)",
        12,
    );
    assert_error(
        "meta.a == 1 OR meta.b == 2",
        "expected `&&`, `||` or the end of the expression, found `OR` (write `||`)",
        12,
    );
    assert_error(
        "meta.a == 1)",
        "expected `&&`, `||` or the end of the expression, found `)`",
        11,
    );
    assert_error(
        "(meta.a == 1",
        "expected `)` to close the `(` at 0, found the end of the expression",
        12,
    );
    assert_error(
        "(meta.a == 1 'x')",
        "expected `)` to close the `(` at 0, found a string",
        13,
    );
    assert_error("meta.a = 1", "`=` is not an operator: compare with `==`", 7);
    assert_error("meta.a == 'abc", "unterminated string", 10);
    assert_error("meta.a == \"abc\\\"", "unterminated string", 10);
    assert_error("meta.a == 'abc\\", "unterminated string", 10);
    assert_error("meta.a # 1", "unexpected character '#'", 7);
    assert_error(
        "meta.a == 3abc",
        "unexpected character 'a' after a number",
        11,
    );
    assert_error("meta.a == 1e999", "number out of range", 10);
    assert_error(
        "meta.a == 1 == 1",
        "comparisons cannot be chained: join them with `&&` or `||`",
        12,
    );
    assert_error(
        "meta.a < 1 < 2",
        "comparisons cannot be chained: join them with `&&` or `||`",
        11,
    );
    assert_error("", "the filter expression is empty", 0);
    assert_error("   ", "the filter expression is empty", 0);
    assert_error("contains 'a'", "expected a value", 0);
    assert_error("meta.a like", "expected a value after `like`", 11);
}

#[test]
fn errors_for_fields() {
    assert_error(
        "data == 1",
        "`data` must be followed by a field name, as in `data.name`",
        0,
    );
    assert_error(
        "x || meta",
        "`meta` must be followed by a field name, as in `meta.name`",
        5,
    );
    assert_error("data.* == 1", "expected a field name after `.`", 5);
    assert_error("data. == 1", "expected a field name after `.`", 6);
    assert_error("meta.a. == 1", "expected a field name after `.`", 8);
    assert_error("meta.1 == 1", "expected a field name after `.`", 5);
    assert_error(
        "meta.a[ == 1",
        "expected a quoted field name or an array index after `[`",
        8,
    );
    assert_error(
        "meta.a[-1] == 1",
        "expected a quoted field name or an array index after `[`",
        7,
    );
    assert_error(
        "meta.a[1.5] == 1",
        "expected a quoted field name or an array index after `[`",
        7,
    );
    assert_error(
        "meta.a[b] == 1",
        "expected a quoted field name or an array index after `[`",
        7,
    );
    assert_error("meta.a[1 == 1", "expected `]`", 9);
}

#[test]
fn errors_for_lists() {
    let only = "a list can only be an operand of `contains` or `like`";
    assert_error("meta.x == (1, 2)", only, 10);
    assert_error("(1, 2) != meta.x", only, 0);
    assert_error("(1, 2)", only, 0);
    assert_error("(1, 2) && true", only, 0);
    assert_error("!(1, 2)", only, 1);
    assert_error("(1, 2) + 1 contains 1", only, 0);
    assert_error("1 + (1, 2) contains 1", only, 4);
    assert_error("-(1, 2) contains 1", only, 1);
    assert_error("meta.a < (1, 2)", only, 9);
    let literals = "a list may only hold literals (strings, numbers, `true`, `false`, `null`)";
    assert_error("(meta.a, 2) contains 1", literals, 1);
    assert_error("(1, meta.a) contains 1", literals, 4);
    assert_error("(1, 1 + 1) contains 1", literals, 4);
    assert_error("meta.s like true", "`like` needs a string pattern", 12);
    assert_error(
        "meta.s like ('a', null)",
        "`like` needs a string pattern",
        12,
    );
    // Negative numbers are literals.
    assert!(meta("(1, -2, 3.5) contains meta.n", json!({"n": -2})));
    // One parenthesized value is not a list.
    assert!(meta("('abc') contains meta.s", json!({"s": "b"})));
}

// ---- limits ----

#[test]
fn length_limit() {
    let fits = format!("meta.s == '{}'", "x".repeat(MAX_LEN - 12));
    assert_eq!(fits.len(), MAX_LEN);
    assert!(Filter::parse(&fits).is_ok());
    let too_long = format!("meta.s == '{}'", "x".repeat(MAX_LEN - 11));
    assert_error(
        &too_long,
        "the filter expression is longer than 2048 bytes",
        MAX_LEN,
    );
}

#[test]
fn depth_limit_on_parentheses() {
    let nested = |n: usize| format!("{}meta.a == 1{}", "(".repeat(n), ")".repeat(n));
    assert!(meta(&nested(MAX_DEPTH), json!({"a": 1})));
    assert_error(
        &nested(MAX_DEPTH + 1),
        "the expression is nested more than 32 levels deep",
        MAX_DEPTH,
    );
    // Way past the limit, unbalanced: still an error, not a stack overflow.
    assert_eq!(error(&"(".repeat(MAX_LEN)).offset(), MAX_DEPTH);
    assert_eq!(error(&"((((((((((".repeat(100)).offset(), MAX_DEPTH);
}

#[test]
fn depth_limit_on_prefix_operators() {
    assert!(constant(&format!("{}true", "!".repeat(MAX_DEPTH))));
    assert_eq!(
        error(&format!("{}true", "!".repeat(MAX_DEPTH + 1))).offset(),
        MAX_DEPTH
    );
    assert_eq!(
        error(&format!("{}1", "-".repeat(MAX_DEPTH + 1))).offset(),
        MAX_DEPTH
    );
    assert_eq!(
        error(&format!("{}1", "~".repeat(MAX_LEN - 1))).offset(),
        MAX_DEPTH
    );
    assert_eq!(error(&"!(".repeat(40)).offset(), MAX_DEPTH);
}

#[test]
fn deepest_filters_fit_a_small_stack() {
    // Every kind of nesting at the limit, with every precedence level in
    // between, parsed, evaluated and dropped on a 512 KiB stack (a tokio
    // worker has 2 MiB; measured: a debug build needs under 384 KiB, a
    // release build under 64 KiB).
    // Six levels per round: `!`, `(`, `-`, `~`, `(`, `(`.
    let mut text = "meta.n".to_owned();
    for _ in 0..MAX_DEPTH / 6 {
        text = format!("!(-~(1 | 2 ^ 3 & 4 + 5 * ({text}) == 1 && true || false))");
    }
    text = format!("{}{text}", "!".repeat(MAX_DEPTH % 6));
    assert!(text.len() <= MAX_LEN);
    let worker = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            let f = Filter::parse(&text).expect("parses");
            let _ = f.matches(&json!({}), Some(&json!({"n": 1})));
            drop(f);
            Filter::parse(&format!("!{text}")).expect_err("one level too deep")
        })
        .expect("spawn");
    let too_deep = worker.join().expect("no stack overflow");
    assert_eq!(
        too_deep.message(),
        "the expression is nested more than 32 levels deep"
    );
}

#[test]
fn long_flat_chains_are_fine() {
    // ~1000 operators, no nesting: parsed by loops into flat nodes.
    let terms = (MAX_LEN - 10) / 2;
    let sum = format!("{} == {terms}", vec!["1"; terms].join("+"));
    assert!(sum.len() <= MAX_LEN);
    assert!(constant(&sum));
    let ands = format!("{}1", "1&&".repeat((MAX_LEN - 1) / 3));
    assert!(constant(&ands));
    let ors = format!("{}1", "0||".repeat((MAX_LEN - 1) / 3));
    assert!(constant(&ors));
}

#[test]
fn list_length_limit() {
    let list = |n: usize| format!("({}) contains 1", vec!["1"; n].join(","));
    assert!(constant(&list(MAX_LIST_LEN)));
    let e = error(&list(MAX_LIST_LEN + 1));
    assert_eq!(e.message(), "a list may hold at most 100 values");
    assert_eq!(e.offset(), 1 + 2 * MAX_LIST_LEN);
}

#[test]
fn like_never_backtracks_exponentially() {
    let text = "a".repeat(32 * 1024);
    let stars = "*a".repeat(1000);
    let failing = format!("meta.s like '{stars}*b'");
    let passing = format!("meta.s like '{stars}*'");
    assert!(failing.len() <= MAX_LEN);
    let start = Instant::now();
    assert!(!meta(&failing, json!({ "s": text })));
    assert!(meta(&passing, json!({ "s": text })));
    // A pattern taken from the message itself.
    let dynamic = format!("{}b", "*a".repeat(16 * 1024));
    assert!(!both(
        "data.s like meta.p",
        json!({ "s": text }),
        json!({ "p": dynamic })
    ));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
}

// ---- the API ----

#[test]
fn filter_api() {
    let f = filter("meta.a == 1");
    assert_eq!(f.as_str(), "meta.a == 1");
    let copy = f.clone();
    assert!(copy.matches(&json!(null), Some(&json!({"a": 1}))));
    fn shareable<T: Send + Sync + 'static>(_: &T) {}
    shareable(&f);
    let e = error("meta.a ==");
    assert_eq!(e.clone(), e);
    let _: &dyn std::error::Error = &e;
}

// ---- fuzzing: nothing panics, offsets stay in range ----

/// xorshift64*: a small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const VOCABULARY: &[&str] = &[
    "meta",
    "data",
    ".",
    "a",
    "n",
    "s",
    "tags",
    "uuid",
    "[",
    "]",
    "[0]",
    "['a']",
    "0",
    "1",
    "-1",
    "2.5",
    "1e3",
    "1e999",
    "340282366920938463463374607431768211457",
    "'a'",
    "\"b*\"",
    "'\\*'",
    "'x",
    "\"",
    "'",
    "\\",
    "(",
    ")",
    "(",
    ")",
    ",",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "&&",
    "||",
    "!",
    "contains",
    "LIKE",
    "like",
    "+",
    "-",
    "*",
    "/",
    "%",
    "|",
    "&",
    "^",
    "~",
    "true",
    "null",
    "FALSE",
    " ",
    " ",
    " ",
    "\t",
    "é",
    "#",
    "@",
    "$",
    "_",
];

fn payloads() -> Vec<(Value, Option<Value>)> {
    vec![
        (json!({}), None),
        (
            json!("encrypted"),
            Some(json!({"a": 1, "n": 0, "s": "abc", "uuid": "me"})),
        ),
        (
            json!({"a": [1, "a", null], "n": -2.5, "s": "a*b", "tags": ["a", "b"]}),
            Some(json!({"a": {"a": 1}, "n": i64::MIN, "s": "", "tags": "a,b", "uuid": null})),
        ),
        (json!([1, 2, 3]), Some(json!([0]))),
        (
            json!({"n": u64::MAX, "s": "1e3", "a": true}),
            Some(json!({"n": 1e300, "s": "é*É"})),
        ),
    ]
}

fn check(text: &str, payloads: &[(Value, Option<Value>)]) -> bool {
    match Filter::parse(text) {
        Ok(f) => {
            for (payload, meta) in payloads {
                let _ = f.matches(payload, meta.as_ref());
            }
            true
        }
        Err(e) => {
            assert!(e.offset() <= text.len().min(MAX_LEN), "{text:?}: {e}");
            assert!(!e.message().is_empty());
            false
        }
    }
}

#[test]
fn fuzz_token_soup() {
    let payloads = payloads();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for _ in 0..30_000 {
        let len = 1 + rng.below(24);
        let text: String = (0..len)
            .map(|_| VOCABULARY[rng.below(VOCABULARY.len())])
            .collect();
        if check(&text, &payloads) {
            parsed += 1;
        }
    }
    // The soup must reach the evaluator often enough to mean something.
    assert!(parsed > 300, "only {parsed} soups parsed");
}

#[test]
fn fuzz_structured_expressions() {
    // Random but mostly valid expressions, so the evaluator sees deep mixes.
    fn operand(rng: &mut Rng, depth: usize) -> String {
        const LEAVES: &[&str] = &[
            "meta.a",
            "meta.n",
            "data.s",
            "data.a[0]",
            "meta.tags",
            "uuid",
            "1",
            "-2.5",
            "'a*'",
            "\"abc\"",
            "true",
            "null",
            "('a', 1, null)",
            "0",
        ];
        const OPS: &[&str] = &[
            " + ",
            " - ",
            " * ",
            " / ",
            " % ",
            " | ",
            " & ",
            " ^ ",
            " == ",
            " != ",
            " < ",
            " >= ",
            " contains ",
            " like ",
            " && ",
            " || ",
        ];
        match rng.below(if depth > 6 { 1 } else { 5 }) {
            0 | 1 => LEAVES[rng.below(LEAVES.len())].to_owned(),
            2 => format!("({})", operand(rng, depth + 1)),
            3 => format!(
                "{}{}",
                ["!", "-", "~"][rng.below(3)],
                operand(rng, depth + 1)
            ),
            _ => format!(
                "{}{}{}",
                operand(rng, depth + 1),
                OPS[rng.below(OPS.len())],
                operand(rng, depth + 1)
            ),
        }
    }
    let payloads = payloads();
    let mut rng = Rng(42);
    let mut parsed = 0;
    for _ in 0..20_000 {
        let text = operand(&mut rng, 0);
        if check(&text, &payloads) {
            parsed += 1;
        }
    }
    assert!(parsed > 2_000, "only {parsed} expressions parsed");
}

#[test]
fn fuzz_random_bytes() {
    let payloads = payloads();
    let mut rng = Rng(7);
    for round in 0..20_000 {
        let len = rng.below(if round % 100 == 0 { 3000 } else { 40 });
        let bytes: Vec<u8> = (0..len)
            .map(|_| match rng.below(4) {
                // Mostly printable ASCII, sometimes anything.
                0 => rng.next() as u8,
                _ => b' ' + rng.below(95) as u8,
            })
            .collect();
        check(&String::from_utf8_lossy(&bytes), &payloads);
    }
}
