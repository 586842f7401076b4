//! `GET /v2/subscribe/{sub}/{channels}/0`: PubNub's long-poll subscribe.
//!
//! - The handshake (no `tt`, or `tt=0`) answers at once with the current
//!   cursor and no messages: `{"t":{"t":"<tt>","r":1},"m":[]}`.
//! - A poll with `tt` answers the messages published after it on the
//!   channels (`a,b`; wildcards `a.*`; `-pnpres` presence channels) and the
//!   channel groups (`channel-group=g1,g2`), held until one arrives or
//!   `subscribe_timeout_secs` pass. Messages published between two polls
//!   are caught up from the node's recent-deliveries window, so a client
//!   resuming from its cursor misses nothing still in the window.
//! - `filter-expr` filters messages per subscriber on their meta and
//!   payload (see [`crate::pubnub::filter`]); filtered-out messages still
//!   move the cursor.
//! - Envelopes carry `b` (the wildcard or group a message came through),
//!   `u` (meta), `i` (publisher), `e: 1` for signals, `cmt`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::filter::Filter;
use super::presence;
use super::reply::{self, PnError, Shape};
use super::request::{PnRequest, check_subscribe_key, split_list};
use crate::access::Permissions;
use crate::bus::{Channel, Delivery, MessageKind, Pattern, Subscription, Timetoken};
use crate::http::extract::Path;
use crate::node::Node;

/// The region number in cursors (PubNub clients echo it back as `tr`).
const REGION: u32 = 1;

/// What one poll listens to.
struct Poll {
    /// Channel patterns from the path.
    direct: Vec<Pattern>,
    /// Channels from the groups, with their group's name.
    grouped: Vec<(Pattern, String)>,
    filter: Option<Filter>,
}

/// `GET /v2/subscribe/{sub}/{channels}/{callback}`.
pub async fn subscribe(
    State(node): State<Arc<Node>>,
    Path((sub_key, channels, _)): Path<(String, String, String)>,
    request: PnRequest,
) -> Result<Response, PnError> {
    check_subscribe_key(&node, &sub_key)?;
    let poll = Poll::parse(&node, &request, &channels)?;
    if let Some(uuid) = request.uuid() {
        let state = presence::state(&request)?;
        let present: Vec<Channel> = poll.direct.iter().filter_map(exact_channel).collect();
        node.presence.heartbeat(
            uuid,
            &present,
            presence::timeout(&node, &request),
            state.as_ref(),
        );
    }
    let cursor = match request
        .param("tt")
        .filter(|tt| !tt.is_empty() && *tt != "0")
    {
        Some(tt) => Some(
            tt.parse::<Timetoken>()
                .map_err(|e| bad_request(e.to_string()))?,
        ),
        None => None,
    };
    let Some(cursor) = cursor else {
        return Ok(answer(Timetoken::now(), Vec::new()));
    };
    let timeout = Duration::from_secs(node.config.pubnub.subscribe_timeout_secs);
    let (cursor, envelopes) = poll.wait(&node, cursor, timeout).await;
    Ok(answer(cursor, envelopes))
}

fn bad_request(message: String) -> PnError {
    PnError::new(StatusCode::BAD_REQUEST, message, Shape::Object)
}

fn answer(cursor: Timetoken, envelopes: Vec<Value>) -> Response {
    reply::ok(json!({ "t": { "t": cursor, "r": REGION }, "m": envelopes }))
}

impl Poll {
    fn parse(node: &Node, request: &PnRequest, channels: &str) -> Result<Self, PnError> {
        let names = split_list(channels);
        let groups = request.list("channel-group");
        if names.is_empty() && groups.is_empty() {
            return Err(bad_request(
                "no channels or channel groups to subscribe to".into(),
            ));
        }
        let max = node.config.http.max_patterns_per_subscriber;
        if names.len() + groups.len() > max {
            return Err(bad_request(format!(
                "at most {max} channels and groups per subscription"
            )));
        }
        let direct = names
            .iter()
            .map(|n| Pattern::parse(n))
            .collect::<Result<Vec<_>, _>>()?;
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let group_refs: Vec<&str> = groups.iter().map(String::as_str).collect();
        request.authorize(
            node,
            &[],
            Permissions::READ,
            &name_refs,
            &group_refs,
            Shape::Object,
        )?;
        let mut grouped = Vec::new();
        for group in &groups {
            for channel in node.groups.channels(group) {
                grouped.push((Pattern::Exact(channel), group.clone()));
            }
        }
        let filter = match request
            .param("filter-expr")
            .filter(|f| !f.trim().is_empty())
        {
            Some(text) => Some(
                Filter::parse(text)
                    .map_err(|e| bad_request(format!("Invalid filter expression: {e}")))?,
            ),
            None => None,
        };
        Ok(Self {
            direct,
            grouped,
            filter,
        })
    }

    fn patterns(&self) -> Vec<Pattern> {
        let mut patterns = self.direct.clone();
        patterns.extend(self.grouped.iter().map(|(p, _)| p.clone()));
        patterns
    }

    /// Messages after `cursor`: from the window if any, else the first to
    /// arrive (with whatever follows it at once), else none after `timeout`.
    async fn wait(
        &self,
        node: &Node,
        cursor: Timetoken,
        timeout: Duration,
    ) -> (Timetoken, Vec<Value>) {
        let batch = node.config.pubnub.subscribe_batch.max(1);
        let patterns = self.patterns();
        // Listen before looking at the window: a message delivered in
        // between is then in one or the other.
        let mut subscription = node.bus.subscriber();
        subscription.add(&patterns);
        let (recent, _) = node.bus.recent(&patterns, cursor, batch);
        let mut cursor = cursor;
        let mut envelopes = self.envelopes(node, &recent, &mut cursor);
        if !envelopes.is_empty() {
            return (cursor, envelopes);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut shutdown = node.shutting_down();
        while envelopes.is_empty() {
            let first = tokio::select! {
                delivery = subscription.recv() => delivery,
                _ = tokio::time::sleep_until(deadline) => break,
                _ = shutdown.changed() => break,
            };
            let Ok(first) = first else { break };
            let arrived = drain(first, &mut subscription, batch);
            envelopes = self.envelopes(node, &arrived, &mut cursor);
        }
        (cursor, envelopes)
    }

    /// Envelopes for `deliveries` newer than `cursor` that pass the filter;
    /// moves `cursor` past all of them.
    fn envelopes(
        &self,
        node: &Node,
        deliveries: &[Delivery],
        cursor: &mut Timetoken,
    ) -> Vec<Value> {
        let sub_key = &node.config.pubnub.subscribe_key;
        let mut envelopes = Vec::new();
        for delivery in deliveries {
            let published = &delivery.published;
            if published.timetoken <= *cursor {
                continue;
            }
            *cursor = published.timetoken;
            if self.passes(delivery) {
                envelopes.push(envelope(delivery, self.label(delivery), sub_key));
            }
        }
        envelopes
    }

    fn passes(&self, delivery: &Delivery) -> bool {
        let Some(filter) = &self.filter else {
            return true;
        };
        let message = &delivery.published.message;
        let payload: Value = serde_json::from_str(message.payload.get()).unwrap_or(Value::Null);
        let meta: Option<Value> = message
            .meta
            .as_ref()
            .and_then(|m| serde_json::from_str(m.get()).ok());
        filter.matches(&payload, meta.as_ref())
    }

    /// What `b` says: the wildcard or group a message came through (none
    /// when the channel was named directly).
    fn label(&self, delivery: &Delivery) -> Option<String> {
        let channel = &delivery.published.message.channel;
        if self
            .direct
            .iter()
            .any(|p| !p.is_wildcard() && p.matches(channel))
        {
            return None;
        }
        if let Some(wildcard) = self.direct.iter().find(|p| p.matches(channel)) {
            return Some(wildcard.to_string());
        }
        self.grouped
            .iter()
            .find(|(p, _)| p.matches(channel))
            .map(|(_, group)| group.clone())
    }
}

fn exact_channel(pattern: &Pattern) -> Option<Channel> {
    match pattern {
        Pattern::Exact(channel) => Some(channel.clone()),
        Pattern::Prefix(_) | Pattern::PresencePrefix(_) => None,
    }
}

/// The first delivery and those already queued behind it, up to `batch`.
fn drain(first: Delivery, subscription: &mut Subscription, batch: usize) -> Vec<Delivery> {
    let mut arrived = vec![first];
    while arrived.len() < batch {
        match subscription.try_recv() {
            Some(next) => arrived.push(next),
            None => break,
        }
    }
    arrived
}

/// One message as PubNub's subscribe answer carries it.
fn envelope(delivery: &Delivery, label: Option<String>, sub_key: &str) -> Value {
    let published = &delivery.published;
    let message = &published.message;
    let mut envelope = Map::new();
    envelope.insert("a".into(), "1".into());
    envelope.insert("f".into(), 0.into());
    if let Some(publisher) = &message.publisher {
        envelope.insert("i".into(), publisher.clone().into());
    }
    envelope.insert("p".into(), json!({ "t": published.timetoken, "r": REGION }));
    envelope.insert("k".into(), sub_key.into());
    envelope.insert("c".into(), message.channel.as_str().into());
    let payload = serde_json::from_str(message.payload.get()).unwrap_or(Value::Null);
    envelope.insert("d".into(), payload);
    if let Some(label) = label {
        envelope.insert("b".into(), label.into());
    }
    if let Some(meta) = message
        .meta
        .as_ref()
        .and_then(|m| serde_json::from_str::<Value>(m.get()).ok())
    {
        envelope.insert("u".into(), meta);
    }
    if message.kind == MessageKind::Signal {
        envelope.insert("e".into(), 1.into());
    }
    if let Some(custom) = &message.custom_type {
        envelope.insert("cmt".into(), custom.clone().into());
    }
    Value::Object(envelope)
}
