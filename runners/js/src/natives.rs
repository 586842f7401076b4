//! The host capabilities as native functions for the JavaScript side: one
//! object (`native` in `js/prelude.js` and the modules) whose functions are
//! synchronous and throw an `Error` that says what went wrong. The modules
//! wrap them in PubNub's Promise-returning shapes.
//!
//! App Context calls are in [`objects`], channel groups and files in
//! [`channels`].

mod channels;
mod objects;

use std::cell::Cell;
use std::time::Duration;

use edgefn_sdk::http::OutgoingRequest;
use edgefn_sdk::serde_json::{self, Value, json};
use edgefn_sdk::tokens::{Grant, Permissions};
use edgefn_sdk::{actions, kv, log, secrets, tokens};
use rquickjs::function::Func;
use rquickjs::{Ctx, Exception, Object, Result};

thread_local! {
    /// Set while `init` evaluates the user's module: the host is not there
    /// to call then (and the snapshot must hold no host state).
    static LOADING: Cell<bool> = const { Cell::new(false) };
}

/// Marks whether the user's module is being loaded.
pub fn set_loading(loading: bool) {
    LOADING.set(loading);
}

/// Refuses host call `what` while the module loads.
fn host(ctx: &Ctx<'_>, what: &str) -> Result<()> {
    if LOADING.get() {
        return throw(
            ctx,
            format!(
                "{what} cannot be called while the module loads (in its top-level code): call it inside the handler"
            ),
        );
    }
    Ok(())
}

/// The `native` object.
pub fn object<'js>(ctx: &Ctx<'js>) -> Result<Object<'js>> {
    let native = Object::new(ctx.clone())?;
    native.set("log", Func::from(write_log))?;
    native.set("randomBytes", Func::from(random_bytes))?;
    native.set("config", Func::from(config))?;
    native.set("secret", Func::from(secret))?;
    native.set("kvGet", Func::from(kv_get))?;
    native.set("kvSet", Func::from(kv_set))?;
    native.set("kvDelete", Func::from(kv_delete))?;
    native.set("kvIncr", Func::from(kv_incr))?;
    native.set("kvKeys", Func::from(kv_keys))?;
    native.set("publish", Func::from(publish))?;
    native.set("grantToken", Func::from(grant_token))?;
    native.set("revokeToken", Func::from(revoke_token))?;
    native.set("parseToken", Func::from(parse_token))?;
    native.set("hereNow", Func::from(here_now))?;
    native.set("whereNow", Func::from(where_now))?;
    native.set("getState", Func::from(get_state))?;
    native.set("setState", Func::from(set_state))?;
    native.set("fetchHistory", Func::from(fetch_history))?;
    native.set("messageCounts", Func::from(message_counts))?;
    native.set("deleteMessages", Func::from(delete_messages))?;
    native.set("addMessageAction", Func::from(add_message_action))?;
    native.set("getMessageActions", Func::from(get_message_actions))?;
    native.set("removeMessageAction", Func::from(remove_message_action))?;
    native.set("fetch", Func::from(fetch))?;
    objects::register(&native)?;
    channels::register(&native)?;
    crate::crypto::register(&native)?;
    Ok(native)
}

/// Throws `message` as a JavaScript `Error`.
fn throw<T>(ctx: &Ctx<'_>, message: impl AsRef<str>) -> Result<T> {
    Err(Exception::throw_message(ctx, message.as_ref()))
}

/// Turns a host error into a thrown `Error`.
fn check<T>(ctx: &Ctx<'_>, result: std::result::Result<T, edgefn_sdk::Error>) -> Result<T> {
    result.or_else(|e| throw(ctx, e.to_string()))
}

fn write_log(level: String, message: String) {
    if LOADING.get() {
        // The log belongs to an invocation; the module's top-level output has none.
        return;
    }
    let level = match level.as_str() {
        "error" => log::Level::Error,
        "warn" => log::Level::Warn,
        "debug" => log::Level::Debug,
        _ => log::Level::Info,
    };
    log::log(level, &message, &[]);
}

fn random_bytes(ctx: Ctx<'_>, count: u32) -> Result<Vec<u8>> {
    let mut bytes = vec![0; count as usize];
    match getrandom(&mut bytes) {
        Ok(()) => Ok(bytes),
        Err(e) => throw(&ctx, format!("no randomness available: {e}")),
    }
}

/// Fills `bytes` from the host's secure random source (`wasi:random`,
/// through wasi-libc).
fn getrandom(bytes: &mut [u8]) -> std::io::Result<()> {
    // wasi-libc has no /dev/urandom; its getentropy is wasi:random.
    unsafe extern "C" {
        fn getentropy(buffer: *mut u8, length: usize) -> i32;
    }
    for chunk in bytes.chunks_mut(256) {
        // SAFETY: `chunk` is valid for writes of its length, which
        // getentropy's limit (256) bounds.
        if unsafe { getentropy(chunk.as_mut_ptr(), chunk.len()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn config(ctx: Ctx<'_>, name: String) -> Result<Option<String>> {
    host(&ctx, "vault.get")?;
    Ok(std::env::var(name).ok())
}

fn secret(ctx: Ctx<'_>, name: String) -> Result<Option<String>> {
    host(&ctx, "vault.get")?;
    Ok(secrets::get(&name))
}

fn kv_get(ctx: Ctx<'_>, key: String) -> Result<Option<String>> {
    host(&ctx, "kvstore")?;
    check(&ctx, kv::get(&key))
}

fn kv_set(ctx: Ctx<'_>, key: String, value: String, ttl_seconds: u32) -> Result<()> {
    host(&ctx, "kvstore")?;
    check(
        &ctx,
        kv::set(&key, &value, Some(Duration::from_secs(ttl_seconds.into()))),
    )
}

fn kv_delete(ctx: Ctx<'_>, key: String) -> Result<bool> {
    host(&ctx, "kvstore")?;
    check(&ctx, kv::delete(&key))
}

fn kv_incr(ctx: Ctx<'_>, key: String, delta: f64) -> Result<f64> {
    host(&ctx, "kvstore")?;
    if !delta.is_finite() || delta.fract() != 0.0 {
        return throw(
            &ctx,
            format!("a counter moves by whole numbers, not {delta}"),
        );
    }
    // Counters beyond 2^53 lose precision as JavaScript numbers, like PubNub's.
    check(&ctx, kv::incr(&key, delta as i64)).map(|n| n as f64)
}

fn kv_keys<'js>(
    ctx: Ctx<'js>,
    prefix: String,
    cursor: Option<String>,
    limit: u32,
) -> Result<Object<'js>> {
    host(&ctx, "kvstore")?;
    let page = check(
        &ctx,
        kv::list_keys_page(&prefix, cursor.as_deref(), Some(limit)),
    )?;
    let answer = Object::new(ctx)?;
    answer.set("keys", page.keys)?;
    answer.set("cursor", page.cursor)?;
    Ok(answer)
}

/// Sends a message of `kind`; a publish is kept in history as `keeping`
/// says (see [`keeping_of`]).
fn publish<'js>(
    ctx: Ctx<'js>,
    kind: String,
    channel: String,
    message: String,
    meta: Option<String>,
    keeping: Object<'js>,
) -> Result<String> {
    host(&ctx, "pubnub")?;
    use edgefn_sdk::__private::bindings::edgefn::functions::bus;
    let keeping = keeping_of(&keeping)?;
    let sent = match kind.as_str() {
        "publish" => bus::publish_kept(&channel, &message, meta.as_deref(), keeping),
        "fire" => bus::fire(&channel, &message, meta.as_deref()),
        "signal" => bus::signal(&channel, &message),
        other => return throw(&ctx, format!("unknown kind of publish `{other}`")),
    };
    sent.or_else(|e| throw(&ctx, wit_error_message(e)))
}

/// How history keeps a publish, from the module's `{store, ttlHours}`
/// (PubNub's `storeInHistory` and `ttl`, checked there).
fn keeping_of(keeping: &Object<'_>) -> Result<edgefn_sdk::bus::Keeping> {
    Ok(edgefn_sdk::bus::Keeping {
        store: keeping.get("store")?,
        ttl_hours: keeping.get("ttlHours")?,
    })
}

/// The sentence a host error carries.
fn wit_error_message(
    error: edgefn_sdk::__private::bindings::edgefn::functions::types::Error,
) -> String {
    use edgefn_sdk::__private::bindings::edgefn::functions::types::Error as E;
    match error {
        E::Invalid(m)
        | E::TooLarge(m)
        | E::BudgetExhausted(m)
        | E::Denied(m)
        | E::Rejected(m)
        | E::Unavailable(m) => m,
    }
}

/// Issues a token from the request that `pubnub.grantToken` built (JSON:
/// `ttl`, `authorized_uuid`, `resources` and `patterns` each with
/// `channels`, `groups` and `uuids` as lists of `{name, permissions:
/// [names]}`, `meta`).
fn grant_token(ctx: Ctx<'_>, request: String) -> Result<String> {
    host(&ctx, "pubnub.grantToken")?;
    let request: Value = match serde_json::from_str(&request) {
        Ok(value) => value,
        Err(e) => return throw(&ctx, format!("grantToken: {e}")),
    };
    let Some(ttl) = request["ttl"].as_u64().and_then(|t| u32::try_from(t).ok()) else {
        return throw(&ctx, "grantToken: `ttl` (minutes) is required");
    };
    let mut grant = Grant::new(ttl);
    if let Some(user) = request["authorized_uuid"].as_str() {
        grant = grant.user(user);
    }
    type Add = fn(Grant, String, Permissions) -> Grant;
    let kinds: [(&str, &str, Add); 6] = [
        ("resources", "channels", Grant::channel),
        ("patterns", "channels", Grant::pattern),
        ("resources", "groups", Grant::group),
        ("patterns", "groups", Grant::group_pattern),
        ("resources", "uuids", Grant::uuid),
        ("patterns", "uuids", Grant::uuid_pattern),
    ];
    for (by, kind, add) in kinds {
        for entry in request[by][kind].as_array().into_iter().flatten() {
            let name = entry["name"].as_str().unwrap_or_default().to_owned();
            let flags = entry["permissions"].as_array().into_iter().flatten();
            let permissions = flags
                .filter_map(Value::as_str)
                .map(permission)
                .fold(Permissions::empty(), |all, p| all | p);
            grant = add(grant, name, permissions);
        }
    }
    if !request["meta"].is_null() {
        grant = grant.meta(&request["meta"]);
    }
    check(&ctx, grant.issue())
}

fn permission(name: &str) -> Permissions {
    match name {
        "read" => Permissions::READ,
        "write" => Permissions::WRITE,
        "manage" => Permissions::MANAGE,
        "delete" => Permissions::DELETE,
        "get" => Permissions::GET,
        "update" => Permissions::UPDATE,
        "join" => Permissions::JOIN,
        _ => Permissions::empty(),
    }
}

fn permission_names(permissions: Permissions) -> Vec<&'static str> {
    [
        ("read", Permissions::READ),
        ("write", Permissions::WRITE),
        ("manage", Permissions::MANAGE),
        ("delete", Permissions::DELETE),
        ("get", Permissions::GET),
        ("update", Permissions::UPDATE),
        ("join", Permissions::JOIN),
    ]
    .into_iter()
    .filter(|(_, flag)| permissions.contains(*flag))
    .map(|(name, _)| name)
    .collect()
}

fn revoke_token(ctx: Ctx<'_>, token: String) -> Result<()> {
    host(&ctx, "pubnub.revokeToken")?;
    check(&ctx, tokens::revoke(&token))
}

/// The token's contents as JSON (`issued_at`, `ttl`, `authorized_uuid`,
/// `resources` and `patterns` each with `channels`, `groups` and `uuids`,
/// `meta`).
fn parse_token(ctx: Ctx<'_>, token: String) -> Result<String> {
    host(&ctx, "pubnub.parseToken")?;
    let info = check(&ctx, tokens::parse(&token))?;
    let grants = |list: &[tokens::ChannelGrant]| -> Vec<Value> {
        list.iter()
            .map(|g| json!({"name": g.name, "permissions": permission_names(g.permissions)}))
            .collect()
    };
    let parsed = json!({
        "issued_at": info.issued_at,
        "ttl": info.ttl_minutes,
        "authorized_uuid": info.user,
        "resources": {
            "channels": grants(&info.channels),
            "groups": grants(&info.groups.names),
            "uuids": grants(&info.uuids.names),
        },
        "patterns": {
            "channels": grants(&info.patterns),
            "groups": grants(&info.groups.patterns),
            "uuids": grants(&info.uuids.patterns),
        },
        "meta": info.meta,
    });
    Ok(parsed.to_string())
}

/// JSON text the host sends (a state, a payload, meta) or the modules send
/// (`JSON.stringify`'s) as a value (`null` should it not parse, which they
/// prevent).
fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Who is on `channels` (every channel with anyone when empty), as JSON:
/// `[{channel, occupancy, members: [{uuid, state}]}]` (`state` null when
/// not asked for or there is none).
fn here_now(
    ctx: Ctx<'_>,
    channels: Vec<String>,
    include_uuids: bool,
    include_state: bool,
) -> Result<String> {
    host(&ctx, "pubnub.hereNow")?;
    use edgefn_sdk::__private::bindings::edgefn::functions::presence;
    let found = presence::here_now(&channels, include_uuids, include_state)
        .or_else(|e| throw(&ctx, wit_error_message(e)))?;
    let answer: Vec<Value> = found
        .into_iter()
        .map(|c| {
            let members: Vec<Value> = c
                .members
                .into_iter()
                .map(|m| json!({"uuid": m.uuid, "state": m.state.as_deref().map(parsed)}))
                .collect();
            json!({"channel": c.channel, "occupancy": c.occupancy, "members": members})
        })
        .collect();
    Ok(Value::Array(answer).to_string())
}

fn where_now(ctx: Ctx<'_>, uuid: String) -> Result<Vec<String>> {
    host(&ctx, "pubnub.whereNow")?;
    use edgefn_sdk::__private::bindings::edgefn::functions::presence;
    presence::where_now(&uuid).or_else(|e| throw(&ctx, wit_error_message(e)))
}

/// `uuid`'s state on each of `channels`, as JSON: `[[channel, state or null]]`.
fn get_state(ctx: Ctx<'_>, uuid: String, channels: Vec<String>) -> Result<String> {
    host(&ctx, "pubnub.getState")?;
    use edgefn_sdk::__private::bindings::edgefn::functions::presence;
    let states =
        presence::get_state(&uuid, &channels).or_else(|e| throw(&ctx, wit_error_message(e)))?;
    let answer: Vec<Value> = states
        .into_iter()
        .map(|(channel, state)| json!([channel, state.as_deref().map(parsed)]))
        .collect();
    Ok(Value::Array(answer).to_string())
}

/// Sets `uuid`'s state (JSON text of an object) on `channels`.
fn set_state(ctx: Ctx<'_>, uuid: String, channels: Vec<String>, state: String) -> Result<()> {
    host(&ctx, "pubnub.setState")?;
    use edgefn_sdk::__private::bindings::edgefn::functions::presence;
    presence::set_state(&uuid, &channels, &state).or_else(|e| throw(&ctx, wit_error_message(e)))
}

/// How many stored messages each of `channels` has newer than its
/// timetoken (one for all, or one per channel).
fn message_counts(
    ctx: Ctx<'_>,
    channels: Vec<String>,
    timetokens: Vec<String>,
) -> Result<Vec<f64>> {
    host(&ctx, "pubnub.messageCounts")?;
    use edgefn_sdk::__private::bindings::edgefn::functions::history;
    let counts = history::message_counts(&channels, &timetokens)
        .or_else(|e| throw(&ctx, wit_error_message(e)))?;
    Ok(counts.into_iter().map(|n| n as f64).collect())
}

/// Deletes `channel`'s stored messages after `start` up to `end`.
fn delete_messages(
    ctx: Ctx<'_>,
    channel: String,
    start: Option<String>,
    end: Option<String>,
) -> Result<()> {
    host(&ctx, "pubnub.deleteMessages")?;
    use edgefn_sdk::__private::bindings::edgefn::functions::history;
    history::delete_messages(&channel, start.as_deref(), end.as_deref())
        .or_else(|e| throw(&ctx, wit_error_message(e)))
}

/// Stored messages of `channels`, as JSON: `[{channel, messages:
/// [{timetoken, message, meta, uuid}]}]`, oldest first (`meta` and `uuid`
/// null when absent).
fn fetch_history(
    ctx: Ctx<'_>,
    channels: Vec<String>,
    start: Option<String>,
    end: Option<String>,
    count: Option<f64>,
    include_meta: bool,
) -> Result<String> {
    host(&ctx, "pubnub.fetchMessages")?;
    use edgefn_sdk::__private::bindings::edgefn::functions::history;
    let count = whole(count);
    let found = history::fetch(
        &channels,
        start.as_deref(),
        end.as_deref(),
        count,
        include_meta,
    )
    .or_else(|e| throw(&ctx, wit_error_message(e)))?;
    let answer: Vec<Value> = found
        .into_iter()
        .map(|c| {
            let messages: Vec<Value> = c
                .messages
                .into_iter()
                .map(|m| {
                    json!({
                        "timetoken": m.timetoken,
                        "message": parsed(&m.payload),
                        "meta": m.meta.as_deref().map(parsed),
                        "uuid": m.publisher,
                    })
                })
                .collect();
            json!({"channel": c.channel, "messages": messages})
        })
        .collect();
    Ok(Value::Array(answer).to_string())
}

/// A count from JavaScript (a number, maybe fractional or out of range) as
/// the host takes it; none for NaN or an infinity.
fn whole(count: Option<f64>) -> Option<u32> {
    count
        .filter(|c| c.is_finite())
        .map(|c| c.clamp(0.0, f64::from(u32::MAX)) as u32)
}

/// An action in PubNub's JSON form.
fn action_json(action: actions::Action) -> Value {
    json!({
        "type": action.kind,
        "value": action.value,
        "uuid": action.uuid,
        "actionTimetoken": action.action_timetoken,
        "messageTimetoken": action.message_timetoken,
    })
}

/// Adds an action to a message, as JSON: `{type, value, uuid,
/// actionTimetoken, messageTimetoken}`.
fn add_message_action(
    ctx: Ctx<'_>,
    channel: String,
    message_timetoken: String,
    kind: String,
    value: String,
) -> Result<String> {
    host(&ctx, "pubnub.addMessageAction")?;
    let added = check(
        &ctx,
        actions::add(&channel, &message_timetoken, &kind, &value),
    )?;
    Ok(action_json(added).to_string())
}

/// A page of `channel`'s actions, as JSON: `{actions: [...], more}`.
fn get_message_actions(
    ctx: Ctx<'_>,
    channel: String,
    start: Option<String>,
    end: Option<String>,
    limit: Option<f64>,
) -> Result<String> {
    host(&ctx, "pubnub.getMessageActions")?;
    let query = actions::Query {
        start,
        end,
        limit: whole(limit),
    };
    let page = check(&ctx, actions::get(&channel, &query))?;
    let found: Vec<Value> = page.actions.into_iter().map(action_json).collect();
    Ok(json!({"actions": found, "more": page.more}).to_string())
}

/// Removes an action; whether there was one.
fn remove_message_action(
    ctx: Ctx<'_>,
    channel: String,
    message_timetoken: String,
    action_timetoken: String,
) -> Result<bool> {
    host(&ctx, "pubnub.removeMessageAction")?;
    check(
        &ctx,
        actions::remove(&channel, &message_timetoken, &action_timetoken),
    )
}

fn fetch<'js>(
    ctx: Ctx<'js>,
    method: String,
    url: String,
    headers: Vec<Vec<String>>,
    body: Option<String>,
    timeout_ms: Option<f64>,
) -> Result<Object<'js>> {
    host(&ctx, "xhr.fetch")?;
    let mut request = OutgoingRequest::new(method, url);
    for pair in headers {
        if let [name, value] = pair.as_slice() {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    if let Some(ms) = timeout_ms.filter(|ms| ms.is_finite() && *ms > 0.0) {
        request = request.timeout(Duration::from_millis(ms as u64));
    }
    let response = match request.send() {
        Ok(response) => response,
        Err(e) => return throw(&ctx, format!("xhr: {e}")),
    };
    let answer = Object::new(ctx)?;
    answer.set("status", response.status)?;
    let headers: Vec<Vec<String>> = response
        .headers
        .iter()
        .map(|(name, value)| vec![name.clone(), value.clone()])
        .collect();
    answer.set("headers", headers)?;
    answer.set("body", response.body_text())?;
    Ok(answer)
}
