//! The three WebSockets. Only this module knows WebSocket framing.
//!
//! - Ticket sockets get a snapshot, then one small update per change of *their* ticket,
//!   computed with `app::position` from the venue's event stream (no lookups per event).
//! - Staff and display sockets get the whole picture, serialized once per change and shared
//!   by every socket of the venue; a slow screen skips straight to the newest picture.
//!
//! Every socket pings, is bounded in what it buffers, resynchronises on lag, and is let go
//! when its client stops reading for longer than the instance's patience (`write_deadline`).

use super::AppState;
use super::auth::StaffAt;
use super::error::ApiError;
use super::peer::Peer;
use super::public::{check_param, find_ticket};
use super::ticket_frame::{Names, update_message};
use super::ticket_wake::{Input, Next, Pinger, catch_up, send_noting_wait};
use crate::venues::{Live, VenueHandle, views};
use app::position::Watch;
use app::protocol::{CLOSE_ACCESS_ENDED, CLOSE_TRY_AGAIN, TicketMessage, VenueMessage};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::response::Response;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

/// Read buffer per socket. Clients send almost nothing (pongs, the odd "resync"; a longer
/// message is read in several reads), so small buffers keep an idle watcher to a few KiB
/// instead of the 128 KiB default. Small matters twice: tungstenite zero-fills the whole
/// buffer each time a socket is polled for input, which a ticket socket is after every
/// update it sends; at 4 KiB that memset was 4 % of a fan-out's server time.
pub const READ_BUFFER: usize = 512;
/// Largest message a client may send us (pings and the odd "resync").
pub const MAX_CLIENT_MESSAGE: usize = 4 * 1024;
/// Keep-alive: proxies and phones drop silent connections, and a dead peer is noticed.
pub const PING_EVERY: Duration = Duration::from_secs(20);
/// Kernel send buffer of a ticket socket (Linux doubles it for its bookkeeping): about 200
/// updates. A phone that stops reading (a dead spot, a frozen tab) holds at most that much
/// server memory, where Linux would otherwise grow the buffer to 4 MiB; past it the socket's
/// send waits, and it then skips to the newest state (`ticket_wake::catch_up`).
pub const TICKET_SEND_BUFFER: usize = 16 * 1024;
/// Kernel send buffer of a venue screen's socket: a screen's picture is bounded (the last
/// calls, the next few numbers per queue), 1–2 KiB, so this holds a dozen or more. A frozen
/// kiosk browser then holds that much, not 4 MiB, until it is let go (`write_deadline`). Staff
/// sockets keep Linux's default: their picture grows with the queues, and a dashboard on a
/// slow link needs it fast.
pub const DISPLAY_SEND_BUFFER: usize = 16 * 1024;

/// Counts a socket against the instance's limit for as long as it lives.
struct SocketSlot(Arc<AtomicUsize>);

impl Drop for SocketSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn configure(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
}

/// Upgrade, or (at the limit) upgrade and close at once with "try again later".
///
/// `run` must end when the server stops (`AppState::stopping`): then the socket is dropped,
/// the connection closes, and clients reconnect with back-off, to this instance once it is
/// back or to another one. Picture sockets race `run` against the flag ([`until_stopping`]);
/// ticket sockets hear `Live::Stop` on the channel they wait on anyway, which costs them
/// nothing per update.
fn upgrade<F, Fut>(s: &AppState, ws: WebSocketUpgrade, run: F) -> Response
where
    F: FnOnce(WebSocket) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let open = s.sockets.fetch_add(1, Ordering::Relaxed) + 1;
    let slot = SocketSlot(s.sockets.clone());
    let full = open > s.config.max_sockets;
    configure(ws).on_upgrade(move |mut socket| async move {
        let _slot = slot;
        if full {
            let frame = CloseFrame {
                code: CLOSE_TRY_AGAIN,
                reason: Utf8Bytes::from_static("server busy, try again shortly"),
            };
            let _ = socket.send(Message::Close(Some(frame))).await;
            return;
        }
        run(socket).await
    })
}

/// Run `fut` until it ends or the server stops.
async fn until_stopping(
    mut stopping: watch::Receiver<bool>,
    fut: impl std::future::Future<Output = ()>,
) {
    tokio::select! {
        _ = fut => {}
        _ = stopping.wait_for(|s| *s) => {}
    }
}

#[derive(serde::Deserialize)]
pub struct LiveQuery {
    /// The last offset the client saw; informational, a snapshot always comes first.
    #[allow(dead_code)]
    after: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/tickets/{token}/live", tag = "public",
    summary = "WebSocket: the ticket's status and position, live",
    description = "JSON text messages. First `{\"type\":\"snapshot\",\"offset\",\"status\",\"position\",\"eta_seconds\",\"counter\",\"ticket\"}`, \
        then `{\"type\":\"update\",\"offset\",\"status\",\"position\",\"eta_seconds\",\"counter\",\"queue\"}` on every change. \
        Send the text `resync` to get a fresh snapshot.",
    params(("token" = String, Path), ("after" = Option<u64>, Query)),
    responses((status = 101, description = "Switching to WebSocket"), (status = 404, body = app::protocol::ErrorBody)))]
pub async fn ticket_live(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Path(token): Path<String>,
    Query(_q): Query<LiveQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // A ticket in memory: the socket's first message is its snapshot, so nothing more is
    // worked out here (a view would count the line: O(line) per socket, O(N²) when N
    // watchers of one line connect at once).
    let stopping = s.stopping.subscribe();
    if let Some((venue, id)) = s.venues.find_token(&token) {
        return Ok(upgrade(&s, ws, move |socket| {
            ticket_socket(socket, peer, venue, id, stopping)
        }));
    }
    let (venue, view, live) = find_ticket(&s, &token, false).await?;
    let id = app::domain::TicketId(view.id);
    Ok(upgrade(&s, ws, move |socket| async move {
        if live {
            ticket_socket(socket, peer, venue, id, stopping).await
        } else {
            // Finished on an earlier day: it will not change again.
            let msg = snapshot_message(view);
            let mut socket = socket;
            let _ = socket.send(Message::Text(json(&msg))).await;
            let _ = socket.send(Message::Close(None)).await;
        }
    }))
}

/// Cap the kernel send buffer of a socket's connection (see [`Peer::limit_send_buffer`]);
/// called from the upgraded socket's task, which holds the connection.
fn limit_send_buffer(peer: Peer, bytes: usize) {
    if let Err(e) = peer.limit_send_buffer(bytes) {
        tracing::debug!(error = %e, "could not cap a socket's send buffer");
    }
}

fn json<T: serde::Serialize>(v: &T) -> Utf8Bytes {
    Utf8Bytes::from(serde_json::to_string(v).expect("protocol types serialize"))
}

fn snapshot_message(view: app::protocol::TicketView) -> TicketMessage {
    TicketMessage::Snapshot {
        offset: view.offset,
        status: view.status.clone(),
        position: view.position,
        eta_seconds: view.eta_seconds,
        counter: view.counter.clone(),
        ticket: Box::new(view),
    }
}

/// Current watch and snapshot of a ticket, or `None` if it left memory.
fn snapshot(venue: &VenueHandle, id: app::domain::TicketId) -> Option<(Watch, TicketMessage)> {
    let st = venue.read();
    let t = st.tickets.get(&id)?;
    let position = venue.position_of(&st, t);
    Some((
        Watch::with_position(&st, t, position),
        snapshot_message(views::ticket_view_at(&st, t, true, position)),
    ))
}

async fn ticket_socket(
    mut socket: WebSocket,
    peer: Peer,
    venue: Arc<VenueHandle>,
    id: app::domain::TicketId,
    stopping: watch::Receiver<bool>,
) {
    // Before anything is sent.
    limit_send_buffer(peer, TICKET_SEND_BUFFER);
    // Subscribe before the snapshot: nothing can slip between the two, and events the
    // snapshot already includes are skipped by offset.
    let mut events = venue.events.subscribe();
    // A stop signalled before the subscription is seen here; one after it arrives as
    // `Live::Stop`.
    if *stopping.borrow() {
        return;
    }
    let Some((mut watch, first)) = snapshot(&venue, id) else {
        return;
    };
    let Ok(mut behind) = send_noting_wait(&mut socket, Message::Text(json(&first))).await else {
        return;
    };
    let mut names = Names::default();
    let mut ping = Pinger::new(PING_EVERY);
    let input = Input::new();
    // What `catch_up` stopped at: handled before waiting for anything else.
    let mut pending = None;
    // Waits on the venue's events, and on the socket's input only once woken for it: an
    // update for 100,000 phones costs 100,000 of every poll in here, so nothing else goes in
    // (see `Live`, and `http::ticket_wake`).
    loop {
        if ping.due() {
            match send_noting_wait(&mut socket, Message::Ping(Default::default())).await {
                Ok(waited) => behind |= waited,
                Err(_) => break,
            }
        }
        ping.arm().await;
        let next = match pending.take() {
            Some(ev) => Next::Event(ev),
            None => input.next(&mut events, &mut socket).await,
        };
        let msg = match next {
            Next::Event(ev) => match ev {
                Ok(Live::Event(env)) => {
                    if !watch.apply(&env) {
                        continue;
                    }
                    // The phone was slow to take the last frame: the events that came
                    // meanwhile go into this one, the newest state, not one frame each.
                    if behind {
                        pending = catch_up(&mut events, &mut watch);
                    }
                    let frame = update_message(&venue, &mut names, &watch);
                    match send_noting_wait(&mut socket, Message::Text(frame)).await {
                        Ok(waited) => behind = waited,
                        Err(_) => break,
                    }
                    continue;
                }
                // The venue's state was replaced (distributed mode resync): start again from it.
                Ok(Live::Reload) => match snapshot(&venue, id) {
                    Some((w, msg)) => {
                        watch = w;
                        msg
                    }
                    None => break,
                },
                Err(RecvError::Lagged(_)) => {
                    // We missed events (maybe the stop, too): never guess, start again from
                    // the state.
                    events = events.resubscribe();
                    if *stopping.borrow() {
                        break;
                    }
                    match snapshot(&venue, id) {
                        Some((w, msg)) => {
                            watch = w;
                            msg
                        }
                        None => break,
                    }
                }
                Ok(Live::Stop) | Err(RecvError::Closed) => break,
            },
            Next::Input(incoming) => match incoming {
                Some(Ok(Message::Text(t))) if t.as_str() == "resync" => {
                    events = venue.events.subscribe();
                    match snapshot(&venue, id) {
                        Some((w, msg)) => {
                            watch = w;
                            msg
                        }
                        None => break,
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => continue,
            },
        };
        match send_noting_wait(&mut socket, Message::Text(json(&msg))).await {
            Ok(waited) => behind = waited,
            Err(_) => break,
        }
    }
}

#[derive(Clone, Copy)]
enum Picture {
    Display,
    Staff,
}

/// The venue's current picture of this kind, serialized once per offset.
fn frame(s: &AppState, venue: &VenueHandle, kind: Picture) -> Utf8Bytes {
    let cache = match kind {
        Picture::Display => &venue.display_frame,
        Picture::Staff => &venue.staff_frame,
    };
    // The cache lock makes one socket build the picture while the others wait for it.
    let mut cached = cache.lock().unwrap_or_else(|e| e.into_inner());
    enum Data {
        Display(app::protocol::DisplaySnapshot),
        Staff(app::protocol::StaffSnapshot),
    }
    let (offset, data) = {
        // The state lock is held only to copy the picture out, not to serialize it.
        let st = venue.read();
        if let Some((offset, bytes)) = cached.as_ref()
            && *offset == st.offset
        {
            return bytes.clone();
        }
        let data = match kind {
            Picture::Display => Data::Display(views::display_snapshot(&st, &s.config.public_url())),
            Picture::Staff => Data::Staff(views::staff_snapshot(&st)),
        };
        (st.offset, data)
    };
    let bytes = match data {
        Data::Display(data) => json(&VenueMessage::Snapshot { offset, data }),
        Data::Staff(data) => json(&VenueMessage::Snapshot { offset, data }),
    };
    *cached = Some((offset, bytes.clone()));
    bytes
}

/// Whoever opened a picture socket, as they showed themselves at the upgrade. Checked again
/// every `access_recheck_secs`: a revoked screen, an ended session or a removed team member
/// loses the live picture, on every instance, without anyone having to find the socket.
struct Viewer {
    headers: axum::http::HeaderMap,
    /// A screen credential from the query string (display sockets).
    screen: Option<String>,
    kind: Picture,
}

impl Viewer {
    /// False only when access is refused now; a storage hiccup keeps the socket open.
    async fn still_allowed(&self, s: &AppState, venue: &VenueHandle) -> bool {
        let get = axum::http::Method::GET;
        let checked = match self.kind {
            Picture::Display => {
                let screen = self.screen.as_deref();
                super::screens::may_view_display(s, venue, screen, &get, &self.headers).await
            }
            Picture::Staff => {
                match super::auth::StaffAuth::from_headers(s, &get, &self.headers).await {
                    Ok(auth) => match s.store.role_at(auth.user_id, venue.id).await {
                        Ok(Some(_)) => Ok(()),
                        Ok(None) => Err(ApiError::forbidden()),
                        Err(e) => Err(e.into()),
                    },
                    Err(e) => Err(e),
                }
            }
        };
        match checked {
            Ok(()) => true,
            Err(e) => !matches!(e.status.as_u16(), 401 | 403),
        }
    }
}

async fn picture_socket(
    mut socket: WebSocket,
    s: AppState,
    venue: Arc<VenueHandle>,
    viewer: Viewer,
) {
    let kind = viewer.kind;
    let mut changed = venue.changed.subscribe();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut recheck =
        tokio::time::interval(Duration::from_secs(s.config.access_recheck_secs.max(1)));
    recheck.tick().await;
    loop {
        changed.borrow_and_update();
        if socket
            .send(Message::Text(frame(&s, &venue, kind)))
            .await
            .is_err()
        {
            break;
        }
        loop {
            tokio::select! {
                r = changed.changed() => {
                    if r.is_err() {
                        return;
                    }
                    break;
                }
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Text(t))) if t.as_str() == "resync" => break,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                },
                _ = ping.tick() => {
                    if socket.send(Message::Ping(Default::default())).await.is_err() {
                        return;
                    }
                }
                _ = recheck.tick() => {
                    if !viewer.still_allowed(&s, &venue).await {
                        let frame = CloseFrame {
                            code: CLOSE_ACCESS_ENDED,
                            reason: Utf8Bytes::from_static("access ended"),
                        };
                        let _ = socket.send(Message::Close(Some(frame))).await;
                        return;
                    }
                }
            }
        }
    }
}

#[utoipa::path(get, path = "/api/v1/venues/{venue}/display/ws", tag = "public",
    summary = "WebSocket: the venue screen's picture, live",
    description = "JSON text messages `{\"type\":\"snapshot\",\"offset\",\"data\": DisplaySnapshot}`, one per change (coalesced). \
        When the venue requires paired screens, add `?screen=<credential>`.",
    params(("venue" = String, Path), ("screen" = Option<String>, Query)),
    responses((status = 101, description = "Switching to WebSocket"), (status = 404, body = app::protocol::ErrorBody)))]
pub async fn display_live(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Path(venue): Path<String>,
    axum::extract::Query(q): axum::extract::Query<super::public::ScreenQuery>,
    method: axum::http::Method,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    check_param(&venue, "venue")?;
    let v = s.venue(&venue).await?;
    super::screens::may_view_display(&s, &v, q.screen.as_deref(), &method, &headers).await?;
    let st = s.clone();
    let viewer = Viewer {
        headers,
        screen: q.screen,
        kind: Picture::Display,
    };
    Ok(upgrade(&s, ws, move |socket| async move {
        // Before anything is sent.
        limit_send_buffer(peer, DISPLAY_SEND_BUFFER);
        until_stopping(
            st.stopping.subscribe(),
            picture_socket(socket, st, v, viewer),
        )
        .await
    }))
}

#[utoipa::path(get, path = "/api/v1/venues/{venue}/ws", tag = "staff",
    summary = "WebSocket: the staff dashboard's picture, live",
    description = "JSON text messages `{\"type\":\"snapshot\",\"offset\",\"data\": StaffSnapshot}`, one per change (coalesced). \
        Authenticate with the session cookie set at login or an `Authorization: Bearer` header.",
    params(("venue" = String, Path)),
    responses((status = 101, description = "Switching to WebSocket"), (status = 401, body = app::protocol::ErrorBody)),
    security(("bearer" = [])))]
pub async fn staff_live(
    State(s): State<AppState>,
    // Before the upgrade extractor: a stranger learns nothing, not even that it is a socket.
    StaffAt { venue: v, .. }: StaffAt,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let st = s.clone();
    let viewer = Viewer {
        headers,
        screen: None,
        kind: Picture::Staff,
    };
    Ok(upgrade(&s, ws, move |socket| async move {
        until_stopping(
            st.stopping.subscribe(),
            picture_socket(socket, st, v, viewer),
        )
        .await
    }))
}
