//! One place that turns every failure into a status code and `{"error": {"code", "message"}}`.

use crate::venues::ExecError;
use app::domain::DomainError;
use app::protocol::{ErrorBody, ErrorDetail};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Sent as `Retry-After` (seconds) on 429s.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn too_many(
        code: &'static str,
        message: impl Into<String>,
        wait: std::time::Duration,
    ) -> Self {
        Self {
            retry_after: Some(wait.as_secs().max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, message)
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "log in first: send 'Authorization: Bearer <token>'",
        )
    }
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "your account has no access to this venue",
        )
    }
    pub fn venue_not_found() -> Self {
        Self::not_found("venue_not_found", "no such venue")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let status = match e {
            DomainError::QueueNotFound
            | DomainError::TicketNotFound
            | DomainError::CounterNotFound => StatusCode::NOT_FOUND,
            DomainError::QueuePaused
            | DomainError::QueueClosed
            | DomainError::QueueFull
            | DomainError::NobodyWaiting
            | DomainError::InvalidTransition { .. }
            | DomainError::SameQueue
            | DomainError::TokenInUse
            | DomainError::AlreadyExists
            | DomainError::OutsideOpenHours { .. }
            | DomainError::QueueNotEmpty { .. }
            | DomainError::CounterInUse => StatusCode::CONFLICT,
        };
        Self::new(status, e.code(), e.to_string())
    }
}

impl From<ExecError> for ApiError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Domain(d) => d.into(),
            ExecError::Storage(err) => {
                tracing::error!(error = %format!("{err:#}"), "storage failure");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "could not save right now; nothing was changed, please try again",
                )
            }
            ExecError::ShuttingDown => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the server is restarting; please try again in a moment",
            ),
        }
    }
}

/// Unexpected failures: logged in full, answered without details (no SQL, no stack).
impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        if let Some(d) = e.downcast_ref::<crate::store::Duplicate>() {
            return Self::new(StatusCode::CONFLICT, "already_exists", d.0.clone());
        }
        tracing::error!(error = %format!("{e:#}"), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side",
        )
    }
}
