//! The broker contract: where a node's messages get their place in their
//! channel's order, and how every node learns that order.
//!
//! The bus owns the contract and the [`Sequencer`] that applies the order
//! (timetokens, delivery to local subscribers, history). A broker decides
//! the order: [`Embedded`] lets this node's sequencer decide it alone; the
//! NATS JetStream broker ([`crate::cluster::log`]) appends to a shared log
//! that every node follows into its own sequencer. Both are held to the
//! same conformance suite (`runtime/tests/broker.rs`).

use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;

use super::message::{Message, Published};
use super::sequencer::{Sequencer, SequencerError};

/// The rest of a commit started with [`Broker::submit`]: resolves to the
/// message as applied (with its timetoken) once it is durable.
pub type Commit = BoxFuture<'static, Result<Arc<Published>, SequencerError>>;

/// Orders the messages of a node (and of its peers, when it has any).
pub trait Broker: Send + Sync + 'static {
    /// Starts handing `sequencer` what this node must apply, in order, for
    /// as long as the node runs. Called once, as the bus starts.
    fn attach(self: Arc<Self>, sequencer: Sequencer);

    /// Fixes the place of `message` in its channel's order, after every
    /// message submitted before it through this broker, and returns the
    /// rest of its commit to await; so a connection that publishes many
    /// messages submits each in turn and awaits them together. Fires take
    /// a place too (after-publish work sees them) but are neither stored
    /// nor delivered.
    ///
    /// # Errors
    /// [`SequencerError`] when the broker cannot take it now.
    fn submit(&self, message: Message) -> BoxFuture<'_, Result<Commit, SequencerError>>;
}

/// The embedded broker: this node alone orders its messages, in its
/// sequencer.
#[derive(Default)]
pub struct Embedded {
    sequencer: OnceLock<Sequencer>,
}

impl Broker for Embedded {
    fn attach(self: Arc<Self>, sequencer: Sequencer) {
        if self.sequencer.set(sequencer).is_err() {
            tracing::error!("the embedded broker was attached twice; keeping the first sequencer");
        }
    }

    fn submit(&self, message: Message) -> BoxFuture<'_, Result<Commit, SequencerError>> {
        Box::pin(async move {
            let sequencer = self.sequencer.get().ok_or(SequencerError::Stopped)?;
            let applied = sequencer.enqueue(message).await?;
            let commit: Commit =
                Box::pin(async move { applied.await.map_err(|_| SequencerError::Stopped)? });
            Ok(commit)
        })
    }
}
