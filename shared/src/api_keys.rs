//! API keys, their roles and the merchant whose data they reach. A key is shown once when it
//! is created; only its SHA-256 is stored, so a database leak does not leak working keys.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::names::Named;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

/// What a key may do.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
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
    /// Every variant, in declaration order.
    pub const ALL: &'static [ApiRole] = <ApiRole as strum::VariantArray>::VARIANTS;

    /// The role's name as stored and shown (`support`, `supervisor`, `intake`, `viewer`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl FromStr for ApiRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApiRole::parse_named(s, "role")
    }
}

impl ApiRole {
    /// Roles a key may have across every merchant (`all-merchants`): supervisors, read-only
    /// figures for a dashboard or Prometheus over every merchant, and the intake of the one
    /// refunds mailbox all merchants share. Support staff always work for one merchant.
    pub const MAY_SPAN_MERCHANTS: [ApiRole; 3] =
        [ApiRole::Supervisor, ApiRole::Viewer, ApiRole::Intake];

    /// Whether a key of this role may be created for all merchants (see
    /// [`ApiRole::MAY_SPAN_MERCHANTS`]).
    pub fn may_span_merchants(self) -> bool {
        Self::MAY_SPAN_MERCHANTS.contains(&self)
    }
}

/// Whose data a key reaches: one merchant's, or every merchant's (only when created so).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MerchantScope {
    /// Every merchant's data (`all-merchants`); only for the roles of
    /// [`ApiRole::MAY_SPAN_MERCHANTS`].
    AllMerchants,
    /// Only the data of the merchant with this id.
    Merchant(String),
}

impl MerchantScope {
    /// How `--merchant` names every merchant.
    pub const ALL_MERCHANTS: &'static str = "all-merchants";

    /// `all-merchants`, or a merchant id (lowercase letters, digits and '-', as in the
    /// merchants file). Whether the merchant exists is the caller's question.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == Self::ALL_MERCHANTS {
            return Ok(MerchantScope::AllMerchants);
        }
        let ok = !text.is_empty()
            && text.len() <= 100
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(MerchantScope::Merchant(text.to_string()))
        } else {
            Err(format!(
                "{text:?} is not a merchant id; give a merchant id from the merchants file or {}",
                Self::ALL_MERCHANTS
            ))
        }
    }

    /// Whether data of `merchant` is within the scope. Data of no merchant (an email not yet
    /// matched to a payment) is only for all-merchants keys.
    pub fn covers(&self, merchant: Option<&str>) -> bool {
        match self {
            MerchantScope::AllMerchants => true,
            MerchantScope::Merchant(m) => merchant == Some(m.as_str()),
        }
    }

    /// The merchant every query of this caller is limited to; `None` for all merchants. In
    /// SQL: `($n::text IS NULL OR merchant = $n)`.
    pub fn merchant(&self) -> Option<&str> {
        match self {
            MerchantScope::AllMerchants => None,
            MerchantScope::Merchant(m) => Some(m),
        }
    }

    /// The merchant filter of a list the caller asked to limit to `asked`: `Some(filter)`
    /// (`None` inside: every merchant), or `None` when the ask is outside the scope, so the
    /// list is empty, as it is for a merchant that does not exist.
    pub fn narrow<'a>(&'a self, asked: Option<&'a str>) -> Option<Option<&'a str>> {
        match (self, asked) {
            (MerchantScope::AllMerchants, asked) => Some(asked),
            (MerchantScope::Merchant(m), None) => Some(Some(m)),
            (MerchantScope::Merchant(m), Some(a)) => (a == m).then_some(Some(a)),
        }
    }
}

impl FromStr for MerchantScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for MerchantScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MerchantScope::AllMerchants => f.write_str(Self::ALL_MERCHANTS),
            MerchantScope::Merchant(m) => f.write_str(m),
        }
    }
}

/// The holder of a valid key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The key's id in the `api_keys` table.
    pub key_id: Uuid,
    /// The name the key was created with; it appears in audit events.
    pub name: String,
    /// What the key may do.
    pub role: ApiRole,
    /// Whose data the key reaches.
    pub scope: MerchantScope,
}

impl Caller {
    /// How the caller appears in audit events.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role, self.name)
    }

    /// Whether data of `merchant` is the caller's to see or change.
    pub fn sees(&self, merchant: Option<&str>) -> bool {
        self.scope.covers(merchant)
    }
}

/// A key just created: `secret` is shown once and never stored.
#[derive(Debug)]
pub struct NewKey {
    /// The new key's id in the `api_keys` table.
    pub id: Uuid,
    /// The full key (`rfd_` and 64 hex digits); only its SHA-256 is stored.
    pub secret: String,
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Why [`create`] could not create a key.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    /// An active key already has this name.
    #[error("an active key named {0:?} already exists; revoke it first or choose another name")]
    NameTaken(String),
    /// The name is empty or longer than 100 characters.
    #[error("the key name must be 1-100 characters")]
    BadName,
    /// An all-merchants key was asked for a role that must belong to one merchant.
    #[error(
        "a {0} key belongs to one merchant; give --merchant with its id ({all} is only for {roles} keys)",
        all = MerchantScope::ALL_MERCHANTS,
        roles = "supervisor, viewer and intake"
    )]
    MustNameMerchant(ApiRole),
    /// The database query failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Creates a key for `scope`: `rfd_` and 64 hex digits (256 random bits). Only the roles of
/// [`ApiRole::MAY_SPAN_MERCHANTS`] may have an all-merchants key. That the merchant exists in
/// the merchants file is the caller's check.
pub async fn create(
    pool: &PgPool,
    role: ApiRole,
    scope: &MerchantScope,
    name: &str,
) -> Result<NewKey, ApiKeyError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiKeyError::BadName);
    }
    if *scope == MerchantScope::AllMerchants && !role.may_span_merchants() {
        return Err(ApiKeyError::MustNameMerchant(role));
    }
    let secret = format!("rfd_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let id = Uuid::now_v7();
    let result = sqlx::query!(
        "INSERT INTO api_keys (id, name, role, key_hash, key_prefix, merchant, all_merchants)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        name,
        role.as_str(),
        hash(&secret),
        &secret[..10],
        scope.merchant(),
        *scope == MerchantScope::AllMerchants,
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

/// What failed attempts are counted under: the SHA-256 of the key as presented (never the
/// key itself), the same digest the table stores.
pub fn presented_hash(secret: &str) -> String {
    hash(secret)
}

/// The caller holding `secret`, if it is an active key.
pub async fn authenticate(pool: &PgPool, secret: &str) -> sqlx::Result<Option<Caller>> {
    if !secret.starts_with("rfd_") || secret.len() > 200 {
        return Ok(None);
    }
    let row = sqlx::query!(
        "SELECT id, name, role, merchant, all_merchants FROM api_keys
          WHERE key_hash = $1 AND revoked_at IS NULL",
        hash(secret)
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|r| {
        let scope = match (r.all_merchants, r.merchant) {
            (true, _) => MerchantScope::AllMerchants,
            (false, Some(m)) => MerchantScope::Merchant(m),
            // The table's check forbids it; a key of no scope reaches nothing.
            (false, None) => return None,
        };
        Some(Caller {
            key_id: r.id,
            name: r.name,
            role: r.role.parse().ok()?,
            scope,
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merchant_scope_covers_only_its_merchant() {
        let a = MerchantScope::parse("byskills").unwrap();
        assert!(a.covers(Some("byskills")));
        assert!(!a.covers(Some("goods-kz")));
        assert!(
            !a.covers(None),
            "unmatched requests are for all-merchants keys"
        );
        let all = MerchantScope::parse("all-merchants").unwrap();
        assert!(all.covers(Some("goods-kz")) && all.covers(None));
        assert_eq!(all.merchant(), None);
        assert_eq!(a.merchant(), Some("byskills"));
        assert!(MerchantScope::parse("By Skills").is_err());
        assert!(MerchantScope::parse("").is_err());
        assert_eq!(a.to_string(), "byskills");
        assert_eq!(all.to_string(), "all-merchants");
    }

    #[test]
    fn a_list_filter_never_leaves_the_scope() {
        let a = MerchantScope::Merchant("byskills".into());
        assert_eq!(a.narrow(None), Some(Some("byskills")));
        assert_eq!(a.narrow(Some("byskills")), Some(Some("byskills")));
        assert_eq!(a.narrow(Some("goods-kz")), None);
        let all = MerchantScope::AllMerchants;
        assert_eq!(all.narrow(None), Some(None));
        assert_eq!(all.narrow(Some("goods-kz")), Some(Some("goods-kz")));
    }

    #[test]
    fn only_some_roles_may_span_merchants() {
        assert!(!ApiRole::Support.may_span_merchants());
        for role in [ApiRole::Supervisor, ApiRole::Viewer, ApiRole::Intake] {
            assert!(role.may_span_merchants(), "{role}");
        }
    }
}
