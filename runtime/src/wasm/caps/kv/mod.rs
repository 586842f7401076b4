//! The key-value capability: the node's (or cluster's) shared store, within
//! the invocation's KV budget (default 10 calls) and the store's size limits.

mod host;

use super::Budget;
use crate::kv::Kv;

/// The KV capability of one invocation.
pub struct KvCtx {
    pub(crate) kv: Kv,
    pub(crate) budget: Budget,
}
