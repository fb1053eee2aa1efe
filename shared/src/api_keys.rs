//! API keys and their roles. A key is shown once when it is created; only its SHA-256 is
//! stored, so a database leak does not leak working keys.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiRole {
    /// Create and read applications, add facts and documents.
    Support,
    /// Everything support does, and confirm, reject, override, mark manual payouts paid.
    Supervisor,
    /// Submit raw emails and register payments.
    Intake,
    /// Read-only: SLA figures, metrics, dashboard.
    Viewer,
}

impl ApiRole {
    pub const ALL: [ApiRole; 4] = [
        ApiRole::Support,
        ApiRole::Supervisor,
        ApiRole::Intake,
        ApiRole::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiRole::Support => "support",
            ApiRole::Supervisor => "supervisor",
            ApiRole::Intake => "intake",
            ApiRole::Viewer => "viewer",
        }
    }
}

impl fmt::Display for ApiRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApiRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?} (expected support, supervisor, intake or viewer)")
            })
    }
}

/// The holder of a valid key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub key_id: Uuid,
    pub name: String,
    pub role: ApiRole,
}

impl Caller {
    /// How the caller appears in audit events.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role, self.name)
    }
}

/// A key just created: `secret` is shown once and never stored.
#[derive(Debug)]
pub struct NewKey {
    pub id: Uuid,
    pub secret: String,
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error("an active key named {0:?} already exists; revoke it first or choose another name")]
    NameTaken(String),
    #[error("the key name must be 1-100 characters")]
    BadName,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Creates a key: `rfd_` and 64 hex digits (256 random bits).
pub async fn create(pool: &PgPool, role: ApiRole, name: &str) -> Result<NewKey, ApiKeyError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiKeyError::BadName);
    }
    let secret = format!("rfd_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let id = Uuid::now_v7();
    let result = sqlx::query!(
        "INSERT INTO api_keys (id, name, role, key_hash, key_prefix) VALUES ($1, $2, $3, $4, $5)",
        id,
        name,
        role.as_str(),
        hash(&secret),
        &secret[..10],
    )
    .execute(pool)
    .await;
    match result {
        Ok(_) => Ok(NewKey { id, secret }),
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("api_keys_active_name_idx") => {
            Err(ApiKeyError::NameTaken(name.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Revokes the active key with this name (or id). Returns false when there is none.
pub async fn revoke(pool: &PgPool, name_or_id: &str) -> sqlx::Result<bool> {
    let id = Uuid::parse_str(name_or_id).ok();
    let done = sqlx::query!(
        "UPDATE api_keys SET revoked_at = now()
          WHERE revoked_at IS NULL AND (name = $1 OR id = $2)",
        name_or_id,
        id
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The caller holding `secret`, if it is an active key.
pub async fn authenticate(pool: &PgPool, secret: &str) -> sqlx::Result<Option<Caller>> {
    if !secret.starts_with("rfd_") || secret.len() > 200 {
        return Ok(None);
    }
    let row = sqlx::query!(
        "SELECT id, name, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        hash(secret)
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|r| {
        Some(Caller {
            key_id: r.id,
            name: r.name,
            role: r.role.parse().ok()?,
        })
    }))
}
