//! CloudPayments adapter (KZ and RU), from the CloudPayments API documentation
//! (developers.cloudpayments.ru, section "API"):
//! - every call is `POST` with a JSON body, HTTP Basic auth with the Public ID as user and the
//!   API Secret as password; answers carry at least `Success` and `Message`, and a `Model`.
//! - refund: `POST /payments/refund` `{TransactionId (Int), Amount (Numeric), JsonData}`;
//!   answer `{"Success":true,"Message":null,"Model":{"TransactionId":<refund id>}}`, or
//!   `{"Success":false,"Message":"…"}`, or a declined `Model` with `Status: "Declined"`,
//!   `Reason`, `ReasonCode` (the error-code reference: 5054 expired card, 5041 lost card, …).
//! - idempotency: header `X-Request-ID`; the result of a successful request is kept for one
//!   hour and answered again to a repeat with the same id.
//! - lookup: `POST /payments/get` `{TransactionId}` answers the operation's `Model.Status`
//!   (`Completed`, `Declined`, `Authorized`, …).
//!
//! `status` asks by the refund's own transaction id (`order.gateway_ref`). CloudPayments
//! finds operations by `TransactionId` (`/payments/get`) or by the payment's `InvoiceId`
//! (`/payments/find`, `/v2/payments/find`, which answer the payment, not our refund). With no
//! refund id known (the answer was lost), `status` recovers it the documented way: within
//! [`REQUEST_ID_WINDOW`] of the first send it repeats the refund with the same
//! `X-Request-ID`, which CloudPayments answers with the stored result of the first (or
//! processes once, if the first never arrived). Past the window nothing can find a refund by
//! our key, so `status` answers `Unknown` saying so (the payout goes to a person, never
//! re-sent blind). A refund id
//! CloudPayments answered us with and does not find now is `Unknown` too, never "not found"
//! (which would mean "never sent" and send it again); a declined operation answers
//! `Success: false` with its Model, and the Model decides.
//!
//! Hosts: [`RU_HOST`] by default, [`KZ_HOST`] for Kazakhstan merchants (set `base_url`).
//! Credentials: `{PREFIX}_PUBLIC_ID`, `{PREFIX}_API_SECRET`.

use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;

use super::transport::{self, send};
use super::{DeclineCode, Gateway, RefundOrder, RefundOutcome, Secret};
use crate::merchants::GatewayKind;

/// The CloudPayments API host for Russian merchants (the default `base_url`).
pub const RU_HOST: &str = "https://api.cloudpayments.ru";
/// The CloudPayments API host for Kazakhstan merchants.
pub const KZ_HOST: &str = "https://api.cloudpayments.kz";
const NAME: &str = "CloudPayments";
/// How long after the first send a repeat with the same `X-Request-ID` is answered from
/// CloudPayments' store: "the processed result is kept in the system for 1 hour" (API docs,
/// "Идемпотентность API"), less ten minutes for clocks and queues.
pub const REQUEST_ID_WINDOW: Duration = Duration::from_secs(50 * 60);

/// A merchant's CloudPayments API credentials, sent as HTTP Basic auth.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The Public ID, the Basic auth user (`{PREFIX}_PUBLIC_ID`).
    pub public_id: Secret,
    /// The API Secret, the Basic auth password (`{PREFIX}_API_SECRET`).
    pub api_secret: Secret,
}

/// The CloudPayments adapter: refunds by `POST /payments/refund` with our key as `X-Request-ID`,
/// status by `POST /payments/get`.
#[derive(Clone, Debug)]
pub struct CloudPayments {
    client: reqwest::Client,
    base_url: String,
    credentials: Credentials,
    timeout: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Reply {
    success: bool,
    message: Option<String>,
    model: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Operation {
    transaction_id: Option<i64>,
    status: Option<String>,
    reason: Option<String>,
    reason_code: Option<i64>,
    card_holder_message: Option<String>,
}

impl CloudPayments {
    /// An adapter calling `base_url` with these credentials; each call gives up after `timeout`.
    pub fn new(
        client: reqwest::Client,
        base_url: String,
        credentials: Credentials,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            base_url,
            credentials,
            timeout,
        }
    }

    fn post(&self, path: &str, body: String) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base_url))
            .basic_auth(
                self.credentials.public_id.expose(),
                Some(self.credentials.api_secret.expose()),
            )
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
    }

    /// Decline code for a CloudPayments `ReasonCode` (error-code reference).
    fn decline_code(reason_code: Option<i64>, reason: &str) -> DeclineCode {
        // The error-code reference (API docs, `#kody-oshibok`): 5054 Expired Card; 5004 and
        // 5007 Pick Up Card, 5041 Lost Card, 5043 Stolen Card and 5033 Expired Card Pickup (a
        // lost card past its retention, not an expired one) mean the card is gone; 5036 and
        // 5062 Restricted Card mean it may not take this operation. 6015 TransactionNotFound.
        match reason_code {
            Some(5054) => DeclineCode::CardExpired,
            Some(5004 | 5007 | 5033 | 5041 | 5043 | 5036 | 5062) => DeclineCode::CardClosed,
            Some(6015) => DeclineCode::Other("transaction_not_found".into()),
            Some(code) => DeclineCode::Other(format!("{reason} ({code})")),
            None => Self::code_from_message(reason),
        }
    }

    /// Request-level refusals come as a `Message` only; the documented ones we recognise.
    fn code_from_message(message: &str) -> DeclineCode {
        let m = message.to_lowercase();
        if m.contains("exceed") || m.contains("greater") || m.contains("превыша") {
            DeclineCode::AmountExceedsCaptured
        } else if m.contains("already refunded") || m.contains("уже возвращ") {
            DeclineCode::DuplicateRefund
        } else if m.contains("expired") {
            DeclineCode::CardExpired
        } else {
            DeclineCode::Other(message.to_string())
        }
    }

    fn operation_outcome(op: Operation, fallback_ref: &str) -> RefundOutcome {
        let gateway_ref = op
            .transaction_id
            .map(|id| id.to_string())
            .unwrap_or_else(|| fallback_ref.to_string());
        match op.status.as_deref() {
            Some("Completed") | None => RefundOutcome::Succeeded { gateway_ref },
            Some("Declined" | "Cancelled") => {
                let reason = op.reason.clone().unwrap_or_else(|| "Declined".into());
                RefundOutcome::Declined {
                    code: Self::decline_code(op.reason_code, &reason),
                    reason: op.card_holder_message.unwrap_or(reason),
                }
            }
            Some("Authorized" | "AwaitingAuthentication") => RefundOutcome::Pending {
                gateway_ref: Some(gateway_ref),
            },
            Some(other) => RefundOutcome::unknown(format!(
                "CloudPayments operation {gateway_ref} has status {other:?}"
            )),
        }
    }

    fn read_reply(answer: transport::Answer) -> Result<Reply, RefundOutcome> {
        if answer.status == reqwest::StatusCode::UNAUTHORIZED
            || answer.status == reqwest::StatusCode::FORBIDDEN
        {
            return Err(RefundOutcome::unknown(format!(
                "CloudPayments refused our credentials (HTTP {}): check the Public ID and API Secret",
                answer.status.as_u16()
            )));
        }
        serde_json::from_str::<Reply>(&answer.body)
            .map_err(|_| transport::unreadable(NAME, answer.status))
    }
}

impl Gateway for CloudPayments {
    async fn refund(&self, order: &RefundOrder<'_>) -> RefundOutcome {
        // TransactionId is an Int at CloudPayments; anything else cannot be refunded there.
        let Ok(transaction_id) = order.gateway_transaction_id.parse::<u64>() else {
            return RefundOutcome::Declined {
                code: DeclineCode::Other("invalid_transaction_id".into()),
                reason: format!(
                    "{:?} is not a CloudPayments TransactionId (a number)",
                    order.gateway_transaction_id
                ),
            };
        };
        let json_data = serde_json::json!({
            "refund_key": order.idempotency_key,
            "payment_id": order.payment_id.to_string(),
            "request_id": order.request_id.to_string(),
        });
        // Amount is a JSON number in the documented shape; written from the decimal text so
        // no floating point is involved.
        let body = format!(
            r#"{{"TransactionId":{transaction_id},"Amount":{},"JsonData":{json_data}}}"#,
            order.amount.amount_text()
        );
        let request = self
            .post("/payments/refund", body)
            .header("X-Request-ID", order.request_key);
        let answer = match send(NAME, request, self.timeout).await {
            Ok(a) => a,
            Err(unknown) => return unknown,
        };
        let reply = match Self::read_reply(answer) {
            Ok(r) => r,
            Err(outcome) => return outcome,
        };
        let op = reply
            .model
            .and_then(|m| serde_json::from_value::<Operation>(m).ok())
            .unwrap_or_default();
        if reply.success {
            // The refund's own TransactionId when CloudPayments gives one; our key otherwise.
            return Self::operation_outcome(
                Operation {
                    status: op.status.or(Some("Completed".into())),
                    ..op
                },
                order.idempotency_key,
            );
        }
        if op.status.is_some() || op.reason_code.is_some() {
            return Self::operation_outcome(
                Operation {
                    status: Some("Declined".into()),
                    ..op
                },
                order.idempotency_key,
            );
        }
        let message = reply.message.unwrap_or_else(|| "refund refused".into());
        RefundOutcome::Declined {
            code: Self::code_from_message(&message),
            reason: message,
        }
    }

    async fn status(&self, order: &RefundOrder<'_>) -> RefundOutcome {
        let Some(refund_id) = order.gateway_ref.and_then(|r| r.parse::<u64>().ok()) else {
            let age = (Utc::now() - order.attempted_at)
                .to_std()
                .unwrap_or_default();
            if age < REQUEST_ID_WINDOW {
                // The documented recovery of a lost answer: the same X-Request-ID is answered
                // with the first request's stored result, or processed once.
                return self.refund(order).await;
            }
            return RefundOutcome::unknown(
                "CloudPayments can only look a refund up by its own TransactionId, none is known \
                 for this attempt, and its X-Request-ID is older than the hour CloudPayments \
                 keeps results for: check the merchant cabinet before anything is re-sent",
            );
        };
        let request = self.post(
            "/payments/get",
            format!(r#"{{"TransactionId":{refund_id}}}"#),
        );
        let answer = match send(NAME, request, self.timeout).await {
            Ok(a) => a,
            Err(unknown) => return unknown,
        };
        let reply = match Self::read_reply(answer) {
            Ok(r) => r,
            Err(outcome) => return outcome,
        };
        let has_model = reply
            .model
            .as_ref()
            .is_some_and(|m| m.is_object() || m.as_array().is_some_and(|a| !a.is_empty()));
        if !reply.success && !has_model {
            let message = reply.message.unwrap_or_default();
            // The refund id is CloudPayments' own answer to us: not finding it now is not
            // "never sent", and re-sending could pay twice.
            return RefundOutcome::unknown(format!(
                "CloudPayments does not find refund {refund_id}, which it answered us with \
                 ({message}); check the merchant cabinet"
            ));
        }
        // `/payments/get` documents Model as one operation; some answers wrap it in a list.
        // A declined operation comes with `Success: false` and its Model: read the Model.
        let model = match reply.model {
            Some(serde_json::Value::Array(mut items)) if !items.is_empty() => items.remove(0),
            Some(m) => m,
            None => return RefundOutcome::unknown("CloudPayments lookup answered no operation"),
        };
        match serde_json::from_value::<Operation>(model) {
            Ok(op) => Self::operation_outcome(op, &refund_id.to_string()),
            Err(_) => RefundOutcome::unknown("CloudPayments lookup answered an unknown shape"),
        }
    }

    /// `POST /payments/list` `{"Date", "TimeZone": "UTC"}` (API docs, "Выгрузка списка
    /// транзакций") for each UTC date the period touches; refunds are the operations with an
    /// `OriginalTransactionId` or `Type` 1 (inferred: the docs list the fields, not which
    /// values a refund has), kept when `CreatedDateIso` falls in the period.
    async fn refunds_between(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<super::Listing, String> {
        let mut refunds = Vec::new();
        let mut day = from.date_naive();
        let last = (to - chrono::Duration::seconds(1)).date_naive();
        while day <= last {
            let request = self.post(
                "/payments/list",
                format!(r#"{{"Date":"{day}","TimeZone":"UTC"}}"#),
            );
            let answer = send(NAME, request, self.timeout)
                .await
                .map_err(|o| format!("{o:?}"))?;
            let reply = Self::read_reply(answer).map_err(|o| format!("{o:?}"))?;
            if !reply.success {
                return Err(format!(
                    "CloudPayments refused to list {day}: {}",
                    reply.message.unwrap_or_default()
                ));
            }
            let items = match reply.model {
                Some(serde_json::Value::Array(items)) => items,
                _ => Vec::new(),
            };
            for item in items {
                let get = |k: &str| item.get(k).filter(|v| !v.is_null());
                let text = |v: &serde_json::Value| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let refund = get("OriginalTransactionId").is_some()
                    || get("Type").and_then(serde_json::Value::as_i64) == Some(1);
                let created = get("CreatedDateIso")
                    .and_then(serde_json::Value::as_str)
                    .and_then(|t| {
                        chrono::DateTime::parse_from_rfc3339(t)
                            .map(|d| d.with_timezone(&chrono::Utc))
                            .or_else(|_| {
                                chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S")
                                    .map(|n| n.and_utc())
                            })
                            .ok()
                    });
                let in_period = created.is_none_or(|c| c >= from && c < to);
                let amount = get("Amount")
                    .map(text)
                    .zip(get("Currency").and_then(serde_json::Value::as_str))
                    .and_then(|(a, c)| crate::money::Money::parse(&a, c.parse().ok()?).ok());
                let (Some(id), Some(amount)) = (get("TransactionId").map(text), amount) else {
                    continue;
                };
                if !refund || !in_period {
                    continue;
                }
                let our_key = get("JsonData")
                    .and_then(|d| match d {
                        serde_json::Value::String(s) => {
                            serde_json::from_str::<serde_json::Value>(s).ok()
                        }
                        other => Some(other.clone()),
                    })
                    .and_then(|d| {
                        d.get("refund_key")
                            .and_then(|k| k.as_str().map(str::to_owned))
                    });
                refunds.push(super::GatewayRefund {
                    reference: id,
                    our_key,
                    payment_ref: get("OriginalTransactionId").map(text),
                    amount,
                    made: matches!(
                        get("Status").and_then(serde_json::Value::as_str),
                        Some("Completed" | "Authorized")
                    ),
                    created,
                });
            }
            day = day.succ_opt().ok_or("date out of range")?;
        }
        Ok(super::Listing::Refunds(refunds))
    }

    fn finds_refunds_by_key(&self) -> bool {
        false
    }

    fn kind(&self) -> GatewayKind {
        GatewayKind::Cloudpayments
    }
}
