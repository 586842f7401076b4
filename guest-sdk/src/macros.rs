//! The runtime half of the attribute macros.
//!
//! Each macro (see `edgefn-sdk-macro`) generates bindings for a world that
//! exports its one interface, and an implementation of that interface which
//! calls into the functions here: they convert between the WIT types and the
//! SDK's types and call the user's handler. Keeping that logic here keeps the
//! generated code small.

use std::fmt::Display;

use crate::__private::bindings::edgefn::functions::types::Message as WitMessage;
use crate::__private::bindings::wasi::http::types::{IncomingRequest, ResponseOutparam};
use crate::http::{IntoResponse, Request};
use crate::presence::RawPresenceEvent;
use crate::{Decision, Message, PresenceEvent};

/// What an [`after_publish`](crate::after_publish),
/// [`after_presence`](crate::after_presence) or
/// [`interval`](crate::interval) handler may return: `()`, or
/// `Result<(), E>` where `E` is any error that implements `Display`
/// (`String`, `&str`, `anyhow::Error`, [`HttpError`](crate::http::HttpError)...).
#[diagnostic::on_unimplemented(
    message = "this handler must return `()` or `Result<(), E>` with `E: Display`",
    label = "`{Self}` is not a handler result"
)]
pub trait IntoHandlerResult {
    /// The outcome as the WIT interface wants it: an error in words.
    fn into_handler_result(self) -> Result<(), String>;
}

impl IntoHandlerResult for () {
    fn into_handler_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: Display> IntoHandlerResult for Result<(), E> {
    fn into_handler_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// A [`Decision`] with the message turned back into JSON text, for the
/// generated code to map onto the WIT `decision` variant.
#[derive(Debug, PartialEq)]
pub enum RawDecision {
    /// Let the message through unchanged.
    Pass,
    /// Let it through with this payload and meta (JSON text).
    Modify {
        /// The new payload.
        payload: String,
        /// The new meta; `None` removes it.
        meta: Option<String>,
    },
    /// Refuse it for this reason.
    Reject(String),
}

/// Runs a before-publish handler on `msg`. A message whose payload or meta
/// is not JSON is rejected without calling the handler.
pub fn before_publish(msg: WitMessage, handler: fn(Message) -> Decision) -> RawDecision {
    let msg = match Message::from_wit(msg) {
        Ok(msg) => msg,
        Err(why) => return RawDecision::Reject(format!("edgefn-sdk: {why}")),
    };
    match handler(msg) {
        Decision::Pass => RawDecision::Pass,
        Decision::Modify(msg) => {
            let (payload, meta) = msg.to_json_parts();
            RawDecision::Modify { payload, meta }
        }
        Decision::Reject(reason) => RawDecision::Reject(reason),
    }
}

/// Runs an after-publish handler on `msg`.
pub fn after_publish<R: IntoHandlerResult>(
    msg: WitMessage,
    handler: fn(Message) -> R,
) -> Result<(), String> {
    let msg = Message::from_wit(msg).map_err(|why| format!("edgefn-sdk: {why}"))?;
    handler(msg).into_handler_result()
}

/// Runs an after-presence handler on `event`. An event whose state is not
/// a JSON object is an error, without calling the handler.
pub fn after_presence<R: IntoHandlerResult>(
    event: RawPresenceEvent,
    handler: fn(PresenceEvent) -> R,
) -> Result<(), String> {
    let event = PresenceEvent::from_raw(event).map_err(|why| format!("edgefn-sdk: {why}"))?;
    handler(event).into_handler_result()
}

/// Runs an interval handler.
pub fn interval<R: IntoHandlerResult>(handler: fn() -> R) -> Result<(), String> {
    handler().into_handler_result()
}

/// Serves an HTTP request with an endpoint handler.
pub fn endpoint<R: IntoResponse>(
    request: IncomingRequest,
    out: ResponseOutparam,
    handler: fn(Request) -> R,
) {
    crate::http::incoming::serve(request, out, handler)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::__private::bindings::edgefn::functions::types::MessageKind;
    use serde_json::json;

    fn wit_message(payload: &str) -> WitMessage {
        WitMessage {
            channel: "chat.lobby".into(),
            payload: payload.into(),
            meta: None,
            publisher: None,
            kind: MessageKind::Publish,
            timetoken: None,
        }
    }

    #[test]
    fn before_publish_maps_decisions() {
        fn modify(mut msg: Message) -> Decision {
            msg.payload["seen"] = json!(true);
            msg.meta = Some(json!({"by": "test"}));
            Decision::Modify(msg)
        }
        assert_eq!(
            before_publish(wit_message(r#"{"a":1}"#), modify),
            RawDecision::Modify {
                payload: r#"{"a":1,"seen":true}"#.into(),
                meta: Some(r#"{"by":"test"}"#.into())
            }
        );
        assert_eq!(
            before_publish(wit_message("1"), |_| Decision::Pass),
            RawDecision::Pass
        );
        assert_eq!(
            before_publish(wit_message("1"), |_| Decision::reject("no")),
            RawDecision::Reject("no".into())
        );
    }

    #[test]
    fn bad_payload_is_rejected_without_calling_the_handler() {
        let decision = before_publish(wit_message("not json"), |_| panic!("called"));
        let RawDecision::Reject(reason) = decision else {
            panic!("{decision:?}")
        };
        assert!(
            reason.starts_with("edgefn-sdk: the message payload is not valid JSON"),
            "{reason}"
        );
        assert!(
            after_publish(wit_message("{"), |_| -> Result<(), String> {
                panic!("called")
            })
            .is_err()
        );
    }

    #[test]
    fn after_presence_parses_the_state_first() {
        use crate::PresenceAction;
        let raw = |state: &str| RawPresenceEvent {
            action: PresenceAction::Join,
            channel: "room".into(),
            uuid: "alice".into(),
            occupancy: 1,
            timestamp: 1,
            state: Some(state.into()),
        };
        fn busy(event: PresenceEvent) -> Result<(), String> {
            match &event.state {
                Some(state) if state["mood"] == "busy" => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
        assert_eq!(after_presence(raw(r#"{"mood":"busy"}"#), busy), Ok(()));
        let err =
            after_presence(raw("7"), |_| -> Result<(), String> { panic!("called") }).unwrap_err();
        assert!(err.starts_with("edgefn-sdk: the presence state"), "{err}");
    }

    #[test]
    fn handler_results() {
        assert_eq!(interval(|| ()), Ok(()));
        assert_eq!(interval(|| Err::<(), _>("boom")), Err("boom".to_string()));
        assert_eq!(
            after_publish(wit_message("1"), |_| Ok::<(), String>(())),
            Ok(())
        );
    }
}
