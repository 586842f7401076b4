//! Files shared on channels (PubNub's Files API), the same files the
//! PubNub API keeps: [`list`] a channel's files, link to one with [`url`]
//! (signed, expiring, usable without credentials), [`delete`] one. Sharing
//! a stored file on a channel is a publish:
//! [`bus::publish_file`](crate::bus::publish_file). The function acts with
//! the node's authority. Each call but [`url`] counts against the
//! invocation's bus budget (10 calls by default, shared with publishing
//! and the other PubNub calls).
//!
//! ```no_run
//! use edgefn_sdk::files;
//!
//! let page = files::list("chat.lobby", None, None)?;
//! for file in &page.files {
//!     let link = files::url("chat.lobby", &file.id, &file.name)?;
//!     println!("{} ({} bytes): {link}", file.name, file.size);
//! }
//! # Ok::<(), edgefn_sdk::Error>(())
//! ```

use crate::__private::bindings::edgefn::functions::files as wit;
use crate::Error;

/// A shared file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Its id (made by the node).
    pub id: String,
    /// Its name, as the uploader gave it.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was stored (ISO-8601 UTC).
    pub created: String,
}

/// A page of a channel's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The files, oldest first.
    pub files: Vec<FileInfo>,
    /// Pass this to [`list`] for the files after these; none on the last
    /// page.
    pub next: Option<String>,
}

/// At most `limit` (default and at most 100) files of `channel`, after the
/// page that answered `next`.
pub fn list(channel: &str, limit: Option<u32>, next: Option<&str>) -> Result<Page, Error> {
    let page = wit::list_files(channel, limit, next).map_err(Error::from_wit)?;
    Ok(Page {
        files: page
            .files
            .into_iter()
            .map(|f| FileInfo {
                id: f.id,
                name: f.name,
                size: f.size,
                created: f.created,
            })
            .collect(),
        next: page.next,
    })
}

/// A signed link that downloads `channel`'s file `id` named `name` without
/// credentials, valid for the node's `[files] download_url_ttl_secs`.
pub fn url(channel: &str, id: &str, name: &str) -> Result<String, Error> {
    wit::get_file_url(channel, id, name).map_err(Error::from_wit)
}

/// Deletes `channel`'s file `id` named `name`; whether there was one.
pub fn delete(channel: &str, id: &str, name: &str) -> Result<bool, Error> {
    wit::delete_file(channel, id, name).map_err(Error::from_wit)
}
