//! WEBPAY (Belarus) adapter over its SOAP operations API: `TransactionRefund` and
//! `GetTransactionStatus`.
//!
//! Shapes: WEBPAY publishes the operations API to contracted merchants (with the WSDL); the
//! public guide (docs.webpay.by) covers the payment form, notifications and the sandbox
//! (`https://sandbox.webpay.by`) vs production (`https://billing.webpay.by`) hosts, not
//! the operations' element names. The envelope below follows SOAP 1.1 and the two operation
//! names; element names (`login`, `password`, `transactionId`, `amount`, `currency`,
//! `referenceId`; answers `status`, `refundId`, `errorCode`, `errorMessage`) are ours and
//! must be checked against the merchant's WSDL before going live — they live in
//! [`refund_envelope`], [`status_envelope`] and [`Fields`] only.
//!
//! Idempotency: our key travels as `referenceId`; `GetTransactionStatus` is asked by it, so
//! a refund that never arrived answers `not_found`. A SOAP Fault, like any 5xx, is
//! `Unknown`.
//!
//! `base_url` is the full SOAP endpoint. Credentials: `{PREFIX}_LOGIN`, `{PREFIX}_PASSWORD`.

use std::collections::HashMap;
use std::time::Duration;

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;

use super::transport::{self, send};
use super::{DeclineCode, Gateway, RefundOrder, RefundOutcome, Secret};
use crate::merchants::GatewayKind;

/// WEBPAY's production SOAP operations endpoint (the default `base_url`).
pub const HOST: &str = "https://billing.webpay.by/soap/operations";
/// WEBPAY's sandbox SOAP operations endpoint, for testing.
pub const SANDBOX_HOST: &str = "https://sandbox.webpay.by/soap/operations";
const NAME: &str = "WEBPAY";
const NAMESPACE: &str = "https://billing.webpay.by/operations";

/// A merchant's WEBPAY operations API credentials, sent in the body of every SOAP request.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The operations API login (`{PREFIX}_LOGIN`).
    pub login: Secret,
    /// The operations API password (`{PREFIX}_PASSWORD`).
    pub password: Secret,
}

/// The WEBPAY adapter: `TransactionRefund` and `GetTransactionStatus` over SOAP, with our key as
/// `referenceId`.
#[derive(Clone, Debug)]
pub struct Webpay {
    client: reqwest::Client,
    endpoint: String,
    credentials: Credentials,
    timeout: Duration,
}

/// The leaf elements of a SOAP answer, by local name (namespaces dropped).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fields(HashMap<String, String>);

impl Fields {
    /// Reads every leaf element's text; `None` if the XML is not well formed. Entity and
    /// character references arrive as their own events and are resolved into the text.
    pub fn parse(xml: &str) -> Option<Self> {
        // Text is trimmed once whole: trimming each piece between references would eat the
        // spaces around `&amp;`.
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut fields = HashMap::new();
        let mut current: Option<String> = None;
        let mut text = String::new();
        loop {
            match reader.read_event().ok()? {
                Event::Start(e) => {
                    current = Some(e.local_name().as_ref().to_owned());
                    text.clear();
                }
                Event::Empty(e) => {
                    let name = e.local_name().as_ref().to_owned();
                    fields.entry(name).or_insert_with(String::new);
                }
                Event::Text(t) if current.is_some() => text.push_str(&t.xml10_content()),
                Event::CData(c) if current.is_some() => text.push_str(&c.xml10_content()),
                Event::GeneralRef(r) if current.is_some() => match r.resolve_char_ref().ok()? {
                    Some(c) => text.push(c),
                    None => text.push_str(resolve_predefined_entity(&r.xml10_content())?),
                },
                Event::End(_) => {
                    if let Some(name) = current.take()
                        && !text.trim().is_empty()
                    {
                        fields.insert(name, text.trim().to_owned());
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        Some(Fields(fields))
    }

    /// The text of the element with this local name, if the answer had one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

fn envelope(operation: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><{operation} xmlns="{NAMESPACE}">{body}</{operation}></soap:Body></soap:Envelope>"#
    )
}

fn element(name: &str, value: &str) -> String {
    format!("<{name}>{}</{name}>", escape(value))
}

/// The `TransactionRefund` request.
pub fn refund_envelope(credentials: &Credentials, order: &RefundOrder<'_>) -> String {
    let body = [
        element("login", credentials.login.expose()),
        element("password", credentials.password.expose()),
        element("transactionId", order.gateway_transaction_id),
        element("amount", &order.amount.amount_text()),
        element("currency", order.amount.currency().code()),
        element("referenceId", order.idempotency_key),
    ]
    .concat();
    envelope("TransactionRefund", &body)
}

/// The `GetTransactionStatus` request, asked by our reference.
pub fn status_envelope(credentials: &Credentials, order: &RefundOrder<'_>) -> String {
    let body = [
        element("login", credentials.login.expose()),
        element("password", credentials.password.expose()),
        element("referenceId", order.idempotency_key),
    ]
    .concat();
    envelope("GetTransactionStatus", &body)
}

impl Webpay {
    /// An adapter posting to the SOAP `endpoint` with these credentials; each call gives up after
    /// `timeout`.
    pub fn new(
        client: reqwest::Client,
        endpoint: String,
        credentials: Credentials,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            endpoint,
            credentials,
            timeout,
        }
    }

    fn decline_code(error_code: &str) -> DeclineCode {
        match error_code {
            "CARD_EXPIRED" => DeclineCode::CardExpired,
            "CARD_CLOSED" | "CARD_BLOCKED" | "CARD_LOST" => DeclineCode::CardClosed,
            "AMOUNT_EXCEEDED" => DeclineCode::AmountExceedsCaptured,
            "ALREADY_REFUNDED" => DeclineCode::DuplicateRefund,
            "MERCHANT_INSUFFICIENT_FUNDS" => DeclineCode::InsufficientFunds,
            other => DeclineCode::Other(other.to_lowercase()),
        }
    }

    async fn call(&self, operation: &str, xml: String) -> Result<Fields, RefundOutcome> {
        let request = self
            .client
            .post(&self.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .header("SOAPAction", format!("\"{NAMESPACE}/{operation}\""))
            .body(xml);
        let answer = send(NAME, request, self.timeout).await?;
        let fields = Fields::parse(&answer.body)
            .ok_or_else(|| transport::unreadable(NAME, answer.status))?;
        if let Some(fault) = fields.get("faultstring") {
            return Err(RefundOutcome::unknown(format!(
                "WEBPAY SOAP fault: {fault}"
            )));
        }
        if !answer.status.is_success() {
            return Err(transport::unreadable(NAME, answer.status));
        }
        Ok(fields)
    }

    fn outcome(fields: &Fields, order: &RefundOrder<'_>) -> RefundOutcome {
        let refund_id = fields
            .get("refundId")
            .filter(|s| !s.is_empty())
            .unwrap_or(order.idempotency_key)
            .to_string();
        match fields.get("status") {
            Some("success") => RefundOutcome::Succeeded {
                gateway_ref: refund_id,
            },
            Some("pending") => RefundOutcome::Pending {
                gateway_ref: Some(refund_id),
            },
            Some("declined") => {
                let code = fields.get("errorCode").unwrap_or("DECLINED");
                RefundOutcome::Declined {
                    code: Self::decline_code(code),
                    reason: fields
                        .get("errorMessage")
                        .unwrap_or("declined by WEBPAY")
                        .to_string(),
                }
            }
            Some("not_found") => RefundOutcome::NotFound,
            Some(other) => RefundOutcome::unknown(format!("WEBPAY answered status {other:?}")),
            None => RefundOutcome::unknown("WEBPAY answered without a status"),
        }
    }
}

impl Gateway for Webpay {
    async fn refund(&self, order: &RefundOrder<'_>) -> RefundOutcome {
        match self
            .call(
                "TransactionRefund",
                refund_envelope(&self.credentials, order),
            )
            .await
        {
            Ok(fields) => match Self::outcome(&fields, order) {
                RefundOutcome::NotFound => RefundOutcome::Declined {
                    code: DeclineCode::Other("transaction_not_found".into()),
                    reason: format!(
                        "WEBPAY knows no transaction {}",
                        order.gateway_transaction_id
                    ),
                },
                other => other,
            },
            Err(unknown) => unknown,
        }
    }

    async fn status(&self, order: &RefundOrder<'_>) -> RefundOutcome {
        match self
            .call(
                "GetTransactionStatus",
                status_envelope(&self.credentials, order),
            )
            .await
        {
            Ok(fields) => Self::outcome(&fields, order),
            Err(unknown) => unknown,
        }
    }

    fn kind(&self) -> GatewayKind {
        GatewayKind::Webpay
    }
}
