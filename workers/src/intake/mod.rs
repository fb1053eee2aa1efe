//! The email intake pipeline: one raw RFC 5322 message in, at most one refund request out.
//! The raw-MIME API endpoint and the IMAP reader both call [`Intake::take`].
//!
//! Every message gets one `inbound_emails` row, keyed by its Message-ID (or the SHA-256 of its
//! bytes), inserted first in the same transaction that opens or updates the request: a second
//! copy (a retried webhook, a crash before the IMAP move, a second reader) waits on that row
//! and then finds it, so an email never opens two requests.
//!
//! - Auto-replies, bounces and list mail are recorded as `ignored`: no request, no answer.
//! - A reply (In-Reply-To/References naming one of our messages, or the request tag in the
//!   subject) from the request's contact is attached to its request: attachments become
//!   documents, a payment reference or reason it gives fills what was missing, and the request
//!   is validated again.
//! - Anything else is an application: matched to a registered payment when exactly one fits,
//!   opened as a request on the email channel, and answered in the email's language (what is
//!   missing, or that it was received), at most `replies_per_day` answers per sender.
//! - Who the sender is decides first (`Verdict`): an email acts on a payment only when its
//!   sender is the payment's customer, and on a request only when its sender is the request's
//!   contact. Anything else is kept `unverified` with what it claimed, changes nothing, and
//!   gets an answer that names nothing it claimed; the payment's own customer address is asked
//!   to confirm, and only their reply to that email opens the request (see `claims`).
//! - A message that cannot be parsed is kept (bytes with card numbers masked) as `failed`.

mod claims;
pub mod imap;

pub use claims::{AcceptRefused, AcceptedClaim, SENDER_CHECK, UNVERIFIED_REPLY};

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared::cards::mask_card_numbers;
use shared::documents::{self, DocumentKeys, NewDocument};
use shared::inbound_emails;
use shared::intake::{
    self, CandidatePayment, InboundEmail, MissingItem, PaymentMatch, ReplyRateLimit, RequestRef,
    RequestTag,
};
use shared::lifecycle::RequestState;
use shared::merchants::Merchants;
use shared::messages::{Stage, WorkMessage};
use shared::money::{Currency, Money};
use shared::outbox::{self, OutboxMessage};
use shared::payments::{self, Payment};
use shared::requests::{self, Channel, NewRequest};
use shared::transition::{self, Transition};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

/// The audit actor of everything the intake does.
const ACTOR: &str = "intake:email";
/// Longest part of an email body kept as the request's `reason_text` fact.
const REASON_TEXT_CHARS: usize = 4000;
/// Most candidate payments looked at for one email.
const MAX_CANDIDATES: i64 = 200;

/// Where a message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Imap,
    Api,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Imap => "imap",
            Source::Api => "api",
        }
    }
}

/// The most attachments of one email read for a machine-readable zone (each read is up to
/// a second of CPU).
pub const MAX_SCANS_PER_EMAIL: usize = 3;

/// What became of one message.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct IntakeOutcome {
    /// The `inbound_emails` row of the message.
    pub inbound_id: Uuid,
    /// The Message-ID, or `sha256:<hex>` of the bytes when it has none.
    pub message_id: String,
    /// `created` (a new request), `attached` (a reply added to its request), `duplicate` (this
    /// message was taken in before; nothing new happened), `ignored` (auto-reply, bounce or
    /// list mail: nothing opened, nothing answered), `unverified` (it names a payment or request
    /// that is not its sender's: nothing changed; kept until the payer confirms or support
    /// accepts it), `failed` (not readable; kept for a person) or `refused` (over the limits:
    /// too many or too large attachments; only the reason is kept).
    pub outcome: String,
    /// `application`, `reply`, `auto_reply`, `bounce` or `mailing_list`.
    pub kind: Option<String>,
    pub request_id: Option<Uuid>,
    pub request_state: Option<String>,
    /// What the customer was asked for (`payment_reference`, `payment_choice`, `reason`,
    /// `customer_name`).
    pub missing: Vec<String>,
    /// Whether an automatic answer was queued for the sender.
    pub reply_queued: bool,
    /// Why the message could not be taken in (outcome `failed`).
    pub error: Option<String>,
}

impl IntakeOutcome {
    /// What became of message `message_id` (row `inbound_id`): `outcome`, of `kind`,
    /// nothing opened or joined, nothing asked or answered yet.
    fn new(inbound_id: Uuid, message_id: &str, outcome: &str, kind: Option<&str>) -> Self {
        IntakeOutcome {
            inbound_id,
            message_id: message_id.to_owned(),
            outcome: outcome.to_owned(),
            kind: kind.map(str::to_owned),
            request_id: None,
            request_state: None,
            missing: Vec::new(),
            reply_queued: false,
            error: None,
        }
    }

    /// A message not taken in (`refused` or `failed`), and why.
    fn not_taken(inbound_id: Uuid, message_id: &str, outcome: &str, error: &str) -> Self {
        IntakeOutcome {
            error: Some(error.to_owned()),
            ..IntakeOutcome::new(inbound_id, message_id, outcome, None)
        }
    }
}

/// The intake: the database, the merchants and the document keys.
#[derive(Clone)]
pub struct Intake {
    pub pool: PgPool,
    pub merchants: Arc<Merchants>,
    pub document_keys: DocumentKeys,
    /// Merchant of emails that name no registered payment (default: the first merchant).
    pub default_merchant: Option<String>,
    /// Automatic answers per sender per 24 hours.
    pub replies_per_day: u32,
    /// What one email may carry (attachments and their sizes).
    pub limits: intake::IntakeLimits,
    /// The policy packs: which facts an emailed application must state (`email_must_state`).
    pub packs: Arc<shared::policy::PolicyPacks>,
}

/// How raw emails are taken in (`REFUNDD_INTAKE_*`).
#[derive(Clone, Debug)]
pub struct IntakeSettings {
    /// Merchant of emails that name no registered payment (default: the first merchant).
    pub default_merchant: Option<String>,
    /// Automatic answers per sender per 24 hours.
    pub replies_per_day: u32,
    /// What one email may carry.
    pub limits: intake::IntakeLimits,
}

impl IntakeSettings {
    pub fn from_settings(s: &shared::config::Settings) -> Self {
        Self {
            default_merchant: s.intake_merchant.clone(),
            replies_per_day: s.intake_replies_per_day,
            limits: intake::IntakeLimits {
                max_attachments: s.intake_max_attachments,
                ..Default::default()
            },
        }
    }
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self::from_settings(&shared::config::Settings::default())
    }
}

impl Intake {
    /// The intake over a database, the merchants, their packs and the document keys.
    pub fn new(
        pool: PgPool,
        merchants: Arc<Merchants>,
        packs: Arc<shared::policy::PolicyPacks>,
        document_keys: DocumentKeys,
        settings: IntakeSettings,
    ) -> Self {
        Self {
            pool,
            merchants,
            document_keys,
            default_merchant: settings.default_merchant,
            replies_per_day: settings.replies_per_day,
            limits: settings.limits,
            packs,
        }
    }
}

impl Intake {
    /// Takes one raw message in. Errors are database errors only (the caller retries the
    /// message later: nothing was committed); everything about the message itself is an
    /// outcome.
    pub async fn take(&self, raw: &[u8], source: Source) -> anyhow::Result<IntakeOutcome> {
        match intake::parse_with(raw, &self.limits) {
            Ok(email) if email.from_address.is_none() && email.kind.from_a_person() => {
                // Nobody to write to and nobody to refund: a person has a look.
                let error = "the message has no sender address (From)";
                self.keep_failed(raw, &email.message_id, error, source)
                    .await
            }
            Ok(email) => self.take_email(raw, &email, source).await,
            Err(e) if e.is_over_a_limit() => {
                let message_id = format!("sha256:{}", hex::encode(Sha256::digest(raw)));
                self.keep_refused(&message_id, &e.to_string(), source).await
            }
            Err(e) => {
                let message_id = format!("sha256:{}", hex::encode(Sha256::digest(raw)));
                self.keep_failed(raw, &message_id, &e.to_string(), source)
                    .await
            }
        }
    }

    /// Records a message over the intake's limits: the reason only. Nothing of the message
    /// is stored (the mailbox keeps it in the failed folder), no request, no answer.
    async fn keep_refused(
        &self,
        message_id: &str,
        error: &str,
        source: Source,
    ) -> anyhow::Result<IntakeOutcome> {
        let id = Uuid::now_v7();
        let mut conn = self.pool.acquire().await?;
        let inserted =
            inbound_emails::insert_refused(&mut conn, id, message_id, source.as_str(), error)
                .await?;
        drop(conn);
        if inserted.is_none() {
            return self.duplicate(message_id).await;
        }
        tracing::warn!(inbound_id = %id, %message_id, error = %error, "email over the intake's limits; refused whole");
        Ok(IntakeOutcome::not_taken(id, message_id, "refused", error))
    }

    /// Keeps the bytes of a message that could not be read: card numbers masked, sealed
    /// with the document keys (see `shared::inbound_emails`).
    async fn keep_failed(
        &self,
        raw: &[u8],
        message_id: &str,
        error: &str,
        source: Source,
    ) -> anyhow::Result<IntakeOutcome> {
        let mut tx = self.pool.begin().await?;
        let id = Uuid::now_v7();
        let sealed = shared::inbound_emails::seal(&self.document_keys, id, &mask_raw(raw));
        let inserted =
            inbound_emails::insert_failed(&mut tx, id, message_id, source.as_str(), error, sealed)
                .await?;
        if inserted.is_none() {
            drop(tx);
            return self.duplicate(message_id).await;
        }
        tx.commit().await?;
        tracing::warn!(inbound_id = %id, %message_id, error = %error, "email could not be read; kept for a person");
        Ok(IntakeOutcome::not_taken(id, message_id, "failed", error))
    }

    async fn take_email(
        &self,
        raw: &[u8],
        email: &InboundEmail,
        source: Source,
    ) -> anyhow::Result<IntakeOutcome> {
        let mut tx = self.pool.begin().await?;
        let inbound_id = Uuid::now_v7();
        // The row first: a concurrent copy of the same message waits here until this
        // transaction ends, then finds the row and answers "duplicate".
        let inserted = inbound_emails::insert_read(
            &mut tx,
            &inbound_emails::NewInbound {
                id: inbound_id,
                message_id: &email.message_id,
                source: source.as_str(),
                sender: email.from_address.as_deref(),
                subject: &email.subject,
                kind: email.kind.as_str(),
                language: email.language.code(),
                body_text: &email.body_text,
            },
        )
        .await?;
        if inserted.is_none() {
            drop(tx);
            return self.duplicate(&email.message_id).await;
        }
        let mut outcome = IntakeOutcome::new(
            inbound_id,
            &email.message_id,
            "ignored",
            Some(email.kind.as_str()),
        );
        if !email.kind.from_a_person() {
            tx.commit().await?;
            tracing::info!(%inbound_id, kind = email.kind.as_str(), "machine mail ignored");
            return Ok(outcome);
        }

        match verdict(&mut tx, email).await? {
            Verdict::Attach {
                request_id,
                payment,
            } => {
                self.attach(&mut tx, email, request_id, payment, ACTOR, &mut outcome)
                    .await?;
            }
            Verdict::Open { matched, payment } => {
                let opening = Opening {
                    matched,
                    payment,
                    actor: ACTOR,
                    answer: Answer::IntakeReply,
                };
                self.open(&mut tx, email, opening, &mut outcome).await?;
            }
            Verdict::Confirm(confirmation) => {
                self.confirm(&mut tx, email, confirmation, &mut outcome)
                    .await?;
            }
            Verdict::Unverified(claim) => {
                self.keep_unverified(&mut tx, raw, email, claim, &mut outcome)
                    .await?;
            }
        }
        inbound_emails::set_outcome(&mut tx, inbound_id, &outcome.outcome, outcome.request_id)
            .await?;
        tx.commit().await?;
        tracing::info!(
            %inbound_id,
            request_id = ?outcome.request_id,
            outcome = outcome.outcome,
            missing = ?outcome.missing,
            reply_queued = outcome.reply_queued,
            "email taken in"
        );
        Ok(outcome)
    }

    /// The answer for a message taken in before.
    async fn duplicate(&self, message_id: &str) -> anyhow::Result<IntakeOutcome> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query!(
            r#"SELECT i.id, i.kind, i.request_id, r.state AS "state?", i.error
                 FROM inbound_emails i LEFT JOIN refund_requests r ON r.id = i.request_id
                WHERE i.message_id = $1"#,
            message_id
        )
        .fetch_one(&mut *conn)
        .await?;
        tracing::info!(inbound_id = %row.id, message_id, "email taken in before; nothing new");
        Ok(IntakeOutcome {
            request_id: row.request_id,
            request_state: row.state,
            error: row.error,
            ..IntakeOutcome::new(row.id, message_id, "duplicate", row.kind.as_deref())
        })
    }

    /// A new application from the email.
    async fn open(
        &self,
        tx: &mut PgConnection,
        email: &InboundEmail,
        opening: Opening<'_>,
        outcome: &mut IntakeOutcome,
    ) -> anyhow::Result<()> {
        let Opening {
            matched,
            payment,
            actor,
            answer,
        } = opening;
        let mut missing = intake::missing_for_application(email, &matched);
        if payment.is_some() {
            // The payer's name comes with the payment.
            missing.retain(|m| *m != MissingItem::CustomerName);
        }
        let merchant = payment
            .as_ref()
            .map(|p| p.merchant.clone())
            .or_else(|| self.default_merchant());

        let id = Uuid::now_v7();
        let mut facts = serde_json::Map::new();
        if let Some(name) = &email.extracted.customer_name {
            facts.insert(requests::CUSTOMER_NAME.into(), json!(name));
        }
        let text: String = email.body_text.chars().take(REASON_TEXT_CHARS).collect();
        if !text.trim().is_empty() {
            facts.insert("reason_text".into(), json!(text));
        }
        // What the customer states in so many words becomes a fact of the request; the reading
        // (with its evidence) is kept with it, so the decide stage knows what was only guessed.
        let reading = &email.extracted.reading;
        let stated = &reading.facts;
        // "I have not started" (0 %) is not a progress the policy's tiers should read: the
        // packs read a course that has not started by the absence of its start, which an email
        // must state (`email_must_state`), so a person decides on it.
        if let Some(p) = stated.progress_percent.filter(|p| *p > 0) {
            facts.insert("progress_percent".into(), json!(p));
        }
        if stated.card_changed == Some(true) {
            facts.insert("card_changed".into(), json!(true));
        }
        if stated.paid_by_credit == Some(true) {
            facts.insert("paid_by_credit".into(), json!(true));
        }
        if let Some(accepted) = stated.order_accepted {
            facts.insert("order_accepted".into(), json!(accepted));
        }
        if let Some(d) = stated.access_started_at {
            facts.insert("access_started_at".into(), json!(d.to_string()));
        }
        if let Some(d) = stated.goods_received_at {
            facts.insert("goods_received_at".into(), json!(d.to_string()));
        }
        let new = NewRequest {
            id,
            payment_id: payment.as_ref().map(|p| p.id),
            merchant: merchant.clone(),
            channel: Channel::Email,
            reason: email.extracted.reading.reason.map(|r| r.name().to_owned()),
            facts: Value::Object(facts.clone()),
            policy_id: payment.as_ref().map(|p| p.policy.clone()),
            currency: payment.as_ref().map(|p| p.currency.code().to_owned()),
            received_at: Utc::now(),
            contact_email: email.from_address.as_deref().map(intake::normalise_address),
            language: Some(email.language.code().to_owned()),
            idempotency_key: None,
            request_hash: None,
        };
        let mut messages = vec![OutboxMessage::from(
            WorkMessage::new(Stage::Validate, id).with_version(1),
        )];
        let understood = (!reading.certain).then(|| {
            let must_state = payment
                .as_ref()
                .and_then(|p| self.packs.get(&p.policy))
                .map(|pack| pack.email_must_state().clone())
                .unwrap_or_default();
            let needed: Vec<shared::policy::FactName> = must_state
                .into_iter()
                .filter(|f| !(facts.contains_key(f.name()) || stated.states_absence_of(*f)))
                .collect();
            let phrase = reading
                .reason
                .and_then(|r| {
                    let supports = format!("reason:{}", r.name());
                    reading.evidence.iter().find(|e| e.supports == supports)
                })
                .map(|e| e.phrase.as_str());
            intake::understood(email.language, reading.reason, phrase, &needed)
        });
        let reply = match answer {
            Answer::IntakeReply => {
                self.answer(
                    tx,
                    email,
                    Ask {
                        missing: &missing,
                        understood: understood.as_deref(),
                    },
                    merchant.as_deref(),
                    id,
                    outcome.inbound_id,
                )
                .await?
            }
            // The `received` email: written by `requests::create`, sent when due.
            Answer::ReceivedEmail => None,
        };
        if let Some(notify) = &reply {
            messages.push(notify.clone().into());
        }
        let received_email = matches!(answer, Answer::ReceivedEmail);
        requests::create(tx, &new, actor, &messages, received_email).await?;
        requests::set_email_reading(tx, id, &serde_json::to_value(reading)?).await?;
        if let Some(notify) = &reply {
            inbound_emails::set_answer_message(tx, outcome.inbound_id, notify.message_id).await?;
        }
        self.store_attachments(tx, email, id).await?;
        outcome.outcome = "created".into();
        outcome.request_id = Some(id);
        outcome.request_state = Some(RequestState::Received.as_str().into());
        outcome.missing = missing.iter().map(|m| m.as_str().to_owned()).collect();
        outcome.reply_queued = reply.is_some();
        Ok(())
    }

    /// A reply: its attachments and what it says join the request, which is validated again.
    /// `payment` is the payment the reply names, already known to be its sender's.
    async fn attach(
        &self,
        tx: &mut PgConnection,
        email: &InboundEmail,
        id: Uuid,
        payment: Option<Payment>,
        actor: &str,
        outcome: &mut IntakeOutcome,
    ) -> anyhow::Result<()> {
        let (state, version) = transition::lock_state(tx, id).await?;
        outcome.outcome = "attached".into();
        outcome.request_id = Some(id);
        outcome.request_state = Some(state.as_str().into());
        if !matches!(
            state,
            RequestState::Received | RequestState::Validating | RequestState::NeedsInfo
        ) {
            // Decided or closed: the message is kept with the request for a person to read;
            // it can no longer change the decision.
            return Ok(());
        }
        let record = requests::find(tx, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("request {id} vanished under its lock"))?;
        let mut added = serde_json::Map::new();
        if record.payment_id.is_none()
            && let Some(p) = &payment
        {
            requests::set_payment(tx, id, p).await?;
            added.insert("payment_id".into(), json!(p.id));
        }
        if record.reason.is_none()
            && let Some(reason) = email.extracted.reading.reason
        {
            requests::set_reason(tx, id, reason).await?;
            added.insert("reason".into(), json!(reason.name()));
        }
        if record.facts.get(requests::CUSTOMER_NAME).is_none()
            && let Some(name) = &email.extracted.customer_name
        {
            requests::add_facts(tx, id, &json!({ requests::CUSTOMER_NAME: name })).await?;
            added.insert(requests::CUSTOMER_NAME.into(), json!(name));
        }
        // A reply to our question is read for the facts it asked (see `read_answers`); what
        // was understood joins the facts, each with the words and the email it came from.
        let mut understood = Vec::new();
        if state == RequestState::NeedsInfo {
            let asked = asked_facts(record.stored_decision().as_ref());
            let answers =
                intake::read_answers(&email.subject, &email.body_text, &asked, email.written_on);
            if !answers.is_empty() {
                let facts: serde_json::Map<String, Value> = answers
                    .iter()
                    .map(|a| (a.fact.name().to_owned(), a.value.clone()))
                    .collect();
                requests::add_facts(tx, id, &Value::Object(facts)).await?;
                for a in &answers {
                    added.insert(a.fact.name().into(), a.value.clone());
                    understood.push(json!({
                        "fact": a.fact.name(),
                        "value": a.value,
                        "words": a.phrase,
                        "source": "email",
                        "message_id": email.message_id,
                    }));
                }
            }
        }
        let documents = self.store_attachments(tx, email, id).await?;
        let validate = WorkMessage::new(Stage::Validate, id);
        if state == RequestState::NeedsInfo {
            let reason = if actor == ACTOR {
                "the customer replied by email"
            } else {
                "an email from another address, accepted by support"
            };
            transition::apply(
                tx,
                &Transition {
                    request_id: id,
                    expected_version: version,
                    from: state,
                    to: RequestState::Validating,
                    actor,
                    reason: Some(reason),
                    details: json!({
                        "inbound_email_id": outcome.inbound_id,
                        "documents": documents,
                        "added": added,
                        "understood": understood,
                    }),
                },
                &[validate.with_version(version + 1).into()],
            )
            .await?;
            outcome.request_state = Some(RequestState::Validating.as_str().into());
        } else {
            outbox::enqueue(tx, &[validate.with_version(version).into()]).await?;
        }
        Ok(())
    }

    /// Stores every attachment as an encrypted document of the request; returns their ids.
    /// Pictures that may be identity documents are marked for the validate stage to read
    /// (`documents::SCAN_PENDING`): those named as one, else any unnamed picture, at most
    /// [`MAX_SCANS_PER_EMAIL`].
    async fn store_attachments(
        &self,
        tx: &mut PgConnection,
        email: &InboundEmail,
        request_id: Uuid,
    ) -> anyhow::Result<Vec<Uuid>> {
        let mut ids = Vec::new();
        let mut to_read = MAX_SCANS_PER_EMAIL;
        let one_is_named_identity = email.attachments.iter().any(|a| {
            intake::attachment_kind(a.filename.as_deref())
                == Some(intake::AttachmentKind::IdentityDocument)
        });
        for a in &email.attachments {
            // An application or a receipt named as such counts as that document. Any other
            // picture may be an identity document: the validate stage reads its
            // machine-readable zone (those named as one first, a few per email).
            let named = intake::attachment_kind(a.filename.as_deref());
            let kind = named
                .filter(|k| k.file_is_enough())
                .map_or("email_attachment", |k| k.as_str());
            let mut validation = match shared::identity::file::inspect(&a.bytes) {
                Ok(_) => json!({"valid": true, "problems": []}),
                Err(problems) => json!({"valid": false, "problems": problems}),
            };
            let may_be_identity = kind == "email_attachment"
                && validation["valid"] == true
                && (named == Some(intake::AttachmentKind::IdentityDocument)
                    || (named.is_none() && !one_is_named_identity));
            if may_be_identity && to_read > 0 {
                to_read -= 1;
                validation["scan"] = json!(documents::SCAN_PENDING);
            }
            let id = documents::store(
                tx,
                &self.document_keys,
                &NewDocument {
                    request_id,
                    kind,
                    content_type: Some(&a.content_type),
                    bytes: &a.bytes,
                    fields: json!({
                        "filename": a.filename,
                        "source": "email",
                        "suggested_kind": named.map(intake::AttachmentKind::as_str),
                    }),
                    validation,
                },
            )
            .await?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// Writes the automatic answer into the inbound row and returns the notify message that
    /// sends it, unless the sender must not be answered or was answered enough today.
    async fn answer(
        &self,
        tx: &mut PgConnection,
        email: &InboundEmail,
        ask: Ask<'_>,
        merchant: Option<&str>,
        request_id: Uuid,
        inbound_id: Uuid,
    ) -> anyhow::Result<Option<WorkMessage>> {
        let Ask {
            missing,
            understood,
        } = ask;
        let merchant_name = merchant
            .and_then(|m| self.merchants.get(m))
            .map(|m| m.name.clone())
            .unwrap_or_else(|| merchant.unwrap_or("").to_owned());
        let tag = RequestTag::for_request(request_id);
        let (subject, text) = intake::auto_reply(email, missing, understood, &merchant_name, &tag);
        let asked: Vec<&str> = missing.iter().map(|m| m.as_str()).collect();
        let notify = WorkMessage::new(Stage::Notify, request_id).with_event("intake_reply");
        self.queue_answer(tx, email, inbound_id, notify, (&subject, &text), &asked)
            .await
    }

    /// Keeps an answer (subject and text) in the inbound row for the notify stage, and
    /// returns `notify`, the message that sends it; `None` when the sender must not be
    /// answered or was answered `replies_per_day` times in the last 24 hours.
    async fn queue_answer(
        &self,
        tx: &mut PgConnection,
        email: &InboundEmail,
        inbound_id: Uuid,
        notify: WorkMessage,
        (subject, text): (&str, &str),
        asked: &[&str],
    ) -> anyhow::Result<Option<WorkMessage>> {
        if !intake::answerable(email) {
            return Ok(None);
        }
        let Some(sender) = email.from_address.as_deref() else {
            return Ok(None);
        };
        // One sender's answers are counted one transaction at a time.
        sqlx::query!(
            "SELECT pg_advisory_xact_lock(hashtext('intake-reply:' || $1))",
            sender
        )
        .execute(&mut *tx)
        .await?;
        let now = Utc::now();
        let previous: Vec<DateTime<Utc>> = sqlx::query_scalar!(
            r#"SELECT replied_at AS "replied_at!" FROM inbound_emails
              WHERE sender = $1 AND replied_at > now() - interval '24 hours'"#,
            sender
        )
        .fetch_all(&mut *tx)
        .await?;
        let limit = ReplyRateLimit::new(self.replies_per_day as usize, chrono::Duration::hours(24));
        if !limit.allows(now, &previous) {
            tracing::info!(%inbound_id, "sender answered enough today; no automatic answer");
            return Ok(None);
        }
        inbound_emails::record_answer(tx, inbound_id, subject, text, now, asked).await?;
        Ok(Some(notify))
    }

    fn default_merchant(&self) -> Option<String> {
        self.default_merchant
            .clone()
            .or_else(|| self.merchants.all().next().map(|m| m.id.clone()))
    }
}

/// What an email from a person may do, decided from who sent it before anything changes.
enum Verdict {
    /// A reply from the request's contact: joins the request, with the payment it names when
    /// the request had none and the payment is the sender's.
    Attach {
        request_id: Uuid,
        payment: Option<Payment>,
    },
    /// An application about the sender's own payment, or naming no registered payment.
    Open {
        matched: PaymentMatch,
        payment: Option<Payment>,
    },
    /// The payer's reply to the email asking them to confirm a claim on their payment.
    Confirm(claims::PendingConfirmation),
    /// Names a payment or a request that is not the sender's.
    Unverified(claims::Claim),
}

/// How a request is opened: on which payment, by whom, and how its sender hears of it.
struct Opening<'a> {
    matched: PaymentMatch,
    payment: Option<Payment>,
    /// The audit actor of the request's first event.
    actor: &'a str,
    answer: Answer,
}

/// What the intake's answer asks for: the missing items, and the restated reading when it
/// was not certain.
struct Ask<'a> {
    missing: &'a [MissingItem],
    understood: Option<&'a str>,
}

/// How the person who opened a request hears about it.
enum Answer {
    /// The intake's automatic answer to their email (what is missing, or that it arrived).
    IntakeReply,
    /// The notify stage's `received` email (a request opened by support's accept).
    ReceivedEmail,
}

/// Decides what `email` may do. Its sender acts on a payment only as the payment's customer
/// and on a request only as its contact (the payment's customer when the request names no
/// contact); everything else is a claim.
async fn verdict(tx: &mut PgConnection, email: &InboundEmail) -> anyhow::Result<Verdict> {
    let sender = email.from_address.as_deref();
    if let Some(reference) = intake::referenced_request(email) {
        match find_referenced(tx, &reference, email).await? {
            Some(Referenced::Request(request)) => {
                if !intake::sender_is(request.owner(), sender) {
                    return Ok(Verdict::Unverified(claims::Claim::Request {
                        id: request.id,
                    }));
                }
                let payment = if request.payment_id.is_none() {
                    payment_named(tx, email).await?
                } else {
                    None
                };
                return Ok(match payment {
                    Some(p) if !intake::sender_is(p.customer_email.as_deref(), sender) => {
                        Verdict::Unverified(claims::Claim::Payment(Box::new(p)))
                    }
                    payment => Verdict::Attach {
                        request_id: request.id,
                        payment,
                    },
                });
            }
            Some(Referenced::Confirmation(id)) => {
                if let Some(verdict) = claims::answer_to_confirmation(tx, id, email).await? {
                    return Ok(verdict);
                }
            }
            None => {}
        }
    }
    let candidates = candidates(tx, email).await?;
    let matched = intake::match_payment(email, &candidates);
    let payment = match matched.payment() {
        Some(id) => payments::find(tx, id).await?,
        None => None,
    };
    Ok(match payment {
        Some(p) if !intake::sender_is(p.customer_email.as_deref(), sender) => {
            Verdict::Unverified(claims::Claim::Payment(Box::new(p)))
        }
        payment => Verdict::Open { matched, payment },
    })
}

/// The one registered payment an email names, if exactly one fits.
async fn payment_named(
    tx: &mut PgConnection,
    email: &InboundEmail,
) -> sqlx::Result<Option<Payment>> {
    let candidates = candidates(tx, email).await?;
    match intake::match_payment(email, &candidates).payment() {
        Some(id) => payments::find(tx, id).await,
        None => Ok(None),
    }
}

/// The facts the request's last question asked for (its `needs_info` decision's missing
/// items that are facts).
fn asked_facts(decision: Option<&shared::policy::StoredDecision>) -> Vec<shared::policy::FactName> {
    decision
        .filter(|d| d.decision == shared::policy::DecisionKind::NeedsInfo)
        .map(|d| d.missing.iter().filter_map(|m| m.parse().ok()).collect())
        .unwrap_or_default()
}

/// What a reply's threading headers or tag name.
enum Referenced {
    Request(ReferencedRequest),
    /// One of our emails asking a payer to confirm a claim (`sender_confirmations.id`).
    Confirmation(Uuid),
}

struct ReferencedRequest {
    id: Uuid,
    contact_email: Option<String>,
    customer_email: Option<String>,
    payment_id: Option<Uuid>,
}

impl ReferencedRequest {
    /// The address that speaks for the request: its contact, else its payment's customer.
    fn owner(&self) -> Option<&str> {
        self.contact_email
            .as_deref()
            .or(self.customer_email.as_deref())
    }
}

/// The request or confirmation a reply names, when it exists. A tag is 8 hex digits of the
/// id, so when it fits several requests the one whose contact is the sender is chosen, or none.
async fn find_referenced(
    conn: &mut PgConnection,
    reference: &RequestRef,
    email: &InboundEmail,
) -> sqlx::Result<Option<Referenced>> {
    match reference {
        RequestRef::Id(id) => {
            let request = sqlx::query_as!(
                ReferencedRequest,
                r#"SELECT r.id, r.contact_email, p.customer_email AS "customer_email?", r.payment_id
                     FROM refund_requests r LEFT JOIN payments p ON p.id = r.payment_id
                    WHERE r.id = $1"#,
                id
            )
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(request) = request {
                return Ok(Some(Referenced::Request(request)));
            }
            let confirmation: Option<Uuid> =
                sqlx::query_scalar!("SELECT id FROM sender_confirmations WHERE id = $1", id)
                    .fetch_optional(&mut *conn)
                    .await?;
            Ok(confirmation.map(Referenced::Confirmation))
        }
        RequestRef::Tag(tag) => {
            let mut rows = sqlx::query_as!(
                ReferencedRequest,
                r#"SELECT r.id, r.contact_email, p.customer_email AS "customer_email?", r.payment_id
                     FROM refund_requests r LEFT JOIN payments p ON p.id = r.payment_id
                    WHERE right(r.id::text, 8) = $1 ORDER BY r.id DESC LIMIT 50"#,
                tag.uuid_suffix()
            )
            .fetch_all(conn)
            .await?;
            let sender = email.from_address.as_deref();
            Ok(if rows.len() == 1 {
                rows.pop().map(Referenced::Request)
            } else {
                rows.into_iter()
                    .find(|r| intake::sender_is(r.owner(), sender))
                    .map(Referenced::Request)
            })
        }
    }
}

/// id, transaction id, customer email, amount, currency, paid at.
/// Registered payments the email could be about: those of its sender (or the customer it
/// names), and those whose transaction id it mentions.
async fn candidates(
    conn: &mut PgConnection,
    email: &InboundEmail,
) -> sqlx::Result<Vec<CandidatePayment>> {
    let addresses: Vec<String> = email
        .from_address
        .iter()
        .chain(email.extracted.customer_email.iter())
        .map(|a| a.trim().to_lowercase())
        .collect();
    let reference = email
        .extracted
        .payment_reference
        .as_deref()
        .map(|r| r.trim().trim_start_matches(['#', '№']).to_lowercase());
    let text = format!("{}\n{}", email.subject, email.body_text).to_lowercase();
    let rows = sqlx::query!(
r#"SELECT id, gateway_txn_id, customer_email, amount_minor, currency::text AS "currency!", paid_at
           FROM payments
          WHERE lower(customer_email) = ANY($1)
             OR lower(gateway_txn_id) = $2
             OR (length(gateway_txn_id) >= 6 AND strpos($3, lower(gateway_txn_id)) > 0)
          ORDER BY paid_at DESC
          LIMIT $4"#,
&addresses,
reference,
text,
MAX_CANDIDATES
)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let currency: Currency = row.currency.trim().parse().ok()?;
            Some(CandidatePayment {
                id: row.id,
                gateway_transaction_id: row.gateway_txn_id,
                customer_email: row.customer_email,
                amount: Money::from_minor(row.amount_minor, currency),
                paid_at: row.paid_at,
            })
        })
        .collect())
}

/// The raw bytes with card numbers and personal (national identity) numbers masked, as the
/// parsed text is: each byte read as one character (Latin-1), so bytes of any charset survive
/// and only the numbers change (text in base64 or quoted-printable parts is masked when it is
/// parsed, not here).
pub fn mask_raw(raw: &[u8]) -> Vec<u8> {
    let latin1: String = raw.iter().map(|&b| char::from(b)).collect();
    let (masked, _) = mask_card_numbers(&latin1);
    let (masked, _) = shared::identity::masking::mask_personal_numbers(&masked);
    masked.chars().map(|c| c as u32 as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_bytes_keep_their_charset_and_lose_card_and_personal_numbers() {
        let raw =
            b"Subject: \xcf\xf0\xe8\r\n\r\ncard 4111 1111 1111 1111 IIN 900101300126 \xff end";
        let masked = mask_raw(raw);
        assert!(masked.starts_with(b"Subject: \xcf\xf0\xe8\r\n"));
        assert!(masked.ends_with(b" \xff end"));
        let text = String::from_utf8_lossy(&masked);
        assert!(!text.contains("4111 1111 1111 1111"), "{text}");
        assert!(text.contains("1111"));
        assert!(
            !text.contains("900101300126") && text.contains("IIN 90***26"),
            "{text}"
        );
    }
}
