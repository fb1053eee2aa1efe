//! Captured card payments: the registry refunds are paid against. Only the card's brand and
//! last four digits are kept; the refund goes back by the gateway's transaction id.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::money::{Currency, Money};

/// A payment as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Payment {
    /// The payment's id.
    pub id: Uuid,
    /// The id of the merchant that took the payment.
    pub merchant: String,
    /// The policy pack its refunds fall under (one of the merchant's).
    pub policy: String,
    /// The gateway that captured it: `sandbox`, `webpay`, `robokassa`, `cloudpayments` or `stripe`.
    pub gateway: String,
    /// The gateway's id for the capture; refunds are paid back against it.
    pub gateway_transaction_id: String,
    /// The captured amount, in integer minor units of `currency`.
    pub amount: Money,
    /// The currency the payment was captured in.
    pub currency: Currency,
    /// When the payment was captured.
    pub paid_at: DateTime<Utc>,
    /// The card's brand, lower-case, if given.
    pub card_brand: Option<String>,
    /// The card's last four digits, if given: the only card digits kept.
    pub card_last4: Option<String>,
    /// The cardholder's name as registered, if given.
    pub cardholder_name: Option<String>,
    /// The customer's address as registered; only emails from it act on the payment.
    pub customer_email: Option<String>,
    /// The customer's language code (`ru`, `kk`, `lv` or `en`), if given.
    pub customer_language: Option<String>,
    /// The merchant's order number of the payment, if given (WEBPAY's `wsb_order_num`,
    /// Robokassa's `InvId`, CloudPayments' `InvoiceId`): WEBPAY finds a payment's refunds
    /// only by it.
    pub order_number: Option<String>,
}

impl Payment {
    /// True when `other` registers the same payment with the same details (a replay).
    /// Times are compared as Postgres keeps them, to the microsecond: a replay of a
    /// registration whose `paid_at` had nanoseconds is the same registration (found by the
    /// chaos suite: a retried POST after a lost answer was refused as a conflict).
    pub fn same_registration(&self, other: &Payment) -> bool {
        use chrono::SubsecRound;
        Payment {
            id: other.id,
            paid_at: self.paid_at.trunc_subsecs(6),
            ..self.clone()
        } == Payment {
            paid_at: other.paid_at.trunc_subsecs(6),
            ..other.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_with_nanoseconds_is_the_same_registration_and_other_details_are_not() {
        let paid_at: DateTime<Utc> = "2026-12-03T10:15:30.123456789Z".parse().unwrap();
        let sent = Payment {
            id: Uuid::now_v7(),
            merchant: "demo".into(),
            policy: "by-online-courses".into(),
            gateway: "sandbox".into(),
            gateway_transaction_id: "tx-1".into(),
            amount: Money::from_minor(45_000, Currency::BYN),
            currency: Currency::BYN,
            paid_at,
            card_brand: None,
            card_last4: None,
            cardholder_name: None,
            customer_email: Some("c@example.com".into()),
            customer_language: None,
            order_number: None,
        };
        // As stored: another id, microseconds.
        let stored = Payment {
            id: Uuid::now_v7(),
            paid_at: "2026-12-03T10:15:30.123456Z".parse().unwrap(),
            ..sent.clone()
        };
        assert!(stored.same_registration(&sent));
        let later = Payment {
            paid_at: "2026-12-03T10:15:30.123457Z".parse().unwrap(),
            ..sent.clone()
        };
        assert!(!stored.same_registration(&later));
        let other_amount = Payment {
            amount: Money::from_minor(45_001, Currency::BYN),
            ..sent
        };
        assert!(!stored.same_registration(&other_amount));
    }
}

pub(crate) struct Row {
    pub(crate) id: Uuid,
    pub(crate) merchant: String,
    pub(crate) policy_id: String,
    pub(crate) gateway: String,
    pub(crate) gateway_txn_id: String,
    pub(crate) amount_minor: i64,
    pub(crate) currency: String,
    pub(crate) paid_at: DateTime<Utc>,
    pub(crate) card_brand: Option<String>,
    pub(crate) card_last4: Option<String>,
    pub(crate) cardholder_name: Option<String>,
    pub(crate) customer_email: Option<String>,
    pub(crate) customer_language: Option<String>,
    pub(crate) order_number: Option<String>,
}

impl TryFrom<Row> for Payment {
    type Error = sqlx::Error;
    fn try_from(r: Row) -> Result<Self, Self::Error> {
        let currency: Currency = r
            .currency
            .parse()
            .map_err(|e: crate::money::MoneyError| sqlx::Error::Decode(Box::new(e)))?;
        Ok(Payment {
            id: r.id,
            merchant: r.merchant,
            policy: r.policy_id,
            gateway: r.gateway,
            gateway_transaction_id: r.gateway_txn_id,
            amount: Money::from_minor(r.amount_minor, currency),
            currency,
            paid_at: r.paid_at,
            card_brand: r.card_brand,
            card_last4: r.card_last4,
            cardholder_name: r.cardholder_name,
            customer_email: r.customer_email,
            customer_language: r.customer_language,
            order_number: r.order_number,
        })
    }
}

/// What registering did.
#[derive(Debug, PartialEq, Eq)]
pub enum Registered {
    /// A new payment was registered.
    Created(Payment),
    /// The same payment with the same details was registered before.
    AlreadyRegistered(Payment),
    /// The gateway transaction id is registered with other details.
    Conflict(Payment),
}

/// Registers a payment, idempotently on gateway + transaction id.
pub async fn register(conn: &mut PgConnection, p: &Payment) -> sqlx::Result<Registered> {
    let inserted = sqlx::query!(
        r#"INSERT INTO payments (id, merchant, policy_id, gateway, gateway_txn_id, amount_minor,
                                 currency, paid_at, card_brand, card_last4, cardholder_name,
                                 customer_email, customer_language, order_number)
           VALUES ($1, $2, $3, $4, $5, $6::bigint, $7, $8, $9, $10, $11, $12, $13::text, $14)
           ON CONFLICT ON CONSTRAINT payments_gateway_txn_key DO NOTHING"#,
        p.id,
        p.merchant,
        p.policy,
        p.gateway,
        p.gateway_transaction_id,
        p.amount.minor(),
        p.currency.code(),
        p.paid_at,
        p.card_brand,
        p.card_last4,
        p.cardholder_name,
        p.customer_email,
        p.customer_language,
        p.order_number
    )
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Registered::Created(p.clone()));
    }
    let existing = find_by_gateway(conn, &p.gateway, &p.gateway_transaction_id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok(if existing.same_registration(p) {
        Registered::AlreadyRegistered(existing)
    } else {
        Registered::Conflict(existing)
    })
}

/// The payment with this id, if any.
pub async fn find(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Payment>> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT id, merchant, policy_id, gateway, gateway_txn_id, amount_minor,
                  currency AS "currency!", paid_at, card_brand,
                  card_last4 AS "card_last4?", cardholder_name, customer_email, customer_language,
                  order_number
             FROM payments WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    row.map(Payment::try_from).transpose()
}

/// The payment registered under this gateway and transaction id, if any.
pub async fn find_by_gateway(
    conn: &mut PgConnection,
    gateway: &str,
    transaction_id: &str,
) -> sqlx::Result<Option<Payment>> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT id, merchant, policy_id, gateway, gateway_txn_id, amount_minor,
                  currency AS "currency!", paid_at, card_brand,
                  card_last4 AS "card_last4?", cardholder_name, customer_email, customer_language,
                  order_number
             FROM payments WHERE gateway = $1 AND gateway_txn_id = $2"#,
        gateway,
        transaction_id
    )
    .fetch_optional(conn)
    .await?;
    row.map(Payment::try_from).transpose()
}

/// The payments a customer's words may name, newest first: `text` as the gateway's
/// transaction id, the merchant's order number or the customer's email (any case). Only
/// `merchant`'s when given.
pub async fn search(
    conn: &mut PgConnection,
    merchant: Option<&str>,
    text: &str,
    limit: i64,
) -> sqlx::Result<Vec<Payment>> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, merchant, policy_id, gateway, gateway_txn_id, amount_minor,
                  currency AS "currency!", paid_at, card_brand,
                  card_last4 AS "card_last4?", cardholder_name, customer_email, customer_language,
                  order_number
             FROM payments
            WHERE (gateway_txn_id = $1 OR order_number = $1
                   OR (customer_email IS NOT NULL AND lower(customer_email) = lower($1)))
              AND ($2::text IS NULL OR merchant = $2)
            ORDER BY paid_at DESC, id LIMIT $3"#,
        text.trim(),
        merchant,
        limit
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Payment::try_from).collect()
}

/// Locks payment `id` for the rest of the transaction. Everything that approves an amount
/// on a payment (the decide stage, a supervisor's confirm) takes this lock before it sums
/// [`committed_refunds`], so two approvals on one payment are decided one after the other
/// and their sum can never pass what was captured. Callers lock the request first, then
/// the payment: one order everywhere, so they never deadlock.
///
/// One statement: the row is read as it locks it.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Payment>> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT id, merchant, policy_id, gateway, gateway_txn_id, amount_minor,
                  currency AS "currency!", paid_at, card_brand,
                  card_last4 AS "card_last4?", cardholder_name, customer_email, customer_language,
                  order_number
             FROM payments WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    row.map(Payment::try_from).transpose()
}

/// What has been refunded, or is on its way, on a payment: the sum of approved refund
/// amounts of requests that are not rejected or withdrawn (excluding `except`).
pub async fn committed_refunds(
    conn: &mut PgConnection,
    payment_id: Uuid,
    except: Option<Uuid>,
) -> sqlx::Result<i64> {
    let sum = sqlx::query_scalar!(
        r#"SELECT COALESCE(SUM(amount_minor), 0)::bigint AS "sum!"
             FROM refund_requests
            WHERE payment_id = $1
              AND state IN ('approved', 'payout_pending', 'payout_sent', 'refunded',
                            'payout_failed', 'needs_bank_details', 'manual_payout')
              AND ($2::uuid IS NULL OR id <> $2)"#,
        payment_id,
        except
    )
    .fetch_one(conn)
    .await?;
    Ok(sum)
}
