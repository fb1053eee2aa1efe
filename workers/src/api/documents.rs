//! `POST /v1/refund-requests/{id}/documents`: a scan or photo with the fields read from it
//! (multipart). The file is checked (type, size, pages), identity documents are validated
//! against the payer and the received date, the bytes are stored encrypted, and a request
//! waiting for documents is validated again.

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::api_keys::ApiRole;
use shared::documents::{self, NewDocument};
use shared::identity::{self, DocumentInput, Expectation, mask_document_number};
use shared::lifecycle::RequestState;
use shared::messages::{Stage, WorkMessage};
use shared::payments;
use shared::requests;
use shared::transition::{self, Transition};
use utoipa::ToSchema;
use uuid::Uuid;

use super::ApiContext;
use super::auth::Authenticated;
use super::extract::PathText;
use super::payments::parse_id;
use super::problem::{ApiError, FieldProblem, Problem};

/// Largest upload: a 10 MiB file plus the form around it.
const UPLOAD_LIMIT: usize = 11 * 1024 * 1024;

pub fn router() -> Router<ApiContext> {
    Router::new().route(
        "/v1/refund-requests/{id}/documents",
        post(upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
    )
}

/// What kinds of documents a request can carry.
const KINDS: [&str; 3] = ["identity_document", "refund_application", "payment_receipt"];

/// Fields read from an identity document (all optional).
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentFields {
    /// MRZ lines separated by `\n`.
    pub mrz: Option<String>,
    pub country: Option<String>,
    pub personal_number: Option<String>,
    pub document_number: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub expires_on: Option<NaiveDate>,
    pub holder_name: Option<String>,
}

/// The multipart form (documentation only: parts `kind`, `fields`, `file`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DocumentUpload {
    /// `identity_document`, `refund_application` or `payment_receipt`.
    kind: String,
    /// JSON of [`DocumentFields`] (identity documents).
    fields: Option<String>,
    /// The scan or photo: JPEG, PNG or PDF, at most 10 MiB.
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
}

#[derive(Serialize, ToSchema)]
pub struct DocumentAccepted {
    pub id: Uuid,
    pub kind: String,
    /// False when the document has problems; the request then waits for a better one.
    pub valid: bool,
    #[schema(value_type = Vec<Object>)]
    pub problems: Value,
    /// The request's state after the upload.
    pub request_state: String,
}

fn field(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field(field, message)
}

/// Attaches a document to a refund request.
#[utoipa::path(post, path = "/v1/refund-requests/{id}/documents", operation_id = "upload_refund_request_document", tag = "refund requests",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    request_body(content = DocumentUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = DocumentAccepted),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn upload(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<DocumentAccepted>), ApiError> {
    let caller = caller.require(&[ApiRole::Support, ApiRole::Supervisor], "add documents")?;
    let id = parse_id(&id)?;
    let mut multipart = multipart.map_err(|e| {
        ApiError::unsupported_media(format!(
            "send the document as multipart/form-data with parts kind, fields and file ({})",
            e.body_text()
        ))
    })?;
    let mut kind = None;
    let mut fields = DocumentFields::default();
    let mut file: Option<(Vec<u8>, Option<String>)> = None;
    loop {
        let part = match multipart.next_field().await {
            Ok(Some(part)) => part,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::too_large("the file is larger than 10 MiB"));
            }
            Err(e) => return Err(ApiError::malformed(e.body_text(), Some("multipart".into()))),
        };
        let name = part.name().unwrap_or("").to_string();
        match name.as_str() {
            "kind" => {
                kind = Some(
                    part.text()
                        .await
                        .map_err(|e| field("kind", e.body_text()))?,
                )
            }
            "fields" => {
                let text = part
                    .text()
                    .await
                    .map_err(|e| field("fields", e.body_text()))?;
                fields = super::extract::parse(text.as_bytes())?;
            }
            "file" => {
                let content_type = part.content_type().map(str::to_owned);
                let bytes = part.bytes().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::too_large("the file is larger than 10 MiB")
                    } else {
                        field("file", e.body_text())
                    }
                })?;
                file = Some((bytes.to_vec(), content_type));
            }
            other => {
                return Err(field(
                    other,
                    "unknown part; send kind, fields (JSON) and file",
                ));
            }
        }
    }
    let kind =
        kind.ok_or_else(|| field("kind", format!("missing; one of {}", KINDS.join(", "))))?;
    if !KINDS.contains(&kind.as_str()) {
        return Err(field(
            "kind",
            format!("{kind:?}: expected one of {}", KINDS.join(", ")),
        ));
    }
    let (bytes, content_type) =
        file.ok_or_else(|| field("file", "missing: attach the scan or photo"))?;
    if let Err(problems) = identity::file::inspect(&bytes) {
        return Err(ApiError::validation(
            problems
                .first()
                .map(|p| p.message.clone())
                .unwrap_or_default(),
            problems
                .into_iter()
                .map(|p| FieldProblem {
                    field: "file".into(),
                    message: format!("{}: {}", p.code.as_str(), p.message),
                })
                .collect(),
        ));
    }

    let mut tx = ctx.db.begin().await?;
    let (state, version) = transition::lock_state(&mut tx, id)
        .await
        .map_err(|_| ApiError::not_found(format!("no refund request {id}")))?;
    if !matches!(
        state,
        RequestState::Received | RequestState::Validating | RequestState::NeedsInfo
    ) {
        return Err(ApiError::conflict(
            "already-decided",
            format!("the request is {state}; documents can no longer change its decision"),
        ));
    }
    let record = requests::find(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no refund request {id}")))?;
    let payment = match record.payment_id {
        Some(p) => payments::find(&mut tx, p).await?,
        None => None,
    };

    let (validation, clear_fields) = if kind == "identity_document" {
        let zone = payment
            .as_ref()
            .and_then(|p| ctx.packs.get(&p.policy))
            .map(|p| p.timezone())
            .unwrap_or(chrono_tz::UTC);
        let expect = Expectation {
            name: payment
                .as_ref()
                .and_then(|p| p.cardholder_name.clone())
                .or_else(|| {
                    record.facts[requests::CUSTOMER_NAME]
                        .as_str()
                        .map(str::to_owned)
                }),
            on: Some(record.received_at.with_timezone(&zone).date_naive()),
        };
        let input = DocumentInput {
            mrz: fields.mrz.clone(),
            country: fields.country.clone(),
            personal_number: fields.personal_number.clone(),
            document_number: fields.document_number.clone(),
            birth_date: fields.birth_date,
            expires_on: fields.expires_on,
            holder_name: fields.holder_name.clone(),
            file: Some(bytes.clone()),
        };
        let report = identity::check(&input, &expect);
        let clear = json!({
            "country": fields.country,
            "document_number": fields.document_number.as_deref().map(mask_document_number),
            "personal_number": fields.personal_number.as_deref().map(mask_document_number),
            "birth_date": fields.birth_date,
            "expires_on": fields.expires_on,
            "holder_name": fields.holder_name,
            "mrz_present": fields.mrz.is_some(),
        });
        (
            json!({"valid": report.valid, "problems": report.problems, "name_match": report.name_match}),
            clear,
        )
    } else {
        (json!({"valid": true, "problems": []}), json!({}))
    };
    let valid = validation["valid"].as_bool().unwrap_or(false);
    let keys = ctx.document_keys.clone();
    let doc_id = documents::store(
        &mut tx,
        &keys,
        &NewDocument {
            request_id: id,
            kind: &kind,
            content_type: content_type.as_deref(),
            bytes: &bytes,
            fields: clear_fields,
            validation: validation.clone(),
        },
    )
    .await
    .map_err(ApiError::internal)?;
    let validate = WorkMessage::new(Stage::Validate, id);
    let new_state = if state == RequestState::NeedsInfo {
        transition::apply(
            &mut tx,
            &Transition {
                request_id: id,
                expected_version: version,
                from: state,
                to: RequestState::Validating,
                actor: &caller.actor(),
                reason: Some("document added"),
                details: json!({"document_id": doc_id, "kind": kind, "valid": valid}),
            },
            &[validate.with_version(version + 1).into()],
        )
        .await
        .map_err(ApiError::internal)?;
        RequestState::Validating
    } else {
        shared::outbox::enqueue(&mut tx, &[validate.with_version(version).into()]).await?;
        state
    };
    tx.commit().await?;
    tracing::info!(request_id = %id, document_id = %doc_id, kind, valid, "document stored");
    Ok((
        StatusCode::CREATED,
        Json(DocumentAccepted {
            id: doc_id,
            kind,
            valid,
            problems: validation["problems"].clone(),
            request_state: new_state.as_str().into(),
        }),
    ))
}
