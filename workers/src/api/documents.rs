//! `POST /v1/refund-requests/{id}/documents`: a scan or photo with the fields read from it
//! (multipart). The file is checked (type, size, pages), identity documents are validated
//! against the payer and the received date, the bytes are stored encrypted, and a request
//! waiting for documents is validated again. An identity document sent without any fields is
//! read by the validate stage from its machine-readable zone (`roles::scans`).
//!
//! `GET /v1/refund-requests/{id}/documents` lists a request's documents (those sent by email
//! included: kind, file name, validation, a suggested kind); `GET …/documents/{document_id}`
//! gives one file's bytes, decrypted, to support and supervisors, and writes who opened it into
//! the request's history.

use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::api_keys::ApiRole;
use shared::documents::{self, NewDocument};
use shared::identity::{self, DocumentInput, mask_document_number};
use shared::lifecycle::RequestState;
use shared::messages::{Stage, WorkMessage};
use shared::payments;
use shared::requests;
use shared::transition::{self, Transition};
use utoipa::ToSchema;
use uuid::Uuid;

use super::ApiContext;
use super::auth::Authenticated;
use super::extract::{PathText, TextLimits, TextShape};
use super::limits::BodyDeadline;
use super::payments::parse_id;
use super::problem::{ApiError, FieldProblem, JsonBodyProblems, KeyProblems, Problem};
use super::requests::find_visible;

/// Largest upload: a 10 MiB file plus the form around it.
const UPLOAD_LIMIT: usize = 11 * 1024 * 1024;

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route(
            "/v1/refund-requests/{id}/documents",
            post(upload)
                .layer(DefaultBodyLimit::max(UPLOAD_LIMIT))
                .get(list),
        )
        .route(
            "/v1/refund-requests/{id}/documents/{document_id}",
            get(download),
        )
}

/// Who may see documents (identity documents are personal data).
const DOCUMENT_READERS: [ApiRole; 2] = [ApiRole::Support, ApiRole::Supervisor];

/// What kinds of documents a request can carry.
pub(in crate::api) const KINDS: [&str; 3] =
    ["identity_document", "refund_application", "payment_receipt"];

/// Fields read from an identity document (all optional).
#[derive(Deserialize, Default, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentFields {
    /// MRZ lines separated by `\n`.
    #[schema(max_length = 200)]
    pub mrz: Option<String>,
    #[schema(max_length = 200)]
    pub country: Option<String>,
    #[schema(max_length = 200)]
    pub personal_number: Option<String>,
    #[schema(max_length = 200)]
    pub document_number: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub expires_on: Option<NaiveDate>,
    #[schema(max_length = 200)]
    pub holder_name: Option<String>,
}

impl TextLimits for DocumentFields {
    /// Two or three MRZ lines of 30-44 characters.
    const TEXT: &'static [(&'static str, usize, TextShape)] = &[("mrz", 200, TextShape::Lines)];
}

/// The multipart form (documentation only: parts `kind`, `fields`, `file`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DocumentUpload {
    /// `identity_document`, `refund_application` or `payment_receipt`.
    kind: String,
    /// The identity document's fields as JSON (`DocumentFields`; identity documents only).
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
        JsonBodyProblems,
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn upload(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
    deadline: Option<axum::Extension<BodyDeadline>>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<DocumentAccepted>), ApiError> {
    // The body is read part by part below, after the role check: a key that may not add
    // documents never gets to send 10 MiB.
    let late = || BodyDeadline::timed_out(deadline.as_deref());
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
            Err(_) if late().is_some() => return Err(late().expect("checked")),
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
                );
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
                    if let Some(late) = late() {
                        late
                    } else if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
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
    // Not found is a 404 (the same words as another merchant's request); a database that
    // failed is a database failure, not a missing request.
    let (state, version) = transition::lock_state(&mut tx, id).await?;
    let record = find_visible(&mut tx, caller, id).await?;
    if !matches!(
        state,
        RequestState::Received | RequestState::Validating | RequestState::NeedsInfo
    ) {
        return Err(ApiError::conflict(
            "already-decided",
            format!("the request is {state}; documents can no longer change its decision"),
        ));
    }
    let payment = match record.payment_id {
        Some(p) => payments::find(&mut tx, p).await?,
        None => None,
    };

    let (validation, clear_fields) = if kind == "identity_document"
        && fields == DocumentFields::default()
    {
        // Nothing typed from it: the validate stage reads its machine-readable zone from the
        // picture; until then it verifies nothing.
        (
            json!({"valid": false, "problems": [], "scan": documents::SCAN_PENDING}),
            json!({"source": "upload"}),
        )
    } else if kind == "identity_document" {
        let expect = requests::identity_expectation(&record, payment.as_ref(), &ctx.packs);
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
        .await?;
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

/// One stored document, without its bytes.
#[derive(Serialize, ToSchema)]
pub struct DocumentView {
    pub id: Uuid,
    /// `identity_document`, `refund_application`, `payment_receipt`, or `email_attachment` (a
    /// file from an email that is none of these by its name, or an identity document whose
    /// fields a person must read: see `fields.suggested_kind`).
    pub kind: String,
    pub content_type: Option<String>,
    pub size_bytes: i32,
    /// SHA-256 of the plain bytes, hex.
    pub sha256: String,
    /// What was read from it (numbers masked), or for email attachments `filename`, `source`
    /// and `suggested_kind`.
    #[schema(value_type = Object)]
    pub fields: Value,
    /// The file check and, for identity documents, the validation: `valid`, `problems`.
    #[schema(value_type = Option<Object>)]
    pub validation: Option<Value>,
    pub created_at: DateTime<Utc>,
    /// When the bytes were deleted after the retention period; the file is gone then.
    pub purged_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct DocumentList {
    pub items: Vec<DocumentView>,
}

/// The documents of a refund request, oldest first.
#[utoipa::path(get, path = "/v1/refund-requests/{id}/documents", operation_id = "list_refund_request_documents", tag = "refund requests",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    responses(
        (status = 200, body = DocumentList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
) -> Result<Json<DocumentList>, ApiError> {
    let caller = caller.require(&DOCUMENT_READERS, "see documents")?;
    let id = parse_id(&id)?;
    let mut conn = ctx.db.acquire().await?;
    find_visible(&mut conn, caller, id).await?;
    let items: Vec<DocumentView> = sqlx::query_as!(
        DocumentView,
        r#"SELECT id, kind, content_type, size_bytes, sha256, fields, validation, created_at,
                purged_at
           FROM documents WHERE request_id = $1 ORDER BY created_at, id"#,
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Json(DocumentList { items }))
}

/// One document's file, decrypted. Opening it is written into the request's history.
#[utoipa::path(get, path = "/v1/refund-requests/{id}/documents/{document_id}", operation_id = "download_refund_request_document", tag = "refund requests",
    security(("api_key" = [])),
    params(
        ("id" = Uuid, Path, description = "refund request id"),
        ("document_id" = Uuid, Path, description = "document id"),
    ),
    responses(
        (status = 200, description = "The file as it was sent (JPEG, PNG, PDF, ...)", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn download(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.require(&DOCUMENT_READERS, "open documents")?;
    let Path((id, document_id)) =
        path.map_err(|e| ApiError::malformed(e.body_text(), Some("id".into())))?;
    let id = parse_id(&id)?;
    let document_id = Uuid::parse_str(document_id.trim()).map_err(|_| {
        ApiError::malformed(
            format!("{document_id:?} is not a document id (a UUID)"),
            Some("document_id".into()),
        )
    })?;
    let mut tx = ctx.db.begin().await?;
    find_visible(&mut tx, caller, id).await?;
    let row = sqlx::query!(
        "SELECT content_type, fields, purged_at FROM documents WHERE id = $1 AND request_id = $2",
        document_id,
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some((content_type, fields, purged_at)) =
        row.map(|row| (row.content_type, row.fields, row.purged_at))
    else {
        return Err(ApiError::not_found(format!(
            "refund request {id} has no document {document_id}"
        )));
    };
    if let Some(at) = purged_at {
        return Err(ApiError::gone(format!(
            "the file of document {document_id} was deleted on {} (retention period)",
            at.date_naive()
        )));
    }
    let bytes = documents::read(&mut tx, &ctx.document_keys, document_id)
        .await
        .map_err(ApiError::internal)?;
    let (state, _) = transition::lock_state(&mut tx, id).await?;
    transition::record_event(
        &mut tx,
        id,
        &caller.actor(),
        Some(state),
        state,
        Some("document opened"),
        &json!({"document_id": document_id}),
    )
    .await?;
    tx.commit().await?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    let content_type = content_type
        .and_then(|c| HeaderValue::from_str(&c).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    let sent = fields["filename"].as_str();
    let mut disposition = format!(
        "attachment; filename=\"{}\"",
        download_name(sent, document_id)
    );
    if let Some(sent) = sent.filter(|s| !s.is_ascii() && !s.trim().is_empty()) {
        // RFC 6266 / 8187: the name as sent, for clients that read it (Cyrillic names).
        let encoded =
            percent_encoding::utf8_percent_encode(sent, percent_encoding::NON_ALPHANUMERIC);
        disposition.push_str(&format!("; filename*=UTF-8''{encoded}"));
    }
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A file name safe in a `Content-Disposition` header: the sent name's ASCII letters, digits
/// and `.-_` (others become `_`), else the document id.
fn download_name(sent: Option<&str>, id: Uuid) -> String {
    let name: String = sent
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if name.trim_matches(['_', '.']).is_empty() {
        id.to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod download_tests {
    use super::*;

    #[test]
    fn download_names_are_safe_in_a_header() {
        let id = Uuid::nil();
        assert_eq!(download_name(Some("scan 1.jpg"), id), "scan_1.jpg");
        assert_eq!(download_name(Some("a\"b\r\nc.pdf"), id), "a_b__c.pdf");
        assert_eq!(download_name(Some("паспорт.jpg"), id), "_______.jpg");
        assert_eq!(download_name(Some("...."), id), id.to_string());
        assert_eq!(download_name(None, id), id.to_string());
    }
}
