//! A deadline on writes that make no progress, on every connection: a client that stops
//! reading (a frozen tab, a phone in a pocket that still acknowledges TCP but reads nothing,
//! a slowloris reading a byte a minute) is let go once a write has found no room in the
//! connection for `FILA_SEND_TIMEOUT_SECS`.
//!
//! It sits under hyper, so it bounds a page or a file being sent (the wasm bundles are
//! hundreds of kilobytes) as well as every WebSocket: an upgraded connection keeps this
//! I/O. Without it, such a client holds its file descriptor, its task and what the kernel
//! buffered for it until TCP gives up, which it never does while the client acknowledges
//! the kernel's zero-window probes; and a graceful shutdown waits for it.
//!
//! Progress is what counts, not the time a response takes: a phone on a slow network that
//! takes minutes over the bundle is served, since its writes keep finding room. (Linux wakes
//! a waiting write once a third of the connection's send buffer is free; the buffer grows
//! with what the connection carries, so a client reading on frees that much well within
//! the patience.)

use super::peer::Peer;
use super::serve::Closed;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Sleep;

/// An accepted connection whose writes give up after `patience` without progress.
pub(super) struct WriteDeadline {
    stream: TcpStream,
    peer: Peer,
    patience: Duration,
    /// Armed by a write that found no room, dropped by the next that made progress: made
    /// only then, so a client that keeps up costs no timer.
    stalled: Option<Pin<Box<Sleep>>>,
    /// The client was let go: every later write fails at once.
    gave_up: bool,
    /// Counts the connections let go.
    closed: Arc<Closed>,
    /// The connection's place among those the instance takes at once (`serve`): given
    /// back when this I/O is dropped, also after a WebSocket upgrade carried it off.
    _slot: Option<OwnedSemaphorePermit>,
}

impl WriteDeadline {
    pub(super) fn new(
        stream: TcpStream,
        peer: Peer,
        patience: Duration,
        closed: Arc<Closed>,
    ) -> Self {
        Self {
            stream,
            peer,
            patience,
            stalled: None,
            gave_up: false,
            closed,
            _slot: None,
        }
    }

    /// This connection holds `slot` for as long as it is open.
    pub(super) fn holding(self, slot: OwnedSemaphorePermit) -> Self {
        Self {
            _slot: Some(slot),
            ..self
        }
    }

    /// Runs one write of the connection under the deadline.
    fn poll_with_deadline<T>(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if self.gave_up {
            return Poll::Ready(Err(stopped_reading()));
        }
        if let Poll::Ready(written) = write(Pin::new(&mut self.stream), cx) {
            self.stalled = None;
            return Poll::Ready(written);
        }
        // The kernel holds all it will for this client. The timer keeps running across
        // polls (and across a writer that gave up on a send and came back), because nothing
        // left since it was armed: had any room opened, a write would have taken it.
        let patience = self.patience;
        let deadline = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(patience)));
        if deadline.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.stalled = None;
        self.gave_up = true;
        // The caller drops the connection on this error: make the close a reset, so that
        // the kernel drops what it holds rather than keep probing a client that does not read.
        if let Err(e) = self.peer.reset_on_close() {
            tracing::debug!(error = %e, "could not reset a stalled connection");
        }
        self.closed
            .stalled_connections
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(peer = %self.peer.addr, "let go of a client that stopped reading");
        Poll::Ready(Err(stopped_reading()))
    }
}

fn stopped_reading() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")
}

impl AsyncRead for WriteDeadline {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_with_deadline(cx, |s, cx| s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_with_deadline(cx, |s, cx| s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A TCP stream's flush has nothing to wait for.
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpSocket};

    /// A connection whose client has a small receive window, and the server's end of it,
    /// under the deadline and with a small send buffer: what the client does not read
    /// backs up within a few KiB.
    async fn connection(patience: Duration) -> (WriteDeadline, TcpStream, Arc<Closed>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let client = socket
            .connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, addr) = listener.accept().await.unwrap();
        let peer = Peer::new(addr, &stream);
        peer.limit_send_buffer(4096).unwrap();
        let closed = Arc::new(Closed::default());
        let server = WriteDeadline::new(stream, peer, patience, closed.clone());
        (server, client, closed)
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_is_let_go_and_reset() {
        let patience = Duration::from_millis(300);
        let (mut server, mut client, closed) = connection(patience).await;
        let started = tokio::time::Instant::now();
        let chunk = [7u8; 1024];
        let mut written = 0;
        let err = loop {
            match tokio::time::timeout(Duration::from_secs(10), server.write(&chunk))
                .await
                .expect("the write gives up in time")
            {
                Ok(n) => written += n,
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(started.elapsed() >= patience);
        assert!(
            written > 0,
            "the client's window and the buffer took something"
        );
        assert_eq!(closed.stalled_connections.load(Ordering::Relaxed), 1);
        // Given up for good, and counted once.
        assert!(server.write(&chunk).await.is_err());
        assert_eq!(closed.stalled_connections.load(Ordering::Relaxed), 1);
        // Dropped, the connection is reset: the client does not get the rest, then an end.
        drop(server);
        let mut buf = vec![0u8; 64 * 1024];
        let end = loop {
            match client.read(&mut buf).await {
                Ok(0) => break Ok(()),
                Ok(_) => continue,
                Err(e) => break Err(e.kind()),
            }
        };
        assert_eq!(end, Err(io::ErrorKind::ConnectionReset));
    }

    #[tokio::test]
    async fn a_client_that_reads_slowly_but_on_is_served_to_the_end() {
        let patience = Duration::from_millis(500);
        let (mut server, mut client, closed) = connection(patience).await;
        const SIZE: usize = 64 * 1024;
        // 4 KiB every 100 ms: 1.6 s in all, three times the patience, and the server's
        // writes wait between reads.
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let mut got = 0;
            while got < SIZE {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let n = client.read(&mut buf).await.unwrap();
                assert!(n > 0, "closed after {got} bytes");
                got += n;
            }
            got
        });
        server
            .write_all(&[7u8; SIZE])
            .await
            .expect("all of it is written");
        assert_eq!(reader.await.unwrap(), SIZE);
        assert_eq!(closed.stalled_connections.load(Ordering::Relaxed), 0);
    }
}
