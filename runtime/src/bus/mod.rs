//! The built-in message bus: channels, ordering, history and local fan-out.
//!
//! # Layout
//! - [`channel`]: channel names and subscription patterns;
//! - [`message`]: messages and their JSON forms;
//! - [`timetoken`]: message ids;
//! - [`sequencer`]: assigns timetokens, writes history, fans out, in order;
//! - [`hub`]: this node's subscribers and their bounded queues;
//! - [`recent`]: the window of recent deliveries that long-poll
//!   subscribers catch up from.

pub mod channel;
pub mod hub;
pub mod message;
pub mod recent;
pub mod sequencer;
pub mod timetoken;

use std::sync::Arc;

use futures::future::BoxFuture;

pub use self::channel::{Channel, NameError, Pattern, parse_pattern_list};
pub use self::hub::{Closed, Hub, Subscription};
pub use self::message::{
    Delivery, Message, MessageError, MessageKind, MessageView, Published, WireForm,
};
pub use self::sequencer::{Sequencer, SequencerError};
pub use self::timetoken::Timetoken;
use crate::cluster::log::ClusterLog;
use crate::config::BusConfig;
use crate::metrics::Metrics;
use crate::store::history::HistoryQuery;
use crate::store::{self, Store, StoreError};

/// The rest of a commit started with [`Bus::submit`].
pub type Commit = BoxFuture<'static, Result<Arc<Published>, SequencerError>>;

/// The bus of one node.
pub struct Bus {
    hub: Arc<Hub>,
    sequencer: Sequencer,
    store: Arc<Store>,
    config: BusConfig,
    /// In a cluster: the shared log that orders every channel.
    log: Option<Arc<ClusterLog>>,
}

impl Bus {
    /// Starts the bus over `store`; in a cluster, following `log` from the
    /// last entry applied here.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn start(
        store: Arc<Store>,
        config: BusConfig,
        metrics: Arc<Metrics>,
        log: Option<Arc<ClusterLog>>,
    ) -> Result<Self, StoreError> {
        let recent = recent::Recent::new(config.recent_messages, config.recent_bytes);
        let hub = Hub::new(config.subscriber_queue, recent, metrics);
        let last = store.last_timetoken()?;
        let sequencer = Sequencer::start(
            Arc::clone(&store),
            Arc::clone(&hub),
            last,
            config.history_per_channel,
            config.publish_queue,
        );
        if let Some(log) = &log {
            Arc::clone(log).follow(sequencer.clone());
        }
        Ok(Self {
            hub,
            sequencer,
            store,
            config,
            log,
        })
    }

    /// Commits a message that passed its hooks: timetoken, history, delivery.
    /// In a cluster it returns once the cluster log has it; local
    /// subscribers get it when this node applies the log.
    ///
    /// # Errors
    /// [`SequencerError`] when it could not be stored (it may have been
    /// delivered, but it is not acknowledged).
    pub async fn commit(&self, message: Message) -> Result<Arc<Published>, SequencerError> {
        self.submit(message).await?.await
    }

    /// Starts committing `message`: returns once its place in its channel's
    /// order is fixed (after every message submitted before it from this
    /// node), with the rest of the commit to await. A connection that
    /// publishes many messages submits each in turn and awaits them together.
    ///
    /// # Errors
    /// [`SequencerError`] when the node cannot take it now.
    pub async fn submit(&self, message: Message) -> Result<Commit, SequencerError> {
        match &self.log {
            None => {
                let applied = self.sequencer.enqueue(message).await?;
                Ok(Box::pin(async move {
                    applied.await.map_err(|_| SequencerError::Stopped)?
                }))
            }
            // Fires too: the after-publish work queues take them from the
            // log (every node skips them when it applies it).
            Some(log) => {
                let unavailable =
                    |e: crate::cluster::Unavailable| SequencerError::Cluster(e.to_string());
                let appended = log.submit(message).await.map_err(unavailable)?;
                Ok(Box::pin(async move {
                    appended.await.map(Arc::new).map_err(unavailable)
                }))
            }
        }
    }

    /// The timetoken of the last message this node applied (stored and
    /// delivered): every message it delivers later has a larger one, in a
    /// cluster too, whatever the clocks say. The cursor to hand a client
    /// that starts listening now.
    pub fn head(&self) -> Timetoken {
        self.sequencer.head()
    }

    /// A new local subscriber with no patterns yet.
    pub fn subscriber(&self) -> Subscription {
        self.hub.subscriber()
    }

    /// Part of one channel's history, oldest first. The limit is capped at
    /// the configured history size.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn history(
        &self,
        channel: Channel,
        mut query: HistoryQuery,
    ) -> Result<Vec<Published>, StoreError> {
        query.limit = query.limit.min(self.config.history_per_channel);
        let store = Arc::clone(&self.store);
        store::blocking(move || store.history(&channel, query)).await
    }

    /// Stored messages after `since` on channels matching `patterns`: a page
    /// of at most the configured replay limit, oldest first, and whether
    /// more follow it (ask again after the page's last timetoken).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn replay(
        &self,
        patterns: Vec<Pattern>,
        since: Timetoken,
    ) -> Result<(Vec<Published>, bool), StoreError> {
        let store = Arc::clone(&self.store);
        let limit = self.config.replay_limit;
        store::blocking(move || store.replay(&patterns, since, limit)).await
    }

    /// Messages delivered after `after` on channels matching `patterns`,
    /// from the window of recent deliveries: what a replay adds after its
    /// last page of history (a message is delivered before it is stored).
    pub fn delivered_after(&self, patterns: &[Pattern], after: Timetoken) -> Vec<Arc<Published>> {
        let (delivered, _) = self.hub.recent(patterns, after, usize::MAX);
        delivered
            .iter()
            .map(|delivery| Arc::clone(&delivery.published))
            .collect()
    }

    /// Messages delivered after `cursor` on channels matching `patterns`,
    /// at most `limit`, and whether none after `cursor` were evicted.
    pub fn recent(
        &self,
        patterns: &[Pattern],
        cursor: Timetoken,
        limit: usize,
    ) -> (Vec<Arc<Delivery>>, bool) {
        self.hub.recent(patterns, cursor, limit)
    }

    /// How many subscribers are connected to this node.
    pub fn subscriber_count(&self) -> usize {
        self.hub.subscriber_count()
    }
}
