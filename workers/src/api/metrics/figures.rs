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

/// A move a worker stage made: how long the request had been in the state the stage works on
/// (from the move into that state to the stage's move out of it: waiting and working).
pub struct StageMove {
    /// The event's id (`request_events.id`), to observe each move once.
    pub id: i64,
    /// The worker stage that made the move (`decide`, `payout`, ...).
    pub stage: String,
    pub seconds: f64,
}

/// How long the oldest piece of work has waited for a stage, in seconds.
pub struct Waiting {
    pub stage: &'static str,
    pub oldest_seconds: f64,
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
    /// The pipeline's figures (every merchant's: read only for a key of all merchants).
    pub pipeline: Option<Pipeline>,
}

/// Where the pipeline's time goes, for an operator watching throughput.
pub struct Pipeline {
    /// Seconds the oldest outbox row has waited to be published (0 when none waits).
    pub outbox_lag_seconds: f64,
    /// The oldest work waiting for each tracked stage.
    pub waiting: Vec<Waiting>,
    /// Worker moves with an event id above the cutoff given to `read`.
    pub moves: Vec<StageMove>,
    /// The highest event id there is.
    pub last_event: i64,
}

/// Reads the figures of `merchant` (`None`: of every merchant, and of what belongs to none);
/// `refunded_after` limits the refunded requests to those whose refund began after it. The
/// refunded requests are every merchant's: they feed the histograms kept between scrapes,
/// which the caller narrows when it renders them.
pub async fn read(
    db: &PgPool,
    merchant: Option<&str>,
    refunded_after: Option<DateTime<Utc>>,
    moves_after: Option<i64>,
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
    let pipeline = match merchant {
        None => Some(pipeline(&mut tx, moves_after).await?),
        Some(_) => None,
    };
    tx.commit().await?;
    Ok(Figures {
        now,
        open,
        payouts,
        emails,
        intake,
        refunded,
        reconciliation,
        pipeline,
    })
}

/// How far back (in event ids) the first scrape after a start looks for moves.
const FIRST_MOVES: i64 = 5_000;

/// The pipeline's figures: each from an index, reading only what waits or what is new.
async fn pipeline(tx: &mut sqlx::PgConnection, moves_after: Option<i64>) -> sqlx::Result<Pipeline> {
    // The oldest unpublished row, by the partial index on unpublished ids.
    let outbox_lag_seconds = sqlx::query_scalar!(
        r#"SELECT EXTRACT(EPOCH FROM now() - created_at)::float8 AS "seconds!"
             FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 1"#
    )
    .fetch_optional(&mut *tx)
    .await?
    .unwrap_or(0.0);
    // Validate and decide work on requests by state; notify and payout messages stay in the
    // outbox, published, until their handler is done (the sweeper's partial index). The routing
    // keys are literals, so the partial index applies. Notify also waits on the customers'
    // emails that are due and not sent (the partial index `notifications_due`): the older.
    let oldest = sqlx::query!(
        r#"SELECT
             (SELECT EXTRACT(EPOCH FROM now() - min(updated_at))::float8
                FROM refund_requests WHERE state = 'received' AND ended_at IS NULL) AS validate,
             (SELECT EXTRACT(EPOCH FROM now() - min(updated_at))::float8
                FROM refund_requests WHERE state = 'validating' AND ended_at IS NULL) AS decide,
             (SELECT EXTRACT(EPOCH FROM now() - min(published_at))::float8
                FROM outbox WHERE published_at IS NOT NULL
                 AND routing_key = 'request.payout') AS payout,
             greatest(
               (SELECT EXTRACT(EPOCH FROM now() - min(published_at))::float8
                  FROM outbox WHERE published_at IS NOT NULL
                   AND routing_key = 'request.notify'),
               (SELECT EXTRACT(EPOCH FROM now() - min(due_at))::float8
                  FROM notifications WHERE status = 'pending' AND due_at IS NOT NULL)
             ) AS notify"#
    )
    .fetch_one(&mut *tx)
    .await?;
    let waiting = [
        ("validate", oldest.validate),
        ("decide", oldest.decide),
        ("payout", oldest.payout),
        ("notify", oldest.notify),
    ]
    .into_iter()
    .map(|(stage, seconds)| Waiting {
        stage,
        oldest_seconds: seconds.unwrap_or(0.0).max(0.0),
    })
    .collect();
    let last_event =
        sqlx::query_scalar!(r#"SELECT COALESCE(max(id), 0) AS "id!" FROM request_events"#)
            .fetch_one(&mut *tx)
            .await?;
    let after = moves_after.unwrap_or(last_event - FIRST_MOVES);
    // Each move out of a state by a worker, with the move that entered it (the same
    // request's previous state change, by the (request_id, id) index).
    let moves = sqlx::query_as!(
        StageMove,
        r#"SELECT e.id, substr(e.actor, 8) AS "stage!",
                  EXTRACT(EPOCH FROM e.at - p.at)::float8 AS "seconds!"
             FROM request_events e
             CROSS JOIN LATERAL (
                 SELECT p.at FROM request_events p
                  WHERE p.request_id = e.request_id AND p.id < e.id
                    AND p.from_state IS DISTINCT FROM p.to_state
                  ORDER BY p.id DESC LIMIT 1) p
            WHERE e.id > $1 AND e.actor LIKE 'worker:%'
              AND e.from_state IS DISTINCT FROM e.to_state"#,
        after
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(Pipeline {
        outbox_lag_seconds,
        waiting,
        moves,
        last_event,
    })
}
