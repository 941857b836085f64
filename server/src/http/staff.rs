//! Staff routes: see every queue, call people, and change tickets and queues.

use super::AppState;
use super::auth::StaffAt;
use super::error::ApiError;
use super::extract::{ApiJson, OptionalJson};
use super::public::{check_param, join_command, look_fresh, queue_id, ticket_response, up_to_date};
use crate::store::Role;
use crate::venues::{VenueHandle, views};
use app::domain::{Command, CounterId, End, TicketId};
use app::protocol::*;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

#[utoipa::path(get, path = "/api/v1/venues/{venue}/queues", tag = "staff",
    summary = "Every queue with its tickets (names included), and the counters",
    params(("venue" = String, Path)),
    responses((status = 200, body = StaffSnapshot), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn queues(
    State(s): State<AppState>,
    at: StaffAt,
) -> Result<Json<StaffSnapshot>, ApiError> {
    up_to_date(&s, &at.venue).await;
    Ok(Json(views::staff_snapshot(&at.venue.read())))
}

async fn counter_id(s: &AppState, v: &VenueHandle, r: &CounterRef) -> Result<CounterId, ApiError> {
    look_fresh(s, v, |st| match r {
        CounterRef::Id(id) => st.counters.get(&CounterId(*id)).map(|c| c.id),
        CounterRef::Name(name) => st.counter_by_name(name).map(|c| c.id),
    })
    .await
    .ok_or_else(|| ApiError::not_found("counter_not_found", "no such counter in this venue"))
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/queues/{queue}/call-next", tag = "staff",
    summary = "Call whoever is first in line to a counter",
    params(("venue" = String, Path), ("queue" = String, Path)),
    request_body = CallRequest,
    responses((status = 200, body = TicketView, description = "The called ticket"),
        (status = 409, body = ErrorBody, description = "Nobody is waiting")),
    security(("bearer" = [])))]
pub async fn call_next(
    State(s): State<AppState>,
    StaffAt { auth, venue: v, .. }: StaffAt,
    Path((_, queue)): Path<(String, String)>,
    ApiJson(body): ApiJson<CallRequest>,
) -> Result<Json<TicketView>, ApiError> {
    check_param(&queue, "queue")?;
    let cmd = Command::CallNext {
        queue: queue_id(&s, &v, &queue).await?,
        counter: counter_id(&s, &v, &body.counter).await?,
    };
    let outcome = s.venues.execute(&v, cmd, Some(auth.user_id)).await?;
    Ok(Json(ticket_response(
        &v,
        outcome.ticket.expect("a call names its ticket"),
        false,
    )?))
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/queues/{queue}/walk-ins", tag = "staff",
    summary = "Add a walk-in (joins even when the queue is paused or closed)",
    params(("venue" = String, Path), ("queue" = String, Path)),
    request_body = JoinRequest,
    responses((status = 201, body = TicketView), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn walk_in(
    State(s): State<AppState>,
    StaffAt { auth, venue: v, .. }: StaffAt,
    Path((_, queue)): Path<(String, String)>,
    ApiJson(body): ApiJson<JoinRequest>,
) -> Result<(StatusCode, Json<TicketView>), ApiError> {
    check_param(&queue, "queue")?;
    let cmd = join_command(queue_id(&s, &v, &queue).await?, body, true)?;
    let outcome = s.venues.execute(&v, cmd, Some(auth.user_id)).await?;
    Ok((
        StatusCode::CREATED,
        Json(ticket_response(
            &v,
            outcome.ticket.expect("a join names its ticket"),
            true,
        )?),
    ))
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/queues/{queue}/{action}", tag = "staff",
    summary = "Pause, resume (open) or close a queue for the day",
    params(("venue" = String, Path), ("queue" = String, Path),
        ("action" = String, Path, description = "pause | resume | close")),
    responses((status = 200, body = QueueSummary), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn queue_action(
    State(s): State<AppState>,
    StaffAt { auth, venue: v, .. }: StaffAt,
    Path((_, queue, action)): Path<(String, String, String)>,
) -> Result<Json<QueueSummary>, ApiError> {
    check_param(&queue, "queue")?;
    let q = queue_id(&s, &v, &queue).await?;
    let cmd = match action.as_str() {
        "pause" => Command::PauseQueue { queue: q },
        "resume" | "open" => Command::ResumeQueue { queue: q },
        "close" => Command::CloseQueue { queue: q },
        _ => {
            return Err(ApiError::not_found(
                "unknown_action",
                "queue actions are pause, resume and close",
            ));
        }
    };
    s.venues.execute(&v, cmd, Some(auth.user_id)).await?;
    let st = v.read();
    Ok(Json(views::queue_summary(&st.queues[&q])))
}

fn end(to: Option<&str>) -> Result<End, ApiError> {
    match to {
        None | Some("back") => Ok(End::Back),
        Some("front") => Ok(End::Front),
        Some(_) => Err(ApiError::unprocessable(
            "invalid_body",
            "'to' must be \"front\" or \"back\"",
        )),
    }
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/tickets/{id}/{action}", tag = "staff",
    summary = "Change a ticket: call, recall, start, serve, no-show, requeue, move, cancel",
    description = "`call` takes `{\"counter\"}`; `requeue` takes `{\"to\": \"front\"|\"back\"}`; \
        `move` takes `{\"queue\": slug, \"to\"}`; the others take no body.",
    params(("venue" = String, Path), ("id" = u64, Path),
        ("action" = String, Path, description = "call | recall | start | serve | no-show | requeue | move | cancel")),
    request_body(content = ActionRequest, description = "Only for call, requeue and move"),
    responses((status = 200, body = TicketView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Not allowed from the ticket's status")),
    security(("bearer" = [])))]
pub async fn ticket_action(
    State(s): State<AppState>,
    StaffAt { auth, venue: v, .. }: StaffAt,
    Path((_, id, action)): Path<(String, String, String)>,
    OptionalJson(body): OptionalJson<ActionRequest>,
) -> Result<Json<TicketView>, ApiError> {
    let ticket = id
        .parse::<u64>()
        .map(TicketId)
        .map_err(|_| ApiError::not_found("ticket_not_found", "no such ticket"))?;
    let cmd = match action.as_str() {
        "call" => {
            let counter = body.counter.as_ref().ok_or_else(|| {
                ApiError::unprocessable(
                    "invalid_body",
                    "say which counter: {\"counter\": id or name}",
                )
            })?;
            Command::CallTicket {
                ticket,
                counter: counter_id(&s, &v, counter).await?,
            }
        }
        "recall" => Command::Recall { ticket },
        "start" => Command::StartServing { ticket },
        "serve" | "served" => Command::MarkServed { ticket },
        "no-show" => Command::NoShow { ticket },
        "cancel" => Command::Cancel { ticket },
        "requeue" => Command::Requeue {
            ticket,
            to: end(body.to.as_deref())?,
        },
        "move" => {
            let slug = body.queue.as_deref().ok_or_else(|| {
                ApiError::unprocessable("invalid_body", "say which queue: {\"queue\": slug}")
            })?;
            check_param(slug, "queue")?;
            Command::Move {
                ticket,
                queue: queue_id(&s, &v, slug).await?,
                to: end(body.to.as_deref())?,
            }
        }
        _ => {
            return Err(ApiError::not_found(
                "unknown_action",
                "ticket actions are call, recall, start, serve, no-show, requeue, move and cancel",
            ));
        }
    };
    s.venues.execute(&v, cmd, Some(auth.user_id)).await?;
    Ok(Json(ticket_response(&v, ticket, false)?))
}

/// Most audit entries one request returns.
pub const MAX_AUDIT_PAGE: u32 = 500;

#[derive(Debug, serde::Deserialize)]
pub struct AuditQuery {
    /// Entries before this offset (for paging back); default: the newest.
    before: Option<u64>,
    /// 1 to 500, default 100.
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/venues/{venue}/audit", tag = "staff",
    summary = "Audit log: every event, newest first, with who did it (managers and owners)",
    params(("venue" = String, Path), ("before" = Option<u64>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = Vec<AuditEntry>), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn audit(
    State(s): State<AppState>,
    at: StaffAt,
    axum::extract::Query(q): axum::extract::Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    if at.role < Role::Manager {
        return Err(ApiError::forbidden());
    }
    let v = at.venue;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_AUDIT_PAGE).contains(&limit) {
        return Err(ApiError::unprocessable(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_AUDIT_PAGE}"),
        ));
    }
    Ok(Json(
        s.store
            .audit(v.id, q.before.unwrap_or(u64::MAX), limit)
            .await?,
    ))
}
