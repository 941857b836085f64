//! Sending on a live socket whose client may have stopped reading (a dead spot, a frozen
//! tab, a phone in a pocket that still acknowledges TCP but reads nothing).
//!
//! A send that had to wait for room in the connection is noted, so that a ticket socket
//! can skip to the newest state (`ticket_wake::catch_up`). A send that waits longer than the
//! instance's patience (`FILA_SEND_TIMEOUT_SECS`) gives up: the connection is reset, which
//! frees its place under `FILA_MAX_SOCKETS` and what the kernel held for it at once, and the
//! client reconnects to a fresh snapshot when it reads again. Without that, such a socket
//! waits in its send until TCP gives up, which it never does while the phone keeps
//! acknowledging the kernel's zero-window probes.

use super::peer::Peer;
use super::serve::Closed;
use axum::extract::ws::{Message, WebSocket};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

/// A socket's connection, and how long a send on it may wait for the client to read.
#[derive(Clone, Debug)]
pub(super) struct Outbox {
    peer: Peer,
    patience: Duration,
    /// Counts the sockets let go.
    closed: Arc<Closed>,
}

/// The connection is gone: it failed, or it was reset for a client that stopped reading.
#[derive(Debug)]
pub(super) struct Gone;

impl Outbox {
    pub(super) fn new(peer: Peer, patience: Duration, closed: Arc<Closed>) -> Self {
        Self {
            peer,
            patience,
            closed,
        }
    }

    /// Cap the connection's kernel send buffer (see [`Peer::limit_send_buffer`]); called
    /// from the socket's task, which holds the connection.
    pub(super) fn limit_send_buffer(&self, bytes: usize) {
        if let Err(e) = self.peer.limit_send_buffer(bytes) {
            tracing::debug!(error = %e, "could not cap a socket's send buffer");
        }
    }

    /// Send `msg`; `Ok(true)` if the send had to wait for room in the connection, that is,
    /// the client does not read as fast as it is sent to (or, rarely, the task's budget ran
    /// out: the cost of that is one `catch_up` that finds nothing).
    ///
    /// The deadline's timer is made only once a send waits, so a client that keeps up costs
    /// no timer at all: a call moves every watcher, and this runs once per watcher per call.
    pub(super) async fn send(&self, socket: &mut WebSocket, msg: Message) -> Result<bool, Gone> {
        let send = socket.send(msg);
        tokio::pin!(send);
        let first = std::future::poll_fn(|cx| Poll::Ready(send.as_mut().poll(cx))).await;
        if let Poll::Ready(sent) = first {
            return sent.map(|()| false).map_err(|_| Gone);
        }
        match tokio::time::timeout(self.patience, send).await {
            Ok(sent) => sent.map(|()| true).map_err(|_| Gone),
            Err(_) => {
                // The caller drops the socket on `Gone`, which closes the connection: reset
                // it rather than leave the kernel to deliver what it holds to a client that
                // does not read (an orphaned socket keeps its buffer while it probes).
                if let Err(e) = self.peer.reset_on_close() {
                    tracing::debug!(error = %e, "could not reset a stalled socket");
                }
                self.closed.stalled_sockets.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(peer = %self.peer.addr, "closed a socket whose client stopped reading");
                Err(Gone)
            }
        }
    }
}
