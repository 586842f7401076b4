//! Presence: who is on which channel. Clients announce themselves with
//! heartbeats (every PubNub subscribe poll is one, as is
//! `/v2/presence/.../heartbeat`) and leave explicitly or by timing out.
//! Changes are published as events on `{channel}-pnpres`
//! (`{"action": "join" | "leave" | "timeout" | "state-change",
//! "timestamp": unix_seconds, "uuid": ..., "occupancy": n, "state"?}`),
//! never stored, delivered like any message.
//!
//! Single-node and in memory: a restart forgets who was present, and
//! clients announce themselves again with their next heartbeat.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::access::now;
use crate::bus::Channel;
use crate::bus::channel::PRESENCE_SUFFIX;

/// Events waiting to be published; beyond this they are dropped (counted in
/// the log) rather than block heartbeats.
const EVENT_QUEUE: usize = 10_000;
/// Shortest and longest presence timeout a client may ask for, in seconds.
pub const TIMEOUT_RANGE: (u64, u64) = (20, 3600);

/// A presence change, to be published on `{channel}-pnpres`.
#[derive(Debug, Clone)]
pub struct PresenceEvent {
    /// The channel whose presence changed (without the suffix).
    pub channel: Channel,
    /// The event's payload.
    pub payload: Value,
}

struct Member {
    expires: Instant,
    state: Option<Map<String, Value>>,
}

/// The node's presence table.
pub struct Presence {
    channels: Mutex<HashMap<Channel, BTreeMap<String, Member>>>,
    events: mpsc::Sender<PresenceEvent>,
}

impl Presence {
    /// An empty table, and the feed of its events.
    pub fn new() -> (Self, mpsc::Receiver<PresenceEvent>) {
        let (events, feed) = mpsc::channel(EVENT_QUEUE);
        let presence = Self {
            channels: Mutex::default(),
            events,
        };
        (presence, feed)
    }

    /// `uuid` is present on `channels` for `timeout` more; `state`, when
    /// given, replaces its state there. Emits `join` for channels it was not on.
    pub fn heartbeat(
        &self,
        uuid: &str,
        channels: &[Channel],
        timeout: Duration,
        state: Option<&Map<String, Value>>,
    ) {
        let expires = Instant::now() + timeout;
        let mut table = self.channels.lock().expect("presence lock poisoned");
        for channel in channels.iter().filter(|c| !c.is_presence()) {
            let members = table.entry(channel.clone()).or_default();
            let joined = !members.contains_key(uuid);
            let member = members.entry(uuid.to_owned()).or_insert(Member {
                expires,
                state: None,
            });
            member.expires = expires;
            if let Some(state) = state {
                member.state = Some(state.clone());
            }
            if joined {
                let occupancy = members.len();
                self.emit(channel, "join", uuid, occupancy, state);
            }
        }
    }

    /// `uuid` leaves `channels`; emits `leave` where it was present.
    pub fn leave(&self, uuid: &str, channels: &[Channel]) {
        let mut table = self.channels.lock().expect("presence lock poisoned");
        for channel in channels {
            let Some(members) = table.get_mut(channel) else {
                continue;
            };
            if members.remove(uuid).is_some() {
                let occupancy = members.len();
                if members.is_empty() {
                    table.remove(channel);
                }
                self.emit(channel, "leave", uuid, occupancy, None);
            }
        }
    }

    /// Sets `uuid`'s state on `channels` (it becomes present there if it
    /// was not); emits `state-change`.
    pub fn set_state(
        &self,
        uuid: &str,
        channels: &[Channel],
        timeout: Duration,
        state: &Map<String, Value>,
    ) {
        self.heartbeat(uuid, channels, timeout, Some(state));
        let table = self.channels.lock().expect("presence lock poisoned");
        for channel in channels {
            let occupancy = table.get(channel).map_or(0, BTreeMap::len);
            self.emit(channel, "state-change", uuid, occupancy, Some(state));
        }
    }

    /// `uuid`'s state on each of `channels` where it has one.
    pub fn state(&self, uuid: &str, channels: &[Channel]) -> Vec<(Channel, Map<String, Value>)> {
        let table = self.channels.lock().expect("presence lock poisoned");
        channels
            .iter()
            .filter_map(|c| {
                let state = table.get(c)?.get(uuid)?.state.clone()?;
                Some((c.clone(), state))
            })
            .collect()
    }

    /// Who is on each of `channels` (all channels with anyone when `None`),
    /// with their state.
    pub fn here_now(
        &self,
        channels: Option<&[Channel]>,
    ) -> Vec<(Channel, Vec<(String, Option<Map<String, Value>>)>)> {
        let table = self.channels.lock().expect("presence lock poisoned");
        let members = |members: &BTreeMap<String, Member>| {
            members
                .iter()
                .map(|(uuid, m)| (uuid.clone(), m.state.clone()))
                .collect::<Vec<_>>()
        };
        match channels {
            Some(channels) => channels
                .iter()
                .map(|c| (c.clone(), table.get(c).map(members).unwrap_or_default()))
                .collect(),
            None => table.iter().map(|(c, m)| (c.clone(), members(m))).collect(),
        }
    }

    /// The channels `uuid` is present on.
    pub fn where_now(&self, uuid: &str) -> Vec<Channel> {
        let table = self.channels.lock().expect("presence lock poisoned");
        table
            .iter()
            .filter(|(_, m)| m.contains_key(uuid))
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// Removes members whose heartbeats stopped; emits `timeout` for each.
    pub fn expire(&self) {
        let now = Instant::now();
        let mut table = self.channels.lock().expect("presence lock poisoned");
        table.retain(|channel, members| {
            let gone: Vec<String> = members
                .iter()
                .filter(|(_, m)| m.expires <= now)
                .map(|(u, _)| u.clone())
                .collect();
            for uuid in gone {
                members.remove(&uuid);
                self.emit(channel, "timeout", &uuid, members.len(), None);
            }
            !members.is_empty()
        });
    }

    fn emit(
        &self,
        channel: &Channel,
        action: &str,
        uuid: &str,
        occupancy: usize,
        state: Option<&Map<String, Value>>,
    ) {
        let mut payload =
            json!({ "action": action, "timestamp": now(), "uuid": uuid, "occupancy": occupancy });
        if let Some(state) = state {
            payload["state"] = Value::Object(state.clone());
        }
        let event = PresenceEvent {
            channel: channel.clone(),
            payload,
        };
        if self.events.try_send(event).is_err() {
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
        presence.heartbeat("a", &[ch("room"), ch("room-pnpres")], long, None);
        presence.heartbeat("a", &[ch("room")], long, None);
        presence.heartbeat("b", &[ch("room")], Duration::ZERO, None);
        let join = feed.recv().await.unwrap();
        assert_eq!(join.payload["action"], "join");
        assert_eq!(join.payload["occupancy"], 1);
        assert_eq!(feed.recv().await.unwrap().payload["occupancy"], 2);
        assert_eq!(presence.here_now(Some(&[ch("room")]))[0].1.len(), 2);
        presence.expire();
        let timeout = feed.recv().await.unwrap();
        assert_eq!(
            (
                timeout.payload["action"].as_str(),
                timeout.payload["uuid"].as_str()
            ),
            (Some("timeout"), Some("b"))
        );
        presence.leave("a", &[ch("room")]);
        assert_eq!(feed.recv().await.unwrap().payload["action"], "leave");
        assert!(presence.here_now(None).is_empty());
        assert!(presence.where_now("a").is_empty());
    }
}
