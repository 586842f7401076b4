//! Lingering close: a connection closed while its client is still sending
//! (a body refused with 413 before it was read, say) first shuts down its
//! write side and then reads and discards what still arrives, for at most
//! [`LINGER_TIME`] and [`LINGER_BYTES`].
//!
//! Closing a socket with unread data in it makes the kernel answer with a
//! reset, and a client still writing its body then fails with a broken pipe
//! before it reads the answer that explains why. Draining first lets it
//! finish writing and read the answer, as nginx's `lingering_close` does.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Longest a closing connection is drained.
pub const LINGER_TIME: Duration = Duration::from_secs(5);

/// Most bytes a closing connection drains before it is closed anyway.
pub const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// A stream whose shutdown drains what the peer still sends.
pub struct LingeringClose<S> {
    inner: S,
    /// Set once the write side is shut down.
    draining: Option<Drain>,
}

struct Drain {
    deadline: Pin<Box<Sleep>>,
    left: usize,
}

impl<S> LingeringClose<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            draining: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for LingeringClose<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for LingeringClose<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    /// Shuts down the write side, then reads until the peer closes, the
    /// time or byte limit is reached, or reading fails.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.draining.is_none() {
            ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            this.draining = Some(Drain {
                deadline: Box::pin(tokio::time::sleep(LINGER_TIME)),
                left: LINGER_BYTES,
            });
        }
        let drain = this.draining.as_mut().expect("draining was just set");
        let mut scratch = [0u8; 8192];
        loop {
            if drain.left == 0 || drain.deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match ready!(Pin::new(&mut this.inner).poll_read(cx, &mut buf)) {
                Ok(()) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Ok(()) => drain.left = drain.left.saturating_sub(buf.filled().len()),
                // The peer is gone: nothing left to drain.
                Err(_) => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    const ANSWER: &[u8] = b"HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\n\r\n";

    /// A server that answers at once without reading the request, then
    /// closes through `LingeringClose`; a client sending a large body
    /// still gets to read the answer.
    #[tokio::test]
    async fn a_client_still_sending_reads_the_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut stream = LingeringClose::new(stream);
            stream.write_all(ANSWER).await.unwrap();
            stream.shutdown().await.unwrap();
        });
        let mut client = TcpStream::connect(address).await.unwrap();
        let body = vec![b'x'; 8 * 1024 * 1024];
        client
            .write_all(b"POST / HTTP/1.1\r\ncontent-length: 8388608\r\n\r\n")
            .await
            .unwrap();
        client.write_all(&body).await.expect("the body is written");
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, ANSWER);
        client.shutdown().await.unwrap();
        server.await.unwrap();
    }

    /// A peer that neither sends nor closes is let go after the time limit.
    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_is_let_go_after_the_time_limit() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let _client = TcpStream::connect(address).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let mut stream = LingeringClose::new(stream);
        let started = tokio::time::Instant::now();
        stream.shutdown().await.unwrap();
        assert_eq!(started.elapsed(), LINGER_TIME);
    }
}
