//! Operations: the history projector's dead letters (managers and owners) and `/metrics`.

use super::AppState;
use super::auth::StaffAt;
use super::error::ApiError;
use super::public::check_param;
use crate::store::Role;
use app::protocol::{DeadLetter, ErrorBody};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[utoipa::path(get, path = "/api/v1/venues/{venue}/dead-letters", tag = "staff",
    summary = "History entries MySQL refused 3 times (distributed mode; managers and owners). Always empty in embedded mode.",
    params(("venue" = String, Path)),
    responses((status = 200, body = Vec<DeadLetter>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn dead_letters(
    State(s): State<AppState>,
    at: StaffAt,
) -> Result<Json<Vec<DeadLetter>>, ApiError> {
    if at.role < Role::Manager {
        return Err(ApiError::forbidden());
    }
    let Some(dist) = s.venues.dist() else {
        return Ok(Json(Vec::new()));
    };
    let letters = dist.dead_letters(at.venue.id).await?;
    Ok(Json(
        letters
            .into_iter()
            .map(|d| DeadLetter {
                id: d.id,
                seq: d.seq,
                error: d.error,
                failures: d.failures,
                entry: serde_json::from_str(&d.entry).unwrap_or(serde_json::Value::String(d.entry)),
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/dead-letters/{id}/replay", tag = "staff",
    summary = "Write a dead letter to history again; on success it is removed (managers and owners)",
    params(("venue" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn replay_dead_letter(
    State(s): State<AppState>,
    at: StaffAt,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if at.role < Role::Manager {
        return Err(ApiError::forbidden());
    }
    check_param(&id, "id")?;
    let not_found = || ApiError::not_found("dead_letter_not_found", "no such dead letter");
    let dist = s.venues.dist().ok_or_else(not_found)?;
    if dist.replay_dead_letter(at.venue.id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

/// One counter in Prometheus text format.
fn counter(out: &mut String, name: &str, help: &str, value: &AtomicU64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
        value.load(Ordering::Relaxed)
    );
}

/// Prometheus text format. Counters are this instance's; `fila_dead_letters` is the number
/// waiting per venue (the same on every instance).
pub async fn metrics(State(s): State<AppState>) -> Response {
    let mut out = String::new();
    let venues = s.venues.loaded();
    let _ = writeln!(
        out,
        "# TYPE fila_venues gauge\nfila_venues {}",
        venues.len()
    );
    let _ = writeln!(
        out,
        "# TYPE fila_sockets gauge\nfila_sockets {}",
        s.sockets.load(Ordering::Relaxed)
    );
    for (name, help, v) in [
        (
            "fila_sockets_let_go_total",
            "connections (a page, a file or a live socket) closed because their client stopped reading for FILA_SEND_TIMEOUT_SECS",
            &s.closed.stalled_connections,
        ),
        (
            "fila_header_timeouts_total",
            "connections closed because they sent no request headers within FILA_HEADER_TIMEOUT_SECS",
            &s.closed.header_timeouts,
        ),
    ] {
        counter(&mut out, name, help, v);
    }
    if let Some(m) = s.venues.writer_metrics() {
        for (name, help, v) in [
            (
                "fila_writer_commits_total",
                "SQLite transactions the writer committed",
                &m.commits,
            ),
            (
                "fila_writer_commands_total",
                "commands those transactions made durable",
                &m.commands,
            ),
        ] {
            counter(&mut out, name, help, v);
        }
        m.commit_time.render(
            &mut out,
            "fila_writer_commit_seconds",
            "time to commit one SQLite transaction, fsync included",
        );
    }
    if let Some(d) = s.venues.dist() {
        let m = &d.metrics;
        for (name, help, v) in [
            (
                "fila_log_appended_total",
                "log entries appended by this instance",
                &m.appended,
            ),
            (
                "fila_log_append_conflicts_total",
                "appends retried because another instance appended first",
                &m.append_conflicts,
            ),
            (
                "fila_log_appends_skipped_total",
                "of those, appends not sent: this instance had already applied a newer entry",
                &m.appends_skipped,
            ),
            (
                "fila_log_turns_claimed_total",
                "appends that claimed the next turn after losing the race again and again",
                &m.turns_claimed,
            ),
            (
                "fila_log_turn_waits_total",
                "appends that waited because another instance had claimed the next turn",
                &m.turn_waits,
            ),
            (
                "fila_writer_state_copies_total",
                "times a venue writer copied the whole venue state",
                &m.state_copies,
            ),
            (
                "fila_resyncs_total",
                "venue states replaced from a snapshot",
                &m.resyncs,
            ),
            (
                "fila_history_projected_total",
                "log entries written to MySQL by this instance",
                &m.projected,
            ),
            (
                "fila_history_handed_over_total",
                "of those, entries taken from this instance's writers instead of read from the log",
                &m.handed_over,
            ),
            (
                "fila_history_writes_total",
                "history transactions committed by this instance",
                &m.history_writes,
            ),
            (
                "fila_history_retries_total",
                "history writes retried",
                &m.projector_retries,
            ),
            (
                "fila_dead_lettered_total",
                "entries this instance moved to a dead-letter stream",
                &m.dead_lettered,
            ),
        ] {
            counter(&mut out, name, help, v);
        }
        m.append_time.render(
            &mut out,
            "fila_log_append_seconds",
            "round trip of one compare-and-set append to the Redis log",
        );
        let _ = writeln!(
            out,
            "# HELP fila_dead_letters history entries waiting in the dead-letter stream\n# TYPE fila_dead_letters gauge"
        );
        for v in &venues {
            let n = crate::dist::dead_letters::count(d, v.id).await.unwrap_or(0);
            let _ = writeln!(out, "fila_dead_letters{{venue=\"{}\"}} {n}", v.slug);
        }
        for v in &venues {
            let _ = writeln!(out, "fila_log_seq{{venue=\"{}\"}} {}", v.slug, v.log_seq());
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        out,
    )
        .into_response()
}
