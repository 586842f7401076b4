//! A before-publish hook that panics (a trap, for the host) on every message.

use edgefn_sdk::{Decision, Message, before_publish};

#[before_publish]
fn boom(msg: Message) -> Decision {
    panic!("boom on {}", msg.channel)
}
