//! A Server-Sent Events client for `GET /v1/subscribe/{channels}` (with a
//! token and client id when access control is on), and for any other SSE
//! endpoint, such as a function's followed log.
//!
//! [`Sse`] reads the stream in a task of its own and parses `event:`, `id:`
//! and `data:` fields (comments, such as keep-alives, are skipped); a stream
//! the node ends says why in a final `error` event;
//! [`Stalled`] connects and then stops reading, to play a slow subscriber.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::api::Answer;
use crate::auth::Auth;
use crate::check::{assert_delivered, short};
use crate::node::Node;
use crate::wait::{TIMEOUT, within};

/// One event.
#[derive(Debug, Clone)]
pub struct Event {
    /// Its `event:` (`message` when absent).
    pub event: String,
    /// Its `id:`.
    pub id: Option<String>,
    /// Its `data:` as JSON (a string when it is not JSON).
    pub data: Value,
}

/// An open SSE subscription.
pub struct Sse {
    events: mpsc::UnboundedReceiver<Result<Event, String>>,
    reader: JoinHandle<()>,
}

impl Drop for Sse {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Sse {
    /// Opens `/v1/subscribe/{channels}` (with `?since=`), asserting that the
    /// node accepts it.
    pub async fn connect(node: &Node, channels: &str, since: Option<&str>) -> Sse {
        Self::connect_as(node, channels, since, &Auth::none()).await
    }

    /// [`Sse::connect`], presenting `auth`.
    pub async fn connect_as(node: &Node, channels: &str, since: Option<&str>, auth: &Auth) -> Sse {
        match Self::open_as(node, channels, since, auth).await {
            Ok(sse) => sse,
            Err(answer) => panic!(
                "subscribe to {channels} refused: {} {}",
                answer.status, answer.body
            ),
        }
    }

    /// [`Sse::connect`], then waits for `ready`; returns the subscription and
    /// the events replayed before `ready`.
    pub async fn ready(node: &Node, channels: &str, since: Option<&str>) -> (Sse, Vec<Value>) {
        let mut sse = Self::connect(node, channels, since).await;
        let replayed = sse.until_ready().await;
        (sse, replayed)
    }

    /// A live subscription to `channels` presenting `auth` (after `ready`).
    pub async fn ready_as(node: &Node, channels: &str, auth: &Auth) -> Sse {
        let mut sse = Self::connect_as(node, channels, None, auth).await;
        let replayed = sse.until_ready().await;
        assert!(
            replayed.is_empty(),
            "replayed without `since`: {replayed:?}"
        );
        sse
    }

    /// Opens `/v1/subscribe/{channels}`; a refusal is returned as its answer.
    pub async fn open(node: &Node, channels: &str, since: Option<&str>) -> Result<Sse, Answer> {
        Self::open_as(node, channels, since, &Auth::none()).await
    }

    /// [`Sse::open`], presenting `auth`.
    pub async fn open_as(
        node: &Node,
        channels: &str,
        since: Option<&str>,
        auth: &Auth,
    ) -> Result<Sse, Answer> {
        let mut request = node
            .http()
            .get(node.url(&format!("/v1/subscribe/{channels}")));
        if let Some(since) = since {
            request = request.query(&[("since", since)]);
        }
        Self::open_request(auth.apply(request)).await
    }

    /// Sends `request` (to any SSE endpoint, such as a function's followed
    /// log); a refusal is returned as its answer.
    pub async fn open_request(request: reqwest::RequestBuilder) -> Result<Sse, Answer> {
        let response = request
            .send()
            .await
            .expect("the node did not answer the subscribe");
        if !response.status().is_success() {
            return Err(Answer::read(response).await);
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "subscribe answered {content_type:?}"
        );
        let (sender, events) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read(response, sender));
        Ok(Sse { events, reader })
    }

    /// The next event, failing the test after `limit` or when the stream ends.
    pub async fn next_event_within(&mut self, limit: Duration) -> Event {
        match within("the next SSE event", limit, self.events.recv()).await {
            Some(Ok(event)) => event,
            Some(Err(why)) => panic!("the SSE stream ended: {why}"),
            None => panic!("the SSE stream ended"),
        }
    }

    /// The next event, with the default bound.
    pub async fn next_event(&mut self) -> Event {
        self.next_event_within(TIMEOUT).await
    }

    /// The message events up to `ready` (replayed ones), then `ready` itself.
    pub async fn until_ready(&mut self) -> Vec<Value> {
        let mut replayed = Vec::new();
        loop {
            let event = self.next_event().await;
            match event.event.as_str() {
                "ready" => return replayed,
                "message" | "signal" => replayed.push(checked(event)),
                other => panic!(
                    "unexpected `{other}` event before ready: {}",
                    short(&event.data)
                ),
            }
        }
    }

    /// The next `message` or `signal` event's data (checked: every field is
    /// there and `id` is its timetoken).
    pub async fn next_message(&mut self) -> Value {
        let event = self.next_event().await;
        match event.event.as_str() {
            "message" | "signal" => checked(event),
            other => panic!(
                "expected a message, got a `{other}` event: {}",
                short(&event.data)
            ),
        }
    }

    /// The next event, which must be the final `error` event: its data
    /// (`{"code", "message"}`); then asserts that the stream ends.
    pub async fn final_error_within(&mut self, limit: Duration) -> Value {
        let event = self.next_event_within(limit).await;
        assert_eq!(
            event.event,
            "error",
            "expected the final error event: {}",
            short(&event.data)
        );
        match within("the SSE stream to end", TIMEOUT, self.events.recv()).await {
            Some(Err(_)) | None => {}
            Some(Ok(after)) => panic!(
                "a `{}` event after the error: {}",
                after.event,
                short(&after.data)
            ),
        }
        event.data
    }

    /// The next `n` messages.
    pub async fn messages(&mut self, n: usize) -> Vec<Value> {
        let mut messages = Vec::with_capacity(n);
        for _ in 0..n {
            messages.push(self.next_message().await);
        }
        messages
    }
}

/// Checks a `message` or `signal` event: every field is there, `id` is the
/// timetoken, and the event name matches the kind (`message` for a publish).
fn checked(event: Event) -> Value {
    let channel = event.data["channel"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_delivered(&event.data, &channel);
    assert_eq!(
        event.id.as_deref(),
        event.data["timetoken"].as_str(),
        "SSE id is not the timetoken: {}",
        short(&event.data)
    );
    let kind = if event.event == "message" {
        "publish"
    } else {
        event.event.as_str()
    };
    assert!(
        event.data["kind"] == kind,
        "`{}` event with kind {}: {}",
        event.event,
        event.data["kind"],
        short(&event.data)
    );
    event.data
}

/// Parses the stream into events until it ends.
async fn read(response: reqwest::Response, events: mpsc::UnboundedSender<Result<Event, String>>) {
    let mut body = response.bytes_stream();
    let mut buffer = Vec::new();
    let mut event = Fields::default();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                let _ = events.send(Err(e.to_string()));
                return;
            }
        };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if let Some(done) = event.take()
                    && events.send(Ok(done)).is_err()
                {
                    return;
                }
            } else {
                event.field(line);
            }
        }
    }
    let _ = events.send(Err("the node closed the stream".into()));
}

#[derive(Default)]
struct Fields {
    event: Option<String>,
    id: Option<String>,
    data: Option<String>,
}

impl Fields {
    fn field(&mut self, line: &str) {
        if line.starts_with(':') {
            return;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
        match name {
            "event" => self.event = Some(value),
            "id" => self.id = Some(value),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(&value);
                }
                None => self.data = Some(value),
            },
            _ => {}
        }
    }

    fn take(&mut self) -> Option<Event> {
        let fields = std::mem::take(self);
        let data = fields.data?;
        Some(Event {
            event: fields.event.unwrap_or_else(|| "message".into()),
            id: fields.id,
            data: serde_json::from_str(&data).unwrap_or(Value::String(data)),
        })
    }
}

/// A subscriber that reads its stream up to `ready` and then stops reading,
/// with a small receive buffer so that the node's side backs up quickly.
pub struct Stalled {
    stream: TcpStream,
    seen: Vec<u8>,
}

impl Stalled {
    /// Subscribes to `channels` and reads until the `ready` event.
    pub async fn connect(node: &Node, channels: &str) -> Stalled {
        let socket = TcpSocket::new_v4().expect("a socket");
        socket
            .set_recv_buffer_size(4096)
            .expect("a small receive buffer");
        let address = node.authority().parse().expect("a socket address");
        let mut stream = socket.connect(address).await.expect("cannot connect");
        let request = format!(
            "GET /v1/subscribe/{channels} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
            node.authority()
        );
        stream
            .write_all(request.as_bytes())
            .await
            .expect("cannot send the request");
        let mut seen = Vec::new();
        within("the stalled subscriber's ready event", TIMEOUT, async {
            let mut chunk = [0u8; 1024];
            while !String::from_utf8_lossy(&seen).contains("event: ready") {
                let n = stream.read(&mut chunk).await.expect("cannot read");
                assert!(
                    n > 0,
                    "the node closed the stream: {}",
                    String::from_utf8_lossy(&seen)
                );
                seen.extend_from_slice(&chunk[..n]);
            }
        })
        .await;
        assert!(
            String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"),
            "subscribe refused: {}",
            String::from_utf8_lossy(&seen)
        );
        Stalled { stream, seen }
    }

    /// Resumes reading until the text received so far satisfies `done` or
    /// the node closes the stream; returns all of it.
    pub async fn read_until(mut self, done: impl Fn(&str) -> bool) -> String {
        let mut chunk = vec![0u8; 64 * 1024];
        within(
            "the stalled subscriber's stream to catch up or end",
            TIMEOUT,
            async {
                while !done(&String::from_utf8_lossy(&self.seen)) {
                    match self.stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => self.seen.extend_from_slice(&chunk[..n]),
                    }
                }
            },
        )
        .await;
        String::from_utf8_lossy(&self.seen).into_owned()
    }
}
