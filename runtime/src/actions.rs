//! Message actions, as PubNub defines them: small `type`/`value` records
//! (reactions, read receipts, edit markers) that a client attaches to a
//! published message, named by the message's timetoken. Each gets an action
//! timetoken of its own; subscribers of the channel hear of every one added
//! or removed as a message-action event (see [`event`]); history with
//! actions shows them grouped per message.
//!
//! Where they are kept is an [`ActionStore`]: the node's embedded store
//! alone ([`crate::store::actions`]), the cluster's JetStream bucket
//! otherwise ([`crate::cluster::actions`]). Each channel's actions are one
//! record, a [`ChannelActions`], that a store changes atomically, so the
//! duplicate check and the limits hold across nodes; all of the rules live
//! here, once, for both stores.
//!
//! Bounds ([`ActionLimits`], from `[pubnub]` in the config): actions per
//! message (more are refused), actions per channel (the oldest are dropped,
//! as history drops old messages), `value` size; `type` is at most
//! [`MAX_TYPE_CHARS`] characters and the author's uuid at most
//! [`MAX_UUID_CHARS`], as PubNub's.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::bus::{Channel, Message, MessageError, MessageKind, Timetoken};
use crate::config::PubNubConfig;

/// Longest action `type`, in characters (PubNub's SDKs refuse longer).
pub const MAX_TYPE_CHARS: usize = 15;
/// Longest client id, in characters (PubNub's).
pub const MAX_UUID_CHARS: usize = 92;
/// Most actions answered by one read (PubNub's).
pub const MAX_PAGE: usize = 100;

/// One action on one message, in PubNub's JSON form (timetokens as
/// strings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    /// Its kind (`reaction`, `receipt`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its value (`smiley_face`, `read`, ...).
    pub value: String,
    /// Who added it.
    pub uuid: String,
    /// Its own timetoken: its id within the channel.
    pub action_timetoken: Timetoken,
    /// The timetoken of the message it is attached to.
    pub message_timetoken: Timetoken,
}

/// How many actions a channel and a message may hold, and how large a
/// value may be.
#[derive(Debug, Clone, Copy)]
pub struct ActionLimits {
    /// Most actions on one message; more are refused.
    pub per_message: usize,
    /// Most actions kept per channel; past it the oldest are dropped.
    pub per_channel: usize,
    /// Longest `value`, in bytes.
    pub value_bytes: usize,
}

impl ActionLimits {
    /// The limits configured in `[pubnub]`.
    pub fn of(config: &PubNubConfig) -> Self {
        Self {
            per_message: config.max_actions_per_message.max(1),
            per_channel: config.max_actions_per_channel.max(1),
            value_bytes: config.max_action_value_bytes,
        }
    }
}

/// Why an action call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ActionError {
    /// The request is wrong (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// The same author already put the same `type`/`value` on the message
    /// (HTTP 409).
    #[error("Action Already Added")]
    Duplicate,
    /// The store could not answer; retrying may work (HTTP 503).
    #[error("message actions are unavailable: {0}")]
    Unavailable(String),
}

/// What an edit did to a channel's actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// This action was added.
    Added(Action),
    /// This action was removed.
    Removed(Action),
    /// Nothing changed (nothing to write).
    Unchanged,
}

/// An edit of one channel's actions, made by a store inside its atomic
/// change (it may run again when a concurrent change won).
pub type Edit = Box<dyn FnMut(&mut ChannelActions) -> Result<Change, ActionError> + Send>;

/// Where actions are kept: one [`ChannelActions`] record per channel.
pub trait ActionStore: Send + Sync + 'static {
    /// The actions of `channel` (none when it has no record).
    ///
    /// # Errors
    /// [`ActionError::Unavailable`] when the store cannot be read.
    fn read(
        self: Arc<Self>,
        channel: Channel,
    ) -> BoxFuture<'static, Result<ChannelActions, ActionError>>;

    /// Applies `edit` to the actions of `channel` and writes the result,
    /// atomically: nothing is written when it fails or changes nothing.
    ///
    /// # Errors
    /// The edit's own error, or [`ActionError::Unavailable`].
    fn edit(
        self: Arc<Self>,
        channel: Channel,
        edit: Edit,
    ) -> BoxFuture<'static, Result<Change, ActionError>>;
}

/// A channel's actions, oldest action first: the record a store keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelActions {
    actions: Vec<Action>,
}

/// Which actions to read: the newest `limit` with
/// `end <= action timetoken < start`.
#[derive(Debug, Clone, Copy)]
pub struct PageQuery {
    /// Only actions older than this (exclusive).
    pub start: Option<Timetoken>,
    /// Only actions at or after this (inclusive).
    pub end: Option<Timetoken>,
    /// How many at most (1 to [`MAX_PAGE`]).
    pub limit: usize,
}

/// A page of actions, oldest first, and whether older ones in the range
/// were left out (ask again with `start` = the first one's timetoken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The actions.
    pub actions: Vec<Action>,
    /// Whether the range holds more, older ones.
    pub more: bool,
}

impl ChannelActions {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Adds `action`, giving it the next action timetoken of the channel;
    /// drops the oldest actions past the channel's limit.
    fn add(&mut self, mut action: Action, limits: ActionLimits) -> Result<Change, ActionError> {
        let on_message = self
            .actions
            .iter()
            .filter(|a| a.message_timetoken == action.message_timetoken);
        let mut count = 0;
        for existing in on_message {
            if (&existing.kind, &existing.value, &existing.uuid)
                == (&action.kind, &action.value, &action.uuid)
            {
                return Err(ActionError::Duplicate);
            }
            count += 1;
        }
        if count >= limits.per_message {
            return Err(ActionError::Invalid(format!(
                "the message already holds {count} actions, the most allowed (pubnub.max_actions_per_message)"
            )));
        }
        let last = self
            .actions
            .last()
            .map_or(Timetoken(0), |a| a.action_timetoken);
        action.action_timetoken = Timetoken::next_after(last);
        self.actions.push(action.clone());
        let excess = self.actions.len().saturating_sub(limits.per_channel);
        self.actions.drain(..excess);
        Ok(Change::Added(action))
    }

    /// Removes the action `action` of message `message`, if it is there.
    fn remove(&mut self, message: Timetoken, action: Timetoken) -> Change {
        match self
            .actions
            .iter()
            .position(|a| a.action_timetoken == action && a.message_timetoken == message)
        {
            Some(at) => Change::Removed(self.actions.remove(at)),
            None => Change::Unchanged,
        }
    }

    /// The newest actions that `query` selects, oldest first.
    pub fn page(&self, query: PageQuery) -> Page {
        let in_range: Vec<&Action> = self
            .actions
            .iter()
            .filter(|a| query.start.is_none_or(|s| a.action_timetoken < s))
            .filter(|a| query.end.is_none_or(|e| a.action_timetoken >= e))
            .collect();
        let skip = in_range.len().saturating_sub(query.limit);
        Page {
            actions: in_range[skip..].iter().map(|a| (*a).clone()).collect(),
            more: skip > 0,
        }
    }

    /// The actions on message `message` as history with actions shows
    /// them: `{type: {value: [{uuid, actionTimetoken}]}}`.
    pub fn grouped(&self, message: Timetoken) -> Value {
        let mut types = Map::new();
        for action in self
            .actions
            .iter()
            .filter(|a| a.message_timetoken == message)
        {
            let values = types
                .entry(action.kind.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let authors = values
                .as_object_mut()
                .expect("a type holds an object of values")
                .entry(action.value.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            authors
                .as_array_mut()
                .expect("a value holds an array of authors")
                .push(json!({
                    "uuid": action.uuid,
                    "actionTimetoken": action.action_timetoken,
                }));
        }
        Value::Object(types)
    }
}

/// The node's message actions.
pub struct Actions {
    store: Arc<dyn ActionStore>,
    limits: ActionLimits,
}

impl Actions {
    /// Actions kept in `store`, within `limits`.
    pub fn new(store: Arc<dyn ActionStore>, limits: ActionLimits) -> Self {
        Self { store, limits }
    }

    /// Adds an action of `kind` and `value` by `uuid` on message `message`.
    ///
    /// # Errors
    /// [`ActionError::Invalid`] for an empty or oversized `type`, `value`
    /// or uuid, or a message full of actions; [`ActionError::Duplicate`];
    /// [`ActionError::Unavailable`].
    pub async fn add(
        &self,
        channel: Channel,
        message: Timetoken,
        kind: &str,
        value: &str,
        uuid: &str,
    ) -> Result<Action, ActionError> {
        self.check(kind, value, uuid)?;
        let action = Action {
            kind: kind.to_owned(),
            value: value.to_owned(),
            uuid: uuid.to_owned(),
            action_timetoken: Timetoken(0),
            message_timetoken: message,
        };
        let limits = self.limits;
        let edit: Edit = Box::new(move |actions| actions.add(action.clone(), limits));
        match Arc::clone(&self.store).edit(channel, edit).await? {
            Change::Added(action) => Ok(action),
            other => Err(ActionError::Unavailable(format!(
                "the store answered {other:?} to an addition"
            ))),
        }
    }

    /// Removes the action `action` of message `message`; the action
    /// removed, or none when there was no such action.
    ///
    /// # Errors
    /// [`ActionError::Unavailable`].
    pub async fn remove(
        &self,
        channel: Channel,
        message: Timetoken,
        action: Timetoken,
    ) -> Result<Option<Action>, ActionError> {
        let edit: Edit = Box::new(move |actions| Ok(actions.remove(message, action)));
        match Arc::clone(&self.store).edit(channel, edit).await? {
            Change::Removed(action) => Ok(Some(action)),
            _ => Ok(None),
        }
    }

    /// Every action of `channel`.
    ///
    /// # Errors
    /// [`ActionError::Unavailable`].
    pub async fn of_channel(&self, channel: Channel) -> Result<ChannelActions, ActionError> {
        Arc::clone(&self.store).read(channel).await
    }

    fn check(&self, kind: &str, value: &str, uuid: &str) -> Result<(), ActionError> {
        let invalid = |m: String| Err(ActionError::Invalid(m));
        if kind.is_empty() {
            return invalid("Missing action type".into());
        }
        if value.is_empty() {
            return invalid("Missing action value".into());
        }
        if uuid.is_empty() {
            return invalid("Missing uuid".into());
        }
        if kind.chars().count() > MAX_TYPE_CHARS {
            return invalid(format!(
                "action type is longer than {MAX_TYPE_CHARS} characters"
            ));
        }
        if uuid.chars().count() > MAX_UUID_CHARS {
            return invalid(format!("uuid is longer than {MAX_UUID_CHARS} characters"));
        }
        let most = self.limits.value_bytes;
        if value.len() > most {
            return invalid(format!(
                "action value is {} bytes, more than the {most} allowed (pubnub.max_action_value_bytes)",
                value.len()
            ));
        }
        Ok(())
    }
}

/// The event subscribers of `channel` get when `action` was `added` or
/// `removed`: a message-action message (PubNub envelope `e: 3`), published
/// by the action's author, never stored.
///
/// # Errors
/// When the event is larger than a message may be (values are bounded far
/// below it).
pub fn event(channel: Channel, added: bool, action: &Action) -> Result<Message, MessageError> {
    let payload = json!({
        "source": "actions",
        "version": "1.0",
        "event": if added { "added" } else { "removed" },
        "data": action,
    });
    let mut message = Message::new(
        channel,
        MessageKind::Action,
        &payload.to_string(),
        None,
        Some(action.uuid.clone()),
    )?;
    message.store = false;
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ActionLimits = ActionLimits {
        per_message: 3,
        per_channel: 5,
        value_bytes: 16,
    };

    fn action(message: u64, kind: &str, value: &str, uuid: &str) -> Action {
        Action {
            kind: kind.into(),
            value: value.into(),
            uuid: uuid.into(),
            action_timetoken: Timetoken(0),
            message_timetoken: Timetoken(message),
        }
    }

    fn added(change: Result<Change, ActionError>) -> Action {
        match change {
            Ok(Change::Added(action)) => action,
            other => panic!("not added: {other:?}"),
        }
    }

    #[test]
    fn adds_in_order_refusing_duplicates_and_full_messages() {
        let mut actions = ChannelActions::default();
        let first = added(actions.add(action(1, "reaction", "smile", "a"), LIMITS));
        let second = added(actions.add(action(1, "reaction", "smile", "b"), LIMITS));
        assert!(second.action_timetoken > first.action_timetoken);
        assert!(matches!(
            actions.add(action(1, "reaction", "smile", "a"), LIMITS),
            Err(ActionError::Duplicate)
        ));
        added(actions.add(action(1, "receipt", "read", "a"), LIMITS));
        assert!(matches!(
            actions.add(action(1, "reaction", "frown", "a"), LIMITS),
            Err(ActionError::Invalid(_))
        ));
        // Other messages still take actions; past the channel's limit the
        // oldest go.
        for uuid in ["a", "b", "c"] {
            added(actions.add(action(2, "reaction", "smile", uuid), LIMITS));
        }
        assert_eq!(actions.actions.len(), 5);
        assert_eq!(actions.actions[0], second);
    }

    #[test]
    fn removes_by_message_and_action_timetoken() {
        let mut actions = ChannelActions::default();
        let one = added(actions.add(action(1, "reaction", "smile", "a"), LIMITS));
        assert_eq!(
            actions.remove(Timetoken(2), one.action_timetoken),
            Change::Unchanged
        );
        assert_eq!(
            actions.remove(Timetoken(1), one.action_timetoken),
            Change::Removed(one)
        );
        assert!(actions.is_empty());
    }

    #[test]
    fn pages_are_the_newest_in_range_oldest_first() {
        let mut actions = ChannelActions::default();
        let all: Vec<Action> = (0..5)
            .map(|n| added(actions.add(action(n, "r", "v", "u"), LIMITS)))
            .collect();
        let tt = |n: usize| all[n].action_timetoken;
        let page = |start, end, limit| actions.page(PageQuery { start, end, limit });
        assert_eq!(
            page(None, None, 2),
            Page {
                actions: all[3..].to_vec(),
                more: true
            }
        );
        assert_eq!(
            page(Some(tt(3)), None, 2),
            Page {
                actions: all[1..3].to_vec(),
                more: true
            }
        );
        assert_eq!(
            page(Some(tt(3)), Some(tt(1)), 5),
            Page {
                actions: all[1..3].to_vec(),
                more: false
            }
        );
    }

    #[test]
    fn groups_a_message_s_actions_by_type_and_value() {
        let mut actions = ChannelActions::default();
        let a = added(actions.add(action(1, "reaction", "smile", "a"), LIMITS));
        let b = added(actions.add(action(1, "reaction", "smile", "b"), LIMITS));
        let c = added(actions.add(action(1, "receipt", "read", "a"), LIMITS));
        added(actions.add(action(2, "reaction", "smile", "a"), LIMITS));
        assert_eq!(
            actions.grouped(Timetoken(1)),
            json!({
                "reaction": {"smile": [
                    {"uuid": "a", "actionTimetoken": a.action_timetoken},
                    {"uuid": "b", "actionTimetoken": b.action_timetoken},
                ]},
                "receipt": {"read": [{"uuid": "a", "actionTimetoken": c.action_timetoken}]},
            })
        );
        assert_eq!(actions.grouped(Timetoken(3)), json!({}));
    }

    #[test]
    fn events_carry_pubnub_s_shape() {
        let mut one = action(1, "reaction", "smile", "a");
        one.action_timetoken = Timetoken(2);
        let message = event(Channel::parse("c").unwrap(), false, &one).unwrap();
        assert_eq!(message.kind, MessageKind::Action);
        assert!(!message.store);
        assert_eq!(message.publisher.as_deref(), Some("a"));
        let payload: Value = serde_json::from_str(message.payload.get()).unwrap();
        assert_eq!(
            payload,
            json!({"source": "actions", "version": "1.0", "event": "removed", "data": {
                "type": "reaction", "value": "smile", "uuid": "a",
                "actionTimetoken": "00000000000000002", "messageTimetoken": "00000000000000001"}})
        );
    }
}
