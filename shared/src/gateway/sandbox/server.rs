//! The sandbox gateway's HTTP server (`refundd sandbox-gateway`, and in-process for tests and
//! `refundd all`): routes, and fault injection. Faults apply to `POST /refunds` only, so a
//! later status or ledger call always tells the truth:
//! - `latency`: added before every answer (refunds, status, ledger).
//! - `timeout_rate`: the share of refunds that hang for `hang` (past the client's timeout)
//!   and then answer 504 — half of them after booking, half without booking at all.
//! - `error_rate`: the share of refunds answered 500 — again half after booking.
//! - `decline`: every refund of a known payment is declined with this code.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::ledger::{Booking, Ledger, LedgerError, Seeding};
use super::{PaymentSeed, RefundRequest, SandboxError};
use crate::gateway::DeclineCode;
use crate::money::Money;

/// How the sandbox runs.
#[derive(Clone, Debug, Default)]
pub struct SandboxConfig {
    /// JSON-lines ledger file, replayed at start; `None` keeps the ledger in memory.
    pub ledger_path: Option<PathBuf>,
    /// Fault injection for `POST /refunds`; none by default.
    pub faults: Faults,
}

/// Fault injection (see the module documentation).
#[derive(Clone, Debug)]
pub struct Faults {
    /// Added before every answer to refund, status and ledger calls.
    pub latency: Duration,
    /// The share of refunds (0 to 1) that hang for `hang` and then answer 504.
    pub timeout_rate: f64,
    /// The share of refunds (0 to 1) answered 500.
    pub error_rate: f64,
    /// How long a "timed out" refund hangs before its 504.
    pub hang: Duration,
    /// When set, refunds of a known payment in its currency are declined with this code.
    pub decline: Option<DeclineCode>,
    /// Seed for the fault dice; random when absent.
    pub seed: Option<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            timeout_rate: 0.0,
            error_rate: 0.0,
            hang: Duration::from_secs(30),
            decline: None,
            seed: None,
        }
    }
}

/// Why the sandbox could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The ledger file could not be opened or replayed.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// The fault settings are out of range.
    #[error("{0}")]
    BadFaults(String),
    /// Listening or serving HTTP failed.
    #[error("serving HTTP failed: {0}")]
    Http(#[from] std::io::Error),
}

impl Faults {
    /// Checks that each rate is between 0 and 1 and that together they are at most 1.
    pub fn check(&self) -> Result<(), ServeError> {
        for (name, rate) in [
            ("timeout rate", self.timeout_rate),
            ("error rate", self.error_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ServeError::BadFaults(format!(
                    "the {name} must be between 0 and 1, not {rate}"
                )));
            }
        }
        if self.timeout_rate + self.error_rate > 1.0 {
            return Err(ServeError::BadFaults(format!(
                "the timeout rate and error rate add up to more than 1 ({} + {})",
                self.timeout_rate, self.error_rate
            )));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Hang { after_booking: bool },
    Fail { after_booking: bool },
}

#[derive(Clone)]
struct Sandbox {
    ledger: Arc<tokio::sync::Mutex<Ledger>>,
    faults: Arc<Faults>,
    dice: Arc<Mutex<fastrand::Rng>>,
    shutdown: CancellationToken,
}

impl Sandbox {
    /// Runs `change` on the ledger on the blocking pool: a change writes the ledger file and
    /// waits for its fsync, which must not hold one of the async threads (in `refundd all`
    /// they are the API's and every worker's too). One change at a time, in arrival order.
    async fn on_ledger<T: Send + 'static>(
        &self,
        change: impl FnOnce(&mut Ledger) -> Result<T, LedgerError> + Send + 'static,
    ) -> Result<T, LedgerError> {
        let mut ledger = self.ledger.clone().lock_owned().await;
        tokio::task::spawn_blocking(move || change(&mut ledger))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    fn roll(&self) -> Option<Fault> {
        let mut dice = self
            .dice
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let r = dice.f64();
        let after_booking = dice.bool();
        if r < self.faults.timeout_rate {
            Some(Fault::Hang { after_booking })
        } else if r < self.faults.timeout_rate + self.faults.error_rate {
            Some(Fault::Fail { after_booking })
        } else {
            None
        }
    }

    async fn latency(&self) {
        if !self.faults.latency.is_zero() {
            tokio::time::sleep(self.faults.latency).await;
        }
    }

    /// Answers a fault: a hang past the client's timeout then 504, or a 500 now.
    async fn fault_answer(&self, fault: Fault) -> Response {
        match fault {
            Fault::Hang { .. } => {
                tokio::select! {
                    _ = tokio::time::sleep(self.faults.hang) => {}
                    _ = self.shutdown.cancelled() => {}
                }
                error(
                    StatusCode::GATEWAY_TIMEOUT,
                    "injected_timeout",
                    "the sandbox hung on purpose (--timeout-rate)",
                )
            }
            Fault::Fail { .. } => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "injected_error",
                "the sandbox failed on purpose (--error-rate)",
            ),
        }
    }
}

/// The sandbox's routes over a ledger opened from `config`.
pub fn router(config: &SandboxConfig, shutdown: CancellationToken) -> Result<Router, ServeError> {
    config.faults.check()?;
    let ledger = match &config.ledger_path {
        Some(path) => Ledger::open(path)?,
        None => Ledger::in_memory(),
    };
    let dice = match config.faults.seed {
        Some(seed) => fastrand::Rng::with_seed(seed),
        None => fastrand::Rng::new(),
    };
    let state = Sandbox {
        ledger: Arc::new(tokio::sync::Mutex::new(ledger)),
        faults: Arc::new(config.faults.clone()),
        dice: Arc::new(Mutex::new(dice)),
        shutdown,
    };
    Ok(Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/payments", post(seed_payment))
        .route("/refunds", post(refund))
        .route("/refunds/{key}", get(refund_status))
        .route("/ledger", get(ledger_view))
        .with_state(state))
}

/// Serves the sandbox on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    config: SandboxConfig,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let app = router(&config, shutdown.clone())?;
    tracing::info!(
        listen = %listener.local_addr()?,
        ledger = config.ledger_path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "memory".into()),
        latency_ms = config.faults.latency.as_millis() as u64,
        timeout_rate = config.faults.timeout_rate,
        error_rate = config.faults.error_rate,
        decline = config.faults.decline.as_ref().map(ToString::to_string),
        "sandbox gateway serving"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(SandboxError {
            error: code.to_string(),
            message: message.into(),
        }),
    )
        .into_response()
}

fn ledger_failure(e: LedgerError) -> Response {
    tracing::error!(error = %e, "sandbox ledger write failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ledger_unavailable",
        e.to_string(),
    )
}

async fn seed_payment(
    State(sandbox): State<Sandbox>,
    body: Result<Json<PaymentSeed>, JsonRejection>,
) -> Response {
    let Json(seed) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", e.body_text()),
    };
    match Money::parse(&seed.amount, seed.currency) {
        Ok(m) if m.minor() > 0 => {}
        Ok(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_amount",
                "a captured amount must be positive",
            );
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_amount", e.to_string()),
    }
    if seed.transaction_id.trim().is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_transaction_id",
            "transaction_id is empty",
        );
    }
    let result = {
        let seed = seed.clone();
        sandbox.on_ledger(move |ledger| ledger.seed(seed)).await
    };
    match result {
        Ok(Seeding::Added) => (StatusCode::CREATED, Json(seed)).into_response(),
        Ok(Seeding::AlreadyKnown) => (StatusCode::OK, Json(seed)).into_response(),
        Ok(Seeding::Conflicts(known)) => error(
            StatusCode::CONFLICT,
            "transaction_conflict",
            format!(
                "transaction {} is already seeded with {} {} ({:?})",
                known.transaction_id, known.amount, known.currency, known.card_status
            ),
        ),
        Err(e) => ledger_failure(e),
    }
}

async fn refund(
    State(sandbox): State<Sandbox>,
    body: Result<Json<RefundRequest>, JsonRejection>,
) -> Response {
    sandbox.latency().await;
    let Json(request) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", e.body_text()),
    };
    let amount = match Money::parse(&request.amount, request.currency) {
        Ok(m) if m.minor() > 0 => m,
        Ok(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_amount",
                "a refund amount must be positive",
            );
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_amount", e.to_string()),
    };
    if request.idempotency_key.trim().is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_idempotency_key",
            "idempotency_key is empty",
        );
    }
    let fault = sandbox.roll();
    if let Some(
        f @ (Fault::Hang {
            after_booking: false,
        }
        | Fault::Fail {
            after_booking: false,
        }),
    ) = fault
    {
        tracing::info!(idempotency_key = %request.idempotency_key, fault = ?f, "sandbox fault before booking");
        return sandbox.fault_answer(f).await;
    }
    let booking = {
        let faults = sandbox.faults.clone();
        let request = request.clone();
        sandbox
            .on_ledger(move |ledger| ledger.book(&request, amount, faults.decline.as_ref()))
            .await
    };
    let booking = match booking {
        Ok(b) => b,
        Err(e) => return ledger_failure(e),
    };
    if let Some(f) = fault {
        tracing::info!(idempotency_key = %request.idempotency_key, fault = ?f, "sandbox fault after booking");
        return sandbox.fault_answer(f).await;
    }
    match booking {
        Booking::Booked(record) => {
            tracing::info!(
                idempotency_key = %record.idempotency_key,
                transaction_id = %record.transaction_id,
                amount = %record.amount,
                currency = %record.currency,
                status = ?record.status,
                decline_code = record.decline_code.as_ref().map(ToString::to_string),
                "sandbox booked a refund"
            );
            (StatusCode::OK, Json(record)).into_response()
        }
        Booking::Replayed(record) => {
            let mut headers = HeaderMap::new();
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
            (StatusCode::OK, headers, Json(record)).into_response()
        }
        Booking::KeyReused(record) => error(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            format!(
                "idempotency key {} already booked {} {} on {}",
                record.idempotency_key, record.amount, record.currency, record.transaction_id
            ),
        ),
    }
}

async fn refund_status(State(sandbox): State<Sandbox>, Path(key): Path<String>) -> Response {
    sandbox.latency().await;
    let found = sandbox.ledger.lock().await.refund(&key).cloned();
    match found {
        Some(record) => (StatusCode::OK, Json(record)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no refund was booked under idempotency key {key}"),
        ),
    }
}

#[derive(Deserialize)]
struct LedgerQuery {
    transaction_id: Option<String>,
}

async fn ledger_view(State(sandbox): State<Sandbox>, Query(q): Query<LedgerQuery>) -> Response {
    sandbox.latency().await;
    let view = sandbox
        .ledger
        .lock()
        .await
        .view(q.transaction_id.as_deref());
    (StatusCode::OK, Json(view)).into_response()
}
