//! The webhook stage: tells a merchant's own system about decisions and the side effects it
//! must carry out (such as revoking course access within one working day), by a signed POST
//! to the merchant's webhook URL. Signature: `X-Refundd-Signature: t=<unix seconds>,v1=<hex
//! HMAC-SHA256 of "<t>.<body>" with the merchant's secret>`. Delivery is at least once
//! (transient failures retry on the retry tiers); `X-Refundd-Delivery` is stable across
//! retries so the receiver can drop duplicates.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use shared::broker::consumer::{Handler, HandlerError};
use shared::merchants::Merchants;
use shared::messages::WorkMessage;
use shared::requests;
use shared::transition;
use sqlx::PgPool;

/// Reads a merchant's signing secret by the name of the environment variable holding it.
pub type SecretLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

pub struct Webhook {
    pool: PgPool,
    merchants: Arc<Merchants>,
    client: reqwest::Client,
    secret: SecretLookup,
}

impl Webhook {
    pub fn new(pool: PgPool, merchants: Arc<Merchants>, secret: SecretLookup) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client builds");
        Self {
            pool,
            merchants,
            client,
            secret,
        }
    }
}

/// `t=<unix>,v1=<hex hmac>` over `"<t>.<body>"`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

impl Handler for Webhook {
    async fn handle(&self, message: WorkMessage) -> Result<(), HandlerError> {
        let id = message.request_id;
        let mut conn = self.pool.acquire().await?;
        let already: bool = sqlx::query_scalar!(
r#"SELECT EXISTS (SELECT 1 FROM processed_messages WHERE consumer = 'webhook' AND message_id = $1) AS "seen!""#,
message.message_id
)
        .fetch_one(&mut *conn)
        .await?;
        if already {
            return Ok(());
        }
        let record = requests::find(&mut conn, id).await?.ok_or_else(|| {
            HandlerError::Permanent(anyhow::anyhow!("request {id} does not exist"))
        })?;
        drop(conn);
        let Some(merchant_id) = record.merchant.clone() else {
            // Not matched to a merchant (an email naming no payment): nobody to tell.
            return Ok(());
        };
        let Some(merchant) = self.merchants.get(&merchant_id) else {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "unknown merchant {merchant_id:?}"
            )));
        };
        let (Some(url), Some(secret_env)) = (&merchant.webhook_url, &merchant.webhook_secret_env)
        else {
            // No webhook configured (any more): nothing to deliver.
            return Ok(());
        };
        let secret = (self.secret)(secret_env).ok_or_else(|| {
            HandlerError::Transient(anyhow::anyhow!(
                "the webhook secret {secret_env} of merchant {merchant_id} is not set"
            ))
        })?;
        let event = message.event.clone().unwrap_or_else(|| "decision".into());
        let decision = record.stored_decision();
        let body = serde_json::to_vec(&json!({
            "event": format!("refund.{event}"),
            "delivery_id": message.message_id,
            "request_id": id,
            "merchant": merchant_id,
            "state": record.state,
            "policy": record.policy_id,
            "policy_version": record.policy_version,
            "amount": decision.as_ref().map(|d| d.amount.clone()),
            "currency": record.currency,
            "refund_due_by": record.due_on,
            "clause": decision.as_ref().map(|d| d.clause.clone()),
            "clause_translations": decision.as_ref().map(|d| d.clause_translations.clone()),
            "effects": decision.map(|d| d.effects).unwrap_or_default(),
        }))
        .expect("json serializes");
        let now = chrono::Utc::now().timestamp();
        let answer = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("x-refundd-event", format!("refund.{event}"))
            .header("x-refundd-delivery", message.message_id.to_string())
            .header("x-refundd-signature", signature(&secret, now, &body))
            .body(body)
            .send()
            .await;
        let status = match answer {
            Ok(r) => r.status(),
            Err(e) => {
                return Err(HandlerError::Transient(anyhow::anyhow!(
                    "webhook to merchant {merchant_id} failed: {e}"
                )));
            }
        };
        if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            return Err(HandlerError::Transient(anyhow::anyhow!(
                "webhook to merchant {merchant_id} answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "webhook to merchant {merchant_id} refused with {status}"
            )));
        }
        let mut tx = self.pool.begin().await?;
        if transition::first_delivery(&mut tx, "webhook", message.message_id).await? {
            let state = record.state();
            transition::record_event(
                &mut tx,
                id,
                "worker:webhook",
                Some(state),
                state,
                Some(&format!("merchant notified by webhook (refund.{event})")),
                &json!({"delivery_id": message.message_id, "status": status.as_u16()}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_and_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
        assert_eq!(
            signature("s3cret", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
        );
    }
}
