//! Shared files on a node alone: each file's bytes in `files/{id}` in the
//! data dir, written atomically (a temporary file, fsync, rename, fsync of
//! the directory), and its record in the table `files` ((channel, id) →
//! [`StoredFile`] as JSON), written after the bytes and removed before them,
//! so a record never names bytes that are not there.
//!
//! The files' total size is counted (from the records, at open) and an
//! upload's room is reserved before its bytes are written, so the total
//! never passes `[files] max_total_bytes`. Expired files are removed by
//! [`FileStore::prune`], which the node runs in the background.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use redb::{ReadableTable, TableDefinition};

use super::{Result, Store, StoreError, blocking, db_err};
use crate::bus::Channel;
use crate::files::{FileError, FileStore, StoredFile};

/// Shared files: (channel, id) → the file's record (JSON).
pub(super) const FILES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("files");
/// The directory under the data dir that holds the bytes.
const DIR: &str = "files";
/// How a file being written is named until it is complete.
const PARTIAL: &str = ".partial";

/// The files of a node alone: records in its store, bytes in its data dir.
pub struct LocalFiles {
    store: Arc<Store>,
    dir: PathBuf,
    /// Bytes of the files kept, and of the uploads being written.
    used: Mutex<u64>,
    /// Most bytes of files kept at once.
    max_total_bytes: u64,
}

impl LocalFiles {
    /// Files kept in `store` and under `data_dir`, at most `max_total_bytes`
    /// of them; removes what an interrupted upload left.
    ///
    /// # Errors
    /// When the directory or the records cannot be read.
    pub fn open(store: Arc<Store>, data_dir: &Path, max_total_bytes: u64) -> Result<Self> {
        let dir = data_dir.join(DIR);
        let cleared = (|| {
            fs::create_dir_all(&dir)?;
            for entry in fs::read_dir(&dir)? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| *e == PARTIAL[1..]) {
                    fs::remove_file(&path)?;
                }
            }
            Ok::<_, std::io::Error>(())
        })();
        cleared.map_err(|e| io_err("directory", &e))?;
        let files = Self {
            store,
            dir,
            used: Mutex::new(0),
            max_total_bytes,
        };
        let used = files
            .records_before(None)?
            .iter()
            .map(|f| f.info.size)
            .sum();
        *files.used.lock() = used;
        Ok(files)
    }

    /// Counts `size` more bytes kept, unless that passes the limit.
    fn reserve(&self, size: u64) -> Result<(), FileError> {
        let mut used = self.used.lock();
        if *used + size > self.max_total_bytes {
            return Err(FileError::QuotaExceeded {
                limit: self.max_total_bytes,
            });
        }
        *used += size;
        Ok(())
    }

    /// Counts `size` bytes fewer kept.
    fn release(&self, size: u64) {
        let mut used = self.used.lock();
        *used = used.saturating_sub(size);
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    fn put_file(&self, file: &StoredFile, bytes: &[u8]) -> Result<()> {
        let id = &file.info.id;
        let partial = self.dir.join(format!("{id}{PARTIAL}"));
        let written = (|| {
            let mut out = File::create_new(&partial)?;
            out.write_all(bytes)?;
            out.sync_all()?;
            fs::rename(&partial, self.path(id))?;
            File::open(&self.dir)?.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&partial);
            return Err(io_err(id, &e));
        }
        let record = serde_json::to_vec(file).expect("a file record serializes");
        let recorded = (|| {
            let txn = self.store.write()?;
            txn.open_table(FILES)
                .map_err(db_err)?
                .insert((file.channel.as_str(), id.as_str()), record.as_slice())
                .map_err(db_err)?;
            txn.commit().map_err(db_err)
        })();
        if recorded.is_err() {
            let _ = fs::remove_file(self.path(id));
        }
        recorded
    }

    fn read_record(&self, channel: &str, id: &str) -> Result<Option<StoredFile>> {
        let txn = self.store.read()?;
        let table = txn.open_table(FILES).map_err(db_err)?;
        let record = table.get((channel, id)).map_err(db_err)?;
        record.map(|r| decode(channel, id, r.value())).transpose()
    }

    fn get_file(&self, channel: &str, id: &str) -> Result<Option<(StoredFile, Bytes)>> {
        let Some(file) = self.read_record(channel, id)? else {
            return Ok(None);
        };
        match fs::read(self.path(id)) {
            Ok(bytes) => Ok(Some((file, bytes.into()))),
            Err(e) => Err(io_err(id, &e)),
        }
    }

    fn list_files(
        &self,
        channel: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredFile>> {
        let txn = self.store.read()?;
        let table = txn.open_table(FILES).map_err(db_err)?;
        let start = match after {
            Some(id) => Bound::Excluded((channel, id)),
            None => Bound::Included((channel, "")),
        };
        let mut files = Vec::new();
        for entry in table
            .range::<(&str, &str)>((start, Bound::Unbounded))
            .map_err(db_err)?
        {
            let (key, record) = entry.map_err(db_err)?;
            let (owner, id) = key.value();
            if owner != channel || files.len() == limit {
                break;
            }
            files.push(decode(channel, id, record.value())?);
        }
        Ok(files)
    }

    fn delete_file(&self, channel: &str, id: &str) -> Result<bool> {
        let txn = self.store.write()?;
        let removed = txn
            .open_table(FILES)
            .map_err(db_err)?
            .remove((channel, id))
            .map_err(db_err)?
            .map(|record| decode(channel, id, record.value()))
            .transpose()?;
        txn.commit().map_err(db_err)?;
        let Some(file) = removed else {
            return Ok(false);
        };
        self.release(file.info.size);
        self.remove_bytes(id)?;
        Ok(true)
    }

    fn remove_bytes(&self, id: &str) -> Result<()> {
        match fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(io_err(id, &e)),
            _ => Ok(()),
        }
    }

    /// The records of every channel whose ids sort before `before` (all
    /// of them without it).
    fn records_before(&self, before: Option<&str>) -> Result<Vec<StoredFile>> {
        let txn = self.store.read()?;
        let table = txn.open_table(FILES).map_err(db_err)?;
        let mut files = Vec::new();
        for entry in table.iter().map_err(db_err)? {
            let (key, record) = entry.map_err(db_err)?;
            let (channel, id) = key.value();
            if before.is_none_or(|before| id < before) {
                files.push(decode(channel, id, record.value())?);
            }
        }
        Ok(files)
    }

    /// Removes the files whose ids sort before `before`; how many.
    fn prune_files(&self, before: &str) -> Result<u64> {
        let expired = self.records_before(Some(before))?;
        let txn = self.store.write()?;
        {
            let mut table = txn.open_table(FILES).map_err(db_err)?;
            for file in &expired {
                let key = (file.channel.as_str(), file.info.id.as_str());
                table.remove(key).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)?;
        for file in &expired {
            self.release(file.info.size);
            self.remove_bytes(&file.info.id)?;
        }
        Ok(expired.len() as u64)
    }
}

fn io_err(id: &str, e: &std::io::Error) -> StoreError {
    StoreError::Corrupt {
        key: format!("file {id}"),
        reason: e.to_string(),
    }
}

fn decode(channel: &str, id: &str, record: &[u8]) -> Result<StoredFile> {
    serde_json::from_slice(record).map_err(|e| StoreError::Corrupt {
        key: format!("file {id} of {channel}"),
        reason: e.to_string(),
    })
}

/// A store failure, as files calls report it.
fn lost(e: StoreError) -> FileError {
    FileError::Unavailable(e.to_string())
}

impl FileStore for LocalFiles {
    fn put(
        self: Arc<Self>,
        file: StoredFile,
        bytes: Bytes,
    ) -> BoxFuture<'static, Result<(), FileError>> {
        Box::pin(async move {
            let size = bytes.len() as u64;
            self.reserve(size)?;
            let kept = Arc::clone(&self);
            let stored = blocking(move || kept.put_file(&file, &bytes)).await;
            if stored.is_err() {
                self.release(size);
            }
            stored.map_err(lost)
        })
    }

    fn record(
        self: Arc<Self>,
        channel: Channel,
        id: String,
    ) -> BoxFuture<'static, Result<Option<StoredFile>, FileError>> {
        Box::pin(async move {
            blocking(move || self.read_record(channel.as_str(), &id))
                .await
                .map_err(lost)
        })
    }

    fn get(
        self: Arc<Self>,
        channel: Channel,
        id: String,
    ) -> BoxFuture<'static, Result<Option<(StoredFile, Bytes)>, FileError>> {
        Box::pin(async move {
            blocking(move || self.get_file(channel.as_str(), &id))
                .await
                .map_err(lost)
        })
    }

    fn list(
        self: Arc<Self>,
        channel: Channel,
        after: Option<String>,
        limit: usize,
    ) -> BoxFuture<'static, Result<Vec<StoredFile>, FileError>> {
        Box::pin(async move {
            blocking(move || self.list_files(channel.as_str(), after.as_deref(), limit))
                .await
                .map_err(lost)
        })
    }

    fn delete(
        self: Arc<Self>,
        channel: Channel,
        id: String,
    ) -> BoxFuture<'static, Result<bool, FileError>> {
        Box::pin(async move {
            blocking(move || self.delete_file(channel.as_str(), &id))
                .await
                .map_err(lost)
        })
    }

    fn prune(self: Arc<Self>, before: String) -> BoxFuture<'static, Result<u64, FileError>> {
        Box::pin(async move {
            blocking(move || self.prune_files(&before))
                .await
                .map_err(lost)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::FileInfo;

    fn file(channel: &str, id: &str) -> StoredFile {
        StoredFile {
            info: FileInfo {
                name: "a.txt".into(),
                id: id.into(),
                size: 3,
                created: "2026-01-01T00:00:00.000Z".into(),
            },
            channel: channel.into(),
            content_type: "text/plain".into(),
        }
    }

    #[test]
    fn keeps_lists_and_deletes_per_channel() {
        let dir = std::env::temp_dir().join(format!("edgefn-files-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let store = Arc::new(Store::open(&dir).unwrap());
        let files = LocalFiles::open(store, &dir, u64::MAX).unwrap();
        for (channel, id) in [("a", "1"), ("a", "2"), ("ab", "0"), ("a", "3")] {
            files.put_file(&file(channel, id), b"abc").unwrap();
        }
        let ids = |after, limit| -> Vec<String> {
            let listed = files.list_files("a", after, limit).unwrap();
            listed.into_iter().map(|f| f.info.id).collect()
        };
        assert_eq!(ids(None, 10), ["1", "2", "3"]);
        assert_eq!(ids(Some("1"), 1), ["2"]);
        let (kept, bytes) = files.get_file("a", "2").unwrap().unwrap();
        assert_eq!((kept, bytes.as_ref()), (file("a", "2"), &b"abc"[..]));
        assert!(files.get_file("ab", "2").unwrap().is_none());
        assert!(files.delete_file("a", "2").unwrap());
        assert!(!files.delete_file("a", "2").unwrap());
        assert_eq!(ids(None, 10), ["1", "3"]);
        assert!(!dir.join(DIR).join("2").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn the_total_holds_and_pruning_frees_it() {
        let dir = std::env::temp_dir().join(format!("edgefn-files-quota-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let store = Arc::new(Store::open(&dir).unwrap());
        let files = Arc::new(LocalFiles::open(Arc::clone(&store), &dir, 5).unwrap());
        let put = |channel: &str, id: &str| {
            Arc::clone(&files).put(file(channel, id), Bytes::from_static(b"abc"))
        };
        put("a", "1").await.unwrap();
        let refused = put("b", "2").await.unwrap_err();
        assert!(
            matches!(refused, FileError::QuotaExceeded { limit: 5 }),
            "{refused}"
        );
        // Counted again from the records when opened again.
        let reopened = Arc::new(LocalFiles::open(store, &dir, 5).unwrap());
        assert_eq!(*reopened.used.lock(), 3);
        assert_eq!(files.prune_files("1").unwrap(), 0);
        assert_eq!(files.prune_files("2").unwrap(), 1);
        assert!(!dir.join(DIR).join("1").exists());
        put("b", "2").await.unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}
