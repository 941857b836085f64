//! Sending on a live socket whose client may have stopped reading (a dead spot, a frozen
//! tab, a phone in a pocket that still acknowledges TCP but reads nothing).
//!
//! A send that had to wait for room in the connection is noted, so that a ticket socket
//! can skip to the newest state (`ticket_wake::catch_up`). A send that waits longer than the
//! instance's patience (`FILA_SEND_TIMEOUT_SECS`) fails, because the connection's writes
//! do (`write_deadline`): the connection is reset, which frees its place under
//! `FILA_MAX_SOCKETS` and what the kernel held for it at once, and the client reconnects to
//! a fresh snapshot when it reads again.

use super::peer::Peer;
use axum::extract::ws::{Message, WebSocket};
use std::future::Future;
use std::task::Poll;

/// A socket's connection.
#[derive(Clone, Copy, Debug)]
pub(super) struct Outbox {
    peer: Peer,
}

/// The connection is gone: it failed, or it was reset for a client that stopped reading.
#[derive(Debug)]
pub(super) struct Gone;

impl Outbox {
    pub(super) fn new(peer: Peer) -> Self {
        Self { peer }
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
    pub(super) async fn send(&self, socket: &mut WebSocket, msg: Message) -> Result<bool, Gone> {
        let send = socket.send(msg);
        tokio::pin!(send);
        let first = std::future::poll_fn(|cx| Poll::Ready(send.as_mut().poll(cx))).await;
        let waited = match first {
            Poll::Ready(sent) => return sent.map(|()| false).map_err(|_| Gone),
            Poll::Pending => send.await,
        };
        waited.map(|()| true).map_err(|_| Gone)
    }
}
