//! Presence: who is on which channel. Clients announce themselves with
//! heartbeats (every PubNub subscribe poll is one, as is
//! `/v2/presence/.../heartbeat`) and leave explicitly or by timing out.
//! Changes are published as events on `{channel}-pnpres`
//! (`{"action": "join" | "leave" | "timeout" | "state-change",
//! "timestamp": unix_seconds, "uuid": ..., "occupancy": n, "data"?}`, the
//! client's state under `data` as PubNub's SDKs read it),
//! never stored, delivered like any message, and handed to the
//! after-presence functions bound to the channel, by the node that
//! publishes them (see `publish_presence` in [`crate::node`]).
//!
//! The table is in memory: alone, a restart forgets who was present, and
//! clients announce themselves again with their next heartbeat. In a
//! cluster every node holds the whole cluster's table: the node that sees
//! a change writes it out ([`MemberWrite`], to the cluster's presence
//! bucket, see [`crate::cluster::presence`]) and publishes its event, and
//! every node applies the changes it watches ([`Presence::apply_remote`]),
//! publishing no event for them: so each change is one event cluster-wide.
//! There a heartbeat is written only when it moves a member's expiry by
//! more than a tenth of its timeout (at most 10 s), and a member whose
//! heartbeats stopped is timed out by the one node that deletes its entry.
//!
//! The table keeps at most `[pubnub] max_presence_members` members (one
//! per channel and uuid): a heartbeat or state change that would add more
//! is refused whole ([`LimitReached`]) until members leave or time out.
//! Members written by other nodes of a cluster are always applied.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::bounds::{Limit, LimitReached};
use crate::bus::Channel;
use crate::bus::channel::PRESENCE_SUFFIX;
use crate::clock::{unix_ms, unix_secs};
use crate::metrics::Metrics;

/// Events waiting to be published; beyond this they are dropped (counted in
/// the log) rather than block heartbeats.
const EVENT_QUEUE: usize = 10_000;
/// Shortest and longest presence timeout a client may ask for, in seconds.
pub const TIMEOUT_RANGE: (u64, u64) = (20, 3600);

/// The members of one channel and their states.
pub type Members = Vec<(String, Option<Map<String, Value>>)>;

/// What happened to a member of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceAction {
    /// It started heartbeating on the channel.
    Join,
    /// It left explicitly.
    Leave,
    /// Its heartbeats stopped.
    Timeout,
    /// It set its state.
    StateChange,
}

impl PresenceAction {
    /// The action's name in events: `join`, `leave`, `timeout`, `state-change`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Leave => "leave",
            Self::Timeout => "timeout",
            Self::StateChange => "state-change",
        }
    }
}

/// A presence change, to be published on `{channel}-pnpres` and handed to
/// the after-presence functions bound to the channel.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceEvent {
    /// The channel whose presence changed (without the suffix).
    pub channel: Channel,
    /// What happened.
    pub action: PresenceAction,
    /// The member's id.
    pub uuid: String,
    /// How many members the channel has after the change.
    pub occupancy: usize,
    /// When it happened, in seconds since the Unix epoch.
    pub timestamp: u64,
    /// The member's state, when the change carries one (a state change, or
    /// a join whose heartbeat set it).
    pub state: Option<Map<String, Value>>,
}

impl PresenceEvent {
    /// The event as published on `{channel}-pnpres`.
    pub fn payload(&self) -> Value {
        let mut payload = json!({ "action": self.action.as_str(), "timestamp": self.timestamp, "uuid": self.uuid, "occupancy": self.occupancy });
        if let Some(state) = &self.state {
            payload["data"] = Value::Object(state.clone());
        }
        payload
    }
}

/// One member of one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// When it times out unless it heartbeats, in ms since the Unix epoch.
    pub expires_ms: u64,
    /// Its state on the channel.
    pub state: Option<Map<String, Value>>,
}

/// A change to write to the cluster's presence table.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberWrite {
    /// A member (channel, uuid) joined, heartbeat or changed its state.
    Put(Channel, String, Member),
    /// A member (channel, uuid) left.
    Delete(Channel, String),
}

/// The node's presence table.
pub struct Presence {
    channels: Mutex<HashMap<Channel, BTreeMap<String, Member>>>,
    /// How many members `channels` holds in all (changed only with its
    /// lock held).
    members: AtomicUsize,
    /// The most members it may hold, and where refusals are counted.
    max_members: usize,
    metrics: Arc<Metrics>,
    events: mpsc::Sender<PresenceEvent>,
    /// In a cluster: where member changes go to be written out.
    writes: Option<mpsc::Sender<MemberWrite>>,
}

impl Presence {
    /// An empty table, and the feed of its events.
    pub fn new() -> (Self, mpsc::Receiver<PresenceEvent>) {
        let (events, feed) = mpsc::channel(EVENT_QUEUE);
        let presence = Self {
            channels: Mutex::default(),
            members: AtomicUsize::new(0),
            max_members: usize::MAX,
            metrics: Arc::default(),
            events,
            writes: None,
        };
        (presence, feed)
    }

    /// An empty table for a node of a cluster, the feed of its events, and
    /// the feed of the member changes to write to the cluster's table.
    pub fn shared() -> (
        Self,
        mpsc::Receiver<PresenceEvent>,
        mpsc::Receiver<MemberWrite>,
    ) {
        let (mut presence, events) = Self::new();
        let (writes, feed) = mpsc::channel(EVENT_QUEUE);
        presence.writes = Some(writes);
        (presence, events, feed)
    }

    /// The table holding at most `max_members` members, its refusals
    /// counted in `metrics`.
    pub fn limited(mut self, max_members: usize, metrics: Arc<Metrics>) -> Self {
        self.max_members = max_members;
        self.metrics = metrics;
        self
    }

    /// How much later than its recorded expiry a heartbeat must move a
    /// member's before it is written out: alone, any; in a cluster, a
    /// tenth of the timeout, at most 10 s (a busy subscriber heartbeats
    /// with every poll).
    fn refresh_after(&self, timeout: Duration) -> u64 {
        match self.writes {
            None => 0,
            Some(_) => (timeout.as_millis() as u64 / 10).min(10_000),
        }
    }

    /// `uuid` is present on `channels` for `timeout` more; `state`, when
    /// given, replaces its state there. Emits `join` for channels it was not on.
    ///
    /// # Errors
    /// [`LimitReached`] when the joins would take the table past its most
    /// members; nothing changes then.
    pub fn heartbeat(
        &self,
        uuid: &str,
        channels: &[Channel],
        timeout: Duration,
        state: Option<&Map<String, Value>>,
    ) -> Result<(), LimitReached> {
        let expires_ms = unix_ms() + timeout.as_millis() as u64;
        let refresh_after = self.refresh_after(timeout);
        let mut table = self.channels.lock();
        let joins: HashSet<&Channel> = channels
            .iter()
            .filter(|c| !c.is_presence())
            .filter(|c| !table.get(*c).is_some_and(|m| m.contains_key(uuid)))
            .collect();
        let members = self.members.load(Ordering::Relaxed);
        if members.saturating_add(joins.len()) > self.max_members {
            self.metrics.refused(Limit::PresenceMembers);
            return Err(LimitReached {
                limit: Limit::PresenceMembers,
                max: self.max_members,
            });
        }
        self.members.fetch_add(joins.len(), Ordering::Relaxed);
        for channel in channels.iter().filter(|c| !c.is_presence()) {
            let members = table.entry(channel.clone()).or_default();
            let joined = !members.contains_key(uuid);
            let member = members.entry(uuid.to_owned()).or_insert(Member {
                expires_ms: 0,
                state: None,
            });
            let moved = member.expires_ms + refresh_after < expires_ms;
            if !(joined || moved || state.is_some()) {
                continue;
            }
            member.expires_ms = member.expires_ms.max(expires_ms);
            if let Some(state) = state {
                member.state = Some(state.clone());
            }
            self.write(MemberWrite::Put(
                channel.clone(),
                uuid.to_owned(),
                member.clone(),
            ));
            if joined {
                let occupancy = members.len();
                self.emit(channel, PresenceAction::Join, uuid, occupancy, state);
            }
        }
        Ok(())
    }

    /// `uuid` leaves `channels`; emits `leave` where it was present.
    pub fn leave(&self, uuid: &str, channels: &[Channel]) {
        let mut table = self.channels.lock();
        for channel in channels {
            if let Some(occupancy) = self.remove(&mut table, channel, uuid) {
                self.write(MemberWrite::Delete(channel.clone(), uuid.to_owned()));
                self.emit(channel, PresenceAction::Leave, uuid, occupancy, None);
            }
        }
    }

    /// Sets `uuid`'s state on `channels` (it becomes present there if it
    /// was not); emits `state-change`.
    ///
    /// # Errors
    /// As [`Self::heartbeat`].
    pub fn set_state(
        &self,
        uuid: &str,
        channels: &[Channel],
        timeout: Duration,
        state: &Map<String, Value>,
    ) -> Result<(), LimitReached> {
        self.heartbeat(uuid, channels, timeout, Some(state))?;
        let table = self.channels.lock();
        for channel in channels {
            let occupancy = table.get(channel).map_or(0, BTreeMap::len);
            self.emit(
                channel,
                PresenceAction::StateChange,
                uuid,
                occupancy,
                Some(state),
            );
        }
        Ok(())
    }

    /// `uuid`'s state on each of `channels` where it has one.
    pub fn state(&self, uuid: &str, channels: &[Channel]) -> Vec<(Channel, Map<String, Value>)> {
        let now = unix_ms();
        let table = self.channels.lock();
        channels
            .iter()
            .filter_map(|c| {
                let member = table.get(c)?.get(uuid).filter(|m| m.expires_ms > now)?;
                Some((c.clone(), member.state.clone()?))
            })
            .collect()
    }

    /// Who is on each of `channels` (all channels with anyone when `None`),
    /// with their state.
    pub fn here_now(&self, channels: Option<&[Channel]>) -> Vec<(Channel, Members)> {
        let now = unix_ms();
        let table = self.channels.lock();
        let members = |members: &BTreeMap<String, Member>| {
            members
                .iter()
                .filter(|(_, m)| m.expires_ms > now)
                .map(|(uuid, m)| (uuid.clone(), m.state.clone()))
                .collect::<Vec<_>>()
        };
        match channels {
            Some(channels) => channels
                .iter()
                .map(|c| (c.clone(), table.get(c).map(members).unwrap_or_default()))
                .collect(),
            None => table
                .iter()
                .map(|(c, m)| (c.clone(), members(m)))
                .filter(|(_, m)| !m.is_empty())
                .collect(),
        }
    }

    /// The channels `uuid` is present on.
    pub fn where_now(&self, uuid: &str) -> Vec<Channel> {
        let now = unix_ms();
        let table = self.channels.lock();
        table
            .iter()
            .filter(|(_, m)| m.get(uuid).is_some_and(|m| m.expires_ms > now))
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// The members whose heartbeats stopped. Alone, each is removed at
    /// once, with a `timeout` event, and none are returned; in a cluster
    /// they are returned, for the node to claim each from the cluster's
    /// table and call [`Self::timed_out`] for those it claimed.
    pub fn expire(&self) -> Vec<(Channel, String)> {
        let now = unix_ms();
        let expired: Vec<(Channel, String)> = {
            let table = self.channels.lock();
            table
                .iter()
                .flat_map(|(channel, members)| {
                    members
                        .iter()
                        .filter(|(_, m)| m.expires_ms <= now)
                        .map(|(uuid, _)| (channel.clone(), uuid.clone()))
                })
                .collect()
        };
        if self.writes.is_some() {
            return expired;
        }
        for (channel, uuid) in expired {
            self.timed_out(&channel, &uuid);
        }
        Vec::new()
    }

    /// Removes `uuid` from `channel`, whose heartbeats stopped, with a
    /// `timeout` event (also when, in a cluster, the watch already removed
    /// it after this node claimed its timeout).
    pub fn timed_out(&self, channel: &Channel, uuid: &str) {
        let mut table = self.channels.lock();
        self.remove(&mut table, channel, uuid);
        let occupancy = table.get(channel).map_or(0, BTreeMap::len);
        self.emit(channel, PresenceAction::Timeout, uuid, occupancy, None);
    }

    /// Applies a change another node (or this one) wrote to the cluster's
    /// table: `member` for `uuid` on `channel`, or its removal (`None`).
    /// Its event was published by the node that made it.
    pub fn apply_remote(&self, channel: &Channel, uuid: &str, member: Option<Member>) {
        let mut table = self.channels.lock();
        match member {
            Some(member) => {
                let members = table.entry(channel.clone()).or_default();
                if members.insert(uuid.to_owned(), member).is_none() {
                    self.members.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                self.remove(&mut table, channel, uuid);
            }
        }
    }

    /// Removes `uuid` from `channel` in `table` (this table, locked);
    /// returns the channel's occupancy after, if it was there.
    fn remove(
        &self,
        table: &mut HashMap<Channel, BTreeMap<String, Member>>,
        channel: &Channel,
        uuid: &str,
    ) -> Option<usize> {
        let members = table.get_mut(channel)?;
        members.remove(uuid)?;
        self.members.fetch_sub(1, Ordering::Relaxed);
        let occupancy = members.len();
        if occupancy == 0 {
            table.remove(channel);
        }
        Some(occupancy)
    }

    fn write(&self, change: MemberWrite) {
        let Some(writes) = &self.writes else { return };
        if writes.try_send(change).is_err() {
            tracing::warn!("presence change not shared with the cluster: the write queue is full");
        }
    }

    fn emit(
        &self,
        channel: &Channel,
        action: PresenceAction,
        uuid: &str,
        occupancy: usize,
        state: Option<&Map<String, Value>>,
    ) {
        let event = PresenceEvent {
            channel: channel.clone(),
            action,
            uuid: uuid.to_owned(),
            occupancy,
            timestamp: unix_secs(),
            state: state.cloned(),
        };
        if self.events.try_send(event).is_err() {
            let action = action.as_str();
            tracing::warn!(channel = %channel, action, "presence event dropped: the event queue is full");
        }
    }
}

/// The channel `channel`'s presence events go to.
pub fn events_channel(channel: &Channel) -> Option<Channel> {
    Channel::parse(&format!("{channel}{PRESENCE_SUFFIX}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(name: &str) -> Channel {
        Channel::parse(name).unwrap()
    }

    #[tokio::test]
    async fn joins_leaves_and_timeouts() {
        let (presence, mut feed) = Presence::new();
        let long = Duration::from_secs(60);
        presence
            .heartbeat("a", &[ch("room"), ch("room-pnpres")], long, None)
            .unwrap();
        presence.heartbeat("a", &[ch("room")], long, None).unwrap();
        presence
            .heartbeat("b", &[ch("room")], Duration::from_millis(100), None)
            .unwrap();
        let join = feed.recv().await.unwrap();
        assert_eq!(join.payload()["action"], "join");
        assert_eq!(join.payload()["occupancy"], 1);
        assert_eq!(feed.recv().await.unwrap().payload()["occupancy"], 2);
        assert_eq!(presence.here_now(Some(&[ch("room")]))[0].1.len(), 2);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(presence.here_now(Some(&[ch("room")]))[0].1.len(), 1);
        assert!(
            presence.expire().is_empty(),
            "alone, expired members are removed at once"
        );
        let timeout = feed.recv().await.unwrap();
        assert_eq!(
            (
                timeout.payload()["action"].as_str(),
                timeout.payload()["uuid"].as_str()
            ),
            (Some("timeout"), Some("b"))
        );
        presence.leave("a", &[ch("room")]);
        assert_eq!(feed.recv().await.unwrap().payload()["action"], "leave");
        assert!(presence.here_now(None).is_empty());
        assert!(presence.where_now("a").is_empty());
    }

    #[tokio::test]
    async fn state_changes_carry_the_state_and_the_occupancy() {
        let (presence, mut feed) = Presence::new();
        let long = Duration::from_secs(60);
        presence.heartbeat("a", &[ch("room")], long, None).unwrap();
        let state = Map::from_iter([("mood".to_owned(), json!("busy"))]);
        presence
            .set_state("b", &[ch("room")], long, &state)
            .unwrap();
        assert_eq!(feed.recv().await.unwrap().action, PresenceAction::Join);
        // b was not present: its state set makes it join, with the state.
        let join = feed.recv().await.unwrap();
        assert_eq!(
            (join.action, join.uuid.as_str(), join.occupancy),
            (PresenceAction::Join, "b", 2)
        );
        assert_eq!(join.state.as_ref(), Some(&state));
        let change = feed.recv().await.unwrap();
        assert_eq!(
            (change.action, change.uuid.as_str(), change.occupancy),
            (PresenceAction::StateChange, "b", 2)
        );
        let payload = change.payload();
        assert_eq!(payload["action"], "state-change");
        assert_eq!(payload["data"], json!({"mood": "busy"}));
        assert_eq!(payload["timestamp"], change.timestamp);
        presence.leave("b", &[ch("room")]);
        let leave = feed.recv().await.unwrap();
        assert_eq!((leave.action, leave.occupancy), (PresenceAction::Leave, 1));
        assert!(leave.payload().get("data").is_none());
    }

    #[tokio::test]
    async fn in_a_cluster_changes_are_written_out_and_timeouts_claimed() {
        let (presence, mut events, mut writes) = Presence::shared();
        let timeout = Duration::from_secs(60);
        presence
            .heartbeat("a", &[ch("room")], timeout, None)
            .unwrap();
        let Ok(MemberWrite::Put(channel, uuid, member)) = writes.try_recv() else {
            panic!("a join is written out");
        };
        assert_eq!((channel.as_str(), uuid.as_str()), ("room", "a"));
        assert_eq!(events.recv().await.unwrap().payload()["action"], "join");
        // A heartbeat that moves the expiry by less than a tenth of the
        // timeout is not written; a state change is.
        presence
            .heartbeat("a", &[ch("room")], timeout, None)
            .unwrap();
        assert!(writes.try_recv().is_err());
        let state = Map::from_iter([("k".to_owned(), json!(1))]);
        presence
            .heartbeat("a", &[ch("room")], timeout, Some(&state))
            .unwrap();
        assert!(matches!(writes.try_recv(), Ok(MemberWrite::Put(..))));

        // Another node's member: in the table, no event of this node's.
        let expired = Member {
            expires_ms: member.expires_ms - 120_000,
            state: None,
        };
        presence.apply_remote(&ch("room"), "b", Some(expired));
        assert!(events.try_recv().is_err());
        assert_eq!(presence.here_now(None)[0].1.len(), 1, "b has expired");
        assert_eq!(presence.expire(), [(ch("room"), "b".to_owned())]);
        // The claim's own deletion may reach the table first.
        presence.apply_remote(&ch("room"), "b", None);
        presence.timed_out(&ch("room"), "b");
        let timeout = events.recv().await.unwrap();
        assert_eq!(
            (
                timeout.payload()["action"].as_str(),
                timeout.payload()["occupancy"].as_u64()
            ),
            (Some("timeout"), Some(1))
        );
        presence.leave("a", &[ch("room")]);
        assert_eq!(
            writes.try_recv().ok(),
            Some(MemberWrite::Delete(ch("room"), "a".to_owned()))
        );
    }

    #[tokio::test]
    async fn joins_past_the_most_members_are_refused_whole_and_counted() {
        let (presence, _feed) = Presence::new();
        let metrics = Arc::new(Metrics::new());
        let presence = presence.limited(3, Arc::clone(&metrics));
        let long = Duration::from_secs(60);
        presence
            .heartbeat("a", &[ch("x"), ch("y")], long, None)
            .unwrap();
        let refused = presence.heartbeat("b", &[ch("x"), ch("y")], long, None);
        assert_eq!(refused.unwrap_err().limit, Limit::PresenceMembers);
        assert!(
            presence.where_now("b").is_empty(),
            "a refused heartbeat joined"
        );
        // Members already there heartbeat as before; one more fits.
        presence
            .heartbeat("a", &[ch("x"), ch("y")], long, None)
            .unwrap();
        presence.heartbeat("b", &[ch("x")], long, None).unwrap();
        // A leave makes room again.
        presence.leave("a", &[ch("y")]);
        presence.heartbeat("c", &[ch("y")], long, None).unwrap();
        assert!(
            metrics
                .encode()
                .contains(r#"edgefn_limit_refusals_total{limit="presence_members"} 1"#)
        );
    }

    #[test]
    fn a_panic_while_the_table_is_locked_breaks_nothing_after() {
        let (presence, _feed) = Presence::new();
        let presence = Arc::new(presence);
        let holder = Arc::clone(&presence);
        let panicked = std::thread::spawn(move || {
            let _table = holder.channels.lock();
            panic!("a panic while holding the presence lock");
        })
        .join();
        assert!(panicked.is_err());
        let long = Duration::from_secs(60);
        presence.heartbeat("a", &[ch("room")], long, None).unwrap();
        assert_eq!(presence.where_now("a"), [ch("room")]);
    }
}
