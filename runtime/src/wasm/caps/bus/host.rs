//! `edgefn:functions/bus`.

use super::{BusCtx, MAX_CHAIN_DEPTH, Refusal};
use crate::bus::{Channel, Message, MessageError, MessageKind};
use crate::wasm::bindings::bus::Host;
use crate::wasm::bindings::types::Error;

impl BusCtx {
    async fn send(
        &mut self,
        kind: MessageKind,
        channel: String,
        message: String,
        meta: Option<String>,
    ) -> Result<String, Error> {
        self.budget.spend().map_err(Error::BudgetExhausted)?;
        let depth = self.depth + 1;
        if depth > MAX_CHAIN_DEPTH {
            return Err(Error::Rejected(format!(
                "chain limit: this would be hop {depth}, and at most {MAX_CHAIN_DEPTH} hops of function-made publishes are allowed"
            )));
        }
        let channel = Channel::parse(&channel).map_err(|e| Error::Invalid(e.to_string()))?;
        let mut message = Message::new(
            channel,
            kind,
            &message,
            meta.as_deref(),
            Some(self.publisher_id.clone()),
        )
        .map_err(|e| match e {
            MessageError::TooLarge { .. } => Error::TooLarge(e.to_string()),
            _ => Error::Invalid(e.to_string()),
        })?;
        message.depth = depth;
        match self.publisher.publish(message).await {
            Ok(timetoken) => Ok(timetoken.to_string()),
            Err(Refusal::Rejected(reason)) => Err(Error::Rejected(reason)),
            Err(Refusal::Unavailable(reason)) => Err(Error::Unavailable(reason)),
        }
    }
}

impl Host for BusCtx {
    async fn publish(
        &mut self,
        channel: String,
        message: String,
        meta: Option<String>,
    ) -> Result<String, Error> {
        self.send(MessageKind::Publish, channel, message, meta)
            .await
    }

    async fn fire(
        &mut self,
        channel: String,
        message: String,
        meta: Option<String>,
    ) -> Result<String, Error> {
        self.send(MessageKind::Fire, channel, message, meta).await
    }

    async fn signal(&mut self, channel: String, message: String) -> Result<String, Error> {
        self.send(MessageKind::Signal, channel, message, None).await
    }
}
