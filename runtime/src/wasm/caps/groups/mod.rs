//! The channel-groups capability: PubNub's channel groups (named sets of
//! channels a client subscribes to at once) changed and read from inside a
//! function, on the same groups the PubNub API keeps (in a cluster, the
//! cluster's). The function acts with the node's authority: Access Manager
//! does not apply. Each call spends the bus budget (PubNub counts these as
//! API calls).
//!
//! The node provides the groups through [`ChannelGroups`], so the sandbox
//! does not depend on how the node is wired.

mod host;

use std::sync::Arc;

use futures::future::BoxFuture;

use super::Budget;
use crate::bus::Channel;

/// Why the node did not change or read a group.
#[derive(Debug, Clone)]
pub enum GroupRefusal {
    /// The change is not acceptable (the group would hold too many
    /// channels); the sentence says why.
    Invalid(String),
    /// The node could not do it now.
    Unavailable(String),
}

/// How the sandbox reads and changes the node's channel groups: as the
/// PubNub API does, limits included.
pub trait ChannelGroups: Send + Sync {
    /// The channels of `group` (none when it does not exist).
    fn channels(&self, group: &str) -> Result<Vec<Channel>, GroupRefusal>;

    /// Every group's name.
    fn names(&self) -> Result<Vec<String>, GroupRefusal>;

    /// Adds `add` to and removes `remove` from `group`, durably (a group
    /// left empty is deleted).
    fn change(
        &self,
        group: String,
        add: Vec<Channel>,
        remove: Vec<Channel>,
    ) -> BoxFuture<'static, Result<(), GroupRefusal>>;

    /// Deletes `group`, durably.
    fn delete(&self, group: String) -> BoxFuture<'static, Result<(), GroupRefusal>>;
}

/// The channel-groups capability of one invocation.
pub struct GroupsCtx {
    pub(crate) groups: Arc<dyn ChannelGroups>,
    /// A share of the invocation's bus budget.
    pub(crate) budget: Budget,
}

/// Checks a group name: groups are named as channels are (a subscribe
/// lists both the same way).
///
/// # Errors
/// A sentence naming the problem.
pub fn check_group(name: &str) -> Result<(), String> {
    Channel::parse(name)
        .map(drop)
        .map_err(|e| format!("invalid channel group name: {e}"))
}

/// Parses a list of channel names.
///
/// # Errors
/// A sentence naming the first bad one.
pub fn parse_channels(names: &[String]) -> Result<Vec<Channel>, String> {
    names
        .iter()
        .map(|name| Channel::parse(name).map_err(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_and_channel_names_are_checked() {
        check_group("friends.of.ann").unwrap();
        let refused = check_group("").unwrap_err();
        assert!(
            refused.starts_with("invalid channel group name"),
            "{refused}"
        );
        assert!(check_group("a,b").is_err());
        let channels = parse_channels(&["a".into(), "b.c".into()]).unwrap();
        assert_eq!(channels.len(), 2);
        assert!(parse_channels(&["ok".into(), "not ok".into()]).is_err());
    }
}
