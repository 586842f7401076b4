//! The node's parts lent to the sandbox's capabilities, each through the
//! trait the capability owns: the publish path, the presence table,
//! history, message actions, App Context objects and memberships, channel
//! groups and shared files. They are the ones the PubNub API uses, changed
//! through the same calls (events and limits included), so a function's
//! change is seen by every client and, in a cluster, by every node.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::{Node, PublishError};
use crate::actions::{Action, ActionError, Page, PageQuery};
use crate::bus::{Channel, Deletion, HistoryQuery, Message, Published, Timetoken};
use crate::clock::unix_ms;
use crate::files::{self, FileError};
use crate::objects::{Kind, ListPage, ListQuery, Object, ObjectError};
use crate::presence::{Members, TIMEOUT_RANGE};
use crate::pubnub::groups::GroupError;
use crate::pubnub::{
    actions as pubnub_actions, files as pubnub_files, memberships as pubnub_memberships,
    objects as pubnub_objects,
};
use crate::wasm::caps::actions::ActionBook;
use crate::wasm::caps::bus::{Publisher, Refusal};
use crate::wasm::caps::files::SharedFiles;
use crate::wasm::caps::groups::{ChannelGroups, GroupRefusal};
use crate::wasm::caps::history::HistoryReader;
use crate::wasm::caps::objects::{AppContext, MembershipPage};
use crate::wasm::caps::presence::{PresenceTable, States};

/// The node's publish path, lent to the sandbox's bus capability.
#[derive(Default)]
pub(super) struct NodePublisher {
    pub(super) node: OnceLock<Weak<Node>>,
}

impl Publisher for NodePublisher {
    fn publish(
        &self,
        mut message: Message,
        ttl_hours: u32,
    ) -> Pin<Box<dyn Future<Output = Result<Timetoken, Refusal>> + Send>> {
        let node = self.node.get().and_then(Weak::upgrade);
        Box::pin(async move {
            let node =
                node.ok_or_else(|| Refusal::Unavailable("the node is shutting down".into()))?;
            message.expire_after(ttl_hours.into(), node.config.pubnub.ttl_hour_secs);
            match node.publish(message).await {
                Ok(published) => Ok(published.timetoken),
                Err(PublishError::Bus(e)) => Err(Refusal::Unavailable(e.to_string())),
                Err(e) => Err(Refusal::Rejected(e.to_string())),
            }
        })
    }
}

/// The node's presence table, history, message actions, App Context
/// objects and memberships, channel groups and files, lent to the
/// sandbox's capabilities of those names.
#[derive(Default)]
pub(super) struct NodeReader {
    pub(super) node: OnceLock<Weak<Node>>,
}

impl NodeReader {
    fn node(&self) -> Result<Arc<Node>, String> {
        self.node
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| "the node is shutting down".into())
    }
}

impl PresenceTable for NodeReader {
    fn here_now(&self, channels: Option<&[Channel]>) -> Result<Vec<(Channel, Members)>, String> {
        Ok(self.node()?.presence.here_now(channels))
    }

    fn where_now(&self, uuid: &str) -> Result<Vec<Channel>, String> {
        Ok(self.node()?.presence.where_now(uuid))
    }

    fn state(&self, uuid: &str, channels: &[Channel]) -> Result<States, String> {
        Ok(self.node()?.presence.state(uuid, channels))
    }

    fn set_state(
        &self,
        uuid: &str,
        channels: &[Channel],
        state: &Map<String, Value>,
    ) -> Result<(), String> {
        let node = self.node()?;
        // As the PubNub API's set-state without a `heartbeat` parameter.
        let secs = node.config.pubnub.presence_timeout_secs;
        let timeout = Duration::from_secs(secs.clamp(TIMEOUT_RANGE.0, TIMEOUT_RANGE.1));
        node.presence
            .set_state(uuid, channels, timeout, state)
            .map_err(|e| e.to_string())
    }
}

impl HistoryReader for NodeReader {
    fn history(
        &self,
        channel: Channel,
        query: HistoryQuery,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Published>, String>> + Send>> {
        let node = self.node();
        Box::pin(async move {
            node?
                .bus
                .history(channel, query)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn count_after(
        &self,
        channel: Channel,
        after: Timetoken,
    ) -> Pin<Box<dyn Future<Output = Result<u64, String>> + Send>> {
        let node = self.node();
        Box::pin(async move {
            node?
                .bus
                .count_after(channel, after)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn delete(
        &self,
        channel: Channel,
        range: Deletion,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
        let node = self.node();
        Box::pin(async move {
            node?
                .bus
                .delete(channel, range)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

impl ActionBook for NodeReader {
    fn add(
        &self,
        channel: Channel,
        message: Timetoken,
        kind: String,
        value: String,
        uuid: String,
    ) -> BoxFuture<'static, Result<Action, ActionError>> {
        let node = self.node();
        Box::pin(async move {
            let node = node.map_err(ActionError::Unavailable)?;
            let action = node
                .actions
                .add(channel.clone(), message, &kind, &value, &uuid)
                .await?;
            pubnub_actions::announce(&node, channel, true, &action).await;
            Ok(action)
        })
    }

    fn page(
        &self,
        channel: Channel,
        query: PageQuery,
    ) -> BoxFuture<'static, Result<Page, ActionError>> {
        let node = self.node();
        Box::pin(async move {
            let node = node.map_err(ActionError::Unavailable)?;
            Ok(node.actions.of_channel(channel).await?.page(query))
        })
    }

    fn remove(
        &self,
        channel: Channel,
        message: Timetoken,
        action: Timetoken,
    ) -> BoxFuture<'static, Result<bool, ActionError>> {
        let node = self.node();
        Box::pin(async move {
            let node = node.map_err(ActionError::Unavailable)?;
            let removed = node
                .actions
                .remove(channel.clone(), message, action)
                .await?;
            if let Some(removed) = &removed {
                pubnub_actions::announce(&node, channel, false, removed).await;
            }
            Ok(removed.is_some())
        })
    }
}

impl AppContext for NodeReader {
    fn get(&self, kind: Kind, id: String) -> BoxFuture<'static, Result<Object, ObjectError>> {
        let node = self.node();
        Box::pin(async move {
            let node = node.map_err(ObjectError::Unavailable)?;
            node.objects.get(kind, &id).await
        })
    }

    fn set(
        &self,
        kind: Kind,
        id: String,
        patch: Map<String, Value>,
        if_match: Option<String>,
        by: String,
    ) -> BoxFuture<'static, Result<Object, ObjectError>> {
        let node = self.node();
        Box::pin(async move {
            let node = node.map_err(ObjectError::Unavailable)?;
            let object = node
                .objects
                .set(kind, &id, patch, if_match, unix_ms())
                .await?;
            pubnub_objects::announce(&node, kind, Some(&object), &id, Some(&by)).await;
            Ok(object)
        })
    }

    fn remove(
        &self,
        kind: Kind,
        id: String,
        if_match: Option<String>,
        by: String,
    ) -> BoxFuture<'static, Result<bool, ObjectError>> {
        let node = self.node();
        Box::pin(async move {
            let node = node.map_err(ObjectError::Unavailable)?;
            let existed = node.objects.remove(kind, &id, if_match).await?;
            if existed {
                pubnub_objects::announce(&node, kind, None, &id, Some(&by)).await;
            }
            Ok(existed)
        })
    }

    fn list(
        &self,
        kind: Kind,
        query: ListQuery,
    ) -> BoxFuture<'static, Result<ListPage, ObjectError>> {
        let node = self.node();
        Box::pin(async move {
            let node = node.map_err(ObjectError::Unavailable)?;
            // A function sees every object (Access Manager does not apply).
            node.objects.list(kind, &query, |_| true).await
        })
    }

    fn memberships(
        &self,
        kind: Kind,
        id: String,
        query: ListQuery,
    ) -> BoxFuture<'static, Result<MembershipPage, ObjectError>> {
        let node = self.node();
        Box::pin(async move {
            let node = node.map_err(ObjectError::Unavailable)?;
            node.objects.memberships(kind, &id, &query).await
        })
    }

    fn manage_memberships(
        &self,
        kind: Kind,
        id: String,
        changes: Value,
        if_match: Option<String>,
        by: String,
    ) -> BoxFuture<'static, Result<(), ObjectError>> {
        let node = self.node();
        Box::pin(async move {
            let node = node.map_err(ObjectError::Unavailable)?;
            let changes = node
                .objects
                .parse_changes(kind, changes.to_string().as_bytes())?;
            let changed = node
                .objects
                .manage(kind, &id, changes, if_match, unix_ms())
                .await?;
            pubnub_memberships::announce(&node, &changed, &id, Some(&by)).await;
            Ok(())
        })
    }
}

impl ChannelGroups for NodeReader {
    fn channels(&self, group: &str) -> Result<Vec<Channel>, GroupRefusal> {
        let node = self.node().map_err(GroupRefusal::Unavailable)?;
        Ok(node.groups.channels(group))
    }

    fn names(&self) -> Result<Vec<String>, GroupRefusal> {
        let node = self.node().map_err(GroupRefusal::Unavailable)?;
        Ok(node.groups.names())
    }

    fn change(
        &self,
        group: String,
        add: Vec<Channel>,
        remove: Vec<Channel>,
    ) -> BoxFuture<'static, Result<(), GroupRefusal>> {
        let node = self.node();
        Box::pin(async move {
            let node = node.map_err(GroupRefusal::Unavailable)?;
            node.groups
                .change(&group, add, &remove)
                .await
                .map_err(|e| match e {
                    GroupError::Full | GroupError::TooMany(_) => {
                        GroupRefusal::Invalid(e.to_string())
                    }
                    GroupError::Unavailable(e) => GroupRefusal::Unavailable(e),
                })
        })
    }

    fn delete(&self, group: String) -> BoxFuture<'static, Result<(), GroupRefusal>> {
        let node = self.node();
        Box::pin(async move {
            let node = node.map_err(GroupRefusal::Unavailable)?;
            node.groups
                .delete(&group)
                .await
                .map_err(GroupRefusal::Unavailable)
        })
    }
}

impl SharedFiles for NodeReader {
    fn list(
        &self,
        channel: Channel,
        limit: usize,
        next: Option<String>,
    ) -> BoxFuture<'static, Result<files::Page, FileError>> {
        let node = self.node();
        Box::pin(async move {
            let node = node.map_err(FileError::Unavailable)?;
            node.files.list(channel, limit, next.as_deref()).await
        })
    }

    fn url(&self, channel: &Channel, id: &str, name: &str) -> Result<String, FileError> {
        let node = self.node().map_err(FileError::Unavailable)?;
        pubnub_files::download_url(&node, None, channel, (id, name))
    }

    fn delete(
        &self,
        channel: Channel,
        id: String,
        name: String,
    ) -> BoxFuture<'static, Result<(), FileError>> {
        let node = self.node();
        Box::pin(async move {
            let node = node.map_err(FileError::Unavailable)?;
            node.files.delete(channel, (&id, &name)).await
        })
    }
}
