//! Sessions of the support console. Signing in with an API key makes one: the browser holds a
//! random token (`rfs_` and 64 hex digits) in an HttpOnly cookie, the table only its SHA-256.
//! A session acts as its key (role, merchant scope, name in the history) and ends at sign-out,
//! after [`IDLE`] without a page, after [`LIFETIME`] in all, or the moment its key is revoked:
//! every lookup joins the key. Each session has its own CSRF token, which every form carries.

use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::api_keys::{Caller, MerchantScope};
use crate::language::Language;

/// A session ends after this long without a page.
pub const IDLE: Duration = Duration::minutes(30);
/// A session ends this long after sign-in, however busy.
pub const LIFETIME: Duration = Duration::hours(12);
/// `last_seen_at` is written at most this often (not on every page).
const SEEN_EVERY: Duration = Duration::seconds(60);

/// The answer to the last action, shown once by the next page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// Whether the action was done.
    pub ok: bool,
    /// What happened, in words, in the session's language.
    pub text: String,
}

/// A live session.
#[derive(Clone, Debug)]
pub struct Session {
    /// The session's id (logs, flash); not the token.
    pub id: Uuid,
    /// The key's holder: role, scope, name.
    pub caller: Caller,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// The console's language for this person.
    pub language: Language,
    /// The answer to the last action, taken by this lookup (the next page shows none).
    pub flash: Option<Flash>,
}

/// A session just made: `token` goes into the cookie and is never stored.
#[derive(Debug)]
pub struct NewSession {
    /// The session's id.
    pub id: Uuid,
    /// The cookie's value: `rfs_` and 64 hex digits.
    pub token: String,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_token(prefix: &str) -> String {
    format!(
        "{prefix}{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    )
}

/// Opens a session for the holder of key `caller`, in `language`.
pub async fn create(
    pool: &PgPool,
    caller: &Caller,
    language: Language,
) -> sqlx::Result<NewSession> {
    let id = Uuid::now_v7();
    let token = random_token("rfs_");
    sqlx::query!(
        "INSERT INTO console_sessions (id, token_hash, api_key_id, csrf, language)
         VALUES ($1, $2, $3, $4, $5)",
        id,
        hash(&token),
        caller.key_id,
        random_token(""),
        language.code(),
    )
    .execute(pool)
    .await?;
    Ok(NewSession { id, token })
}

/// The live session of `token`, taking its flash. `None` when the token is unknown, signed
/// out, idle too long, past its lifetime, or its key is revoked.
pub async fn find(pool: &PgPool, token: &str) -> sqlx::Result<Option<Session>> {
    if !token.starts_with("rfs_") || token.len() > 100 {
        return Ok(None);
    }
    let now = Utc::now();
    // One statement: find the live session, take its flash and note it as seen (at most once
    // a minute, so reading pages is not a write each).
    let row = sqlx::query!(
        r#"WITH live AS (
               SELECT s.id, s.csrf, s.language, s.flash, s.last_seen_at,
                      k.id AS key_id, k.name, k.role, k.merchant, k.all_merchants
                 FROM console_sessions s JOIN api_keys k ON k.id = s.api_key_id
                WHERE s.token_hash = $1 AND s.signed_out_at IS NULL AND k.revoked_at IS NULL
                  AND s.created_at > $2::timestamptz - $3::interval
                  AND s.last_seen_at > $2::timestamptz - $4::interval
                FOR UPDATE OF s
           ),
           seen AS (
               UPDATE console_sessions s
                  SET flash = NULL,
                      last_seen_at = CASE WHEN live.last_seen_at < $2 - $5::interval
                                          THEN $2 ELSE live.last_seen_at END
                 FROM live WHERE s.id = live.id
                  AND (live.flash IS NOT NULL OR live.last_seen_at < $2 - $5::interval)
           )
           SELECT id, csrf, language, flash, key_id, name, role, merchant, all_merchants
             FROM live"#,
        hash(token),
        now,
        LIFETIME as _,
        IDLE as _,
        SEEN_EVERY as _,
    )
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let scope = match (r.all_merchants, r.merchant) {
        (true, _) => MerchantScope::AllMerchants,
        (false, Some(m)) => MerchantScope::Merchant(m),
        (false, None) => return Ok(None),
    };
    let Ok(role) = r.role.parse() else {
        return Ok(None);
    };
    Ok(Some(Session {
        id: r.id,
        caller: Caller {
            key_id: r.key_id,
            name: r.name,
            role,
            scope,
        },
        csrf: r.csrf,
        language: Language::from_code(&r.language),
        flash: r.flash.and_then(|f| serde_json::from_value(f).ok()),
    }))
}

/// Keeps `flash` for the session's next page.
pub async fn set_flash(pool: &PgPool, id: Uuid, flash: &Flash) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE console_sessions SET flash = $2 WHERE id = $1",
        id,
        serde_json::to_value(flash).expect("a flash serialises")
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The session's language from now on.
pub async fn set_language(pool: &PgPool, id: Uuid, language: Language) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE console_sessions SET language = $2 WHERE id = $1",
        id,
        language.code()
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Ends the session: its cookie opens nothing any more.
pub async fn sign_out(pool: &PgPool, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE console_sessions SET signed_out_at = now() WHERE id = $1 AND signed_out_at IS NULL",
        id
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes the sessions not used for a day (every ended session, a day after its last page
/// or its sign-out); returns how many.
pub async fn purge(pool: &PgPool) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "DELETE FROM console_sessions
          WHERE last_seen_at < now() - interval '1 day'
             OR signed_out_at < now() - interval '1 day'"
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
