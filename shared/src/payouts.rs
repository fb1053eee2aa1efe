//! Payout attempts: one row per refund sent (or about to be sent) to a gateway, with the
//! idempotency key the gateway dedupes on. This module is the only code that writes
//! `payout_attempts`; the payout stage decides when.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::payments::Payment;

/// Where a payout attempt stands (the `payout_attempts.status` CHECK holds the same names).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, sqlx::Type, strum::IntoStaticStr, strum::VariantArray,
)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AttemptStatus {
    /// Written before the gateway is called: the call may or may not have reached it.
    Started,
    /// The gateway took the refund and will settle it later.
    Pending,
    /// The gateway refunded the money.
    Succeeded,
    /// The gateway refused the refund (e.g. the card is expired or closed).
    Declined,
    /// The gateway's answer was lost or it does not know the refund: ask again.
    Unknown,
}

impl AttemptStatus {
    /// Every status, in declaration order.
    pub const ALL: &'static [AttemptStatus] = <AttemptStatus as strum::VariantArray>::VARIANTS;

    /// The snake_case name stored in `payout_attempts.status`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The gateway has not settled it (yet): the payout stage asks for its status.
    pub fn is_unsettled(self) -> bool {
        matches!(
            self,
            AttemptStatus::Started | AttemptStatus::Pending | AttemptStatus::Unknown
        )
    }
}

/// A payout attempt as stored.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The attempt's id.
    pub id: Uuid,
    /// `rf-<request>-<n>`: the n-th attempt of the request; the gateway refunds a key once.
    pub idempotency_key: String,
    /// Minor units (cents, tiyn) the attempt refunds.
    pub amount_minor: i64,
    /// Where the attempt stands.
    pub status: AttemptStatus,
    /// The gateway's own id for the refund, once it has given one.
    pub gateway_ref: Option<String>,
}

/// The request's latest attempt, if any.
pub async fn latest(conn: &mut PgConnection, request: Uuid) -> sqlx::Result<Option<Attempt>> {
    sqlx::query_as!(
        Attempt,
        r#"SELECT id, idempotency_key, amount_minor, status AS "status: AttemptStatus", gateway_ref
             FROM payout_attempts WHERE request_id = $1
            ORDER BY created_at DESC, id DESC LIMIT 1"#,
        request
    )
    .fetch_optional(conn)
    .await
}

/// Writes a new attempt (`started`) for `amount_minor` of `payment`, unless the payment's
/// other requests' attempts that were not declined plus this one would pass what was
/// captured: then `Err` with what the others already take. The caller holds the payment's
/// lock (`payments::lock`), so two requests cannot both pass the check.
pub async fn new_attempt(
    conn: &mut PgConnection,
    request: Uuid,
    payment: &Payment,
    amount_minor: i64,
) -> sqlx::Result<Result<Attempt, i64>> {
    let others: i64 = sqlx::query_scalar!(
        r#"SELECT COALESCE(SUM(amount_minor), 0)::bigint AS "sum!" FROM payout_attempts
            WHERE payment_id = $1 AND request_id <> $2 AND status <> 'declined'"#,
        payment.id,
        request
    )
    .fetch_one(&mut *conn)
    .await?;
    if others + amount_minor > payment.amount.minor() {
        return Ok(Err(others));
    }
    let n: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM payout_attempts WHERE request_id = $1"#,
        request
    )
    .fetch_one(&mut *conn)
    .await?;
    let attempt = Attempt {
        id: Uuid::now_v7(),
        idempotency_key: format!("rf-{request}-{}", n + 1),
        amount_minor,
        status: AttemptStatus::Started,
        gateway_ref: None,
    };
    sqlx::query!(
        r#"INSERT INTO payout_attempts (id, request_id, payment_id, idempotency_key, gateway,
                                        amount_minor, currency, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 'started')"#,
        attempt.id,
        request,
        payment.id,
        attempt.idempotency_key,
        payment.gateway,
        amount_minor,
        payment.currency.code()
    )
    .execute(&mut *conn)
    .await?;
    Ok(Ok(attempt))
}

/// What the gateway answered about attempt `id`: its status, its reference (kept when the
/// answer has none) and why it declined.
pub async fn record_answer(
    conn: &mut PgConnection,
    id: Uuid,
    status: AttemptStatus,
    gateway_ref: Option<&str>,
    decline: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE payout_attempts
                SET status = $2, gateway_ref = COALESCE($3, gateway_ref), decline_reason = $4,
                    updated_at = now()
              WHERE id = $1",
        id,
        status as AttemptStatus,
        gateway_ref,
        decline
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Counts a recheck as news for the unfinished attempts of `requests`, so the next recheck
/// is a full quiet period away.
pub async fn touch_unfinished(conn: &mut PgConnection, requests: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE payout_attempts a SET updated_at = now()
          WHERE a.request_id = ANY($1) AND a.status IN ('started', 'unknown', 'pending')",
        requests
    )
    .execute(conn)
    .await
    .map(drop)
}
