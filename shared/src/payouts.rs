//! Payout attempts: one row per refund sent (or about to be sent) to a gateway, with the
//! idempotency key the gateway dedupes on. This module is the only code that writes
//! `payout_attempts`; the payout stage decides when.

use chrono::{DateTime, Utc};
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
    /// When the attempt was written (just before its first send).
    pub created_at: DateTime<Utc>,
    /// What the last send carried in the gateway's idempotency header: `idempotency_key`, or
    /// `<idempotency_key>.<n>` once the gateway replayed a finished server error for it and
    /// its refund list proved no refund was made (see [`Attempt::resend_key`]).
    pub request_key: String,
    /// How many times the attempt was sent.
    pub sends: i32,
    /// The last answer was a finished server error (HTTP 5xx), which a gateway that stores
    /// answers per key replays.
    pub server_error: bool,
}

impl Attempt {
    /// The header key for sending this attempt again after the gateway's status said it holds
    /// no refund for it: the same key, unless the last answer was a finished server error
    /// (which Stripe replays for 24 hours), then a new key derived from ours. The gateway
    /// proved nothing was booked, and a finished answer means nothing is still in flight, so
    /// the new key cannot pay twice.
    pub fn resend_key(&self) -> String {
        if self.server_error {
            format!("{}.{}", self.idempotency_key, self.sends + 1)
        } else {
            self.request_key.clone()
        }
    }
}

/// The request's latest attempt, if any.
pub async fn latest(conn: &mut PgConnection, request: Uuid) -> sqlx::Result<Option<Attempt>> {
    sqlx::query_as!(
        Attempt,
        r#"SELECT id, idempotency_key, amount_minor, status AS "status: AttemptStatus", gateway_ref,
                  created_at, COALESCE(request_key, idempotency_key) AS "request_key!", sends,
                  server_error
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
    // What the others take and how many attempts this request made: one statement, one
    // index each. (One scan with `payment_id = $1 OR request_id = $2` needs both indexes at
    // once, and a planner without statistics yet, as in a database's first minute, scans
    // the whole table instead: docs/PERFORMANCE.md, 26.)
    let seen = sqlx::query!(
        r#"SELECT (SELECT COALESCE(SUM(amount_minor), 0) FROM payout_attempts
                    WHERE payment_id = $1 AND request_id <> $2 AND status <> 'declined')::bigint
                      AS "others!",
                  (SELECT count(*) FROM payout_attempts WHERE request_id = $2) AS "n!""#,
        payment.id,
        request
    )
    .fetch_one(&mut *conn)
    .await?;
    if seen.others + amount_minor > payment.amount.minor() {
        return Ok(Err(seen.others));
    }
    let key = format!("rf-{request}-{}", seen.n + 1);
    let attempt = sqlx::query_as!(
        Attempt,
        r#"INSERT INTO payout_attempts (id, request_id, payment_id, idempotency_key, gateway,
                                        amount_minor, currency, status, request_key, sends)
           VALUES ($1, $2, $3, $4, $5, $6::bigint, $7, 'started', $4, 1)
           RETURNING id, idempotency_key, amount_minor, status AS "status: AttemptStatus",
                     gateway_ref, created_at, request_key AS "request_key!", sends, server_error"#,
        Uuid::now_v7(),
        request,
        payment.id,
        key,
        payment.gateway,
        amount_minor,
        payment.currency.code()
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Ok(attempt))
}

/// Records a refund of `amount_minor` of `payment` that a person made outside the system
/// (the gateway's cabinet, the bank) under `reference`: an attempt already `succeeded`, never
/// sent by us (`sends` 0), under the same cap as every refund of the payment (`Err` with what
/// the others already take). The caller holds the payment's lock.
pub async fn record_external(
    conn: &mut PgConnection,
    request: Uuid,
    payment: &Payment,
    amount_minor: i64,
    reference: &str,
) -> sqlx::Result<Result<Uuid, i64>> {
    let attempt = match new_attempt(conn, request, payment, amount_minor).await? {
        Ok(a) => a,
        Err(others) => return Ok(Err(others)),
    };
    sqlx::query!(
        "UPDATE payout_attempts SET status = 'succeeded', gateway_ref = $2, sends = 0
          WHERE id = $1",
        attempt.id,
        reference
    )
    .execute(&mut *conn)
    .await?;
    Ok(Ok(attempt.id))
}

/// An attempt found by what a gateway notification names, with its request.
#[derive(Debug, Clone)]
pub struct Found {
    /// The attempt's request.
    pub request_id: Uuid,
    /// The attempt.
    pub attempt: Attempt,
}

/// An attempt with its request and its payment's currency, as the lookups by what a gateway
/// names read it.
struct FoundRow {
    request_id: Uuid,
    id: Uuid,
    idempotency_key: String,
    amount_minor: i64,
    status: AttemptStatus,
    gateway_ref: Option<String>,
    created_at: DateTime<Utc>,
    request_key: String,
    sends: i32,
    server_error: bool,
    currency: String,
}

impl From<FoundRow> for Found {
    fn from(r: FoundRow) -> Self {
        Found {
            request_id: r.request_id,
            attempt: Attempt {
                id: r.id,
                idempotency_key: r.idempotency_key,
                amount_minor: r.amount_minor,
                status: r.status,
                gateway_ref: r.gateway_ref,
                created_at: r.created_at,
                request_key: r.request_key,
                sends: r.sends,
                server_error: r.server_error,
            },
        }
    }
}

/// The attempt of `merchant`'s payments at `gateway` that the gateway knows as `reference`,
/// else the one sent under our key `key` (the attempt's key or the header key of a send).
pub async fn find_by_gateway_reference(
    conn: &mut PgConnection,
    gateway: &str,
    merchant: &str,
    reference: Option<&str>,
    key: Option<&str>,
) -> sqlx::Result<Option<Found>> {
    let row = sqlx::query_as!(
        FoundRow,
        r#"SELECT a.request_id, a.id, a.idempotency_key, a.amount_minor,
                  a.status AS "status: AttemptStatus", a.gateway_ref, a.created_at,
                  COALESCE(a.request_key, a.idempotency_key) AS "request_key!", a.sends,
                  a.server_error, p.currency AS "currency!"
             FROM payout_attempts a JOIN payments p ON p.id = a.payment_id
            WHERE p.merchant = $1 AND a.gateway = $2
              AND (a.gateway_ref = $3 OR a.idempotency_key = $4 OR a.request_key = $4)
            ORDER BY (a.gateway_ref = $3) DESC NULLS LAST, a.created_at DESC
            LIMIT 1"#,
        merchant,
        gateway,
        reference,
        key
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Found::from))
}

/// The one unsettled attempt of `merchant`'s payment with order number `order` at `gateway`
/// whose amount is `amount` (decimal text in the payment's currency); `None` when there is
/// none or more than one.
pub async fn find_unsettled_by_order(
    conn: &mut PgConnection,
    gateway: &str,
    merchant: &str,
    order: &str,
    amount: &str,
) -> sqlx::Result<Option<Found>> {
    let rows = sqlx::query_as!(
        FoundRow,
        r#"SELECT a.request_id, a.id, a.idempotency_key, a.amount_minor,
                  a.status AS "status: AttemptStatus", a.gateway_ref, a.created_at,
                  COALESCE(a.request_key, a.idempotency_key) AS "request_key!", a.sends,
                  a.server_error, p.currency AS "currency!"
             FROM payout_attempts a JOIN payments p ON p.id = a.payment_id
            WHERE p.merchant = $1 AND a.gateway = $2 AND p.order_number = $3
              AND a.status IN ('started', 'unknown', 'pending')"#,
        merchant,
        gateway,
        order
    )
    .fetch_all(conn)
    .await?;
    let mut matching = rows.into_iter().filter(|r| {
        r.currency
            .parse::<crate::money::Currency>()
            .ok()
            .and_then(|c| crate::money::Money::parse(amount, c).ok())
            .is_some_and(|m| m.minor() == r.amount_minor)
    });
    let (Some(r), None) = (matching.next(), matching.next()) else {
        return Ok(None);
    };
    Ok(Some(Found::from(r)))
}

/// Counts one more send of attempt `id`, carrying `request_key`. Written before the call,
/// like the attempt itself.
pub async fn mark_sent(conn: &mut PgConnection, id: Uuid, request_key: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE payout_attempts SET sends = sends + 1, request_key = $2, updated_at = now()
          WHERE id = $1",
        id,
        request_key
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The gateway's references of the refunds on `payment` other than attempt `except` that were
/// booked or are under way.
pub async fn other_refs(
    conn: &mut PgConnection,
    payment: Uuid,
    except: Uuid,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"SELECT gateway_ref AS "gateway_ref!" FROM payout_attempts
            WHERE payment_id = $1 AND id <> $2 AND gateway_ref IS NOT NULL
              AND status IN ('succeeded', 'pending')"#,
        payment,
        except
    )
    .fetch_all(conn)
    .await
}

/// What the gateway answered about attempt `id`: its status, its reference (kept when the
/// answer has none), why it declined, and whether it was a finished server error.
pub async fn record_answer(
    conn: &mut PgConnection,
    id: Uuid,
    status: AttemptStatus,
    gateway_ref: Option<&str>,
    decline: Option<&str>,
    server_error: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE payout_attempts
                SET status = $2, gateway_ref = COALESCE($3, gateway_ref), decline_reason = $4,
                    server_error = $5, updated_at = now()
              WHERE id = $1",
        id,
        status as AttemptStatus,
        gateway_ref,
        decline,
        server_error
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
