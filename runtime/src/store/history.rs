//! Per-channel message history, bounded, in timetoken order: the embedded
//! implementation of the bus's [`HistoryStore`].

use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::sync::Arc;

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{COUNTERS, HISTORY, HISTORY_COUNTS, Result, Store, StoreError, db_err};
use crate::bus::{
    Channel, Deletion, HistoryError, HistoryQuery, HistoryStore, LogPoint, Message, MessageKind,
    Pattern, Published, Timetoken,
};

/// Channel → the newest timetoken trimmed from its history (to keep it to
/// its per-channel limit): a replay from before it misses messages.
pub(super) const TRIMMED: TableDefinition<&str, u64> = TableDefinition::new("history_trimmed");
/// (expiry timetoken, channel, timetoken) of every message stored with a
/// `ttl`: what appends prune once it expired.
const EXPIRIES: TableDefinition<(u64, &str, u64), ()> = TableDefinition::new("history_expiries");
/// Most expired messages one append prunes.
const PRUNE_PER_APPEND: usize = 256;
/// Timetoken units (100 ns) in a second.
const UNITS_PER_SEC: u64 = 10_000_000;
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
    /// When it expires, as a timetoken.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<u64>,
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
    #[serde(default)]
    expires: Option<u64>,
}

/// Just the expiry of a history record, for counting.
#[derive(Deserialize)]
struct Expiry {
    #[serde(default)]
    expires: Option<u64>,
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
        reserved: Option<Timetoken>,
    ) -> Result<(), HistoryError> {
        let txn = self.write()?;
        {
            let mut writer = Writer {
                history: txn.open_table(HISTORY).map_err(db_err)?,
                counts: txn.open_table(HISTORY_COUNTS).map_err(db_err)?,
                trimmed: txn.open_table(TRIMMED).map_err(db_err)?,
                expiries: txn.open_table(EXPIRIES).map_err(db_err)?,
            };
            for published in batch {
                let message = &published.message;
                match (message.kind, message.deleted_range()) {
                    (MessageKind::Delete, Some(range)) => {
                        writer.delete(message.channel.as_str(), range)?;
                    }
                    (MessageKind::Delete, None) => {
                        tracing::error!(channel = %message.channel, "skipping an unreadable deletion");
                    }
                    _ => writer.insert(published, per_channel)?,
                }
            }
            writer.prune(Timetoken::now())?;
            let mut counters = txn.open_table(COUNTERS).map_err(db_err)?;
            if let Some(last) = batch.iter().map(|p| p.timetoken).chain(reserved).max() {
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

    fn channels_with_history(&self, channel: &Channel) -> Result<(u64, bool), HistoryError> {
        let txn = self.read()?;
        let counts = txn.open_table(HISTORY_COUNTS).map_err(db_err)?;
        let kept = counts.get(channel.as_str()).map_err(db_err)?;
        let kept = kept.is_some_and(|count| count.value() > 0);
        Ok((counts.len().map_err(db_err)?, kept))
    }

    fn count_after(&self, channel: &Channel, after: Timetoken) -> Result<u64, HistoryError> {
        let txn = self.read()?;
        let history = txn.open_table(HISTORY).map_err(db_err)?;
        let name = channel.as_str();
        let now = Timetoken::now().0;
        let mut count = 0;
        for row in history
            .range((name, after.0.saturating_add(1))..=(name, u64::MAX))
            .map_err(db_err)?
        {
            let (key, value) = row.map_err(db_err)?;
            let record: Expiry = serde_json::from_slice(value.value())
                .map_err(|e| corrupt(&format!("{name}/{}", key.value().1), e))?;
            if record.expires.is_none_or(|expires| expires > now) {
                count += 1;
            }
        }
        Ok(count)
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
        let now = Timetoken::now();
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
            if let Some(published) = decode(channel.clone(), key.value().1, value.value(), now)? {
                found.push(published);
            }
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
        let mut page = Page::new(limit, Timetoken::now());
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

/// The history tables open in an append's transaction.
struct Writer<'txn> {
    history: redb::Table<'txn, (&'static str, u64), &'static [u8]>,
    counts: redb::Table<'txn, &'static str, u64>,
    trimmed: redb::Table<'txn, &'static str, u64>,
    expiries: redb::Table<'txn, (u64, &'static str, u64), ()>,
}

impl Writer<'_> {
    /// Stores `published`, trimming its channel to `per_channel` messages.
    fn insert(&mut self, published: &Published, per_channel: usize) -> Result<()> {
        let message = &published.message;
        let channel = message.channel.as_str();
        let timetoken = published.timetoken.0;
        let expires = message
            .ttl_secs
            .map(|secs| timetoken.saturating_add(secs.saturating_mul(UNITS_PER_SEC)));
        let record = serde_json::to_vec(&StoredRef {
            message: &message.payload,
            meta: message.meta.as_deref(),
            publisher: message.publisher.as_deref(),
            kind: message.kind,
            custom_type: message.custom_type.as_deref(),
            expires,
        })
        .expect("a history record always serializes");
        let replaced = self
            .history
            .insert((channel, timetoken), record.as_slice())
            .map_err(db_err)?
            .is_some();
        if let Some(expires) = expires {
            self.expiries
                .insert((expires, channel, timetoken), ())
                .map_err(db_err)?;
        }
        let mut count = self.count(channel)? + u64::from(!replaced);
        while count > per_channel as u64 {
            let oldest = match self
                .history
                .range((channel, 0)..=(channel, u64::MAX))
                .map_err(db_err)?
                .next()
            {
                Some(row) => row.map_err(db_err)?.0.value().1,
                None => break,
            };
            self.history.remove((channel, oldest)).map_err(db_err)?;
            count -= 1;
            self.trimmed.insert(channel, oldest).map_err(db_err)?;
        }
        self.counts.insert(channel, count).map_err(db_err)?;
        Ok(())
    }

    /// Removes `range` of `channel`'s history.
    fn delete(&mut self, channel: &str, range: Deletion) -> Result<()> {
        if range.from > range.to {
            return Ok(());
        }
        let mut doomed = Vec::new();
        for row in self
            .history
            .range((channel, range.from.0)..=(channel, range.to.0))
            .map_err(db_err)?
        {
            doomed.push(row.map_err(db_err)?.0.value().1);
        }
        for timetoken in doomed {
            self.remove(channel, timetoken)?;
        }
        Ok(())
    }

    /// Removes up to [`PRUNE_PER_APPEND`] messages that expired before
    /// `now` (and the index entries of messages already gone).
    fn prune(&mut self, now: Timetoken) -> Result<()> {
        let mut expired = Vec::new();
        for row in self
            .expiries
            .range(..(now.0, "", 0))
            .map_err(db_err)?
            .take(PRUNE_PER_APPEND)
        {
            let (key, _) = row.map_err(db_err)?;
            let (expires, channel, timetoken) = key.value();
            expired.push((expires, channel.to_owned(), timetoken));
        }
        for (expires, channel, timetoken) in expired {
            self.expiries
                .remove((expires, channel.as_str(), timetoken))
                .map_err(db_err)?;
            self.remove(&channel, timetoken)?;
        }
        Ok(())
    }

    /// Removes one message, if it is still stored, keeping its channel's
    /// count.
    fn remove(&mut self, channel: &str, timetoken: u64) -> Result<()> {
        if self
            .history
            .remove((channel, timetoken))
            .map_err(db_err)?
            .is_some()
        {
            // A channel left with no history stops counting against
            // `[bus] max_history_channels`.
            match self.count(channel)?.saturating_sub(1) {
                0 => self.counts.remove(channel).map_err(db_err)?,
                count => self.counts.insert(channel, count).map_err(db_err)?,
            };
        }
        Ok(())
    }

    fn count(&self, channel: &str) -> Result<u64> {
        Ok(self
            .counts
            .get(channel)
            .map_err(db_err)?
            .map_or(0, |v| v.value()))
    }
}

/// The oldest `limit` messages of a replay, gathered channel by channel:
/// a max-heap by timetoken that drops its newest past `limit` (one more is
/// kept to tell whether more follow).
struct Page {
    limit: usize,
    /// What expired before this is left out.
    now: Timetoken,
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
    fn new(limit: usize, now: Timetoken) -> Self {
        Self {
            limit,
            now,
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
            let Some(published) = decode(channel.clone(), timetoken, value.value(), self.now)?
            else {
                continue;
            };
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

/// A history record as the message it stores; `None` when it expired
/// before `now`.
fn decode(
    channel: Channel,
    timetoken: u64,
    bytes: &[u8],
    now: Timetoken,
) -> Result<Option<Published>> {
    let key = || format!("{channel}/{timetoken}");
    let stored: Stored = serde_json::from_slice(bytes).map_err(|e| corrupt(&key(), e))?;
    if stored.expires.is_some_and(|expires| expires <= now.0) {
        return Ok(None);
    }
    Ok(Some(Published {
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
            ttl_secs: stored
                .expires
                .map(|expires| expires.saturating_sub(timetoken) / UNITS_PER_SEC),
        },
    }))
}

fn corrupt(key: &str, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        key: key.to_owned(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(channel: &str, timetoken: u64, ttl_secs: Option<u64>) -> Arc<Published> {
        let channel = Channel::parse(channel).unwrap();
        let mut message = Message::new(channel, MessageKind::Publish, "1", None, None).unwrap();
        message.ttl_secs = ttl_secs;
        Arc::new(Published {
            timetoken: Timetoken(timetoken),
            message,
        })
    }

    #[test]
    fn expired_messages_are_pruned_and_deletions_keep_the_counts() {
        let dir = std::env::temp_dir().join(format!("edgefn-history-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir).unwrap();
        let now = Timetoken::now().0;
        // Long expired (timetokens of the past), expiring in an hour, kept.
        let batch = [
            published("c", 1_000, Some(1)),
            published("c", now, Some(3600)),
            published("c", now + 1, None),
            published("d", 2_000, Some(1)),
        ];
        store.append(&batch, 10, None, None).unwrap();
        assert_eq!(store.history_len().unwrap(), 2, "the expired two pruned");
        let c = Channel::parse("c").unwrap();
        assert_eq!(store.count_after(&c, Timetoken(0)).unwrap(), 2);

        let deletion = Message::deletion(
            c.clone(),
            Deletion {
                from: Timetoken(now),
                to: Timetoken(now),
            },
        );
        let deletion = Arc::new(Published {
            timetoken: Timetoken(now + 2),
            message: deletion,
        });
        store.append(&[deletion], 10, None, None).unwrap();
        assert_eq!(store.history_len().unwrap(), 1);
        // The channel's count followed: its limit still trims at 2.
        store
            .append(
                &[published("c", now + 3, None), published("c", now + 4, None)],
                2,
                None,
                None,
            )
            .unwrap();
        let query = HistoryQuery {
            limit: 10,
            start: None,
            end: None,
        };
        let left: Vec<u64> = store
            .history(&c, query)
            .unwrap()
            .iter()
            .map(|p| p.timetoken.0)
            .collect();
        assert_eq!(left, [now + 3, now + 4]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
