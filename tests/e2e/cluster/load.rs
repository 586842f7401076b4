//! Publishing load for the crash tests: one writer per node publishes
//! `{"writer": w, "n": n}` on one channel, one message after the other,
//! until stopped, and records every outcome (status, timetoken, how long
//! the answer took). A writer never fails the test by itself: a node that
//! does not answer (killed, crashed, hanging past the client's timeout) is
//! an outcome without a status, for the test to judge.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgefn_e2e::check::short;
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;
use tokio::task::JoinHandle;

/// Node config giving history room for everything the writers publish.
pub const ROOMY_HISTORY: &str = "[bus]\nhistory_per_channel = 100000\n";
/// How much history to read back.
pub const HISTORY_LIMIT: usize = 100_000;
/// The longest a publish may take to be answered, during faults too.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// How long a writer waits for an answer before recording none.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);
/// A writer's pause after a failure, so that an outage is not a busy loop.
const BACKOFF: Duration = Duration::from_millis(50);

/// One publish and its answer.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Which writer sent it.
    pub writer: usize,
    /// The message sent.
    pub message: Value,
    /// When it was sent.
    pub sent: Instant,
    /// How long the answer took.
    pub took: Duration,
    /// The status, or `None` when the node did not answer.
    pub status: Option<u16>,
    /// The body (or why there was none).
    pub body: Value,
}

impl Outcome {
    /// The timetoken of an acknowledged publish.
    pub fn timetoken(&self) -> Option<u64> {
        (self.status == Some(200))
            .then(|| self.body["timetoken"].as_str()?.parse().ok())
            .flatten()
    }
}

/// Writers running in the background.
pub struct Load {
    stop: Arc<AtomicBool>,
    outcomes: Vec<Arc<Mutex<Vec<Outcome>>>>,
    writers: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts one writer per node, publishing on `channel`.
    pub fn start(nodes: &[Node], channel: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let mut outcomes = Vec::new();
        let mut writers = Vec::new();
        for (writer, node) in nodes.iter().enumerate() {
            let record = Arc::new(Mutex::new(Vec::new()));
            outcomes.push(Arc::clone(&record));
            let url = node.url(&format!("/v1/publish/{channel}"));
            let stop = Arc::clone(&stop);
            writers.push(tokio::spawn(write(writer, url, stop, record)));
        }
        Load {
            stop,
            outcomes,
            writers,
        }
    }

    /// How many of writer `w`'s publishes sent after `since` were answered
    /// with `status`.
    pub fn count_since(&self, writer: usize, since: Instant, status: Option<u16>) -> usize {
        self.outcomes[writer]
            .lock()
            .expect("outcomes lock")
            .iter()
            .filter(|o| o.sent >= since && o.status == status)
            .count()
    }

    /// Waits until each of `writers` has `n` publishes sent after `since`
    /// acknowledged.
    pub async fn wait_acked(&self, writers: &[usize], since: Instant, n: usize) {
        let what = format!("writers {writers:?} to have {n} publishes acknowledged");
        eventually(&what, TIMEOUT, || async {
            writers
                .iter()
                .all(|&w| self.count_since(w, since, Some(200)) >= n)
                .then_some(())
        })
        .await;
    }

    /// Stops the writers, waits for their last answers, and returns every
    /// outcome, per writer.
    pub async fn stop(self) -> Vec<Vec<Outcome>> {
        self.stop.store(true, Ordering::SeqCst);
        for writer in self.writers {
            writer.await.expect("a writer panicked");
        }
        self.outcomes
            .iter()
            .map(|o| o.lock().expect("outcomes lock").clone())
            .collect()
    }
}

/// Every acknowledged publish of `outcomes` (timetoken → message), after
/// asserting that each was answered within `within` with a success or a
/// 503, and that no timetoken was given twice.
#[track_caller]
pub fn acknowledged(outcomes: &[Vec<Outcome>], within: Duration) -> HashMap<u64, Value> {
    let mut acknowledged = HashMap::new();
    for outcome in outcomes.iter().flatten() {
        let answer = format!(
            "writer {}'s publish answered {:?} after {:?}: {}",
            outcome.writer,
            outcome.status,
            outcome.took,
            short(&outcome.body)
        );
        assert!(outcome.took <= within, "{answer}: later than {within:?}");
        match outcome.status {
            Some(200) => {
                let timetoken = outcome.timetoken().expect("a timetoken");
                let previous = acknowledged.insert(timetoken, outcome.message.clone());
                assert!(previous.is_none(), "timetoken {timetoken} given twice");
            }
            Some(503) => {}
            _ => panic!("{answer}"),
        }
    }
    acknowledged
}

async fn write(
    writer: usize,
    url: String,
    stop: Arc<AtomicBool>,
    record: Arc<Mutex<Vec<Outcome>>>,
) {
    let http = reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .expect("an HTTP client");
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let message = json!({"writer": writer, "n": n});
        n += 1;
        let sent = Instant::now();
        let response = http
            .post(&url)
            .header("content-type", "application/json")
            .body(message.to_string())
            .send()
            .await;
        let (status, body) = match response {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.text().await {
                    Ok(text) => (
                        Some(status),
                        serde_json::from_str(&text).unwrap_or(Value::String(text)),
                    ),
                    Err(e) => (None, Value::String(format!("{status}, then: {e}"))),
                }
            }
            Err(e) => (None, Value::String(e.to_string())),
        };
        let outcome = Outcome {
            writer,
            message,
            sent,
            took: sent.elapsed(),
            status,
            body,
        };
        let failed = outcome.status != Some(200);
        record.lock().expect("outcomes lock").push(outcome);
        if failed {
            tokio::time::sleep(BACKOFF).await;
        }
    }
}
