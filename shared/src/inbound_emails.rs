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
    /// The id of the document key that sealed the bytes.
    pub key_id: String,
    /// The AES-GCM nonce used for the sealing.
    pub nonce: Vec<u8>,
    /// The sealed (encrypted) bytes.
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
    let row: Option<KeptRaw> = sqlx::query_as!(
KeptRaw,
r#"SELECT id, raw, sealed_key_id, sealed_nonce, sealed_raw FROM inbound_emails WHERE id = $1"#,
id
)
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
        let rows: Vec<KeptRaw> = sqlx::query_as!(
            KeptRaw,
            r#"SELECT id, raw, sealed_key_id, sealed_nonce, sealed_raw FROM inbound_emails
              WHERE raw IS NOT NULL OR sealed_key_id <> $1
              LIMIT 100 FOR UPDATE SKIP LOCKED"#,
            keys.active_id()
        )
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
            sqlx::query!(
                "UPDATE inbound_emails
                    SET raw = NULL, sealed_raw = $2, sealed_key_id = $3, sealed_nonce = $4
                  WHERE id = $1",
                row.id,
                sealed.bytes,
                sealed.key_id,
                sealed.nonce
            )
            .execute(&mut *tx)
            .await?;
            rotated += 1;
        }
        tx.commit().await?;
    }
}

/// Purges the texts of inbound emails past retention: those of requests that ended more
/// than `days` days ago, and those of no request that arrived more than `days` days ago; and
/// the kept copies of the emails sent about requests that ended more than `days` days ago.
/// What stays is what the audit needs: the message id, sender, dates, outcome and request.
pub async fn purge(pool: &PgPool, days: u32) -> sqlx::Result<u64> {
    let done = sqlx::query!(
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
        days as i32
    )
    .execute(pool)
    .await?;
    // The copies of the emails sent to the customer about such a request go too.
    crate::notifications::purge_copies(pool, days).await?;
    // The confirmation written to the payer quotes what the claim said: it goes with it.
    sqlx::query!(
        "UPDATE sender_confirmations c SET subject = '', body_text = ''
           FROM inbound_emails i
          WHERE i.id = c.inbound_email_id AND i.purged_at IS NOT NULL
            AND (c.subject <> '' OR c.body_text <> '')"
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

// ---------- Writes: this module is the only code that writes `inbound_emails` and
// `sender_confirmations`; the intake decides when. ----------

/// A message over the intake's limits: only why (nothing of it is kept). `None` when a row
/// for `message_id` exists already (the message was taken in before).
pub async fn insert_refused(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    message_id: &str,
    source: &str,
    error: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "INSERT INTO inbound_emails (id, message_id, source, outcome, error)
         VALUES ($1, $2, $3, 'refused', $4)
         ON CONFLICT (message_id) DO NOTHING RETURNING id",
        id,
        message_id,
        source,
        error
    )
    .fetch_optional(conn)
    .await
}

/// A message that could not be read: why, and its bytes sealed. `None` when a row for
/// `message_id` exists already.
pub async fn insert_failed(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    message_id: &str,
    source: &str,
    error: &str,
    sealed: SealedRaw,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "INSERT INTO inbound_emails (id, message_id, source, outcome, error, sealed_raw,
                                     sealed_key_id, sealed_nonce)
         VALUES ($1, $2, $3, 'failed', $4, $5, $6, $7)
         ON CONFLICT (message_id) DO NOTHING RETURNING id",
        id,
        message_id,
        source,
        error,
        sealed.bytes,
        sealed.key_id,
        sealed.nonce
    )
    .fetch_optional(conn)
    .await
}

/// A message that was read, before anything is decided about it (`ignored` until then).
#[derive(Debug, Clone)]
pub struct NewInbound<'a> {
    /// The row's id.
    pub id: Uuid,
    /// The Message-ID, or `sha256:<hex>` of the bytes when it has none; the deduplication key.
    pub message_id: &'a str,
    /// Where the message came from: `imap` or `api`.
    pub source: &'a str,
    /// The From address, lower-cased: who the message claims to be from, not a verified sender.
    pub sender: Option<&'a str>,
    /// The subject, card and personal numbers masked.
    pub subject: &'a str,
    /// What kind of mail it is: `application`, `reply`, `auto_reply`, `bounce` or `mailing_list`.
    pub kind: &'a str,
    /// The code of the language guessed for the message.
    pub language: &'a str,
    /// The text of the message, card and personal numbers masked.
    pub body_text: &'a str,
}

/// Takes a read message in: `None` when a row for its Message-ID exists already (a
/// concurrent copy waits on the row until the first transaction ends).
pub async fn insert_read(
    conn: &mut sqlx::PgConnection,
    m: &NewInbound<'_>,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "INSERT INTO inbound_emails (id, message_id, source, sender, subject, outcome, kind,
                                     language, body_text)
         VALUES ($1, $2, $3, $4, $5, 'ignored', $6, $7::text, $8)
         ON CONFLICT (message_id) DO NOTHING RETURNING id",
        m.id,
        m.message_id,
        m.source,
        m.sender,
        m.subject,
        m.kind,
        m.language,
        m.body_text
    )
    .fetch_optional(conn)
    .await
}

/// What the intake did with the message, and the request it opened or joined.
pub async fn set_outcome(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    outcome: &str,
    request_id: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE inbound_emails SET outcome = $2, request_id = $3 WHERE id = $1",
        id,
        outcome,
        request_id
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The automatic answer as written (subject, text, when, what it asked for).
pub async fn record_answer(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    subject: &str,
    text: &str,
    at: chrono::DateTime<chrono::Utc>,
    asked: &[&str],
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE inbound_emails SET reply_subject = $2, reply_text = $3, replied_at = $4,
                                   reply_asked = $5
          WHERE id = $1",
        id,
        subject,
        text,
        at,
        asked as &[&str]
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The notify message that sends the automatic answer.
pub async fn set_answer_message(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    notify_message_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE inbound_emails SET reply_message_id = $2 WHERE id = $1",
        id,
        notify_message_id
    )
    .execute(conn)
    .await
    .map(drop)
}

/// An email from an address that is not the payer's: what it claims (a payment or a request)
/// and its bytes, sealed until support or the payer resolves it.
pub async fn keep_claim(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    payment_id: Option<Uuid>,
    request_id: Option<Uuid>,
    sealed: SealedRaw,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE inbound_emails
            SET claimed_payment_id = $2, claimed_request_id = $3,
                sealed_key_id = $4, sealed_nonce = $5, sealed_raw = $6
          WHERE id = $1",
        id,
        payment_id,
        request_id,
        sealed.key_id,
        sealed.nonce,
        sealed.bytes
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Marks a claim resolved (`confirmed` by the payer or `accepted` by support) with the
/// request it opened or joined and who resolved it, forgets its bytes, and resolves its
/// confirmation if that still waited.
pub async fn resolve_claim(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    resolution: &str,
    request_id: Uuid,
    actor: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE inbound_emails
            SET resolution = $2, resolved_request_id = $3, resolved_by = $4, resolved_at = now(),
                sealed_key_id = NULL, sealed_nonce = NULL, sealed_raw = NULL
          WHERE id = $1",
        id,
        resolution,
        request_id,
        actor
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE sender_confirmations SET status = $2, resolved_at = now()
          WHERE inbound_email_id = $1 AND status = 'pending'",
        id,
        resolution
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Confirmations of `payment` asked more than `days` ago and never answered: expired.
pub async fn expire_confirmations(
    conn: &mut sqlx::PgConnection,
    payment: Uuid,
    days: i32,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE sender_confirmations SET status = 'expired', resolved_at = now()
          WHERE payment_id = $1 AND status = 'pending'
            AND created_at <= now() - make_interval(days => $2)",
        payment,
        days
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The email asking a payer to confirm a claim on their payment, as sent.
#[derive(Debug, Clone)]
pub struct NewConfirmation<'a> {
    /// The unverified email whose claim the payer is asked to confirm.
    pub inbound_email_id: Uuid,
    /// The payment the email claims.
    pub payment_id: Uuid,
    /// The id of the payment's merchant.
    pub merchant: &'a str,
    /// The payment's own customer address, where the confirmation is sent.
    pub recipient: &'a str,
    /// The code of the language the confirmation is written in.
    pub language: &'a str,
    /// The confirmation's subject, as sent.
    pub subject: &'a str,
    /// The confirmation's text, as sent.
    pub body_text: &'a str,
    /// The notify message that sends the confirmation.
    pub notify_message_id: Uuid,
}

/// Records a confirmation asked of a payer (`pending` until answered, accepted or expired).
pub async fn insert_confirmation(
    conn: &mut sqlx::PgConnection,
    c: &NewConfirmation<'_>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO sender_confirmations
                (id, inbound_email_id, payment_id, merchant, recipient, language, subject,
                 body_text, notify_message_id)
         VALUES ($1, $2, $3, $4, $5, $6::text, $7, $8, $9)",
        Uuid::now_v7(),
        c.inbound_email_id,
        c.payment_id,
        c.merchant,
        c.recipient,
        c.language,
        c.subject,
        c.body_text,
        c.notify_message_id
    )
    .execute(conn)
    .await
    .map(drop)
}
