//! Shared files in a cluster: the JetStream object store `edgefn_files`,
//! one object per file named `{channel}/{id}`, its [`StoredFile`] record in
//! the object's metadata. JetStream chunks the bytes, so a file of any size
//! the limit allows fits, and a file uploaded through one node is read
//! through every node.
//!
//! A channel's list reads the bucket's object infos (not their bytes) and
//! keeps the channel's: fine for the files a chat shares, linear in the
//! bucket's file count.

use std::collections::HashMap;
use std::sync::Arc;

use async_nats::jetstream::object_store::{self, ObjectMetadata, ObjectStore};
use bytes::Bytes;
use futures::TryStreamExt;
use futures::future::BoxFuture;
use tokio::io::AsyncReadExt;

use super::{Cluster, Unavailable};
use crate::bus::Channel;
use crate::files::{FileError, FileStore, StoredFile, is_file_id};

/// The bucket.
pub const BUCKET: &str = "edgefn_files";
/// The metadata entry holding a file's record.
const RECORD: &str = "edgefn-file";

/// The cluster's shared files.
pub struct NatsFiles {
    cluster: Arc<Cluster>,
    bucket: ObjectStore,
}

fn unavailable(e: impl std::fmt::Display) -> FileError {
    FileError::Unavailable(Unavailable::from(e).to_string())
}

fn object_name(channel: &str, id: &str) -> String {
    format!("{channel}/{id}")
}

impl NatsFiles {
    /// Opens the bucket, creating it when missing.
    ///
    /// # Errors
    /// When JetStream cannot be reached.
    pub async fn open(cluster: Arc<Cluster>) -> Result<Self, Unavailable> {
        let bucket = match cluster.js.get_object_store(BUCKET).await {
            Ok(bucket) => bucket,
            Err(_) => {
                let config = object_store::Config {
                    bucket: BUCKET.into(),
                    num_replicas: cluster.replicas,
                    ..Default::default()
                };
                cluster
                    .js
                    .create_object_store(config)
                    .await
                    .map_err(Unavailable::from)?
            }
        };
        Ok(Self { cluster, bucket })
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
        let mut reader = bytes.as_ref();
        self.bucket
            .put(meta, &mut reader)
            .await
            .map_err(unavailable)?;
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
}
