//! `edgefn:functions/history`.

use super::{HistoryCtx, MAX_CHANNELS};
use crate::bus::Channel;
use crate::wasm::bindings::history::{ChannelMessages, Host, StoredMessage};
use crate::wasm::bindings::types::Error;

impl Host for HistoryCtx {
    async fn fetch(
        &mut self,
        channels: Vec<String>,
        start: Option<String>,
        end: Option<String>,
        count: Option<u32>,
        include_meta: bool,
    ) -> Result<Vec<ChannelMessages>, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        if channels.is_empty() {
            return Err(Error::Invalid("name at least one channel".into()));
        }
        if channels.len() > MAX_CHANNELS {
            return Err(Error::Invalid(format!(
                "{} channels named: at most {MAX_CHANNELS} per call",
                channels.len()
            )));
        }
        let parsed = channels
            .iter()
            .map(|c| Channel::parse(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let query = super::query(parsed.len(), start.as_deref(), end.as_deref(), count)
            .map_err(Error::Invalid)?;
        let mut answer = Vec::with_capacity(parsed.len());
        for channel in parsed {
            let found = self
                .reader
                .history(channel.clone(), query)
                .await
                .map_err(Error::Unavailable)?;
            let messages = found
                .into_iter()
                .map(|published| {
                    let message = published.message;
                    StoredMessage {
                        timetoken: published.timetoken.to_string(),
                        payload: message.payload.get().to_owned(),
                        meta: message
                            .meta
                            .filter(|_| include_meta)
                            .map(|m| m.get().to_owned()),
                        publisher: message.publisher,
                    }
                })
                .collect();
            answer.push(ChannelMessages {
                channel: channel.to_string(),
                messages,
            });
        }
        Ok(answer)
    }
}
