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
//! room) leaves chunks that `max_age` removes.
//!
//! A channel's list reads the bucket's object infos (not their bytes) and
//! keeps the channel's: fine for the files a chat shares, linear in the
//! bucket's file count. (The object store names its subjects by the
//! base64 of the object's name, so no subject filter selects a channel's
//! objects, and its `list` takes none.)

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::object_store::{self, ObjectMetadata, ObjectStore};
use bytes::Bytes;
use futures::TryStreamExt;
use futures::future::BoxFuture;
use tokio::io::AsyncReadExt;

use super::{Cluster, Unavailable};
use crate::bus::Channel;
use crate::files::{FileError, FileLimits, FileStore, StoredFile, is_file_id};

/// The bucket.
pub const BUCKET: &str = "edgefn_files";
/// The stream that holds the bucket.
const STREAM: &str = "OBJ_edgefn_files";
/// What JetStream answers a message that would pass the stream's `max_bytes`.
const FULL: &str = "maximum bytes exceeded";
/// The metadata entry holding a file's record.
const RECORD: &str = "edgefn-file";

/// The cluster's shared files.
pub struct NatsFiles {
    cluster: Arc<Cluster>,
    bucket: ObjectStore,
    max_total_bytes: u64,
}

fn unavailable(e: impl std::fmt::Display) -> FileError {
    FileError::Unavailable(Unavailable::from(e).to_string())
}

fn object_name(channel: &str, id: &str) -> String {
    format!("{channel}/{id}")
}

impl NatsFiles {
    /// Opens the bucket, creating it when missing, with `limits`'
    /// retention and total.
    ///
    /// # Errors
    /// When JetStream cannot be reached or refuses the settings.
    pub async fn open(cluster: Arc<Cluster>, limits: FileLimits) -> Result<Self, Unavailable> {
        let max_age = Duration::from_millis(limits.retention_ms);
        let max_bytes = i64::try_from(limits.max_total_bytes).unwrap_or(i64::MAX);
        let bucket = match cluster.js.get_object_store(BUCKET).await {
            Ok(bucket) => {
                let mut stream = cluster
                    .js
                    .get_stream(STREAM)
                    .await
                    .map_err(Unavailable::from)?;
                let mut config = stream
                    .info()
                    .await
                    .map_err(Unavailable::from)?
                    .config
                    .clone();
                config.max_age = max_age;
                config.max_bytes = max_bytes;
                config.duplicate_window = config.duplicate_window.min(max_age);
                cluster
                    .js
                    .update_stream(config)
                    .await
                    .map_err(Unavailable::from)?;
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
        Ok(Self {
            cluster,
            bucket,
            max_total_bytes: limits.max_total_bytes,
        })
    }

    /// Checks that `size` more bytes fit in the bucket.
    async fn check_room(&self, size: u64) -> Result<(), FileError> {
        let mut stream = self
            .cluster
            .js
            .get_stream(STREAM)
            .await
            .map_err(unavailable)?;
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
        let record = serde_json::to_string(&file).expect("a file record serializes");
        let meta = ObjectMetadata {
            name: object_name(&file.channel, &file.info.id),
            metadata: HashMap::from([(RECORD.to_owned(), record)]),
            ..Default::default()
        };
        self.check_room(bytes.len() as u64).await?;
        let mut reader = bytes.as_ref();
        match self.bucket.put(meta, &mut reader).await {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains(FULL) => Err(self.full()),
            Err(e) => Err(unavailable(e)),
        }
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
        let prefix = format!("{channel}/");
        let infos: Vec<_> = self
            .bucket
            .list()
            .await
            .map_err(unavailable)?
            .try_collect()
            .await
            .map_err(unavailable)?;
        let wanted = |info: &&object_store::ObjectInfo| {
            info.name
                .strip_prefix(&prefix)
                .is_some_and(|id| is_file_id(id) && after.as_deref().is_none_or(|after| id > after))
        };
        let mut files = (infos.iter().filter(wanted))
            .map(Self::decode)
            .collect::<Result<Vec<_>, _>>()?;
        files.sort_by(|a, b| a.info.id.cmp(&b.info.id));
        files.truncate(limit);
        Ok(files)
    }

    async fn delete_file(&self, channel: &Channel, id: &str) -> Result<bool, FileError> {
        self.cluster.ensure_connected().map_err(unavailable)?;
        match self.bucket.delete(object_name(channel.as_str(), id)).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == object_store::DeleteErrorKind::NotFound => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }
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
