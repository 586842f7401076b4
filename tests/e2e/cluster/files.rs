//! Shared files in a cluster, as JetStream holds them: a channel's listing
//! comes from the index stream `edgefn_file_index` (one subject per file,
//! under its channel), which uploads write and deletes purge; an entry
//! whose object is gone is skipped and purged; files stored before the
//! index existed are indexed by the node that creates it. An upload that
//! JetStream refuses midway (past `max_total_bytes`) leaves no chunks.

use async_nats::jetstream::{self, stream::Stream};
use futures::TryStreamExt;

use crate::files::{assert_refused, download_link, fetch, list, listed, try_upload, upload};
use edgefn_e2e::*;

/// The index stream's subjects, sorted.
async fn indexed(index: &Stream) -> Vec<String> {
    let subjects: Vec<(String, usize)> = index
        .info_with_subjects("edgefn.fileidx.>")
        .await
        .expect("the index's subjects")
        .try_collect()
        .await
        .expect("the index's subjects");
    let mut subjects: Vec<String> = subjects.into_iter().map(|(s, _)| s).collect();
    subjects.sort();
    subjects
}

async fn jetstream(nats: &NatsServer) -> jetstream::Context {
    jetstream::new(async_nats::connect(nats.url()).await.expect("NATS answers"))
}

#[tokio::test]
async fn a_channel_lists_its_files_from_its_index_entries() {
    let nats = NatsServer::start().await;
    let nodes = nats.start_nodes(1, "").await;
    let node = &nodes[0];
    let mut room = Vec::new();
    for name in ["a.txt", "b.txt", "c.txt"] {
        room.push(upload(node, "room", name, name.as_bytes()).await);
    }
    // A channel whose name starts with `room.`, and another one.
    let sub = upload(node, "room.sub", "d.txt", b"d").await;
    let other = upload(node, "other", "e.txt", b"e").await;

    let js = jetstream(&nats).await;
    let index = js.get_stream("edgefn_file_index").await.expect("the index");
    let mut expected: Vec<String> = room
        .iter()
        .map(|id| format!("edgefn.fileidx.room.{id}"))
        .chain([
            format!("edgefn.fileidx.room.sub.{sub}"),
            format!("edgefn.fileidx.other.{other}"),
        ])
        .collect();
    expected.sort();
    assert_eq!(indexed(&index).await, expected, "one entry per file");

    let ids =
        |files: Vec<(String, String, u64)>| files.into_iter().map(|f| f.0).collect::<Vec<_>>();
    assert_eq!(ids(listed(node, "room", "").await), room, "oldest first");
    assert_eq!(ids(listed(node, "room.sub", "").await), [sub]);
    let page = list(node, "room", "limit=2").await;
    assert_eq!(page.ok()["count"], 2, "{}", page.body);
    let next = page.body["next"].as_str().expect("a next").to_owned();
    let rest = listed(node, "room", &format!("limit=2&next={next}")).await;
    assert_eq!(ids(rest), [room[2].clone()]);

    // An object removed behind the node's back (as if expired first): the
    // listing leaves it out and purges its entry.
    let bucket = js
        .get_object_store("edgefn_files")
        .await
        .expect("the bucket");
    bucket
        .delete(format!("room/{}", room[1]))
        .await
        .expect("deleted");
    assert_eq!(
        ids(listed(node, "room", "").await),
        [room[0].clone(), room[2].clone()]
    );
    let stale = format!("edgefn.fileidx.room.{}", room[1]);
    assert!(!indexed(&index).await.contains(&stale), "the entry stays");

    // A delete through the API purges the entry.
    let url = node.url(&format!(
        "/v1/files/demo/channels/room/files/{}/a.txt",
        room[0]
    ));
    node.send(node.http().delete(url)).await.ok();
    let gone = format!("edgefn.fileidx.room.{}", room[0]);
    assert!(!indexed(&index).await.contains(&gone), "the entry stays");
    assert_eq!(ids(listed(node, "room", "").await), [room[2].clone()]);
}

#[tokio::test]
async fn files_stored_before_the_index_are_indexed_once() {
    let nats = NatsServer::start().await;
    let first = nats.start_nodes(1, "").await;
    let old = [
        upload(&first[0], "old", "a.txt", b"a").await,
        upload(&first[0], "old", "b.txt", b"b").await,
    ];
    // As a bucket written before the index existed: no index stream.
    let js = jetstream(&nats).await;
    js.delete_stream("edgefn_file_index")
        .await
        .expect("the index deleted");

    let second = nats.start_nodes(1, "").await;
    let listed_ids = listed(&second[0], "old", "").await;
    let ids: Vec<String> = listed_ids.into_iter().map(|f| f.0).collect();
    assert_eq!(ids, old, "the new node indexed the files already stored");
}

#[tokio::test]
async fn an_upload_refused_midway_leaves_no_chunks() {
    const TOTAL: u64 = 1_000_000;
    let nats = NatsServer::start().await;
    let config = format!("[files]\nmax_file_bytes = 3000000\nmax_total_bytes = {TOTAL}\n");
    let nodes = nats.start_nodes(1, &config).await;
    let node = &nodes[0];
    let kept_bytes = vec![1u8; 300_000];
    let kept = upload(node, "room", "kept.bin", &kept_bytes).await;
    let js = jetstream(&nats).await;
    let mut objects = js.get_stream("OBJ_edgefn_files").await.expect("the bucket");
    let used = objects.info().await.expect("its info").state.bytes;

    // The last room, to the byte: the node's check lets it through (as
    // when another upload takes the room between the check and the write),
    // JetStream refuses a chunk midway (it also counts each chunk's subject
    // and headers).
    let late = vec![2u8; usize::try_from(TOTAL - used).unwrap()];
    let refused = try_upload(node, "room", "late.bin", &late)
        .await
        .expect_err("the upload passes the total");
    assert_refused(&refused, 413, "max_total_bytes");
    assert_eq!(
        node.metric("edgefn_files_quota_refusals_total", &[]).await,
        1.0
    );
    assert_eq!(
        objects.info().await.expect("its info").state.bytes,
        used,
        "the refused upload's chunks stay in the bucket"
    );

    assert_eq!(
        listed(node, "room", "").await,
        [(kept.clone(), "kept.bin".to_owned(), 300_000)]
    );
    let link = download_link(node, "room", &kept, "kept.bin").await;
    assert!(
        fetch(&link).await.unwrap() == kept_bytes,
        "the bytes differ"
    );
    let index = js.get_stream("edgefn_file_index").await.expect("the index");
    assert_eq!(
        indexed(&index).await,
        [format!("edgefn.fileidx.room.{kept}")]
    );
}
