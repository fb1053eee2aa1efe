//! What the validate and decide stages both need: a request read together with its payment,
//! its documents and what is already refunded on the payment, run through the policy engine
//! as of its received date.

use chrono::NaiveDate;
use serde_json::Value;
use shared::broker::consumer::HandlerError;
use shared::calendar::Calendars;
use shared::documents::{self, DocumentSummary};
use shared::money::Money;
use shared::payments::{self, Payment};
use shared::policy::{Decision, DocumentKind, PolicyPacks, QuoteInput};
use shared::requests::{self, RequestRecord};
use sqlx::PgConnection;
use uuid::Uuid;

/// A request with everything the policy looks at.
pub struct Assessment {
    pub record: RequestRecord,
    pub payment: Option<Payment>,
    pub documents: Vec<DocumentSummary>,
    /// The engine's answer, when the request is matched to a payment.
    pub decision: Option<Decision>,
    /// What the engine was asked, with `decision`.
    pub input: Option<QuoteInput>,
    /// What other requests already refund of the payment, in minor units.
    committed_minor: i64,
}

impl Assessment {
    /// The date a person deciding this request must finish by: the pack's default SLA
    /// counted from the request's dates; `None` without a payment (nothing to count from).
    pub fn default_due(&self, packs: &PolicyPacks, calendars: &Calendars) -> Option<NaiveDate> {
        let input = self.input.as_ref()?;
        let pack = packs.get(&input.policy)?;
        shared::policy::default_due(pack, calendars.get(pack.country()), input).ok()
    }

    /// Problems of identity documents sent but not valid (e.g. `document_expired`), when no
    /// valid one was sent.
    pub fn document_problems(&self) -> Vec<Value> {
        let identity: Vec<&DocumentSummary> = self
            .documents
            .iter()
            .filter(|d| d.kind == "identity_document")
            .collect();
        if identity.iter().any(|d| d.is_valid()) {
            return Vec::new();
        }
        identity
            .iter()
            .filter_map(|d| d.validation.as_ref())
            .flat_map(|v| v["problems"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

fn permanent(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Permanent(anyhow::anyhow!("{e}"))
}

/// Request `id`, read and locked for the rest of the transaction by one statement.
pub async fn locked(conn: &mut PgConnection, id: Uuid) -> Result<RequestRecord, HandlerError> {
    requests::lock(conn, id)
        .await?
        .ok_or_else(|| permanent(format!("request {id} does not exist")))
}

/// Request `record` (read and locked by the caller: [`locked`]) with its documents and
/// payment, asked of the policy engine.
pub async fn assess(
    conn: &mut PgConnection,
    record: RequestRecord,
    packs: &PolicyPacks,
    calendars: &Calendars,
) -> Result<Assessment, HandlerError> {
    let id = record.id;
    let documents = documents::for_request(conn, id).await?;
    let payment = match record.payment_id {
        // Refunds on one payment are decided one at a time (see `payments::lock`).
        Some(p) => payments::lock(conn, p).await?,
        None => None,
    };
    // Without a payment or a reason (an email that said neither) the engine has nothing to
    // decide on: the validate stage asks the customer for what is missing.
    let Some(payment) = payment.filter(|_| record.reason.is_some()) else {
        return Ok(Assessment {
            record,
            payment: None,
            documents,
            decision: None,
            input: None,
            committed_minor: 0,
        });
    };
    let committed_minor = payments::committed_refunds(conn, payment.id, Some(id)).await?;
    let mut a = Assessment {
        record,
        payment: Some(payment),
        documents,
        decision: None,
        input: None,
        committed_minor,
    };
    a.evaluate(packs, calendars)?;
    Ok(a)
}

impl Assessment {
    /// Asks the policy engine about the request as read (again, after a change to the record
    /// in memory such as its complete date): sets `input` and `decision`.
    pub fn evaluate(
        &mut self,
        packs: &PolicyPacks,
        calendars: &Calendars,
    ) -> Result<(), HandlerError> {
        let Some(payment) = &self.payment else {
            return Ok(());
        };
        let (input, decision) = evaluate(
            &self.record,
            payment,
            &self.documents,
            self.committed_minor,
            packs,
            calendars,
        )?;
        self.input = Some(input);
        self.decision = Some(decision);
        Ok(())
    }
}

fn evaluate(
    record: &RequestRecord,
    payment: &Payment,
    documents: &[DocumentSummary],
    committed: i64,
    packs: &PolicyPacks,
    calendars: &Calendars,
) -> Result<(QuoteInput, Decision), HandlerError> {
    let kinds: Vec<DocumentKind> = documents
        .iter()
        .filter(|d| d.is_valid())
        .filter_map(|d| match d.kind.as_str() {
            "identity_document" => Some(DocumentKind::IdentityDocument),
            "refund_application" => Some(DocumentKind::RefundApplication),
            "payment_receipt" => Some(DocumentKind::PaymentReceipt),
            _ => None,
        })
        .collect();
    let identity_verified = kinds.contains(&DocumentKind::IdentityDocument);
    let mut input = requests::quote_input(
        record,
        payment,
        Money::from_minor(committed, payment.currency),
        kinds,
    )
    .map_err(permanent)?;
    if identity_verified {
        // A valid identity document is what verifies the customer's identity.
        input.facts.identity_document_verified = Some(true);
    }
    let pack = packs
        .get(&payment.policy)
        .ok_or_else(|| permanent(format!("policy pack {} is not loaded", payment.policy)))?;
    let mut decision =
        shared::policy::decide(pack, calendars.get(pack.country()), &input).map_err(permanent)?;
    if decision.missing.iter().any(|m| m == "identity_document") {
        // One item for the customer: sending a valid document verifies them.
        decision
            .missing
            .retain(|m| m != "identity_document_verified");
    }
    Ok((input, decision))
}
