//! Errors as RFC 9457 problem details (`application/problem+json`): a stable `type`, a
//! human `title` and `detail`, and for invalid input a list of the fields at fault. Causes of
//! internal errors are logged once, here, and never shown to the caller.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

/// One field at fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldProblem {
    /// JSON path of the field (`facts.progress_percent`), or a header or part name.
    pub field: String,
    pub message: String,
}

/// The body of every error answer.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem, e.g. `/problems/validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// What every endpoint behind an API key may answer besides its own responses (OpenAPI):
/// 401 (no key, a bad or revoked key) and 403 (the key's role may not do this).
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum KeyProblems {
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
}

/// What an endpoint taking a JSON body may answer about the body (OpenAPI): 400 (not JSON),
/// 413 (too large), 415 (not `application/json`) and 422 (fields at fault).
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum JsonBodyProblems {
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(Problem),
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldProblem>,
    retry_after_secs: Option<u64>,
    database_timed_out: bool,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: String,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail,
            errors: Vec::new(),
            retry_after_secs: None,
            database_timed_out: false,
        }
    }

    /// Input that does not make sense; `errors` names the fields.
    pub fn validation(detail: impl Into<String>, errors: Vec<FieldProblem>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "The request is not valid",
            detail.into(),
        );
        e.errors = errors;
        e
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::validation(
            message.clone(),
            vec![FieldProblem {
                field: field.into(),
                message,
            }],
        )
    }

    /// A body that is not JSON, or JSON of the wrong shape.
    pub fn malformed(detail: impl Into<String>, field: Option<String>) -> Self {
        let detail = detail.into();
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "The request body could not be read",
            detail.clone(),
        );
        if let Some(field) = field {
            e.errors = vec![FieldProblem {
                field,
                message: detail,
            }];
        }
        e
    }

    /// A body of the wrong shape at one field.
    pub fn malformed_field(
        detail: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let mut e = Self::malformed(detail, None);
        e.errors = vec![FieldProblem {
            field: field.into(),
            message: message.into(),
        }];
        e
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "An API key is needed",
            detail.into(),
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "This key's role may not do that",
            detail.into(),
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            detail.into(),
        )
    }

    pub fn gone(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "gone", "No longer here", detail.into())
    }

    pub fn conflict(slug: &'static str, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            slug,
            "The request conflicts with the current state",
            detail.into(),
        )
    }

    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "The request is too large",
            detail.into(),
        )
    }

    pub fn unsupported_media(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported content type",
            detail.into(),
        )
    }

    pub fn too_many_attempts(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-failed-attempts",
            "Too many failed authentication attempts",
            format!(
                "too many requests with a bad API key from this address or with this key; try again in {retry_after_secs} s (a valid key is never refused)"
            ),
        );
        e.retry_after_secs = Some(retry_after_secs);
        e
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "A service the API depends on is unavailable",
            detail.into(),
        )
    }

    /// The client did not send its request in time.
    pub fn request_timeout(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "The request did not arrive in time",
            detail.into(),
        )
    }

    /// The answer took longer than the API allows itself.
    pub fn answer_timeout(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "answer-timeout",
            "The request could not be answered in time",
            detail.into(),
        )
    }

    /// Something went wrong on our side: logged with its cause, answered without it.
    /// A pool that gave no connection in time is no fault of the caller's or a bug: 503 with a
    /// Retry-After, the server's own reason logged by the router (see [`DatabaseTimedOut`]).
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let cause = cause.into();
        let pool_timed_out = cause.chain().any(|e| {
            matches!(
                e.downcast_ref::<sqlx::Error>(),
                Some(sqlx::Error::PoolTimedOut)
            )
        });
        if pool_timed_out {
            let mut e = Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unavailable",
                "The database is not answering",
                "the database gave no connection in time; nothing was stored; try again in a \
                 few seconds (the service's log names the database's reason)"
                    .into(),
            );
            e.retry_after_secs = Some(5);
            e.database_timed_out = true;
            return e;
        }
        tracing::error!(
            error = format!("{cause:#}"),
            "internal error answering a request"
        );
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "something went wrong on our side; nothing was half-stored, and the request can be retried".into(),
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("/problems/{}", self.slug),
            title: self.title.to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal(e)
    }
}

/// A move of a request that could not be written: another writer moved it first (409, read
/// it again), the move is not legal from where it is (409), or it is gone (404).
impl From<shared::requests::ExtendError> for ApiError {
    fn from(e: shared::requests::ExtendError) -> Self {
        match e {
            shared::requests::ExtendError::Database(e) => e.into(),
            shared::requests::ExtendError::Calendar(e) => ApiError::internal(e),
        }
    }
}

impl From<shared::transition::TransitionError> for ApiError {
    fn from(e: shared::transition::TransitionError) -> Self {
        use shared::transition::TransitionError;
        match e {
            TransitionError::Stale { .. } => ApiError::conflict("stale-version", e.to_string()),
            TransitionError::Illegal(illegal) => {
                ApiError::conflict("illegal-transition", illegal.to_string())
            }
            TransitionError::NotFound(id) => ApiError::not_found(format!("no refund request {id}")),
            TransitionError::Database(db) => ApiError::from(db),
            TransitionError::Empty => ApiError::internal(anyhow::anyhow!(e)),
        }
    }
}

/// Marks an answer given because the database gave no connection in time: the router's
/// `database_trouble` layer then asks the server why and logs its words.
#[derive(Clone, Copy, Debug)]
pub struct DatabaseTimedOut;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).expect("problems serialize");
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.database_timed_out {
            response.extensions_mut().insert(DatabaseTimedOut);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"refundd\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::lifecycle::RequestState;
    use shared::transition::TransitionError;

    #[test]
    fn a_stale_or_illegal_move_is_a_conflict_not_an_internal_error() {
        let id = uuid::Uuid::nil();
        let stale = ApiError::from(TransitionError::Stale {
            request_id: id,
            expected_version: 3,
            expected_state: RequestState::Approved,
        });
        assert_eq!(stale.status(), StatusCode::CONFLICT);
        assert_eq!(stale.problem().kind, "/problems/stale-version");
        assert!(stale.problem().detail.contains("reload and try again"));
        let illegal = ApiError::from(TransitionError::Illegal(
            shared::lifecycle::check_transition(RequestState::Refunded, RequestState::Approved)
                .unwrap_err(),
        ));
        assert_eq!(illegal.status(), StatusCode::CONFLICT);
        let gone = ApiError::from(TransitionError::NotFound(id));
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    }
}
