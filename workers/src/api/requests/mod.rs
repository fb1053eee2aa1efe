//! Refund applications: create (idempotent with `Idempotency-Key`), read with full history,
//! list page by page, add missing facts, and the decisions people make (confirm, reject,
//! withdraw). Every accepted write is one transaction with its audit event and outbox rows.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::api_keys::{ApiRole, Caller};
use shared::language::Language;
use shared::lifecycle::{RequestState, check_transition};
use shared::merchants::looks_like_email;
use shared::messages::{Stage, WorkMessage};
use shared::money::{DecimalAmount, Money};
use shared::outbox::OutboxMessage;
use shared::payments::{self, Payment};
use shared::policy::{Facts, Reason};
use shared::requests::{self, Channel, NewRequest, RequestRecord};
use shared::transition::{self, Transition, TransitionError};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::ApiContext;
use super::auth::{Authenticated, must_see};
use super::extract::{ApiJson, HashedJson, OptionalJson, PathText, TextLimits, TextShape};
use super::payments::parse_id;
use super::problem::{ApiError, FieldProblem, JsonBodyProblems, KeyProblems, Problem};
use super::schemas::{DecimalText, LanguageCode, ReasonName, StateName};

mod create;
mod decisions;
mod dto;
mod list;

pub use create::*;
pub use decisions::*;
pub use dto::*;
pub use list::*;

const READERS: [ApiRole; 2] = [ApiRole::Support, ApiRole::Supervisor];

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/v1/refund-requests", post(create).get(list))
        .route("/v1/refund-requests/{id}", get(read))
        .route("/v1/refund-requests/{id}/facts", patch(add_facts))
        .route("/v1/refund-requests/{id}/confirm", post(confirm))
        .route("/v1/refund-requests/{id}/reject", post(reject))
        .route("/v1/refund-requests/{id}/withdraw", post(withdraw))
        .route("/v1/refund-requests/{id}/ask", post(ask))
}

/// The longest email address (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;

/// The longest `reason_text` (the customer's own words).
pub const REASON_TEXT_MAX: usize = 4000;

/// The longest `bank_details` (IBAN and bank, a line or two).
pub const BANK_DETAILS_MAX: usize = 200;

/// The longest note or reason a person writes into the history.
pub const NOTE_MAX: usize = 2000;

fn field(field: &str, message: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.into(),
        message: message.into(),
    }
}
