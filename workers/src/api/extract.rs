//! Reading request bodies strictly: JSON only, within the size limit, unknown fields refused,
//! and every mistake answered as a problem naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::problem::ApiError;

/// A JSON body deserialized into `T`, or a problem+json answer naming what is wrong.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body(req, state).await?;
        parse(&bytes).map(ApiJson)
    }
}

/// A JSON body deserialized into `T`, with the SHA-256 of its canonical form (keys sorted,
/// no whitespace): two bodies that mean the same have the same hash. Used for idempotency.
pub struct HashedJson<T>(pub T, pub String);

impl<T, S> FromRequest<S> for HashedJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body(req, state).await?;
        let value: T = parse(&bytes)?;
        let canonical: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::malformed(format!("the body is not valid JSON: {e}"), None))?;
        let hash = hex::encode(Sha256::digest(
            serde_json::to_vec(&canonical).expect("json values serialize"),
        ));
        Ok(HashedJson(value, hash))
    }
}

/// The raw body of a request that must be JSON and within the size limit.
async fn json_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !(mime == "application/json" || mime.ends_with("+json")) {
        return Err(ApiError::unsupported_media(format!(
            "send the body as JSON with Content-Type: application/json (got {:?})",
            if content_type.is_empty() {
                "nothing"
            } else {
                content_type
            }
        )));
    }
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!("the body is larger than the limit: {e}"))
        } else {
            ApiError::malformed(format!("the body could not be read: {e}"), None)
        }
    })
}

/// Deserializes JSON, naming the path of the field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => {
            de.end().map_err(|e| {
                ApiError::malformed(format!("unexpected data after the JSON value: {e}"), None)
            })?;
            Ok(value)
        }
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = strip_position(&inner.to_string());
            if inner.is_syntax() || inner.is_eof() {
                Err(ApiError::malformed(
                    format!("the body is not valid JSON: {inner}"),
                    None,
                ))
            } else if path == "." {
                Err(ApiError::malformed(message, Some("body".into())))
            } else {
                Err(ApiError::malformed_field(
                    format!("{path}: {message}"),
                    path,
                    message,
                ))
            }
        }
    }
}

/// serde_json appends " at line 1 column 42"; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}
