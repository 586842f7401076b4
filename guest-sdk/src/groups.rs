//! Channel groups (PubNub's channel registration): named sets of at most
//! 2,000 channels that a client subscribes to at once (`channel-group=`),
//! the same groups the PubNub API keeps. The function acts with the node's
//! authority. Each call counts against the invocation's bus budget (10
//! calls by default, shared with publishing and the other PubNub calls).
//!
//! ```no_run
//! use edgefn_sdk::groups;
//!
//! groups::add_channels("friends.ann", &["chat.bob", "chat.cy"])?;
//! assert_eq!(groups::list_channels("friends.ann")?, ["chat.bob", "chat.cy"]);
//! groups::remove_channels("friends.ann", &["chat.cy"])?;
//! groups::delete_group("friends.ann")?;
//! # Ok::<(), edgefn_sdk::Error>(())
//! ```

use crate::__private::bindings::edgefn::functions::channel_groups as wit;
use crate::Error;

/// Adds `channels` to `group`, creating it. A group past 2,000 channels,
/// or a bad group or channel name, is an [`Error::Invalid`].
pub fn add_channels(group: &str, channels: &[impl AsRef<str>]) -> Result<(), Error> {
    wit::add_channels(group, &owned(channels)).map_err(Error::from_wit)
}

/// Removes `channels` from `group` (a group left empty is deleted).
pub fn remove_channels(group: &str, channels: &[impl AsRef<str>]) -> Result<(), Error> {
    wit::remove_channels(group, &owned(channels)).map_err(Error::from_wit)
}

/// The channels of `group`, in name order (none when it does not exist).
pub fn list_channels(group: &str) -> Result<Vec<String>, Error> {
    wit::list_channels(group).map_err(Error::from_wit)
}

/// Every group's name, in order.
pub fn list_groups() -> Result<Vec<String>, Error> {
    wit::list_groups().map_err(Error::from_wit)
}

/// Deletes `group`.
pub fn delete_group(group: &str) -> Result<(), Error> {
    wit::delete_group(group).map_err(Error::from_wit)
}

fn owned(channels: &[impl AsRef<str>]) -> Vec<String> {
    channels.iter().map(|c| c.as_ref().to_owned()).collect()
}
