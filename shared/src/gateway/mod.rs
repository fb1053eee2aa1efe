//! Payment gateways: the one question the payout worker asks them ("refund this, with this
//! idempotency key") and the one answer it gets back ([`RefundOutcome`]), whatever gateway
//! answers. Owns the [`Gateway`] trait, the outcome and decline vocabulary, building a
//! merchant's adapter from its [`GatewayConfig`] and secrets, and the adapters themselves:
//! our [`sandbox`] gateway (a real HTTP server with a ledger) and [`cloudpayments`],
//! [`robokassa`], [`webpay`] and [`stripe`].
//!
//! Rules every adapter keeps:
//! - A transport timeout, a lost connection, a 5xx (or 408/429) is [`RefundOutcome::Unknown`],
//!   never `Declined`: the refund may or may not have been booked, and only a `status` call
//!   can tell.
//! - `status` is safe to call when `refund` never reached the gateway; it then answers
//!   [`RefundOutcome::NotFound`] where the gateway can look refunds up by our key, and
//!   `Unknown` (saying why) where it cannot. It books nothing new: it is read-only everywhere
//!   but CloudPayments within its request-id hour, where the documented way to read a lost
//!   answer is to repeat the refund with the same `X-Request-ID` (answered from the gateway's
//!   store, or booked once if the first never arrived).
//! - Secrets are [`Secret`]s: their `Debug` prints `***`, and nothing logs them.
//!
//! Dispatch: the trait uses native `async fn` (so it is not object safe); [`build`] returns
//! [`ConfiguredGateway`], an enum over the five adapters that implements the trait. Tests and
//! the worker can be generic over `G: Gateway` and use fakes.

pub mod cloudpayments;
pub mod robokassa;
pub mod sandbox;
pub mod stripe;
mod transport;
pub mod webpay;

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::merchants::{GatewayConfig, GatewayKind};
use crate::money::Money;

pub use cloudpayments::CloudPayments;
pub use robokassa::Robokassa;
pub use sandbox::SandboxGateway;
pub use stripe::Stripe;
pub use webpay::Webpay;

/// How long one gateway call may take before its outcome is `Unknown`.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// One refund, as the payout worker asks for it. The money goes back to the payment's
/// original card, named by the gateway's own transaction id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefundOrder<'a> {
    /// The captured payment at the gateway (CloudPayments TransactionId, Robokassa OpKey,
    /// WEBPAY transaction id, Stripe `ch_…`/`pi_…`, sandbox transaction id).
    pub gateway_transaction_id: &'a str,
    /// The amount to refund, in integer minor units of the payment's currency.
    pub amount: Money,
    /// Whether this is the whole captured amount (nothing else refunded: refunds never sum
    /// above what was captured). Gateways that want a full refund said so are told (Robokassa
    /// omits `RefundSum`).
    pub full: bool,
    /// Unique per payout attempt: our name for the refund, sent as metadata where the gateway
    /// takes it (Stripe `metadata[idempotency_key]`, CloudPayments `JsonData.refund_key`) and
    /// what `status` looks the refund up by.
    pub idempotency_key: &'a str,
    /// What this send puts in the gateway's idempotency header (Stripe `Idempotency-Key`,
    /// CloudPayments `X-Request-ID`): the attempt's key, or a key derived from it once the
    /// gateway replays a finished server error for the attempt's key and its refund list
    /// proved that no refund was made (see `payouts::Attempt::request_key`).
    pub request_key: &'a str,
    /// The merchant's order number of the payment, when it was registered with one (WEBPAY
    /// lists a payment's transactions by it).
    pub order_number: Option<&'a str>,
    /// When the payment was captured (WEBPAY's status call covers the days from then on).
    pub paid_at: DateTime<Utc>,
    /// When this attempt was first sent (CloudPayments replays a request id for one hour).
    pub attempted_at: DateTime<Utc>,
    /// The gateway's references of the other refunds on this payment that were booked or are
    /// under way, so a status call that matches refunds by amount (WEBPAY) does not take
    /// another request's refund for this one.
    pub other_refs: &'a [String],
    /// Our id of the payment being refunded; logged, and sent as metadata where the gateway takes
    /// it (CloudPayments `JsonData`, Stripe `metadata`).
    pub payment_id: Uuid,
    /// Our id of the refund request this payout belongs to; logged and sent as metadata like
    /// `payment_id`.
    pub request_id: Uuid,
    /// The gateway's reference from an earlier answer to this attempt (`Succeeded` or
    /// `Pending`), when known. Lets `status` ask by it on gateways that can only look refunds
    /// up by their own id (Robokassa, CloudPayments).
    pub gateway_ref: Option<&'a str>,
}

/// What happened to a refund, in one vocabulary for every gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RefundOutcome {
    /// The gateway booked the refund.
    Succeeded {
        /// The gateway's own id for the refund.
        gateway_ref: String,
    },
    /// The gateway accepted the refund and will finish it later; ask `status` again.
    Pending {
        /// The gateway's id for the refund, when its answer carried one.
        gateway_ref: Option<String>,
    },
    /// The gateway refused the refund; nothing was booked for this request.
    Declined {
        /// Why, in our decline vocabulary.
        code: DeclineCode,
        /// The gateway's explanation, as it worded it.
        reason: String,
    },
    /// Only from `status`: the gateway has no refund under this key, so the refund never
    /// reached it and may be sent again with the same key.
    NotFound,
    /// Timeout, lost connection, 5xx, an answer that could not be read, or a gateway that
    /// cannot be asked: the refund may or may not have been booked.
    Unknown {
        /// What went wrong, for the logs and the person who settles the refund.
        detail: String,
        /// The gateway finished the call with a server error (HTTP 5xx) rather than the answer
        /// being lost: it is no longer working on it, and a gateway that stores answers per
        /// idempotency key (Stripe) will replay this error for the same key.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        server_error: bool,
    },
}

impl RefundOutcome {
    /// An `Unknown` outcome with this detail.
    pub fn unknown(detail: impl Into<String>) -> Self {
        RefundOutcome::Unknown {
            detail: detail.into(),
            server_error: false,
        }
    }

    /// An `Unknown` outcome for a finished server error (HTTP 5xx) with this detail.
    pub fn server_error(detail: impl Into<String>) -> Self {
        RefundOutcome::Unknown {
            detail: detail.into(),
            server_error: true,
        }
    }

    /// Short name for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            RefundOutcome::Succeeded { .. } => "succeeded",
            RefundOutcome::Pending { .. } => "pending",
            RefundOutcome::Declined { .. } => "declined",
            RefundOutcome::NotFound => "not_found",
            RefundOutcome::Unknown { .. } => "unknown",
        }
    }
}

/// Why a gateway refused a refund. `CardExpired` and `CardClosed` mean the card cannot take
/// the money back: the customer's bank details are needed for a manual payout.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DeclineCode {
    /// The card has expired.
    CardExpired,
    /// The card can no longer receive money: closed, blocked, lost or stolen.
    CardClosed,
    /// The merchant's balance at the gateway cannot cover the refund.
    InsufficientFunds,
    /// The refund (with earlier ones) would exceed what was captured.
    AmountExceedsCaptured,
    /// The gateway says this payment was already refunded.
    DuplicateRefund,
    /// Any other refusal, with the gateway's (or sandbox's) code.
    Other(String),
}

impl DeclineCode {
    /// The code as stored and logged (`card_expired`, `card_closed`...); `Other` gives the
    /// gateway's code as is.
    pub fn as_str(&self) -> &str {
        match self {
            DeclineCode::CardExpired => "card_expired",
            DeclineCode::CardClosed => "card_closed",
            DeclineCode::InsufficientFunds => "insufficient_funds",
            DeclineCode::AmountExceedsCaptured => "amount_exceeds_captured",
            DeclineCode::DuplicateRefund => "duplicate_refund",
            DeclineCode::Other(code) => code,
        }
    }

    /// The inverse of [`DeclineCode::as_str`]; unknown codes become `Other`.
    pub fn parse(code: &str) -> Self {
        match code {
            "card_expired" => DeclineCode::CardExpired,
            "card_closed" => DeclineCode::CardClosed,
            "insufficient_funds" => DeclineCode::InsufficientFunds,
            "amount_exceeds_captured" => DeclineCode::AmountExceedsCaptured,
            "duplicate_refund" => DeclineCode::DuplicateRefund,
            other => DeclineCode::Other(other.to_string()),
        }
    }

    /// True when the card cannot receive the refund and bank details are needed.
    pub fn needs_bank_details(&self) -> bool {
        matches!(self, DeclineCode::CardExpired | DeclineCode::CardClosed)
    }
}

impl fmt::Display for DeclineCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DeclineCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DeclineCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Ok(DeclineCode::parse(&code))
    }
}

/// One refund as the gateway lists it (for reconciliation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayRefund {
    /// The gateway's id of the refund.
    pub reference: String,
    /// Our key, when the gateway keeps it (Stripe metadata, the sandbox's key).
    pub our_key: Option<String>,
    /// The gateway's id of the payment refunded, when listed.
    pub payment_ref: Option<String>,
    /// The amount refunded.
    pub amount: Money,
    /// Whether the gateway counts it as made (booked, or on its way); failed, declined and
    /// canceled ones are false.
    pub made: bool,
    /// When the gateway created it, when listed.
    pub created: Option<DateTime<Utc>>,
}

/// What a gateway says about the refunds of a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listing {
    /// Every refund of the period the gateway lists.
    Refunds(Vec<GatewayRefund>),
    /// The gateway has no call that lists refunds; why, in words.
    Unsupported(&'static str),
}

/// A payment gateway that can refund a captured payment and say what became of a refund.
pub trait Gateway: Send + Sync {
    /// Sends the refund once. Never retries on its own.
    fn refund(&self, order: &RefundOrder<'_>) -> impl Future<Output = RefundOutcome> + Send;
    /// Asks what happened to the refund with this order's idempotency key (or
    /// `gateway_ref`). Never books a second refund (see the module docs for CloudPayments).
    fn status(&self, order: &RefundOrder<'_>) -> impl Future<Output = RefundOutcome> + Send;
    /// Which gateway this is.
    fn kind(&self) -> GatewayKind;
    /// Whether `status` can find a refund by our key alone, without the gateway's own refund
    /// id (Stripe by metadata, WEBPAY by the order's listing, the sandbox by key; not
    /// CloudPayments past its request-id hour, nor Robokassa).
    fn finds_refunds_by_key(&self) -> bool;
    /// The refunds the gateway created from `from` (inclusive) to `to` (exclusive), for
    /// reconciliation; `Err` says why the gateway could not be asked.
    fn refunds_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Listing, String>> + Send;
}

/// A secret read from the environment or a file. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for building a request. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why a merchant's gateway could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GatewayConfigError {
    /// The merchant's gateway configuration has no `credentials_env`.
    #[error(
        "the {kind} gateway needs `credentials_env` (the prefix of the environment variables holding its secrets)"
    )]
    NoCredentialsEnv {
        /// The gateway's name (`cloudpayments`, `stripe`...).
        kind: &'static str,
    },
    /// Neither `{variable}` nor the file named by `{variable}_FILE` gives a non-empty secret.
    #[error(
        "the {kind} gateway needs the secret `{variable}`: set it, or `{variable}_FILE` to a file holding it"
    )]
    MissingSecret {
        /// The gateway's name (`cloudpayments`, `stripe`...).
        kind: &'static str,
        /// The environment variable that should hold the secret (`{PREFIX}_{NAME}`).
        variable: String,
    },
    /// The file named by `{variable}_FILE` cannot be read.
    #[error("`{variable}_FILE` names {path}, which cannot be read: {reason}")]
    UnreadableSecretFile {
        /// The secret's environment variable, without the `_FILE` suffix.
        variable: String,
        /// The file it names.
        path: PathBuf,
        /// The I/O error, as text.
        reason: String,
    },
    /// The configured (or default) base URL does not start with `http://` or `https://`.
    #[error("base_url {url:?} is not an http(s) URL")]
    BadBaseUrl {
        /// The URL as configured.
        url: String,
    },
    /// A setting was given for a gateway that does not use it.
    #[error("`{field}` is a setting of the {owner} gateway, not of {kind}: remove it")]
    NotThisGateway {
        /// The setting.
        field: &'static str,
        /// The gateway that uses it.
        owner: &'static str,
        /// The merchant's gateway.
        kind: &'static str,
    },
    /// `webpay_refund_operation = "by_bank"` without `webpay_bank`.
    #[error(
        "`webpay_refund_operation = \"by_bank\"` needs `webpay_bank` (priorbank, mtbank, belagroprombank, sberbank, dabrabyt or other)"
    )]
    BankNeeded,
    /// The gateway has no published production address: the merchant must give it.
    #[error("the {kind} gateway needs `base_url`: {why}")]
    BaseUrlNeeded {
        /// The gateway's name.
        kind: &'static str,
        /// Where the address comes from.
        why: &'static str,
    },
    /// The HTTP client could not be built; holds the client library's error text.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

/// Reads secret `{prefix}_{name}` from `env`, or from the file named by `{prefix}_{name}_FILE`
/// (for secrets other than the adapters', e.g. the ones that sign gateway notifications).
pub fn read_secret_from(
    kind: GatewayKind,
    prefix: &str,
    name: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Secret, GatewayConfigError> {
    read_secret(kind, prefix, name, env)
}

/// Reads secret `{prefix}_{name}` from `env`, or from the file named by `{prefix}_{name}_FILE`.
pub(crate) fn read_secret(
    kind: GatewayKind,
    prefix: &str,
    name: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Secret, GatewayConfigError> {
    let variable = format!("{prefix}_{name}");
    if let Some(value) = env(&variable).filter(|v| !v.is_empty()) {
        return Ok(Secret(value));
    }
    if let Some(path) = env(&format!("{variable}_FILE")).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            GatewayConfigError::UnreadableSecretFile {
                variable: variable.clone(),
                path: path.clone(),
                reason: e.to_string(),
            }
        })?;
        let value = text.trim_end_matches(['\r', '\n']).to_string();
        if !value.is_empty() {
            return Ok(Secret(value));
        }
    }
    Err(GatewayConfigError::MissingSecret {
        kind: kind.as_str(),
        variable,
    })
}

fn credentials_prefix(config: &GatewayConfig) -> Result<&str, GatewayConfigError> {
    config
        .credentials_env
        .as_deref()
        .filter(|p| !p.is_empty())
        .ok_or(GatewayConfigError::NoCredentialsEnv {
            kind: config.kind.as_str(),
        })
}

/// The base URL to call: the configured one, else the gateway's production host.
fn base_url(config: &GatewayConfig, default: &str) -> Result<String, GatewayConfigError> {
    let url = config.base_url.as_deref().unwrap_or(default);
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(GatewayConfigError::BadBaseUrl {
            url: url.to_string(),
        });
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Settings given to a gateway that does not use them, or missing ones they need.
fn check_settings(config: &GatewayConfig) -> Result<(), GatewayConfigError> {
    let kind = config.kind.as_str();
    let foreign = [
        (
            "webpay_refund_operation",
            GatewayKind::Webpay,
            config.webpay_refund_operation.is_some(),
        ),
        (
            "webpay_bank",
            GatewayKind::Webpay,
            config.webpay_bank.is_some(),
        ),
        (
            "robokassa_receipt",
            GatewayKind::Robokassa,
            config.robokassa_receipt.is_some(),
        ),
    ];
    if let Some((field, owner, _)) = foreign
        .into_iter()
        .find(|(_, owner, given)| *given && *owner != config.kind)
    {
        return Err(GatewayConfigError::NotThisGateway {
            field,
            owner: owner.as_str(),
            kind,
        });
    }
    if config.webpay_refund_operation == Some(webpay::RefundOperation::ByBank)
        && config.webpay_bank.is_none()
    {
        return Err(GatewayConfigError::BankNeeded);
    }
    Ok(())
}

/// A merchant's gateway adapter, built from its configuration.
#[derive(Clone, Debug)]
pub enum ConfiguredGateway {
    /// Our sandbox gateway.
    Sandbox(SandboxGateway),
    /// CloudPayments (Kazakhstan and Russia).
    Cloudpayments(CloudPayments),
    /// Robokassa.
    Robokassa(Robokassa),
    /// WEBPAY (Belarus).
    Webpay(Webpay),
    /// Stripe.
    Stripe(Stripe),
}

/// Builds the adapter for `config` with the default call timeout (10 s). Secrets are read
/// through `env` (pass `|name| std::env::var(name).ok()` in production).
pub fn build(
    config: &GatewayConfig,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<ConfiguredGateway, GatewayConfigError> {
    build_with_timeout(config, env, DEFAULT_CALL_TIMEOUT)
}

/// [`build`] with a chosen per-call timeout.
pub fn build_with_timeout(
    config: &GatewayConfig,
    env: &impl Fn(&str) -> Option<String>,
    timeout: Duration,
) -> Result<ConfiguredGateway, GatewayConfigError> {
    let client = transport::client()?;
    check_settings(config)?;
    Ok(match config.kind {
        GatewayKind::Sandbox => ConfiguredGateway::Sandbox(SandboxGateway::new(
            client,
            base_url(config, sandbox::DEFAULT_URL)?,
            timeout,
        )),
        GatewayKind::Cloudpayments => {
            let prefix = credentials_prefix(config)?;
            ConfiguredGateway::Cloudpayments(CloudPayments::new(
                client,
                base_url(config, cloudpayments::RU_HOST)?,
                cloudpayments::Credentials {
                    public_id: read_secret(config.kind, prefix, "PUBLIC_ID", env)?,
                    api_secret: read_secret(config.kind, prefix, "API_SECRET", env)?,
                },
                timeout,
            ))
        }
        GatewayKind::Robokassa => {
            let prefix = credentials_prefix(config)?;
            // No base_url: the host follows the payment's currency (tenge → Kazakhstan).
            let host = match config.base_url {
                Some(_) => Some(base_url(config, robokassa::HOST)?),
                None => None,
            };
            ConfiguredGateway::Robokassa(Robokassa::new(
                client,
                host,
                read_secret(config.kind, prefix, "PASSWORD3", env)?,
                config.robokassa_receipt.clone(),
                timeout,
            ))
        }
        GatewayKind::Webpay => {
            let prefix = credentials_prefix(config)?;
            if config.base_url.is_none() {
                return Err(GatewayConfigError::BaseUrlNeeded {
                    kind: "webpay",
                    why: "the URL of WEBPAY's operations WSDL (the sandbox is https://sandbox.webpay.by/WSBApi; the production one comes with the merchant's WEBPAY onboarding)",
                });
            }
            let operation = config
                .webpay_refund_operation
                .unwrap_or(webpay::RefundOperation::Refund)
                .resolve(config.webpay_bank);
            ConfiguredGateway::Webpay(Webpay::new(
                client,
                base_url(config, webpay::SANDBOX_WSDL)?,
                webpay::Credentials {
                    store_id: read_secret(config.kind, prefix, "STORE_ID", env)?,
                    login: read_secret(config.kind, prefix, "LOGIN", env)?,
                    password: read_secret(config.kind, prefix, "PASSWORD", env)?,
                },
                operation,
                timeout,
            ))
        }
        GatewayKind::Stripe => {
            let prefix = credentials_prefix(config)?;
            ConfiguredGateway::Stripe(Stripe::new(
                client,
                base_url(config, stripe::HOST)?,
                read_secret(config.kind, prefix, "SECRET_KEY", env)?,
                timeout,
            ))
        }
    })
}

impl Gateway for ConfiguredGateway {
    async fn refund(&self, order: &RefundOrder<'_>) -> RefundOutcome {
        let outcome = match self {
            ConfiguredGateway::Sandbox(g) => g.refund(order).await,
            ConfiguredGateway::Cloudpayments(g) => g.refund(order).await,
            ConfiguredGateway::Robokassa(g) => g.refund(order).await,
            ConfiguredGateway::Webpay(g) => g.refund(order).await,
            ConfiguredGateway::Stripe(g) => g.refund(order).await,
        };
        log_outcome("refund", self.kind(), order, &outcome);
        outcome
    }

    async fn status(&self, order: &RefundOrder<'_>) -> RefundOutcome {
        let outcome = match self {
            ConfiguredGateway::Sandbox(g) => g.status(order).await,
            ConfiguredGateway::Cloudpayments(g) => g.status(order).await,
            ConfiguredGateway::Robokassa(g) => g.status(order).await,
            ConfiguredGateway::Webpay(g) => g.status(order).await,
            ConfiguredGateway::Stripe(g) => g.status(order).await,
        };
        log_outcome("status", self.kind(), order, &outcome);
        outcome
    }

    async fn refunds_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Listing, String> {
        match self {
            ConfiguredGateway::Sandbox(g) => g.refunds_between(from, to).await,
            ConfiguredGateway::Cloudpayments(g) => g.refunds_between(from, to).await,
            ConfiguredGateway::Robokassa(g) => g.refunds_between(from, to).await,
            ConfiguredGateway::Webpay(g) => g.refunds_between(from, to).await,
            ConfiguredGateway::Stripe(g) => g.refunds_between(from, to).await,
        }
    }

    fn finds_refunds_by_key(&self) -> bool {
        match self {
            ConfiguredGateway::Sandbox(g) => g.finds_refunds_by_key(),
            ConfiguredGateway::Cloudpayments(g) => g.finds_refunds_by_key(),
            ConfiguredGateway::Robokassa(g) => g.finds_refunds_by_key(),
            ConfiguredGateway::Webpay(g) => g.finds_refunds_by_key(),
            ConfiguredGateway::Stripe(g) => g.finds_refunds_by_key(),
        }
    }

    fn kind(&self) -> GatewayKind {
        match self {
            ConfiguredGateway::Sandbox(_) => GatewayKind::Sandbox,
            ConfiguredGateway::Cloudpayments(_) => GatewayKind::Cloudpayments,
            ConfiguredGateway::Robokassa(_) => GatewayKind::Robokassa,
            ConfiguredGateway::Webpay(_) => GatewayKind::Webpay,
            ConfiguredGateway::Stripe(_) => GatewayKind::Stripe,
        }
    }
}

/// One line per gateway call: ids, amount and outcome; never secrets or card data.
fn log_outcome(call: &str, kind: GatewayKind, order: &RefundOrder<'_>, outcome: &RefundOutcome) {
    let detail = match outcome {
        RefundOutcome::Declined { code, reason } => format!("{code}: {reason}"),
        RefundOutcome::Unknown { detail, .. } => detail.clone(),
        _ => String::new(),
    };
    tracing::info!(
        gateway = kind.as_str(),
        call,
        payment_id = %order.payment_id,
        request_id = %order.request_id,
        idempotency_key = order.idempotency_key,
        amount = %order.amount,
        outcome = outcome.label(),
        detail,
        "gateway answered"
    );
}
