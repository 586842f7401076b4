//! Delivery guarantees while publishes keep coming: `since` replays join the
//! live feed without gaps or duplicates (also through `Last-Event-ID`),
//! subscribers of one channel see one order, and a subscriber that stops
//! reading does not hold up the others; a replay from before what history
//! keeps starts with a `reset` naming the channels that lost messages.

use std::sync::atomic::{AtomicBool, Ordering};

use edgefn_e2e::check::{assert_increasing_per_channel, seqs};
use edgefn_e2e::sse::Stalled;
use edgefn_e2e::*;
use tokio::sync::watch;

/// Publishes `{"seq": n}` for n in `0..count` on `channels` in turn, one at a
/// time, reporting each answered timetoken on `answered`.
async fn publish_seqs(
    node: &Node,
    channels: &[&str],
    count: u64,
    answered: &watch::Sender<Vec<String>>,
) {
    for seq in 0..count {
        let channel = channels[seq as usize % channels.len()];
        let tt = node.publish(channel, &json!({"seq": seq})).await;
        answered.send_modify(|all| all.push(tt));
    }
}

#[tokio::test]
async fn since_replays_without_gaps_or_duplicates_while_publishing() {
    let node = Node::start().await;
    const COUNT: u64 = 400;
    let channels = ["feed.a", "feed.b"];
    let (answered, mut progress) = watch::channel(Vec::new());
    let publisher = publish_seqs(&node, &channels, COUNT, &answered);
    let subscriber = async {
        // Join once 100 messages are out, replaying from the 50th: the
        // replay, the switch to live and the live feed all happen while the
        // publisher keeps going.
        let since = progress.wait_for(|tts| tts.len() >= 100).await.unwrap()[49].clone();
        let (mut sse, replayed) = Sse::ready(&node, "feed.*", Some(&since)).await;
        let mut got = replayed;
        while got.last().is_none_or(|m| m["message"]["seq"] != COUNT - 1) {
            got.push(sse.next_message().await);
        }
        got
    };
    let ((), got) = tokio::join!(publisher, subscriber);
    assert_eq!(
        seqs(&got),
        (50..COUNT).collect::<Vec<_>>(),
        "gap, duplicate or reordering around the replay"
    );
    assert_increasing_per_channel(&got);
    for view in &got {
        assert_eq!(
            view["subscription"], "feed.*",
            "replayed and live deliveries must both name the wildcard: {view}"
        );
    }
}

#[tokio::test]
async fn last_event_id_resumes_like_since() {
    let node = Node::start().await;
    let mut tts = Vec::new();
    for seq in 0..5 {
        tts.push(node.publish("resume", &json!({"seq": seq})).await);
    }
    let response = node
        .http()
        .get(node.url("/v1/subscribe/resume"))
        .header("last-event-id", &tts[2])
        .send()
        .await
        .unwrap();
    let text = tokio::time::timeout(wait::TIMEOUT, read_until_ready(response))
        .await
        .expect("no ready event");
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id:"))
        .map(str::trim)
        .collect();
    assert_eq!(ids, [tts[3].as_str(), tts[4].as_str()], "stream: {text}");
}

async fn read_until_ready(mut response: reqwest::Response) -> String {
    let mut text = String::new();
    while !text.contains("event: ready") {
        let chunk = response
            .chunk()
            .await
            .unwrap()
            .expect("the stream ended before ready");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

#[tokio::test]
async fn subscribers_of_one_channel_receive_the_same_order() {
    let node = Node::start().await;
    let (mut first, _) = Sse::ready(&node, "race", None).await;
    let (mut second, _) = Sse::ready(&node, "race", None).await;
    let mut third = Ws::connect(&node).await;
    third
        .call_ok(
            json!({"type": "subscribe", "channels": ["race"]}),
            "subscribed",
        )
        .await;

    // Several concurrent publishers, so the order is decided by the node.
    let writers = (0..4).map(|w| {
        let node = &node;
        async move {
            for seq in 0..50 {
                node.publish("race", &json!({"seq": seq, "writer": w}))
                    .await;
            }
        }
    });
    futures::future::join_all(writers).await;
    let order = |messages: &[Value]| {
        messages
            .iter()
            .map(|m| m["timetoken"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let a = first.messages(200).await;
    let b = second.messages(200).await;
    let mut c = Vec::new();
    for _ in 0..200 {
        c.push(third.next_message().await);
    }
    assert_increasing_per_channel(&a);
    assert_eq!(
        order(&a),
        order(&b),
        "two SSE subscribers saw different orders"
    );
    assert_eq!(
        order(&a),
        order(&c),
        "SSE and WebSocket subscribers saw different orders"
    );
    assert_eq!(
        order(&a),
        order(&node.history("race", "limit=1000").await),
        "history disagrees with the subscribers"
    );
}

#[tokio::test]
async fn slow_subscriber_does_not_delay_a_fast_one() {
    // A small per-subscriber queue, so the stalled subscriber falls behind
    // soon; messages of 16 KiB, so ~10 MB overflow any socket buffers.
    let node = Node::start_with_config("[bus]\nsubscriber_queue = 32\n").await;
    const COUNT: u64 = 600;
    let stalled = Stalled::connect(&node, "flood").await;
    let (mut fast, _) = Sse::ready(&node, "flood", None).await;
    let padding = "x".repeat(16 * 1024);

    let done = AtomicBool::new(false);
    let publisher = async {
        for seq in 0..COUNT {
            node.publish("flood", &json!({"seq": seq, "pad": padding}))
                .await;
        }
        done.store(true, Ordering::SeqCst);
    };
    let reader = async {
        let mut got = Vec::new();
        for _ in 0..COUNT {
            got.push(
                fast.next_message().await["message"]["seq"]
                    .as_u64()
                    .unwrap(),
            );
        }
        got
    };
    let ((), got) = tokio::join!(publisher, reader);
    assert!(done.load(Ordering::SeqCst));
    assert_eq!(
        got,
        (0..COUNT).collect::<Vec<_>>(),
        "the fast subscriber lost or reordered messages"
    );

    // The stalled one either was cut off with a clear error, or (had its
    // buffers been large enough) got everything; it never silently lost any.
    let last = format!("\"seq\":{}", COUNT - 1);
    let text = stalled
        .read_until(|text| text.contains("slow_consumer") || text.contains(&last))
        .await;
    if text.contains("slow_consumer") {
        assert!(
            text.contains("event: error"),
            "slow_consumer should come as an error event"
        );
        eprintln!("the stalled subscriber was disconnected as slow");
    } else {
        eprintln!("the stalled subscriber kept up");
    }
    let delivered: Vec<u64> = text
        .split("\"seq\":")
        .skip(1)
        .filter_map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(
        delivered,
        (0..delivered.len() as u64).collect::<Vec<_>>(),
        "the stalled subscriber got a gap"
    );
    // The node is still healthy and serving the fast subscriber.
    node.publish("flood", &json!({"seq": COUNT})).await;
    assert_eq!(fast.next_message().await["message"]["seq"], COUNT);
}

#[tokio::test]
async fn since_replays_page_after_page_over_overlapping_patterns() {
    // Pages of 7 messages: a replay of 35 must read five of them, and the
    // channel named both exactly and through the wildcard only once.
    let node = Node::start_with_config("[bus]\nreplay_limit = 7\n").await;
    let mut tts = Vec::new();
    for seq in 0..40u64 {
        let channel = format!("page.{}", seq % 3);
        tts.push(node.publish(&channel, &json!({"seq": seq})).await);
    }
    node.publish("elsewhere", &json!({"seq": 99})).await;
    let expected: Vec<u64> = (5..40).collect();

    let (mut sse, replayed) = Sse::ready(&node, "page.*,page.1", Some(&tts[4])).await;
    assert_eq!(seqs(&replayed), expected, "SSE replay");
    node.publish("page.1", &json!({"seq": 40})).await;
    assert_eq!(sse.next_message().await["message"]["seq"], 40);

    let mut ws = Ws::connect(&node).await;
    ws.call_ok(
        json!({"type": "subscribe", "channels": ["page.*", "page.1"], "since": tts[4]}),
        "subscribed",
    )
    .await;
    let mut replayed = Vec::new();
    for _ in 0..36 {
        replayed.push(ws.next_message().await);
    }
    let mut with_live = expected.clone();
    with_live.push(40);
    assert_eq!(seqs(&replayed), with_live, "WebSocket replay");
}

#[tokio::test]
async fn a_replay_from_before_what_history_keeps_starts_with_a_reset() {
    // History keeps 5 messages per channel: after 12 on `gap.a`, a replay
    // from the 2nd misses the 3rd to the 7th there, and is told so first;
    // `gap.b` lost nothing after it and is not named.
    let node = Node::start_with_config("[bus]\nhistory_per_channel = 5\n").await;
    let mut tts = Vec::new();
    for seq in 0..12u64 {
        tts.push(node.publish("gap.a", &json!({"seq": seq})).await);
    }
    let b = node.publish("gap.b", &json!({"seq": 100})).await;
    let expected_reset = |reset: &Value| {
        assert_eq!(reset["code"], "history_gap", "{reset}");
        assert_eq!(reset["since"], tts[1].as_str());
        assert_eq!(
            reset["channels"],
            json!([{"channel": "gap.a", "dropped_through": tts[6]}]),
            "{reset}"
        );
    };

    let mut sse = Sse::connect(&node, "gap.*", Some(&tts[1])).await;
    let first = sse.next_event().await;
    assert_eq!(first.event, "reset", "{first:?}");
    expected_reset(&first.data);
    let replayed = sse.until_ready().await;
    assert_eq!(seqs(&replayed), [7, 8, 9, 10, 11, 100]);

    let mut ws = Ws::connect(&node).await;
    ws.send(&json!({"type": "subscribe", "channels": ["gap.*"], "since": tts[1], "id": 1}))
        .await;
    let first = ws.next_frame().await.expect("a frame");
    assert_eq!(first["type"], "reset", "{first}");
    expected_reset(&first);
    let mut replayed = Vec::new();
    for _ in 0..6 {
        replayed.push(ws.next_message().await);
    }
    assert_eq!(seqs(&replayed), [7, 8, 9, 10, 11, 100]);

    // From the newest dropped message on, nothing is missing: no reset.
    let (_, replayed) = Sse::ready(&node, "gap.*", Some(&tts[6])).await;
    assert_eq!(seqs(&replayed), [7, 8, 9, 10, 11, 100]);
    let (_, replayed) = Sse::ready(&node, "gap.b", Some(&tts[0])).await;
    assert_eq!(replayed.len(), 1, "only {b} on gap.b");
}
