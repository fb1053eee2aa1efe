//! The Postgres connection pool and the schema migrations shipped in `migrations/`.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// The migrations compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Opens a pool; fails fast (5 s) when the server is not there, naming the URL without its password.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to Postgres at {}: {e}",
                crate::config::redact_url(url)
            )
        })
}

/// Brings the schema up to date; safe to run from several processes at once.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await?;
    Ok(())
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
