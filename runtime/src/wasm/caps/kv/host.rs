//! `edgefn:functions/kv`.

use super::KvCtx;
use crate::clock::unix_ms;
use crate::kv::{KvError, KvFailure, MAX_PAGE, MAX_VALUE_BYTES, check_key};
use crate::wasm::bindings::kv::{Host, KeyPage};
use crate::wasm::bindings::types::Error;

impl KvCtx {
    fn begin(&mut self, key: &str) -> Result<(), Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        check_key(key).map_err(kv_error)
    }
}

impl Host for KvCtx {
    async fn get(&mut self, key: String) -> Result<Option<String>, Error> {
        self.begin(&key)?;
        self.kv.clone().get(key, unix_ms()).await.map_err(failure)
    }

    async fn set(
        &mut self,
        key: String,
        value: String,
        ttl_seconds: Option<u32>,
    ) -> Result<(), Error> {
        self.begin(&key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(kv_error(KvError::TooLarge(value.len())));
        }
        let expires = ttl_seconds.map_or(0, |s| unix_ms() + u64::from(s.max(1)) * 1000);
        self.kv
            .clone()
            .set(key, value, expires)
            .await
            .map_err(failure)
    }

    async fn delete(&mut self, key: String) -> Result<bool, Error> {
        self.begin(&key)?;
        self.kv
            .clone()
            .delete(key, unix_ms())
            .await
            .map_err(failure)
    }

    async fn incr(&mut self, key: String, delta: i64) -> Result<i64, Error> {
        self.begin(&key)?;
        self.kv
            .clone()
            .incr(key, delta, unix_ms())
            .await
            .map_err(failure)
    }

    async fn list_keys(
        &mut self,
        prefix: String,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<KeyPage, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let limit = limit.map_or(MAX_PAGE, |l| l as usize);
        let page = self
            .kv
            .clone()
            .list(prefix, cursor, limit, unix_ms())
            .await
            .map_err(failure)?;
        Ok(KeyPage {
            keys: page.keys,
            cursor: page.cursor,
        })
    }
}

fn failure(e: KvFailure) -> Error {
    match e {
        KvFailure::Invalid(e) => kv_error(e),
        KvFailure::Unavailable(e) => Error::Unavailable(e),
    }
}

fn kv_error(e: KvError) -> Error {
    if e.is_size_limit() {
        Error::TooLarge(e.to_string())
    } else {
        Error::Invalid(e.to_string())
    }
}
