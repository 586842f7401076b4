//! `edgefn:functions/bus`.

use serde_json::{Value, json};

use super::{BusCtx, MAX_CHAIN_DEPTH, Refusal};
use crate::bus::{Channel, Message, MessageError, MessageKind};
use crate::files::is_file_id;
use crate::wasm::bindings::bus::{Host, Keeping};
use crate::wasm::bindings::types::Error;

/// How history keeps what `publish` and `fire` send: stored, until trimmed.
const STORED: Keeping = Keeping {
    store: true,
    ttl_hours: 0,
};

impl BusCtx {
    async fn send(
        &mut self,
        kind: MessageKind,
        channel: String,
        (message, meta): (String, Option<String>),
        keeping: Keeping,
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
        message.store &= keeping.store;
        match self.publisher.publish(message, keeping.ttl_hours).await {
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
        self.publish_kept(channel, message, meta, STORED).await
    }

    async fn fire(
        &mut self,
        channel: String,
        message: String,
        meta: Option<String>,
    ) -> Result<String, Error> {
        self.send(MessageKind::Fire, channel, (message, meta), STORED)
            .await
    }

    async fn signal(&mut self, channel: String, message: String) -> Result<String, Error> {
        self.send(MessageKind::Signal, channel, (message, None), STORED)
            .await
    }

    async fn publish_file(
        &mut self,
        channel: String,
        file_id: String,
        file_name: String,
        message: Option<String>,
        meta: Option<String>,
    ) -> Result<String, Error> {
        self.publish_file_kept(channel, file_id, file_name, message, meta, STORED)
            .await
    }

    async fn publish_kept(
        &mut self,
        channel: String,
        message: String,
        meta: Option<String>,
        keeping: Keeping,
    ) -> Result<String, Error> {
        self.send(MessageKind::Publish, channel, (message, meta), keeping)
            .await
    }

    async fn publish_file_kept(
        &mut self,
        channel: String,
        file_id: String,
        file_name: String,
        message: Option<String>,
        meta: Option<String>,
        keeping: Keeping,
    ) -> Result<String, Error> {
        let payload = file_message(&file_id, &file_name, message.as_deref())?;
        self.send(MessageKind::File, channel, (payload, meta), keeping)
            .await
    }
}

/// The message that shares file `id` named `name`, with `message` (JSON
/// text), as PubNub's SDKs publish it: `{"message", "file": {"id", "name"}}`.
fn file_message(id: &str, name: &str, message: Option<&str>) -> Result<String, Error> {
    if !is_file_id(id) {
        return Err(Error::Invalid(format!(
            "file id {id:?} is not one the node made"
        )));
    }
    if name.is_empty() {
        return Err(Error::Invalid("the file name must not be empty".into()));
    }
    let message: Value = match message {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| Error::Invalid(format!("the message is not JSON: {e}")))?,
        None => Value::Null,
    };
    Ok(json!({ "message": message, "file": { "id": id, "name": name } }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_message_names_the_file() {
        let id = "0190f0a2-7b1c-7d2e-8f3a-0123456789ab";
        let text = file_message(id, "cat.jpg", Some(r#"{"text":"look"}"#)).unwrap();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            json!({"message": {"text": "look"}, "file": {"id": id, "name": "cat.jpg"}})
        );
        let bare: Value = serde_json::from_str(&file_message(id, "a", None).unwrap()).unwrap();
        assert_eq!(bare["message"], Value::Null);
        assert!(matches!(
            file_message("../x", "a", None),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(file_message(id, "", None), Err(Error::Invalid(_))));
        assert!(matches!(
            file_message(id, "a", Some("{")),
            Err(Error::Invalid(_))
        ));
    }
}
