//! `edgefn:functions/presence`.

use serde_json::Value;

use super::{BadState, PresenceCtx};
use crate::wasm::bindings::presence::{ChannelOccupants, Host, Member};
use crate::wasm::bindings::types::Error;

impl Host for PresenceCtx {
    fn here_now(
        &mut self,
        channels: Vec<String>,
        include_uuids: bool,
        include_state: bool,
    ) -> Result<Vec<ChannelOccupants>, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let channels = super::channels(&channels, true).map_err(Error::Invalid)?;
        let every = channels.is_empty();
        let found = self
            .table
            .here_now((!every).then_some(channels.as_slice()))
            .map_err(Error::Unavailable)?;
        let answer = found
            .into_iter()
            .map(|(channel, members)| ChannelOccupants {
                channel: channel.to_string(),
                occupancy: u32::try_from(members.len()).unwrap_or(u32::MAX),
                members: if include_uuids {
                    members
                        .into_iter()
                        .map(|(uuid, state)| Member {
                            uuid,
                            state: state
                                .filter(|_| include_state)
                                .map(|s| Value::Object(s).to_string()),
                        })
                        .collect()
                } else {
                    Vec::new()
                },
            })
            .collect();
        Ok(answer)
    }

    fn where_now(&mut self, uuid: String) -> Result<Vec<String>, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let uuid = super::uuid(&uuid).map_err(Error::Invalid)?;
        let channels = self.table.where_now(uuid).map_err(Error::Unavailable)?;
        Ok(channels.iter().map(ToString::to_string).collect())
    }

    fn get_state(
        &mut self,
        uuid: String,
        channels: Vec<String>,
    ) -> Result<Vec<(String, Option<String>)>, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let uuid = super::uuid(&uuid).map_err(Error::Invalid)?;
        let channels = super::channels(&channels, false).map_err(Error::Invalid)?;
        let states = self
            .table
            .state(uuid, &channels)
            .map_err(Error::Unavailable)?;
        let answer = channels
            .iter()
            .map(|channel| {
                let state = states
                    .iter()
                    .find(|(c, _)| c == channel)
                    .map(|(_, s)| Value::Object(s.clone()).to_string());
                (channel.to_string(), state)
            })
            .collect();
        Ok(answer)
    }

    fn set_state(
        &mut self,
        uuid: String,
        channels: Vec<String>,
        state: String,
    ) -> Result<(), Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let uuid = super::uuid(&uuid).map_err(Error::Invalid)?;
        let channels = super::channels(&channels, false).map_err(Error::Invalid)?;
        if channels.is_empty() {
            return Err(Error::Invalid("name at least one channel".into()));
        }
        let state = super::state(&state).map_err(|e| match e {
            BadState::Invalid(m) => Error::Invalid(m),
            BadState::TooLarge(m) => Error::TooLarge(m),
        })?;
        self.table
            .set_state(uuid, &channels, &state)
            .map_err(Error::Unavailable)
    }
}
