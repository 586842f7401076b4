//! A guest that exercises every host capability, for the end-to-end tests.
//!
//! - Endpoint: `POST /v1/fn/{name}/run` with `{"ops": [OP, ...]}` runs the
//!   operations in order, in one invocation, and answers 200
//!   `{"results": [RESULT, ...]}` (one per operation, so a test sees each
//!   call's outcome, including the ones after a failure). A RESULT is
//!   `{"ok": VALUE}` or `{"err": {"kind": "budget-exhausted", "message": "..."}}`
//!   (`kind` as in WIT, or `http` for an outbound request that got no
//!   response, or `script` for an operation this guest does not know).
//!   See [`run`] for the operations.
//! - After-publish: logs `saw` with the message's channel, kind, payload,
//!   meta and publisher. When the payload is `{"hop": N}` it republishes
//!   `{"hop": N + 1}` to the same channel and records what the bus said in
//!   the KV key `chain:{channel}:{N + 1}` (a RESULT, as JSON text) and in a
//!   `republish` log line: a function that republishes to its own channel.

use edgefn_sdk::http::{self, OutgoingRequest, Request, Response};
use edgefn_sdk::log::{self, Level};
use edgefn_sdk::memberships::{self, Membership};
use edgefn_sdk::objects::{self, Include, Kind, ListOptions};
use edgefn_sdk::serde_json::{Map, Value, json};
use edgefn_sdk::tokens::{self, ChannelGrant, Grant, Permissions};
use edgefn_sdk::{
    Error, Message, MessageKind, actions, after_publish, bus, endpoint, files, groups, history, kv,
    presence, secrets,
};

#[endpoint]
fn serve(req: Request) -> Response {
    let script: Value = match req.json() {
        Ok(script) => script,
        Err(e) => return Response::json(400, &json!({ "error": e.to_string() })),
    };
    let ops = script["ops"].as_array().cloned().unwrap_or_default();
    let results: Vec<Value> = ops.iter().map(run).collect();
    Response::json(200, &json!({ "results": results }))
}

/// Runs one operation (`op` names it; the other fields are its arguments).
fn run(op: &Value) -> Value {
    let s = |name: &str| op[name].as_str().unwrap_or_default().to_owned();
    let opt = |name: &str| op[name].as_str().map(str::to_owned);
    let outcome: Result<Value, Error> = match op["op"].as_str().unwrap_or_default() {
        "kv.get" => kv::get(&s("key")).map(|v| json!(v)),
        "kv.set" => {
            let ttl = op["ttl"].as_u64().map(std::time::Duration::from_secs);
            kv::set(&s("key"), &s("value"), ttl).map(|()| Value::Null)
        }
        "kv.delete" => kv::delete(&s("key")).map(|d| json!(d)),
        "kv.incr" => kv::incr(&s("key"), op["delta"].as_i64().unwrap_or(1)).map(|n| json!(n)),
        "kv.list" => {
            let limit = op["limit"].as_u64().map(|l| l as u32);
            kv::list_keys_page(&s("prefix"), opt("cursor").as_deref(), limit)
                .map(|page| json!({ "keys": page.keys, "cursor": page.cursor }))
        }
        "bus.publish" => {
            bus::publish_with_meta(&s("channel"), &op["message"], &op["meta"]).map(Value::from)
        }
        "bus.fire" => {
            bus::fire_with_meta(&s("channel"), &op["message"], &op["meta"]).map(Value::from)
        }
        "bus.signal" => bus::signal(&s("channel"), &op["message"]).map(Value::from),
        "tokens.grant" => grant(op).and_then(|g| g.issue()).map(Value::from),
        "tokens.revoke" => tokens::revoke(&s("token")).map(|()| Value::Null),
        "tokens.parse" => tokens::parse(&s("token")).map(|info| {
            json!({
                "issued_at": info.issued_at,
                "ttl_minutes": info.ttl_minutes,
                "expires_at": info.expires_at(),
                "user": info.user,
                "channels": grants_json(&info.channels),
                "patterns": grants_json(&info.patterns),
                "meta": info.meta,
            })
        }),
        "presence.here_now" => presence::here_now(
            &strs(&op["channels"]),
            op["uuids"].as_bool().unwrap_or(true),
            op["state"].as_bool().unwrap_or(false),
        )
        .map(|found| {
            let channels: Vec<Value> = found
                .into_iter()
                .map(|c| {
                    let members: Vec<Value> = c
                        .members
                        .into_iter()
                        .map(|m| json!({ "uuid": m.uuid, "state": m.state }))
                        .collect();
                    json!({ "channel": c.channel, "occupancy": c.occupancy, "members": members })
                })
                .collect();
            json!(channels)
        }),
        "presence.where_now" => presence::where_now(&s("uuid")).map(|c| json!(c)),
        "presence.get_state" => {
            presence::get_state(&s("uuid"), &strs(&op["channels"])).map(|states| json!(states))
        }
        "presence.set_state" => {
            presence::set_state(&s("uuid"), &strs(&op["channels"]), &op["state"])
                .map(|()| Value::Null)
        }
        "history.fetch" => {
            let query = history::Query {
                start: opt("start"),
                end: opt("end"),
                count: op["count"].as_u64().map(|c| c as u32),
                include_meta: op["meta"].as_bool().unwrap_or(false),
            };
            history::fetch(&strs(&op["channels"]), &query).map(|found| {
                let channels: Vec<Value> = found
                    .into_iter()
                    .map(|c| {
                        let messages: Vec<Value> = c
                            .messages
                            .into_iter()
                            .map(|m| {
                                json!({
                                    "timetoken": m.timetoken,
                                    "payload": m.payload,
                                    "meta": m.meta,
                                    "publisher": m.publisher,
                                })
                            })
                            .collect();
                        json!({ "channel": c.channel, "messages": messages })
                    })
                    .collect();
                json!(channels)
            })
        }
        "actions.add" => actions::add(&s("channel"), &s("message"), &s("type"), &s("value"))
            .map(|a| action_json(&a)),
        "actions.get" => {
            let query = actions::Query {
                start: opt("start"),
                end: opt("end"),
                limit: op["limit"].as_u64().map(|l| l as u32),
            };
            actions::get(&s("channel"), &query).map(|page| {
                let found: Vec<Value> = page.actions.iter().map(action_json).collect();
                json!({ "actions": found, "more": page.more })
            })
        }
        "actions.remove" => {
            actions::remove(&s("channel"), &s("message"), &s("action")).map(Value::from)
        }
        "objects.get" => objects::get(kind(op), &s("id"), Include::ALL).map(|o| json!(o)),
        "objects.set" => {
            let if_match = opt("if_match");
            objects::set(
                kind(op),
                &s("id"),
                &op["fields"],
                if_match.as_deref(),
                Include::ALL,
            )
            .map(Value::Object)
        }
        "objects.remove" => {
            objects::remove(kind(op), &s("id"), opt("if_match").as_deref()).map(Value::from)
        }
        "objects.list" => {
            let options = ListOptions {
                filter: opt("filter"),
                sort: strs(&op["sort"]).into_iter().map(str::to_owned).collect(),
                limit: op["limit"].as_u64().map(|l| l as u32),
                next: opt("next"),
                prev: opt("prev"),
                total_count: op["count"].as_bool().unwrap_or(false),
            };
            objects::get_all(kind(op), &options, Include::ALL).map(page_json)
        }
        "memberships.set" => {
            let set: Vec<Membership> = op["set"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| Membership {
                    id: m["id"].as_str().unwrap_or_default().to_owned(),
                    fields: m.get("fields").map(Value::to_string),
                })
                .collect();
            let options = ListOptions::default();
            let include = memberships::Include::ALL;
            memberships::set(kind(op), &s("id"), &set, None, &options, include).map(page_json)
        }
        "memberships.get" => {
            let options = ListOptions {
                filter: opt("filter"),
                ..ListOptions::default()
            };
            memberships::get(kind(op), &s("id"), &options, memberships::Include::ALL).map(page_json)
        }
        "memberships.remove" => {
            let options = ListOptions::default();
            let include = memberships::Include::default();
            memberships::remove(
                kind(op),
                &s("id"),
                &strs(&op["others"]),
                None,
                &options,
                include,
            )
            .map(page_json)
        }
        "groups.add" => {
            groups::add_channels(&s("group"), &strs(&op["channels"])).map(|()| Value::Null)
        }
        "groups.remove" => {
            groups::remove_channels(&s("group"), &strs(&op["channels"])).map(|()| Value::Null)
        }
        "groups.list" => groups::list_channels(&s("group")).map(|c| json!(c)),
        "groups.names" => groups::list_groups().map(|g| json!(g)),
        "groups.delete" => groups::delete_group(&s("group")).map(|()| Value::Null),
        "files.list" => {
            let limit = op["limit"].as_u64().map(|l| l as u32);
            files::list(&s("channel"), limit, opt("next").as_deref()).map(|page| {
                let found: Vec<Value> = page
                    .files
                    .iter()
                    .map(|f| json!({ "id": f.id, "name": f.name, "size": f.size, "created": f.created }))
                    .collect();
                json!({ "files": found, "next": page.next })
            })
        }
        "files.url" => files::url(&s("channel"), &s("id"), &s("name")).map(Value::from),
        "files.delete" => files::delete(&s("channel"), &s("id"), &s("name")).map(Value::from),
        "files.publish" => bus::publish_file(
            &s("channel"),
            (&s("id"), &s("name")),
            &op["message"],
            &op["meta"],
        )
        .map(Value::from),
        "secret" => Ok(json!(secrets::get(&s("name")))),
        "log" => {
            let fields: Vec<(String, String)> = op["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|pair| {
                    (
                        pair[0].as_str().unwrap_or_default().to_owned(),
                        pair[1].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            let fields: Vec<(&str, &dyn std::fmt::Display)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v as &dyn std::fmt::Display))
                .collect();
            log::log(level(&s("level")), &s("message"), &fields);
            Ok(Value::Null)
        }
        "http" => return outbound(op),
        other => {
            return json!({ "err": { "kind": "script", "message": format!("unknown op {other:?}") } });
        }
    };
    result(outcome)
}

/// A page of objects or memberships as JSON, with the SDK's field names.
fn page_json(page: objects::Page) -> Value {
    json!({
        "objects": page.objects,
        "total_count": page.total_count,
        "next": page.next,
        "prev": page.prev,
    })
}

/// An action as JSON, with the SDK's field names.
fn action_json(action: &actions::Action) -> Value {
    json!({
        "kind": action.kind,
        "value": action.value,
        "uuid": action.uuid,
        "action_timetoken": action.action_timetoken,
        "message_timetoken": action.message_timetoken,
    })
}

/// The metadata kind `op` names (`"kind": "channel"`, else uuid).
fn kind(op: &Value) -> Kind {
    if op["kind"] == "channel" {
        Kind::Channel
    } else {
        Kind::Uuid
    }
}

/// A JSON array of strings as `&str`s.
fn strs(list: &Value) -> Vec<&str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// A RESULT.
fn result(outcome: Result<Value, Error>) -> Value {
    match outcome {
        Ok(value) => json!({ "ok": value }),
        Err(e) => json!({ "err": { "kind": e.kind(), "message": e.message() } }),
    }
}

/// `{"op": "http", "url": ..., "method": "GET"|"POST", "body": ...}` →
/// `{"ok": {"status": N, "body": "..."}}`.
fn outbound(op: &Value) -> Value {
    let url = op["url"].as_str().unwrap_or_default();
    let request = match op["method"].as_str() {
        Some("POST") => OutgoingRequest::post(url).json(&op["body"]),
        _ => OutgoingRequest::get(url),
    };
    match http::send(request) {
        Ok(response) => json!({ "ok": {
            "status": response.status,
            "body": String::from_utf8_lossy(&response.body),
        } }),
        Err(e) => json!({ "err": { "kind": "http", "message": e.to_string() } }),
    }
}

fn level(name: &str) -> Level {
    match name {
        "trace" => Level::Trace,
        "debug" => Level::Debug,
        "warn" => Level::Warn,
        "error" => Level::Error,
        _ => Level::Info,
    }
}

/// `{"ttl": M, "user": ..., "channels": {NAME: [PERMISSION, ...]},
/// "patterns": {REGEX: [...]}, "meta": {...}}` as a grant.
fn grant(op: &Value) -> Result<Grant, Error> {
    let ttl = op["ttl"].as_u64().unwrap_or(0).min(u64::from(u32::MAX)) as u32;
    let mut grant = Grant::new(ttl);
    if let Some(user) = op["user"].as_str() {
        grant = grant.user(user);
    }
    let entries = |key: &str| op[key].as_object().cloned().unwrap_or_default();
    for (name, list) in entries("channels") {
        grant = grant.channel(name, permissions(&list)?);
    }
    for (regex, list) in entries("patterns") {
        grant = grant.pattern(regex, permissions(&list)?);
    }
    if op["meta"].is_object() {
        grant = grant.meta(&op["meta"]);
    }
    Ok(grant)
}

const NAMES: [(&str, Permissions); 7] = [
    ("read", Permissions::READ),
    ("write", Permissions::WRITE),
    ("manage", Permissions::MANAGE),
    ("delete", Permissions::DELETE),
    ("get", Permissions::GET),
    ("update", Permissions::UPDATE),
    ("join", Permissions::JOIN),
];

fn permissions(list: &Value) -> Result<Permissions, Error> {
    let mut set = Permissions::empty();
    for name in list.as_array().into_iter().flatten() {
        let name = name.as_str().unwrap_or_default();
        let (_, bit) = NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| Error::Invalid(format!("caps: unknown permission {name:?}")))?;
        set |= *bit;
    }
    Ok(set)
}

/// Grants as `{NAME: [PERMISSION, ...]}`.
fn grants_json(grants: &[ChannelGrant]) -> Value {
    let map: Map<String, Value> = grants
        .iter()
        .map(|g| {
            let names: Vec<&str> = NAMES
                .iter()
                .filter(|(_, bit)| g.permissions.contains(*bit))
                .map(|(n, _)| *n)
                .collect();
            (g.name.clone(), json!(names))
        })
        .collect();
    Value::Object(map)
}

#[after_publish]
fn watch(msg: Message) -> Result<(), String> {
    let kind = match msg.kind {
        MessageKind::Publish => "publish",
        MessageKind::Fire => "fire",
        MessageKind::Signal => "signal",
    };
    let meta = msg.meta.clone().unwrap_or(Value::Null);
    let publisher = msg.publisher.clone().unwrap_or_default();
    log::info(
        "saw",
        &[
            ("channel", &msg.channel),
            ("kind", &kind),
            ("payload", &msg.payload),
            ("meta", &meta),
            ("publisher", &publisher),
        ],
    );
    let Some(hop) = msg.payload.get("hop").and_then(Value::as_u64) else {
        return Ok(());
    };
    let next = hop + 1;
    let outcome = result(bus::publish(&msg.channel, &json!({ "hop": next })).map(Value::from));
    log::info("republish", &[("hop", &next), ("outcome", &outcome)]);
    kv::set(
        &format!("chain:{}:{next}", msg.channel),
        &outcome.to_string(),
        None,
    )?;
    Ok(())
}
