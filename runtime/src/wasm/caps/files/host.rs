//! `edgefn:functions/files`.

use super::FilesCtx;
use crate::bus::Channel;
use crate::files::{FileError, FileInfo, MAX_PAGE};
use crate::wasm::bindings::files::{self, FilePage, Host};
use crate::wasm::bindings::types::Error;

impl Host for FilesCtx {
    async fn list_files(
        &mut self,
        channel: String,
        limit: Option<u32>,
        next: Option<String>,
    ) -> Result<FilePage, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let channel = parse_channel(&channel)?;
        let limit = limit.map_or(MAX_PAGE, |l| l as usize);
        let page = self.files.list(channel, limit, next).await.map_err(error)?;
        Ok(FilePage {
            files: page.files.into_iter().map(wit_file).collect(),
            next: page.next,
        })
    }

    async fn get_file_url(
        &mut self,
        channel: String,
        id: String,
        name: String,
    ) -> Result<String, Error> {
        let channel = parse_channel(&channel)?;
        self.files.url(&channel, &id, &name).map_err(error)
    }

    async fn delete_file(
        &mut self,
        channel: String,
        id: String,
        name: String,
    ) -> Result<bool, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let channel = parse_channel(&channel)?;
        match self.files.delete(channel, id, name).await {
            Ok(()) => Ok(true),
            Err(FileError::NotFound) => Ok(false),
            Err(e) => Err(error(e)),
        }
    }
}

fn parse_channel(name: &str) -> Result<Channel, Error> {
    Channel::parse(name).map_err(|e| Error::Invalid(e.to_string()))
}

fn wit_file(file: FileInfo) -> files::FileInfo {
    files::FileInfo {
        id: file.id,
        name: file.name,
        size: file.size,
        created: file.created,
    }
}

fn error(e: FileError) -> Error {
    match e {
        FileError::Invalid(m) | FileError::Forbidden(m) => Error::Invalid(m),
        FileError::NotFound => Error::Invalid(e.to_string()),
        FileError::TooLarge { .. } | FileError::QuotaExceeded { .. } => {
            Error::TooLarge(e.to_string())
        }
        FileError::Unavailable(_) => Error::Unavailable(e.to_string()),
    }
}
