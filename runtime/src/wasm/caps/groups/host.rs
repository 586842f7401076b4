//! `edgefn:functions/channel-groups`.

use super::{GroupRefusal, GroupsCtx, check_group, parse_channels};
use crate::bus::Channel;
use crate::wasm::bindings::channel_groups::Host;
use crate::wasm::bindings::types::Error;

impl GroupsCtx {
    /// Spends the budget and checks `group`.
    fn start(&mut self, group: &str) -> Result<(), Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        check_group(group).map_err(Error::Invalid)
    }

    async fn change(
        &mut self,
        group: String,
        add: &[String],
        remove: &[String],
    ) -> Result<(), Error> {
        self.start(&group)?;
        let add = parse_channels(add).map_err(Error::Invalid)?;
        let remove = parse_channels(remove).map_err(Error::Invalid)?;
        self.groups.change(group, add, remove).await.map_err(error)
    }
}

impl Host for GroupsCtx {
    async fn add_channels(&mut self, group: String, channels: Vec<String>) -> Result<(), Error> {
        self.change(group, &channels, &[]).await
    }

    async fn remove_channels(&mut self, group: String, channels: Vec<String>) -> Result<(), Error> {
        self.change(group, &[], &channels).await
    }

    async fn list_channels(&mut self, group: String) -> Result<Vec<String>, Error> {
        self.start(&group)?;
        let channels = self.groups.channels(&group).map_err(error)?;
        Ok(channels.iter().map(Channel::to_string).collect())
    }

    async fn list_groups(&mut self) -> Result<Vec<String>, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        self.groups.names().map_err(error)
    }

    async fn delete_group(&mut self, group: String) -> Result<(), Error> {
        self.start(&group)?;
        self.groups.delete(group).await.map_err(error)
    }
}

fn error(refusal: GroupRefusal) -> Error {
    match refusal {
        GroupRefusal::Invalid(m) => Error::Invalid(m),
        GroupRefusal::Unavailable(m) => Error::Unavailable(m),
    }
}
