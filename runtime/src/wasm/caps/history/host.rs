//! `edgefn:functions/history`.

use super::{HistoryCtx, MAX_CHANNELS};
use crate::bus::{Channel, Deletion, Timetoken};
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
        let parsed = parse_channels(&channels)?;
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

    async fn message_counts(
        &mut self,
        channels: Vec<String>,
        timetokens: Vec<String>,
    ) -> Result<Vec<u64>, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let parsed = parse_channels(&channels)?;
        let timetokens = timetokens
            .iter()
            .map(|t| parse_timetoken(t))
            .collect::<Result<Vec<_>, _>>()?;
        let after = match timetokens[..] {
            [one] => vec![one; parsed.len()],
            _ if timetokens.len() == parsed.len() => timetokens,
            _ => {
                return Err(Error::Invalid(format!(
                    "{} timetokens for {} channels: give one, or one per channel",
                    timetokens.len(),
                    parsed.len()
                )));
            }
        };
        let mut counts = Vec::with_capacity(parsed.len());
        for (channel, after) in parsed.into_iter().zip(after) {
            let count = self.reader.count_after(channel, after).await;
            counts.push(count.map_err(Error::Unavailable)?);
        }
        Ok(counts)
    }

    async fn delete_messages(
        &mut self,
        channel: String,
        start: Option<String>,
        end: Option<String>,
    ) -> Result<(), Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let channel = Channel::parse(&channel).map_err(|e| Error::Invalid(e.to_string()))?;
        let start = start.as_deref().map(parse_timetoken).transpose()?;
        let end = end.as_deref().map(parse_timetoken).transpose()?;
        match Deletion::between(start, end) {
            Some(range) => self
                .reader
                .delete(channel, range)
                .await
                .map_err(Error::Unavailable),
            None => Ok(()),
        }
    }
}

/// `channels` parsed: at least one, at most [`MAX_CHANNELS`].
fn parse_channels(channels: &[String]) -> Result<Vec<Channel>, Error> {
    if channels.is_empty() {
        return Err(Error::Invalid("name at least one channel".into()));
    }
    if channels.len() > MAX_CHANNELS {
        return Err(Error::Invalid(format!(
            "{} channels named: at most {MAX_CHANNELS} per call",
            channels.len()
        )));
    }
    channels
        .iter()
        .map(|c| Channel::parse(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Invalid(e.to_string()))
}

fn parse_timetoken(text: &str) -> Result<Timetoken, Error> {
    text.parse()
        .map_err(|_| Error::Invalid(format!("{text:?} is not a timetoken (17 decimal digits)")))
}
