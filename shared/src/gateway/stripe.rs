//! Stripe adapter, from Stripe's official Go SDK (`stripe/stripe-go` at `a1e3932`:
//! `refund.go`, `error.go`, `stripe.go`, `api_version.go`) and docs.stripe.com (idempotent
//! requests, API versions):
//! - refund: `POST /v1/refunds` (form-encoded `charge` or `payment_intent`, `amount` in minor
//!   units, `metadata[...]`), `Authorization: Bearer <secret key>`, `Idempotency-Key` header
//!   carrying our key; the answer is a Refund object whose `status` is `pending`,
//!   `requires_action`, `succeeded`, `failed` or `canceled`, with `failure_reason`
//!   (`expired_or_canceled_card`, `lost_or_stolen_card`, `unknown`, ...) when failed.
//! - errors: `{"error": {"type", "code", "message"}}` with 4xx (`charge_already_refunded`,
//!   `amount_too_large`, `balance_insufficient`, ...).
//! - status: `GET /v1/refunds/{id}` when the refund id is known, else
//!   `GET /v1/refunds?charge=…|payment_intent=…` and the refund whose
//!   `metadata[idempotency_key]` is ours; none means it never reached Stripe.
//! - version: every call pins [`API_VERSION`] with `Stripe-Version`, so the account's default
//!   version (which its owner may upgrade at any time) never changes what we read.
//! - a refund id Stripe gave us and now does not know (404) is not "never sent": unknown, for
//!   a person, never a reason to send again.
//! - a 500 is stored with its key and replayed "including `500` errors" for 24 hours
//!   (docs.stripe.com/api/idempotent_requests): after one, and once the charge's refunds prove
//!   no refund carries our `metadata[idempotency_key]`, the payout stage sends again with a key
//!   derived from ours (`Attempt::resend_key`) instead of waiting a day; the metadata keeps
//!   our attempt's key, so `status` still finds whichever send Stripe booked.
//!
//! Credentials: `{PREFIX}_SECRET_KEY`.

use std::time::Duration;

use serde::Deserialize;

use super::transport::{self, send};
use super::{DeclineCode, Gateway, RefundOrder, RefundOutcome, Secret};
use crate::merchants::GatewayKind;

/// The Stripe API host (the default `base_url`).
pub const HOST: &str = "https://api.stripe.com";
/// The API version every call pins (`Stripe-Version`): the one `stripe-go` pins at the commit
/// the adapter follows (`api_version.go`).
pub const API_VERSION: &str = "2026-07-29.dahlia";
const NAME: &str = "Stripe";
/// How many pages of a charge's refunds `status` reads before giving up.
const MAX_PAGES: usize = 10;

/// The Stripe adapter: refunds by `POST /v1/refunds` with our key as `Idempotency-Key`, status by
/// the refund id or the charge's refunds.
#[derive(Clone, Debug)]
pub struct Stripe {
    client: reqwest::Client,
    base_url: String,
    secret_key: Secret,
    timeout: Duration,
}

#[derive(Debug, Deserialize)]
struct Refund {
    id: String,
    status: Option<String>,
    failure_reason: Option<String>,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
    amount: Option<i64>,
    currency: Option<String>,
    charge: Option<String>,
    payment_intent: Option<String>,
    created: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct RefundList {
    data: Vec<Refund>,
    #[serde(default)]
    has_more: bool,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ApiError,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    message: Option<String>,
}

impl Stripe {
    /// An adapter calling `base_url` with this secret key; each call gives up after `timeout`.
    pub fn new(
        client: reqwest::Client,
        base_url: String,
        secret_key: Secret,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            base_url,
            secret_key,
            timeout,
        }
    }

    /// `charge` for `ch_…` ids, `payment_intent` for `pi_…` ids.
    fn payment_field(transaction_id: &str) -> &'static str {
        if transaction_id.starts_with("pi_") {
            "payment_intent"
        } else {
            "charge"
        }
    }

    fn outcome_of(refund: Refund) -> RefundOutcome {
        match refund.status.as_deref() {
            Some("succeeded") => RefundOutcome::Succeeded {
                gateway_ref: refund.id,
            },
            Some("pending" | "requires_action") | None => RefundOutcome::Pending {
                gateway_ref: Some(refund.id),
            },
            Some("failed") => {
                let reason = refund.failure_reason.unwrap_or_else(|| "unknown".into());
                let code = match reason.as_str() {
                    "expired_or_canceled_card" => DeclineCode::CardExpired,
                    "lost_or_stolen_card" => DeclineCode::CardClosed,
                    "insufficient_funds" => DeclineCode::InsufficientFunds,
                    other => DeclineCode::Other(other.to_string()),
                };
                RefundOutcome::Declined {
                    code,
                    reason: format!("Stripe refund {} failed: {reason}", refund.id),
                }
            }
            Some("canceled") => RefundOutcome::Declined {
                code: DeclineCode::Other("canceled".into()),
                reason: format!("Stripe refund {} was canceled", refund.id),
            },
            Some(other) => {
                RefundOutcome::unknown(format!("Stripe refund {} has status {other:?}", refund.id))
            }
        }
    }

    fn error_outcome(status: reqwest::StatusCode, body: &str) -> RefundOutcome {
        let Ok(ErrorBody { error }) = serde_json::from_str::<ErrorBody>(body) else {
            return transport::unreadable(NAME, status);
        };
        let message = error.message.unwrap_or_default();
        // Authentication, permission and idempotency-in-flight errors are not Stripe's decision
        // on the refund: the outcome stays open.
        if matches!(status.as_u16(), 401 | 403 | 409)
            || error.kind.as_deref() == Some("idempotency_error")
        {
            return RefundOutcome::unknown(format!(
                "Stripe answered HTTP {}: {message}",
                status.as_u16()
            ));
        }
        let code = match error.code.as_deref() {
            Some("charge_already_refunded") => DeclineCode::DuplicateRefund,
            Some("amount_too_large") => DeclineCode::AmountExceedsCaptured,
            Some("balance_insufficient" | "insufficient_funds") => DeclineCode::InsufficientFunds,
            Some("expired_card") => DeclineCode::CardExpired,
            Some(other) => DeclineCode::Other(other.to_string()),
            None => DeclineCode::Other(error.kind.unwrap_or_else(|| "invalid_request".into())),
        };
        RefundOutcome::Declined {
            code,
            reason: message,
        }
    }
}

impl Stripe {
    /// One page of `GET /v1/refunds` with `filter`, after `starting_after`; `Err` is the
    /// outcome when Stripe did not list (a refusal is `Unknown`: it says nothing of the refund).
    async fn list_page(
        &self,
        filter: &[(&str, String)],
        starting_after: Option<&str>,
    ) -> Result<RefundList, RefundOutcome> {
        let mut query: Vec<(&str, String)> = filter.to_vec();
        query.push(("limit", "100".to_string()));
        if let Some(after) = starting_after {
            query.push(("starting_after", after.to_string()));
        }
        let request = self
            .client
            .get(format!("{}/v1/refunds", self.base_url))
            .bearer_auth(self.secret_key.expose())
            .header("Stripe-Version", API_VERSION)
            .query(&query);
        let answer = send(NAME, request, self.timeout).await?;
        if !answer.status.is_success() {
            return Err(match Self::error_outcome(answer.status, &answer.body) {
                RefundOutcome::Declined { code, reason } => RefundOutcome::unknown(format!(
                    "Stripe refused to list refunds ({code}): {reason}"
                )),
                other => other,
            });
        }
        serde_json::from_str(&answer.body).map_err(|_| transport::unreadable(NAME, answer.status))
    }
}

impl Gateway for Stripe {
    async fn refund(&self, order: &RefundOrder<'_>) -> RefundOutcome {
        let form = [
            (
                Self::payment_field(order.gateway_transaction_id),
                order.gateway_transaction_id.to_string(),
            ),
            ("amount", order.amount.minor().to_string()),
            (
                "metadata[idempotency_key]",
                order.idempotency_key.to_string(),
            ),
            ("metadata[payment_id]", order.payment_id.to_string()),
            ("metadata[request_id]", order.request_id.to_string()),
        ];
        let request = self
            .client
            .post(format!("{}/v1/refunds", self.base_url))
            .bearer_auth(self.secret_key.expose())
            .header("Stripe-Version", API_VERSION)
            .header("Idempotency-Key", order.request_key)
            .form(&form);
        let answer = match send(NAME, request, self.timeout).await {
            Ok(a) => a,
            Err(unknown) => return unknown,
        };
        if answer.status.is_success() {
            return match serde_json::from_str::<Refund>(&answer.body) {
                Ok(refund) => Self::outcome_of(refund),
                Err(_) => transport::unreadable(NAME, answer.status),
            };
        }
        Self::error_outcome(answer.status, &answer.body)
    }

    async fn status(&self, order: &RefundOrder<'_>) -> RefundOutcome {
        if let Some(id) = order.gateway_ref {
            let request = self
                .client
                .get(format!("{}/v1/refunds/{id}", self.base_url))
                .bearer_auth(self.secret_key.expose())
                .header("Stripe-Version", API_VERSION);
            let answer = match send(NAME, request, self.timeout).await {
                Ok(a) => a,
                Err(unknown) => return unknown,
            };
            if answer.status.is_success() {
                return match serde_json::from_str::<Refund>(&answer.body) {
                    Ok(refund) => Self::outcome_of(refund),
                    Err(_) => transport::unreadable(NAME, answer.status),
                };
            }
            return match answer.status.as_u16() {
                // Stripe gave us this id: not knowing it now is not "never sent".
                404 => RefundOutcome::unknown(format!(
                    "Stripe does not know refund {id}, which it answered us with; look it up in the Stripe dashboard"
                )),
                _ => Self::error_outcome(answer.status, &answer.body),
            };
        }
        let field = Self::payment_field(order.gateway_transaction_id);
        let filter = [(field, order.gateway_transaction_id.to_string())];
        let mut starting_after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let list = match self.list_page(&filter, starting_after.as_deref()).await {
                Ok(list) => list,
                Err(outcome) => return outcome,
            };
            starting_after = list.data.last().map(|r| r.id.clone());
            if let Some(refund) = list.data.into_iter().find(|r| {
                r.metadata.get("idempotency_key").map(String::as_str) == Some(order.idempotency_key)
            }) {
                return Self::outcome_of(refund);
            }
            if !list.has_more || starting_after.is_none() {
                return RefundOutcome::NotFound;
            }
        }
        RefundOutcome::unknown(format!(
            "more than {} refunds on {}; look the refund up in the Stripe dashboard",
            MAX_PAGES * 100,
            order.gateway_transaction_id
        ))
    }

    /// `GET /v1/refunds?created[gte]=…&created[lt]=…` (stripe-go `RefundListParams.Created`),
    /// page by page.
    async fn refunds_between(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<super::Listing, String> {
        let mut refunds = Vec::new();
        let filter = [
            ("created[gte]", from.timestamp().to_string()),
            ("created[lt]", to.timestamp().to_string()),
        ];
        let mut starting_after: Option<String> = None;
        for _ in 0..MAX_PAGES * 10 {
            let list = self
                .list_page(&filter, starting_after.as_deref())
                .await
                .map_err(|o| format!("{o:?}"))?;
            starting_after = list.data.last().map(|r| r.id.clone());
            for r in list.data {
                let currency = r.currency.as_deref().map(str::to_uppercase);
                let Some(amount) = r
                    .amount
                    .zip(currency.and_then(|c| c.parse::<crate::money::Currency>().ok()))
                    .map(|(a, c)| crate::money::Money::from_minor(a, c))
                else {
                    continue;
                };
                refunds.push(super::GatewayRefund {
                    made: matches!(
                        r.status.as_deref(),
                        Some("succeeded" | "pending" | "requires_action")
                    ),
                    our_key: r.metadata.get("idempotency_key").cloned(),
                    payment_ref: r.charge.or(r.payment_intent),
                    created: r
                        .created
                        .and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
                    reference: r.id,
                    amount,
                });
            }
            if !list.has_more || starting_after.is_none() {
                return Ok(super::Listing::Refunds(refunds));
            }
        }
        Err("more than 100 pages of refunds in one day; reconcile a shorter period in the Stripe dashboard".into())
    }

    fn finds_refunds_by_key(&self) -> bool {
        true
    }

    fn kind(&self) -> GatewayKind {
        GatewayKind::Stripe
    }
}
