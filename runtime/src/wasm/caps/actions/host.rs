//! `edgefn:functions/message-actions`.

use super::ActionsCtx;
use crate::actions::{Action, ActionError};
use crate::bus::Channel;
use crate::wasm::bindings::message_actions::{ActionPage, Host, MessageAction};
use crate::wasm::bindings::types::Error;
use crate::wasm::caps::timetoken;

impl Host for ActionsCtx {
    async fn add(
        &mut self,
        channel: String,
        message_timetoken: String,
        type_: String,
        value: String,
    ) -> Result<MessageAction, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let channel = parse_channel(&channel)?;
        let message =
            timetoken("`messageTimetoken`", &message_timetoken).map_err(Error::Invalid)?;
        let action = self
            .book
            .add(channel, message, type_, value, self.author.clone())
            .await
            .map_err(error)?;
        Ok(wit_action(action))
    }

    async fn get(
        &mut self,
        channel: String,
        start: Option<String>,
        end: Option<String>,
        limit: Option<u32>,
    ) -> Result<ActionPage, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let channel = parse_channel(&channel)?;
        let query =
            super::page_query(start.as_deref(), end.as_deref(), limit).map_err(Error::Invalid)?;
        let page = self.book.page(channel, query).await.map_err(error)?;
        Ok(ActionPage {
            actions: page.actions.into_iter().map(wit_action).collect(),
            more: page.more,
        })
    }

    async fn remove(
        &mut self,
        channel: String,
        message_timetoken: String,
        action_timetoken: String,
    ) -> Result<bool, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let channel = parse_channel(&channel)?;
        let message =
            timetoken("`messageTimetoken`", &message_timetoken).map_err(Error::Invalid)?;
        let action = timetoken("`actionTimetoken`", &action_timetoken).map_err(Error::Invalid)?;
        self.book
            .remove(channel, message, action)
            .await
            .map_err(error)
    }
}

fn parse_channel(name: &str) -> Result<Channel, Error> {
    Channel::parse(name).map_err(|e| Error::Invalid(e.to_string()))
}

fn wit_action(action: Action) -> MessageAction {
    MessageAction {
        type_: action.kind,
        value: action.value,
        uuid: action.uuid,
        action_timetoken: action.action_timetoken.to_string(),
        message_timetoken: action.message_timetoken.to_string(),
    }
}

fn error(e: ActionError) -> Error {
    match e {
        ActionError::Invalid(m) => Error::Invalid(m),
        ActionError::Duplicate => Error::Invalid(
            "Action Already Added: the function already added this type and value to the message"
                .into(),
        ),
        ActionError::Unavailable(_) => Error::Unavailable(e.to_string()),
    }
}
