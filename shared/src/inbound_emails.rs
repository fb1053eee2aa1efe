//! What is kept of inbound emails, and for how long. An email is personal data like a
//! document: the bytes of a message that could not be read are sealed with the document keys
//! (the row's id bound in, so a ciphertext cannot be moved to another row), and the texts of
//! every message (subject, body, the raw bytes, our answer) are purged on the documents'
//! retention schedule: with its request when the request ended that long ago, or that long
//! after it arrived when it belongs to no request.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::documents::{DocumentError, DocumentKeys};

/// The kept bytes of a row, the key id and the nonce they were sealed with (no key: bytes
/// stored in clear before sealing).
type RawColumns = (Option<Vec<u8>>, Option<String>, Option<Vec<u8>>);

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
    let row: Option<RawColumns> =
        sqlx::query_as("SELECT raw, raw_key_id, raw_nonce FROM inbound_emails WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    match row {
        Some((Some(sealed), Some(key_id), Some(nonce))) => {
            keys.decrypt(id, &key_id, &nonce, &sealed).map(Some)
        }
        // Stored in clear before raw bytes were sealed (`keys rotate` seals them).
        Some((Some(clear), None, None)) => Ok(Some(clear)),
        _ => Ok(None),
    }
}

#[derive(sqlx::FromRow)]
struct KeptRaw {
    id: Uuid,
    raw: Vec<u8>,
    raw_key_id: Option<String>,
    raw_nonce: Option<Vec<u8>>,
}

/// Seals raw bytes kept in clear and re-seals those under another key than the active one.
/// Returns how many rows changed.
pub async fn rotate(pool: &PgPool, keys: &DocumentKeys) -> Result<u64, DocumentError> {
    let mut rotated = 0;
    loop {
        let mut tx = pool.begin().await?;
        let rows: Vec<KeptRaw> = sqlx::query_as(
            "SELECT id, raw, raw_key_id, raw_nonce FROM inbound_emails
              WHERE raw IS NOT NULL AND (raw_key_id IS NULL OR raw_key_id <> $1)
              LIMIT 100 FOR UPDATE SKIP LOCKED",
        )
        .bind(keys.active_id())
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(rotated);
        }
        for KeptRaw {
            id,
            raw,
            raw_key_id,
            raw_nonce,
        } in rows
        {
            let plain = match (raw_key_id, raw_nonce) {
                (Some(key_id), Some(nonce)) => keys.decrypt(id, &key_id, &nonce, &raw)?,
                _ => raw,
            };
            let sealed = seal(keys, id, &plain);
            sqlx::query(
                "UPDATE inbound_emails SET raw = $2, raw_key_id = $3, raw_nonce = $4 WHERE id = $1",
            )
            .bind(id)
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
            SET subject = NULL, body_text = NULL, raw = NULL, raw_key_id = NULL,
                raw_nonce = NULL, reply_subject = NULL, reply_text = NULL, purged_at = now()
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
