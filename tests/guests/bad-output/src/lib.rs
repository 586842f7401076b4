//! A before-publish hook that answers `modify` with a message the host must
//! refuse. Written against the raw WIT bindings (not the SDK's
//! `#[before_publish]`), because the SDK only ever produces valid JSON.
//!
//! Config key `mode`:
//! - `invalid` (default): a payload that is not JSON;
//! - `big`: a payload larger than 32 KiB;
//! - `meta`: a meta that is not a JSON object.

mod bindings {
    edgefn_sdk::__private::wit_bindgen::generate!({
        inline: "package test:bad-output;\nworld hook {\n    export edgefn:functions/before-publish@0.1.0;\n}\n",
        path: "../../../wit",
        world: "test:bad-output/hook",
        runtime_path: "::edgefn_sdk::__private::wit_bindgen::rt",
        with: {
            "edgefn:functions/types@0.1.0": ::edgefn_sdk::__private::bindings::edgefn::functions::types,
        },
    });

    use self::exports::edgefn::functions::before_publish::{
        Decision, Guest, Message, Modification,
    };

    struct Handler;

    impl Guest for Handler {
        fn handle(msg: Message) -> Decision {
            let mode = std::env::var("mode").unwrap_or_else(|_| "invalid".into());
            println!("bad-output ({mode}) on {}", msg.channel);
            let modification = match mode.as_str() {
                "big" => Modification {
                    payload: format!("\"{}\"", "x".repeat(40 * 1024)),
                    meta: None,
                },
                "meta" => Modification {
                    payload: msg.payload,
                    meta: Some("[1, 2, 3]".into()),
                },
                _ => Modification {
                    payload: "{this is not json".into(),
                    meta: None,
                },
            };
            Decision::Modify(modification)
        }
    }

    export!(Handler);
}
