//! `edgefn:functions/kv`.

use std::sync::Arc;

use super::KvCtx;
use crate::store::kv::{KvError, MAX_PAGE, MAX_VALUE_BYTES, check_key};
use crate::store::{self, StoreError};
use crate::wasm::bindings::kv::{Host, KeyPage};
use crate::wasm::bindings::types::Error;
use crate::wasm::caps::log::now_ms;

impl KvCtx {
    fn begin(&mut self, key: &str) -> Result<(), Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        check_key(key).map_err(kv_error)
    }

    async fn run<T: Send + 'static>(
        &self,
        op: impl FnOnce(&store::Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Error> {
        let store = Arc::clone(&self.store);
        store::blocking(move || op(&store))
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))
    }
}

impl Host for KvCtx {
    async fn get(&mut self, key: String) -> Result<Option<String>, Error> {
        self.begin(&key)?;
        self.run(move |s| s.kv_get(&key, now_ms())).await
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
        let expires = ttl_seconds.map_or(0, |s| now_ms() + u64::from(s.max(1)) * 1000);
        self.run(move |s| s.kv_set(&key, &value, expires)).await
    }

    async fn delete(&mut self, key: String) -> Result<bool, Error> {
        self.begin(&key)?;
        self.run(move |s| s.kv_delete(&key, now_ms())).await
    }

    async fn incr(&mut self, key: String, delta: i64) -> Result<i64, Error> {
        self.begin(&key)?;
        self.run(move |s| s.kv_incr(&key, delta, now_ms()))
            .await?
            .map_err(kv_error)
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
            .run(move |s| s.kv_list(&prefix, cursor.as_deref(), limit, now_ms()))
            .await?;
        Ok(KeyPage {
            keys: page.keys,
            cursor: page.cursor,
        })
    }
}

fn kv_error(e: KvError) -> Error {
    if e.is_size_limit() {
        Error::TooLarge(e.to_string())
    } else {
        Error::Invalid(e.to_string())
    }
}
