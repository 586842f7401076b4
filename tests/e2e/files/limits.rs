//! `[files]` retention and quota, on a node alone and in a cluster: a file
//! older than `retention_days` is gone from listings and downloads (404),
//! and its bytes are removed (counted in `edgefn_files_expired_total` alone;
//! by JetStream's `max_age` in a cluster), which frees the quota; an upload
//! past `max_total_bytes` gets 413 naming it, counted in
//! `edgefn_files_quota_refusals_total`. A "day" lasts a few seconds here
//! (`day_secs`), and every wait polls for what it waits for.

use super::*;

/// How long the waits for expiry may take: a few "days" of 3 seconds.
const EXPIRY: Duration = Duration::from_secs(30);

/// Fills the quota with one file of `size` bytes, sees the next upload
/// refused and counted, then the first file expire (404 from the listing
/// and the download).
async fn fills_then_expires(node: &Node, size: usize) {
    let bytes = vec![7u8; size];
    let id = try_upload(node, "kept", "first.bin", &bytes)
        .await
        .expect("the first upload fits");
    assert_eq!(listed(node, "kept", "").await.len(), 1);

    let refused = try_upload(node, "kept", "second.bin", &bytes)
        .await
        .unwrap_err();
    assert_refused(&refused, 413, "max_total_bytes");
    let refusals = node.metric("edgefn_files_quota_refusals_total", &[]).await;
    assert_eq!(refusals, 1.0);
    assert_eq!(
        listed(node, "kept", "").await.len(),
        1,
        "nothing half-written"
    );

    let expired = || async { listed(node, "kept", "").await.is_empty().then_some(()) };
    eventually("the file to expire from the listing", EXPIRY, expired).await;
    let gone = download_link(node, "kept", &id, "first.bin").await;
    assert_refused(&fetch(&gone).await.unwrap_err(), 404, "File Not Found");
}

#[tokio::test]
async fn files_expire_and_the_quota_holds_on_a_node_alone() {
    let config = "[files]\nretention_days = 1\nday_secs = 3\nmax_total_bytes = 1000\n";
    let node = Node::start_with_config(config).await;
    fills_then_expires(&node, 600).await;
    // The node's pruning removes the bytes in the background, freeing the
    // quota.
    let pruned = || async {
        let expired = node.metric("edgefn_files_expired_total", &[]).await;
        (expired >= 1.0).then_some(())
    };
    eventually("the expired file to be pruned", EXPIRY, pruned).await;
    let bytes = vec![7u8; 600];
    try_upload(&node, "kept", "third.bin", &bytes)
        .await
        .expect("the quota is free again");
}

#[tokio::test]
async fn files_expire_and_the_quota_holds_in_a_cluster() {
    // JetStream counts what it stores of a file (chunks, the record, and
    // their subjects and headers), so the quota leaves room for one file.
    let nats = NatsServer::start().await;
    let config = "[files]\nretention_days = 1\nday_secs = 3\nmax_total_bytes = 4000\n";
    let nodes = nats.start_nodes(1, config).await;
    let node = &nodes[0];
    fills_then_expires(node, 2500).await;
    // JetStream's `max_age` removes the bytes: then an upload fits again.
    let bytes = vec![7u8; 2500];
    let fits = || async { try_upload(node, "kept", "third.bin", &bytes).await.ok() };
    eventually("the quota to be free again", EXPIRY, fits).await;
}
