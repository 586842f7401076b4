//! Write [edgefn](https://github.com/edgefn/edgefn) functions in Rust.
//!
//! An edgefn function is a WebAssembly component (target `wasm32-wasip2`,
//! `crate-type = ["cdylib"]`) that the edgefn server runs in a sandbox when a
//! message is published, when a client's presence on a channel changes, on a
//! schedule or for an HTTP request. This crate turns
//! ordinary Rust functions into such components: put one of the attribute
//! macros on a function and build the crate (the repository's
//! `scripts/build-guests.sh` does that).
//!
//! | Macro | Trigger | Signature |
//! |-------|---------|-----------|
//! | [`before_publish`] | before a message is stored or delivered | `fn(Message) -> Decision` |
//! | [`after_publish`] | after a message was published | `fn(Message) -> Result<(), E>` |
//! | [`after_presence`] | after a client joined, left, timed out or changed its state on a channel | `fn(PresenceEvent) -> Result<(), E>` |
//! | [`interval`] | every N seconds | `fn() -> Result<(), E>` |
//! | [`endpoint`] | HTTP requests to `/v1/fn/{name}/...` | `fn(http::Request) -> http::Response` |
//!
//! `E` is any error that implements [`Display`](std::fmt::Display) (such as
//! `String`); returning `()` is also accepted. One crate may use several of the
//! macros (each at most once): the component then serves all those triggers.
//!
//! Inside a handler:
//! - [`config`] / [`config_or`] read the function's configuration, and
//!   [`secrets::get`] its secrets;
//! - [`http::send`] makes outbound HTTP requests (to the hosts on the
//!   function's allow-list);
//! - [`kv`] reads and writes the key-value store shared by the node's
//!   functions;
//! - [`bus`] publishes, fires and signals messages;
//! - [`presence`] reads who is on which channel (here now, where now,
//!   state) and sets a client's state;
//! - [`history`] reads stored messages;
//! - [`actions`] adds, reads and removes message actions (reactions,
//!   receipts), [`objects`] reads and changes App Context metadata of
//!   users and channels and [`memberships`] the links between them,
//!   [`groups`] changes channel groups and [`files`] lists, links and
//!   deletes shared files, as PubNub's APIs do;
//! - [`tokens`] issues, revokes and reads access tokens for clients;
//! - [`log`] writes structured log lines (`println!` and `eprintln!` also
//!   write to the function's log, as plain lines).
//!
//! The host capabilities fail with an [`Error`] that says what happened
//! (an invalid argument, a size limit, a used-up per-invocation budget...);
//! a failure never ends the invocation.
//!
//! # Example
//!
//! ```no_run
//! use edgefn_sdk::{before_publish, Decision, Message};
//!
//! /// Refuses messages whose text mentions the word configured as `forbidden`,
//! /// and marks all others as checked.
//! #[before_publish]
//! fn check(mut msg: Message) -> Decision {
//!     let forbidden = edgefn_sdk::config_or("forbidden", "spam");
//!     let text = msg.payload["text"].as_str().unwrap_or_default();
//!     if text.contains(forbidden.as_str()) {
//!         return Decision::reject(format!("message mentions {forbidden:?}"));
//!     }
//!     msg.payload["checked"] = true.into();
//!     Decision::Modify(msg)
//! }
//! # fn main() {}
//! ```
//!
//! An HTTP endpoint:
//!
//! ```no_run
//! use edgefn_sdk::http::{Request, Response};
//!
//! #[edgefn_sdk::endpoint]
//! fn hello(req: Request) -> Response {
//!     let name = req.query_param("name").unwrap_or_else(|| "world".into());
//!     Response::json(200, &edgefn_sdk::serde_json::json!({ "hello": name }))
//! }
//! # fn main() {}
//! ```

#![deny(missing_docs)]

pub mod actions;
pub mod bus;
mod config;
mod decision;
mod error;
pub mod files;
pub mod groups;
pub mod history;
pub mod http;
pub mod kv;
pub mod log;
mod macros;
pub mod memberships;
mod message;
pub mod objects;
pub mod presence;
pub mod secrets;
pub mod tokens;

pub use config::{config, config_or};
pub use decision::Decision;
pub use error::Error;
pub use macros::IntoHandlerResult;
pub use message::{Message, MessageKind};
pub use presence::{PresenceAction, PresenceEvent};

/// Marks `fn(Message) -> Decision` as the function's before-publish handler.
///
/// The handler runs synchronously on the publish path, once per message, and
/// decides whether the message passes unchanged, passes modified or is
/// rejected. A payload or meta that is not valid JSON is rejected before the
/// handler runs.
///
/// ```no_run
/// use edgefn_sdk::{before_publish, Decision, Message};
///
/// #[before_publish]
/// fn no_empty_messages(msg: Message) -> Decision {
///     match msg.payload.as_str() {
///         Some("") => Decision::reject("empty message"),
///         _ => Decision::Pass,
///     }
/// }
/// # fn main() {}
/// ```
pub use edgefn_sdk_macro::before_publish;

/// Marks `fn(Message) -> Result<(), E>` as the function's after-publish handler.
///
/// The handler gets a copy of each published message (with its timetoken)
/// after delivery; it cannot change it. An error is written to the function's
/// log. `E` is anything that implements `Display`; `()` may be returned too.
///
/// ```no_run
/// use edgefn_sdk::Message;
///
/// #[edgefn_sdk::after_publish]
/// fn audit(msg: Message) -> Result<(), String> {
///     println!("{} on {}", msg.timetoken.unwrap_or_default(), msg.channel);
///     Ok(())
/// }
/// # fn main() {}
/// ```
pub use edgefn_sdk_macro::after_publish;

/// Marks `fn(PresenceEvent) -> Result<(), E>` as the function's after-presence
/// handler.
///
/// The handler gets each presence change on the channels it is bound to
/// (`edgefn deploy --after-presence PATTERN`; the pattern names the channels
/// themselves, not their `-pnpres` channels): a client joined, left, timed
/// out or changed its state, with the channel's occupancy after the change.
/// It runs asynchronously, once per change (in a cluster too), and never
/// delays the client. An error is written to the function's log. `E` is
/// anything that implements `Display`; `()` may be returned too.
///
/// ```no_run
/// use edgefn_sdk::{PresenceAction, PresenceEvent};
///
/// #[edgefn_sdk::after_presence]
/// fn greet(event: PresenceEvent) -> Result<(), edgefn_sdk::Error> {
///     if event.action == PresenceAction::Join {
///         let text = format!("{} joined ({} here)", event.uuid, event.occupancy);
///         edgefn_sdk::bus::publish(&event.channel, &text)?;
///     }
///     Ok(())
/// }
/// # fn main() {}
/// ```
pub use edgefn_sdk_macro::after_presence;

/// Marks `fn() -> Result<(), E>` as the function's interval job.
///
/// The server runs it every N seconds (as deployed), one run at a time. An
/// error is written to the function's log.
///
/// ```no_run
/// #[edgefn_sdk::interval]
/// fn tick() -> Result<(), String> {
///     println!("tick");
///     Ok(())
/// }
/// # fn main() {}
/// ```
pub use edgefn_sdk_macro::interval;

/// Marks `fn(http::Request) -> http::Response` as the function's HTTP endpoint.
///
/// The server routes `/v1/fn/{name}/{path}` to it. The return type may also be
/// `Result<http::Response, E>` with `E: Display`: an error becomes a 500
/// response with the error as its text.
///
/// ```no_run
/// use edgefn_sdk::http::{Request, Response};
///
/// #[edgefn_sdk::endpoint]
/// fn echo(req: Request) -> Response {
///     Response::new(200, req.body).with_header("content-type", "application/octet-stream")
/// }
/// # fn main() {}
/// ```
pub use edgefn_sdk_macro::endpoint;

/// The JSON library the SDK uses ([`Message::payload`] is a
/// [`serde_json::Value`]), re-exported so that handlers need no extra
/// dependency for `json!` and friends.
pub use serde_json;

/// The serialization framework behind [`serde_json`], re-exported for
/// convenience (to derive with it, add `#[serde(crate = "edgefn_sdk::serde")]`).
pub use serde;

/// Support for the code that the attribute macros generate. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::macros::{
        RawDecision, after_presence, after_publish, before_publish, endpoint, interval,
    };
    pub use crate::presence::RawPresenceEvent;
    pub use wit_bindgen;

    /// Bindings for the interfaces the SDK itself uses, generated once here
    /// and shared with the macro-generated code through `with:`.
    #[allow(missing_docs)]
    pub mod bindings {
        wit_bindgen::generate!({
            inline: "
                package edgefn:sdk;

                world sdk {
                    import edgefn:functions/types@0.1.0;
                    import edgefn:functions/kv@0.1.0;
                    import edgefn:functions/bus@0.1.0;
                    import edgefn:functions/presence@0.1.0;
                    import edgefn:functions/history@0.1.0;
                    import edgefn:functions/message-actions@0.1.0;
                    import edgefn:functions/objects@0.1.0;
                    import edgefn:functions/channel-groups@0.1.0;
                    import edgefn:functions/files@0.1.0;
                    import edgefn:functions/tokens@0.1.0;
                    import edgefn:functions/secrets@0.1.0;
                    import edgefn:functions/log@0.1.0;
                    import wasi:http/outgoing-handler@0.2.12;
                }
            ",
            path: "../wit",
            world: "edgefn:sdk/sdk",
            generate_all,
        });
    }
}
