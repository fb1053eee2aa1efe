//! The HTTP API for support agents, supervisors, mail providers and dashboards. JSON in and
//! out, problem+json errors, API keys with roles, OpenAPI at `/openapi.json` and a browsable
//! page at `/docs`. `serve` takes its listener and its shutdown signal as parameters, so tests
//! bind port 0 and choose when it stops.

pub mod auth;
pub mod charts;
pub mod console;
pub mod dashboard;
pub mod docs;
pub mod documents;
pub mod extract;
pub mod gateway_notifications;
pub mod health;
pub mod intake;
pub mod limits;
pub mod merchants;
pub mod metrics;
pub mod payments;
pub mod payouts;
pub mod problem;
pub mod quotes;
pub mod requests;
pub mod schemas;
pub mod sla;
pub mod unverified;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use shared::broker::Topology;
use shared::calendar::Calendars;
use shared::config::TrustedProxies;
use shared::documents::DocumentKeys;
use shared::merchants::Merchants;
use shared::policy::PolicyPacks;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use self::auth::FailedAttempts;
use self::problem::ApiError;

/// Largest JSON body accepted (documents have their own limit).
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct ApiContext {
    pub db: PgPool,
    pub amqp_url: String,
    pub merchants: Arc<Merchants>,
    pub packs: Arc<PolicyPacks>,
    pub calendars: Arc<Calendars>,
    pub document_keys: DocumentKeys,
    pub failed_attempts: FailedAttempts,
    /// Proxies whose `X-Forwarded-For` names the client (`REFUNDD_TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
    /// The email intake (`POST /v1/intake/email`, unverified emails), built over this
    /// context's database, merchants, packs and keys; [`ApiContext::set_intake_settings`]
    /// rebuilds it with other settings.
    pub intake: crate::intake::Intake,
    /// The queue names `/metrics` asks RabbitMQ about (`REFUNDD_QUEUE_PREFIX`).
    pub topology: Topology,
    /// What `/metrics` keeps between scrapes.
    pub metrics: metrics::Metrics,
    /// How long a client may take (headers, body, whole request).
    pub limits: limits::ServerLimits,
    /// Each merchant's secret for its gateway's notifications.
    pub notification_secrets: gateway_notifications::NotificationSecrets,
}

impl ApiContext {
    pub fn new(
        db: PgPool,
        amqp_url: String,
        merchants: impl Into<Arc<Merchants>>,
        packs: impl Into<Arc<PolicyPacks>>,
        calendars: impl Into<Arc<Calendars>>,
        document_keys: DocumentKeys,
    ) -> Self {
        let (merchants, packs) = (merchants.into(), packs.into());
        let intake = crate::intake::Intake::new(
            db.clone(),
            Arc::clone(&merchants),
            Arc::clone(&packs),
            document_keys.clone(),
            crate::intake::IntakeSettings::default(),
        );
        Self {
            document_keys,
            db,
            amqp_url,
            merchants,
            packs,
            calendars: calendars.into(),
            failed_attempts: FailedAttempts::default(),
            trusted_proxies: TrustedProxies::default(),
            intake,
            topology: Topology::from_settings(&shared::config::Settings::default()),
            metrics: metrics::Metrics::default(),
            limits: limits::ServerLimits::default(),
            notification_secrets: Default::default(),
        }
    }
}

impl ApiContext {
    /// The intake with `settings` (the default merchant, answers per day, limits).
    pub fn set_intake_settings(&mut self, settings: crate::intake::IntakeSettings) {
        self.intake = crate::intake::Intake::new(
            self.db.clone(),
            self.merchants.clone(),
            self.packs.clone(),
            self.document_keys.clone(),
            settings,
        );
    }

    /// Working days from `from` to `to` (see
    /// [`shared::calendar::WorkingDayCalendar::working_days_between`]), both read as local
    /// dates in the time zone of policy pack `policy`, on its country's calendar. `None` when
    /// the pack is not loaded.
    pub fn working_days_between(
        &self,
        policy: Option<&str>,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Option<Result<i64, shared::calendar::CalendarError>> {
        let pack = self.packs.get(policy?)?;
        let tz = pack.timezone();
        Some(self.calendars.get(pack.country()).working_days_between(
            from.with_timezone(&tz).date_naive(),
            to.with_timezone(&tz).date_naive(),
        ))
    }
}

pub fn router(ctx: ApiContext) -> Router {
    let limits = ctx.limits;
    Router::new()
        .merge(health::router())
        .merge(docs::router())
        .merge(merchants::router())
        .merge(payments::router())
        .merge(quotes::router())
        .merge(requests::router())
        .merge(documents::router())
        .merge(payouts::router())
        .merge(gateway_notifications::router())
        .merge(intake::router())
        .merge(unverified::router())
        .merge(sla::router())
        .merge(dashboard::router())
        .merge(console::router())
        .merge(metrics::router())
        .fallback(|| async { ApiError::not_found("no such endpoint; see /docs") })
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            ctx.db.clone(),
            database_trouble,
        ))
        .layer(middleware::from_fn_with_state(limits, limits::deadlines))
        .layer(middleware::from_fn(request_id))
        .with_state(ctx)
}

impl FromRef<ApiContext> for PgPool {
    fn from_ref(ctx: &ApiContext) -> PgPool {
        ctx.db.clone()
    }
}

pub async fn serve(
    listener: TcpListener,
    ctx: ApiContext,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    tracing::info!(address = %listener.local_addr()?, "API listening");
    let limits = ctx.limits;
    limits::serve(listener, router(ctx), limits, shutdown).await
}

/// After an answer the database's pool timeout caused, logs the server's own reason (say
/// "too many clients already") instead of only "pool timed out".
async fn database_trouble(
    axum::extract::State(pool): axum::extract::State<PgPool>,
    req: Request,
    next: Next,
) -> Response {
    let response = next.run(req).await;
    if response
        .extensions()
        .get::<problem::DatabaseTimedOut>()
        .is_some()
        && let Some(reason) = shared::db::explain(&pool, &sqlx::Error::PoolTimedOut).await
    {
        tracing::error!(reason, "the database gave no connection in time");
    }
    response
}

/// Gives every request an id (the caller's `X-Request-Id` when it is sane), puts it on the
/// span of everything the request does, echoes it back, and logs one line per request.
async fn request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 100
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let span = tracing::info_span!(
        "http",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path()
    );
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request answered"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
