//! Function logs: what a guest writes to stdout and stderr, and what the host
//! says about its invocations, kept per function in a bounded ring.
//!
//! During an invocation output goes to a [`LogCapture`] that keeps at most
//! `max_log_bytes` and counts the rest, so a guest that writes megabytes
//! cannot make the node buffer without bound. When the invocation ends its
//! lines go to the function's [`FunctionLogs`] and to the node's tracing
//! output (target `edgefn::guest`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    /// The guest's stdout.
    Stdout,
    /// The guest's stderr.
    Stderr,
    /// The host, about the invocation (errors, refusals, truncation).
    Host,
}

/// One line of a function's log.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    /// When it was recorded, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The invocation it belongs to (counts up per node).
    pub invocation: u64,
    /// Where it came from.
    pub source: LogSource,
    /// The text, without its line break.
    pub text: String,
}

/// The recent log lines of one function, and a feed of new ones.
pub struct FunctionLogs {
    function: Arc<str>,
    lines: Mutex<VecDeque<LogLine>>,
    capacity: usize,
    feed: broadcast::Sender<LogLine>,
}

impl FunctionLogs {
    /// An empty log for `function` keeping `capacity` lines.
    pub fn new(function: Arc<str>, capacity: usize) -> Self {
        Self {
            function,
            lines: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            capacity: capacity.max(1),
            feed: broadcast::channel(256).0,
        }
    }

    /// Records a line and sends it to the node's tracing output.
    pub fn push(&self, invocation: u64, source: LogSource, text: String) {
        let function = &*self.function;
        match source {
            LogSource::Host => {
                tracing::warn!(target: "edgefn::guest", function, invocation, "{text}")
            }
            _ => tracing::info!(target: "edgefn::guest", function, invocation, ?source, "{text}"),
        }
        let line = LogLine {
            time_ms: now_ms(),
            invocation,
            source,
            text,
        };
        let _ = self.feed.send(line.clone());
        let mut lines = self.lines.lock().expect("log lock poisoned");
        if lines.len() == self.capacity {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The last `limit` lines, oldest first.
    pub fn tail(&self, limit: usize) -> Vec<LogLine> {
        let lines = self.lines.lock().expect("log lock poisoned");
        lines
            .iter()
            .skip(lines.len().saturating_sub(limit))
            .cloned()
            .collect()
    }

    /// New lines as they are recorded.
    pub fn follow(&self) -> broadcast::Receiver<LogLine> {
        self.feed.subscribe()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Output captured during one invocation: stdout and stderr share one
/// budget of bytes; writes past it are accepted and dropped (counted), so the
/// guest never sees an error for logging too much.
#[derive(Clone)]
pub struct LogCapture {
    inner: Arc<Mutex<Captured>>,
    source: LogSource,
}

struct Captured {
    budget: usize,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    dropped: usize,
}

impl LogCapture {
    /// A capture for stdout keeping at most `budget` bytes over both streams.
    pub fn new(budget: usize) -> Self {
        let captured = Captured {
            budget,
            stdout: Vec::new(),
            stderr: Vec::new(),
            dropped: 0,
        };
        Self {
            inner: Arc::new(Mutex::new(captured)),
            source: LogSource::Stdout,
        }
    }

    /// The same capture, for stderr.
    pub fn stderr(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            source: LogSource::Stderr,
        }
    }

    /// Moves what was captured into `logs` as lines of `invocation`.
    pub fn drain_into(&self, logs: &FunctionLogs, invocation: u64) {
        let mut captured = self.inner.lock().expect("capture lock poisoned");
        for (source, bytes) in [
            (LogSource::Stdout, std::mem::take(&mut captured.stdout)),
            (LogSource::Stderr, std::mem::take(&mut captured.stderr)),
        ] {
            for line in String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.is_empty())
            {
                logs.push(invocation, source, line.to_owned());
            }
        }
        if captured.dropped > 0 {
            let text = format!(
                "output truncated: {} bytes beyond the {}-byte limit per invocation were dropped",
                captured.dropped, captured.budget
            );
            logs.push(invocation, LogSource::Host, text);
            captured.dropped = 0;
        }
    }

    fn write(&self, bytes: &[u8]) {
        let mut captured = self.inner.lock().expect("capture lock poisoned");
        let used = captured.stdout.len() + captured.stderr.len();
        let kept = bytes.len().min(captured.budget.saturating_sub(used));
        captured.dropped += bytes.len() - kept;
        let buffer = match self.source {
            LogSource::Stderr => &mut captured.stderr,
            _ => &mut captured.stdout,
        };
        buffer.extend_from_slice(&bytes[..kept]);
    }
}

impl IsTerminal for LogCapture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogCapture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for LogCapture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        LogCapture::write(self, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogCapture {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogCapture {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        LogCapture::write(&self, buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_is_capped_and_split_into_lines() {
        let logs = FunctionLogs::new("f".into(), 10);
        let capture = LogCapture::new(16);
        capture.write(b"hello\nwor");
        capture.stderr().write(b"oops\n");
        capture.write(b"ld and a lot more\n");
        capture.drain_into(&logs, 7);
        let lines: Vec<_> = logs
            .tail(10)
            .into_iter()
            .map(|l| (l.source, l.text))
            .collect();
        assert_eq!(lines[0], (LogSource::Stdout, "hello".to_owned()));
        assert_eq!(lines[1], (LogSource::Stdout, "world".to_owned()));
        assert_eq!(lines[2], (LogSource::Stderr, "oops".to_owned()));
        assert_eq!(lines[3].0, LogSource::Host);
        assert!(lines[3].1.contains("16 bytes"), "{}", lines[3].1);
    }

    #[test]
    fn ring_keeps_the_newest() {
        let logs = FunctionLogs::new("f".into(), 2);
        for i in 0..5 {
            logs.push(i, LogSource::Host, format!("line {i}"));
        }
        let texts: Vec<_> = logs.tail(10).into_iter().map(|l| l.text).collect();
        assert_eq!(texts, ["line 3", "line 4"]);
    }
}
