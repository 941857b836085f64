//! Extractors whose failures speak the API's error format instead of axum's plain text.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::net::IpAddr;

/// The client's address for rate limits ([`super::limits::client_ip`]): read from the
/// request in place, where a `HeaderMap` argument would copy every header of every join.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<super::AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &super::AppState,
    ) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<super::peer::Peer>>()
            .map(|ConnectInfo(peer)| peer.addr)
            .ok_or_else(|| ApiError::from(anyhow::anyhow!("the server gave no peer address")))?;
        Ok(Self(super::limits::client_ip(
            peer,
            &parts.headers,
            state.config.trust_proxy,
        )))
    }
}

/// A JSON body (`Content-Type: application/json` required).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// A JSON body that may be absent or empty (action endpoints): empty means `T::default()`.
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(bytes_rejection)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        parse_json(&bytes).map(Self)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            ApiError::unprocessable(
                "invalid_body",
                format!("the request body does not fit: {e}"),
            )
        } else {
            ApiError::bad_request(
                "malformed_json",
                format!("the request body is not valid JSON: {e}"),
            )
        }
    })
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonDataError(e) => ApiError::unprocessable(
            "invalid_body",
            format!("the request body does not fit: {}", e.body_text()),
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
            "malformed_json",
            format!("the request body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with 'Content-Type: application/json'",
        ),
        JsonRejection::BytesRejection(b) => bytes_rejection(b),
        other => ApiError::new(other.status(), "bad_request", other.body_text()),
    }
}

fn bytes_rejection(r: BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the request body is larger than {} bytes",
                super::MAX_BODY_BYTES
            ),
        )
    } else {
        ApiError::new(r.status(), "bad_request", r.body_text())
    }
}
