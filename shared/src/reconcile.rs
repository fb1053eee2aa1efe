//! Reconciliation: the refunds a gateway lists for a merchant's day against our payout
//! attempts of that day (`refundd reconcile --merchant M --date D`, and the sla role once a
//! day). Differences: a refund we hold as made that the gateway does not list (missing at
//! the gateway), one the gateway made that we know nothing of (missing here), and one both
//! hold with another amount or outcome. The day is the merchant's (its policy pack's time
//! zone); the gateway is asked for an hour more on each side so a refund booked across
//! midnight is not reported missing, and a gateway refund is "missing here" only when no
//! attempt of ours, of any day, names it.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::gateway::{Gateway, GatewayRefund, Listing};
use crate::money::{Currency, Money};
use crate::payouts::{self, AttemptStatus};

/// What kind of difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// We hold the refund as made; the gateway does not list it.
    MissingAtGateway,
    /// The gateway made a refund no attempt of ours names.
    MissingHere,
    /// Both hold it, with different amounts.
    AmountDiffers,
    /// We hold it as made; the gateway lists it as failed or canceled.
    OutcomeDiffers,
}

impl Kind {
    fn words(self) -> &'static str {
        match self {
            Kind::MissingAtGateway => "missing at the gateway",
            Kind::MissingHere => "missing here",
            Kind::AmountDiffers => "amount differs",
            Kind::OutcomeDiffers => "outcome differs",
        }
    }
}

/// One difference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// What kind.
    pub kind: Kind,
    /// The gateway's reference, when known.
    pub reference: Option<String>,
    /// Our attempt's key, when it is ours.
    pub key: Option<String>,
    /// Our request, when it is ours.
    pub request_id: Option<Uuid>,
    /// Our amount.
    pub ours: Option<String>,
    /// The gateway's amount.
    pub theirs: Option<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        write!(
            f,
            "{}\tgateway {}\trequest {}\tattempt {}\tamounts ours {} / gateway {}",
            self.kind.words(),
            text(&self.reference),
            self.request_id
                .map(|id| id.to_string())
                .unwrap_or_else(|| "-".into()),
            text(&self.key),
            text(&self.ours),
            text(&self.theirs)
        )
    }
}

/// A day's reconciliation of one merchant.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The merchant.
    pub merchant: String,
    /// The merchant's day.
    pub day: NaiveDate,
    /// The day's first instant.
    pub from: DateTime<Utc>,
    /// The next day's first instant.
    pub to: DateTime<Utc>,
    /// Why the gateway could not be reconciled (it lists no refunds), when so.
    pub unsupported: Option<String>,
    /// Refunds the gateway listed for the day.
    pub at_gateway: usize,
    /// Our attempts of the day held as made.
    pub ours: usize,
    /// What differs.
    pub differences: Vec<Difference>,
}

/// The merchant's `day` in `tz`, as UTC instants `[from, to)`.
pub fn day_bounds(day: NaiveDate, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
            .earliest()
            .unwrap_or_else(|| tz.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")))
            .with_timezone(&Utc)
    };
    (start(day), start(day.succ_opt().unwrap_or(day)))
}

fn money(minor: i64, currency: &str) -> Option<String> {
    let c: Currency = currency.parse().ok()?;
    Some(Money::from_minor(minor, c).amount_text())
}

/// Reconciles `merchant`'s `day` (in `tz`) at `gateway`.
pub async fn run<G: Gateway>(
    conn: &mut PgConnection,
    gateway: &G,
    merchant: &str,
    day: NaiveDate,
    tz: Tz,
) -> Result<Report, String> {
    let (from, to) = day_bounds(day, tz);
    let margin = chrono::Duration::hours(1);
    let mut report = Report {
        merchant: merchant.to_string(),
        day,
        from,
        to,
        unsupported: None,
        at_gateway: 0,
        ours: 0,
        differences: Vec::new(),
    };
    let theirs: Vec<GatewayRefund> =
        match gateway.refunds_between(from - margin, to + margin).await? {
            Listing::Refunds(r) => r,
            Listing::Unsupported(why) => {
                report.unsupported = Some(why.to_string());
                return Ok(report);
            }
        };
    let ours = sqlx::query!(
        r#"SELECT a.request_id, a.idempotency_key, a.request_key, a.gateway_ref, a.amount_minor,
                  a.currency::text AS "currency!", a.status AS "status: AttemptStatus"
             FROM payout_attempts a JOIN payments p ON p.id = a.payment_id
            WHERE p.merchant = $1 AND a.gateway = $2 AND a.created_at >= $3 AND a.created_at < $4
              AND a.status IN ('succeeded', 'pending')
            ORDER BY a.created_at"#,
        merchant,
        gateway.kind().as_str(),
        from,
        to
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| format!("database: {e}"))?;
    report.ours = ours.len();
    report.at_gateway = theirs
        .iter()
        .filter(|t| t.created.is_none_or(|c| c >= from && c < to))
        .count();
    let mut matched = vec![false; theirs.len()];
    for a in &ours {
        let keys = [Some(a.idempotency_key.as_str()), a.request_key.as_deref()];
        let found = theirs.iter().position(|t| {
            a.gateway_ref.as_deref() == Some(t.reference.as_str())
                || t.our_key
                    .as_deref()
                    .is_some_and(|k| keys.contains(&Some(k)))
        });
        let ours_amount = money(a.amount_minor, &a.currency);
        let difference = |kind, t: Option<&GatewayRefund>| Difference {
            kind,
            reference: t
                .map(|t| t.reference.clone())
                .or_else(|| a.gateway_ref.clone()),
            key: Some(a.idempotency_key.clone()),
            request_id: Some(a.request_id),
            ours: ours_amount.clone(),
            theirs: t.map(|t| t.amount.amount_text()),
        };
        match found {
            None => report
                .differences
                .push(difference(Kind::MissingAtGateway, None)),
            Some(i) => {
                matched[i] = true;
                let t = &theirs[i];
                if t.amount.minor() != a.amount_minor {
                    report
                        .differences
                        .push(difference(Kind::AmountDiffers, Some(t)));
                } else if !t.made && a.status == AttemptStatus::Succeeded {
                    report
                        .differences
                        .push(difference(Kind::OutcomeDiffers, Some(t)));
                }
            }
        }
    }
    for (t, _) in theirs.iter().zip(&matched).filter(|(_, m)| !**m) {
        let in_day = t.created.is_none_or(|c| c >= from && c < to);
        if !t.made || !in_day {
            continue;
        }
        let known = payouts::find_by_gateway_reference(
            conn,
            gateway.kind().as_str(),
            merchant,
            Some(&t.reference),
            t.our_key.as_deref(),
        )
        .await
        .map_err(|e| format!("database: {e}"))?;
        if known.is_none() {
            report.differences.push(Difference {
                kind: Kind::MissingHere,
                reference: Some(t.reference.clone()),
                key: t.our_key.clone(),
                request_id: None,
                ours: None,
                theirs: Some(t.amount.amount_text()),
            });
        }
    }
    Ok(report)
}

/// Claims `merchant`'s `day` for the daily run: false when another run has it (or had it).
pub async fn claim(conn: &mut PgConnection, merchant: &str, day: NaiveDate) -> sqlx::Result<bool> {
    let inserted = sqlx::query!(
        "INSERT INTO reconciliations (merchant, day) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        merchant,
        day
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Stores a finished run's report.
pub async fn store(conn: &mut PgConnection, report: &Report) -> sqlx::Result<()> {
    let json = serde_json::to_value(report).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query!(
        "UPDATE reconciliations SET finished_at = now(), differences = $3, report = $4
          WHERE merchant = $1 AND day = $2",
        report.merchant,
        report.day,
        report.differences.len() as i32,
        json
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Gives a claim back after a run that could not finish (the gateway did not answer), so the
/// next pass tries again.
pub async fn release(conn: &mut PgConnection, merchant: &str, day: NaiveDate) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM reconciliations WHERE merchant = $1 AND day = $2 AND finished_at IS NULL",
        merchant,
        day
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The notify event of a reconciliation's escalation (the notify stage's
/// `reconciliation_differences`).
pub const ESCALATION_EVENT: &str = "reconciliation_differences";

/// The escalation of a report with differences, written for the merchant's staff: in English,
/// then one line in the merchant's language (`ru`, `kk`, `lv`).
pub fn escalation_letter(report: &Report, merchant_language: &str) -> (String, String) {
    let n = report.differences.len();
    let subject = format!(
        "Reconciliation {} {}: {n} difference(s) with the gateway",
        report.merchant, report.day
    );
    let mut text = format!(
        "The daily reconciliation of {}'s refunds of {} with its payment gateway found {n} difference(s) \
         ({} refund(s) listed by the gateway, {} made by refundd):\n\n",
        report.merchant, report.day, report.at_gateway, report.ours
    );
    for d in &report.differences {
        let text_of = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        text.push_str(&format!(
            "- {}: gateway reference {}, request {}, attempt {}, amount here {}, at the gateway {}\n",
            d.kind.words(),
            text_of(&d.reference),
            d.request_id.map(|id| id.to_string()).unwrap_or_else(|| "-".into()),
            text_of(&d.key),
            text_of(&d.ours),
            text_of(&d.theirs)
        ));
    }
    text.push_str(&format!(
        "\nWhat to do: look each one up in the gateway's cabinet. A refund missing at the gateway, \
         or with another amount or outcome, belongs to the request named: read its history and \
         its payout (`refundd payouts needs-person`). A refund missing here was made outside \
         refundd. The report again: `refundd reconcile --merchant {} --date {}`.\n",
        report.merchant, report.day
    ));
    let local = match merchant_language {
        "ru" => Some(format!(
            "Ежедневная сверка возвратов с платёжным шлюзом за {} нашла расхождений: {n}. Подробности выше, на английском.",
            report.day
        )),
        "kk" => Some(format!(
            "{} күнгі қайтаруларды төлем шлюзімен күнделікті салыстыру {n} айырмашылық тапты. Толығырақ жоғарыда, ағылшын тілінде.",
            report.day
        )),
        "lv" => Some(format!(
            "Ikdienas atmaksu salīdzināšana ar maksājumu vārteju par {} atrada atšķirības: {n}. Sīkāk augstāk, angliski.",
            report.day
        )),
        _ => None,
    };
    if let Some(line) = local {
        text.push('\n');
        text.push_str(&line);
        text.push('\n');
    }
    (subject, text)
}

/// Writes the escalation of a stored report with differences to `to` and queues its notify
/// message, in the caller's transaction (with [`store`], so a report is escalated once).
pub async fn escalate(
    conn: &mut PgConnection,
    report: &Report,
    to: &str,
    merchant_language: &str,
) -> sqlx::Result<Uuid> {
    let (subject, text) = escalation_letter(report, merchant_language);
    let message = crate::messages::WorkMessage::new(crate::messages::Stage::Notify, Uuid::now_v7())
        .with_event(ESCALATION_EVENT);
    let id = message.message_id;
    sqlx::query!(
        "UPDATE reconciliations
            SET notify_message_id = $3, escalation_to = $4, escalation_language = 'en',
                escalation_subject = $5, escalation_text = $6
          WHERE merchant = $1 AND day = $2",
        report.merchant,
        report.day,
        id,
        to,
        subject,
        text
    )
    .execute(&mut *conn)
    .await?;
    crate::outbox::enqueue(conn, &[message.into()]).await?;
    Ok(id)
}
