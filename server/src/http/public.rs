//! Public routes: anyone with the venue link or a ticket token.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ClientIp};
use crate::secrets::ticket_token;
use crate::venues::VenueHandle;
use crate::venues::views;
use app::domain::{Command, CustomerName, PartySize, TicketId, parse_notes};
use app::protocol::*;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// A ticket as the API answers it. Serialized into one buffer that holds a ticket (about
/// 400 bytes): axum's `Json` starts at 128 and grew, copying, twice on every join.
pub struct TicketJson(pub TicketView);

impl IntoResponse for TicketJson {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(512);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(e) => ApiError::from(anyhow::Error::from(e)).into_response(),
        }
    }
}

/// Longest slug or token accepted in a path; anything longer is not ours.
const MAX_PATH_PARAM: usize = 100;

pub(super) fn check_param(value: &str, what: &'static str) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > MAX_PATH_PARAM {
        return Err(ApiError::not_found("not_found", format!("no such {what}")));
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/venues/{venue}", tag = "public",
    summary = "A venue and its queues (public)",
    params(("venue" = String, Path, description = "Venue slug")),
    responses((status = 200, body = VenueInfo), (status = 404, body = ErrorBody)))]
pub async fn venue_info(
    State(s): State<AppState>,
    Path(venue): Path<String>,
) -> Result<Json<VenueInfo>, ApiError> {
    check_param(&venue, "venue")?;
    let v = s.venue(&venue).await?;
    up_to_date(&s, &v).await;
    Ok(Json(views::venue_info(&v.read())))
}

/// Validate a join body into engine values; every refusal names the field.
pub(super) fn join_command(
    queue: app::domain::QueueId,
    body: JoinRequest,
    walk_in: bool,
) -> Result<Command, ApiError> {
    let name = CustomerName::parse(&body.name)
        .map_err(|e| ApiError::unprocessable("invalid_name", e.to_string()))?;
    let party_size = PartySize::parse(body.party_size)
        .map_err(|e| ApiError::unprocessable("invalid_party_size", e.to_string()))?;
    let notes = parse_notes(body.notes.as_deref())
        .map_err(|e| ApiError::unprocessable("invalid_notes", e.to_string()))?;
    Ok(Command::Join {
        queue,
        name,
        party_size,
        notes,
        token: ticket_token(crate::clock::now_ms()),
        walk_in,
    })
}

pub(super) async fn queue_id(
    s: &AppState,
    v: &VenueHandle,
    slug: &str,
) -> Result<app::domain::QueueId, ApiError> {
    look_fresh(s, v, |st| st.queue_by_slug(slug).map(|q| q.id))
        .await
        .ok_or_else(|| ApiError::not_found("queue_not_found", "no such queue in this venue"))
}

/// Before a read is answered from the venue's state: in distributed mode, bring it up to the
/// log if it is behind, so the answer holds every change acknowledged on any instance before
/// the request came (a ticket called on another instance a moment ago is "called" here too).
/// One Redis round trip; if Redis does not answer, the read is answered from what is here.
pub(super) async fn up_to_date(s: &AppState, v: &VenueHandle) {
    let Some(dist) = s.venues.dist() else { return };
    if let Err(e) = dist.catch_up_if_behind(v).await {
        tracing::debug!(error = %format!("{e:#}"), "could not catch up before a read");
    }
}

/// Look something up in the venue's state. In distributed mode, when it is not there, bring
/// the venue up to its log and look again: another instance may have added it a moment ago
/// (a queue, a counter), and an answer there must hold here at once.
pub(super) async fn look_fresh<T>(
    s: &AppState,
    v: &VenueHandle,
    look: impl Fn(&app::domain::VenueState) -> Option<T>,
) -> Option<T> {
    if let Some(found) = look(&v.read()) {
        return Some(found);
    }
    if let Err(e) = s.venues.dist()?.catch_up_if_behind(v).await {
        tracing::debug!(error = %format!("{e:#}"), "could not catch up to look again");
    }
    look(&v.read())
}

pub(super) fn ticket_response(
    v: &VenueHandle,
    id: TicketId,
    with_token: bool,
) -> Result<TicketView, ApiError> {
    let st = v.read();
    let t = st
        .tickets
        .get(&id)
        .ok_or_else(|| ApiError::not_found("ticket_not_found", "no such ticket"))?;
    Ok(views::ticket_view(&st, t, with_token))
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/queues/{queue}/tickets", tag = "public",
    summary = "Join a queue",
    params(("venue" = String, Path), ("queue" = String, Path, description = "Queue slug")),
    request_body = JoinRequest,
    responses((status = 201, body = TicketView, description = "Joined; keep the token"),
        (status = 409, body = ErrorBody, description = "Queue paused, closed or full"),
        (status = 429, body = ErrorBody, description = "Too many joins from this address or venue; see Retry-After"),
        (status = 422, body = ErrorBody, description = "Invalid name, party size or notes")))]
pub async fn join(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Path((venue, queue)): Path<(String, String)>,
    ApiJson(body): ApiJson<JoinRequest>,
) -> Result<(StatusCode, TicketJson), ApiError> {
    let ticket = join_queue(&s, ip, &venue, &queue, body).await?;
    Ok((StatusCode::CREATED, TicketJson(ticket)))
}

/// A customer joins `queue` of `venue`: through the API, or by the join page's form posted
/// without the app (`forms::join`). Same checks and limits either way.
pub(super) async fn join_queue(
    s: &AppState,
    ip: IpAddr,
    venue: &str,
    queue: &str,
    body: JoinRequest,
) -> Result<TicketView, ApiError> {
    check_param(venue, "venue")?;
    check_param(queue, "queue")?;
    let v = s.venue(venue).await?;
    let code = body.code.clone();
    let cmd = join_command(queue_id(s, &v, queue).await?, body, false)?;
    super::join_code::check(s, &v, code.as_deref()).await?;
    // Checked after validation, so a typo does not use up someone's allowance.
    let now = Instant::now();
    s.limits.join_per_ip.check(&format!("{venue}|{ip}"), now).map_err(|wait| {
        ApiError::too_many(
            "rate_limited",
            "Lots of people are joining from your network right now. Please wait a moment and try again.",
            wait,
        )
    })?;
    s.limits.join_per_venue.check(venue, now).map_err(|wait| {
        ApiError::too_many(
            "rate_limited",
            "This venue is very busy right now. Please wait a moment and try again.",
            wait,
        )
    })?;
    let outcome = s.venues.execute(&v, cmd, None).await?;
    let id = outcome.ticket.expect("a join names its ticket");
    ticket_response(&v, id, true)
}

/// Pages render live tickets and loaded venues straight from memory.
impl app::PageSource for AppState {
    fn live_ticket(&self, token: &str) -> Option<TicketView> {
        let (v, id) = self.venues.find_token(token)?;
        held_ticket(&v, id)
    }

    fn venue_info(&self, slug: &str) -> Option<VenueInfo> {
        Some(views::venue_info(&self.venues.loaded_venue(slug)?.read()))
    }
}

/// A ticket in memory as its holder sees it, with its position from the venue's table
/// ([`VenueHandle::position_of`]): when every watcher of a long line loads its page at once,
/// counting the line for each would cost O(N²). (A join's answer counts from the back
/// instead, where its ticket is: O(1), and no table to rebuild after every join.)
fn held_ticket(v: &VenueHandle, id: TicketId) -> Option<TicketView> {
    let st = v.read();
    let t = st.tickets.get(&id)?;
    Some(views::ticket_view_at(&st, t, true, v.position_of(&st, t)))
}

/// A ticket's venue, its view, and whether it is in memory (live).
type Found = (Arc<VenueHandle>, TicketView, bool);

/// The ticket with this token among those in memory. In distributed mode a ticket that
/// joined on another instance a moment ago may not be here yet (its pub/sub message still on
/// the way), and the customer's next request may well come here: the log has it, so it is
/// read before the answer is "not here".
pub(super) async fn live_token(s: &AppState, token: &str) -> Option<(Arc<VenueHandle>, TicketId)> {
    if let Some(found) = s.venues.find_token(token) {
        return Some(found);
    }
    // Look again whatever the catch-up found: the follower may have applied the join between
    // the look above and the check of the log, which then has nothing newer ("not behind").
    if let Err(e) = s.venues.dist()?.catch_up_behind().await {
        tracing::debug!(error = %format!("{e:#}"), "could not catch up to find a ticket");
    }
    s.venues.find_token(token)
}

/// Find a ticket by token: in memory, else (finished on an earlier day) in storage. `fresh`:
/// see [`up_to_date`] (a socket need not wait for it: the next update follows at once).
pub(super) async fn find_ticket(s: &AppState, token: &str, fresh: bool) -> Result<Found, ApiError> {
    check_param(token, "ticket")?;
    let live = |(v, id): (Arc<VenueHandle>, TicketId)| {
        held_ticket(&v, id)
            .map(|view| (v, view, true))
            .ok_or_else(|| ApiError::not_found("ticket_not_found", "no such ticket"))
    };
    if let Some((v, id)) = live_token(s, token).await {
        if fresh {
            up_to_date(s, &v).await;
        }
        return live((v, id));
    }
    let Some((slug, ticket)) = s.store.ticket_by_token(token).await? else {
        return Err(ApiError::not_found("ticket_not_found", "no such ticket"));
    };
    let v = s.venue(&slug).await?;
    let view = views::ticket_view(&v.read(), &ticket, true);
    Ok((v, view, false))
}

#[utoipa::path(get, path = "/api/v1/tickets/{token}", tag = "public",
    summary = "A ticket, by its holder's token",
    params(("token" = String, Path)),
    responses((status = 200, body = TicketView), (status = 404, body = ErrorBody)))]
pub async fn get_ticket(
    State(s): State<AppState>,
    Path(token): Path<String>,
) -> Result<TicketJson, ApiError> {
    Ok(TicketJson(find_ticket(&s, &token, true).await?.1))
}

#[utoipa::path(delete, path = "/api/v1/tickets/{token}", tag = "public",
    summary = "The holder cancels their ticket",
    params(("token" = String, Path)),
    responses((status = 200, body = TicketView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Already served, cancelled or being served")))]
pub async fn cancel_ticket(
    State(s): State<AppState>,
    Path(token): Path<String>,
) -> Result<TicketJson, ApiError> {
    Ok(TicketJson(cancel_by_holder(&s, &token).await?))
}

/// The holder cancels their ticket: through the API, or by the ticket page's form posted
/// without the app (`forms::ticket`).
pub(super) async fn cancel_by_holder(s: &AppState, token: &str) -> Result<TicketView, ApiError> {
    // Only a ticket in memory can change; no view of it is needed to cancel it.
    let (v, id) = match s.venues.find_token(token) {
        Some(found) => found,
        None => match find_ticket(s, token, false).await? {
            // Joined on another instance a moment ago (distributed mode).
            (v, view, true) => (v, TicketId(view.id)),
            // Finished on an earlier day (no such ticket: 404 above).
            (_, view, false) => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "invalid_transition",
                    format!("cannot cancel a ticket that is {}", view.status),
                ));
            }
        },
    };
    s.venues
        .execute(&v, Command::Cancel { ticket: id }, None)
        .await?;
    ticket_response(&v, id, true)
}

/// `?screen=<credential>`: a paired screen's credential (needed only when the venue requires
/// pairing; a bearer token works too).
#[derive(Debug, Default, serde::Deserialize)]
pub struct ScreenQuery {
    pub screen: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/venues/{venue}/display", tag = "public",
    summary = "What the venue screen shows: called numbers, next numbers, waits (no names)",
    description = "Public unless the venue requires paired screens: then send the screen's credential as `?screen=` (or a bearer token); staff of the venue may look too.",
    params(("venue" = String, Path), ("screen" = Option<String>, Query)),
    responses((status = 200, body = DisplaySnapshot), (status = 401, body = ErrorBody, description = "pairing_required"), (status = 404, body = ErrorBody)))]
pub async fn display(
    State(s): State<AppState>,
    Path(venue): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ScreenQuery>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> Result<Json<DisplaySnapshot>, ApiError> {
    check_param(&venue, "venue")?;
    let v = s.venue(&venue).await?;
    super::screens::may_view_display(&s, &v, q.screen.as_deref(), &method, &headers).await?;
    up_to_date(&s, &v).await;
    Ok(Json(views::display_snapshot(
        &v.read(),
        &s.config.public_url(),
    )))
}

#[utoipa::path(get, path = "/api/v1/venues/{venue}/qr.svg", tag = "public",
    summary = "QR code (SVG) of the venue's join page (with the rotating join code when the venue requires it: then paired screens and staff only)",
    params(("venue" = String, Path), ("screen" = Option<String>, Query)),
    responses((status = 200, content_type = "image/svg+xml", description = "SVG image"), (status = 404, body = ErrorBody)))]
pub async fn qr_svg(
    State(s): State<AppState>,
    Path(venue): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ScreenQuery>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_param(&venue, "venue")?;
    let v = s.venue(&venue).await?;
    let url =
        super::join_code::current_link(&s, &v, q.screen.as_deref(), &method, &headers).await?;
    // A QR with a rotating code must not outlive its window in a cache.
    let cache = if url.contains("?code=") {
        "private, max-age=60"
    } else {
        "public, max-age=300"
    };
    let code = qrcode::QrCode::new(url.as_bytes()).map_err(|e| anyhow::anyhow!("qr: {e}"))?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build();
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        svg,
    )
        .into_response())
}
