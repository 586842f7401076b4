//! A JavaScript function's message actions and App Context changes are
//! the cluster's: invoked through one node, its action and its channel
//! metadata reach a subscriber of another node as events, and that node's
//! PubNub API sees them; so do its memberships, channel groups and file
//! deletions, on a second node of a two-node cluster.

use edgefn_e2e::sse::Sse;
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;

use super::cluster;
use crate::files::{listed, upload};
use crate::fn_presence_history::{deploy_caller, js_ok};

#[tokio::test]
async fn a_js_function_s_actions_and_objects_reach_every_node() {
    let (_nats, nodes) = cluster("").await;
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    deploy_caller(a, "changer").await;
    let (mut on_c, _) = Sse::ready(c, "fc.room", None).await;
    let message = c.publish("fc.room", &json!("hi")).await;
    assert_eq!(on_c.next_message().await["timetoken"], json!(message));

    let calls = [
        json!(["addMessageAction", {"channel": "fc.room", "messageTimetoken": message,
                                    "action": {"type": "reaction", "value": "wave"}}]),
        json!(["objects.setChannelMetadata", {"channel": "fc.room", "data": {"name": "Room"}}]),
    ];
    // Through B once it has the deployment (until then it answers 404 and
    // nothing is changed).
    let results = eventually("node B to run the function", TIMEOUT, || async {
        let answer = b
            .send(b.http().post(b.url("/v1/fn/changer")).json(&json!(calls)))
            .await;
        (answer.status == 200).then(|| answer.body.as_array().cloned().unwrap_or_default())
    })
    .await;
    let action = js_ok(&results[0])["data"].clone();
    let room = js_ok(&results[1])["data"].clone();
    assert_eq!(action["uuid"], "fn:changer", "{action}");

    // C's subscriber hears of both, in order, by the function.
    let event = on_c.next_event().await;
    assert_eq!(
        (event.event.as_str(), &event.data["publisher"]),
        ("action", &json!("fn:changer")),
        "{event:?}"
    );
    assert_eq!(event.data["message"]["data"], action);
    let event = on_c.next_event().await;
    assert_eq!(event.event, "object", "{event:?}");
    assert_eq!(event.data["message"]["data"]["name"], "Room");

    // C's PubNub API sees them.
    let actions = c.get("/v1/message-actions/demo/channel/fc.room").await;
    assert_eq!(actions.ok()["data"], json!([action]));
    let got = c
        .get("/v2/objects/demo/channels/fc.room?include=custom,status,type")
        .await;
    assert_eq!(got.ok()["data"]["eTag"], room["eTag"]);
}

#[tokio::test]
async fn a_js_function_s_memberships_groups_and_files_reach_the_other_node() {
    let nats = NatsServer::start().await;
    let nodes = nats.start_nodes(2, "").await;
    let (a, b) = (&nodes[0], &nodes[1]);
    deploy_caller(a, "organiser").await;
    let id = upload(b, "fg.room", "notes.txt", b"notes").await;
    let calls = json!([
        ["objects.setMemberships", {"uuid": "fg.ann", "channels": [{"id": "fg.room", "status": "on"}]}],
        ["channelGroups.addChannels", {"channelGroup": "fg.group", "channels": ["fg.room", "fg.hall"]}],
        ["listFiles", {"channel": "fg.room"}],
        ["deleteFile", {"channel": "fg.room", "id": id, "name": "notes.txt"}],
    ]);
    let answer = a
        .send(a.http().post(a.url("/v1/fn/organiser")).json(&calls))
        .await;
    let results = answer.ok().as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 4, "{}", answer.body);
    for result in &results {
        js_ok(result);
    }
    // A saw the file B stored, and deleted it for B too.
    assert_eq!(js_ok(&results[2])["data"][0]["id"], id.as_str());
    assert!(listed(b, "fg.room", "").await.is_empty());

    // B's PubNub API sees the membership at once (it is in the cluster's
    // store), and the group as soon as B applies the change.
    let memberships = b
        .get("/v2/objects/demo/uuids/fg.ann/channels?include=status")
        .await;
    assert_eq!(memberships.ok()["data"][0]["channel"]["id"], "fg.room");
    assert_eq!(memberships.ok()["data"][0]["status"], "on");
    let path = "/v1/channel-registration/sub-key/demo/channel-group/fg.group";
    eventually("node B to list the group's channels", TIMEOUT, || async {
        let listed = b.get(path).await;
        (listed.ok()["payload"]["channels"] == json!(["fg.hall", "fg.room"])).then_some(())
    })
    .await;
}
