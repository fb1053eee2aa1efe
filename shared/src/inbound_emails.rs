//! What is kept of inbound emails, and for how long. An email is personal data like a
//! document: the bytes kept of a message (one that could not be read, or an unverified one
//! waiting for the payer) are sealed with the document keys in `sealed_*` (the row's id bound
//! in, so a ciphertext cannot be moved to another row), and the texts of
//! every message (subject, body, the raw bytes, our answer) are purged on the documents'
//! retention schedule: with its request when the request ended that long ago, or that long
//! after it arrived when it belongs to no request.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::documents::{DocumentError, DocumentKeys};

/// Raw bytes sealed for row `id`.
pub struct SealedRaw {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub bytes: Vec<u8>,
}

/// Seals the raw bytes of inbound email `id` with the active document key.
pub fn seal(keys: &DocumentKeys, id: Uuid, raw: &[u8]) -> SealedRaw {
    let (key_id, nonce, bytes) = keys.encrypt(id, raw);
    SealedRaw {
        key_id,
        nonce,
        bytes,
    }
}

/// The kept raw bytes of inbound email `id` (card numbers masked), if any are kept.
pub async fn read_raw(
    conn: &mut PgConnection,
    keys: &DocumentKeys,
    id: Uuid,
) -> Result<Option<Vec<u8>>, DocumentError> {
    let row: Option<KeptRaw> = sqlx::query_as(
        "SELECT id, raw, sealed_key_id, sealed_nonce, sealed_raw FROM inbound_emails WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(KeptRaw {
            sealed_key_id: Some(key_id),
            sealed_nonce: Some(nonce),
            sealed_raw: Some(sealed),
            ..
        }) => keys.decrypt(id, &key_id, &nonce, &sealed).map(Some),
        // Stored in clear before raw bytes were sealed (`keys rotate` seals them).
        Some(KeptRaw {
            raw: Some(clear), ..
        }) => Ok(Some(clear)),
        _ => Ok(None),
    }
}

#[derive(sqlx::FromRow)]
struct KeptRaw {
    id: Uuid,
    raw: Option<Vec<u8>>,
    sealed_key_id: Option<String>,
    sealed_nonce: Option<Vec<u8>>,
    sealed_raw: Option<Vec<u8>>,
}

/// Seals raw bytes kept in clear (rows from before sealing) and re-seals those under another
/// key than the active one. Returns how many rows changed.
pub async fn rotate(pool: &PgPool, keys: &DocumentKeys) -> Result<u64, DocumentError> {
    let mut rotated = 0;
    loop {
        let mut tx = pool.begin().await?;
        let rows: Vec<KeptRaw> = sqlx::query_as(
            "SELECT id, raw, sealed_key_id, sealed_nonce, sealed_raw FROM inbound_emails
              WHERE raw IS NOT NULL OR sealed_key_id <> $1
              LIMIT 100 FOR UPDATE SKIP LOCKED",
        )
        .bind(keys.active_id())
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(rotated);
        }
        for row in rows {
            let plain = match (&row.sealed_key_id, &row.sealed_nonce, &row.sealed_raw) {
                (Some(key_id), Some(nonce), Some(sealed)) => {
                    keys.decrypt(row.id, key_id, nonce, sealed)?
                }
                _ => row.raw.clone().unwrap_or_default(),
            };
            let sealed = seal(keys, row.id, &plain);
            sqlx::query(
                "UPDATE inbound_emails
                    SET raw = NULL, sealed_raw = $2, sealed_key_id = $3, sealed_nonce = $4
                  WHERE id = $1",
            )
            .bind(row.id)
            .bind(sealed.bytes)
            .bind(sealed.key_id)
            .bind(sealed.nonce)
            .execute(&mut *tx)
            .await?;
            rotated += 1;
        }
        tx.commit().await?;
    }
}

/// Purges the texts of inbound emails past retention: those of requests that ended more
/// than `days` days ago, and those of no request that arrived more than `days` days ago.
/// What stays is what the audit needs: the message id, sender, dates, outcome and request.
pub async fn purge(pool: &PgPool, days: u32) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE inbound_emails i
            SET subject = NULL, body_text = NULL, raw = NULL, sealed_raw = NULL,
                sealed_key_id = NULL, sealed_nonce = NULL, reply_subject = NULL,
                reply_text = NULL, purged_at = now()
          WHERE i.purged_at IS NULL
            AND CASE WHEN i.request_id IS NULL
                     THEN i.received_at < now() - make_interval(days => $1)
                     ELSE EXISTS (SELECT 1 FROM refund_requests r
                                   WHERE r.id = i.request_id
                                     AND r.ended_at IS NOT NULL
                                     AND r.ended_at < now() - make_interval(days => $1))
                END",
    )
    .bind(days as i32)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
