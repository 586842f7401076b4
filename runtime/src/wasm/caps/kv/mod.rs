//! The key-value capability: the node's shared store, within the
//! invocation's KV budget (default 10 calls) and the store's size limits.

mod host;

use std::sync::Arc;

use super::Budget;
use crate::store::Store;

/// The KV capability of one invocation.
pub struct KvCtx {
    pub(crate) store: Arc<Store>,
    pub(crate) budget: Budget,
}
