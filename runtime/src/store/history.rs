//! Per-channel message history, bounded, in timetoken order: the embedded
//! implementation of the bus's [`HistoryStore`].

use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::sync::Arc;

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{COUNTERS, HISTORY, HISTORY_COUNTS, Result, Store, StoreError, db_err};
use crate::bus::{
    Channel, HistoryError, HistoryQuery, HistoryStore, LogPoint, Message, MessageKind, Pattern,
    Published, Timetoken,
};

/// Channel → the newest timetoken trimmed from its history (to keep it to
/// its per-channel limit): a replay from before it misses messages.
pub(super) const TRIMMED: TableDefinition<&str, u64> = TableDefinition::new("history_trimmed");
const LAST_TIMETOKEN: &str = "last_timetoken";
/// In a cluster: the last entry of the cluster log applied here.
const LOG_POSITION: &str = "log_position";
/// In a cluster: the timetoken that entry got (the chain's last link, see
/// [`crate::bus::sequencer`]), written with the position.
const LOG_TIMETOKEN: &str = "log_timetoken";

/// A history record as written.
#[derive(Serialize)]
struct StoredRef<'a> {
    message: &'a RawValue,
    meta: Option<&'a RawValue>,
    publisher: Option<&'a str>,
    kind: MessageKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_type: Option<&'a str>,
}

/// A history record as read back.
#[derive(Deserialize)]
struct Stored {
    message: Box<RawValue>,
    meta: Option<Box<RawValue>>,
    publisher: Option<String>,
    kind: MessageKind,
    #[serde(default)]
    custom_type: Option<String>,
}

impl From<StoreError> for HistoryError {
    fn from(e: StoreError) -> Self {
        Self::new(e)
    }
}

impl HistoryStore for Store {
    fn last_timetoken(&self) -> Result<Timetoken, HistoryError> {
        let txn = self.read()?;
        let counters = txn.open_table(COUNTERS).map_err(db_err)?;
        let last = counters.get(LAST_TIMETOKEN).map_err(db_err)?;
        Ok(Timetoken(last.map_or(0, |v| v.value())))
    }

    /// In one durable transaction (one fsync).
    fn append(
        &self,
        batch: &[Arc<Published>],
        per_channel: usize,
        applied: Option<LogPoint>,
    ) -> Result<(), HistoryError> {
        let txn = self.write()?;
        {
            let mut history = txn.open_table(HISTORY).map_err(db_err)?;
            let mut counts = txn.open_table(HISTORY_COUNTS).map_err(db_err)?;
            let mut trimmed = txn.open_table(TRIMMED).map_err(db_err)?;
            for published in batch {
                let message = &published.message;
                let channel = message.channel.as_str();
                let record = serde_json::to_vec(&StoredRef {
                    message: &message.payload,
                    meta: message.meta.as_deref(),
                    publisher: message.publisher.as_deref(),
                    kind: message.kind,
                    custom_type: message.custom_type.as_deref(),
                })
                .expect("a history record always serializes");
                let key = (channel, published.timetoken.0);
                history.insert(key, record.as_slice()).map_err(db_err)?;
                let mut count = counts
                    .get(channel)
                    .map_err(db_err)?
                    .map_or(0, |v| v.value())
                    + 1;
                while count > per_channel as u64 {
                    let oldest = match history
                        .range((channel, 0)..=(channel, u64::MAX))
                        .map_err(db_err)?
                        .next()
                    {
                        Some(row) => row.map_err(db_err)?.0.value().1,
                        None => break,
                    };
                    history.remove((channel, oldest)).map_err(db_err)?;
                    count -= 1;
                    trimmed.insert(channel, oldest).map_err(db_err)?;
                }
                counts.insert(channel, count).map_err(db_err)?;
            }
            let mut counters = txn.open_table(COUNTERS).map_err(db_err)?;
            if let Some(last) = batch.iter().map(|p| p.timetoken).max() {
                let stored = counters
                    .get(LAST_TIMETOKEN)
                    .map_err(db_err)?
                    .map_or(0, |v| v.value());
                counters
                    .insert(LAST_TIMETOKEN, last.0.max(stored))
                    .map_err(db_err)?;
            }
            if let Some(applied) = applied {
                counters
                    .insert(LOG_POSITION, applied.position)
                    .map_err(db_err)?;
                counters
                    .insert(LOG_TIMETOKEN, applied.timetoken.0)
                    .map_err(db_err)?;
            }
        }
        Ok(txn.commit().map_err(db_err)?)
    }

    fn log_point(&self) -> Result<LogPoint, HistoryError> {
        let txn = self.read()?;
        let counters = txn.open_table(COUNTERS).map_err(db_err)?;
        let read = |key: &str| -> Result<u64> {
            Ok(counters.get(key).map_err(db_err)?.map_or(0, |v| v.value()))
        };
        Ok(LogPoint {
            position: read(LOG_POSITION)?,
            timetoken: Timetoken(read(LOG_TIMETOKEN)?),
        })
    }

    fn history(
        &self,
        channel: &Channel,
        query: HistoryQuery,
    ) -> Result<Vec<Published>, HistoryError> {
        let txn = self.read()?;
        let history = txn.open_table(HISTORY).map_err(db_err)?;
        let name = channel.as_str();
        let low = query.end.map_or(0, |t| t.0);
        let high = query.start.map_or(u64::MAX, |t| t.0.saturating_sub(1));
        if low > high {
            return Ok(Vec::new());
        }
        let mut found = Vec::new();
        for row in history
            .range((name, low)..=(name, high))
            .map_err(db_err)?
            .rev()
        {
            if found.len() >= query.limit {
                break;
            }
            let (key, value) = row.map_err(db_err)?;
            found.push(decode(channel.clone(), key.value().1, value.value())?);
        }
        found.reverse();
        Ok(found)
    }

    /// It reads only what it may return: in each channel, from just after
    /// `after`, and no further than the `limit` oldest found so far; a
    /// wildcard visits its channels one seek each. Memory stays within
    /// `limit` messages whatever the patterns cover.
    ///
    fn replay(
        &self,
        patterns: &[Pattern],
        after: Timetoken,
        limit: usize,
    ) -> Result<(Vec<Published>, bool), HistoryError> {
        let txn = self.read()?;
        let history = txn.open_table(HISTORY).map_err(db_err)?;
        let mut page = Page::new(limit);
        for pattern in patterns {
            match pattern {
                Pattern::Exact(channel) => page.read_channel(&history, channel.as_str(), after)?,
                Pattern::Prefix(prefix) => {
                    let mut from = prefix.clone();
                    while let Some(row) =
                        history.range((from.as_str(), 0)..).map_err(db_err)?.next()
                    {
                        let (key, _) = row.map_err(db_err)?;
                        let name = key.value().0.to_owned();
                        if !name.starts_with(prefix.as_str()) {
                            break;
                        }
                        page.read_channel(&history, &name, after)?;
                        // The next channel name: the smallest one after `name`.
                        from = format!("{name}\0");
                    }
                }
                // Presence events are never stored.
                Pattern::PresencePrefix(_) => {}
            }
        }
        Ok(page.into_sorted())
    }

    fn dropped_after(
        &self,
        patterns: &[Pattern],
        after: Timetoken,
    ) -> Result<Vec<(Channel, Timetoken)>, HistoryError> {
        let txn = self.read()?;
        let trimmed = txn.open_table(TRIMMED).map_err(db_err)?;
        let mut found: BTreeMap<String, u64> = BTreeMap::new();
        for pattern in patterns {
            match pattern {
                Pattern::Exact(channel) => {
                    if let Some(newest) = trimmed.get(channel.as_str()).map_err(db_err)? {
                        found.insert(channel.to_string(), newest.value());
                    }
                }
                Pattern::Prefix(prefix) => {
                    for row in trimmed.range(prefix.as_str()..).map_err(db_err)? {
                        let (name, newest) = row.map_err(db_err)?;
                        if !name.value().starts_with(prefix.as_str()) {
                            break;
                        }
                        found.insert(name.value().to_owned(), newest.value());
                    }
                }
                // Presence events are never stored.
                Pattern::PresencePrefix(_) => {}
            }
        }
        let mut dropped = Vec::new();
        for (name, newest) in found {
            if newest > after.0 {
                let channel = Channel::parse(&name).map_err(|e| corrupt(&name, e))?;
                dropped.push((channel, Timetoken(newest)));
            }
        }
        Ok(dropped)
    }
}

impl Store {
    /// How many messages are stored, over all channels.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn history_len(&self) -> Result<u64> {
        let txn = self.read()?;
        let history = txn.open_table(HISTORY).map_err(db_err)?;
        history.len().map_err(db_err)
    }
}

/// The oldest `limit` messages of a replay, gathered channel by channel:
/// a max-heap by timetoken that drops its newest past `limit` (one more is
/// kept to tell whether more follow).
struct Page {
    limit: usize,
    oldest: BinaryHeap<Replayed>,
    /// Channels read already (patterns may overlap).
    read: HashSet<String>,
}

/// A replayed message, ordered by timetoken (then channel).
struct Replayed(Published);

impl Replayed {
    fn key(&self) -> (Timetoken, &Channel) {
        (self.0.timetoken, &self.0.message.channel)
    }
}

impl PartialEq for Replayed {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Replayed {}

impl PartialOrd for Replayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Replayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl Page {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            oldest: BinaryHeap::with_capacity(limit.saturating_add(1).min(4096)),
            read: HashSet::new(),
        }
    }

    /// The newest timetoken still worth reading, once the page is full.
    fn bound(&self) -> Option<Timetoken> {
        (self.oldest.len() > self.limit).then(|| self.oldest.peek().map(|r| r.0.timetoken))?
    }

    /// Adds `name`'s messages after `after`, oldest first, while they are
    /// older than what the page would drop.
    fn read_channel(
        &mut self,
        history: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
        name: &str,
        after: Timetoken,
    ) -> Result<()> {
        if !self.read.insert(name.to_owned()) {
            return Ok(());
        }
        let channel = Channel::parse(name).map_err(|e| corrupt(name, e))?;
        for row in history
            .range((name, after.0.saturating_add(1))..=(name, u64::MAX))
            .map_err(db_err)?
        {
            let (key, value) = row.map_err(db_err)?;
            let timetoken = key.value().1;
            if self.bound().is_some_and(|bound| timetoken >= bound.0) {
                break;
            }
            let published = decode(channel.clone(), timetoken, value.value())?;
            self.oldest.push(Replayed(published));
            if self.oldest.len() > self.limit + 1 {
                self.oldest.pop();
            }
        }
        Ok(())
    }

    /// The page, oldest first, and whether more messages follow it.
    fn into_sorted(self) -> (Vec<Published>, bool) {
        let mut found: Vec<Published> = self
            .oldest
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.0)
            .collect();
        let more = found.len() > self.limit;
        found.truncate(self.limit);
        (found, more)
    }
}

fn decode(channel: Channel, timetoken: u64, bytes: &[u8]) -> Result<Published> {
    let key = || format!("{channel}/{timetoken}");
    let stored: Stored = serde_json::from_slice(bytes).map_err(|e| corrupt(&key(), e))?;
    Ok(Published {
        timetoken: Timetoken(timetoken),
        message: Message {
            channel,
            payload: stored.message,
            meta: stored.meta,
            publisher: stored.publisher,
            kind: stored.kind,
            store: true,
            depth: 0,
            custom_type: stored.custom_type,
        },
    })
}

fn corrupt(key: &str, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        key: key.to_owned(),
        reason: reason.to_string(),
    }
}
