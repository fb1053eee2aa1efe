//! The emails we send, one `notifications` row each: claimed (`pending`, or `failed` when it
//! cannot be sent at all) before it is sent, then marked `sent` or `failed`. A customer's
//! email about a move is written by the move itself, due at once ([`queue_for_move`]), and
//! the notify stage claims it when due ([`claim_due`]); the others are claimed by the notify
//! stage when their message comes ([`claim`]), under the message's id. The request, event and
//! sequence number are unique, and a row is locked while its email goes out, so an email is
//! sent at most once however often it is claimed or its message delivered. This module is the only code that writes `notifications`; the moves and the
//! notify stage decide when.

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
         VALUES ($1, $2, $3, $4, $5, $6, $7::text, $8::text, $9, $10, $11)
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

/// Writes the pending row of a customer's email about the request entering a state, in the
/// transaction of the move that causes it (`transition::apply`; the creation of a request for
/// `received`), due at once: the notify stage claims it ([`claim_due`]), sends it and marks
/// it, with no work message (#19: a message per email was three of a refund's five). The row
/// gets an id of its own (a UUIDv7). It wakes the notify stage of this process ([`DUE`]). The
/// sequence number is the how-manieth email of `event` for the
/// request, this one included: one more than the highest written. The move holds the
/// request's row lock, so no other move numbers an email of the request at the same time; the
/// number is read from the unique index `(request_id, event, seq)` alone, and the first email
/// of an event reads no row (#19: counting the request's history instead read every audit
/// event of it, ~10 rows a refund). Every entry into a state that tells the customer writes
/// its row here, so the number is also the notify stage's count of the request's entries into
/// the state, which it uses only for a message that has no row (`occurrences`). The Message-ID
/// is [`crate::notify::named_message_id`]'s, formed in the statement. The recipient and
/// language are written when the email goes out (or fails): the request's contact address may
/// still change before then.
pub async fn queue_for_move(
    conn: &mut PgConnection,
    request_id: Uuid,
    event: &str,
) -> sqlx::Result<()> {
    // Not yet committed: the task this wakes waits a moment before it looks (see `DUE`).
    DUE.notify_one();
    sqlx::query!(
        r#"INSERT INTO notifications
                  (id, request_id, event, seq, recipient, status, email_message_id, due_at)
           SELECT $1, $2, $3, s.seq, '', 'pending',
                  '<rf-' || $2::uuid::text || '-' || $3 || '-' || s.seq || '@refundd>', now()
             FROM (SELECT coalesce(max(seq), 0) + 1 AS seq FROM notifications
                    WHERE request_id = $2 AND event = $3) s
           ON CONFLICT DO NOTHING"#,
        Uuid::now_v7(),
        request_id,
        event
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Wakes the notify stage's first sender in this process when a move writes a customer's
/// email ([`queue_for_move`]; `refundd all` runs the moves and the notify stage in one
/// process). The row is not committed yet when it fires, so the woken sender lets emails
/// gather a moment (longer than [`crate::outbox::WAKE_SETTLE`]) before it looks; what it
/// misses, and every row another process writes, the senders find at their next look. A
/// hint, not a guarantee: the row is.
pub static DUE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// A customer's email that is due, claimed by [`claim_due`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    /// The row's id.
    pub id: Uuid,
    /// The request it is about.
    pub request_id: Uuid,
    /// The customer event it tells.
    pub event: String,
    /// The row as the sender needs it.
    pub pending: Pending,
}

/// Claims up to `limit` customer emails that are due, oldest first, locked for the caller's
/// transaction until it commits (`FOR UPDATE SKIP LOCKED`: concurrent callers, in this
/// process or another, take different rows and never wait). By the partial index
/// `notifications_due`, which holds only the pending rows that are sent when due.
pub async fn claim_due(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<Due>> {
    let rows = sqlx::query!(
        r#"SELECT id, request_id AS "request_id!", event, seq, email_message_id
             FROM notifications
            WHERE status = 'pending' AND due_at IS NOT NULL AND due_at <= now()
            ORDER BY due_at
            LIMIT $1
              FOR UPDATE SKIP LOCKED"#,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Due {
            id: row.id,
            request_id: row.request_id,
            event: row.event,
            pending: Pending {
                seq: row.seq,
                email_message_id: row.email_message_id.unwrap_or_default(),
            },
        })
        .collect())
}

/// A pending email's row, as the sender needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The how-manieth email of its event for its request.
    pub seq: i32,
    /// Its `Message-ID` header.
    pub email_message_id: String,
}

/// Who may send an email now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendLock {
    /// The row is pending and locked by the caller's transaction until it commits: send.
    Held(Pending),
    /// Another delivery of the same message holds the row and is sending it now.
    Busy,
    /// Sent or failed already: nothing to send.
    Final,
    /// No row has this id (yet): the message's email was not claimed.
    Missing,
}

/// Locks a pending email's row for the caller's transaction, so two deliveries of one message
/// (a redelivery racing a copy the sweeper published again) never both send it. One
/// statement when the row is there and free, the common case.
pub async fn lock_for_sending(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<SendLock> {
    let row = sqlx::query!(
        "SELECT seq, status, email_message_id FROM notifications WHERE id = $1
            FOR UPDATE SKIP LOCKED",
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = row {
        return Ok(held_or_final(&row.status, row.seq, row.email_message_id));
    }
    let status = sqlx::query_scalar!("SELECT status FROM notifications WHERE id = $1", id)
        .fetch_optional(conn)
        .await?;
    Ok(match status.as_deref() {
        Some("pending") => SendLock::Busy,
        Some(_) => SendLock::Final,
        None => SendLock::Missing,
    })
}

/// Locks the rows of several emails at once, as [`lock_for_sending`] does one: each id whose
/// row is there and free is in the map, `Held` (pending, locked by the caller's transaction
/// until it commits) or `Final`; an id not in it has no row or one another delivery holds
/// ([`lock_for_sending`] tells which). Never waits for a lock, so never deadlocks.
pub async fn lock_many(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> sqlx::Result<std::collections::HashMap<Uuid, SendLock>> {
    let rows = sqlx::query!(
        "SELECT id, seq, status, email_message_id FROM notifications WHERE id = ANY($1)
            FOR UPDATE SKIP LOCKED",
        ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            (
                row.id,
                held_or_final(&row.status, row.seq, row.email_message_id),
            )
        })
        .collect())
}

/// A row the caller locked: to send while pending, else final.
fn held_or_final(status: &str, seq: i32, email_message_id: Option<String>) -> SendLock {
    match (status, email_message_id) {
        ("pending", Some(email_message_id)) if !email_message_id.is_empty() => {
            SendLock::Held(Pending {
                seq,
                email_message_id,
            })
        }
        _ => SendLock::Final,
    }
}

/// Why a pending email was not sent yet; it will be tried again. The attempt is counted, and
/// a row sent when due ([`claim_due`]) is due again after the next of `retry_delays` (the
/// last one over and over once they are used up: an email is never given up for a failure
/// that passes). A row sent for a work message leaves the waiting to the message's retry
/// tiers.
pub async fn note_error(
    conn: &mut PgConnection,
    id: Uuid,
    why: &str,
    retry_delays: &[std::time::Duration],
) -> sqlx::Result<()> {
    let delays: Vec<f64> = retry_delays
        .iter()
        .map(std::time::Duration::as_secs_f64)
        .collect();
    sqlx::query!(
        "UPDATE notifications
            SET error = $2, attempts = attempts + 1,
                due_at = CASE WHEN due_at IS NOT NULL
                              THEN now() + make_interval(secs => coalesce(
                                  ($3::float8[])[least(attempts + 1, cardinality($3::float8[]))],
                                  0))
                         END
          WHERE id = $1 AND status = 'pending'",
        id,
        why,
        &delays
    )
    .execute(conn)
    .await
    .map(drop)
}

/// One email to mark sent with [`mark_sent_many`].
#[derive(Clone, Copy, Debug)]
pub struct SentEmail<'a> {
    /// The row (the notify message's id).
    pub id: Uuid,
    /// Where it went.
    pub recipient: &'a str,
    /// The language it was written in, when known.
    pub language: Option<&'a str>,
    /// What it said.
    pub rendered: &'a crate::notify::RenderedEmail,
}

/// Marks pending emails sent, each to its recipient in its language, keeping what it said
/// (subject, text and HTML parts) for the console: one statement for a batch or for one.
pub async fn mark_sent_many(conn: &mut PgConnection, sent: &[SentEmail<'_>]) -> sqlx::Result<()> {
    if sent.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = sent.iter().map(|s| s.id).collect();
    let recipients: Vec<String> = sent.iter().map(|s| s.recipient.to_owned()).collect();
    let languages: Vec<Option<String>> =
        sent.iter().map(|s| s.language.map(str::to_owned)).collect();
    let subjects: Vec<String> = sent.iter().map(|s| s.rendered.subject.clone()).collect();
    let texts: Vec<String> = sent.iter().map(|s| s.rendered.text.clone()).collect();
    let htmls: Vec<String> = sent.iter().map(|s| s.rendered.html.clone()).collect();
    sqlx::query!(
        "UPDATE notifications n
            SET status = 'sent', sent_at = now(), error = NULL, recipient = s.recipient,
                language = coalesce(s.language, n.language), subject = s.subject,
                body_text = s.body_text, body_html = s.body_html
           FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                AS s(id, recipient, language, subject, body_text, body_html)
          WHERE n.id = s.id AND n.status = 'pending'",
        &ids,
        &recipients,
        &languages as &[Option<String>],
        &subjects,
        &texts,
        &htmls
    )
    .execute(conn)
    .await
    .map(drop)
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

/// Clears the kept copies (subject, text, HTML) of the emails sent about requests that ended
/// more than `days` days ago; the row (what was sent, when, to whom) stays for the audit.
pub async fn purge_copies(pool: &sqlx::PgPool, days: u32) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "UPDATE notifications n SET subject = NULL, body_text = NULL, body_html = NULL
           FROM refund_requests r
          WHERE r.id = n.request_id AND n.body_text IS NOT NULL
            AND r.ended_at IS NOT NULL AND r.ended_at < now() - make_interval(days => $1)",
        days as i32
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
