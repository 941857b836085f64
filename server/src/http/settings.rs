//! Venue settings, changed live through the engine so every instance and screen sees them
//! at once: queues (add, edit, limit, open hours, remove), counters (add, rename, remove),
//! the venue's name and time zone.
//!
//! Queues and counters are added in storage first (storage gives the id), then made live;
//! edits and removals go through the engine first (it checks the rules against the live
//! state), then storage, so a refused change never reaches storage.

use super::AppState;
use super::auth::{ManagerAt, OwnerAt, StaffAt};
use super::error::ApiError;
use super::extract::{ApiJson, OptionalJson};
use super::public::{check_param, look_fresh, queue_id};
use crate::clock::now_ms;
use crate::store::Role;
use crate::venues::{VenueHandle, time_zone, views};
use app::domain::{Command, CounterId};
use app::protocol::*;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

fn invalid(code: &'static str) -> impl Fn(anyhow::Error) -> ApiError {
    move |e| ApiError::unprocessable(code, e.to_string())
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/queues", tag = "staff",
    summary = "Add a queue (owners); it is live at once on every instance",
    params(("venue" = String, Path)),
    request_body = NewQueue,
    responses((status = 201, body = QueueSummary), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_queue(
    State(s): State<AppState>,
    OwnerAt(at): OwnerAt,
    ApiJson(body): ApiJson<NewQueue>,
) -> Result<(StatusCode, Json<QueueSummary>), ApiError> {
    let slug = body.slug.trim().to_owned();
    let name = body.name.trim().to_owned();
    let prefix = body.prefix.trim().to_owned();
    crate::cli::check_slug(&slug).map_err(invalid("invalid_slug"))?;
    crate::cli::check_name(&name).map_err(invalid("invalid_name"))?;
    crate::cli::check_prefix(&prefix).map_err(invalid("invalid_prefix"))?;
    let v = at.venue;
    // Storage gives the id (unique across venues); the command makes it live everywhere.
    let id = s.store.create_queue(v.id, &slug, &name, &prefix).await?;
    let queue = app::domain::QueueId(id);
    let cmd = Command::AddQueue {
        queue,
        slug,
        name,
        prefix,
    };
    s.venues.execute(&v, cmd, Some(at.auth.user_id)).await?;
    let st = v.read();
    Ok((
        StatusCode::CREATED,
        Json(views::queue_summary(&st.queues[&queue])),
    ))
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/counters", tag = "staff",
    summary = "Add a counter or table (managers and owners); live at once",
    params(("venue" = String, Path)),
    request_body = NewCounter,
    responses((status = 201, body = CounterView), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_counter(
    State(s): State<AppState>,
    ManagerAt(at): ManagerAt,
    ApiJson(body): ApiJson<NewCounter>,
) -> Result<(StatusCode, Json<CounterView>), ApiError> {
    let name = body.name.trim().to_owned();
    crate::cli::check_name(&name).map_err(invalid("invalid_name"))?;
    let v = at.venue;
    let id = s.store.create_counter(v.id, &name).await?;
    let cmd = Command::AddCounter {
        counter: CounterId(id),
        name: name.clone(),
    };
    s.venues.execute(&v, cmd, Some(at.auth.user_id)).await?;
    Ok((StatusCode::CREATED, Json(CounterView { id, name })))
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/name", tag = "staff",
    summary = "Rename the venue (owners)",
    params(("venue" = String, Path)),
    request_body = VenueName,
    responses((status = 200, body = VenueName), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rename_venue(
    State(s): State<AppState>,
    OwnerAt(at): OwnerAt,
    ApiJson(body): ApiJson<VenueName>,
) -> Result<Json<VenueName>, ApiError> {
    let name = body.name.trim().to_owned();
    crate::cli::check_name(&name).map_err(invalid("invalid_name"))?;
    let v = at.venue;
    s.store.rename_venue(v.id, &name).await?;
    s.venues
        .execute(
            &v,
            Command::RenameVenue { name: name.clone() },
            Some(at.auth.user_id),
        )
        .await?;
    Ok(Json(VenueName { name }))
}

/// Largest queue size a manager can set.
pub const MAX_QUEUE_LIMIT: u32 = 10_000;

#[utoipa::path(post, path = "/api/v1/venues/{venue}/queues/{queue}/limit", tag = "staff",
    summary = "Set the most people who may wait in a queue (managers and owners); over it, joins get a friendly 'full' message",
    params(("venue" = String, Path), ("queue" = String, Path)),
    request_body = QueueLimit,
    responses((status = 200, body = QueueSummary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn queue_limit(
    State(s): State<AppState>,
    at: StaffAt,
    Path((_, queue)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<QueueLimit>,
) -> Result<Json<QueueSummary>, ApiError> {
    if at.role < Role::Manager {
        return Err(ApiError::forbidden());
    }
    check_param(&queue, "queue")?;
    let v = at.venue;
    let q = queue_id(&s, &v, &queue).await?;
    if body
        .max_waiting
        .is_some_and(|m| !(1..=MAX_QUEUE_LIMIT).contains(&m))
    {
        return Err(ApiError::unprocessable(
            "invalid_limit",
            format!("max_waiting must be between 1 and {MAX_QUEUE_LIMIT}, or null for no limit"),
        ));
    }
    let cmd = Command::SetMaxWaiting {
        queue: q,
        max_waiting: body.max_waiting,
    };
    s.venues.execute(&v, cmd, Some(at.auth.user_id)).await?;
    let st = v.read();
    Ok(Json(views::queue_summary(&st.queues[&q])))
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/queues/{queue}/settings", tag = "staff",
    summary = "Change a queue's name, ticket prefix and open hours (managers and owners)",
    description = "The prefix applies to numbers issued from now on. Outside its open hours (in the \
        venue's time zone) a queue refuses customers' joins with 409 `outside_open_hours` and says \
        when it opens; staff walk-ins are always accepted. The slug never changes.",
    params(("venue" = String, Path), ("queue" = String, Path)),
    request_body = QueueSettings,
    responses((status = 200, body = QueueSummary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn queue_settings(
    State(s): State<AppState>,
    ManagerAt(at): ManagerAt,
    Path((_, queue)): Path<(String, String)>,
    ApiJson(body): ApiJson<QueueSettings>,
) -> Result<Json<QueueSummary>, ApiError> {
    check_param(&queue, "queue")?;
    let name = body.name.trim().to_owned();
    let prefix = body.prefix.trim().to_owned();
    crate::cli::check_name(&name).map_err(invalid("invalid_name"))?;
    crate::cli::check_prefix(&prefix).map_err(invalid("invalid_prefix"))?;
    let open_hours = HoursSlotView::to_hours(&body.open_hours)
        .map_err(|e| ApiError::unprocessable("invalid_open_hours", e.to_string()))?;
    let v = at.venue;
    let q = queue_id(&s, &v, &queue).await?;
    let stored_hours = (!open_hours.is_unrestricted())
        .then(|| serde_json::to_string(&open_hours))
        .transpose()
        .map_err(anyhow::Error::from)?;
    let cmd = Command::UpdateQueue {
        queue: q,
        name: name.clone(),
        prefix: prefix.clone(),
        open_hours,
    };
    s.venues.execute(&v, cmd, Some(at.auth.user_id)).await?;
    s.store
        .update_queue(v.id, q.0, &name, &prefix, stored_hours)
        .await?;
    let st = v.read();
    let summary = st.queues.get(&q).map(views::queue_summary);
    summary
        .map(Json)
        .ok_or_else(|| ApiError::not_found("queue_not_found", "no such queue in this venue"))
}

#[utoipa::path(delete, path = "/api/v1/venues/{venue}/queues/{queue}", tag = "staff",
    summary = "Remove a queue (owners); only when nobody is waiting, called or being served in it",
    description = "History keeps the queue's tickets. Its slug can be used again at once.",
    params(("venue" = String, Path), ("queue" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "People are still in the queue")),
    security(("bearer" = [])))]
pub async fn remove_queue(
    State(s): State<AppState>,
    OwnerAt(at): OwnerAt,
    Path((_, queue)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    check_param(&queue, "queue")?;
    let v = at.venue;
    let q = queue_id(&s, &v, &queue).await?;
    s.venues
        .execute(&v, Command::RemoveQueue { queue: q }, Some(at.auth.user_id))
        .await?;
    s.store.remove_queue(v.id, q.0, &queue, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A counter by id, or by name (case-insensitive).
async fn counter_in_path(
    s: &AppState,
    v: &VenueHandle,
    raw: &str,
) -> Result<(CounterId, String), ApiError> {
    check_param(raw, "counter")?;
    look_fresh(s, v, |st| {
        match raw.parse::<i64>() {
            Ok(id) => st.counters.get(&CounterId(id)),
            Err(_) => st.counter_by_name(raw),
        }
        .map(|c| (c.id, c.name.clone()))
    })
    .await
    .ok_or_else(|| ApiError::not_found("counter_not_found", "no such counter in this venue"))
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/counters/{counter}", tag = "staff",
    summary = "Rename a counter or table (managers and owners)",
    params(("venue" = String, Path), ("counter" = String, Path, description = "Counter id or name")),
    request_body = NewCounter,
    responses((status = 200, body = CounterView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rename_counter(
    State(s): State<AppState>,
    ManagerAt(at): ManagerAt,
    Path((_, counter)): Path<(String, String)>,
    ApiJson(body): ApiJson<NewCounter>,
) -> Result<Json<CounterView>, ApiError> {
    let name = body.name.trim().to_owned();
    crate::cli::check_name(&name).map_err(invalid("invalid_name"))?;
    let v = at.venue;
    let (id, _) = counter_in_path(&s, &v, &counter).await?;
    let cmd = Command::RenameCounter {
        counter: id,
        name: name.clone(),
    };
    s.venues.execute(&v, cmd, Some(at.auth.user_id)).await?;
    s.store.rename_counter(v.id, id.0, &name).await?;
    Ok(Json(CounterView { id: id.0, name }))
}

#[utoipa::path(delete, path = "/api/v1/venues/{venue}/counters/{counter}", tag = "staff",
    summary = "Remove a counter or table (managers and owners); not while someone is called to it",
    params(("venue" = String, Path), ("counter" = String, Path, description = "Counter id or name")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Someone is called to or served at it")),
    security(("bearer" = [])))]
pub async fn remove_counter(
    State(s): State<AppState>,
    ManagerAt(at): ManagerAt,
    Path((_, counter)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let v = at.venue;
    let (id, name) = counter_in_path(&s, &v, &counter).await?;
    s.venues
        .execute(
            &v,
            Command::RemoveCounter { counter: id },
            Some(at.auth.user_id),
        )
        .await?;
    s.store.remove_counter(v.id, id.0, &name, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/time-zone", tag = "staff",
    summary = "Set the venue's time zone (owners): open hours and the day ticket numbers restart on follow it",
    params(("venue" = String, Path)),
    request_body = TimeZoneSetting,
    responses((status = 200, body = TimeZoneSetting), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_time_zone(
    State(s): State<AppState>,
    OwnerAt(at): OwnerAt,
    ApiJson(body): ApiJson<TimeZoneSetting>,
) -> Result<Json<TimeZoneSetting>, ApiError> {
    let (zone, offset) = time_zone::resolve(&body.time_zone, now_ms())
        .map_err(|e| ApiError::unprocessable("invalid_time_zone", e))?;
    let v = at.venue;
    let cmd = Command::SetTimeZone {
        time_zone: zone.clone(),
        utc_offset_minutes: offset,
    };
    s.venues.execute(&v, cmd, Some(at.auth.user_id)).await?;
    s.store.set_time_zone(v.id, &zone, offset).await?;
    Ok(Json(TimeZoneSetting {
        time_zone: zone,
        utc_offset_minutes: offset,
    }))
}
