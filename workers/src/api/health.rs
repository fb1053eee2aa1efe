//! Liveness and readiness: `/healthz` (the process answers) and `/readyz` (Postgres and
//! RabbitMQ are reachable). Neither needs a key, so orchestrators can probe them.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiContext;

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`
    pub status: String,
    /// `ok`, or what went wrong.
    pub postgres: String,
    /// `ok`, or what went wrong.
    pub rabbitmq: String,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Postgres and RabbitMQ are reachable.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "health", responses(
    (status = 200, body = Readiness, description = "ready"),
    (status = 503, body = Readiness, description = "a dependency is unreachable")
))]
pub async fn readyz(State(ctx): State<ApiContext>) -> (StatusCode, Json<Readiness>) {
    let postgres = match tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query_scalar!(r#"SELECT 1 AS "one!""#).fetch_one(&ctx.db),
    )
    .await
    {
        Ok(Ok(_)) => "ok".to_string(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "timed out".to_string(),
    };
    let rabbitmq = match tokio::time::timeout(
        Duration::from_secs(2),
        shared::broker::connect(&ctx.amqp_url, "refundd readiness check"),
    )
    .await
    {
        Ok(Ok(conn)) => {
            let _ = conn.close(200, "readiness check done").await;
            "ok".to_string()
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "timed out".to_string(),
    };
    let ready = postgres == "ok" && rabbitmq == "ok";
    (
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(Readiness {
            status: if ready { "ready" } else { "not_ready" }.into(),
            postgres,
            rabbitmq,
        }),
    )
}
