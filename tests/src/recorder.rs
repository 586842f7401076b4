//! A local HTTP server that records every request it receives and answers
//! each with 200 `{"ok": true}`, or with what a test's responder says: the
//! "third-party API" of the forward and relay tests, the target that a
//! denied outbound call must never reach, and the receiver of the ticker's
//! reports.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Mutex as AsyncMutex, mpsc};
use tokio::task::JoinHandle;

use crate::wait::{TIMEOUT, within};

/// One request, as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Its method.
    pub method: String,
    /// Its path and query.
    pub path: String,
    /// Its headers (names lower-case).
    pub headers: Vec<(String, String)>,
    /// Its body.
    pub body: Bytes,
    /// When it arrived.
    pub received: Instant,
}

impl Recorded {
    /// The body as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The first header called `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The running server; stops when dropped.
pub struct Recorder {
    port: u16,
    all: Arc<Mutex<Vec<Recorded>>>,
    arrivals: AsyncMutex<mpsc::UnboundedReceiver<Recorded>>,
    server: JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Recorder {
    /// Starts a server on `127.0.0.1:0` answering 200 `{"ok": true}`.
    pub async fn start() -> Recorder {
        Self::start_with(|_| (200, json!({"ok": true}))).await
    }

    /// Starts a server on `127.0.0.1:0` answering each request with the
    /// status and JSON body `respond` gives for it.
    pub async fn start_with(
        respond: impl Fn(&Recorded) -> (u16, Value) + Send + Sync + 'static,
    ) -> Recorder {
        let respond: Respond = Arc::new(respond);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("cannot bind the recorder");
        let port = listener.local_addr().expect("an address").port();
        let all = Arc::new(Mutex::new(Vec::new()));
        let (sender, arrivals) = mpsc::unbounded_channel();
        let server = tokio::spawn(serve(listener, Arc::clone(&all), sender, respond));
        Recorder {
            port,
            all,
            arrivals: AsyncMutex::new(arrivals),
            server,
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next request not yet returned by `next`, waiting for it.
    pub async fn next(&self) -> Recorded {
        let mut arrivals = self.arrivals.lock().await;
        within("a request to the recorder", TIMEOUT, arrivals.recv())
            .await
            .expect("the recorder stopped")
    }

    /// Every request received so far.
    pub fn all(&self) -> Vec<Recorded> {
        self.all.lock().expect("recorder lock").clone()
    }
}

/// What a [`Recorder`] answers to a request.
type Respond = Arc<dyn Fn(&Recorded) -> (u16, Value) + Send + Sync>;

async fn serve(
    listener: TcpListener,
    all: Arc<Mutex<Vec<Recorded>>>,
    arrivals: mpsc::UnboundedSender<Recorded>,
    respond: Respond,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (all, arrivals, respond) = (Arc::clone(&all), arrivals.clone(), Arc::clone(&respond));
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let (all, arrivals, respond) =
                    (Arc::clone(&all), arrivals.clone(), Arc::clone(&respond));
                async move {
                    let recorded = record(request).await;
                    let (status, body) = respond(&recorded);
                    all.lock().expect("recorder lock").push(recorded.clone());
                    let _ = arrivals.send(recorded);
                    let response = Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(body.to_string())))
                        .expect("a response");
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn record(request: Request<Incoming>) -> Recorded {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Recorded {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or("/".into(), |p| p.to_string()),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        received: Instant::now(),
    }
}
