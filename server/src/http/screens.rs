//! Venue screens: a manager makes a one-time pairing code on the dashboard, the TV types it
//! once and gets a display-only credential, which the dashboard can revoke.
//!
//! With the venue setting `need_pairing` on, the display endpoints answer only paired
//! screens (and the venue's staff); off (the default), the display is public, as it shows
//! numbers and waits, never names.

use super::AppState;
use super::auth::{StaffAt, StaffAuth};
use super::error::ApiError;
use super::extract::ApiJson;
use crate::clock::now_ms;
use crate::secrets::{random_token, sha256_hex};
use crate::store::Role;
use crate::venues::VenueHandle;
use app::protocol::{ErrorBody, PairRequest, Paired, PairingCode, ScreenInfo, ScreenSettings};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// How long a pairing code can be typed in.
pub const PAIRING_MINUTES: i64 = 10;

/// Pairing codes: 8 characters without look-alikes (40 bits), typed once within 10 minutes,
/// and pairing attempts are rate-limited per address like joins.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

fn new_code() -> String {
    crate::secrets::random_chars::<8>(CODE_ALPHABET)
}

/// Codes are typed by people: ignore case, spaces and dashes.
fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn manager(at: &StaffAt) -> Result<(), ApiError> {
    if at.role < Role::Manager {
        return Err(ApiError::forbidden());
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/screens/pairing-code", tag = "staff",
    summary = "A one-time code (10 minutes) to pair a venue screen (managers and owners)",
    params(("venue" = String, Path)),
    responses((status = 201, body = PairingCode), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn pairing_code(State(s): State<AppState>, at: StaffAt) -> Result<Response, ApiError> {
    manager(&at)?;
    let code = new_code();
    let expires_at = now_ms() + PAIRING_MINUTES * 60_000;
    s.store
        .create_pairing_code(
            &sha256_hex(&code),
            at.venue.id,
            Some(at.auth.user_id),
            expires_at,
        )
        .await?;
    let shown = format!("{}-{}", &code[..4], &code[4..]);
    Ok((
        StatusCode::CREATED,
        Json(PairingCode {
            code: shown,
            expires_at,
        }),
    )
        .into_response())
}

#[utoipa::path(post, path = "/api/v1/screens/pair", tag = "public",
    summary = "Pair a venue screen with a code from the dashboard; returns its display-only credential",
    request_body = PairRequest,
    responses((status = 201, body = Paired), (status = 404, body = ErrorBody, description = "Unknown, used or expired code"),
        (status = 429, body = ErrorBody)))]
pub async fn pair(
    State(s): State<AppState>,
    super::extract::ClientIp(ip): super::extract::ClientIp,
    ApiJson(body): ApiJson<PairRequest>,
) -> Result<Response, ApiError> {
    s.limits
        .pairing_per_ip
        .check(&ip.to_string(), std::time::Instant::now())
        .map_err(|wait| {
            ApiError::too_many(
                "rate_limited",
                "Too many pairing attempts from this network; wait a moment and try again.",
                wait,
            )
        })?;
    let code = normalise_code(&body.code);
    let name = body.name.trim();
    let name = if name.is_empty() {
        "Venue screen"
    } else {
        name
    };
    if name.chars().count() > 60 {
        return Err(ApiError::unprocessable(
            "invalid_name",
            "the screen's name can be at most 60 characters",
        ));
    }
    let token = random_token();
    let not_found = || {
        ApiError::not_found(
            "pairing_code_invalid",
            "that code is not valid (codes work once, for 10 minutes); make a new one on the dashboard",
        )
    };
    if code.len() != 8 {
        return Err(not_found());
    }
    let (venue, screen_id) = s
        .store
        .pair_screen(&sha256_hex(&code), name, &sha256_hex(&token), now_ms())
        .await?
        .ok_or_else(not_found)?;
    Ok((
        StatusCode::CREATED,
        Json(Paired {
            token,
            venue,
            screen_id,
        }),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/venues/{venue}/screens", tag = "staff",
    summary = "Paired screens of the venue (managers and owners)",
    params(("venue" = String, Path)),
    responses((status = 200, body = Vec<ScreenInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    at: StaffAt,
) -> Result<Json<Vec<ScreenInfo>>, ApiError> {
    manager(&at)?;
    Ok(Json(
        s.store
            .screens(at.venue.id)
            .await?
            .into_iter()
            .map(|r| ScreenInfo {
                id: r.id,
                name: r.name,
                paired_at: r.created_at,
                revoked: r.revoked_at.is_some(),
            })
            .collect(),
    ))
}

#[utoipa::path(delete, path = "/api/v1/venues/{venue}/screens/{id}", tag = "staff",
    summary = "Revoke a screen's credential (managers and owners); it stops at once",
    params(("venue" = String, Path), ("id" = i64, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke(
    State(s): State<AppState>,
    at: StaffAt,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    manager(&at)?;
    let not_found = || ApiError::not_found("screen_not_found", "no such screen");
    let id: i64 = id.parse().map_err(|_| not_found())?;
    if s.store.revoke_screen(at.venue.id, id, now_ms()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

#[utoipa::path(get, path = "/api/v1/venues/{venue}/screens/settings", tag = "staff",
    summary = "Whether the venue screen must be paired (managers and owners)",
    params(("venue" = String, Path)),
    responses((status = 200, body = ScreenSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn settings(
    State(s): State<AppState>,
    at: StaffAt,
) -> Result<Json<ScreenSettings>, ApiError> {
    manager(&at)?;
    Ok(Json(ScreenSettings {
        need_pairing: s.store.screens_need_pairing(at.venue.id).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/screens/settings", tag = "staff",
    summary = "Require pairing for the venue screen, or not (owners)",
    params(("venue" = String, Path)),
    request_body = ScreenSettings,
    responses((status = 200, body = ScreenSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_settings(
    State(s): State<AppState>,
    super::auth::OwnerAt(at): super::auth::OwnerAt,
    ApiJson(body): ApiJson<ScreenSettings>,
) -> Result<Json<ScreenSettings>, ApiError> {
    s.store
        .set_screens_need_pairing(at.venue.id, body.need_pairing)
        .await?;
    s.access.remember_pairing(at.venue.id, body.need_pairing);
    Ok(Json(body))
}

/// May this request see the venue's display? Always, unless the venue requires pairing:
/// then a live screen credential of this venue (`?screen=` or bearer), or its staff.
pub(super) async fn may_view_display(
    s: &AppState,
    venue: &VenueHandle,
    screen: Option<&str>,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let need = match s.store.screens_need_pairing(venue.id).await {
        Ok(need) => {
            s.access.remember_pairing(venue.id, need);
            need
        }
        // Storage unreachable (distributed mode, MySQL down): the last answer stands.
        Err(e) => s.access.pairing(venue.id).ok_or(e)?,
    };
    if !need {
        return Ok(());
    }
    may_view_display_strict(s, venue, screen, method, headers).await
}

/// A live screen credential of this venue, or its staff, whatever the venue's setting.
pub(super) async fn may_view_display_strict(
    s: &AppState,
    venue: &VenueHandle,
    screen: Option<&str>,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.get(7..)
                .filter(|_| v[..7].eq_ignore_ascii_case("bearer "))
        });
    if let Some(token) = screen
        .or(bearer)
        .filter(|t| !t.is_empty() && t.len() <= 200)
        && let Some((_, venue_id, _)) = s.store.screen(&sha256_hex(token)).await?
        && venue_id == venue.id
    {
        return Ok(());
    }
    if let Ok(staff) = StaffAuth::from_headers(s, method, headers).await
        && s.store.role_at(staff.user_id, venue.id).await?.is_some()
    {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "pairing_required",
        "this venue screen needs to be paired: a manager makes a code on the staff dashboard",
    ))
}
