//! The Postgres connection pool and the schema migrations shipped in `migrations/`.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// The migrations compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Opens a pool; fails fast (5 s) when the server is not there, naming the URL without its password.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let pool = pool_options(max_connections).connect(url).await;
    let e = match pool {
        Ok(pool) => return Ok(pool),
        // The pool retries what it takes for passing trouble (the server's "too many
        // clients", a starting server) until its timeout and then says only that it timed
        // out: one direct connection finds the server's own words.
        Err(sqlx::Error::PoolTimedOut) => why_no_connection(url).await,
        Err(e) => e.to_string(),
    };
    Err(anyhow::anyhow!(
        "cannot connect to Postgres at {}: {e}",
        crate::config::redact_url(url)
    ))
}

/// A pooled connection idle longer than this is checked (one round trip) before it is handed
/// out; one used more recently is handed out as it is (the pools of [`connect`] and
/// [`connect_waiting`]).
pub const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// The pool every process uses: `max_connections`, and a 5 s wait for a connection.
///
/// sqlx checks a connection with a round trip to the server (an empty `Sync`) when it goes
/// back to the pool, and by default again when it is taken out: two round trips besides the
/// work for every transaction and every statement run on the pool. The second is only asked
/// for a connection idle longer than [`CHECK_IDLE_AFTER`]: one released sooner was checked
/// as it was released (docs/PERFORMANCE.md, 34). A connection that died since (the server
/// restarted or ended it within that second) fails its first statement, as one dying between
/// the check and the statement always could, and the caller's error handling (a transient
/// failure, tried again) applies; one idle longer is checked and, when dead, replaced, so
/// after an outage the pool's old connections are not handed out.
fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_IDLE_AFTER {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// The first wait for a database that is not available, and the longest: the wait doubles
/// from one to the other ([`connect_waiting`], [`while_unavailable`]).
const FIRST_RETRY: Duration = Duration::from_millis(500);
const LAST_RETRY: Duration = Duration::from_secs(10);

/// [`connect`] for a service: while the database is down, starting or out of connections
/// (what [`crate::broker::consumer::database_unavailable`] calls unavailable) it waits and
/// tries again, logging the server's own words each time, for as long as it takes; anything
/// else (a wrong password, no such database) fails at once. Its connections carry
/// `application_name` (`pg_stat_activity` shows which process and pool holds each), unless
/// the URL names one itself.
pub async fn connect_waiting(
    url: &str,
    max_connections: u32,
    application_name: &str,
) -> anyhow::Result<PgPool> {
    let mut options: sqlx::postgres::PgConnectOptions = url.parse().map_err(|e| {
        anyhow::anyhow!(
            "the database URL {} cannot be read: {e}",
            crate::config::redact_url(url)
        )
    })?;
    if options.get_application_name().is_none() {
        options = options.application_name(application_name);
    }
    let mut delay = FIRST_RETRY;
    let mut waited = false;
    loop {
        let pool = pool_options(max_connections)
            .connect_with(options.clone())
            .await;
        let e = match pool {
            Ok(pool) => {
                if waited {
                    tracing::info!("the database answers again");
                }
                return Ok(pool);
            }
            Err(e) => e,
        };
        let words = match &e {
            sqlx::Error::PoolTimedOut => why_no_connection(url).await,
            e => e.to_string(),
        };
        if !crate::broker::consumer::database_unavailable(&e) {
            return Err(anyhow::anyhow!(
                "cannot connect to Postgres at {}: {words}",
                crate::config::redact_url(url)
            ));
        }
        tracing::warn!(database = %crate::config::redact_url(url), error = %words, retry_in_ms = delay.as_millis() as u64,
            "the database is not available; waiting for it");
        waited = true;
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(LAST_RETRY);
    }
}

/// Why a connection to `url` cannot be made, as the server or the network says it.
async fn why_no_connection(url: &str) -> String {
    use sqlx::Connection;
    let timed_out = sqlx::Error::PoolTimedOut.to_string();
    match tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(url)).await {
        Ok(Err(e)) => e.to_string(),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            format!("{timed_out} (a single connection now succeeds: the server was busy)")
        }
        Err(_) => format!("{timed_out} (the server did not answer within 5 s)"),
    }
}

/// What lies behind `error` when a running pool gave up waiting for a connection: the pool
/// retries the server's passing refusals ("too many clients", a starting server) until its
/// timeout and then says only that it timed out, so one direct connection with the pool's
/// settings asks the server. `None` for other errors, and when another caller in this process
/// asked less than 5 s ago (a busy server is not asked once per failing request).
pub async fn explain(pool: &PgPool, error: &sqlx::Error) -> Option<String> {
    use sqlx::{ConnectOptions, Connection};
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_ASKED_MS: AtomicU64 = AtomicU64::new(0);
    if !matches!(error, sqlx::Error::PoolTimedOut) {
        return None;
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let last = LAST_ASKED_MS.load(Ordering::Relaxed);
    if now_ms.saturating_sub(last) < 5_000
        || LAST_ASKED_MS
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return None;
    }
    let options = pool.connect_options();
    let timed_out = sqlx::Error::PoolTimedOut.to_string();
    Some(
        match tokio::time::timeout(Duration::from_secs(5), options.connect()).await {
            Ok(Err(e)) => e.to_string(),
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                format!(
                    "{timed_out} (a single connection now succeeds: every connection of the pool \
                     was busy; a larger pool or fewer slow queries helps)"
                )
            }
            Err(_) => format!("{timed_out} (the server did not answer within 5 s)"),
        },
    )
}

/// Brings the schema up to date; safe to run from several processes at once. A database
/// that fails under it (a backend killed, a restart) is waited for ([`while_unavailable`]):
/// each migration is its own transaction, so the next try starts where this one ended.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    use sqlx::migrate::MigrateError;
    while_unavailable("migrations", || async {
        MIGRATOR.run(pool).await.map_err(|e| match e {
            MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _)
                if crate::broker::consumer::database_unavailable(&e) =>
            {
                e
            }
            other => sqlx::Error::Migrate(Box::new(other)),
        })
    })
    .await?;
    Ok(())
}

/// Runs a start-up step on the database (`what` names it in the log), again and again while
/// the database fails under it as [`connect_waiting`] waits for one that is down (a backend
/// killed by an operator, a restart, no connection to be had): a process starting in such a
/// moment waits instead of exiting. Any other error is returned at once. `work` must be safe
/// to run again (one transaction, or idempotent statements).
pub async fn while_unavailable<T, F, Fut>(what: &str, work: F) -> sqlx::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = sqlx::Result<T>>,
{
    retry_unavailable(what, FIRST_RETRY, work).await
}

async fn retry_unavailable<T, F, Fut>(what: &str, first: Duration, mut work: F) -> sqlx::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = sqlx::Result<T>>,
{
    let mut delay = first;
    loop {
        match work().await {
            Err(e) if crate::broker::consumer::database_unavailable(&e) => {
                tracing::warn!(step = what, error = %e, retry_in_ms = delay.as_millis() as u64,
                    "the database failed under a start-up step; trying it again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(LAST_RETRY);
            }
            done => return done,
        }
    }
}

/// Creates the database named in `url` when it does not exist yet (first run on a machine).
pub async fn create_if_missing(url: &str) -> anyhow::Result<()> {
    use sqlx::migrate::MigrateDatabase;
    let exists = sqlx::Postgres::database_exists(url).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach Postgres at {}: {e}",
            crate::config::redact_url(url)
        )
    })?;
    if !exists {
        sqlx::Postgres::create_database(url).await?;
        tracing::info!(
            database = crate::config::redact_url(url),
            "database created"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::retry_unavailable;

    fn killed() -> sqlx::Error {
        sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset by peer",
        ))
    }

    /// A start-up step whose backend is killed twice is tried until it gets through; a step
    /// that fails for another reason (here: what it looks for is not there) is not tried again.
    #[tokio::test]
    async fn a_start_up_step_is_tried_again_only_while_the_database_is_unavailable() {
        let calls = AtomicU32::new(0);
        let done = retry_unavailable("test", Duration::from_millis(1), || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move { if n < 2 { Err(killed()) } else { Ok(n) } }
        })
        .await;
        assert_eq!(done.unwrap(), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicU32::new(0);
        let refused: sqlx::Result<()> = retry_unavailable("test", Duration::from_millis(1), || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(sqlx::Error::RowNotFound) }
        })
        .await;
        assert!(matches!(refused, Err(sqlx::Error::RowNotFound)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
