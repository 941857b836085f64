//! What every response gets on its way out, as plain functions over the response: one
//! `map_response` per router instead of a layer per header. Each layer wrapped every route's
//! future once more, and a join burst paid for all of them on every request.

use super::error::ApiError;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;

/// Set `name` unless the handler already did (pages set their own policy, with a nonce).
fn default_header(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    if !headers.contains_key(&name) {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// Every response of the site: no other site may frame it (clickjacking a "call next"
/// button), nor sniff its types, nor learn the ticket URL it came from. `hsts` only when
/// customers reach us over HTTPS: HSTS on a plain-HTTP LAN box would lock browsers out.
pub(super) fn security(mut resp: Response, hsts: bool) -> Response {
    let headers = resp.headers_mut();
    default_header(headers, header::X_FRAME_OPTIONS, "DENY");
    // Pages get a full policy with this response's script nonce (`page_csp`); everything
    // else (JSON, files, error pages) at least may not be framed.
    default_header(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "frame-ancestors 'none'",
    );
    default_header(headers, header::REFERRER_POLICY, "same-origin");
    default_header(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if hsts {
        default_header(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000",
        );
    }
    resp
}

/// Every API response: never cached, and every error in the API's JSON shape.
pub(super) fn api(resp: Response) -> Response {
    let mut resp = json_errors(resp);
    default_header(resp.headers_mut(), header::CACHE_CONTROL, "no-store");
    resp
}

/// Rewrite a non-JSON error response (axum's own rejections, a plain GET on a socket route,
/// a bad query string, a timeout) into `{"error": {"code", "message"}}`.
fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    // Rejections carry their text in memory, so the body is there at once; a body that is
    // not (none of ours) gets the status's own words instead of a wait.
    let body = axum::body::to_bytes(resp.into_body(), 4096)
        .now_or_never()
        .and_then(Result::ok)
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let message = if text.trim().is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_owned()
    } else {
        text.trim().to_owned()
    };
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UPGRADE_REQUIRED => "upgrade_required",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    ApiError::new(status, code, message).into_response()
}
