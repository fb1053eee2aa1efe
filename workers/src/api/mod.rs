//! The HTTP API. `serve` takes its listener and its shutdown signal as parameters, so tests
//! bind port 0 and choose when it stops.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What every handler can reach.
#[derive(Clone)]
pub struct ApiContext {
    pub db: PgPool,
    pub amqp_url: String,
}

pub fn router(ctx: ApiContext) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(ctx)
}

pub async fn serve(
    listener: TcpListener,
    ctx: ApiContext,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    tracing::info!(address = %listener.local_addr()?, "API listening");
    axum::serve(listener, router(ctx))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// The process is up.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Postgres and RabbitMQ are reachable.
async fn readyz(State(ctx): State<ApiContext>) -> (StatusCode, Json<serde_json::Value>) {
    let postgres = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(&ctx.db),
    )
    .await
    .map_err(|_| "timed out".to_string())
    .and_then(|r| r.map(|_| ()).map_err(|e| e.to_string()));
    let rabbitmq = tokio::time::timeout(
        Duration::from_secs(2),
        shared::broker::connect(&ctx.amqp_url, "refundd readiness check"),
    )
    .await
    .map_err(|_| "timed out".to_string())
    .and_then(|r| r.map_err(|e| e.to_string()));
    if let Ok(conn) = &rabbitmq {
        let _ = conn.close(200, "readiness check done").await;
    }
    let status = |r: &Result<_, String>| match r {
        Ok(_) => json!("ok"),
        Err(e) => json!({"error": e}),
    };
    let ready = postgres.is_ok() && rabbitmq.is_ok();
    (
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(json!({
            "status": if ready { "ready" } else { "not_ready" },
            "postgres": status(&postgres),
            "rabbitmq": status(&rabbitmq.map(|_| ())),
        })),
    )
}
