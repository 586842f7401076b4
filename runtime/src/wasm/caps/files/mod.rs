//! The files capability: PubNub's shared files listed, linked and deleted
//! from inside a function, with the rules of [`crate::files`], on the
//! files the PubNub API keeps (in a cluster, the cluster's). Sharing a
//! file is a publish (the bus capability's `publish-file`). The function
//! acts with the node's authority: Access Manager does not apply. Each
//! call but `get-file-url` (which only signs a link, as PubNub's getFileUrl
//! only builds one) spends the bus budget.
//!
//! The node provides the files through [`SharedFiles`], so the sandbox
//! does not depend on how the node is wired.

mod host;

use std::sync::Arc;

use futures::future::BoxFuture;

use super::Budget;
use crate::bus::Channel;
use crate::files::{FileError, Page};

/// How the sandbox reads and deletes the node's shared files: as the
/// PubNub API does.
pub trait SharedFiles: Send + Sync {
    /// At most `limit` files of `channel`, after the page that answered
    /// `next`.
    fn list(
        &self,
        channel: Channel,
        limit: usize,
        next: Option<String>,
    ) -> BoxFuture<'static, Result<Page, FileError>>;

    /// A signed link that downloads `channel`'s file `id` named `name`.
    fn url(&self, channel: &Channel, id: &str, name: &str) -> Result<String, FileError>;

    /// Deletes `channel`'s file `id` named `name` ([`FileError::NotFound`]
    /// when there is none).
    fn delete(
        &self,
        channel: Channel,
        id: String,
        name: String,
    ) -> BoxFuture<'static, Result<(), FileError>>;
}

/// The files capability of one invocation.
pub struct FilesCtx {
    pub(crate) files: Arc<dyn SharedFiles>,
    /// A share of the invocation's bus budget.
    pub(crate) budget: Budget,
}
