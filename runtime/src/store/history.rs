//! Per-channel message history, bounded, in timetoken order.

use std::sync::Arc;

use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{COUNTERS, HISTORY, HISTORY_COUNTS, Result, Store, StoreError, db_err};
use crate::bus::{Channel, Message, MessageKind, Pattern, Published, Timetoken};

const LAST_TIMETOKEN: &str = "last_timetoken";
/// In a cluster: the last entry of the cluster log applied here.
const LOG_POSITION: &str = "log_position";

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

/// Which part of a channel's history to read: the newest `limit` messages
/// with `end <= timetoken < start`.
#[derive(Debug, Clone, Copy)]
pub struct HistoryQuery {
    /// How many messages at most.
    pub limit: usize,
    /// Only messages older than this (exclusive).
    pub start: Option<Timetoken>,
    /// Only messages at or after this (inclusive).
    pub end: Option<Timetoken>,
}

impl Store {
    /// The last timetoken recorded, so a restarted node keeps handing out
    /// larger ones even if the clock went back.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn last_timetoken(&self) -> Result<Timetoken> {
        let txn = self.read()?;
        let counters = txn.open_table(COUNTERS).map_err(db_err)?;
        let last = counters.get(LAST_TIMETOKEN).map_err(db_err)?;
        Ok(Timetoken(last.map_or(0, |v| v.value())))
    }

    /// Appends `batch` (in timetoken order) to history in one durable
    /// transaction, trimming each channel to its newest `per_channel`
    /// messages, and records `position` as the last cluster-log entry
    /// applied, when given.
    ///
    /// # Errors
    /// When the transaction cannot be committed; nothing is written then.
    pub fn append_history(
        &self,
        batch: &[Arc<Published>],
        per_channel: usize,
        position: Option<u64>,
    ) -> Result<()> {
        let txn = self.write()?;
        {
            let mut history = txn.open_table(HISTORY).map_err(db_err)?;
            let mut counts = txn.open_table(HISTORY_COUNTS).map_err(db_err)?;
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
            if let Some(position) = position {
                counters.insert(LOG_POSITION, position).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }

    /// The last cluster-log entry applied here (0: none).
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn log_position(&self) -> Result<u64> {
        let txn = self.read()?;
        let counters = txn.open_table(COUNTERS).map_err(db_err)?;
        Ok(counters
            .get(LOG_POSITION)
            .map_err(db_err)?
            .map_or(0, |v| v.value()))
    }

    /// Reads part of one channel's history, oldest first.
    ///
    /// # Errors
    /// When the database cannot be read or a record is corrupt.
    pub fn history(&self, channel: &Channel, query: HistoryQuery) -> Result<Vec<Published>> {
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

    /// Every stored message after `after` on channels matching `patterns`,
    /// oldest first, at most `limit` (the newest ones when there are more).
    ///
    /// # Errors
    /// When the database cannot be read or a record is corrupt.
    pub fn replay(
        &self,
        patterns: &[Pattern],
        after: Timetoken,
        limit: usize,
    ) -> Result<Vec<Published>> {
        let txn = self.read()?;
        let history = txn.open_table(HISTORY).map_err(db_err)?;
        let mut found = Vec::new();
        for pattern in patterns {
            let prefix = match pattern {
                Pattern::Exact(channel) => {
                    let name = channel.as_str();
                    for row in history
                        .range((name, after.0 + 1)..=(name, u64::MAX))
                        .map_err(db_err)?
                    {
                        let (key, value) = row.map_err(db_err)?;
                        found.push(decode(channel.clone(), key.value().1, value.value())?);
                    }
                    continue;
                }
                Pattern::Prefix(prefix) => prefix.as_str(),
                // Presence events are never stored.
                Pattern::PresencePrefix(_) => continue,
            };
            for row in history.range((prefix, 0)..).map_err(db_err)? {
                let (key, value) = row.map_err(db_err)?;
                let (name, timetoken) = key.value();
                if !name.starts_with(prefix) {
                    break;
                }
                if timetoken > after.0 {
                    let channel = Channel::parse(name).map_err(|e| corrupt(name, e))?;
                    found.push(decode(channel, timetoken, value.value())?);
                }
            }
        }
        found.sort_by_key(|p| p.timetoken);
        found.dedup_by_key(|p| (p.timetoken, p.message.channel.clone()));
        if found.len() > limit {
            found.drain(..found.len() - limit);
        }
        Ok(found)
    }

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
