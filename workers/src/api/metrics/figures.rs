//! The figures of `/metrics` that live in Postgres: a few grouped queries in one read-only
//! snapshot, so the figures agree with each other and with the database's clock; of one
//! merchant for a key of one merchant.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// Open requests of one state, merchant and SLA state.
pub struct OpenGroup {
    pub state: String,
    pub merchant: String,
    /// `on_track`, `at_risk`, `breached`, `paused`, or `none` before the sla role has looked.
    pub sla: String,
    pub count: i64,
    /// Seconds since the oldest SLA state change in the group: for `at_risk`, how long the
    /// request at risk longest has been so.
    pub longest_seconds: Option<f64>,
}

/// Rows of a table counted by two columns (gateway and status, event and status, ...).
pub struct Tally {
    pub first: String,
    pub second: String,
    pub count: i64,
}

/// A refunded request, for the time-to-refund histograms.
pub struct Refunded {
    pub id: Uuid,
    pub merchant: String,
    pub policy_id: Option<String>,
    pub received_at: DateTime<Utc>,
    pub refunded_at: DateTime<Utc>,
}

/// Everything read from Postgres for one scrape.
pub struct Figures {
    /// The database's time of the snapshot.
    pub now: DateTime<Utc>,
    pub open: Vec<OpenGroup>,
    /// Payout attempts by gateway and status.
    pub payouts: Vec<Tally>,
    /// Notifications by event and status.
    pub emails: Vec<Tally>,
    /// Inbound emails by source and outcome.
    pub intake: Vec<Tally>,
    /// Requests refunded after the cutoff given to `read` (all of them without one).
    pub refunded: Vec<Refunded>,
    /// The differences of each merchant's latest finished reconciliation (first: merchant).
    pub reconciliation: Vec<Tally>,
}

/// Reads the figures of `merchant` (`None`: of every merchant, and of what belongs to none);
/// `refunded_after` limits the refunded requests to those whose refund began after it. The
/// refunded requests are every merchant's: they feed the histograms kept between scrapes,
/// which the caller narrows when it renders them.
pub async fn read(
    db: &PgPool,
    merchant: Option<&str>,
    refunded_after: Option<DateTime<Utc>>,
) -> sqlx::Result<Figures> {
    let mut tx = db.begin().await?;
    sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let now: DateTime<Utc> = sqlx::query_scalar!(r#"SELECT now() AS "now!""#)
        .fetch_one(&mut *tx)
        .await?;
    let open = sqlx::query_as!(
        OpenGroup,
        r#"SELECT state, COALESCE(merchant, 'unknown') AS "merchant!",
                COALESCE(sla_state, 'none') AS "sla!", count(*) AS "count!",
                EXTRACT(EPOCH FROM now() - min(sla_checked_at))::float8 AS longest_seconds
           FROM refund_requests
          WHERE ended_at IS NULL AND ($1::text IS NULL OR merchant = $1)
          GROUP BY 1, 2, 3"#,
        merchant
    )
    .fetch_all(&mut *tx)
    .await?;
    // Rows belong to a merchant through their request.
    let payouts = sqlx::query_as!(
        Tally,
        r#"SELECT gateway AS "first!", status AS "second!", count(*) AS "count!"
           FROM payout_attempts t
          WHERE $1::text IS NULL
             OR EXISTS (SELECT 1 FROM refund_requests r WHERE r.id = t.request_id AND r.merchant = $1)
          GROUP BY 1, 2"#,
        merchant
    )
    .fetch_all(&mut *tx)
    .await?;
    let emails = sqlx::query_as!(
        Tally,
        r#"SELECT event AS "first!", status AS "second!", count(*) AS "count!"
           FROM notifications t
          WHERE $1::text IS NULL
             OR EXISTS (SELECT 1 FROM refund_requests r WHERE r.id = t.request_id AND r.merchant = $1)
          GROUP BY 1, 2"#,
        merchant
    )
    .fetch_all(&mut *tx)
    .await?;
    let intake = sqlx::query_as!(
        Tally,
        r#"SELECT source AS "first!", outcome AS "second!", count(*) AS "count!"
           FROM inbound_emails t
          WHERE $1::text IS NULL
             OR EXISTS (SELECT 1 FROM refund_requests r WHERE r.id = t.request_id AND r.merchant = $1)
          GROUP BY 1, 2"#,
        merchant
    )
    .fetch_all(&mut *tx)
    .await?;
    // Two statements rather than `$1 IS NULL OR ...`, so the later scrapes use the index on
    // refunded requests' `ended_at` and read only the new refunds.
    let refunded =
        match refunded_after {
            Some(after) => sqlx::query_as!(
                Refunded,
                r#"SELECT id, COALESCE(merchant, 'unknown') AS "merchant!", policy_id, received_at,
                        ended_at AS "refunded_at!"
                   FROM refund_requests
                  WHERE state = 'refunded' AND ended_at > $1"#,
                after
            )
            .fetch_all(&mut *tx)
            .await?,
            None => sqlx::query_as!(
                Refunded,
                r#"SELECT id, COALESCE(merchant, 'unknown') AS "merchant!", policy_id, received_at,
                        ended_at AS "refunded_at!"
                   FROM refund_requests
                  WHERE state = 'refunded' AND ended_at IS NOT NULL"#
            )
            .fetch_all(&mut *tx)
            .await?,
        };
    let reconciliation = sqlx::query_as!(
        Tally,
        r#"SELECT DISTINCT ON (merchant) merchant AS "first!", day::text AS "second!",
                  differences::bigint AS "count!"
             FROM reconciliations
            WHERE finished_at IS NOT NULL AND ($1::text IS NULL OR merchant = $1)
            ORDER BY merchant, day DESC"#,
        merchant
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Figures {
        now,
        open,
        payouts,
        emails,
        intake,
        refunded,
        reconciliation,
    })
}
