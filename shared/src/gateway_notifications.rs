//! Notifications the gateways send us about refunds (`POST
//! /v1/gateway-notifications/{gateway}/{merchant}`): verified by the gateway's own signature,
//! read into one [`Notice`], stored by the gateway's event id so each is applied once, and
//! applied to the payout attempt it names.
//!
//! - **CloudPayments** Refund notification (developers.cloudpayments.ru `#refund`,
//!   `#proverka-uvedomleniy`): form-encoded or JSON (the cabinet's choice) with
//!   `TransactionId` (the refund's id), `PaymentTransactionId`, `Amount`, `DateTime`,
//!   `OperationType=Refund`, `InvoiceId`, `Data`; signed in `Content-HMAC` (base64 HMAC-SHA256
//!   of the raw body with the API Secret) and `X-Content-HMAC` (the same over the URL-decoded
//!   body). Answer `{"code":0}`. A notification means the refund was made.
//! - **Stripe** events (stripe-go `webhook/client.go` at `a1e3932`): `Stripe-Signature:
//!   t=<unix>,v1=<hex>[,v1=...]`, each `v1` the hex HMAC-SHA256 of `<t>.<body>` with the
//!   endpoint's signing secret; older than [`STRIPE_TOLERANCE`] is refused (`DefaultTolerance`).
//!   `refund.created`, `refund.updated`, `refund.failed` and `charge.refund.updated` carry the
//!   Refund object (`refund.go`): its `status` says what became of it (Stripe's changelog
//!   2024-10-28.acacia: "created, updated, and failed events for all refund types").
//! - **WEBPAY** notifies transactions to the merchant's Notification URL (docs.webpay.by,
//!   "Payment notification"; refunds and voids once WEBPAY support enables the additional
//!   notifications): form fields `batch_timestamp`, `currency_id`, `amount`, `payment_method`,
//!   `order_id`, `site_order_id`, `transaction_id`, `payment_type`, `rrn`, `wsb_signature`;
//!   `payment_type` 5 (partial refunded), 11 (refunded), 7 (voided) and 9 (partial voided) are
//!   a refund made ("Transaction types" page). The signature is the md5 hex of those fields
//!   in that order followed by the SecretKey: the order is WEBPAY's Russian docs as every
//!   public integration reproduces it, not a page we could read whole (docs/GATEWAY-PROTOCOLS.md
//!   §1.8). Answer HTTP 200.
//! - **Robokassa** publishes no refund notifications (its refund API names none, §2.5): its
//!   path answers 404 saying so.
//!
//! Applying: a refund reported made settles an unsettled attempt (the request goes on to
//! `refunded`, the customer is told); a refund reported failed after it was booked moves the
//! request from `refunded` back to `payout_failed` and the customer gets the
//! `refund_reversed` email (what really happened, and that a person is on it); one reported
//! failed while in flight is a decline. A notice naming no attempt of ours is kept (effect
//! `no matching refund`) for reconciliation.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::gateway::Secret;
use crate::lifecycle::RequestState;
use crate::merchants::GatewayKind;
use crate::messages::{Stage, WorkMessage};
use crate::notify::Event;
use crate::payouts::{self, AttemptStatus};
use crate::transition::{self, Transition, TransitionError};

/// How old a Stripe signature's timestamp may be (stripe-go `webhook.DefaultTolerance`).
pub const STRIPE_TOLERANCE: chrono::Duration = chrono::Duration::seconds(300);

/// What a notification says about one refund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The gateway's id of the notification (Stripe `evt_…`; CloudPayments
    /// `refund:<TransactionId>`): a repeat of it changes nothing.
    pub event_id: String,
    /// The notification's kind (`refund.failed`, `Refund`...).
    pub kind: String,
    /// The gateway's id of the refund.
    pub refund_ref: Option<String>,
    /// Our key, when the gateway echoes it (Stripe `metadata[idempotency_key]`,
    /// CloudPayments `Data.refund_key`).
    pub our_key: Option<String>,
    /// The gateway's id of the payment refunded.
    pub payment_ref: Option<String>,
    /// The refund's amount as the gateway wrote it.
    pub amount: Option<String>,
    /// The merchant's order number of the payment, when the notice names it (WEBPAY
    /// `site_order_id`): with the amount, it finds an attempt whose reference never reached us.
    pub order_number: Option<String>,
    /// What became of the refund.
    pub outcome: NoticeOutcome,
}

/// What became of the refund a notice is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoticeOutcome {
    /// The gateway made the refund.
    Succeeded,
    /// The gateway is still working on it.
    Pending,
    /// It failed or was canceled, with the gateway's reason.
    Failed(String),
    /// A kind we do not act on (kept, not applied).
    Ignored,
}

/// Why a notification was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoticeError {
    /// The signature is missing, malformed, too old or does not match.
    #[error("{0}")]
    Signature(String),
    /// The body is not the documented shape.
    #[error("{0}")]
    Shape(String),
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str) -> HmacSha256 {
    HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length")
}

/// Checks a CloudPayments notification's `Content-HMAC` (over the raw body) or
/// `X-Content-HMAC` (over the URL-decoded body) against the API Secret.
pub fn verify_cloudpayments(
    body: &[u8],
    content_hmac: Option<&str>,
    x_content_hmac: Option<&str>,
    api_secret: &Secret,
) -> Result<(), NoticeError> {
    let check = |message: &[u8], given: &str| {
        let Ok(given) = STANDARD.decode(given.trim()) else {
            return false;
        };
        let mut m = mac(api_secret.expose());
        m.update(message);
        m.verify_slice(&given).is_ok()
    };
    if let Some(given) = content_hmac
        && check(body, given)
    {
        return Ok(());
    }
    if let Some(given) = x_content_hmac {
        let decoded: String = url::form_urlencoded::parse(body)
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        if check(decoded.as_bytes(), given) || check(body, given) {
            return Ok(());
        }
    }
    Err(NoticeError::Signature(match (content_hmac, x_content_hmac) {
        (None, None) => "the notification carries no Content-HMAC header".into(),
        _ => "the Content-HMAC does not match the body signed with the merchant's CloudPayments API secret".into(),
    }))
}

/// Checks a Stripe `Stripe-Signature` header against the endpoint's signing secret, at `now`.
pub fn verify_stripe(
    body: &[u8],
    header: Option<&str>,
    signing_secret: &Secret,
    now: DateTime<Utc>,
) -> Result<(), NoticeError> {
    let header =
        header.ok_or_else(|| NoticeError::Signature("no Stripe-Signature header".into()))?;
    let mut timestamp: Option<i64> = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse().ok(),
            Some(("v1", v)) => signatures.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| {
        NoticeError::Signature("the Stripe-Signature header has no timestamp".into())
    })?;
    if signatures.is_empty() {
        return Err(NoticeError::Signature(
            "the Stripe-Signature header has no v1 signature".into(),
        ));
    }
    let signed_at = DateTime::from_timestamp(timestamp, 0).ok_or_else(|| {
        NoticeError::Signature("the Stripe-Signature timestamp is invalid".into())
    })?;
    if now - signed_at > STRIPE_TOLERANCE {
        return Err(NoticeError::Signature(format!(
            "the Stripe-Signature is {} s old, more than the {} s allowed",
            (now - signed_at).num_seconds(),
            STRIPE_TOLERANCE.num_seconds()
        )));
    }
    let matches = signatures.iter().any(|given| {
        let mut m = mac(signing_secret.expose());
        m.update(timestamp.to_string().as_bytes());
        m.update(b".");
        m.update(body);
        m.verify_slice(given).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(NoticeError::Signature(
            "no v1 signature matches the body signed with the merchant's Stripe signing secret"
                .into(),
        ))
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads a CloudPayments notification (form-encoded or JSON).
pub fn parse_cloudpayments(body: &[u8], json_body: bool) -> Result<Notice, NoticeError> {
    let fields: serde_json::Map<String, Value> = if json_body {
        serde_json::from_slice(body)
            .map_err(|_| NoticeError::Shape("the body is not a JSON object".into()))?
    } else {
        url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect()
    };
    let get = |k: &str| fields.get(k).and_then(text);
    let refund = get("TransactionId").ok_or_else(|| {
        NoticeError::Shape("no TransactionId: not a CloudPayments notification".into())
    })?;
    let kind = get("OperationType").unwrap_or_else(|| "Refund".into());
    // `Data` is "an arbitrary set of parameters passed into the transaction": our JsonData
    // carries refund_key; read it when it is there, never rely on it.
    let data: Option<Value> = match fields.get("Data") {
        Some(Value::String(s)) => serde_json::from_str(s).ok(),
        Some(v @ Value::Object(_)) => Some(v.clone()),
        _ => None,
    };
    Ok(Notice {
        event_id: format!("{kind}:{refund}"),
        outcome: if kind == "Refund" {
            NoticeOutcome::Succeeded
        } else {
            NoticeOutcome::Ignored
        },
        kind,
        refund_ref: Some(refund),
        our_key: data
            .as_ref()
            .and_then(|d| d.get("refund_key"))
            .and_then(text),
        payment_ref: get("PaymentTransactionId"),
        amount: get("Amount"),
        order_number: get("InvoiceId"),
    })
}

#[derive(Deserialize)]
struct StripeEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: StripeData,
}

#[derive(Deserialize)]
struct StripeData {
    object: Value,
}

/// Reads a Stripe event.
pub fn parse_stripe(body: &[u8]) -> Result<Notice, NoticeError> {
    let event: StripeEvent = serde_json::from_slice(body)
        .map_err(|_| NoticeError::Shape("the body is not a Stripe event".into()))?;
    let refund_event = matches!(
        event.kind.as_str(),
        "refund.created" | "refund.updated" | "refund.failed" | "charge.refund.updated"
    );
    let object = &event.data.object;
    if !refund_event || object.get("object").and_then(Value::as_str) != Some("refund") {
        return Ok(Notice {
            event_id: event.id,
            kind: event.kind,
            refund_ref: None,
            our_key: None,
            payment_ref: None,
            amount: None,
            order_number: None,
            outcome: NoticeOutcome::Ignored,
        });
    }
    let status = object.get("status").and_then(Value::as_str).unwrap_or("");
    let outcome = match status {
        "succeeded" => NoticeOutcome::Succeeded,
        "pending" | "requires_action" => NoticeOutcome::Pending,
        "failed" | "canceled" => NoticeOutcome::Failed(format!(
            "Stripe reports refund {} {status}: {}",
            object.get("id").and_then(Value::as_str).unwrap_or("?"),
            object
                .get("failure_reason")
                .and_then(Value::as_str)
                .unwrap_or("no reason given")
        )),
        _ => NoticeOutcome::Ignored,
    };
    Ok(Notice {
        event_id: event.id,
        kind: event.kind,
        refund_ref: object.get("id").and_then(text),
        our_key: object.pointer("/metadata/idempotency_key").and_then(text),
        payment_ref: object
            .get("charge")
            .and_then(text)
            .or_else(|| object.get("payment_intent").and_then(text)),
        amount: object.get("amount").and_then(text),
        order_number: None,
        outcome,
    })
}

/// The WEBPAY notification fields the signature covers, in its order.
const WEBPAY_SIGNED: [&str; 9] = [
    "batch_timestamp",
    "currency_id",
    "amount",
    "payment_method",
    "order_id",
    "site_order_id",
    "transaction_id",
    "payment_type",
    "rrn",
];

/// Checks a WEBPAY notification's `wsb_signature` against the merchant's SecretKey and reads
/// it.
pub fn verify_and_parse_webpay(body: &[u8], secret_key: &Secret) -> Result<Notice, NoticeError> {
    use md5::{Digest, Md5};
    let fields: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body).into_owned().collect();
    let given = fields
        .get("wsb_signature")
        .ok_or_else(|| NoticeError::Signature("the notification has no wsb_signature".into()))?;
    let mut signed: String = WEBPAY_SIGNED
        .iter()
        .map(|k| fields.get(*k).map(String::as_str).unwrap_or(""))
        .collect();
    signed.push_str(secret_key.expose());
    let expected = hex::encode(Md5::digest(signed.as_bytes()));
    let given = given.trim().to_ascii_lowercase();
    if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        return Err(NoticeError::Signature(
            "the wsb_signature does not match the fields signed with the merchant's WEBPAY SecretKey".into(),
        ));
    }
    let get = |k: &str| fields.get(k).filter(|v| !v.is_empty()).cloned();
    let transaction =
        get("transaction_id").ok_or_else(|| NoticeError::Shape("no transaction_id".into()))?;
    let payment_type = get("payment_type").unwrap_or_default();
    let outcome = match payment_type.as_str() {
        "5" | "7" | "9" | "11" => NoticeOutcome::Succeeded,
        _ => NoticeOutcome::Ignored,
    };
    Ok(Notice {
        event_id: format!("{transaction}:{payment_type}"),
        kind: format!("payment_type {payment_type}"),
        refund_ref: Some(transaction),
        our_key: None,
        payment_ref: None,
        amount: get("amount"),
        order_number: get("site_order_id"),
        outcome,
    })
}

/// Equality in time independent of where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What applying a notice did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// False when the notice had been applied before (a repeat).
    pub first_time: bool,
    /// The request it concerned, if any.
    pub request_id: Option<Uuid>,
    /// What it did, in words (kept with the notice).
    pub effect: String,
}

/// Stores `notice` (once, by its event id) and applies it to the attempt it names, in the
/// caller's transaction.
pub async fn apply(
    conn: &mut PgConnection,
    gateway: GatewayKind,
    merchant: &str,
    notice: &Notice,
) -> Result<Applied, TransitionError> {
    let summary = json!({
        "kind": notice.kind, "refund_ref": notice.refund_ref, "our_key": notice.our_key,
        "payment_ref": notice.payment_ref, "amount": notice.amount,
        "outcome": format!("{:?}", notice.outcome),
    });
    let inserted = sqlx::query!(
        "INSERT INTO gateway_notifications (gateway, merchant, event_id, kind, effect, payload)
         VALUES ($1, $2, $3, $4, 'received', $5)
         ON CONFLICT DO NOTHING",
        gateway.as_str(),
        merchant,
        notice.event_id,
        notice.kind,
        summary
    )
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        let effect = sqlx::query_scalar!(
            "SELECT effect FROM gateway_notifications
              WHERE gateway = $1 AND merchant = $2 AND event_id = $3",
            gateway.as_str(),
            merchant,
            notice.event_id
        )
        .fetch_one(&mut *conn)
        .await?;
        return Ok(Applied {
            first_time: false,
            request_id: None,
            effect,
        });
    }
    let (request_id, effect) = effect_of(conn, gateway, merchant, notice).await?;
    sqlx::query!(
        "UPDATE gateway_notifications SET request_id = $4, effect = $5
          WHERE gateway = $1 AND merchant = $2 AND event_id = $3",
        gateway.as_str(),
        merchant,
        notice.event_id,
        request_id,
        effect
    )
    .execute(&mut *conn)
    .await?;
    Ok(Applied {
        first_time: true,
        request_id,
        effect,
    })
}

async fn effect_of(
    conn: &mut PgConnection,
    gateway: GatewayKind,
    merchant: &str,
    notice: &Notice,
) -> Result<(Option<Uuid>, String), TransitionError> {
    if notice.outcome == NoticeOutcome::Ignored {
        return Ok((
            None,
            format!("ignored: {} is not about a refund's outcome", notice.kind),
        ));
    }
    let mut found = payouts::find_by_gateway_reference(
        conn,
        gateway.as_str(),
        merchant,
        notice.refund_ref.as_deref(),
        notice.our_key.as_deref(),
    )
    .await?;
    // A reference that matched nothing may be the refund of an attempt whose answer was lost:
    // WEBPAY names the order and the amount; one unsettled attempt of that amount is it.
    if found.is_none()
        && let (Some(order), Some(amount)) = (&notice.order_number, &notice.amount)
    {
        found = payouts::find_unsettled_by_order(conn, gateway.as_str(), merchant, order, amount)
            .await?;
    }
    let Some(found) = found else {
        return Ok((None, "no matching refund of ours".into()));
    };
    let id = found.request_id;
    let (state, version) = transition::lock_state(conn, id).await?;
    let actor = format!("gateway:{}", gateway.as_str());
    let reference = notice.refund_ref.as_deref();
    let details = json!({"gateway_event": notice.event_id, "gateway_reference": reference});
    let mover = Mover {
        id,
        actor: &actor,
        details: &details,
    };
    let attempt = found.attempt;
    let effect = match &notice.outcome {
        NoticeOutcome::Succeeded if attempt.status == AttemptStatus::Succeeded => {
            "already known as refunded".to_string()
        }
        NoticeOutcome::Succeeded => {
            payouts::record_answer(
                conn,
                attempt.id,
                AttemptStatus::Succeeded,
                reference,
                None,
                false,
            )
            .await?;
            let path: &[RequestState] = match state {
                RequestState::PayoutPending => &[RequestState::PayoutSent, RequestState::Refunded],
                RequestState::PayoutSent | RequestState::PayoutFailed => &[RequestState::Refunded],
                _ => &[],
            };
            let why = format!(
                "{} reports the refund made ({})",
                gateway.as_str(),
                reference.unwrap_or("no reference")
            );
            mover.walk(conn, state, version, path, &why, &[]).await?;
            if path.is_empty() {
                format!("attempt recorded as refunded; the request is {state}")
            } else {
                "the refund is recorded as made; the request is refunded".into()
            }
        }
        NoticeOutcome::Pending if attempt.status.is_unsettled() => {
            payouts::record_answer(
                conn,
                attempt.id,
                AttemptStatus::Pending,
                reference,
                None,
                false,
            )
            .await?;
            if state == RequestState::PayoutPending {
                let why = "the gateway accepted the refund and will finish it later";
                mover
                    .walk(conn, state, version, &[RequestState::PayoutSent], why, &[])
                    .await?;
            }
            "the refund is pending at the gateway".into()
        }
        NoticeOutcome::Pending => {
            format!("nothing to do: the attempt is {}", attempt.status.as_str())
        }
        NoticeOutcome::Failed(reason) => {
            let decline = format!("reported failed by the gateway: {reason}");
            let booked =
                state == RequestState::Refunded && attempt.status == AttemptStatus::Succeeded;
            let in_flight = matches!(
                state,
                RequestState::PayoutPending | RequestState::PayoutSent
            ) && attempt.status.is_unsettled();
            if booked || in_flight {
                payouts::record_answer(
                    conn,
                    attempt.id,
                    AttemptStatus::Declined,
                    None,
                    Some(&decline),
                    false,
                )
                .await?;
                tracing::warn!(request_id = %id, gateway = gateway.as_str(), booked, "the gateway reports the refund failed");
            }
            if booked {
                // The customer was told the money was sent: the truth now is its own email.
                let told =
                    WorkMessage::new(Stage::Notify, id).with_event(Event::RefundReversed.as_str());
                mover
                    .walk_quietly(
                        conn,
                        state,
                        version,
                        RequestState::PayoutFailed,
                        &decline,
                        &[told.into()],
                    )
                    .await?;
                "a booked refund failed: the request is back in payout_failed for a person".into()
            } else if in_flight {
                mover
                    .walk(
                        conn,
                        state,
                        version,
                        &[RequestState::PayoutFailed],
                        &decline,
                        &[],
                    )
                    .await?;
                "the refund failed: the request is in payout_failed for a person".into()
            } else {
                format!(
                    "nothing to do: the request is {state} and the attempt {}",
                    attempt.status.as_str()
                )
            }
        }
        NoticeOutcome::Ignored => unreachable!("returned above"),
    };
    Ok((Some(id), effect))
}

/// Moves one request on behalf of a gateway notification.
struct Mover<'a> {
    id: Uuid,
    actor: &'a str,
    details: &'a Value,
}

impl Mover<'_> {
    /// Walks `path` from `from`; only the last step emails the customer (its state's email).
    async fn walk(
        &self,
        conn: &mut PgConnection,
        mut from: RequestState,
        mut version: i32,
        path: &[RequestState],
        why: &str,
        messages: &[crate::outbox::OutboxMessage],
    ) -> Result<(), TransitionError> {
        for (i, &to) in path.iter().enumerate() {
            let t = self.transition(from, to, version, why);
            version = if i + 1 == path.len() {
                transition::apply(conn, &t, messages).await?
            } else {
                transition::apply_without_email(conn, &t, &[]).await?
            };
            from = to;
        }
        Ok(())
    }

    /// One move without its state's email, with `messages` (the email that says it better).
    async fn walk_quietly(
        &self,
        conn: &mut PgConnection,
        from: RequestState,
        version: i32,
        to: RequestState,
        why: &str,
        messages: &[crate::outbox::OutboxMessage],
    ) -> Result<(), TransitionError> {
        let t = self.transition(from, to, version, why);
        transition::apply_without_email(conn, &t, messages).await?;
        Ok(())
    }

    fn transition<'t>(
        &'t self,
        from: RequestState,
        to: RequestState,
        version: i32,
        why: &'t str,
    ) -> Transition<'t> {
        Transition {
            request_id: self.id,
            expected_version: version,
            from,
            to,
            actor: self.actor,
            reason: Some(why),
            details: self.details.clone(),
        }
    }
}
