//! PubNub Files over plain HTTP: an upload URL, the form upload to the node,
//! the file message (SSE `file` events, long-poll `e: 4`, history
//! `message_type` 4), list, the 307 to a signed download link, delete; bad
//! input, forged and expired policies and links, the size limit, a kill -9
//! and restart, and two nodes of a cluster sharing files through
//! JetStream's object store (that test needs `EDGEFN_NATS_SERVER`, see
//! [`edgefn_e2e::nats`]); retention and quota are in [`limits`].

mod limits;

use std::time::Duration;

use edgefn_e2e::sse::Sse;
use edgefn_e2e::wait::eventually;
use edgefn_e2e::*;
use reqwest::multipart::{Form, Part};

const FILES: &str = "/v1/files/demo/channels";

/// `POST .../generate-upload-url` with `body`.
async fn generate_raw(node: &Node, channel: &str, body: &str) -> Answer {
    let url = node.url(&format!("{FILES}/{channel}/generate-upload-url"));
    node.send(node.http().post(url).body(body.to_owned())).await
}

/// The upload request the node answers for a file `name` on `channel`.
async fn generate(node: &Node, channel: &str, name: &str) -> Value {
    let answer = generate_raw(node, channel, &json!({ "name": name }).to_string()).await;
    let body = answer.ok().clone();
    assert_eq!(body["data"]["name"], name, "{body}");
    assert_eq!(body["file_upload_request"]["method"], "POST", "{body}");
    body
}

/// Posts `bytes` as the form `request` describes, with the fields
/// `replace` changes (name → value).
async fn upload_with(
    node: &Node,
    request: &Value,
    bytes: &[u8],
    replace: &[(&str, &str)],
) -> Answer {
    let upload = &request["file_upload_request"];
    let mut form = Form::new();
    for field in upload["form_fields"].as_array().expect("form fields") {
        let key = field["key"].as_str().expect("a key").to_owned();
        let value = replace.iter().find(|(k, _)| *k == key).map_or_else(
            || field["value"].as_str().expect("a value").to_owned(),
            |(_, v)| (*v).to_owned(),
        );
        form = form.text(key, value);
    }
    let name = request["data"]["name"].as_str().unwrap_or("f").to_owned();
    form = form.part("file", Part::bytes(bytes.to_vec()).file_name(name));
    let url = upload["url"].as_str().expect("an upload url");
    node.send(node.http().post(url).multipart(form)).await
}

/// Uploads `bytes` as `name` on `channel`: the file id once S3's 204
/// answers, or the refusal.
pub(crate) async fn try_upload(
    node: &Node,
    channel: &str,
    name: &str,
    bytes: &[u8],
) -> Result<String, Answer> {
    let request = generate(node, channel, name).await;
    let answer = upload_with(node, &request, bytes, &[]).await;
    if answer.status != 204 {
        return Err(answer);
    }
    Ok(request["data"]["id"].as_str().expect("an id").to_owned())
}

/// Uploads `bytes` as `name` on `channel`, asserting S3's 204; the file id.
pub(crate) async fn upload(node: &Node, channel: &str, name: &str, bytes: &[u8]) -> String {
    let answer = try_upload(node, channel, name, bytes).await;
    answer.unwrap_or_else(|refused| panic!("the upload failed: {}", refused.body))
}

/// `GET /v1/files/publish-file/...` of `{message, file: {id, name}}`.
async fn publish_file(node: &Node, channel: &str, id: &str, name: &str, message: &Value) -> String {
    let payload = json!({ "message": message, "file": { "id": id, "name": name } }).to_string();
    let path = format!(
        "/v1/files/publish-file/demo/demo/0/{channel}/0/{}?store=1&uuid=alice",
        urlencoding(&payload)
    );
    let answer = node.get(&path).await;
    assert_eq!(answer.ok()[1], "Sent", "{}", answer.body);
    answer.body[2].as_str().expect("a timetoken").to_owned()
}

fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET .../files?{query}`.
pub(crate) async fn list(node: &Node, channel: &str, query: &str) -> Answer {
    node.get(&format!("{FILES}/{channel}/files?{query}")).await
}

/// The (id, name, size) of each file `GET .../files?{query}` answers.
pub(crate) async fn listed(node: &Node, channel: &str, query: &str) -> Vec<(String, String, u64)> {
    let answer = list(node, channel, query).await;
    let data = answer.ok()["data"].as_array().expect("data").clone();
    data.iter()
        .map(|f| {
            let text = |k: &str| f[k].as_str().expect("text").to_owned();
            (
                text("id"),
                text("name"),
                f["size"].as_u64().expect("a size"),
            )
        })
        .collect()
}

/// A client that does not follow redirects.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

/// The download link `GET .../files/{id}/{name}` redirects to.
pub(crate) async fn download_link(node: &Node, channel: &str, id: &str, name: &str) -> String {
    let url = node.url(&format!("{FILES}/{channel}/files/{id}/{name}"));
    let answer = Answer::read(no_redirects().get(url).send().await.expect("sent")).await;
    assert_eq!(answer.status, 307, "{}", answer.body);
    let location = answer.headers["location"].to_str().expect("text");
    location.to_owned()
}

/// The bytes a download link answers, or its status and body.
pub(crate) async fn fetch(link: &str) -> Result<Vec<u8>, Answer> {
    let response = reqwest::get(link).await.expect("sent");
    if response.status() != 200 {
        return Err(Answer::read(response).await);
    }
    Ok(response.bytes().await.expect("a body").to_vec())
}

/// Asserts a PubNub object error with `status` whose message contains `part`.
#[track_caller]
pub(crate) fn assert_refused(answer: &Answer, status: u16, part: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(
        (&answer.body["status"], &answer.body["error"]),
        (&json!(status), &json!(true)),
        "{}",
        answer.body
    );
    let message = answer.body["message"].as_str().unwrap_or_default();
    assert!(message.contains(part), "`{part}` not in {}", answer.body);
}

#[tokio::test]
async fn upload_publish_list_download_and_delete() {
    let node = Node::start().await;
    let (mut sse, _) = Sse::ready(&node, "room", None).await;
    let handshake = node.get("/v2/subscribe/demo/room/0?uuid=poller&tt=0").await;
    let cursor = handshake.ok()["t"]["t"].as_str().unwrap().to_owned();
    let first = upload(&node, "room", "cat.png", b"not a png").await;
    let second = upload(&node, "room", "notes.txt", b"hello").await;

    // The file message: delivered as a `file` event, kept in history with
    // PubNub's message type 4, and its long-poll envelope says `e: 4`.
    let timetoken = publish_file(&node, "room", &first, "cat.png", &json!("my cat")).await;
    let event = sse.next_event().await;
    assert_eq!(event.event, "file", "{}", event.data);
    assert_eq!(event.data["kind"], "file");
    assert_eq!(
        event.data["message"]["file"],
        json!({"id": first, "name": "cat.png"})
    );
    let history = node
        .get("/v3/history/sub-key/demo/channel/room?include_message_type=true")
        .await;
    let items = &history.ok()["channels"]["room"];
    assert_eq!(items[0]["message_type"], 4, "{items}");
    assert_eq!(items[0]["timetoken"], timetoken.as_str());
    let poll = node
        .get(&format!(
            "/v2/subscribe/demo/room/0?uuid=poller&tt={cursor}"
        ))
        .await;
    assert_eq!(poll.ok()["m"][0]["e"], 4, "{}", poll.body);

    // Listed oldest first, paged with limit and next.
    assert_eq!(
        listed(&node, "room", "").await,
        [
            (first.clone(), "cat.png".to_owned(), 9),
            (second.clone(), "notes.txt".to_owned(), 5)
        ]
    );
    let page = list(&node, "room", "limit=1").await;
    assert_eq!(page.ok()["count"], 1);
    let next = page.body["next"].as_str().expect("a next").to_owned();
    assert_eq!(
        listed(&node, "room", &format!("limit=1&next={next}")).await[0].0,
        second
    );
    assert_eq!(
        list(&node, "room", &format!("limit=1&next={second}"))
            .await
            .ok()["next"],
        Value::Null
    );

    // Downloaded through the redirect, with its media type.
    let link = download_link(&node, "room", &first, "cat.png").await;
    assert!(link.starts_with(node.base()), "{link}");
    let response = reqwest::get(&link).await.expect("sent");
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"not a png");

    // Deleted: gone from the list, the link answers 404.
    let url = node.url(&format!("{FILES}/room/files/{first}/cat.png"));
    assert_eq!(
        node.send(node.http().delete(url.clone())).await.ok()["status"],
        200
    );
    assert_eq!(listed(&node, "room", "").await.len(), 1);
    assert_refused(&fetch(&link).await.unwrap_err(), 404, "File Not Found");
    assert_refused(
        &node.send(node.http().delete(url)).await,
        404,
        "File Not Found",
    );
}

#[tokio::test]
async fn bad_input_forged_and_expired_policies_are_refused() {
    let config =
        "[files]\nmax_file_bytes = 1000\nupload_url_ttl_secs = 1\ndownload_url_ttl_secs = 1\n";
    let node = Node::start_with_config(config).await;

    // Asking for an upload URL.
    assert_refused(&generate_raw(&node, "c", "not json").await, 400, "name");
    assert_refused(
        &generate_raw(&node, "c", r#"{"name":""}"#).await,
        400,
        "empty",
    );
    assert_refused(
        &generate_raw(&node, "c", r#"{"name":"a/b"}"#).await,
        400,
        "/",
    );
    let other_key = node
        .send(
            node.http()
                .post(node.url("/v1/files/nope/channels/c/generate-upload-url"))
                .body("{}"),
        )
        .await;
    assert_refused(&other_key, 400, "Invalid Subscribe Key");

    // Uploading: not a form, no policy, a forged or altered one, a file
    // past the limit, no file at all.
    let request = generate(&node, "c", "a.bin").await;
    let url = request["file_upload_request"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let not_a_form = node.send(node.http().post(&url).body("raw bytes")).await;
    assert_refused(&not_a_form, 400, "multipart");
    let bare = Form::new().part("file", Part::bytes(b"x".to_vec()).file_name("a.bin"));
    assert_refused(
        &node.send(node.http().post(&url).multipart(bare)).await,
        403,
        "policy",
    );
    let forged = upload_with(&node, &request, b"x", &[("signature", &"0".repeat(64))]).await;
    assert_refused(&forged, 403, "signature");
    let other = generate(&node, "c", "b.bin").await;
    let other_policy = other["file_upload_request"]["form_fields"][0]["value"]
        .as_str()
        .unwrap();
    let swapped = upload_with(&node, &request, b"x", &[("policy", other_policy)]).await;
    assert_refused(&swapped, 403, "signature");
    let big = upload_with(&node, &request, &[0u8; 1001], &[]).await;
    assert_refused(&big, 413, "max_file_bytes");
    let fields = request["file_upload_request"]["form_fields"]
        .as_array()
        .unwrap();
    let no_file = fields.iter().fold(Form::new(), |form, f| {
        form.text(
            f["key"].as_str().unwrap().to_owned(),
            f["value"].as_str().unwrap().to_owned(),
        )
    });
    assert_refused(
        &node.send(node.http().post(&url).multipart(no_file)).await,
        400,
        "file",
    );
    assert_eq!(
        upload_with(&node, &request, &[0u8; 1000], &[]).await.status,
        204
    );
    let again = upload_with(&node, &request, b"x", &[]).await;
    assert_refused(&again, 403, "made already");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let late = upload_with(&node, &request, b"x", &[]).await;
    assert_refused(&late, 403, "expired");

    // Listing and downloading.
    assert_refused(&list(&node, "c", "limit=many").await, 400, "limit");
    assert_refused(&list(&node, "c", "next=nope").await, 400, "next");
    let id = request["data"]["id"].as_str().unwrap();
    let bad_id = node
        .get(&format!("{FILES}/c/files/..%2F..%2Fedgefn.redb/a.bin"))
        .await;
    assert_refused(&bad_id, 400, "file id");
    let missing = download_link(
        &node,
        "c",
        &id.replace(|c: char| c.is_ascii_digit(), "0"),
        "a.bin",
    )
    .await;
    assert_refused(&fetch(&missing).await.unwrap_err(), 404, "File Not Found");
    let wrong_name = download_link(&node, "c", id, "b.bin").await;
    assert_refused(
        &fetch(&wrong_name).await.unwrap_err(),
        404,
        "File Not Found",
    );
    let link = download_link(&node, "c", id, "a.bin").await;
    assert_eq!(fetch(&link).await.unwrap(), [0u8; 1000]);
    let tampered = link.replace("/c/", "/d/");
    assert_refused(&fetch(&tampered).await.unwrap_err(), 403, "signature");
    let unsigned = link.split('?').next().unwrap().to_owned();
    assert_refused(&fetch(&unsigned).await.unwrap_err(), 403, "signature");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_refused(&fetch(&link).await.unwrap_err(), 403, "expired");
}

#[tokio::test]
async fn files_survive_kill_9_and_a_restart() {
    let mut node = Node::start().await;
    let id = upload(&node, "kept", "k.txt", b"durable").await;
    node.kill9().await;
    node.restart().await;
    assert_eq!(
        listed(&node, "kept", "").await,
        [(id.clone(), "k.txt".to_owned(), 7)]
    );
    let link = download_link(&node, "kept", &id, "k.txt").await;
    assert_eq!(fetch(&link).await.unwrap(), b"durable");
    let partial = std::fs::read_dir(node.data_dir().join("files"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".partial")
        })
        .count();
    assert_eq!(partial, 0);
}

#[tokio::test]
async fn cluster_nodes_share_files() {
    let nats = NatsServer::start().await;
    let nodes = nats
        .start_nodes(2, "[files]\nmax_file_bytes = 3000000\n")
        .await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let spec = json!({"after_publish_file": ["shared"], "endpoint": true});
    a.deploy_ok("counter", "counter", &spec).await;
    let (mut on_b, _) = Sse::ready(b, "shared", None).await;
    // Larger than a NATS message: the object store chunks it.
    let bytes: Vec<u8> = (0..2_500_000u32).map(|n| (n % 251) as u8).collect();

    let id = upload(a, "shared", "big.bin", &bytes).await;
    publish_file(a, "shared", &id, "big.bin", &json!({"text": "from a"})).await;

    let event = on_b.next_event().await;
    assert_eq!(event.event, "file", "{}", event.data);
    assert_eq!(event.data["message"]["file"]["id"], id.as_str());
    assert_eq!(
        listed(b, "shared", "").await,
        [(id.clone(), "big.bin".to_owned(), 2_500_000)]
    );
    let link = download_link(b, "shared", &id, "big.bin").await;
    assert!(link.starts_with(b.base()), "{link}");
    assert!(fetch(&link).await.unwrap() == bytes, "the bytes differ");

    // The cluster's After Publish File queue ran the function once, for
    // the file message and not the publish.
    b.publish("shared", &json!("not a file")).await;
    let what = "the file message counted";
    let count = || async { counted(b, "shared").await.filter(|&n| n > 0) };
    assert_eq!(eventually(what, edgefn_e2e::wait::TIMEOUT, count).await, 1);

    let url = b.url(&format!("{FILES}/shared/files/{id}/big.bin"));
    b.send(b.http().delete(url)).await.ok();
    assert!(listed(a, "shared", "").await.is_empty());
    let gone = download_link(a, "shared", &id, "big.bin").await;
    assert_refused(&fetch(&gone).await.unwrap_err(), 404, "File Not Found");
    assert_eq!(
        counted(a, "shared").await,
        Some(1),
        "the publish was counted"
    );
}

/// A Before Publish File function: refuses a file message whose message is
/// `reject me`, marks the others.
const CHECK_FILES: &str = r#"
export default (request) => {
  if (request.message.message === 'reject me') return request.abort('not this file');
  request.message.message = 'checked';
  return request.ok();
};
"#;

#[tokio::test]
async fn file_messages_have_triggers_of_their_own() {
    // Both deployed with `edgefn deploy`'s file trigger flags.
    let node = Node::start().await;
    let dir = Node::temp_dir();
    let check_files = dir.path().join("check-files.js");
    std::fs::write(&check_files, CHECK_FILES).unwrap();
    let check_files = check_files.to_str().unwrap();
    let deploy = ["deploy", check_files, "--name", "check-files"];
    let out = node
        .cli(&[&deploy[..], &["--before-publish-file", "docs"]].concat())
        .await;
    assert!(out.ok().contains("deployed `check-files`"), "{}", out.ok());
    // Counts file messages on `docs` and publishes on `notes`.
    let counter = edgefn_e2e::paths::guest("counter");
    let counter = counter.to_str().unwrap();
    let triggers = [
        "--after-publish-file",
        "docs",
        "--after-publish",
        "notes",
        "--endpoint",
    ];
    let deploy = ["deploy", counter, "--name", "counter"];
    let out = node.cli(&[&deploy[..], &triggers[..]].concat()).await;
    assert!(out.ok().contains("deployed `counter`"), "{}", out.ok());
    let listed = node.cli(&["functions", "list"]).await;
    assert!(
        listed.ok().contains("before-publish-file docs")
            && listed
                .ok()
                .contains("after-publish notes; after-publish-file docs"),
        "{}",
        listed.ok()
    );
    let id = upload(&node, "docs", "a.txt", b"a").await;

    // Before Publish File changes or refuses file messages only.
    publish_file(&node, "docs", &id, "a.txt", &json!("hello")).await;
    let payload = json!({"message": "reject me", "file": {"id": id, "name": "a.txt"}});
    let path = format!(
        "/v1/files/publish-file/demo/demo/0/docs/0/{}",
        urlencoding(&payload.to_string())
    );
    let refused = node.get(&path).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body[1]
            .as_str()
            .unwrap_or_default()
            .contains("not this file"),
        "{}",
        refused.body
    );
    node.publish("docs", &json!({"message": "reject me"})).await;
    let history = node.get("/v3/history/sub-key/demo/channel/docs").await;
    let messages: Vec<&Value> = history.ok()["channels"]["docs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["message"])
        .collect();
    assert_eq!(messages[0]["message"], "checked");
    assert_eq!(messages[1], &json!({"message": "reject me"}));

    // After Publish File gets file messages, After Publish the others.
    publish_file(&node, "notes", &id, "a.txt", &json!("not counted")).await;
    node.publish("notes", &json!("counted")).await;
    let counts = || async {
        let counts = (
            counted(&node, "docs").await?,
            counted(&node, "notes").await?,
        );
        (counts == (1, 1)).then_some(counts)
    };
    let what = "one file message and one publish counted";
    eventually(what, edgefn_e2e::wait::TIMEOUT, counts).await;
    // Nothing more arrives later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(counts().await, Some((1, 1)));
}

/// What the counter function counted on `channel`.
async fn counted(node: &Node, channel: &str) -> Option<u64> {
    let answer = node.get(&format!("/v1/fn/counter/{channel}")).await;
    answer.body["count"].as_u64()
}
