//! The broker conformance suite: the checks every broker the bus runs on
//! must pass (the contract is `edgefn::bus::broker`), run against each:
//! - `embedded`: one bus over its own store, ordered by its own sequencer;
//! - `nats`: two buses (two nodes, in one process), each over its own store
//!   and its own NATS connection, sharing one JetStream log on a real
//!   `nats-server` (`EDGEFN_NATS_SERVER`, as for the cluster tests).
//!
//! Each check publishes through every bus and reads through every bus:
//! what one node commits, every node delivers once, in one order, with the
//! timetoken its publisher was answered, and history and replay from any
//! position agree with it, deletions too. After-publish delivery (of publishes and
//! fires) sits above the broker; the end-to-end suites check it on one
//! node and in a cluster (`after_publish`, `cluster::after_publish`).

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use edgefn::bus::{
    Broker, Bus, Channel, Commit, Deletion, Embedded, HistoryQuery, Message, MessageKind, Pattern,
    Published, Subscription, Timetoken,
};
use edgefn::cluster::Cluster;
use edgefn::cluster::log::ClusterLog;
use edgefn::config::{BusConfig, NatsConfig};
use edgefn::metrics::Metrics;
use edgefn::store::Store;
use edgefn_e2e::nats::NatsServer;
use edgefn_e2e::tempdir::TempDir;
use edgefn_e2e::wait::TIMEOUT;

/// Messages each channel's history keeps.
const HISTORY: usize = 40;
/// Messages one replay page holds: small, so that replays take pages.
const REPLAY_PAGE: usize = 7;

/// The buses under test, and what they run on.
struct Buses {
    buses: Vec<Arc<Bus>>,
    _dirs: Vec<TempDir>,
    _nats: Option<NatsServer>,
}

/// One bus on the embedded broker.
async fn embedded() -> Buses {
    let dir = TempDir::new();
    let bus = start(&dir, Arc::new(Embedded::default()));
    Buses {
        buses: vec![bus],
        _dirs: vec![dir],
        _nats: None,
    }
}

/// Two buses on one NATS JetStream log.
async fn nats() -> Buses {
    let server = NatsServer::start().await;
    let config: NatsConfig =
        serde_json::from_value(serde_json::json!({ "url": server.url() })).expect("a NATS config");
    let mut buses = Vec::new();
    let mut dirs = Vec::new();
    for node in ["a", "b"] {
        let cluster = Cluster::connect(&config, format!("node-{node}"))
            .await
            .expect("joined NATS");
        let log = ClusterLog::open(Arc::new(cluster))
            .await
            .expect("the cluster log");
        let dir = TempDir::new();
        buses.push(start(&dir, log));
        dirs.push(dir);
    }
    Buses {
        buses,
        _dirs: dirs,
        _nats: Some(server),
    }
}

fn start(dir: &TempDir, broker: Arc<dyn Broker>) -> Arc<Bus> {
    let store = Arc::new(Store::open(dir.path()).expect("a store"));
    let config = BusConfig {
        history_per_channel: HISTORY,
        replay_limit: REPLAY_PAGE,
        ..BusConfig::default()
    };
    Arc::new(Bus::start(store, broker, config, Arc::new(Metrics::new())).expect("a bus"))
}

/// What a test message says: who sent it (bus index) and its number.
type Id = (usize, u64);

fn message(channel: &str, kind: MessageKind, id: Id) -> Message {
    let channel = Channel::parse(channel).expect("a channel name");
    let payload = format!(r#"{{"from":{},"n":{}}}"#, id.0, id.1);
    Message::new(channel, kind, &payload, None, None).expect("a message")
}

fn id_of(published: &Published) -> Id {
    let value: serde_json::Value =
        serde_json::from_str(published.message.payload.get()).expect("JSON");
    let field = |name: &str| value[name].as_u64().expect("a number");
    (field("from") as usize, field("n"))
}

fn patterns(list: &[&str]) -> Vec<Pattern> {
    list.iter()
        .map(|p| Pattern::parse(p).expect("a pattern"))
        .collect()
}

fn subscribe(bus: &Bus, list: &[&str]) -> Subscription {
    let subscriber = bus.subscriber();
    assert!(subscriber.add(&patterns(list)));
    subscriber
}

/// Bounds a wait that must end.
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// The next `n` messages `subscriber` gets.
async fn take(subscriber: &mut Subscription, n: usize) -> Vec<Arc<Published>> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let delivery = within(
            &format!("delivery {} of {n}", got.len() + 1),
            subscriber.recv(),
        )
        .await
        .unwrap_or_else(|closed| panic!("the subscription ended: {closed:?}"));
        got.push(Arc::clone(&delivery.published));
    }
    got
}

/// Submits `messages` in turn (each one's place is fixed before the next is
/// sent, as a connection does) and awaits the commits together.
async fn publish_pipelined(bus: &Bus, messages: Vec<Message>) -> Vec<Arc<Published>> {
    let mut commits: Vec<Commit> = Vec::with_capacity(messages.len());
    for message in messages {
        commits.push(bus.submit(message).await.expect("submitted"));
    }
    let mut committed = Vec::with_capacity(commits.len());
    for commit in commits {
        committed.push(commit.await.expect("committed"));
    }
    committed
}

/// Waits until `bus` has stored and delivered everything up to `timetoken`.
async fn applied(bus: &Bus, timetoken: Timetoken) {
    within("the bus to apply what was committed", async {
        while bus.head() < timetoken {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// Every bus publishes `per_bus` messages, round robin over `a`, `b` and
/// `w.x`, all at once; every bus has a subscriber to `a`, `b` and `w.*`.
async fn every_bus_delivers_every_message_once_in_one_order(setup: Buses) {
    let buses = &setup.buses;
    let per_bus = 150;
    let channels = ["a", "b", "w.x"];
    let mut subscribers: Vec<_> = buses
        .iter()
        .map(|bus| subscribe(bus, &["a", "b", "w.*"]))
        .collect();
    let publishers = buses.iter().enumerate().map(|(from, bus)| {
        let bus = Arc::clone(bus);
        tokio::spawn(async move {
            let messages = (0..per_bus)
                .map(|n| {
                    let channel = channels[n as usize % channels.len()];
                    message(channel, MessageKind::Publish, (from, n))
                })
                .collect();
            publish_pipelined(&bus, messages).await
        })
    });
    let mut answered: BTreeMap<Id, Timetoken> = BTreeMap::new();
    for committed in futures::future::join_all(publishers).await {
        for published in committed.expect("a publisher") {
            answered.insert(id_of(&published), published.timetoken);
        }
    }
    let total = per_bus as usize * buses.len();
    assert_eq!(answered.len(), total, "every publish answered once");

    let mut orders = Vec::new();
    for subscriber in &mut subscribers {
        let got = take(subscriber, total).await;
        let ids: Vec<Id> = got.iter().map(|p| id_of(p)).collect();
        let unique: HashSet<&Id> = ids.iter().collect();
        assert_eq!(unique.len(), total, "no message delivered twice");
        assert!(
            got.windows(2).all(|w| w[0].timetoken < w[1].timetoken),
            "timetokens strictly increase in delivery order"
        );
        for published in &got {
            assert_eq!(
                answered[&id_of(published)],
                published.timetoken,
                "delivered with the timetoken its publisher was answered"
            );
        }
        // Each publisher's messages arrive in the order it sent them.
        for from in 0..buses.len() {
            let sent: Vec<u64> = ids.iter().filter(|i| i.0 == from).map(|i| i.1).collect();
            assert_eq!(sent, (0..per_bus).collect::<Vec<_>>(), "publisher {from}");
        }
        orders.push(
            got.iter()
                .map(|p| (p.message.channel.to_string(), p.timetoken))
                .collect::<Vec<_>>(),
        );
        assert!(subscriber.try_recv().is_none(), "nothing more");
    }
    assert!(
        orders.windows(2).all(|w| w[0] == w[1]),
        "every bus delivers one order"
    );
}

/// History holds a channel's newest stored messages with the timetokens
/// they were delivered with, and names what it trimmed; signals and `store: false` are delivered but
/// not stored; fires take a timetoken but are neither.
async fn history_holds_what_was_stored_and_fires_and_signals_keep_their_semantics(setup: Buses) {
    let buses = &setup.buses;
    let mut subscribers: Vec<_> = buses.iter().map(|bus| subscribe(bus, &["h"])).collect();
    let mut committed = Vec::new();
    for n in 0..(HISTORY as u64 * 3) {
        let from = n as usize % buses.len();
        let (kind, store) = match n % 5 {
            1 => (MessageKind::Signal, true),
            2 => (MessageKind::Fire, true),
            3 => (MessageKind::Publish, false),
            _ => (MessageKind::Publish, true),
        };
        let mut message = message("h", kind, (from, n));
        message.store = store;
        committed.extend(publish_pipelined(&buses[from], vec![message]).await);
    }
    assert!(
        committed
            .windows(2)
            .all(|w| w[0].timetoken < w[1].timetoken),
        "every commit, fires too, gets a larger timetoken"
    );
    let delivered_ids: Vec<Id> = committed
        .iter()
        .filter(|p| p.message.kind != MessageKind::Fire)
        .map(|p| id_of(p))
        .collect();
    let stored: Vec<(Id, Timetoken)> = committed
        .iter()
        .filter(|p| p.message.kind == MessageKind::Publish && p.message.store)
        .map(|p| (id_of(p), p.timetoken))
        .collect();
    let last = committed.last().expect("commits").timetoken;
    for (bus, subscriber) in buses.iter().zip(&mut subscribers) {
        let got = take(subscriber, delivered_ids.len()).await;
        assert_eq!(
            got.iter().map(|p| id_of(p)).collect::<Vec<_>>(),
            delivered_ids,
            "delivered: everything but fires, in order"
        );
        assert!(subscriber.try_recv().is_none(), "no fire delivered");
        applied(bus, last).await;

        let read = |limit, start, end| async move {
            let query = HistoryQuery { limit, start, end };
            let channel = Channel::parse("h").expect("a channel");
            let found = bus.history(channel, query).await.expect("history");
            found
                .iter()
                .map(|p| (id_of(p), p.timetoken))
                .collect::<Vec<_>>()
        };
        let all = read(usize::MAX, None, None).await;
        assert_eq!(all.len(), stored.len().min(HISTORY), "trimmed to the limit");
        assert_eq!(
            all,
            stored[stored.len() - all.len()..],
            "the newest stored publishes, oldest first"
        );
        // What was trimmed is named to a replay from before it, and only
        // then.
        let trimmed = stored[stored.len() - all.len() - 1].1;
        let asked = patterns(&["h"]);
        let dropped = |after| bus.dropped_after(asked.clone(), after);
        let channel = Channel::parse("h").expect("a channel");
        assert_eq!(dropped(stored[0].1).await.unwrap(), [(channel, trimmed)]);
        assert_eq!(dropped(trimmed).await.unwrap(), []);
        // The newest 5 at or after one timetoken and before another.
        let (end, start) = (stored[10].1, stored[30].1);
        assert_eq!(
            read(5, Some(start), Some(end)).await,
            stored[25..30],
            "a bounded page"
        );
    }
}

/// Replaying from a position, taken on any bus, returns exactly what was
/// stored after it on the patterns asked, page after page, on every bus.
async fn replay_resumes_from_any_position_without_gaps_or_repeats(setup: Buses) {
    let buses = &setup.buses;
    let channels = ["r.1", "r.2", "r.3.deep", "other"];
    let mut committed = Vec::new();
    for (from, bus) in buses.iter().enumerate() {
        let messages = (0..30)
            .map(|n| message(channels[n as usize % 4], MessageKind::Publish, (from, n)))
            .collect();
        committed.extend(publish_pipelined(bus, messages).await);
    }
    committed.sort_by_key(|p| p.timetoken);
    let last = committed.last().expect("commits").timetoken;
    let positions = [
        Timetoken(0),
        committed[0].timetoken,
        committed[13].timetoken,
        committed[committed.len() - 2].timetoken,
        last,
    ];
    for bus in buses {
        applied(bus, last).await;
        for asked in [&["r.*"][..], &["r.2"], &["r.1", "r.*", "other"]] {
            let asked = patterns(asked);
            for &position in &positions {
                let expected: Vec<(Id, Timetoken)> = committed
                    .iter()
                    .filter(|p| {
                        p.timetoken > position
                            && asked
                                .iter()
                                .any(|pattern| pattern.matches(&p.message.channel))
                    })
                    .map(|p| (id_of(p), p.timetoken))
                    .collect();
                let mut replayed = Vec::new();
                let mut since = position;
                loop {
                    let (page, more) = bus
                        .replay(asked.clone(), since)
                        .await
                        .expect("a replay page");
                    assert!(page.len() <= REPLAY_PAGE);
                    if let Some(newest) = page.last() {
                        since = newest.timetoken;
                    }
                    replayed.extend(page.iter().map(|p| (id_of(p), p.timetoken)));
                    if !more {
                        break;
                    }
                }
                replayed.extend(
                    bus.delivered_after(&asked, since)
                        .iter()
                        .map(|p| (id_of(p), p.timetoken)),
                );
                assert_eq!(replayed, expected, "replay of {asked:?} after {position:?}");
            }
        }
    }
}

/// A deletion takes its place in the order like a message: every bus
/// removes its range (from history, counts and replays) and nothing else,
/// and no subscriber gets it.
async fn a_deletion_removes_its_range_from_every_bus(setup: Buses) {
    let buses = &setup.buses;
    let mut subscribers: Vec<_> = buses
        .iter()
        .map(|bus| subscribe(bus, &["d", "e"]))
        .collect();
    let mut committed = Vec::new();
    for n in 0..10 {
        let from = n as usize % buses.len();
        let channel = if n % 5 == 4 { "e" } else { "d" };
        let message = message(channel, MessageKind::Publish, (from, n));
        committed.extend(publish_pipelined(&buses[from], vec![message]).await);
    }
    let on_d: Vec<_> = committed
        .iter()
        .filter(|p| p.message.channel.as_str() == "d")
        .collect();
    let deleted = Deletion {
        from: on_d[1].timetoken,
        to: on_d[5].timetoken,
    };
    let d = Channel::parse("d").expect("a channel");
    let last_bus = buses.last().expect("a bus");
    within("the deletion", last_bus.delete(d.clone(), deleted))
        .await
        .expect("deleted");
    let marker = publish_pipelined(&buses[0], vec![message("d", MessageKind::Publish, (0, 99))])
        .await
        .remove(0);
    let mut kept: Vec<Id> = on_d
        .iter()
        .filter(|p| p.timetoken < deleted.from || p.timetoken > deleted.to)
        .map(|p| id_of(p))
        .collect();
    kept.push((0, 99));
    assert_eq!(kept.len(), 4, "two of d's messages are outside the range");
    for (bus, subscriber) in buses.iter().zip(&mut subscribers) {
        applied(bus, marker.timetoken).await;
        let query = HistoryQuery {
            limit: usize::MAX,
            start: None,
            end: None,
        };
        let history = bus.history(d.clone(), query).await.expect("history");
        assert_eq!(history.iter().map(id_of).collect::<Vec<_>>(), kept);
        let e = Channel::parse("e").expect("a channel");
        assert_eq!(
            bus.history(e.clone(), query).await.expect("history").len(),
            2
        );
        assert_eq!(bus.count_after(d.clone(), Timetoken(0)).await.unwrap(), 4);
        assert_eq!(bus.count_after(e, Timetoken(0)).await.unwrap(), 2);
        let (replayed, more) = bus.replay(patterns(&["d"]), Timetoken(0)).await.unwrap();
        assert!(!more);
        assert_eq!(replayed.iter().map(id_of).collect::<Vec<_>>(), kept);
        // Subscribers got the 10 messages and the marker, not the deletion.
        assert_eq!(take(subscriber, 11).await.len(), 11);
        assert!(subscriber.try_recv().is_none(), "no deletion delivered");
    }
}

/// Runs each check against each broker.
macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(super::embedded().await).await;
                }
            )*
        }
        mod nats {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(super::nats().await).await;
                }
            )*
        }
    };
}

conformance!(
    every_bus_delivers_every_message_once_in_one_order,
    history_holds_what_was_stored_and_fires_and_signals_keep_their_semantics,
    replay_resumes_from_any_position_without_gaps_or_repeats,
    a_deletion_removes_its_range_from_every_bus,
);
