//! Staff invites: an owner invites someone by e-mail; the person opens the single-use,
//! expiring link, sets a password (or confirms theirs) and is logged in with the role.
//! The link's token is shown once; only its SHA-256 is stored.

use super::AppState;
use super::auth::{OwnerAt, start_session};
use super::error::ApiError;
use super::extract::ApiJson;
use super::public::check_param;
use crate::clock::now_ms;
use crate::secrets::{
    check_password_strength, hash_password, random_token, sha256_hex, verify_password,
};
use crate::store::{Invite, NewInvite, Role, Store};
use app::protocol::{
    AcceptInvite, ErrorBody, InviteCreated, InviteInfo, InviteRequest, LoginResponse,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// How long an invite link works.
pub const INVITE_HOURS: i64 = 72;

/// Create an invite and return its link (shared by the API and the CLI).
pub async fn create(
    store: &Store,
    public_url: &str,
    venue_id: i64,
    email: &str,
    role: Role,
    created_by: Option<i64>,
) -> anyhow::Result<InviteCreated> {
    let token = random_token();
    let now = now_ms();
    let expires_at = now + INVITE_HOURS * 3_600_000;
    store
        .create_invite(&NewInvite {
            token_hash: &sha256_hex(&token),
            venue_id,
            email,
            role,
            created_by,
            now,
            expires_at,
        })
        .await?;
    Ok(InviteCreated {
        url: format!("{public_url}/invite/{token}"),
        email: email.to_owned(),
        role: role.as_str().to_owned(),
        expires_at,
    })
}

/// A normalised e-mail address, or a clear refusal.
pub fn check_email(email: &str) -> Result<String, String> {
    let email = email.trim().to_lowercase();
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(a, d)| !a.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(email)
    } else {
        Err(format!("{email:?} is not an e-mail address"))
    }
}

#[utoipa::path(post, path = "/api/v1/venues/{venue}/invites", tag = "staff",
    summary = "Invite someone by e-mail (owners): returns a single-use link valid for 72 hours",
    params(("venue" = String, Path)),
    request_body = InviteRequest,
    responses((status = 201, body = InviteCreated), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn invite(
    State(s): State<AppState>,
    OwnerAt(at): OwnerAt,
    ApiJson(body): ApiJson<InviteRequest>,
) -> Result<Response, ApiError> {
    let email =
        check_email(&body.email).map_err(|m| ApiError::unprocessable("invalid_email", m))?;
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::unprocessable("invalid_role", "role must be staff, manager or owner")
    })?;
    let created = create(
        &s.store,
        &s.config.public_url(),
        at.venue.id,
        &email,
        role,
        Some(at.auth.user_id),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// The invite behind a token, if it can still be used.
async fn usable(s: &AppState, token: &str) -> Result<Invite, ApiError> {
    check_param(token, "token")?;
    let gone = |m: &str| ApiError::new(StatusCode::GONE, "invite_unusable", m.to_owned());
    let invite =
        s.store.invite(&sha256_hex(token)).await?.ok_or_else(|| {
            ApiError::not_found("invite_not_found", "this invite link is not valid")
        })?;
    if invite.used_at.is_some() {
        return Err(gone(
            "this invite has already been used; log in, or ask the owner for a new one",
        ));
    }
    if invite.expires_at <= now_ms() {
        return Err(gone("this invite has expired; ask the owner for a new one"));
    }
    Ok(invite)
}

#[utoipa::path(get, path = "/api/v1/invites/{token}", tag = "staff",
    summary = "What an invite is for (the link's token is the credential)",
    params(("token" = String, Path)),
    responses((status = 200, body = InviteInfo), (status = 404, body = ErrorBody),
        (status = 410, body = ErrorBody, description = "Used or expired")))]
pub async fn show(
    State(s): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<InviteInfo>, ApiError> {
    let invite = usable(&s, &token).await?;
    let existing_account = s.store.user_by_email(&invite.email).await?.is_some();
    Ok(Json(InviteInfo {
        venue: invite.venue_slug,
        venue_name: invite.venue_name,
        email: invite.email,
        role: invite.role.as_str().to_owned(),
        expires_at: invite.expires_at,
        existing_account,
    }))
}

#[utoipa::path(post, path = "/api/v1/invites/{token}/accept", tag = "staff",
    summary = "Accept an invite: set a password (new account) or give yours (existing account); logs in",
    params(("token" = String, Path)),
    request_body = AcceptInvite,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn accept(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<AcceptInvite>,
) -> Result<Response, ApiError> {
    let invite = usable(&s, &token).await?;
    let existing = s.store.user_by_email(&invite.email).await?;
    let password = body.password;
    let user_id = match existing {
        Some(user) => {
            // Joining another venue with an account you already have: prove it is yours.
            let hash = user.password_hash.clone();
            let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
                .await
                .map_err(|e| anyhow::anyhow!("password check: {e}"))?;
            if !ok {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_credentials",
                    "that is not this account's password",
                ));
            }
            claim(&s, &token).await?;
            user.id
        }
        None => {
            check_password_strength(&password)
                .map_err(|m| ApiError::unprocessable("weak_password", m))?;
            let hash = tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .map_err(|e| anyhow::anyhow!("password hash: {e}"))??;
            claim(&s, &token).await?;
            s.store.create_user(&invite.email, &hash, now_ms()).await?
        }
    };
    s.store
        .set_role(invite.venue_id, user_id, invite.role)
        .await?;
    start_session(&s, &headers, user_id, invite.email).await
}

/// Use the invite up: whoever gets here second (a double click, a shared link) is refused.
async fn claim(s: &AppState, token: &str) -> Result<(), ApiError> {
    if s.store.use_invite(&sha256_hex(token), now_ms()).await? {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::GONE,
            "invite_unusable",
            "this invite has already been used or has expired",
        ))
    }
}
