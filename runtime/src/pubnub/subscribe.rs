//! `GET /v2/subscribe/{sub}/{channels}/0`: PubNub's long-poll subscribe.
//!
//! - The handshake (no `tt`, or `tt=0`) answers at once with the current
//!   cursor and no messages: `{"t":{"t":"<tt>","r":1},"m":[]}`; the cursor
//!   is the timetoken of the last message the node applied (in a cluster,
//!   timetokens follow the log's order, not any node's clock).
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
//!   `u` (meta), `i` (publisher), `e: 1` for signals and `e: 3` for
//!   message actions, `cmt`. A message's envelope is encoded once for
//!   every poll that gets it through the same delivery; only `b` is added
//!   per poll.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::filter::Filter;
use super::presence;
use super::reply::{self, PnError, Shape};
use super::request::{PnRequest, check_subscribe_key, split_list};
use crate::access::Permissions;
use crate::bus::{Channel, Delivery, MessageKind, Pattern, Timetoken, WireForm};
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
        // Present on the channels named and those of the groups (presence
        // channels among them are left out by the presence table).
        // A poll past the presence table's limit still gets its messages:
        // only its presence is refused (counted, and logged).
        let present: Vec<Channel> = poll.patterns().iter().filter_map(exact_channel).collect();
        let heartbeat = node.presence.heartbeat(
            uuid,
            &present,
            presence::timeout(&node, &request),
            state.as_ref(),
        );
        if let Err(e) = heartbeat {
            tracing::debug!(uuid, error = %e, "subscriber not made present");
        }
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
        return Ok(answer(start_cursor(&node), Vec::new()));
    };
    let timeout = Duration::from_secs(node.config.pubnub.subscribe_timeout_secs);
    let (cursor, envelopes) = poll.wait(&node, cursor, timeout).await;
    Ok(answer(cursor, envelopes))
}

/// The cursor a handshake answers: the last timetoken this node applied,
/// so the next poll gets every message applied after the handshake. Not
/// the clock: in a cluster a message may get a timetoken behind this
/// node's clock (its appender's clock is behind), and it would be skipped.
/// Never `0`, which clients send to ask for a handshake.
fn start_cursor(node: &Node) -> Timetoken {
    node.bus.head().max(Timetoken(1))
}

fn bad_request(message: String) -> PnError {
    PnError::new(StatusCode::BAD_REQUEST, message, Shape::Object)
}

/// `{"t": <cursor>, "m": [envelopes]}`.
fn answer(cursor: Timetoken, envelopes: Vec<Bytes>) -> Response {
    let cursor = Cursor {
        t: cursor,
        r: REGION,
    };
    let mut body = BytesMut::new();
    body.put_slice(b"{\"t\":");
    body.put_slice(&serde_json::to_vec(&cursor).expect("a cursor serializes"));
    body.put_slice(b",\"m\":[");
    for (n, envelope) in envelopes.into_iter().enumerate() {
        if n > 0 {
            body.put_u8(b',');
        }
        body.put(envelope);
    }
    body.put_slice(b"]}");
    reply::ok_text(body.freeze())
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
            for channel in node.groups.subscribed_channels(group) {
                grouped.push((Pattern::Exact(channel), group.clone()));
            }
        }
        let covered = direct.len() + grouped.len();
        let most = node.config.pubnub.max_subscribed_channels;
        if covered > most {
            return Err(bad_request(format!(
                "this subscription covers {covered} channels with its channel groups; at most {most} are allowed (pubnub.max_subscribed_channels)"
            )));
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
    ) -> (Timetoken, Vec<Bytes>) {
        let batch = node.config.pubnub.subscribe_batch.max(1);
        let patterns = self.patterns();
        // Listen before looking at the window: a message delivered in
        // between is then in one or the other.
        let mut subscription = node.bus.subscriber();
        subscription.add(&patterns);
        let (recent, complete) = node.bus.recent(&patterns, cursor, batch);
        let mut cursor = cursor;
        let mut envelopes = if complete {
            self.envelopes(node, recent.iter().map(|d| &**d), &mut cursor)
        } else {
            self.catch_up_from_history(node, patterns.clone(), &mut cursor, batch)
                .await
        };
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
            let arrived = subscription.with_queued(first, batch);
            envelopes = self.envelopes(node, arrived.iter().map(|d| &**d), &mut cursor);
        }
        (cursor, envelopes)
    }

    /// When the window no longer reaches back to `cursor`: the oldest
    /// stored messages after it (so a client that was away longer than
    /// the window holds catches up from history, page by page, instead of
    /// silently skipping; what was never stored, such as signals, is gone).
    async fn catch_up_from_history(
        &self,
        node: &Node,
        patterns: Vec<Pattern>,
        cursor: &mut Timetoken,
        batch: usize,
    ) -> Vec<Bytes> {
        match node.bus.replay(patterns, *cursor).await {
            Ok((mut stored, _)) => {
                stored.truncate(batch);
                let deliveries: Vec<Delivery> = stored
                    .into_iter()
                    .map(|published| Delivery::new(Arc::new(published), None))
                    .collect();
                self.envelopes(node, deliveries.iter(), cursor)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read history for a long-poll subscriber behind the window");
                Vec::new()
            }
        }
    }

    /// Envelopes for `deliveries` newer than `cursor` that pass the filter;
    /// moves `cursor` past all of them.
    fn envelopes<'a>(
        &self,
        node: &Node,
        deliveries: impl IntoIterator<Item = &'a Delivery>,
        cursor: &mut Timetoken,
    ) -> Vec<Bytes> {
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

/// One message as PubNub's subscribe answer carries it, with `b` when it
/// came through a wildcard or a group.
fn envelope(delivery: &Delivery, label: Option<String>, sub_key: &str) -> Bytes {
    let open = delivery.encoded(WireForm::LongPoll, |delivery| {
        let mut text = serde_json::to_vec(&Envelope::of(delivery, sub_key))
            .expect("an envelope always serializes");
        // Left open for `b`.
        text.pop();
        Bytes::from(text)
    });
    let mut envelope = BytesMut::with_capacity(open.len() + 64);
    envelope.put(open);
    if let Some(label) = label {
        envelope.put_slice(b",\"b\":");
        envelope.put_slice(&serde_json::to_vec(&label).expect("a string serializes"));
    }
    envelope.put_u8(b'}');
    envelope.freeze()
}

/// The fields of an envelope, in PubNub's names.
#[derive(Serialize)]
struct Envelope<'a> {
    a: &'static str,
    f: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    i: Option<&'a str>,
    p: Cursor,
    k: &'a str,
    c: &'a str,
    d: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    u: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cmt: Option<&'a str>,
}

/// A cursor or a message's place: `{"t": "<timetoken>", "r": <region>}`.
#[derive(Serialize)]
struct Cursor {
    t: Timetoken,
    r: u32,
}

impl<'a> Envelope<'a> {
    fn of(delivery: &'a Delivery, sub_key: &'a str) -> Self {
        let published = &delivery.published;
        let message = &published.message;
        Self {
            a: "1",
            f: 0,
            i: message.publisher.as_deref(),
            p: Cursor {
                t: published.timetoken,
                r: REGION,
            },
            k: sub_key,
            c: message.channel.as_str(),
            d: &message.payload,
            u: message.meta.as_deref(),
            e: match message.kind {
                MessageKind::Signal => Some(1),
                MessageKind::Object => Some(2),
                MessageKind::Action => Some(3),
                MessageKind::File => Some(4),
                MessageKind::Publish | MessageKind::Fire | MessageKind::Delete => None,
            },
            cmt: message.custom_type.as_deref(),
        }
    }
}
