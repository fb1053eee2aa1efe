//! The HTTP leg every adapter shares: one call with a timeout, and the rule that anything
//! short of a readable 2xx/4xx answer (timeout, lost connection, 5xx, 408, 429) is an
//! `Unknown` outcome rather than a decision.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};

use super::{GatewayConfigError, RefundOutcome};

/// The client adapters share. Timeouts are set per call.
pub(crate) fn client() -> Result<reqwest::Client, GatewayConfigError> {
    reqwest::Client::builder()
        .user_agent(concat!("refundd/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| GatewayConfigError::HttpClient(e.to_string()))
}

/// A gateway's answer that it decided on: a status below 500 other than 408/429, and its body.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: String,
}

/// Sends `request` with `timeout`; `Err` carries the `Unknown` outcome when the gateway did
/// not (or could not be seen to) decide.
pub(crate) async fn send(
    gateway: &str,
    request: RequestBuilder,
    timeout: Duration,
) -> Result<Answer, RefundOutcome> {
    let response = request.timeout(timeout).send().await.map_err(|e| {
        let what = if e.is_timeout() {
            format!("no answer from {gateway} within {} ms", timeout.as_millis())
        } else if e.is_connect() {
            format!("cannot connect to {gateway}")
        } else {
            format!("{gateway} call failed before an answer arrived")
        };
        RefundOutcome::unknown(what)
    })?;
    let status = response.status();
    let body = response.text().await.map_err(|e| {
        RefundOutcome::unknown(if e.is_timeout() {
            format!(
                "{gateway} answer not read within {} ms",
                timeout.as_millis()
            )
        } else {
            format!("{gateway} answer was cut off")
        })
    })?;
    if status.is_server_error() {
        return Err(RefundOutcome::server_error(format!(
            "{gateway} answered HTTP {}",
            status.as_u16()
        )));
    }
    if status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS {
        return Err(RefundOutcome::unknown(format!(
            "{gateway} answered HTTP {}",
            status.as_u16()
        )));
    }
    Ok(Answer { status, body })
}

/// The outcome for an answer that is not in the documented shape: we cannot tell what
/// the gateway did.
pub(crate) fn unreadable(gateway: &str, status: StatusCode) -> RefundOutcome {
    RefundOutcome::unknown(format!(
        "{gateway} answered HTTP {} in a shape we do not know",
        status.as_u16()
    ))
}
