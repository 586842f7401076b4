//! A before-publish hook that allocates (and touches) `alloc_mb` MiB from
//! its config, then passes the message on with `"allocated_mb"` added, so a
//! test can check the per-function memory limit.

use edgefn_sdk::{Decision, Message, before_publish};

#[before_publish]
fn hog(mut msg: Message) -> Decision {
    let mb: usize = edgefn_sdk::config_or("alloc_mb", "0").parse().unwrap_or(0);
    let block = vec![7u8; mb * 1024 * 1024];
    let touched: usize = block.iter().map(|&b| usize::from(b)).sum();
    msg.payload["allocated_mb"] = (touched / (7 * 1024 * 1024)).into();
    Decision::Modify(msg)
}
