//! The emails we send, one `notifications` row each: claimed (`pending`, or `failed` when it
//! cannot be sent at all) before it is sent, then marked `sent` or `failed`. The row's id is
//! the notify message's id, and the request, event and sequence number are unique, so an
//! email is sent at most once however often its message is delivered. This module is the
//! only code that writes `notifications`; the notify stage decides when.

use sqlx::PgConnection;
use uuid::Uuid;

/// An email about to be sent (or known not to be sendable).
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    /// The notify message's id.
    pub id: Uuid,
    /// The request it is about, or `None` for an answer about an inbound email.
    pub request_id: Option<Uuid>,
    /// The inbound email it answers, or `None` for an email about a request.
    pub inbound_email_id: Option<Uuid>,
    /// The reconciliation it escalates (`<merchant> <day>`), or `None`.
    pub reconciliation: Option<&'a str>,
    /// What the email is about: a customer event, an escalation or an intake answer.
    pub event: &'a str,
    /// The how-manieth email of this event for this request.
    pub seq: i32,
    /// The address it goes to; empty when there is nobody to write to.
    pub recipient: &'a str,
    /// The language code of the email's text, if known.
    pub language: Option<&'a str>,
    /// `pending`, or `failed` with `error` when it cannot be sent.
    pub status: &'a str,
    /// The email's `Message-ID` header, the same for every delivery of its message.
    pub email_message_id: &'a str,
    /// Why the email cannot be sent, with status `failed`.
    pub error: Option<&'a str>,
}

/// Claims the email: whether this call wrote the row (`false`: it was claimed already, by
/// this message or another one for the same occurrence).
pub async fn claim(conn: &mut PgConnection, n: &NewNotification<'_>) -> sqlx::Result<bool> {
    let inserted = sqlx::query!(
        "INSERT INTO notifications
                (id, request_id, inbound_email_id, event, seq, recipient, language, status,
                 email_message_id, error, reconciliation)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT DO NOTHING",
        n.id,
        n.request_id,
        n.inbound_email_id,
        n.event,
        n.seq,
        n.recipient,
        n.language,
        n.status,
        n.email_message_id,
        n.error,
        n.reconciliation
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Who may send a claimed email now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendLock {
    /// The row is pending and locked by the caller's transaction until it commits: send.
    Held,
    /// Another delivery of the same message holds the row and is sending it now.
    Busy,
    /// Sent or failed already (or no row): nothing to send.
    Final,
}

/// Locks a pending email's row for the caller's transaction, so two deliveries of one message
/// (a redelivery racing a copy the sweeper published again) never both send it.
pub async fn lock_for_sending(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<SendLock> {
    let locked = sqlx::query_scalar!(
        "SELECT status FROM notifications WHERE id = $1 AND status = 'pending'
            FOR UPDATE SKIP LOCKED",
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if locked.is_some() {
        return Ok(SendLock::Held);
    }
    let status = sqlx::query_scalar!("SELECT status FROM notifications WHERE id = $1", id)
        .fetch_optional(conn)
        .await?;
    Ok(match status.as_deref() {
        Some("pending") => SendLock::Busy,
        _ => SendLock::Final,
    })
}

/// Why a pending email was not sent yet (it will be tried again).
pub async fn note_error(conn: &mut PgConnection, id: Uuid, why: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE notifications SET error = $2 WHERE id = $1 AND status = 'pending'",
        id,
        why
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Marks a pending email sent: whether it was pending.
pub async fn mark_sent(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let marked = sqlx::query!(
        "UPDATE notifications SET status = 'sent', sent_at = now(), error = NULL
          WHERE id = $1 AND status = 'pending'",
        id
    )
    .execute(conn)
    .await?;
    Ok(marked.rows_affected() == 1)
}

/// Marks a pending email failed for good: its sequence number, if it was pending.
pub async fn mark_failed(
    conn: &mut PgConnection,
    id: Uuid,
    why: &str,
) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar!(
        "UPDATE notifications SET status = 'failed', error = $2
          WHERE id = $1 AND status = 'pending'
      RETURNING seq",
        id,
        why
    )
    .fetch_optional(conn)
    .await
}
