//! A WebSocket client for `GET /v1/ws`, which carries JSON text frames.
//!
//! [`Ws::call`] sends a request frame with an `id` and returns the answer
//! with that id; message frames that arrive meanwhile are kept, in order,
//! for [`Ws::next_message`].

use std::collections::VecDeque;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::auth::Auth;
use crate::check::{assert_delivered, short};
use crate::node::Node;
use crate::wait::{TIMEOUT, within};

/// An open WebSocket connection.
pub struct Ws {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pending: VecDeque<Value>,
    next_id: u64,
}

/// How a connection ended.
#[derive(Debug)]
pub enum Ended {
    /// A close frame (code and reason), or none.
    Closed(Option<CloseFrame>),
    /// The connection dropped.
    Dropped(String),
}

impl Ws {
    /// Connects to the node's `/v1/ws`.
    pub async fn connect(node: &Node) -> Ws {
        Self::connect_as(node, &Auth::none()).await
    }

    /// Connects to the node's `/v1/ws` presenting `auth` (checked by the
    /// node on each subscribe and publish frame).
    pub async fn connect_as(node: &Node, auth: &Auth) -> Ws {
        let query: Vec<String> = auth
            .query()
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_component(v)))
            .collect();
        let url = format!("ws://{}/v1/ws?{}", node.authority(), query.join("&"));
        let mut request = url.into_client_request().expect("a WebSocket request");
        if let Some(header) = auth.header() {
            request
                .headers_mut()
                .insert("authorization", header.parse().expect("a header value"));
        }
        let (socket, response) = connect_async(request)
            .await
            .expect("cannot open the WebSocket");
        assert_eq!(
            response.status().as_u16(),
            101,
            "the WebSocket upgrade was refused"
        );
        Ws {
            socket,
            pending: VecDeque::new(),
            next_id: 1,
        }
    }

    /// Sends one JSON frame.
    pub async fn send(&mut self, frame: &Value) {
        self.send_text(frame.to_string()).await;
    }

    /// Sends one raw text frame.
    pub async fn send_text(&mut self, text: String) {
        self.socket
            .send(Frame::text(text))
            .await
            .expect("cannot send a frame");
    }

    /// The next JSON frame from the node (pings and pongs skipped).
    pub async fn next_frame(&mut self) -> Result<Value, Ended> {
        within("the next WebSocket frame", TIMEOUT, async {
            loop {
                match self.socket.next().await {
                    Some(Ok(Frame::Text(text))) => {
                        return Ok(serde_json::from_str(&text)
                            .unwrap_or_else(|e| panic!("frame is not JSON ({e}): {text}")));
                    }
                    Some(Ok(Frame::Close(close))) => return Err(Ended::Closed(close)),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(Ended::Dropped(e.to_string())),
                    None => return Err(Ended::Dropped("end of stream".into())),
                }
            }
        })
        .await
    }

    /// Waits until the node closes the connection (message frames that
    /// arrive meanwhile are skipped); returns the close code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            match self.next_frame().await {
                Ok(frame) if frame["type"] == "message" => continue,
                Ok(frame) => panic!("expected the connection to close: {}", short(&frame)),
                Err(Ended::Closed(Some(close))) => {
                    return (close.code.into(), close.reason.to_string());
                }
                Err(ended) => panic!("the connection ended without a close code: {ended:?}"),
            }
        }
    }

    /// Sends `frame` with a fresh `id` and returns the answer carrying that
    /// id (`subscribed`, `unsubscribed`, `published` or `error`).
    pub async fn call(&mut self, mut frame: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        frame["id"] = id.into();
        self.send(&frame).await;
        loop {
            let answer = self.next_frame().await.unwrap_or_else(|e| {
                panic!("connection ended awaiting the answer to {frame}: {e:?}")
            });
            if answer["type"] == "message" {
                self.pending.push_back(answer);
            } else if answer["id"] == id {
                return answer;
            } else {
                panic!(
                    "unexpected frame while awaiting the answer to {}: {}",
                    short(&frame),
                    short(&answer)
                );
            }
        }
    }

    /// [`Ws::call`], asserting that the answer has type `kind`.
    pub async fn call_ok(&mut self, frame: Value, kind: &str) -> Value {
        let answer = self.call(frame.clone()).await;
        assert_eq!(answer["type"], kind, "answer to {frame}: {answer}");
        answer
    }

    /// The next delivered message (checked), without its `type`.
    pub async fn next_message(&mut self) -> Value {
        let mut frame = match self.pending.pop_front() {
            Some(frame) => frame,
            None => self
                .next_frame()
                .await
                .unwrap_or_else(|e| panic!("connection ended awaiting a message: {e:?}")),
        };
        assert!(
            frame["type"] == "message",
            "expected a message frame: {}",
            short(&frame)
        );
        frame.as_object_mut().expect("an object").remove("type");
        let channel = frame["channel"].as_str().unwrap_or_default().to_owned();
        assert_delivered(&frame, &channel);
        frame
    }
}

/// `text` percent-encoded for a query string (tokens are URL-safe already;
/// client ids may not be).
fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
