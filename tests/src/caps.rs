//! The `caps` test guest (tests/guests/caps): an endpoint that runs a script
//! of host-capability calls in one invocation and reports each call's
//! outcome, so that a test can drive KV, bus, presence, history, message
//! actions, App Context, tokens, secrets, logging and outbound HTTP from
//! inside a real component and see exactly what the guest saw (`{"ok": VALUE}` or `{"err": {"kind", "message"}}`).
//!
//! Its after-publish handler logs `saw` for each message and, for a
//! payload `{"hop": N}`, republishes `{"hop": N + 1}` to the same channel,
//! recording the bus's answer in the KV key `chain:{channel}:{N + 1}`.
//!
//! The functions here build the script's operations.

use serde_json::{Value, json};

use crate::check::short;
use crate::node::Node;

impl Node {
    /// Deploys the `caps` guest as `function`, an endpoint, with the rest of
    /// its deployment in `spec` (e.g. budgets or secrets).
    pub async fn deploy_caps(&self, function: &str, spec: Value) -> Value {
        let mut spec = spec;
        spec["endpoint"] = true.into();
        self.deploy_ok(function, "caps", &spec).await
    }

    /// Runs `ops` in one invocation of the `caps` guest deployed as
    /// `function` (with `endpoint`); returns one result per operation.
    pub async fn run_ops(&self, function: &str, ops: &[Value]) -> Vec<Value> {
        let request = self
            .http()
            .post(self.url(&format!("/v1/fn/{function}/run")))
            .json(&json!({ "ops": ops }));
        let answer = self.send(request).await;
        let results = answer.ok()["results"]
            .as_array()
            .unwrap_or_else(|| panic!("no results in {}", short(&answer.body)))
            .clone();
        assert_eq!(results.len(), ops.len(), "one result per operation");
        results
    }

    /// [`Node::run_ops`] with one operation, asserting success: its value.
    pub async fn run_op(&self, function: &str, op: Value) -> Value {
        ok(&self.run_ops(function, &[op]).await[0]).clone()
    }
}

/// The value of a successful result.
#[track_caller]
pub fn ok(result: &Value) -> &Value {
    result
        .get("ok")
        .unwrap_or_else(|| panic!("the call failed: {}", short(result)))
}

/// The message of a failed result, after asserting its `kind`.
#[track_caller]
pub fn err<'a>(result: &'a Value, kind: &str) -> &'a str {
    assert_eq!(
        result["err"]["kind"],
        kind,
        "expected a `{kind}` error: {}",
        short(result)
    );
    result["err"]["message"].as_str().expect("a message")
}

/// `kv::get(key)`.
pub fn kv_get(key: &str) -> Value {
    json!({"op": "kv.get", "key": key})
}

/// `kv::set(key, value, ttl)`.
pub fn kv_set(key: &str, value: &str, ttl_seconds: Option<u64>) -> Value {
    json!({"op": "kv.set", "key": key, "value": value, "ttl": ttl_seconds})
}

/// `kv::delete(key)`.
pub fn kv_delete(key: &str) -> Value {
    json!({"op": "kv.delete", "key": key})
}

/// `kv::incr(key, delta)`.
pub fn kv_incr(key: &str, delta: i64) -> Value {
    json!({"op": "kv.incr", "key": key, "delta": delta})
}

/// `kv::list_keys_page(prefix, cursor, limit)`: `{"keys", "cursor"}`.
pub fn kv_list(prefix: &str, cursor: Option<&str>, limit: Option<u32>) -> Value {
    json!({"op": "kv.list", "prefix": prefix, "cursor": cursor, "limit": limit})
}

/// `bus::publish`, `fire` or `signal` (`kind`) of `message` with `meta`
/// (`null` for none; signals carry none).
pub fn bus(kind: &str, channel: &str, message: Value, meta: Value) -> Value {
    json!({"op": format!("bus.{kind}"), "channel": channel, "message": message, "meta": meta})
}

/// A grant, shaped like the admin API's: `{"ttl", "user", "channels":
/// {NAME: [PERMISSION]}, "patterns": {REGEX: [PERMISSION]}, "meta"}`.
pub fn grant(grant: Value) -> Value {
    let mut op = grant;
    op["op"] = "tokens.grant".into();
    op
}

/// `tokens::revoke(token)`.
pub fn revoke(token: &str) -> Value {
    json!({"op": "tokens.revoke", "token": token})
}

/// `tokens::parse(token)`: `{"issued_at", "ttl_minutes", "expires_at",
/// "user", "channels", "patterns", "meta"}`.
pub fn parse(token: &str) -> Value {
    json!({"op": "tokens.parse", "token": token})
}

/// `secrets::get(name)`.
pub fn secret(name: &str) -> Value {
    json!({"op": "secret", "name": name})
}

/// `log::log(level, message, fields)`.
pub fn log(level: &str, message: &str, fields: &[(&str, &str)]) -> Value {
    json!({"op": "log", "level": level, "message": message, "fields": fields})
}

/// An outbound `GET url`: `{"status", "body"}`, or an `http` error.
pub fn http_get(url: &str) -> Value {
    json!({"op": "http", "url": url})
}

/// `presence::here_now(channels, uuids, state)`: `[{"channel", "occupancy",
/// "members": [{"uuid", "state"}]}]`.
pub fn here_now(channels: &[&str], uuids: bool, state: bool) -> Value {
    json!({"op": "presence.here_now", "channels": channels, "uuids": uuids, "state": state})
}

/// `presence::where_now(uuid)`.
pub fn where_now(uuid: &str) -> Value {
    json!({"op": "presence.where_now", "uuid": uuid})
}

/// `presence::get_state(uuid, channels)`: `[[channel, state or null]]`.
pub fn get_state(uuid: &str, channels: &[&str]) -> Value {
    json!({"op": "presence.get_state", "uuid": uuid, "channels": channels})
}

/// `presence::set_state(uuid, channels, state)`.
pub fn set_state(uuid: &str, channels: &[&str], state: Value) -> Value {
    json!({"op": "presence.set_state", "uuid": uuid, "channels": channels, "state": state})
}

/// `history::fetch(channels, query)` with `query` as `{"start", "end",
/// "count", "meta"}`: `[{"channel", "messages": [{"timetoken", "payload",
/// "meta", "publisher"}]}]`.
pub fn fetch_history(channels: &[&str], query: Value) -> Value {
    let mut op = query;
    op["op"] = "history.fetch".into();
    op["channels"] = json!(channels);
    op
}
