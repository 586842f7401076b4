//! The bus capability: publish, fire and signal from inside a function,
//! through the target channel's before-publish hooks like any other message,
//! within the bus budget (default 10 calls) and the chain limit.
//!
//! The node provides the publishing itself through [`Publisher`], so the
//! sandbox does not depend on how the node is wired.

mod host;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::Budget;
use crate::bus::{Message, Timetoken};

/// Deepest chain of function-made publishes: a message published by a
/// function triggered by a message of depth d has depth d + 1, and depth 4
/// is refused.
pub const MAX_CHAIN_DEPTH: u8 = 3;

/// Why the node did not publish a function's message.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// A hook rejected it or the message was unusable (the reason says which).
    Rejected(String),
    /// The node could not commit it now.
    Unavailable(String),
}

/// How the sandbox hands a function's message to the node.
pub trait Publisher: Send + Sync {
    /// Publishes `message` as the node publishes any message; a stored one
    /// stays in history `ttl_hours` of the node's hours (0: until trimmed).
    fn publish(
        &self,
        message: Message,
        ttl_hours: u32,
    ) -> Pin<Box<dyn Future<Output = Result<Timetoken, Refusal>> + Send>>;
}

/// The bus capability of one invocation.
pub struct BusCtx {
    pub(crate) publisher: Arc<dyn Publisher>,
    pub(crate) budget: Budget,
    /// The chain depth of the message that triggered this invocation (0 for
    /// endpoint and interval invocations).
    pub(crate) depth: u8,
    /// The publisher id its messages carry: `fn:NAME`.
    pub(crate) publisher_id: String,
}
