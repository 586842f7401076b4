//! Files shared on channels, as PubNub's Files API defines them: a client
//! asks for an upload URL (naming the channel and the file's name), posts
//! the bytes there as a form, then publishes a file message
//! (`{message, file: {id, name}}`, a [`crate::bus::MessageKind::File`]) that
//! subscribers get and history keeps. Files are listed per channel, read
//! through a signed, expiring link, and deleted.
//!
//! The rules live here once: ids (time-ordered, so a channel's files list
//! oldest first), names, the size limit, the signed upload policies and
//! download links ([`policy`]), paging. Where the bytes are kept is a
//! [`FileStore`]: the node's data directory and embedded store alone
//! ([`crate::store::files`]), the cluster's JetStream object store otherwise
//! ([`crate::cluster::files`]).
//!
//! Bounds ([`FileLimits`], from `[files]` in the config): largest file
//! (5 MiB by default, as PubNub's), how long an upload URL and a download
//! link stay valid, how long files are kept, how many bytes of files a
//! store keeps at once. A file expires by its id's time: from then on it
//! answers as one never stored, and [`Files::prune`] has the store remove it
//! (the stores enforce the total themselves, see [`FileStore::put`]).

pub mod policy;

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use self::policy::{Signer, UploadPolicy};
use crate::bus::Channel;
use crate::config::FilesConfig;
use crate::objects::iso_time;

/// Most files answered by one list (PubNub's).
pub const MAX_PAGE: usize = 100;
/// Longest file name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// A shared file as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Its name, as the uploader gave it.
    pub name: String,
    /// Its id (made by the node).
    pub id: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was stored (ISO-8601 UTC).
    pub created: String,
}

/// A shared file as a store keeps it (besides its bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    /// What lists show.
    #[serde(flatten)]
    pub info: FileInfo,
    /// The channel it is shared on.
    pub channel: String,
    /// Its media type, as the uploader gave it.
    pub content_type: String,
}

/// Why a files call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FileError {
    /// The request is wrong (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// An upload policy or download link that the node did not sign, or
    /// that expired (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// No such file on the channel (HTTP 404).
    #[error("File Not Found")]
    NotFound,
    /// The file is larger than the node takes (HTTP 413).
    #[error("the file is larger than the limit of {limit} bytes ([files] max_file_bytes)")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The file does not fit in what the store may keep (HTTP 413).
    #[error(
        "the files kept would pass the limit of {limit} bytes ([files] max_total_bytes): delete files or wait for old ones to expire"
    )]
    QuotaExceeded {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The store could not answer; retrying may work (HTTP 503).
    #[error("files are unavailable: {0}")]
    Unavailable(String),
}

/// Where files are kept: each one's record and bytes, by channel and id.
pub trait FileStore: Send + Sync + 'static {
    /// Keeps `bytes` as `file` (ids are unique: nothing is replaced), durably
    /// once the future succeeds.
    ///
    /// # Errors
    /// [`FileError::QuotaExceeded`] when the store's files and these bytes
    /// would pass its total limit; [`FileError::Unavailable`] when it cannot
    /// be kept.
    fn put(
        self: Arc<Self>,
        file: StoredFile,
        bytes: Bytes,
    ) -> BoxFuture<'static, Result<(), FileError>>;

    /// The record of the file `id` of `channel`, if kept.
    ///
    /// # Errors
    /// [`FileError::Unavailable`] when the store cannot be read.
    fn record(
        self: Arc<Self>,
        channel: Channel,
        id: String,
    ) -> BoxFuture<'static, Result<Option<StoredFile>, FileError>>;

    /// The file `id` of `channel` and its bytes, if kept.
    ///
    /// # Errors
    /// [`FileError::Unavailable`] when the store cannot be read.
    fn get(
        self: Arc<Self>,
        channel: Channel,
        id: String,
    ) -> BoxFuture<'static, Result<Option<(StoredFile, Bytes)>, FileError>>;

    /// At most `limit` files of `channel` whose ids come after `after`, in
    /// id order.
    ///
    /// # Errors
    /// [`FileError::Unavailable`] when the store cannot be read.
    fn list(
        self: Arc<Self>,
        channel: Channel,
        after: Option<String>,
        limit: usize,
    ) -> BoxFuture<'static, Result<Vec<StoredFile>, FileError>>;

    /// Removes the file `id` of `channel`; whether it was kept.
    ///
    /// # Errors
    /// [`FileError::Unavailable`] when the store cannot be changed.
    fn delete(
        self: Arc<Self>,
        channel: Channel,
        id: String,
    ) -> BoxFuture<'static, Result<bool, FileError>>;

    /// Removes the files of every channel whose ids sort before `before`
    /// (so that were made before a time, see [`Files::prune`]); how many. A
    /// store that ages files out by itself removes none here.
    ///
    /// # Errors
    /// [`FileError::Unavailable`] when the store cannot be changed.
    fn prune(self: Arc<Self>, before: String) -> BoxFuture<'static, Result<u64, FileError>>;
}

/// How large a file may be, how long signed URLs stay valid, how long files
/// are kept and how many bytes of them.
#[derive(Debug, Clone, Copy)]
pub struct FileLimits {
    /// Largest file, in bytes.
    pub max_bytes: usize,
    /// How long an upload URL stays valid, in seconds.
    pub upload_ttl_secs: u64,
    /// How long a download link stays valid, in seconds.
    pub download_ttl_secs: u64,
    /// How long a file is kept, from its id's time, in milliseconds.
    pub retention_ms: u64,
    /// Most bytes of files a store keeps at once.
    pub max_total_bytes: u64,
}

impl FileLimits {
    /// The limits configured in `[files]`.
    pub fn of(config: &FilesConfig) -> Self {
        let retention_secs = (config.retention_days.max(1)).saturating_mul(config.day_secs.max(1));
        Self {
            max_bytes: config.max_file_bytes,
            upload_ttl_secs: config.upload_url_ttl_secs.max(1),
            download_ttl_secs: config.download_url_ttl_secs.max(1),
            retention_ms: retention_secs.saturating_mul(1000),
            max_total_bytes: config.max_total_bytes,
        }
    }
}

/// An upload the node agreed to: the file's id and name, and the signed
/// policy the form must carry.
#[derive(Debug, Clone)]
pub struct NewUpload {
    /// What may be uploaded, until when.
    pub policy: UploadPolicy,
    /// The policy as a form field (base64url JSON).
    pub encoded: String,
    /// Its signature, as a form field (hex).
    pub signature: String,
}

/// A signed link to a file's bytes.
#[derive(Debug, Clone)]
pub struct DownloadLink {
    /// Unix seconds after which it is refused.
    pub expires: u64,
    /// Its signature (hex).
    pub signature: String,
}

/// A page of a channel's files, oldest first, and where the next one
/// starts (none: this was the last).
#[derive(Debug, Clone)]
pub struct Page {
    /// The files.
    pub files: Vec<FileInfo>,
    /// The `next` to ask with for the files after these.
    pub next: Option<String>,
}

/// The node's shared files.
pub struct Files {
    store: Arc<dyn FileStore>,
    signer: Signer,
    limits: FileLimits,
}

impl Files {
    /// Files kept in `store`, with URLs signed by `signer`, within `limits`.
    pub fn new(store: Arc<dyn FileStore>, signer: Signer, limits: FileLimits) -> Self {
        Self {
            store,
            signer,
            limits,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> FileLimits {
        self.limits
    }

    /// Agrees to an upload of a file named `name` to `channel` at `now`
    /// (Unix seconds): a fresh id and the signed policy for the form.
    ///
    /// # Errors
    /// [`FileError::Invalid`] for an empty, too long or unusable name.
    pub fn new_upload(
        &self,
        channel: &Channel,
        name: &str,
        now: u64,
    ) -> Result<NewUpload, FileError> {
        check_name(name)?;
        let policy = UploadPolicy {
            channel: channel.as_str().to_owned(),
            id: new_id()?,
            name: name.to_owned(),
            expires: now + self.limits.upload_ttl_secs,
        };
        let (encoded, signature) = self.signer.sign_upload(&policy);
        Ok(NewUpload {
            policy,
            encoded,
            signature,
        })
    }

    /// The upload policy a form carries, if the node signed it and it is
    /// still valid at `now`.
    ///
    /// # Errors
    /// [`FileError::Forbidden`] otherwise.
    pub fn accept_upload(
        &self,
        encoded: &str,
        signature: &str,
        now: u64,
    ) -> Result<UploadPolicy, FileError> {
        self.signer.check_upload(encoded, signature, now)
    }

    /// Keeps the bytes of an accepted upload, stored at `now_ms`. Each
    /// policy stores one file once.
    ///
    /// # Errors
    /// [`FileError::TooLarge`], [`FileError::Forbidden`] for an upload made
    /// already, [`FileError::Invalid`] for a policy naming a channel that is
    /// not one, [`FileError::Unavailable`].
    pub async fn keep(
        &self,
        policy: UploadPolicy,
        content_type: String,
        bytes: Bytes,
        now_ms: u64,
    ) -> Result<FileInfo, FileError> {
        if bytes.len() > self.limits.max_bytes {
            return Err(FileError::TooLarge {
                limit: self.limits.max_bytes,
            });
        }
        let channel = Channel::parse(&policy.channel)
            .map_err(|e| FileError::Invalid(format!("the policy's channel is not one: {e}")))?;
        let kept = Arc::clone(&self.store)
            .record(channel, policy.id.clone())
            .await?;
        if kept.is_some() {
            return Err(FileError::Forbidden(
                "this upload was made already: ask for a new upload URL".into(),
            ));
        }
        let info = FileInfo {
            name: policy.name,
            id: policy.id,
            size: bytes.len() as u64,
            created: iso_time(now_ms),
        };
        let file = StoredFile {
            info: info.clone(),
            channel: policy.channel,
            content_type,
        };
        Arc::clone(&self.store).put(file, bytes).await?;
        Ok(info)
    }

    /// At most `limit` (1 to [`MAX_PAGE`]) files of `channel`, after the
    /// page that answered `next`.
    ///
    /// # Errors
    /// [`FileError::Invalid`] for a `next` no page answered;
    /// [`FileError::Unavailable`].
    pub async fn list(
        &self,
        channel: Channel,
        limit: usize,
        next: Option<&str>,
    ) -> Result<Page, FileError> {
        if let Some(next) = next
            && !is_file_id(next)
        {
            return Err(FileError::Invalid(format!(
                "next `{next}` is not one a list answered"
            )));
        }
        let limit = limit.clamp(1, MAX_PAGE);
        // Expired files sort first: start after them.
        let oldest = self.oldest_kept(crate::clock::unix_ms());
        let after = Some(next.map_or(oldest.clone(), |next| next.max(&oldest).to_owned()));
        let mut files = Arc::clone(&self.store)
            .list(channel, after, limit + 1)
            .await?;
        let more = files.len() > limit;
        files.truncate(limit);
        let files: Vec<FileInfo> = files.into_iter().map(|f| f.info).collect();
        let next = more.then(|| files.last().map(|f| f.id.clone())).flatten();
        Ok(Page { files, next })
    }

    /// A link to `channel`'s file `id` named `name`, valid from `now`.
    ///
    /// # Errors
    /// [`FileError::Invalid`] for an id the node cannot have made or an
    /// unusable name.
    pub fn download_link(
        &self,
        channel: &Channel,
        (id, name): (&str, &str),
        now: u64,
    ) -> Result<DownloadLink, FileError> {
        check_id(id)?;
        check_name(name)?;
        let expires = now + self.limits.download_ttl_secs;
        let signature = self
            .signer
            .sign_download(channel.as_str(), id, name, expires);
        Ok(DownloadLink { expires, signature })
    }

    /// Checks a download link at `now`.
    ///
    /// # Errors
    /// [`FileError::Forbidden`] for a forged, altered or expired link.
    pub fn check_download(
        &self,
        channel: &Channel,
        (id, name): (&str, &str),
        link: &DownloadLink,
        now: u64,
    ) -> Result<(), FileError> {
        let file = (channel.as_str(), id, name);
        self.signer
            .check_download(file, link.expires, &link.signature, now)
    }

    /// `channel`'s file `id` named `name`, and its bytes.
    ///
    /// # Errors
    /// [`FileError::NotFound`] when there is none by that id and name, or
    /// it expired; [`FileError::Invalid`], [`FileError::Unavailable`].
    pub async fn read(
        &self,
        channel: Channel,
        (id, name): (&str, &str),
    ) -> Result<(StoredFile, Bytes), FileError> {
        self.check_kept(id)?;
        match Arc::clone(&self.store).get(channel, id.to_owned()).await? {
            Some((file, bytes)) if file.info.name == name => Ok((file, bytes)),
            _ => Err(FileError::NotFound),
        }
    }

    /// Deletes `channel`'s file `id` named `name`.
    ///
    /// # Errors
    /// As [`Files::read`].
    pub async fn delete(
        &self,
        channel: Channel,
        (id, name): (&str, &str),
    ) -> Result<(), FileError> {
        self.check_kept(id)?;
        let kept = Arc::clone(&self.store)
            .record(channel.clone(), id.to_owned())
            .await?;
        if kept.is_none_or(|file| file.info.name != name) {
            return Err(FileError::NotFound);
        }
        Arc::clone(&self.store)
            .delete(channel, id.to_owned())
            .await?;
        Ok(())
    }

    /// Has the store remove the files expired at `now_ms`; how many.
    ///
    /// # Errors
    /// [`FileError::Unavailable`].
    pub async fn prune(&self, now_ms: u64) -> Result<u64, FileError> {
        Arc::clone(&self.store)
            .prune(self.oldest_kept(now_ms))
            .await
    }

    /// The lowest id a file kept at `now_ms` can have: the ids of expired
    /// files sort before it.
    fn oldest_kept(&self, now_ms: u64) -> String {
        first_id_at(now_ms.saturating_sub(self.limits.retention_ms))
    }

    /// Checks that `id` is one the node made and that it has not expired.
    fn check_kept(&self, id: &str) -> Result<(), FileError> {
        check_id(id)?;
        if id < self.oldest_kept(crate::clock::unix_ms()).as_str() {
            return Err(FileError::NotFound);
        }
        Ok(())
    }
}

/// The lowest id that [`new_id`] can make at `ms`: ids made before sort
/// before it, ids made then or later after it.
fn first_id_at(ms: u64) -> String {
    let hex = format!("{:012x}", ms & 0xffff_ffff_ffff);
    format!("{}-{}-0000-0000-000000000000", &hex[..8], &hex[8..])
}

/// A fresh file id: a UUIDv7 (milliseconds first, then randomness), so ids
/// sort as they were made.
fn new_id() -> Result<String, FileError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes[6..]).map_err(|e| FileError::Unavailable(e.to_string()))?;
    let ms = crate::clock::unix_ms().to_be_bytes();
    bytes[..6].copy_from_slice(&ms[2..]);
    bytes[6] = 0x70 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    let hex = hex::encode(bytes);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// Whether `id` has the form of the ids the node makes (so it is safe as a
/// file name and a store key).
pub fn is_file_id(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => matches!(c, '0'..='9' | 'a'..='f'),
        })
}

fn check_id(id: &str) -> Result<(), FileError> {
    if is_file_id(id) {
        return Ok(());
    }
    Err(FileError::Invalid(format!(
        "file id `{id}` is not one the node made"
    )))
}

fn check_name(name: &str) -> Result<(), FileError> {
    let invalid = |why: &str| Err(FileError::Invalid(format!("invalid file name: {why}")));
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return invalid(&format!("it is longer than {MAX_NAME_BYTES} bytes"));
    }
    if name.contains('/') || name.chars().any(char::is_control) {
        return invalid("it may not contain `/` or control characters");
    }
    if name == "." || name == ".." {
        return invalid("it may not be `.` or `..`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_and_sort_as_made() {
        let first = new_id().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_id().unwrap();
        assert!(is_file_id(&first), "{first}");
        assert!(first < second, "{first} {second}");
        assert_eq!(&first[14..15], "7");
        assert!(!is_file_id("../../etc/passwd"));
        assert!(!is_file_id(&first.to_uppercase()));
    }

    #[test]
    fn the_first_id_at_a_time_sorts_between_earlier_and_later_ids() {
        let id = new_id().unwrap();
        let ms = (u64::from_str_radix(&id[..8], 16).unwrap() << 16)
            | u64::from_str_radix(&id[9..13], 16).unwrap();
        let first = first_id_at(ms);
        assert!(is_file_id(&first), "{first}");
        assert!(first_id_at(ms - 1) < first && first < id, "{first} {id}");
        assert!(id < first_id_at(ms + 1), "{id}");
    }

    #[test]
    fn names_are_checked() {
        for good in ["cat.jpg", "a b (1).txt", "ünïcode.bin"] {
            check_name(good).unwrap();
        }
        let long = "x".repeat(MAX_NAME_BYTES + 1);
        for bad in ["", "a/b", "..", "a\nb", long.as_str()] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
