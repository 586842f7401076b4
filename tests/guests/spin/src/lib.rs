//! A before-publish hook that never returns: it writes one log line, then
//! loops forever, so the host must cut it off at its deadline.

use edgefn_sdk::{Decision, Message, before_publish};

#[before_publish]
fn spin(msg: Message) -> Decision {
    println!("spinning on {}", msg.channel);
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}
