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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;

use super::reply::{self, PnError, Shape};
use super::request::{PnRequest, check_subscribe_key};
use crate::access::Permissions;
use crate::bus::Channel;
use crate::http::extract::Path;
use crate::node::Node;
use crate::store::{self, Store, StoreError};

/// Most channels in one group (PubNub's limit).
pub const MAX_CHANNELS_PER_GROUP: usize = 2000;

/// The node's channel groups.
pub struct Groups {
    store: Arc<Store>,
    groups: RwLock<BTreeMap<String, BTreeSet<Channel>>>,
    /// Serialises changes so the store and memory stay in step.
    changes: tokio::sync::Mutex<()>,
}

impl Groups {
    /// The groups recorded in `store`.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn load(store: Arc<Store>) -> Result<Self, StoreError> {
        let mut groups = BTreeMap::new();
        for (name, channels) in store.groups()? {
            let channels = channels
                .iter()
                .filter_map(|c| Channel::parse(c).ok())
                .collect();
            groups.insert(name, channels);
        }
        Ok(Self {
            store,
            groups: RwLock::new(groups),
            changes: tokio::sync::Mutex::new(()),
        })
    }

    /// The channels of `group` (none when it does not exist).
    pub fn channels(&self, group: &str) -> Vec<Channel> {
        let groups = self.groups.read().expect("groups lock poisoned");
        groups
            .get(group)
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The groups' names.
    pub fn names(&self) -> Vec<String> {
        self.groups
            .read()
            .expect("groups lock poisoned")
            .keys()
            .cloned()
            .collect()
    }

    /// Adds `add` to and removes `remove` from `group`, durably.
    ///
    /// # Errors
    /// When the store fails (nothing changes then).
    pub async fn change(
        &self,
        group: &str,
        add: Vec<Channel>,
        remove: &[Channel],
    ) -> Result<(), StoreError> {
        let _change = self.changes.lock().await;
        let mut channels: BTreeSet<Channel> = self.channels(group).into_iter().collect();
        channels.extend(add);
        channels.retain(|c| !remove.contains(c));
        self.save(group, channels).await
    }

    /// Deletes `group`, durably.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn delete(&self, group: &str) -> Result<(), StoreError> {
        let _change = self.changes.lock().await;
        self.save(group, BTreeSet::new()).await
    }

    async fn save(&self, group: &str, channels: BTreeSet<Channel>) -> Result<(), StoreError> {
        let names: Vec<String> = channels.iter().map(Channel::to_string).collect();
        let (store, key) = (Arc::clone(&self.store), group.to_owned());
        store::blocking(move || store.put_group(&key, &names)).await?;
        let mut groups = self.groups.write().expect("groups lock poisoned");
        if channels.is_empty() {
            groups.remove(group);
        } else {
            groups.insert(group.to_owned(), channels);
        }
        Ok(())
    }
}

fn ok_answer() -> Response {
    reply::ok(
        json!({ "status": 200, "message": "OK", "service": "channel-registry", "error": false }),
    )
}

fn storage(e: StoreError) -> PnError {
    PnError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        e.to_string(),
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
    if node.groups.channels(&group).len() + add.len() > MAX_CHANNELS_PER_GROUP {
        return Err(bad(format!(
            "a channel group holds at most {MAX_CHANNELS_PER_GROUP} channels"
        )));
    }
    node.groups
        .change(&group, add, &remove)
        .await
        .map_err(storage)?;
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
