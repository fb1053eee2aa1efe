//! Our own sandbox gateway: the wire shapes of its HTTP API, and [`SandboxGateway`], the
//! adapter that talks to it. The server itself is in [`server`]; its ledger in [`ledger`].
//!
//! API (JSON; amounts are decimal strings, currencies ISO codes):
//! - `POST /payments` `{transaction_id, amount, currency, card_status}` seeds a captured
//!   payment (`card_status`: `active` | `expired` | `closed`). Refunds against unseeded
//!   transactions are declined `unknown_transaction`: the sandbox must know what was
//!   captured to refuse refunds above it.
//! - `POST /refunds` `{transaction_id, amount, currency, idempotency_key}` books a refund and
//!   answers 200 with a [`RefundRecord`] (`status` `succeeded` or `declined`). The same key
//!   again books nothing and answers the same record (header `Idempotent-Replayed: true`);
//!   the same key with other details answers 409.
//! - `GET /refunds/{idempotency_key}`: the record, or 404 when nothing was booked under it.
//! - `GET /ledger[?transaction_id=]`: every refund booked (in order) and totals per
//!   transaction.

pub mod ledger;
pub mod server;

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use super::transport::{self, send};
use super::{DeclineCode, Gateway, RefundOrder, RefundOutcome};
use crate::merchants::GatewayKind;
use crate::money::{Currency, Money};

/// Where `refundd sandbox-gateway` listens unless told otherwise.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8090";

/// Whether a seeded payment's card can take a refund.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    /// The card can take refunds (the default).
    #[default]
    Active,
    /// The card has expired: refunds are declined `card_expired`.
    Expired,
    /// The card account is closed: refunds are declined `card_closed`.
    Closed,
}

/// `POST /payments`: a captured payment the sandbox will accept refunds against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSeed {
    /// The payment's transaction id, which refunds name.
    pub transaction_id: String,
    /// Decimal string, e.g. `"450.00"`.
    pub amount: String,
    /// The currency the payment was captured in.
    pub currency: Currency,
    /// Whether the card can take a refund; `active` when omitted.
    #[serde(default)]
    pub card_status: CardStatus,
}

/// `POST /refunds`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// The seeded payment to refund.
    pub transaction_id: String,
    /// Decimal string, e.g. `"150.00"`.
    pub amount: String,
    /// The refund's currency; it must be the payment's.
    pub currency: Currency,
    /// Our key: the same key again books nothing and answers the first record.
    pub idempotency_key: String,
}

/// Whether the sandbox booked a refund or declined it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// The refund was booked and counts against the captured amount.
    Succeeded,
    /// The refund was refused; `decline_code` and `reason` say why.
    Declined,
}

/// A refund as the sandbox booked it (declines are kept too, so a replay answers the same).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRecord {
    /// The sandbox's id for the refund (`sbx_re_…`).
    pub refund_id: String,
    /// The idempotency key it was booked under.
    pub idempotency_key: String,
    /// The seeded payment refunded.
    pub transaction_id: String,
    /// Decimal string, e.g. `"150.00"`.
    pub amount: String,
    /// The refund's currency.
    pub currency: Currency,
    /// Booked or declined.
    pub status: RefundStatus,
    /// Why it was declined; absent for a booked refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<DeclineCode>,
    /// A sentence saying why it was declined; absent for a booked refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the sandbox recorded it.
    pub booked_at: DateTime<Utc>,
}

/// Totals for one seeded transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionTotals {
    /// The seeded payment's transaction id.
    pub transaction_id: String,
    /// The currency it was captured in.
    pub currency: Currency,
    /// Its card status, as seeded.
    pub card_status: CardStatus,
    /// The amount captured, as a decimal string.
    pub captured: String,
    /// The total of its booked (succeeded) refunds, as a decimal string.
    pub refunded: String,
    /// What is left to refund (captured minus refunded), as a decimal string.
    pub remaining: String,
    /// How many refunds were booked against it; declines do not count.
    pub refund_count: usize,
}

/// `GET /ledger`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerView {
    /// Every refund record, booked or declined, in the order recorded.
    pub refunds: Vec<RefundRecord>,
    /// Totals per seeded transaction, ordered by transaction id.
    pub transactions: Vec<TransactionTotals>,
}

/// The error body of a 4xx answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxError {
    /// A short machine-readable code (`bad_amount`, `idempotency_key_reused`, `not_found`...).
    pub error: String,
    /// A sentence saying what was wrong.
    pub message: String,
}

/// The adapter for our sandbox gateway.
#[derive(Clone, Debug)]
pub struct SandboxGateway {
    client: reqwest::Client,
    base_url: String,
    timeout: Duration,
}

/// Why a sandbox administration call (seeding, ledger) failed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxCallError {
    /// The HTTP call failed, or its answer could not be read.
    #[error("sandbox gateway call failed: {0}")]
    Transport(#[from] reqwest::Error),
    /// The sandbox answered with a status other than success.
    #[error("sandbox gateway answered HTTP {status}: {body}")]
    Refused {
        /// The HTTP status code.
        status: u16,
        /// The answer's body, as text (empty when it could not be read).
        body: String,
    },
}

impl SandboxGateway {
    /// An adapter for the sandbox at `base_url` (a trailing `/` is dropped); each call gives up
    /// after `timeout`.
    pub fn new(client: reqwest::Client, base_url: String, timeout: Duration) -> Self {
        Self {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            timeout,
        }
    }

    /// A client for the sandbox at `base_url` (e.g. `http://127.0.0.1:8090`).
    pub fn at(base_url: &str, timeout: Duration) -> Result<Self, super::GatewayConfigError> {
        Ok(Self::new(
            transport::client()?,
            base_url.to_string(),
            timeout,
        ))
    }

    /// Seeds a captured payment (demo and end-to-end tests call this when they register one).
    pub async fn register_payment(
        &self,
        transaction_id: &str,
        amount: Money,
        card_status: CardStatus,
    ) -> Result<(), SandboxCallError> {
        let seed = PaymentSeed {
            transaction_id: transaction_id.to_string(),
            amount: amount.amount_text(),
            currency: amount.currency(),
            card_status,
        };
        let response = self
            .client
            .post(format!("{}/payments", self.base_url))
            .json(&seed)
            .timeout(self.timeout)
            .send()
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        Err(SandboxCallError::Refused {
            status: status.as_u16(),
            body: response.text().await.unwrap_or_default(),
        })
    }

    /// The sandbox's ledger, optionally for one transaction.
    pub async fn ledger(
        &self,
        transaction_id: Option<&str>,
    ) -> Result<LedgerView, SandboxCallError> {
        let mut request = self.client.get(format!("{}/ledger", self.base_url));
        if let Some(id) = transaction_id {
            request = request.query(&[("transaction_id", id)]);
        }
        let response = request.timeout(self.timeout).send().await?;
        let status = response.status();
        if !status.is_success() {
            return Err(SandboxCallError::Refused {
                status: status.as_u16(),
                body: response.text().await.unwrap_or_default(),
            });
        }
        Ok(response.json().await?)
    }

    fn outcome_of(record: RefundRecord) -> RefundOutcome {
        match record.status {
            RefundStatus::Succeeded => RefundOutcome::Succeeded {
                gateway_ref: record.refund_id,
            },
            RefundStatus::Declined => RefundOutcome::Declined {
                code: record
                    .decline_code
                    .unwrap_or_else(|| DeclineCode::Other("declined".into())),
                reason: record.reason.unwrap_or_default(),
            },
        }
    }
}

impl Gateway for SandboxGateway {
    async fn refund(&self, order: &RefundOrder<'_>) -> RefundOutcome {
        let body = RefundRequest {
            transaction_id: order.gateway_transaction_id.to_string(),
            amount: order.amount.amount_text(),
            currency: order.amount.currency(),
            idempotency_key: order.idempotency_key.to_string(),
        };
        let request = self
            .client
            .post(format!("{}/refunds", self.base_url))
            .json(&body);
        let answer = match send("sandbox gateway", request, self.timeout).await {
            Ok(a) => a,
            Err(unknown) => return unknown,
        };
        match answer.status {
            StatusCode::OK => match serde_json::from_str::<RefundRecord>(&answer.body) {
                Ok(record) => Self::outcome_of(record),
                Err(_) => transport::unreadable("sandbox gateway", answer.status),
            },
            status => match serde_json::from_str::<SandboxError>(&answer.body) {
                Ok(e) => RefundOutcome::Declined {
                    code: DeclineCode::Other(e.error),
                    reason: e.message,
                },
                Err(_) => transport::unreadable("sandbox gateway", status),
            },
        }
    }

    async fn status(&self, order: &RefundOrder<'_>) -> RefundOutcome {
        let Ok(mut url) = reqwest::Url::parse(&format!("{}/refunds/", self.base_url)) else {
            return RefundOutcome::unknown("sandbox gateway URL is not valid");
        };
        url.path_segments_mut()
            .map(|mut s| {
                s.pop_if_empty().push(order.idempotency_key);
            })
            .ok();
        let answer = match send("sandbox gateway", self.client.get(url), self.timeout).await {
            Ok(a) => a,
            Err(unknown) => return unknown,
        };
        match answer.status {
            StatusCode::OK => match serde_json::from_str::<RefundRecord>(&answer.body) {
                Ok(record) => Self::outcome_of(record),
                Err(_) => transport::unreadable("sandbox gateway", answer.status),
            },
            StatusCode::NOT_FOUND => RefundOutcome::NotFound,
            status => transport::unreadable("sandbox gateway", status),
        }
    }

    async fn refunds_between(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<super::Listing, String> {
        let ledger = self
            .ledger(None)
            .await
            .map_err(|e| format!("the sandbox ledger cannot be read: {e}"))?;
        Ok(super::Listing::Refunds(
            ledger
                .refunds
                .into_iter()
                .filter(|r| r.booked_at >= from && r.booked_at < to)
                .filter_map(|r| {
                    Some(super::GatewayRefund {
                        amount: Money::parse(&r.amount, r.currency).ok()?,
                        made: r.status == RefundStatus::Succeeded,
                        reference: r.refund_id,
                        our_key: Some(r.idempotency_key),
                        payment_ref: Some(r.transaction_id),
                        created: Some(r.booked_at),
                    })
                })
                .collect(),
        ))
    }

    fn finds_refunds_by_key(&self) -> bool {
        true
    }

    fn kind(&self) -> GatewayKind {
        GatewayKind::Sandbox
    }
}
