//! Staff sign-in: argon2id passwords, opaque session tokens stored hashed, and the extractor
//! every staff route uses.
//!
//! A token works as `Authorization: Bearer` everywhere. The HttpOnly cookie set at login is
//! only accepted for reads and WebSocket upgrades (with an Origin check), so a cookie can
//! never be used to change anything from another site (no CSRF surface).

use super::AppState;
use super::error::ApiError;
use super::extract::ApiJson;
use crate::clock::now_ms;
use crate::secrets::{
    check_password_strength, hash_password, random_password, random_token, sha256_hex,
    verify_password,
};
use crate::store::Role;
use crate::venues::VenueHandle;
use app::protocol::{
    ChangePassword, ErrorBody, LoginRequest, LoginResponse, MeResponse, PasswordReset, RoleChange,
    StaffMember, StaffVenue,
};
use axum::Json;
use axum::extract::{FromRequestParts, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const SESSION_COOKIE: &str = "fila_session";
/// The hash of a random password, verified when the e-mail is unknown so that a login takes
/// as long for a stranger as for a staff member.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            crate::secrets::hash_password(&crate::secrets::random_password()).unwrap_or_default()
        })
        .clone()
}

/// The staff account behind a request.
#[derive(Debug, Clone)]
pub struct StaffAuth {
    pub user_id: i64,
    pub email: String,
    token_hash: String,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    // The scheme is case-insensitive (RFC 9110 §11.1).
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
}

/// A cookie-carried request must come from our own pages: same Origin as Host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        // Browsers always send Origin on WebSocket upgrades and cross-site requests.
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest == host)
}

impl FromRequestParts<AppState> for StaffAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        Self::from_headers(s, &parts.method, &parts.headers).await
    }
}

impl StaffAuth {
    /// The staff session behind a request's bearer token or (GET and same-origin only) cookie.
    pub async fn from_headers(
        s: &AppState,
        method: &Method,
        headers: &HeaderMap,
    ) -> Result<Self, ApiError> {
        let token = match bearer(headers) {
            Some(t) => t,
            None => {
                let t = cookie(headers).ok_or_else(ApiError::unauthorized)?;
                if method != Method::GET || !same_origin(headers) {
                    return Err(ApiError::unauthorized());
                }
                t
            }
        };
        if token.is_empty() || token.len() > 200 {
            return Err(ApiError::unauthorized());
        }
        let token_hash = sha256_hex(token);
        let found = match s.store.session_user(&token_hash, now_ms()).await {
            Ok(found) => {
                s.access.remember_session(&token_hash, found.as_ref());
                found
            }
            Err(e) => s.access.session(&token_hash).ok_or(e)?,
        };
        let (user_id, email) = found.ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "session_expired",
                "your session has ended; log in again",
            )
        })?;
        Ok(Self {
            user_id,
            email,
            token_hash,
        })
    }
}

/// A venue's join-code setting: required, and the secret codes derive from.
type JoinCodeSetting = (bool, Option<String>);

/// Sessions and roles as last read from storage, used only while storage cannot be read
/// (distributed mode: a MySQL outage must not stop staff from calling people).
///
/// Storage stays the authority whenever it answers: a logout or a role change anywhere takes
/// effect at once, except on instances that cannot reach MySQL, and there for at most
/// [`AccessCache::STALE_FOR`].
#[derive(Default)]
pub struct AccessCache {
    sessions: std::sync::Mutex<std::collections::HashMap<String, (i64, String, Instant)>>,
    roles: std::sync::Mutex<std::collections::HashMap<(i64, i64), (Role, Instant)>>,
    /// Per venue: whether its screens need pairing (read on every display connect).
    pairing: std::sync::Mutex<std::collections::HashMap<i64, bool>>,
    /// Per venue: whether joining needs the rotating code, and its secret.
    join_codes: std::sync::Mutex<std::collections::HashMap<i64, (JoinCodeSetting, Instant)>>,
}

impl AccessCache {
    pub const STALE_FOR: Duration = Duration::from_secs(600);
    /// Entries kept at most; past this the cache is cleared (it is only a fallback).
    const MAX_ENTRIES: usize = 10_000;

    pub(super) fn remember_session(&self, token_hash: &str, found: Option<&(i64, String)>) {
        let mut m = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match found {
            Some((id, email)) => {
                if m.len() >= Self::MAX_ENTRIES {
                    m.clear();
                }
                m.insert(token_hash.to_owned(), (*id, email.clone(), Instant::now()));
            }
            None => {
                m.remove(token_hash);
            }
        }
    }

    fn session(&self, token_hash: &str) -> Option<Option<(i64, String)>> {
        let m = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let (id, email, seen) = m.get(token_hash)?;
        (seen.elapsed() < Self::STALE_FOR).then(|| Some((*id, email.clone())))
    }

    pub(super) fn remember_role(&self, user: i64, venue: i64, role: Option<Role>) {
        let mut m = self.roles.lock().unwrap_or_else(|e| e.into_inner());
        match role {
            Some(r) => {
                if m.len() >= Self::MAX_ENTRIES {
                    m.clear();
                }
                m.insert((user, venue), (r, Instant::now()));
            }
            None => {
                m.remove(&(user, venue));
            }
        }
    }

    pub(super) fn remember_pairing(&self, venue: i64, need: bool) {
        let mut m = self.pairing.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(venue, need);
    }

    pub(super) fn remember_join_code(&self, venue: i64, found: (bool, Option<String>)) {
        let mut m = self.join_codes.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(venue, (found, Instant::now()));
    }

    /// The last answer, with how long ago it was read.
    pub(super) fn join_code(&self, venue: i64) -> Option<((bool, Option<String>), Duration)> {
        let m = self.join_codes.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&venue).map(|(v, at)| (v.clone(), at.elapsed()))
    }

    pub(super) fn pairing(&self, venue: i64) -> Option<bool> {
        let m = self.pairing.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&venue).copied()
    }

    fn role(&self, user: i64, venue: i64) -> Option<Option<Role>> {
        let m = self.roles.lock().unwrap_or_else(|e| e.into_inner());
        let (role, seen) = m.get(&(user, venue))?;
        (seen.elapsed() < Self::STALE_FOR).then_some(Some(*role))
    }
}

/// A staff member of the venue named in the path (`{venue}`), with their role there.
///
/// Being a `FromRequestParts` extractor, it runs before any body is read: someone without
/// access gets 401/403 whatever they sent, and learns nothing about the route's input.
pub struct StaffAt {
    pub auth: StaffAuth,
    pub venue: Arc<VenueHandle>,
    pub role: Role,
}

impl FromRequestParts<AppState> for StaffAt {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        let auth = StaffAuth::from_request_parts(parts, s).await?;
        let params = RawPathParams::from_request_parts(parts, s)
            .await
            .map_err(|_| ApiError::venue_not_found())?;
        let slug = params
            .iter()
            .find_map(|(k, v)| (k == "venue").then_some(v))
            .ok_or_else(ApiError::venue_not_found)?;
        super::public::check_param(slug, "venue")?;
        let venue = s.venue(slug).await?;
        let role = match s.store.role_at(auth.user_id, venue.id).await {
            Ok(role) => {
                s.access.remember_role(auth.user_id, venue.id, role);
                role
            }
            Err(e) => s.access.role(auth.user_id, venue.id).ok_or(e)?,
        };
        match role {
            Some(role) => Ok(Self { auth, venue, role }),
            None => Err(ApiError::forbidden()),
        }
    }
}

/// An owner of the venue in the path, decided (like [`StaffAt`]) before any body is read.
pub struct OwnerAt(pub StaffAt);

impl FromRequestParts<AppState> for OwnerAt {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        let at = StaffAt::from_request_parts(parts, s).await?;
        if at.role < Role::Owner {
            return Err(ApiError::forbidden());
        }
        Ok(Self(at))
    }
}

/// A manager or owner of the venue in the path, decided before any body is read.
pub struct ManagerAt(pub StaffAt);

impl FromRequestParts<AppState> for ManagerAt {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        let at = StaffAt::from_request_parts(parts, s).await?;
        if at.role < Role::Manager {
            return Err(ApiError::forbidden());
        }
        Ok(Self(at))
    }
}

async fn staff_venues(s: &AppState, user_id: i64) -> Result<Vec<StaffVenue>, ApiError> {
    Ok(s.store
        .roles(user_id)
        .await?
        .into_iter()
        .map(|(slug, name, role)| StaffVenue {
            slug,
            name,
            role: role.as_str().to_owned(),
        })
        .collect())
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "staff",
    summary = "Log in; returns a bearer token and sets an HttpOnly cookie",
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "Locked out after repeated wrong passwords; see Retry-After")))]
pub async fn login(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let email = body.email.trim().to_lowercase();
    if email.is_empty()
        || email.len() > 254
        || body.password.is_empty()
        || body.password.len() > 1024
    {
        return Err(ApiError::unprocessable(
            "invalid_credentials_format",
            "give an e-mail address and a password",
        ));
    }
    let now_instant = std::time::Instant::now();
    s.limits.logins.check(&email, now_instant).map_err(|wait| {
        ApiError::too_many(
            "locked_out",
            format!(
                "too many wrong passwords for this account; try again in {} s",
                wait.as_secs().max(1)
            ),
            wait,
        )
    })?;
    let user = s.store.user_by_email(&email).await?;
    let hash = user
        .as_ref()
        .map_or_else(dummy_hash, |u| u.password_hash.clone());
    let password = body.password;
    // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| anyhow::anyhow!("password check: {e}"))?;
    let Some(user) = user.filter(|_| ok) else {
        s.limits.logins.failed(&email, now_instant);
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong e-mail or password",
        ));
    };
    s.limits.logins.succeeded(&email);
    start_session(&s, &headers, user.id, user.email).await
}

/// Open a session for an account: the token in the body and as an HttpOnly cookie.
pub(super) async fn start_session(
    s: &AppState,
    headers: &HeaderMap,
    user_id: i64,
    email: String,
) -> Result<Response, ApiError> {
    let token = random_token();
    let now = now_ms();
    let expires_at = now + s.config.session_hours as i64 * 3_600_000;
    s.store
        .create_session(&sha256_hex(&token), user_id, now, expires_at)
        .await?;
    let secure = s.config.public_url().starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|p| p == "https");
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        s.config.session_hours as u64 * 3600,
        if secure { "; Secure" } else { "" }
    );
    let body = LoginResponse {
        token,
        expires_at,
        email,
        venues: staff_venues(s, user_id).await?,
    };
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| anyhow::anyhow!("cookie: {e}"))?,
    );
    Ok(resp)
}

#[utoipa::path(post, path = "/api/v1/auth/password", tag = "staff",
    summary = "Change your own password; ends every session of the account and logs this device in again",
    request_body = ChangePassword,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn change_password(
    State(s): State<AppState>,
    headers: HeaderMap,
    auth: StaffAuth,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<Response, ApiError> {
    check_password_strength(&body.new_password)
        .map_err(|m| ApiError::unprocessable("weak_password", m))?;
    let user = s
        .store
        .user_by_email(&auth.email)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let (current, hash) = (body.current_password, user.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || verify_password(&current, &hash))
        .await
        .map_err(|e| anyhow::anyhow!("password check: {e}"))?;
    if !ok {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "the current password is not right",
        ));
    }
    let new = body.new_password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&new))
        .await
        .map_err(|e| anyhow::anyhow!("password hash: {e}"))??;
    s.store.set_password(user.id, &hash).await?;
    s.access.remember_session(&auth.token_hash, None);
    start_session(&s, &headers, user.id, user.email).await
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/staff/{email}/reset-password", tag = "staff",
    summary = "Give a staff member or manager of this venue a new generated password (owners); their sessions end",
    params(("venue" = String, Path), ("email" = String, Path)),
    responses((status = 200, body = PasswordReset), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn reset_staff_password(
    State(s): State<AppState>,
    OwnerAt(at): OwnerAt,
    axum::extract::Path((_, email)): axum::extract::Path<(String, String)>,
) -> Result<Json<PasswordReset>, ApiError> {
    let email = email.trim().to_lowercase();
    let not_found = || ApiError::not_found("staff_not_found", "no such staff member at this venue");
    let user = s.store.user_by_email(&email).await?.ok_or_else(not_found)?;
    // Only people this owner is responsible for: staff or managers here, and at no venue
    // where the owner is not an owner too (an owner cannot lock out another owner).
    let theirs = s.store.roles(user.id).await?;
    let mine = s.store.roles(at.auth.user_id).await?;
    if !theirs.iter().any(|(slug, _, _)| *slug == at.venue.slug) {
        return Err(not_found());
    }
    let allowed = theirs.iter().all(|(slug, _, role)| {
        *role != Role::Owner && mine.iter().any(|(m, _, r)| m == slug && *r == Role::Owner)
    });
    if !allowed || user.id == at.auth.user_id {
        return Err(ApiError::forbidden());
    }
    let password = random_password();
    let p = password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&p))
        .await
        .map_err(|e| anyhow::anyhow!("password hash: {e}"))??;
    s.store.set_password(user.id, &hash).await?;
    Ok(Json(PasswordReset { email, password }))
}

#[utoipa::path(get, path = "/api/v1/venues/{venue}/staff", tag = "staff",
    summary = "Everyone who works at the venue, with their role (managers and owners)",
    params(("venue" = String, Path)),
    responses((status = 200, body = Vec<StaffMember>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_staff(
    State(s): State<AppState>,
    ManagerAt(at): ManagerAt,
) -> Result<Json<Vec<StaffMember>>, ApiError> {
    Ok(Json(
        s.store
            .venue_staff(at.venue.id)
            .await?
            .into_iter()
            .map(|(_, email, role)| StaffMember {
                email,
                role: role.as_str().to_owned(),
            })
            .collect(),
    ))
}

/// The staff member `email` at this owner's venue, refusing changes to the owner's own role
/// (an owner cannot lock the venue out by demoting or removing themselves).
async fn member(s: &AppState, at: &StaffAt, email: &str) -> Result<i64, ApiError> {
    let email = email.trim().to_lowercase();
    let not_found = || ApiError::not_found("staff_not_found", "no such staff member at this venue");
    let user = s.store.user_by_email(&email).await?.ok_or_else(not_found)?;
    if s.store.role_at(user.id, at.venue.id).await?.is_none() {
        return Err(not_found());
    }
    if user.id == at.auth.user_id {
        return Err(ApiError::unprocessable(
            "own_role",
            "you cannot change or remove your own role; another owner can",
        ));
    }
    Ok(user.id)
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/staff/{email}/role", tag = "staff",
    summary = "Change someone's role at the venue (owners; not their own)",
    params(("venue" = String, Path), ("email" = String, Path)),
    request_body = RoleChange,
    responses((status = 200, body = StaffMember), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn change_role(
    State(s): State<AppState>,
    OwnerAt(at): OwnerAt,
    axum::extract::Path((_, email)): axum::extract::Path<(String, String)>,
    ApiJson(body): ApiJson<RoleChange>,
) -> Result<Json<StaffMember>, ApiError> {
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::unprocessable("invalid_role", "role must be staff, manager or owner")
    })?;
    let user_id = member(&s, &at, &email).await?;
    s.store.set_role(at.venue.id, user_id, role).await?;
    s.access.remember_role(user_id, at.venue.id, Some(role));
    Ok(Json(StaffMember {
        email: email.trim().to_lowercase(),
        role: role.as_str().to_owned(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/venues/{venue}/staff/{email}", tag = "staff",
    summary = "Remove someone from the venue (owners; not themselves): their access here ends at once",
    params(("venue" = String, Path), ("email" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove_staff(
    State(s): State<AppState>,
    OwnerAt(at): OwnerAt,
    axum::extract::Path((_, email)): axum::extract::Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user_id = member(&s, &at, &email).await?;
    s.store.remove_role(at.venue.id, user_id).await?;
    s.access.remember_role(user_id, at.venue.id, None);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "staff",
    summary = "End this session (the token stops working at once)",
    responses((status = 204), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn logout(State(s): State<AppState>, auth: StaffAuth) -> Result<Response, ApiError> {
    s.store.delete_session(&auth.token_hash).await?;
    s.access.remember_session(&auth.token_hash, None);
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&clear).expect("ascii"),
    );
    Ok(resp)
}

#[utoipa::path(get, path = "/api/v1/auth/me", tag = "staff",
    summary = "Who this credential belongs to",
    responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn me(State(s): State<AppState>, auth: StaffAuth) -> Result<Json<MeResponse>, ApiError> {
    Ok(Json(MeResponse {
        email: auth.email.clone(),
        venues: staff_venues(&s, auth.user_id).await?,
    }))
}
