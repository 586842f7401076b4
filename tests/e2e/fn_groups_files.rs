//! App Context memberships, channel groups and files from inside a
//! function: the JavaScript `pubnub` module's objects.getMemberships /
//! setMemberships / removeMemberships and getChannelMembers /
//! setChannelMembers / removeChannelMembers, channelGroups.addChannels /
//! removeChannels / listChannels / listGroups / deleteGroup, and
//! listFiles / getFileUrl / deleteFile / publishFile, in the shapes of
//! PubNub's SDK. What a function changes the PubNub API sees, and the other
//! way round; limits apply as on the PubNub API; bad input is an error the
//! function can catch. The Rust SDK (`caps` guest) does the same through
//! `edgefn_sdk::memberships`, `groups`, `files` and `bus::publish_file`.

use edgefn_e2e::caps::{err, ok};
use edgefn_e2e::sse::Sse;
use edgefn_e2e::*;

use crate::files::{fetch, listed, upload};
use crate::fn_presence_history::{CALLER, call, deploy_caller, js_err, js_ok};

const GROUPS: &str = "/v1/channel-registration/sub-key/demo/channel-group";

/// The ids of the other ends in a membership listing's `data`.
fn ends(page: &Value, end: &str) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {page}"))
        .iter()
        .map(|m| m[end]["id"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test]
async fn js_memberships_and_members_are_the_pubnub_api_s() {
    let node = Node::start_with_config("[pubnub]\nmax_memberships_per_uuid = 3\n").await;
    node.deploy_js_ok("rooms", CALLER, &json!({"endpoint": true, "bus_calls": 20}))
        .await;
    let (mut on_lobby, _) = Sse::ready(&node, "mb.lobby", None).await;
    // Channel metadata set through the PubNub API, joined into listings.
    let url = node.url("/v2/objects/demo/channels/mb.lobby");
    let set = node.http().patch(url).json(&json!({"name": "Lobby"}));
    node.send(set).await.ok();

    let results = call(
        &node,
        "rooms",
        &[
            json!(["objects.setMemberships", {"uuid": "mb.ann",
                "channels": ["mb.lobby", {"id": "mb.games", "custom": {"role": "host"}, "status": "on"}],
                "include": {"customFields": true, "statusField": true, "channelFields": true,
                            "totalCount": true}}]),
            json!(["objects.getMemberships", {"uuid": "mb.ann", "sort": {"channel.id": "desc"},
                "limit": 1, "include": {"totalCount": true}}]),
            json!(["objects.getMemberships", {"uuid": "mb.ann",
                "filter": "channel.name == 'Lobby'"}]),
            json!(["objects.setChannelMembers", {"channel": "mb.lobby", "uuids": ["mb.bob"]}]),
            json!(["objects.getChannelMembers", {"channel": "mb.lobby",
                "include": {"UUIDFields": true}}]),
            json!(["objects.setMemberships", {"uuid": "mb.ann",
                "channels": ["mb.a", "mb.b"]}]),
            json!(["objects.setMemberships", {"uuid": "mb.ann",
                "channels": [{"id": "mb.x", "custom": {"deep": {"no": 1}}}]}]),
            json!(["objects.setMemberships", {"uuid": "mb.ann", "channels": "mb.lobby"}]),
            json!(["objects.getMemberships", {"uuid": "mb.ann", "filter": "uuid.name == 'x'"}]),
            json!(["objects.getChannelMembers", {}]),
            json!(["objects.setMemberships", {"uuid": "mb.ann", "channels": ["mb.lobby"],
                "ifMatchesEtag": "stale"}]),
        ],
    )
    .await;
    let set = js_ok(&results[0]);
    assert_eq!(
        (&set["status"], &set["totalCount"]),
        (&json!(200), &json!(2)),
        "{set}"
    );
    assert_eq!(ends(set, "channel"), ["mb.games", "mb.lobby"]);
    let games = &set["data"][0];
    assert_eq!(
        (&games["custom"], &games["status"]),
        (&json!({"role": "host"}), &json!("on")),
        "{games}"
    );
    assert_eq!(set["data"][1]["channel"]["name"], "Lobby", "{set}");
    assert!(games["eTag"].is_string() && games["updated"].is_string());
    let first = js_ok(&results[1]);
    assert_eq!(ends(first, "channel"), ["mb.lobby"]);
    assert!(first["next"].is_string(), "{first}");
    // PubNub's SDK leaves custom out unless asked.
    assert!(first["data"][0].get("custom").is_none(), "{first}");
    assert_eq!(ends(js_ok(&results[2]), "channel"), ["mb.lobby"]);
    assert_eq!(
        ends(js_ok(&results[3]), "uuid"),
        ["mb.ann", "mb.bob"],
        "set members answers them all"
    );
    assert_eq!(ends(js_ok(&results[4]), "uuid"), ["mb.ann", "mb.bob"]);
    // Limits, bad input and a stale eTag: catchable errors, nothing set.
    let full = js_err(&results[5]);
    assert!(
        full.contains("max_memberships_per_uuid") && full.contains("4 memberships"),
        "{full}"
    );
    assert!(js_err(&results[6]).contains("custom"), "{}", results[6]);
    assert!(js_err(&results[7]).contains("`channels` must be an array"));
    assert!(js_err(&results[8]).contains("uuid.name"), "{}", results[8]);
    assert!(js_err(&results[9]).contains("`channel`"), "{}", results[9]);
    assert!(js_err(&results[10]).contains("eTag"), "{}", results[10]);

    // The PubNub API sees what the function set; the function sees what
    // the PubNub API changes.
    let memberships = node
        .get("/v2/objects/demo/uuids/mb.ann/channels?include=custom,status")
        .await;
    assert_eq!(ends(memberships.ok(), "channel"), ["mb.games", "mb.lobby"]);
    assert_eq!(
        memberships.ok()["data"][0]["custom"],
        json!({"role": "host"})
    );
    let url = node.url("/v2/objects/demo/channels/mb.lobby/uuids");
    let remove = json!({"delete": [{"uuid": {"id": "mb.bob"}}]});
    node.send(node.http().patch(url).json(&remove)).await.ok();
    let results = call(
        &node,
        "rooms",
        &[
            json!(["objects.getChannelMembers", {"channel": "mb.lobby"}]),
            json!(["objects.removeMemberships", {"uuid": "mb.ann", "channels": ["mb.games"]}]),
            json!(["objects.removeChannelMembers", {"channel": "mb.lobby",
                "uuids": [{"id": "mb.ann"}], "include": {"totalCount": true}}]),
        ],
    )
    .await;
    assert_eq!(ends(js_ok(&results[0]), "uuid"), ["mb.ann"]);
    assert_eq!(ends(js_ok(&results[1]), "channel"), ["mb.lobby"]);
    assert_eq!(
        js_ok(&results[2]),
        &json!({"status": 200, "data": [], "totalCount": 0})
    );
    let left = node.get("/v2/objects/demo/uuids/mb.ann/channels").await;
    assert_eq!(left.ok()["data"], json!([]));

    // The lobby's subscribers heard each change by the function, as
    // membership events (among the PubNub API's: the metadata set, the
    // removal of mb.bob).
    let mut heard = Vec::new();
    for _ in 0..5 {
        let event = on_lobby.next_event().await;
        if event.data["publisher"] == "fn:rooms" {
            let message = &event.data["message"];
            heard.push((
                message["event"].clone(),
                message["data"]["uuid"]["id"].clone(),
            ));
        }
    }
    assert_eq!(
        heard,
        [
            (json!("set"), json!("mb.ann")),
            (json!("set"), json!("mb.bob")),
            (json!("delete"), json!("mb.ann")),
        ],
        "the function's membership events on mb.lobby"
    );
}

#[tokio::test]
async fn js_channel_groups_are_the_pubnub_api_s() {
    let node = Node::start().await;
    node.deploy_js_ok(
        "grouper",
        CALLER,
        &json!({"endpoint": true, "bus_calls": 20}),
    )
    .await;
    let added = node.get(&format!("{GROUPS}/cg.rest?add=cg.x,cg.y")).await;
    assert_eq!(added.status, 200, "{}", added.body);
    let too_many: Vec<String> = (0..2001).map(|n| format!("cg.c{n}")).collect();

    let results = call(
        &node,
        "grouper",
        &[
            json!(["channelGroups.addChannels", {"channelGroup": "cg.fn",
                                                  "channels": ["cg.b", "cg.a"]}]),
            json!(["channelGroups.listChannels", {"channelGroup": "cg.fn"}]),
            json!(["channelGroups.listChannels", {"channelGroup": "cg.rest"}]),
            json!(["channelGroups.removeChannels", {"channelGroup": "cg.rest",
                                                     "channels": ["cg.x"]}]),
            json!(["channelGroups.listGroups"]),
            json!(["channelGroups.listChannels", {"channelGroup": "cg.none"}]),
            json!(["channelGroups.addChannels", {"channelGroup": "cg.big", "channels": too_many}]),
            json!(["channelGroups.addChannels", {"channels": ["cg.a"]}]),
            json!(["channelGroups.addChannels", {"channelGroup": "cg.fn",
                                                  "channels": ["not a channel"]}]),
            json!(["channelGroups.addChannels", {"channelGroup": "bad group",
                                                  "channels": ["cg.a"]}]),
        ],
    )
    .await;
    assert_eq!(js_ok(&results[0]), &json!({}));
    assert_eq!(js_ok(&results[1]), &json!({"channels": ["cg.a", "cg.b"]}));
    assert_eq!(js_ok(&results[2]), &json!({"channels": ["cg.x", "cg.y"]}));
    assert_eq!(js_ok(&results[3]), &json!({}));
    assert_eq!(js_ok(&results[4]), &json!({"groups": ["cg.fn", "cg.rest"]}));
    assert_eq!(js_ok(&results[5]), &json!({"channels": []}));
    assert!(
        js_err(&results[6]).contains("at most 2000"),
        "{}",
        results[6]
    );
    assert!(
        js_err(&results[7]).contains("`channelGroup`"),
        "{}",
        results[7]
    );
    assert!(!js_err(&results[8]).is_empty());
    assert!(
        js_err(&results[9]).contains("channel group name"),
        "{}",
        results[9]
    );

    // The PubNub API sees the function's changes, and a subscribe through
    // the group reaches its channels.
    let listed = node.get(&format!("{GROUPS}/cg.fn")).await;
    assert_eq!(listed.ok()["payload"]["channels"], json!(["cg.a", "cg.b"]));
    let rest = node.get(&format!("{GROUPS}/cg.rest")).await;
    assert_eq!(rest.ok()["payload"]["channels"], json!(["cg.y"]));
    assert_eq!(
        node.get(&format!("{GROUPS}/cg.big")).await.ok()["payload"]["channels"],
        json!([])
    );
    let deleted = call(
        &node,
        "grouper",
        &[json!(["channelGroups.deleteGroup", {"channelGroup": "cg.fn"}])],
    )
    .await;
    assert_eq!(js_ok(&deleted[0]), &json!({}));
    let groups = node.get(GROUPS).await;
    assert_eq!(groups.ok()["payload"]["groups"], json!(["cg.rest"]));
}

#[tokio::test]
async fn js_files_are_listed_linked_published_and_deleted() {
    let node = Node::start().await;
    deploy_caller(&node, "sharer").await;
    let id = upload(&node, "fs.room", "cat.txt", b"meow").await;
    let (mut sse, _) = Sse::ready(&node, "fs.room", None).await;

    let results = call(
        &node,
        "sharer",
        &[
            json!(["listFiles", {"channel": "fs.room"}]),
            json!(["getFileUrl", {"channel": "fs.room", "id": id, "name": "cat.txt"}]),
            json!(["publishFile", {"channel": "fs.room", "fileId": id, "fileName": "cat.txt",
                                   "message": {"text": "look"}, "meta": {"by": "fn"}}]),
            json!(["publishFile", {"channel": "fs.room", "fileId": "../etc/passwd",
                                   "fileName": "cat.txt"}]),
            json!(["getFileUrl", {"channel": "fs.room", "id": "nope", "name": "cat.txt"}]),
            json!(["listFiles", {"channel": "fs.room", "next": "nope"}]),
            json!(["listFiles", {}]),
        ],
    )
    .await;
    let list = js_ok(&results[0]);
    assert_eq!(
        (
            &list["status"],
            &list["count"],
            &list["data"][0]["id"],
            &list["data"][0]["size"]
        ),
        (&json!(200), &json!(1), &json!(id), &json!(4)),
        "{list}"
    );
    assert!(list.get("next").is_none(), "{list}");
    let link = js_ok(&results[1]).as_str().expect("a URL").to_owned();
    assert!(link.starts_with(node.base()), "{link}");
    assert_eq!(fetch(&link).await.expect("the bytes"), b"meow");
    let timetoken = js_ok(&results[2])["timetoken"]
        .as_str()
        .expect("a timetoken");
    assert!(js_err(&results[3]).contains("file id"), "{}", results[3]);
    assert!(js_err(&results[4]).contains("nope"), "{}", results[4]);
    assert!(js_err(&results[5]).contains("nope"), "{}", results[5]);
    assert!(js_err(&results[6]).contains("`channel`"), "{}", results[6]);

    // Subscribers get the file message as a file event, history keeps it.
    let event = sse.next_event().await;
    assert_eq!(event.event, "file", "{:?}", event);
    assert_eq!(
        event.data["message"],
        json!({"message": {"text": "look"}, "file": {"id": id, "name": "cat.txt"}})
    );
    assert_eq!(event.data["timetoken"], timetoken);
    assert_eq!(event.data["publisher"], "fn:sharer");

    let results = call(
        &node,
        "sharer",
        &[
            json!(["deleteFile", {"channel": "fs.room", "id": id, "name": "cat.txt"}]),
            json!(["deleteFile", {"channel": "fs.room", "id": id, "name": "cat.txt"}]),
            json!(["listFiles", {"channel": "fs.room"}]),
        ],
    )
    .await;
    assert_eq!(js_ok(&results[0]), &json!({"status": 200}));
    assert!(
        js_err(&results[1]).contains("File Not Found"),
        "{}",
        results[1]
    );
    assert_eq!(js_ok(&results[2])["data"], json!([]));
    assert!(listed(&node, "fs.room", "").await.is_empty());
}

#[tokio::test]
async fn group_and_file_calls_spend_the_bus_budget_but_file_urls_do_not() {
    let node = Node::start().await;
    node.deploy_js_ok(
        "thrifty",
        CALLER,
        &json!({"endpoint": true, "bus_calls": 2}),
    )
    .await;
    let id = upload(&node, "bg.room", "a.txt", b"a").await;
    let url = json!(["getFileUrl", {"channel": "bg.room", "id": id, "name": "a.txt"}]);
    let results = call(
        &node,
        "thrifty",
        &[
            url.clone(),
            json!(["channelGroups.addChannels", {"channelGroup": "bg.g", "channels": ["bg.a"]}]),
            url.clone(),
            json!(["objects.getMemberships", {"uuid": "bg.u"}]),
            json!(["listFiles", {"channel": "bg.room"}]),
            url,
        ],
    )
    .await;
    for result in [
        &results[0],
        &results[1],
        &results[2],
        &results[3],
        &results[5],
    ] {
        js_ok(result);
    }
    assert_eq!(
        js_err(&results[4]),
        "bus budget exhausted: at most 2 calls per invocation"
    );
}

#[tokio::test]
async fn the_rust_sdk_manages_memberships_groups_and_files() {
    let node = Node::start().await;
    node.deploy_caps("caps", json!({"bus_calls": 20})).await;
    let id = upload(&node, "rg.room", "r.bin", b"rust").await;
    let results = node
        .run_ops(
            "caps",
            &[
                json!({"op": "memberships.set", "kind": "channel", "id": "rg.room",
                       "set": [{"id": "rg.ann", "fields": {"status": "admin"}}, {"id": "rg.bob"}]}),
                json!({"op": "memberships.get", "kind": "uuid", "id": "rg.ann"}),
                json!({"op": "memberships.remove", "kind": "channel", "id": "rg.room",
                       "others": ["rg.bob"]}),
                json!({"op": "memberships.get", "kind": "uuid", "id": "rg.ann",
                       "filter": "name ==="}),
                json!({"op": "groups.add", "group": "rg.g", "channels": ["rg.a", "rg.b"]}),
                json!({"op": "groups.remove", "group": "rg.g", "channels": ["rg.a"]}),
                json!({"op": "groups.list", "group": "rg.g"}),
                json!({"op": "groups.names"}),
                json!({"op": "groups.add", "group": "", "channels": ["rg.a"]}),
                json!({"op": "files.list", "channel": "rg.room", "limit": 5}),
                json!({"op": "files.url", "channel": "rg.room", "id": id, "name": "r.bin"}),
                json!({"op": "files.publish", "channel": "rg.room", "id": id, "name": "r.bin",
                       "message": "see this", "meta": null}),
            ],
        )
        .await;
    let members = ok(&results[0]);
    assert_eq!(members["total_count"], Value::Null);
    let ids: Vec<&Value> = members["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|m| &m["uuid"]["id"])
        .collect();
    assert_eq!(ids, [&json!("rg.ann"), &json!("rg.bob")]);
    assert_eq!(members["objects"][0]["status"], "admin");
    let ann = ok(&results[1]);
    assert_eq!(ann["objects"][0]["channel"]["id"], "rg.room", "{ann}");
    assert_eq!(
        ok(&results[2])["objects"],
        json!([{"uuid": {"id": "rg.ann"}, "updated": members["objects"][0]["updated"],
                "eTag": members["objects"][0]["eTag"]}])
    );
    assert!(!err(&results[3], "invalid").is_empty());
    assert_eq!(ok(&results[4]), &Value::Null);
    assert_eq!(ok(&results[6]), &json!(["rg.b"]));
    assert_eq!(ok(&results[7]), &json!(["rg.g"]));
    assert!(err(&results[8], "invalid").contains("channel group name"));
    let files = ok(&results[9]);
    assert_eq!(
        (
            &files["files"][0]["id"],
            &files["files"][0]["size"],
            &files["next"]
        ),
        (&json!(id), &json!(4), &Value::Null),
        "{files}"
    );
    let link = ok(&results[10]).as_str().expect("a link").to_owned();
    assert_eq!(fetch(&link).await.expect("the bytes"), b"rust");
    let history = node.history("rg.room", "").await;
    assert_eq!(
        history[0]["message"],
        json!({"message": "see this", "file": {"id": id, "name": "r.bin"}})
    );
    assert!(ok(&results[11]).is_string(), "{}", results[11]);

    let results = node
        .run_ops(
            "caps",
            &[
                json!({"op": "files.delete", "channel": "rg.room", "id": id, "name": "r.bin"}),
                json!({"op": "files.delete", "channel": "rg.room", "id": id, "name": "r.bin"}),
                json!({"op": "groups.delete", "group": "rg.g"}),
            ],
        )
        .await;
    assert_eq!(ok(&results[0]), &json!(true));
    assert_eq!(ok(&results[1]), &json!(false));
    assert_eq!(ok(&results[2]), &Value::Null);
    assert!(listed(&node, "rg.room", "").await.is_empty());
    let groups = node.get(GROUPS).await;
    assert_eq!(groups.ok()["payload"]["groups"], json!([]));
}
