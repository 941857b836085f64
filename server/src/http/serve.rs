//! Accepting connections and serving HTTP/1 on them, with WebSocket upgrades: what
//! `axum::serve` does, plus a deadline it cannot set.
//!
//! A connection that sends no request, half a request's headers, or nothing more after a
//! response (a phone that left the venue's Wi-Fi without closing, a slowloris) is closed
//! once it has waited `FILA_HEADER_TIMEOUT_SECS` for headers. `axum::serve` gives hyper no
//! timer, so hyper's own header deadline never runs, and such connections stayed open for
//! good, each holding a file descriptor of the few thousand an instance can open.
//!
//! A client that stops reading what it is sent is let go after `FILA_SEND_TIMEOUT_SECS`
//! without progress (`write_deadline`), whether it asked for a page, a file or a WebSocket.
//!
//! Upgraded connections (WebSockets) leave hyper, and the header deadline, at the upgrade:
//! they have their own pings (`ws`); the write deadline stays with them.
//!
//! At most `max_connections` are open at once (`open_files::Caps`). When all are taken, the
//! connections that have been answered and are kept alive are closed, as nginx does:
//! browsers keep several open after loading a page and may never use them again (one that
//! is idle closes at once, one in a request after its answer; one that has sent nothing yet
//! is left to the header deadline). Until a slot is free, accepting waits, and new
//! connections wait in the kernel's listen queue.

use super::peer::Peer;
use super::write_deadline::WriteDeadline;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// Connections this instance closed on its own, for `/metrics`.
#[derive(Debug, Default)]
pub struct Closed {
    /// Connections let go because their client stopped reading (`write_deadline`).
    pub stalled_connections: AtomicU64,
    /// Connections that sent no request's headers in time.
    pub header_timeouts: AtomicU64,
}

/// How long a connection may keep the server waiting.
#[derive(Clone, Copy, Debug)]
pub struct Deadlines {
    /// For a request's headers (`FILA_HEADER_TIMEOUT_SECS`).
    pub headers: Duration,
    /// For room to write in, when the client has stopped reading (`FILA_SEND_TIMEOUT_SECS`).
    pub writes: Duration,
}

/// Serve `router` on `listener` until `shutdown` resolves, then stop accepting, let every
/// connection finish the request it is in (an idle one closes at once), and return once all
/// are closed. At most `max_connections` are open at once.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    deadlines: Deadlines,
    max_connections: usize,
    closed: Arc<Closed>,
    shutdown: impl Future<Output = ()>,
) {
    // `finish` tells the connections to finish their request and close; each connection's
    // task holds a clone of `open` until it ends, so `all_closed` learns when none is left.
    let (finish, finishing) = watch::channel(false);
    let (all_closed, open) = watch::channel(());
    // A connection's I/O holds one of these until it is dropped.
    let slots = Arc::new(Semaphore::new(max_connections.min(Semaphore::MAX_PERMITS)));
    // Tells the connections that every slot is taken.
    let (shed, shedding) = watch::channel(());
    let mut warned_full: Option<Instant> = None;
    tokio::pin!(shutdown);
    'accepting: loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if warned_full.is_none_or(|at| at.elapsed() >= FULL_WARNING_EVERY) {
                    warned_full = Some(Instant::now());
                    tracing::warn!(
                        max_connections,
                        "every connection this instance takes is open: kept-alive ones are \
                         closed, new ones wait to be accepted (raise the open-files limit to \
                         take more)"
                    );
                }
                // Again while it lasts: connections answered since are kept alive too.
                loop {
                    shed.send_replace(());
                    tokio::select! {
                        slot = slots.clone().acquire_owned() => {
                            break slot.expect("the semaphore is never closed");
                        }
                        () = tokio::time::sleep(SHED_AGAIN_AFTER) => {}
                        () = &mut shutdown => break 'accepting,
                    }
                }
            }
        };
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break 'accepting,
        };
        let peer = Peer::new(addr, &stream);
        // Whether a full house may close this connection: not before its first request
        // (hyper's graceful shutdown would close one whose request is still on its way),
        // and not in an upgrade (it would answer without the `Upgrade`).
        let sheddable = Arc::new(AtomicBool::new(false));
        let service = router.clone().map_request({
            let sheddable = sheddable.clone();
            move |mut req: axum::http::Request<Incoming>| {
                let upgrade = req.headers().contains_key(axum::http::header::UPGRADE);
                sheddable.store(!upgrade, Ordering::Relaxed);
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            }
        });
        let mut finishing = finishing.clone();
        // Only a full house from now on concerns this connection.
        let mut shedding = shedding.clone();
        shedding.mark_unchanged();
        let open = open.clone();
        let closed = closed.clone();
        let io = WriteDeadline::new(stream, peer, deadlines.writes, closed.clone()).holding(slot);
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(deadlines.headers)
                .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                ended = conn.as_mut() => {
                    if let Err(e) = ended {
                        if e.is_timeout() {
                            closed.header_timeouts.fetch_add(1, Ordering::Relaxed);
                        }
                        tracing::trace!(error = %e, "connection ended");
                    }
                }
                // Close once idle: at once if it is, after its answer if it is in one.
                () = told_to_close(&mut finishing, &mut shedding, &sheddable) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(open);
        });
    }
    drop(listener);
    finish.send_replace(true);
    drop(open);
    all_closed.closed().await;
}

/// Resolves when a connection is to close once idle: the instance is stopping, or every
/// slot is taken and this connection may make room (`sheddable`).
async fn told_to_close(
    finishing: &mut watch::Receiver<bool>,
    shedding: &mut watch::Receiver<()>,
    sheddable: &AtomicBool,
) {
    let full = async {
        while shedding.changed().await.is_ok() {
            if sheddable.load(Ordering::Relaxed) {
                return;
            }
        }
        // The accept loop has ended: `finishing` says the rest.
        std::future::pending().await
    };
    tokio::select! {
        _ = finishing.wait_for(|f| *f) => {}
        () = full => {}
    }
}

/// How often a full house closes the connections kept alive since, while it lasts.
const SHED_AGAIN_AFTER: Duration = Duration::from_secs(1);

/// How often a full house is logged while it lasts.
const FULL_WARNING_EVERY: Duration = Duration::from_secs(60);

/// As hyper and axum do: a connection that failed before it was accepted is not our
/// concern; anything else (out of file descriptors, mostly) is logged, and accepting pauses
/// for a second, in which sockets may close.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept connections; trying again in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
