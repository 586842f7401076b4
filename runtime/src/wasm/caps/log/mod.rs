//! Function logs: what a guest writes to stdout and stderr, what it logs
//! through the `log` interface, and what the host says about its
//! invocations, kept per function in a bounded ring with a live feed.
//!
//! During an invocation output goes to a [`LogCapture`] that keeps at most
//! `max_log_bytes` and counts the rest (lines of the `log` interface draw on
//! the same budget), so a guest that writes megabytes cannot make the node
//! buffer or log without bound. When the invocation ends its
//! lines go to the function's [`FunctionLogs`] and to the node's tracing
//! output (target `edgefn::guest`).
//!
//! # Layout
//! - [`capture`]: stdout/stderr capture within a budget;
//! - [`host`]: the `edgefn:functions/log` interface.

pub mod capture;
pub mod host;

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::clock::unix_ms;

pub use self::capture::LogCapture;
pub use self::host::LogCtx;

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    /// The guest's stdout.
    Stdout,
    /// The guest's stderr.
    Stderr,
    /// The guest, through the `log` interface.
    Log,
    /// The host, about the invocation (errors, refusals, truncation).
    Host,
}

/// How important a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// One line of a function's log.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    /// Its position in the function's log (counts up from 1).
    pub seq: u64,
    /// When it was recorded, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The invocation it belongs to (counts up per node).
    pub invocation: u64,
    /// Where it came from.
    pub source: LogSource,
    /// How important it is.
    pub level: Level,
    /// The text, without its line break.
    pub text: String,
    /// Structured fields (name, value), from the `log` interface.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<(String, String)>,
}

/// The recent log lines of one function, and a feed of new ones.
pub struct FunctionLogs {
    function: Arc<str>,
    /// The recent lines, and the sequence number of the last line recorded.
    lines: Mutex<(VecDeque<LogLine>, u64)>,
    capacity: usize,
    feed: broadcast::Sender<LogLine>,
}

impl FunctionLogs {
    /// An empty log for `function` keeping `capacity` lines.
    pub fn new(function: Arc<str>, capacity: usize) -> Self {
        Self {
            function,
            lines: Mutex::new((VecDeque::with_capacity(capacity.min(1024)), 0)),
            capacity: capacity.max(1),
            feed: broadcast::channel(256).0,
        }
    }

    /// Records a line from `source` (stdout: info, stderr and host: warn).
    pub fn push(&self, invocation: u64, source: LogSource, text: String) {
        let level = match source {
            LogSource::Stdout | LogSource::Log => Level::Info,
            LogSource::Stderr | LogSource::Host => Level::Warn,
        };
        self.record(LogLine {
            seq: 0,
            time_ms: unix_ms(),
            invocation,
            source,
            level,
            text,
            fields: Vec::new(),
        });
    }

    /// Records a line (numbering it), sends it to the node's tracing output
    /// and to followers.
    pub fn record(&self, mut line: LogLine) {
        let (function, invocation, text) = (&*self.function, line.invocation, &line.text);
        let fields = &line.fields;
        match line.level {
            Level::Trace => {
                tracing::trace!(target: "edgefn::guest", function, invocation, ?fields, "{text}")
            }
            Level::Debug => {
                tracing::debug!(target: "edgefn::guest", function, invocation, ?fields, "{text}")
            }
            Level::Info => {
                tracing::info!(target: "edgefn::guest", function, invocation, ?fields, "{text}")
            }
            Level::Warn => {
                tracing::warn!(target: "edgefn::guest", function, invocation, ?fields, "{text}")
            }
            Level::Error => {
                tracing::error!(target: "edgefn::guest", function, invocation, ?fields, "{text}")
            }
        }
        let mut guard = self.lines.lock();
        let (lines, last) = &mut *guard;
        *last += 1;
        line.seq = *last;
        let _ = self.feed.send(line.clone());
        if lines.len() == self.capacity {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The last `limit` lines, oldest first.
    pub fn tail(&self, limit: usize) -> Vec<LogLine> {
        self.follow(limit).0
    }

    /// The last `limit` lines and a feed of the lines recorded after them:
    /// nothing lost, nothing twice.
    pub fn follow(&self, limit: usize) -> (Vec<LogLine>, broadcast::Receiver<LogLine>) {
        let guard = self.lines.lock();
        let lines = &guard.0;
        let tail = lines
            .iter()
            .skip(lines.len().saturating_sub(limit))
            .cloned()
            .collect();
        (tail, self.feed.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
