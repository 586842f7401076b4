//! The JavaScript runner: an edgefn component that runs a function written
//! the way PubNub Functions are (an ES module whose `export default` is the
//! handler) on QuickJS.
//!
//! At deploy, edgefn calls [`init`](Runner::init) with the module's source and
//! snapshots the runner's memory (`wasmtime-wizer`): every invocation then
//! starts from an engine with the module already evaluated, in a fresh
//! instance, like any other component.
//!
//! # Layout
//! - this file: the WIT exports, each handing its trigger to the engine;
//! - [`engine`]: the QuickJS runtime, `init`, and running a handler until
//!   its Promise settles;
//! - [`natives`]: the host capabilities as functions the JavaScript side
//!   (`js/prelude.js` and `js/modules/`) calls;
//! - `js/prelude.js`: PubNub's request/response objects, `require`,
//!   `console`, and the dispatch of each trigger.

mod crypto;
mod engine;
mod natives;

use edgefn_sdk::__private::bindings as sdk;
use edgefn_sdk::http::{Request, Response};

wit_bindgen::generate!({
    path: "../../wit",
    world: "edgefn:functions/javascript-runner",
    with: {
        "edgefn:functions/types@0.1.0": sdk::edgefn::functions::types,
        "edgefn:functions/kv@0.1.0": sdk::edgefn::functions::kv,
        "edgefn:functions/bus@0.1.0": sdk::edgefn::functions::bus,
        "edgefn:functions/presence@0.1.0": sdk::edgefn::functions::presence,
        "edgefn:functions/history@0.1.0": sdk::edgefn::functions::history,
        "edgefn:functions/message-actions@0.1.0": sdk::edgefn::functions::message_actions,
        "edgefn:functions/objects@0.1.0": sdk::edgefn::functions::objects,
        "edgefn:functions/channel-groups@0.1.0": sdk::edgefn::functions::channel_groups,
        "edgefn:functions/files@0.1.0": sdk::edgefn::functions::files,
        "edgefn:functions/tokens@0.1.0": sdk::edgefn::functions::tokens,
        "edgefn:functions/secrets@0.1.0": sdk::edgefn::functions::secrets,
        "edgefn:functions/log@0.1.0": sdk::edgefn::functions::log,
        "wasi:http/types@0.2.12": sdk::wasi::http::types,
        "wasi:http/outgoing-handler@0.2.12": sdk::wasi::http::outgoing_handler,
        "wasi:io/poll@0.2.12": sdk::wasi::io::poll,
        "wasi:io/error@0.2.12": sdk::wasi::io::error,
        "wasi:io/streams@0.2.12": sdk::wasi::io::streams,
        "wasi:clocks/monotonic-clock@0.2.12": sdk::wasi::clocks::monotonic_clock,
    },
    generate_all,
});

use exports::edgefn::functions::{after_presence, after_publish, before_publish, interval};
use exports::wasi::http::incoming_handler;
use sdk::edgefn::functions::types::{Message, MessageKind};

struct Runner;

impl Guest for Runner {
    fn init(source: String) -> Result<(), String> {
        engine::init(&source)
    }
}

impl before_publish::Guest for Runner {
    fn handle(msg: Message) -> before_publish::Decision {
        match engine::before_publish(&msg) {
            engine::Outcome::Pass => before_publish::Decision::Pass,
            engine::Outcome::Modify { payload, meta } => {
                before_publish::Decision::Modify(before_publish::Modification { payload, meta })
            }
            engine::Outcome::Abort(reason) => before_publish::Decision::Reject(reason),
        }
    }
}

impl after_publish::Guest for Runner {
    fn handle(msg: Message) -> Result<(), String> {
        engine::after_publish(&msg)
    }
}

impl after_presence::Guest for Runner {
    fn handle(event: after_presence::PresenceEvent) -> Result<(), String> {
        engine::after_presence(&event)
    }
}

impl interval::Guest for Runner {
    fn run() -> Result<(), String> {
        engine::interval()
    }
}

impl incoming_handler::Guest for Runner {
    fn handle(request: incoming_handler::IncomingRequest, out: incoming_handler::ResponseOutparam) {
        edgefn_sdk::__private::endpoint(request, out, on_request);
    }
}

fn on_request(request: Request) -> Response {
    engine::on_request(request)
}

/// The trigger's name as PubNub's `request.verb` has it.
fn verb(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Publish => "publish",
        MessageKind::Fire => "fire",
        MessageKind::Signal => "signal",
    }
}

/// The name of a presence action as PubNub writes it.
fn action(action: after_presence::PresenceAction) -> &'static str {
    match action {
        after_presence::PresenceAction::Join => "join",
        after_presence::PresenceAction::Leave => "leave",
        after_presence::PresenceAction::Timeout => "timeout",
        after_presence::PresenceAction::StateChange => "state-change",
    }
}

export!(Runner);
