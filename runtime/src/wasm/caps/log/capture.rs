//! Capturing a guest's stdout and stderr during one invocation, within a
//! byte budget that lines of the `log` interface draw on too.

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use super::{FunctionLogs, LogSource};

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
    /// Bytes of `log` interface lines kept.
    logged: usize,
    dropped: usize,
}

impl Captured {
    fn room(&self) -> usize {
        self.budget
            .saturating_sub(self.stdout.len() + self.stderr.len() + self.logged)
    }
}

impl LogCapture {
    /// A capture for stdout keeping at most `budget` bytes over both streams.
    pub fn new(budget: usize) -> Self {
        let captured = Captured {
            budget,
            stdout: Vec::new(),
            stderr: Vec::new(),
            logged: 0,
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
        let mut captured = self.inner.lock();
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

    /// Takes `bytes` from the budget for a `log` interface line; false (and
    /// counted as dropped) when they do not fit.
    pub fn charge(&self, bytes: usize) -> bool {
        let mut captured = self.inner.lock();
        if bytes > captured.room() {
            captured.dropped += bytes;
            return false;
        }
        captured.logged += bytes;
        true
    }

    fn write(&self, bytes: &[u8]) {
        let mut captured = self.inner.lock();
        let kept = bytes.len().min(captured.room());
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
    fn log_lines_share_the_budget() {
        let capture = LogCapture::new(16);
        assert!(capture.charge(10));
        assert!(!capture.charge(7));
        capture.write(b"abcdefgh\n");
        let logs = FunctionLogs::new("f".into(), 10);
        capture.drain_into(&logs, 1);
        let texts: Vec<_> = logs.tail(10).into_iter().map(|l| l.text).collect();
        assert_eq!(texts[0], "abcdef");
        assert!(texts[1].contains("10 bytes beyond"), "{}", texts[1]);
    }
}
