//! Shared files in a cluster: the JetStream object store `edgefn_files`,
//! one object per file named `{channel}/{id}`, its [`StoredFile`] record in
//! the object's metadata. JetStream chunks the bytes, so a file of any size
//! the limit allows fits, and a file uploaded through one node is read
//! through every node.
//!
//! The bucket's `max_age` is the files' retention and its `max_bytes` their
//! total (`[files] retention_days`, `max_total_bytes`; a node that opens
//! an existing bucket sets both): JetStream removes expired files itself
//! and refuses what would not fit. An upload checks the room left first;
//! one that JetStream still refuses midway (uploads racing for the last
//! room) purges the chunks it wrote and answers 413: the node writes an
//! object in the object store's format itself, on a chunk subject it
//! names (the store's `put` names it inside and leaves a failed write's
//! chunks to `max_age`), and reads it through the object store.
//!
//! A channel's files are indexed in the stream `edgefn_file_index`: one
//! empty message per file on `edgefn.fileidx.{channel}.{id}` (the channel
//! as [`subject::for_channel`] makes tokens), written once the object is
//! complete, purged when the file is deleted, aged out with the files (the
//! same `max_age`). A listing asks the stream for the subjects under
//! `edgefn.fileidx.{channel}.*` (the server filters them: the work grows
//! with the channel's files, not the bucket's), sorts their ids, and reads
//! the object infos of the page alone; an entry whose object is gone
//! (expired first, or a delete that could not purge its entry) is skipped
//! and purged. (The object store names its subjects by the base64 of the
//! object's name, so no subject filter selects a channel's objects.)
//!
//! Files stored before the index existed: the node that creates the index
//! stream indexes every object of the bucket once (nodes starting together
//! may both do it: an entry written twice is one entry).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::object_store::{self, ObjectStore};
use async_nats::jetstream::stream;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::{Cluster, Unavailable, subject};
use crate::bus::Channel;
use crate::files::{FileError, FileLimits, FileStore, StoredFile, is_file_id};

/// The bucket.
pub const BUCKET: &str = "edgefn_files";
/// The stream that holds the bucket.
const STREAM: &str = "OBJ_edgefn_files";
/// The stream that indexes the files by channel.
pub const INDEX: &str = "edgefn_file_index";
/// The prefix of its subjects.
const INDEX_SUBJECTS: &str = "edgefn.fileidx";
/// How many object infos a listing asks for at once.
const INFOS_AT_ONCE: usize = 16;
/// The size of an object's chunks (the object store's default).
const CHUNK_BYTES: usize = 128 * 1024;
/// What JetStream answers a message that would pass the stream's `max_bytes`.
const FULL: &str = "maximum bytes exceeded";
/// The metadata entry holding a file's record.
const RECORD: &str = "edgefn-file";

/// The cluster's shared files.
pub struct NatsFiles {
    cluster: Arc<Cluster>,
    bucket: ObjectStore,
    index: stream::Stream,
    max_total_bytes: u64,
}

fn unavailable(e: impl std::fmt::Display) -> FileError {
    FileError::Unavailable(Unavailable::from(e).to_string())
}

fn object_name(channel: &str, id: &str) -> String {
    format!("{channel}/{id}")
}

/// The index subject of the file `id` of `channel`.
fn index_subject(channel: &Channel, id: &str) -> String {
    format!("{}.{id}", subject::for_channel(INDEX_SUBJECTS, channel))
}

/// The index subjects of `channel`'s files (`*`: one token, so not those
/// of `channel.more`).
fn index_filter(channel: &Channel) -> String {
    format!("{}.*", subject::for_channel(INDEX_SUBJECTS, channel))
}

/// The ids of the index `subjects` (of one channel) after `after`, sorted.
fn ids_after(subjects: impl IntoIterator<Item = String>, after: Option<&str>) -> Vec<String> {
    let mut ids: Vec<String> = subjects
        .into_iter()
        .filter_map(|s| s.rsplit_once('.').map(|(_, id)| id.to_owned()))
        .filter(|id| is_file_id(id) && after.is_none_or(|after| id.as_str() > after))
        .collect();
    ids.sort();
    ids
}

impl NatsFiles {
    /// Opens the bucket and its index, creating them when missing, with
    /// `limits`' retention and total.
    ///
    /// # Errors
    /// When JetStream cannot be reached or refuses the settings.
    pub async fn open(cluster: Arc<Cluster>, limits: FileLimits) -> Result<Self, Unavailable> {
        let max_age = Duration::from_millis(limits.retention_ms);
        let max_bytes = i64::try_from(limits.max_total_bytes).unwrap_or(i64::MAX);
        let bucket = match cluster.js.get_object_store(BUCKET).await {
            Ok(bucket) => {
                update_stream(&cluster, STREAM, |config| {
                    config.max_age = max_age;
                    config.max_bytes = max_bytes;
                    config.duplicate_window = config.duplicate_window.min(max_age);
                })
                .await?;
                bucket
            }
            Err(_) => {
                let config = object_store::Config {
                    bucket: BUCKET.into(),
                    num_replicas: cluster.replicas,
                    max_age,
                    max_bytes,
                    ..Default::default()
                };
                cluster
                    .js
                    .create_object_store(config)
                    .await
                    .map_err(Unavailable::from)?
            }
        };
        let index = match cluster.js.get_stream(INDEX).await {
            Ok(index) => {
                update_stream(&cluster, INDEX, |config| {
                    config.max_age = max_age;
                    config.duplicate_window = config.duplicate_window.min(max_age);
                })
                .await?;
                index
            }
            Err(_) => create_index(&cluster, &bucket, max_age).await?,
        };
        Ok(Self {
            cluster,
            bucket,
            index,
            max_total_bytes: limits.max_total_bytes,
        })
    }

    /// The stream that holds the bucket.
    async fn bucket_stream(&self) -> Result<stream::Stream, FileError> {
        self.cluster
            .js
            .get_stream(STREAM)
            .await
            .map_err(unavailable)
    }

    /// Checks that `size` more bytes fit in the bucket.
    async fn check_room(&self, size: u64) -> Result<(), FileError> {
        let mut stream = self.bucket_stream().await?;
        let used = stream.info().await.map_err(unavailable)?.state.bytes;
        if used + size > self.max_total_bytes {
            return Err(self.full());
        }
        Ok(())
    }

    fn full(&self) -> FileError {
        FileError::QuotaExceeded {
            limit: self.max_total_bytes,
        }
    }

    fn decode(info: &object_store::ObjectInfo) -> Result<StoredFile, FileError> {
        let record = info.metadata.get(RECORD).ok_or_else(|| {
            FileError::Unavailable(format!("object {} has no file record", info.name))
        })?;
        serde_json::from_str(record).map_err(|e| {
            FileError::Unavailable(format!(
                "the record of object {} is corrupt: {e}",
                info.name
            ))
        })
    }

    async fn put_file(&self, file: StoredFile, bytes: Bytes) -> Result<(), FileError> {
        self.cluster.ensure_connected().map_err(unavailable)?;
        let channel =
            Channel::parse(&file.channel).map_err(|e| FileError::Invalid(e.to_string()))?;
        let record = serde_json::to_string(&file).expect("a file record serializes");
        let name = object_name(&file.channel, &file.info.id);
        self.check_room(bytes.len() as u64).await?;
        let metadata = HashMap::from([(RECORD.to_owned(), record)]);
        self.write_object(name.clone(), metadata, &bytes).await?;
        if let Err(e) = publish_entry(&self.cluster, &channel, &file.info.id).await {
            // Unlisted, the file would only take room: the upload failed.
            let _ = self.bucket.delete(name).await;
            return Err(FileError::Unavailable(e.to_string()));
        }
        Ok(())
    }

    /// Stores `bytes` as the object `name` with `metadata`, as the object
    /// store's `put` does (chunks on `$O.{bucket}.C.{nuid}`, then the
    /// object info on `$O.{bucket}.M.{base64 of name}`), but with a nuid of
    /// its own: a write that fails midway (JetStream refusing a chunk past
    /// `max_bytes`, uploads racing for the last room) purges the chunks it
    /// wrote, which `put` leaves to `max_age`.
    async fn write_object(
        &self,
        name: String,
        metadata: HashMap<String, String>,
        bytes: &Bytes,
    ) -> Result<(), FileError> {
        let mut nuid = [0u8; 16];
        getrandom::fill(&mut nuid).map_err(unavailable)?;
        let nuid = hex::encode(nuid);
        let chunks = format!("$O.{BUCKET}.C.{nuid}");
        let written = self
            .publish_object(&chunks, nuid, name, metadata, bytes)
            .await;
        let Err(e) = written else {
            return Ok(());
        };
        if let Err(purge) = self.bucket_stream().await?.purge().filter(&chunks).await {
            tracing::warn!(error = %purge, chunks, "could not purge a failed upload's chunks");
        }
        if e.contains(FULL) {
            return Err(self.full());
        }
        Err(FileError::Unavailable(e))
    }

    /// Publishes the chunks of `bytes` on `chunks`, then the object info;
    /// what failed, as JetStream said it.
    async fn publish_object(
        &self,
        chunks: &str,
        nuid: String,
        name: String,
        metadata: HashMap<String, String>,
        bytes: &Bytes,
    ) -> Result<(), String> {
        let js = &self.cluster.js;
        let mut count = 0;
        for start in (0..bytes.len()).step_by(CHUNK_BYTES) {
            let chunk = bytes.slice(start..bytes.len().min(start + CHUNK_BYTES));
            let ack = js.publish(chunks.to_owned(), chunk).await;
            ack.map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())?;
            count += 1;
        }
        let info = object_store::ObjectInfo {
            name: name.clone(),
            description: None,
            metadata,
            headers: None,
            options: Some(object_store::ObjectOptions {
                link: None,
                max_chunk_size: Some(CHUNK_BYTES),
            }),
            bucket: BUCKET.into(),
            nuid,
            size: bytes.len(),
            chunks: count,
            modified: None,
            digest: Some(format!(
                "SHA-256={}",
                URL_SAFE.encode(Sha256::digest(bytes))
            )),
            deleted: false,
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_ROLLUP, "sub");
        let subject = format!("$O.{BUCKET}.M.{}", URL_SAFE.encode(&name));
        let body = serde_json::to_vec(&info).expect("an object info serializes");
        let ack = js.publish_with_headers(subject, headers, body.into()).await;
        ack.map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn file_record(
        &self,
        channel: &Channel,
        id: &str,
    ) -> Result<Option<StoredFile>, FileError> {
        self.cluster.ensure_connected().map_err(unavailable)?;
        match self.bucket.info(object_name(channel.as_str(), id)).await {
            Ok(info) if !info.deleted => Self::decode(&info).map(Some),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == object_store::InfoErrorKind::NotFound => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_file(
        &self,
        channel: &Channel,
        id: &str,
    ) -> Result<Option<(StoredFile, Bytes)>, FileError> {
        self.cluster.ensure_connected().map_err(unavailable)?;
        let mut object = match self.bucket.get(object_name(channel.as_str(), id)).await {
            Ok(object) => object,
            Err(e) if e.kind() == object_store::GetErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        let file = Self::decode(object.info())?;
        let mut bytes = Vec::with_capacity(object.info().size);
        object.read_to_end(&mut bytes).await.map_err(unavailable)?;
        Ok(Some((file, bytes.into())))
    }

    async fn list_files(
        &self,
        channel: &Channel,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<StoredFile>, FileError> {
        self.cluster.ensure_connected().map_err(unavailable)?;
        let subjects: Vec<(String, usize)> = self
            .index
            .info_with_subjects(index_filter(channel))
            .await
            .map_err(unavailable)?
            .try_collect()
            .await
            .map_err(unavailable)?;
        let ids = ids_after(subjects.into_iter().map(|(s, _)| s), after.as_deref());
        let mut records = futures::stream::iter(ids)
            .map(|id| async move { (self.file_record(channel, &id).await, id) })
            .buffered(INFOS_AT_ONCE);
        let mut files = Vec::with_capacity(limit.min(crate::files::MAX_PAGE));
        while files.len() < limit {
            match records.next().await {
                Some((Ok(Some(file)), _)) => files.push(file),
                Some((Ok(None), id)) => self.unindex(channel, &id).await,
                Some((Err(e), _)) => return Err(e),
                None => break,
            }
        }
        Ok(files)
    }

    /// Purges the index entry of the file `id` of `channel` (a listing
    /// purges an entry left behind again).
    async fn unindex(&self, channel: &Channel, id: &str) {
        let subject = index_subject(channel, id);
        if let Err(e) = self.index.purge().filter(&subject).await {
            tracing::warn!(error = %e, subject, "could not purge a file's index entry");
        }
    }

    async fn delete_file(&self, channel: &Channel, id: &str) -> Result<bool, FileError> {
        self.cluster.ensure_connected().map_err(unavailable)?;
        let deleted = match self.bucket.delete(object_name(channel.as_str(), id)).await {
            Ok(()) => true,
            Err(e) if e.kind() == object_store::DeleteErrorKind::NotFound => false,
            Err(e) => return Err(unavailable(e)),
        };
        self.unindex(channel, id).await;
        Ok(deleted)
    }
}

/// Sets what `change` changes in the configuration of the stream `name`.
async fn update_stream(
    cluster: &Cluster,
    name: &str,
    change: impl FnOnce(&mut stream::Config),
) -> Result<(), Unavailable> {
    let mut stream = cluster
        .js
        .get_stream(name)
        .await
        .map_err(Unavailable::from)?;
    let mut config = stream
        .info()
        .await
        .map_err(Unavailable::from)?
        .config
        .clone();
    change(&mut config);
    cluster
        .js
        .update_stream(config)
        .await
        .map_err(Unavailable::from)?;
    Ok(())
}

/// Creates the index stream and indexes the files `bucket` already holds
/// (stored before the index existed). When that fails midway the stream is
/// removed again, so that the next open starts over.
async fn create_index(
    cluster: &Cluster,
    bucket: &ObjectStore,
    max_age: Duration,
) -> Result<stream::Stream, Unavailable> {
    let config = stream::Config {
        name: INDEX.into(),
        subjects: vec![format!("{INDEX_SUBJECTS}.>")],
        max_age,
        max_messages_per_subject: 1,
        discard: stream::DiscardPolicy::Old,
        storage: stream::StorageType::File,
        num_replicas: cluster.replicas,
        duplicate_window: Duration::from_secs(120).min(max_age),
        ..Default::default()
    };
    let index = cluster
        .js
        .create_stream(config)
        .await
        .map_err(Unavailable::from)?;
    if let Err(e) = index_existing(cluster, bucket).await {
        // Best effort: if this fails too, the stream stays, and the files
        // not indexed yet stay out of listings (downloads still find them).
        let _ = cluster.js.delete_stream(INDEX).await;
        return Err(e);
    }
    Ok(index)
}

/// Writes the index entry of every file in `bucket`.
async fn index_existing(cluster: &Cluster, bucket: &ObjectStore) -> Result<(), Unavailable> {
    let infos: Vec<_> = bucket
        .list()
        .await
        .map_err(Unavailable::from)?
        .try_collect()
        .await
        .map_err(Unavailable::from)?;
    let mut indexed = 0_usize;
    for info in infos.iter().filter(|info| !info.deleted) {
        let Some((channel, id)) = info.name.split_once('/') else {
            continue;
        };
        let Ok(channel) = Channel::parse(channel) else {
            continue;
        };
        if is_file_id(id) {
            publish_entry(cluster, &channel, id)
                .await
                .map_err(Unavailable::from)?;
            indexed += 1;
        }
    }
    tracing::info!(indexed, "indexed the files stored before the file index");
    Ok(())
}

/// Writes the index entry of the file `id` of `channel`.
async fn publish_entry(cluster: &Cluster, channel: &Channel, id: &str) -> Result<(), Unavailable> {
    let ack = cluster
        .js
        .publish(index_subject(channel, id), Bytes::new())
        .await
        .map_err(Unavailable::from)?;
    ack.await.map_err(Unavailable::from)?;
    Ok(())
}

impl FileStore for NatsFiles {
    fn put(
        self: Arc<Self>,
        file: StoredFile,
        bytes: Bytes,
    ) -> BoxFuture<'static, Result<(), FileError>> {
        Box::pin(async move { self.put_file(file, bytes).await })
    }

    fn record(
        self: Arc<Self>,
        channel: Channel,
        id: String,
    ) -> BoxFuture<'static, Result<Option<StoredFile>, FileError>> {
        Box::pin(async move { self.file_record(&channel, &id).await })
    }

    fn get(
        self: Arc<Self>,
        channel: Channel,
        id: String,
    ) -> BoxFuture<'static, Result<Option<(StoredFile, Bytes)>, FileError>> {
        Box::pin(async move { self.get_file(&channel, &id).await })
    }

    fn list(
        self: Arc<Self>,
        channel: Channel,
        after: Option<String>,
        limit: usize,
    ) -> BoxFuture<'static, Result<Vec<StoredFile>, FileError>> {
        Box::pin(async move { self.list_files(&channel, after, limit).await })
    }

    fn delete(
        self: Arc<Self>,
        channel: Channel,
        id: String,
    ) -> BoxFuture<'static, Result<bool, FileError>> {
        Box::pin(async move { self.delete_file(&channel, &id).await })
    }

    /// JetStream's `max_age` removes expired files: nothing to do here.
    fn prune(self: Arc<Self>, _before: String) -> BoxFuture<'static, Result<u64, FileError>> {
        Box::pin(async { Ok(0) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(name: &str) -> Channel {
        Channel::parse(name).unwrap()
    }

    #[test]
    fn a_channel_s_filter_selects_its_entries_alone() {
        let id = "0190a1b2-c3d4-e5f6-a7b8-c9d0e1f2a3b4";
        assert_eq!(
            index_subject(&channel("room"), id),
            format!("edgefn.fileidx.room.{id}")
        );
        assert_eq!(index_filter(&channel("room")), "edgefn.fileidx.room.*");
        // `room.sub`'s entries have one token more than `room.*` selects.
        assert_eq!(
            index_subject(&channel("room.sub"), id),
            format!("edgefn.fileidx.room.sub.{id}")
        );
    }

    #[test]
    fn ids_come_sorted_after_the_last_page() {
        let a = "0190a1b2-0000-0000-0000-000000000001";
        let b = "0190a1b2-0000-0000-0000-000000000002";
        let c = "0190a1b2-0000-0000-0000-000000000003";
        let subjects = [c, a, "not-an-id", b].map(|id| format!("edgefn.fileidx.room.{id}"));
        assert_eq!(ids_after(subjects.clone(), None), [a, b, c]);
        assert_eq!(ids_after(subjects, Some(a)), [b, c]);
    }
}
