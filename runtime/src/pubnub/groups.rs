//! Channel groups (PubNub's channel registration): named sets of channels a
//! client subscribes to at once with `channel-group=`. Kept durably and in
//! memory.
//!
//! - `GET /v1/channel-registration/sub-key/{sub}/channel-group/{group}?add=a,b`
//!   (or `remove=a,b`) changes a group;
//! - `GET .../channel-group/{group}` lists its channels;
//! - `GET .../channel-group/{group}/remove` deletes it;
//! - `GET .../channel-group` lists the groups.
//!
//! With access control on, changing or listing a group needs `manage` on it.
//! A node keeps at most `[pubnub] max_channel_groups` groups.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use parking_lot::RwLock;
use serde_json::json;

use super::reply::{self, PnError, Shape};
use super::request::{PnRequest, check_subscribe_key};
use crate::access::Permissions;
use crate::bounds::{Limit, LimitReached};
use crate::bus::Channel;
use crate::bus::channel::PRESENCE_SUFFIX;
use crate::cluster::{Cluster, shared};
use crate::http::extract::Path;
use crate::metrics::Metrics;
use crate::node::Node;
use crate::store::{self, Store, StoreError};

/// Most channels in one group (PubNub's limit).
pub const MAX_CHANNELS_PER_GROUP: usize = 2000;

/// Why a group was not changed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GroupError {
    /// It would hold more than [`MAX_CHANNELS_PER_GROUP`] channels.
    #[error("a channel group holds at most {MAX_CHANNELS_PER_GROUP} channels")]
    Full,
    /// It is a new group and there are as many as the node keeps.
    #[error(transparent)]
    TooMany(LimitReached),
    /// The store failed (nothing changed).
    #[error("{0}")]
    Unavailable(String),
}

/// The node's channel groups.
pub struct Groups {
    store: Arc<Store>,
    /// In a cluster, where groups are kept instead (mirrored by every node).
    cluster: Option<Arc<Cluster>>,
    groups: RwLock<BTreeMap<String, BTreeSet<Channel>>>,
    /// Serialises changes so the store and memory stay in step.
    changes: tokio::sync::Mutex<()>,
    /// The most groups, and where refusals are counted.
    max_groups: usize,
    metrics: Arc<Metrics>,
}

impl Groups {
    /// The groups recorded in `store`.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn load(store: Arc<Store>, cluster: Option<Arc<Cluster>>) -> Result<Self, StoreError> {
        let mut groups = BTreeMap::new();
        let local = if cluster.is_some() {
            Vec::new()
        } else {
            store.groups()?
        };
        for (name, channels) in local {
            let channels = channels
                .iter()
                .filter_map(|c| Channel::parse(c).ok())
                .collect();
            groups.insert(name, channels);
        }
        Ok(Self {
            store,
            cluster,
            groups: RwLock::new(groups),
            changes: tokio::sync::Mutex::new(()),
            max_groups: usize::MAX,
            metrics: Arc::default(),
        })
    }

    /// These groups, at most `max_groups` of them, refusals counted in
    /// `metrics`.
    pub fn limited(mut self, max_groups: usize, metrics: Arc<Metrics>) -> Self {
        self.max_groups = max_groups;
        self.metrics = metrics;
        self
    }

    /// The channels of `group` (none when it does not exist).
    pub fn channels(&self, group: &str) -> Vec<Channel> {
        let groups = self.groups.read();
        groups
            .get(group)
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The channels a subscription to `group` covers: its channels, or for
    /// `g-pnpres` the presence channels of group `g`'s channels.
    pub fn subscribed_channels(&self, group: &str) -> Vec<Channel> {
        match group.strip_suffix(PRESENCE_SUFFIX) {
            Some(base) => self
                .channels(base)
                .iter()
                .filter_map(Channel::presence)
                .collect(),
            None => self.channels(group),
        }
    }

    /// The groups' names.
    pub fn names(&self) -> Vec<String> {
        self.groups.read().keys().cloned().collect()
    }

    /// Adds `add` to and removes `remove` from `group`, durably.
    ///
    /// # Errors
    /// [`GroupError::Full`] past the channels of a group,
    /// [`GroupError::TooMany`] for a new group past the most groups,
    /// [`GroupError::Unavailable`] when the store fails (nothing changes
    /// then).
    pub async fn change(
        &self,
        group: &str,
        add: Vec<Channel>,
        remove: &[Channel],
    ) -> Result<(), GroupError> {
        let _change = self.changes.lock().await;
        let mut channels: BTreeSet<Channel> = self.channels(group).into_iter().collect();
        channels.extend(add);
        channels.retain(|c| !remove.contains(c));
        if channels.len() > MAX_CHANNELS_PER_GROUP {
            return Err(GroupError::Full);
        }
        let at_most = {
            let groups = self.groups.read();
            !groups.contains_key(group) && groups.len() >= self.max_groups
        };
        if at_most && !channels.is_empty() {
            self.metrics.refused(Limit::ChannelGroups);
            return Err(GroupError::TooMany(LimitReached {
                limit: Limit::ChannelGroups,
                max: self.max_groups,
            }));
        }
        self.save(group, channels)
            .await
            .map_err(GroupError::Unavailable)
    }

    /// Deletes `group`, durably.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn delete(&self, group: &str) -> Result<(), String> {
        let _change = self.changes.lock().await;
        self.save(group, BTreeSet::new()).await
    }

    async fn save(&self, group: &str, channels: BTreeSet<Channel>) -> Result<(), String> {
        let names: Vec<String> = channels.iter().map(Channel::to_string).collect();
        match &self.cluster {
            Some(cluster) if names.is_empty() => shared::delete(cluster, shared::GROUPS, group)
                .await
                .map_err(|e| e.to_string())?,
            Some(cluster) => {
                let record = serde_json::to_vec(&names).expect("a list of strings serializes");
                shared::put(cluster, shared::GROUPS, group, record.into())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            None => {
                let (store, key, list) = (Arc::clone(&self.store), group.to_owned(), names.clone());
                store::blocking(move || store.put_group(&key, &list))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        self.apply(group, &names);
        Ok(())
    }

    /// Sets `group`'s channels in memory (for changes made here, or by
    /// another node of the cluster); an empty list removes it.
    pub fn apply(&self, group: &str, channels: &[String]) {
        let channels: BTreeSet<Channel> = channels
            .iter()
            .filter_map(|c| Channel::parse(c).ok())
            .collect();
        let mut groups = self.groups.write();
        if channels.is_empty() {
            groups.remove(group);
        } else {
            groups.insert(group.to_owned(), channels);
        }
    }
}

fn ok_answer() -> Response {
    reply::ok(
        json!({ "status": 200, "message": "OK", "service": "channel-registry", "error": false }),
    )
}

fn storage(e: String) -> PnError {
    PnError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        e,
        Shape::Object,
    )
}

fn bad(message: String) -> PnError {
    PnError::new(axum::http::StatusCode::BAD_REQUEST, message, Shape::Object)
        .service("channel-registry")
}

/// `GET .../channel-group/{group}` with `add=` / `remove=`, or listing.
pub async fn group(
    State(node): State<Arc<Node>>,
    Path((sub_key, group)): Path<(String, String)>,
    request: PnRequest,
    body: Bytes,
) -> Result<Response, PnError> {
    check_subscribe_key(&node, &sub_key)?;
    request.authorize_group(&node, &body, &group)?;
    let parse = |name: &str| {
        request
            .list(name)
            .iter()
            .map(|c| Channel::parse(c).map_err(|e| bad(e.to_string())))
            .collect::<Result<Vec<_>, _>>()
    };
    let (add, remove) = (parse("add")?, parse("remove")?);
    if add.is_empty() && remove.is_empty() {
        let channels: Vec<String> = node
            .groups
            .channels(&group)
            .iter()
            .map(Channel::to_string)
            .collect();
        return Ok(reply::ok(json!({
            "status": 200, "message": "OK", "service": "channel-registry", "error": false,
            "payload": { "group": group, "channels": channels },
        })));
    }
    node.groups
        .change(&group, add, &remove)
        .await
        .map_err(|e| match e {
            GroupError::Full => bad(e.to_string()),
            GroupError::TooMany(e) => PnError::limit(e, Shape::Object),
            GroupError::Unavailable(e) => storage(e),
        })?;
    Ok(ok_answer())
}

/// `GET .../channel-group/{group}/remove`.
pub async fn delete(
    State(node): State<Arc<Node>>,
    Path((sub_key, group)): Path<(String, String)>,
    request: PnRequest,
) -> Result<Response, PnError> {
    check_subscribe_key(&node, &sub_key)?;
    request.authorize_group(&node, &[], &group)?;
    node.groups.delete(&group).await.map_err(storage)?;
    Ok(ok_answer())
}

/// `GET .../channel-group`.
pub async fn list(
    State(node): State<Arc<Node>>,
    Path(sub_key): Path<String>,
    request: PnRequest,
) -> Result<Response, PnError> {
    check_subscribe_key(&node, &sub_key)?;
    request.authorize(&node, &[], Permissions::MANAGE, &[], &[], Shape::Object)?;
    Ok(reply::ok(json!({
        "status": 200, "message": "OK", "service": "channel-registry", "error": false,
        "payload": { "groups": node.groups.names(), "sub_key": sub_key },
    })))
}
