//! Merchants: who they are, which policy packs they use, which gateway refunds their payments
//! and where its credentials come from, and how their emails are signed. Loaded from a TOML
//! file at start; a bad file stops the process naming the file, the merchant and the field.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The shipped example: the five merchants of the seed documents.
pub const DEMO_MERCHANTS: &str = include_str!("../data/merchants.toml");

/// Payment gateways refunds can go through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayKind {
    /// Our own sandbox gateway (demos and tests).
    Sandbox,
    /// WEBPAY (Belarus), over its SOAP operations API.
    Webpay,
    /// Robokassa, over its refunds API.
    Robokassa,
    /// CloudPayments, over its API (the Russian host by default).
    Cloudpayments,
    /// Stripe, over its refunds API.
    Stripe,
}

impl GatewayKind {
    /// The kind's name as written in the merchants file (`sandbox`, `webpay`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayKind::Sandbox => "sandbox",
            GatewayKind::Webpay => "webpay",
            GatewayKind::Robokassa => "robokassa",
            GatewayKind::Cloudpayments => "cloudpayments",
            GatewayKind::Stripe => "stripe",
        }
    }
}

/// A merchant's gateway. Secrets are never in this file: `credentials_env` names the
/// environment variable prefix they are read from (e.g. `SHOP_CP` → `SHOP_CP_PUBLIC_ID`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Which gateway refunds this merchant's payments.
    pub kind: GatewayKind,
    /// Overrides the gateway's default host (e.g. a test host, or CloudPayments' Kazakhstan
    /// host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Prefix of the environment variables holding the gateway's secrets; every gateway but
    /// the sandbox needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_env: Option<String>,
    /// WEBPAY only: which operation returns the money: `refund` (`TransactionRefund`, the
    /// default), `cancel` (`TransactionCancel`) or `by_bank` (from `webpay_bank`, as
    /// docs.webpay.by's table of acquiring banks says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webpay_refund_operation: Option<crate::gateway::webpay::RefundOperation>,
    /// WEBPAY only, needed by `by_bank`: the merchant's acquiring bank (`priorbank`, `mtbank`,
    /// `belagroprombank`, `sberbank`, `dabrabyt` or `other`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webpay_bank: Option<crate::gateway::webpay::AcquiringBank>,
    /// Robokassa only: the merchant fiscalises through Robokassa, so each refund carries
    /// `InvoiceItems` for the refund receipt, one line with these values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robokassa_receipt: Option<crate::gateway::robokassa::ReceiptLine>,
}

impl GatewayConfig {
    /// A configuration of `kind` with nothing else set.
    pub fn new(kind: GatewayKind) -> Self {
        GatewayConfig {
            kind,
            base_url: None,
            credentials_env: None,
            webpay_refund_operation: None,
            webpay_bank: None,
            robokassa_receipt: None,
        }
    }
}

/// One merchant from the merchants file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merchant {
    /// The merchant's id: lowercase letters, digits and '-', unique in the file.
    pub id: String,
    /// The merchant's display name: the sender name of its emails and the name escalations use.
    pub name: String,
    /// The policy packs that decide this merchant's refunds (at least one).
    pub policies: Vec<String>,
    /// The gateway that refunds this merchant's payments.
    pub gateway: GatewayConfig,
    /// The merchant's support address; SLA escalations are sent there.
    pub support_email: String,
    /// The merchant's reply address: the Reply-To of its emails when no intake address is
    /// configured.
    pub reply_to: String,
    /// How emails to customers are signed; may be several lines.
    pub signature: String,
    /// The language code (`ru`, `kk`, `lv` or `en`) the merchant writes in: the fallback for
    /// customer emails and the second language of escalations.
    pub default_language: String,
    /// Where the merchant's refund events are delivered (an http(s) URL); needs
    /// `webhook_secret_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Environment variable holding the webhook signing secret (never the secret itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret_env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MerchantsFile {
    merchants: Vec<Merchant>,
}

/// A merchants file that could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{source_name}: {field}: {problem}")]
pub struct MerchantsError {
    /// The file (or built-in data) the problem is in.
    pub source_name: String,
    /// Where in the file: a field path such as `merchants[2] (shop).reply_to`, `line N`, or
    /// `file`.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

/// The configured merchants, by id.
#[derive(Clone, Debug, Default)]
pub struct Merchants {
    by_id: BTreeMap<String, Merchant>,
}

impl Merchants {
    /// The shipped demo merchants ([`DEMO_MERCHANTS`]).
    pub fn demo() -> Self {
        Self::from_toml(DEMO_MERCHANTS, "shared/data/merchants.toml")
            .expect("the shipped merchants file is valid")
    }

    /// Reads and checks the merchants file at `path`.
    pub fn load(path: &Path) -> Result<Self, MerchantsError> {
        let text = std::fs::read_to_string(path).map_err(|e| MerchantsError {
            source_name: path.display().to_string(),
            field: "file".into(),
            problem: format!("cannot be read: {e}"),
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and checks a merchants file. `known_policy` says whether a policy pack exists.
    pub fn from_toml(text: &str, source: &str) -> Result<Self, MerchantsError> {
        let err = |field: String, problem: String| MerchantsError {
            source_name: source.to_string(),
            field,
            problem,
        };
        let file: MerchantsFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start].lines().count().max(1))
                .unwrap_or(0);
            err(format!("line {line}"), e.message().to_string())
        })?;
        let mut by_id = BTreeMap::new();
        for (i, m) in file.merchants.into_iter().enumerate() {
            let at = |field: &str| format!("merchants[{i}] ({}).{field}", m.id);
            if m.id.is_empty()
                || !m
                    .id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(err(
                    format!("merchants[{i}].id"),
                    format!("{:?}: use lowercase letters, digits and '-'", m.id),
                ));
            }
            if m.policies.is_empty() {
                return Err(err(at("policies"), "name at least one policy pack".into()));
            }
            for (field, value) in [
                ("support_email", &m.support_email),
                ("reply_to", &m.reply_to),
            ] {
                if !looks_like_email(value) {
                    return Err(err(at(field), format!("{value:?} is not an email address")));
                }
            }
            if crate::language::Language::exact(&m.default_language).is_none() {
                return Err(err(
                    at("default_language"),
                    format!(
                        "{:?}: {}",
                        m.default_language,
                        crate::language::Language::EXPECTED
                    ),
                ));
            }
            if let Some(url) = &m.webhook_url {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(err(
                        at("webhook_url"),
                        format!("{url:?} is not an http(s) URL"),
                    ));
                }
                if m.webhook_secret_env.is_none() {
                    return Err(err(
                        at("webhook_secret_env"),
                        "a webhook needs a signing secret (name the environment variable)".into(),
                    ));
                }
            }
            if by_id.contains_key(&m.id) {
                return Err(err(at("id"), "defined twice".into()));
            }
            by_id.insert(m.id.clone(), m);
        }
        Ok(Self { by_id })
    }

    /// The merchant with this id, if it is configured.
    pub fn get(&self, id: &str) -> Option<&Merchant> {
        self.by_id.get(id)
    }

    /// Every configured merchant, in id order.
    pub fn all(&self) -> impl Iterator<Item = &Merchant> {
        self.by_id.values()
    }
}

/// Writes which merchants take webhooks (`merchant_webhooks`), as this file says: the
/// transitions queue a webhook message only for their requests. Every process that moves
/// requests calls it when it starts; processes sharing a database share a merchants file, and
/// during a rolling change of that file the last process started wins until the rest restart.
pub async fn record_webhooks(pool: &sqlx::PgPool, merchants: &Merchants) -> sqlx::Result<()> {
    let with: Vec<String> = merchants
        .all()
        .filter(|m| m.webhook_url.is_some())
        .map(|m| m.id.clone())
        .collect();
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "DELETE FROM merchant_webhooks WHERE merchant <> ALL($1)",
        &with
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO merchant_webhooks (merchant) SELECT * FROM UNNEST($1::text[])
         ON CONFLICT (merchant) DO NOTHING",
        &with
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// A light check: something@domain.tld, no spaces. Real delivery is the SMTP server's word.
pub fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
        && s.len() <= 254
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_file_has_the_five_seed_merchants() {
        let m = Merchants::demo();
        assert_eq!(m.all().count(), 5);
        let policies: Vec<&str> = m
            .all()
            .flat_map(|m| m.policies.iter().map(String::as_str))
            .collect();
        for p in [
            "by-app-studio",
            "kz-saas-subscription",
            "by-online-courses",
            "kz-goods-store",
            "lv-webshop",
        ] {
            assert!(policies.contains(&p), "{p}");
        }
    }

    #[test]
    fn a_bad_field_is_named() {
        let text = r#"
[[merchants]]
id = "shop"
name = "Shop"
policies = ["lv-webshop"]
gateway = { kind = "sandbox" }
support_email = "not an email"
reply_to = "r@shop.lv"
signature = "Shop"
default_language = "lv"
"#;
        let e = Merchants::from_toml(text, "m.toml").unwrap_err();
        assert_eq!(e.field, "merchants[0] (shop).support_email");
        assert_eq!(e.source_name, "m.toml");

        let e = Merchants::from_toml(
            &text.replace("kind = \"sandbox\"", "kind = \"paypal\""),
            "m.toml",
        )
        .unwrap_err();
        assert!(e.field.starts_with("line "), "{e}");
        assert!(e.problem.contains("paypal"), "{e}");
    }
}
