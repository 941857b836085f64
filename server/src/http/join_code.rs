//! The optional rotating join code: when a venue turns it on, joining needs the code that is
//! in the venue screen's QR link right now, so people join at the door, not from home.
//!
//! A code is the first 8 hex digits of SHA-256(secret, venue, 10-minute window). The current
//! and the previous window's codes are accepted (a QR scanned just before it changes still
//! works). The secret is random, made when the setting is first turned on, kept in storage.
//! The QR (and this link) are then only given to paired screens and staff, since anyone who
//! can fetch them could join from anywhere.

use super::AppState;
use super::auth::{OwnerAt, StaffAt};
use super::error::ApiError;
use super::extract::ApiJson;
use crate::clock::now_ms;
use crate::secrets::sha256_hex;
use crate::store::Role;
use crate::venues::{VenueHandle, views};
use app::protocol::{ErrorBody, JoinCodeSettings, JoinLink};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};

/// How long one code is shown before the next.
pub const WINDOW_MS: i64 = 10 * 60_000;

/// The code for a time window.
pub fn code_for(secret: &str, venue_id: i64, window: i64) -> String {
    sha256_hex(&format!("{secret}:{venue_id}:{window}"))[..8].to_owned()
}

/// How long a read of the setting is trusted: joins are the hot path, and a change made on
/// another instance reaches this one within this time (one made here, at once).
const FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// The venue's setting and secret, falling back to the last answer while storage is down.
async fn settings(s: &AppState, venue_id: i64) -> Result<(bool, Option<String>), ApiError> {
    let cached = s.access.join_code(venue_id);
    if let Some((found, age)) = &cached
        && *age < FRESH_FOR
    {
        return Ok(found.clone());
    }
    match s.store.join_code(venue_id).await {
        Ok(found) => {
            s.access.remember_join_code(venue_id, found.clone());
            Ok(found)
        }
        Err(e) => Ok(cached.map(|(found, _)| found).ok_or(e)?),
    }
}

/// Refuse a join without a current code, when the venue asks for one.
pub(super) async fn check(
    s: &AppState,
    venue: &VenueHandle,
    code: Option<&str>,
) -> Result<(), ApiError> {
    let (required, secret) = settings(s, venue.id).await?;
    let Some(secret) = secret.filter(|_| required) else {
        return Ok(());
    };
    let window = now_ms().div_euclid(WINDOW_MS);
    let given = code.unwrap_or("").trim().to_ascii_lowercase();
    if [window, window - 1]
        .iter()
        .any(|w| code_for(&secret, venue.id, *w) == given)
    {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "join_code_required",
        "To join, scan the QR code on the screen at the venue.",
    ))
}

/// The join link as the QR should hold it now: with the current code when required.
/// `None` when the code is required and this caller may not have it.
pub(super) async fn current_link(
    s: &AppState,
    venue: &VenueHandle,
    screen: Option<&str>,
    method: &Method,
    headers: &HeaderMap,
) -> Result<String, ApiError> {
    let base = views::join_url(&s.config.public_url(), &venue.slug);
    let (required, secret) = settings(s, venue.id).await?;
    let Some(secret) = secret.filter(|_| required) else {
        return Ok(base);
    };
    super::screens::may_view_display_strict(s, venue, screen, method, headers).await?;
    let window = now_ms().div_euclid(WINDOW_MS);
    Ok(format!(
        "{base}?code={}",
        code_for(&secret, venue.id, window)
    ))
}

#[utoipa::path(get, path = "/api/v1/venues/{venue}/join-code", tag = "staff",
    summary = "Whether joining needs the rotating code from the venue screen's QR (managers and owners)",
    params(("venue" = String, Path)),
    responses((status = 200, body = JoinCodeSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_settings(
    State(s): State<AppState>,
    at: StaffAt,
) -> Result<Json<JoinCodeSettings>, ApiError> {
    if at.role < Role::Manager {
        return Err(ApiError::forbidden());
    }
    let (required, _) = settings(&s, at.venue.id).await?;
    Ok(Json(JoinCodeSettings { required }))
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/join-code", tag = "staff",
    summary = "Require the rotating code to join, or not (owners). Pair the venue screen first: only paired screens and staff get the QR then.",
    params(("venue" = String, Path)),
    request_body = JoinCodeSettings,
    responses((status = 200, body = JoinCodeSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_settings(
    State(s): State<AppState>,
    OwnerAt(at): OwnerAt,
    ApiJson(body): ApiJson<JoinCodeSettings>,
) -> Result<Json<JoinCodeSettings>, ApiError> {
    s.store
        .set_join_code(at.venue.id, body.required, &crate::secrets::random_token())
        .await?;
    let found = s.store.join_code(at.venue.id).await?;
    s.access.remember_join_code(at.venue.id, found);
    Ok(Json(body))
}

#[utoipa::path(get, path = "/api/v1/venues/{venue}/join-link", tag = "public",
    summary = "The join link the venue screen's QR holds now (with the rotating code when required: then paired screens and staff only)",
    params(("venue" = String, Path), ("screen" = Option<String>, Query)),
    responses((status = 200, body = JoinLink), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn join_link(
    State(s): State<AppState>,
    axum::extract::Path(venue): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<super::public::ScreenQuery>,
    method: Method,
    headers: HeaderMap,
) -> Result<Json<JoinLink>, ApiError> {
    super::public::check_param(&venue, "venue")?;
    let v = s.venue(&venue).await?;
    let url = current_link(&s, &v, q.screen.as_deref(), &method, &headers).await?;
    Ok(Json(JoinLink { url }))
}
