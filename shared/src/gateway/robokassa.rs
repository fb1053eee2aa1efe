//! Robokassa adapter, from Robokassa's "Осуществление возвратов по API" (refunds by API):
//! - refund: `POST https://services.robokassa.ru/RefundService/Refund/Create`; the body is a
//!   JWT (HS256/384/512) signed with the shop's Password3, whose payload is compact JSON
//!   `{"OpKey": <operation key>, "RefundSum": <decimal, omitted for a full refund>,
//!   "InvoiceItems": [...] (optional receipt lines)}`. Answer
//!   `{"success":true,"message":null,"requestId":"<guid>"}` (a refund request was created) or
//!   `{"success":false,"message":"NotEnoughOperationFunds","requestId":null}`.
//! - state: `GET /RefundService/Refund/GetState?id=<requestId>` answers
//!   `{"requestId","amount","label"}` with `label` `finished`, `processing` or `canceled`,
//!   or `{"message":"Id is invalid or request id does not exist"}`.
//!
//! Robokassa has no idempotency key and finds refunds only by the `requestId` it returned:
//! a created refund is `Pending` with that id, and `status` without it answers `Unknown`
//! (a person checks the cabinet; the refund is never re-sent blind). A full refund omits
//! `RefundSum`, as the page says ("не указывать при полном возврате"); a partial one sends
//! it as a JSON number written from the decimal text. A merchant that fiscalises through
//! Robokassa sets `robokassa_receipt`, and each refund then carries `InvoiceItems`: one line
//! (`Name`, `Quantity` 1, `Cost` the refunded amount, `Tax`, `PaymentMethod`,
//! `PaymentObject`), the shape of the page's example. The order's `gateway_transaction_id`
//! is the payment's OpKey.
//!
//! Host: `services.robokassa.ru`; a payment in tenge goes to `services.robokassa.kz` when no
//! `base_url` is configured. The KZ host is not on Robokassa's own pages (their Kazakh docs
//! index lists no refund section); it is the host Robokassa's KZ services use in a public fork
//! of their SDK, so confirm it with Robokassa KZ (see docs/GATEWAY-PROTOCOLS.md §2.1).
//!
//! The page does not name the content type. The token goes as a JSON string with
//! `Content-Type: application/json`, as Robokassa's official PHP SDK sends its JWTs to the same
//! host (`robokassa/sdk-php` at `5bd2791`: `src/Service/PaymentService.php`,
//! `src/Service/StatusService.php`).
//!
//! Credentials: `{PREFIX}_PASSWORD3`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::transport::{self, send};
use super::{DeclineCode, Gateway, RefundOrder, RefundOutcome, Secret};
use crate::merchants::GatewayKind;
use crate::money::Currency;

/// Robokassa's refund service host (the default `base_url`).
pub const HOST: &str = "https://services.robokassa.ru";
/// Robokassa Kazakhstan's service host, for payments in tenge when no `base_url` is set.
pub const KZ_HOST: &str = "https://services.robokassa.kz";
const NAME: &str = "Robokassa";

/// The refund receipt line of a merchant that fiscalises through Robokassa (`InvoiceItems`;
/// values as Robokassa's fiscalisation section names them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLine {
    /// The line's name on the receipt, e.g. "Возврат за заказ".
    pub name: String,
    /// The VAT rate code: `none`, `vat0`, `vat10`, `vat20`, `vat110`, `vat120`...
    pub tax: String,
    /// The payment method code; `full_payment` when not given.
    #[serde(default = "ReceiptLine::full_payment")]
    pub payment_method: String,
    /// The payment object code: `commodity`, `service`, `payment`...
    pub payment_object: String,
}

impl ReceiptLine {
    fn full_payment() -> String {
        "full_payment".into()
    }
}

/// The Robokassa adapter: refunds as a JWT signed with the shop's Password3, status by the
/// `requestId` Robokassa returned.
#[derive(Clone, Debug)]
pub struct Robokassa {
    client: reqwest::Client,
    /// The configured host; `None` picks by the payment's currency.
    base_url: Option<String>,
    password3: Secret,
    receipt: Option<ReceiptLine>,
    timeout: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateReply {
    success: bool,
    message: Option<String>,
    request_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateReply {
    request_id: Option<String>,
    label: Option<String>,
    message: Option<String>,
}

/// A compact HS256 JWT of `payload_json` (already compact JSON) signed with `secret`.
pub fn sign_hs256(payload_json: &str, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(payload_json.as_bytes());
    let signing_input = format!("{header}.{payload}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

impl Robokassa {
    /// An adapter calling `base_url` and signing with `password3`; each call gives up after
    /// `timeout`.
    pub fn new(
        client: reqwest::Client,
        base_url: Option<String>,
        password3: Secret,
        receipt: Option<ReceiptLine>,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            base_url,
            password3,
            receipt,
            timeout,
        }
    }

    /// The host for a payment in `currency`: the configured one, else Kazakhstan's for tenge
    /// and Russia's for the rest.
    pub fn host(&self, currency: Currency) -> &str {
        match (&self.base_url, currency) {
            (Some(url), _) => url,
            (None, Currency::KZT) => KZ_HOST,
            (None, _) => HOST,
        }
    }

    /// The refund payload, compact as Robokassa requires: `RefundSum` only for a partial
    /// refund, and numbers written from the decimal text (no floating point).
    pub fn payload(order: &RefundOrder<'_>, receipt: Option<&ReceiptLine>) -> String {
        let text = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        let amount = order.amount.amount_text();
        let mut json = format!(r#"{{"OpKey":{}"#, text(order.gateway_transaction_id));
        if !order.full {
            json.push_str(&format!(r#","RefundSum":{amount}"#));
        }
        if let Some(line) = receipt {
            json.push_str(&format!(
                r#","InvoiceItems":[{{"Name":{},"Quantity":1,"Cost":{amount},"Tax":{},"PaymentMethod":{},"PaymentObject":{}}}]"#,
                text(&line.name),
                text(&line.tax),
                text(&line.payment_method),
                text(&line.payment_object)
            ));
        }
        json.push('}');
        json
    }

    fn decline_code(message: &str) -> DeclineCode {
        match message {
            "NotEnoughOperationFunds" => DeclineCode::AmountExceedsCaptured,
            "AlreadyRefunded" => DeclineCode::DuplicateRefund,
            "OperationNotFound" => DeclineCode::Other("operation_not_found".into()),
            other => DeclineCode::Other(other.to_string()),
        }
    }
}

impl Gateway for Robokassa {
    async fn refund(&self, order: &RefundOrder<'_>) -> RefundOutcome {
        let payload = Self::payload(order, self.receipt.as_ref());
        let token = sign_hs256(&payload, self.password3.expose().as_bytes());
        let request = self
            .client
            .post(format!(
                "{}/RefundService/Refund/Create",
                self.host(order.amount.currency())
            ))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::Value::String(token).to_string());
        let answer = match send(NAME, request, self.timeout).await {
            Ok(a) => a,
            Err(unknown) => return unknown,
        };
        let Ok(reply) = serde_json::from_str::<CreateReply>(&answer.body) else {
            return transport::unreadable(NAME, answer.status);
        };
        match (reply.success, reply.request_id) {
            (true, Some(id)) => RefundOutcome::Pending {
                gateway_ref: Some(id),
            },
            (true, None) => RefundOutcome::unknown(
                "Robokassa created a refund but gave no requestId to follow it by",
            ),
            (false, _) => {
                let message = reply.message.unwrap_or_else(|| "refund refused".into());
                if matches!(answer.status.as_u16(), 401 | 403) {
                    return RefundOutcome::unknown(format!(
                        "Robokassa refused the signature (HTTP {}): {message}; check Password3",
                        answer.status.as_u16()
                    ));
                }
                RefundOutcome::Declined {
                    code: Self::decline_code(&message),
                    reason: message,
                }
            }
        }
    }

    async fn status(&self, order: &RefundOrder<'_>) -> RefundOutcome {
        let Some(request_id) = order.gateway_ref else {
            return RefundOutcome::unknown(
                "Robokassa finds refunds only by the requestId it returned, and none is known \
                 for this attempt: check the merchant cabinet before anything is re-sent",
            );
        };
        let request = self
            .client
            .get(format!(
                "{}/RefundService/Refund/GetState",
                self.host(order.amount.currency())
            ))
            .query(&[("id", request_id)]);
        let answer = match send(NAME, request, self.timeout).await {
            Ok(a) => a,
            Err(unknown) => return unknown,
        };
        let Ok(reply) = serde_json::from_str::<StateReply>(&answer.body) else {
            return transport::unreadable(NAME, answer.status);
        };
        let id = reply.request_id.unwrap_or_else(|| request_id.to_string());
        match reply.label.as_deref() {
            Some("finished") => RefundOutcome::Succeeded { gateway_ref: id },
            Some("processing") => RefundOutcome::Pending {
                gateway_ref: Some(id),
            },
            Some("canceled") => RefundOutcome::Declined {
                code: DeclineCode::Other("canceled".into()),
                reason: "the refund was canceled in the Robokassa cabinet".into(),
            },
            Some(other) => {
                RefundOutcome::unknown(format!("Robokassa refund {id} has state {other:?}"))
            }
            // Robokassa gave us this id, so "does not exist" is not a safe "never sent".
            None => RefundOutcome::unknown(format!(
                "Robokassa does not know refund {id}: {}",
                reply.message.unwrap_or_default()
            )),
        }
    }

    async fn refunds_between(
        &self,
        _from: chrono::DateTime<chrono::Utc>,
        _to: chrono::DateTime<chrono::Utc>,
    ) -> Result<super::Listing, String> {
        Ok(super::Listing::Unsupported(
            "Robokassa publishes no call that lists refunds (each is followed by GetState)",
        ))
    }

    fn finds_refunds_by_key(&self) -> bool {
        false
    }

    fn kind(&self) -> GatewayKind {
        GatewayKind::Robokassa
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_rfc7519_style_example_like_every_jwt_library() {
        // The widely published HS256 example (jwt.io): same header, payload and secret give
        // the same signature in every conforming implementation.
        let token = sign_hs256(
            r#"{"sub":"1234567890","name":"John Doe","iat":1516239022}"#,
            b"your-256-bit-secret",
        );
        assert_eq!(
            token,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
             eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.\
             SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
        );
    }
}
