//! Message payloads and meta (JSON from publishers), and what a
//! before-publish hook hands back: `payload \0 meta`.
#![no_main]

use edgefn::bus::{Channel, Message, MessageKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let (payload, meta) = match text.split_once('\0') {
        Some((payload, meta)) => (payload, Some(meta)),
        None => (text, None),
    };
    let channel = Channel::parse("fuzz").expect("a valid channel");
    for kind in [MessageKind::Publish, MessageKind::Fire, MessageKind::Signal] {
        if let Ok(mut message) = Message::new(channel.clone(), kind, payload, meta, None) {
            assert!(message.size() <= kind.max_bytes());
            let before = message.payload.get().to_owned();
            // A hook's replacement either applies whole or leaves the message as it was.
            match message.replace(meta.unwrap_or(payload).to_owned(), None) {
                Ok(()) => assert!(message.size() <= kind.max_bytes()),
                Err(_) => assert_eq!(message.payload.get(), before),
            }
        }
    }
});
