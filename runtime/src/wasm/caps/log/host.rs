//! `edgefn:functions/log`: structured log lines from the guest, recorded as
//! they come, within the invocation's output budget (shared with stdout and
//! stderr; lines past it are dropped and counted).

use std::sync::Arc;

use super::{FunctionLogs, Level, LogCapture, LogLine, LogSource};
use crate::clock::unix_ms;
use crate::wasm::bindings::log::{Host, Level as WitLevel};

/// Most fields kept per line.
const MAX_FIELDS: usize = 32;
/// Longest message or field value kept, in bytes (the rest is cut).
const MAX_TEXT: usize = 4096;

/// The log capability of one invocation.
pub struct LogCtx {
    pub(crate) logs: Arc<FunctionLogs>,
    pub(crate) invocation: u64,
    /// The invocation's output budget.
    pub(crate) budget: LogCapture,
}

impl Host for LogCtx {
    fn log(&mut self, level: WitLevel, message: String, fields: Vec<(String, String)>) {
        let level = match level {
            WitLevel::Trace => Level::Trace,
            WitLevel::Debug => Level::Debug,
            WitLevel::Info => Level::Info,
            WitLevel::Warn => Level::Warn,
            WitLevel::Error => Level::Error,
        };
        let fields: Vec<_> = fields
            .into_iter()
            .take(MAX_FIELDS)
            .map(|(k, v)| (cut(k), cut(v)))
            .collect();
        let message = cut(message);
        let size = message.len() + fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        if !self.budget.charge(size) {
            return;
        }
        self.logs.record(LogLine {
            seq: 0,
            time_ms: unix_ms(),
            invocation: self.invocation,
            source: LogSource::Log,
            level,
            text: message,
            fields,
        });
    }
}

fn cut(mut text: String) -> String {
    if text.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}
