//! The built-in message bus: channels, ordering, history and local fan-out.
//!
//! # Layout
//! - [`channel`]: channel names and subscription patterns;
//! - [`message`]: messages and their JSON forms;
//! - [`timetoken`]: message ids;
//! - [`broker`]: the contract that orders messages, and the embedded
//!   broker (one node); the NATS one is [`crate::cluster::log`];
//! - [`history`]: the contract for durable history, which the store
//!   implements;
//! - [`sequencer`]: applies the broker's order: timetokens, fan-out,
//!   history;
//! - [`hub`]: this node's subscribers and their bounded queues;
//! - [`recent`]: the window of recent deliveries that long-poll
//!   subscribers catch up from.

pub mod broker;
pub mod channel;
pub mod history;
pub mod hub;
pub mod message;
pub mod recent;
pub mod sequencer;
pub mod timetoken;

use std::sync::Arc;

pub use self::broker::{Broker, Commit, Embedded};
pub use self::channel::{Channel, NameError, Pattern, parse_pattern_list};
pub use self::history::{Deletion, HistoryError, HistoryQuery, HistoryStore, LogPoint};
pub use self::hub::{Closed, Hub, Subscription};
pub use self::message::{
    Delivery, FUNCTION_ID_PREFIX, Message, MessageError, MessageKind, MessageView, Published,
    ReservedId, WireForm, check_client_id,
};
pub use self::sequencer::{Sequencer, SequencerError};
pub use self::timetoken::Timetoken;
use crate::bounds::{Limit, LimitReached};
use crate::config::BusConfig;
use crate::metrics::Metrics;

/// The bus of one node.
pub struct Bus {
    hub: Arc<Hub>,
    sequencer: Sequencer,
    history: Arc<dyn HistoryStore>,
    broker: Arc<dyn Broker>,
    config: BusConfig,
    metrics: Arc<Metrics>,
}

impl Bus {
    /// Starts the bus over `history`, ordered by `broker` ([`Embedded`] on
    /// a node alone).
    ///
    /// # Errors
    /// When history cannot be read.
    pub fn start(
        history: Arc<dyn HistoryStore>,
        broker: Arc<dyn Broker>,
        config: BusConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, HistoryError> {
        let recent = recent::Recent::new(config.recent_messages, config.recent_bytes);
        let hub = Hub::new(config.subscriber_queue, recent, Arc::clone(&metrics));
        let last = history.last_timetoken()?;
        let sequencer = Sequencer::start(
            Arc::clone(&history),
            Arc::clone(&hub),
            last,
            config.history_per_channel,
            config.publish_queue,
        );
        Arc::clone(&broker).attach(sequencer.clone());
        Ok(Self {
            hub,
            sequencer,
            history,
            broker,
            config,
            metrics,
        })
    }

    /// Commits a message that passed its hooks: timetoken, history,
    /// delivery. With a shared log it returns once the log has it and this
    /// node applied it.
    ///
    /// # Errors
    /// [`SequencerError`] when it could not be stored (it may have been
    /// delivered, but it is not acknowledged).
    pub async fn commit(&self, message: Message) -> Result<Arc<Published>, SequencerError> {
        self.submit(message).await?.await
    }

    /// Starts committing `message`: returns once its place in its channel's
    /// order is fixed (see [`Broker::submit`]), with the rest of the commit
    /// to await.
    ///
    /// # Errors
    /// [`SequencerError`] when the node cannot take it now;
    /// [`SequencerError::Limit`] when it is to be stored on a channel with
    /// no history and the node keeps as many channels with history as
    /// `[bus] max_history_channels` allows.
    pub async fn submit(&self, message: Message) -> Result<Commit, SequencerError> {
        if message.store && message.kind.is_stored() {
            self.check_history_room(&message.channel).await?;
        }
        self.broker.submit(message).await
    }

    /// Refuses a first stored message on `channel` when the node keeps as
    /// many channels with history as it may. (Publishes in flight together
    /// may pass it by a few.)
    async fn check_history_room(&self, channel: &Channel) -> Result<(), SequencerError> {
        let max = self.config.max_history_channels;
        let (history, name) = (Arc::clone(&self.history), channel.clone());
        let (channels, kept) = history::blocking(move || history.channels_with_history(&name))
            .await
            .map_err(SequencerError::History)?;
        if kept || channels < max as u64 {
            return Ok(());
        }
        self.metrics.refused(Limit::HistoryChannels);
        Err(SequencerError::Limit(LimitReached {
            limit: Limit::HistoryChannels,
            max,
        }))
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
    ) -> Result<Vec<Published>, HistoryError> {
        query.limit = query.limit.min(self.config.history_per_channel);
        let history = Arc::clone(&self.history);
        history::blocking(move || history.history(&channel, query)).await
    }

    /// How many stored messages of `channel` are newer than `after`.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn count_after(
        &self,
        channel: Channel,
        after: Timetoken,
    ) -> Result<u64, HistoryError> {
        let history = Arc::clone(&self.history);
        history::blocking(move || history.count_after(&channel, after)).await
    }

    /// Deletes `range` of `channel`'s history, in order with the messages
    /// (on every node, in a cluster); returns once this node applied it.
    ///
    /// # Errors
    /// [`SequencerError`] when it could not be applied.
    pub async fn delete(&self, channel: Channel, range: Deletion) -> Result<(), SequencerError> {
        self.commit(Message::deletion(channel, range))
            .await
            .map(drop)
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
    ) -> Result<(Vec<Published>, bool), HistoryError> {
        let history = Arc::clone(&self.history);
        let limit = self.config.replay_limit;
        history::blocking(move || history.replay(&patterns, since, limit)).await
    }

    /// The channels matching `patterns` whose history no longer holds
    /// every message after `since` (see [`HistoryStore::dropped_after`]):
    /// a subscriber resuming from there is told, rather than left with a
    /// silent gap.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn dropped_after(
        &self,
        patterns: Vec<Pattern>,
        since: Timetoken,
    ) -> Result<Vec<(Channel, Timetoken)>, HistoryError> {
        let history = Arc::clone(&self.history);
        history::blocking(move || history.dropped_after(&patterns, since)).await
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
