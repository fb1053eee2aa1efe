//! Claims: emails that name a payment or a request that is not their sender's. Such an email
//! changes nothing. It is kept (`outcome = 'unverified'`, with what it claimed and the
//! merchant, and its bytes sealed with the document keys) and its sender gets an answer that
//! names nothing it claimed. When it claims a registered payment, the payment's own customer
//! address (the one verified channel we have) is asked to confirm; the payer's reply to that
//! email, from that address, opens the request from the claim's content. Support may accept a
//! claim instead (`POST /v1/unverified-emails/{id}/accept`), which takes the email in as if
//! its sender were verified, audited under the person's name.

use chrono::Utc;
use serde_json::json;
use shared::inbound_emails;
use shared::intake::{self, ConfirmationRequest, InboundEmail, MailKind, PaymentMatch};
use shared::lifecycle::RequestState;
use shared::messages::{Stage, WorkMessage};
use shared::outbox;
use shared::payments::{self, Payment};
use shared::transition;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{ACTOR, Answer, Intake, IntakeOutcome, Opening, Verdict, mask_raw};

/// The notify event of the answer to an unverified email's sender.
pub const UNVERIFIED_REPLY: &str = "unverified_reply";
/// The notify event of the email asking a payer to confirm a claim on their payment.
pub const SENDER_CHECK: &str = "sender_check";
/// How long the payer's reply to a confirmation email still opens the claim.
const CONFIRMATION_DAYS: i32 = 14;

/// What an unverified email named.
pub(super) enum Claim {
    /// A registered payment whose customer address is not the sender's.
    Payment(Box<Payment>),
    /// A request (by our Message-ID or its tag) whose contact is not the sender.
    Request { id: Uuid },
}

/// A confirmation email the payer answered while it still waits, locked for this
/// transaction.
pub(super) struct PendingConfirmation {
    id: Uuid,
    /// The unverified email the payer is confirming.
    claim_inbound_id: Uuid,
    payment: Payment,
    /// The confirmation's language: the payment's customer's.
    language: intake::Language,
}

/// What a reply to our confirmation email `id` may do: from the payer (the address asked,
/// still the payment's customer address), open the claim while it waits, or join the request
/// the claim already opened; from anyone else, it is itself a claim on the payment. `None`:
/// from the payer, but the claim expired or support took it: an ordinary email of theirs.
pub(super) async fn answer_to_confirmation(
    tx: &mut PgConnection,
    id: Uuid,
    email: &InboundEmail,
) -> anyhow::Result<Option<Verdict>> {
    let Some(row) = sqlx::query!(
        "SELECT c.inbound_email_id, c.payment_id, c.recipient, c.language, c.status,
                    c.created_at, i.resolved_request_id
               FROM sender_confirmations c JOIN inbound_emails i ON i.id = c.inbound_email_id
              WHERE c.id = $1
                FOR UPDATE OF c",
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let (claim_inbound_id, payment_id, recipient, language, status, created_at, opened) = (
        row.inbound_email_id,
        row.payment_id,
        row.recipient,
        row.language,
        row.status,
        row.created_at,
        row.resolved_request_id,
    );
    let Some(payment) = payments::find(tx, payment_id).await? else {
        return Ok(None);
    };
    let sender = email.from_address.as_deref();
    let from_payer = intake::sender_is(Some(&recipient), sender)
        && intake::sender_is(payment.customer_email.as_deref(), sender);
    if !from_payer {
        return Ok(Some(Verdict::Unverified(Claim::Payment(Box::new(payment)))));
    }
    let fresh = created_at > Utc::now() - chrono::Duration::days(CONFIRMATION_DAYS.into());
    Ok(match (status.as_str(), opened) {
        ("pending", _) if fresh => Some(Verdict::Confirm(PendingConfirmation {
            id,
            claim_inbound_id,
            payment,
            language: intake::Language::exact(&language).unwrap_or(intake::Language::En),
        })),
        // Confirmed before: the request it opened is the payer's own.
        ("confirmed", Some(request_id)) => Some(Verdict::Attach {
            request_id,
            payment: None,
        }),
        _ => None,
    })
}

/// Why support's accept was refused.
#[derive(Debug)]
pub enum AcceptRefused {
    /// No unverified email with that id.
    NotFound,
    /// Confirmed by the payer or accepted before: the request it opened or joined.
    Resolved {
        resolution: String,
        request_id: Option<Uuid>,
    },
    /// Its sealed bytes can no longer be read (cleared, or sealed with a retired key).
    Unreadable,
}

/// An accepted claim: the request it opened or joined.
#[derive(Debug)]
pub struct AcceptedClaim {
    pub request_id: Uuid,
    pub request_state: String,
}

impl Intake {
    /// Keeps an email whose sender is not the owner of what it names: what it claimed, its
    /// bytes sealed, the payer asked to confirm, and an answer naming nothing it claimed.
    pub(super) async fn keep_unverified(
        &self,
        tx: &mut PgConnection,
        raw: &[u8],
        email: &InboundEmail,
        claim: Claim,
        outcome: &mut IntakeOutcome,
    ) -> anyhow::Result<()> {
        let inbound_id = outcome.inbound_id;
        let (payment_id, request_id) = match &claim {
            Claim::Payment(p) => (Some(p.id), None),
            Claim::Request { id } => (None, Some(*id)),
        };
        let sealed = inbound_emails::seal(&self.document_keys, inbound_id, &mask_raw(raw));
        inbound_emails::keep_claim(tx, inbound_id, payment_id, request_id, sealed).await?;
        let asked = match &claim {
            Claim::Payment(p) => self.ask_payer(tx, email, p, inbound_id).await?,
            Claim::Request { .. } => false,
        };
        let kind = if asked {
            intake::UnverifiedAnswer::AskedPayer
        } else {
            intake::UnverifiedAnswer::Checking
        };
        let (subject, text) = intake::unverified_answer(email, kind);
        // The answer is about the inbound email: no request exists for it.
        let notify = WorkMessage::new(Stage::Notify, inbound_id).with_event(UNVERIFIED_REPLY);
        let reply = self
            .queue_answer(tx, email, inbound_id, notify, (&subject, &text), &[])
            .await?;
        if let Some(notify) = &reply {
            inbound_emails::set_answer_message(tx, inbound_id, notify.message_id).await?;
            outbox::enqueue(tx, &[notify.into()]).await?;
        }
        outcome.outcome = "unverified".into();
        outcome.reply_queued = reply.is_some();
        tracing::warn!(
            %inbound_id,
            claimed_payment_id = ?payment_id,
            claimed_request_id = ?request_id,
            payer_asked = asked,
            "email names a payment or request that is not its sender's; kept unverified"
        );
        Ok(())
    }

    /// Asks the payment's customer address to confirm the claim, unless the payment has no
    /// address (returns false) or a confirmation is already waiting (the payer is not asked
    /// twice; returns true).
    async fn ask_payer(
        &self,
        tx: &mut PgConnection,
        email: &InboundEmail,
        p: &Payment,
        inbound_id: Uuid,
    ) -> anyhow::Result<bool> {
        let Some(recipient) = p
            .customer_email
            .as_deref()
            .map(intake::normalise_address)
            .filter(|a| a.contains('@'))
        else {
            return Ok(false);
        };
        // One payment's confirmations are decided one transaction at a time.
        sqlx::query!(
            "SELECT pg_advisory_xact_lock(hashtext('sender-check:' || $1::uuid::text))",
            p.id
        )
        .execute(&mut *tx)
        .await?;
        inbound_emails::expire_confirmations(tx, p.id, CONFIRMATION_DAYS).await?;
        let waiting: bool = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM sender_confirmations
                             WHERE payment_id = $1 AND status = 'pending') AS "waiting!""#,
            p.id
        )
        .fetch_one(&mut *tx)
        .await?;
        if waiting {
            return Ok(true);
        }
        let merchant = self.merchants.get(&p.merchant);
        let language = p
            .customer_language
            .as_deref()
            .or(merchant.map(|m| m.default_language.as_str()))
            .and_then(intake::Language::exact)
            .unwrap_or(intake::Language::En);
        let amount = shared::notify::format_money(p.amount, language);
        let paid_on = shared::notify::format_date(p.paid_at.date_naive(), language);
        let (subject, text) = intake::confirmation_request(&ConfirmationRequest {
            language,
            merchant_name: merchant.map_or(p.merchant.as_str(), |m| m.name.as_str()),
            amount: &amount,
            paid_on: &paid_on,
            sender: email.from_address.as_deref().unwrap_or_default(),
        });
        let notify = WorkMessage::new(Stage::Notify, inbound_id).with_event(SENDER_CHECK);
        inbound_emails::insert_confirmation(
            tx,
            &inbound_emails::NewConfirmation {
                inbound_email_id: inbound_id,
                payment_id: p.id,
                merchant: &p.merchant,
                recipient: &recipient,
                language: language.code(),
                subject: &subject,
                body_text: &text,
                notify_message_id: notify.message_id,
            },
        )
        .await?;
        outbox::enqueue(tx, &[notify.into()]).await?;
        tracing::info!(%inbound_id, payment_id = %p.id, "payer asked to confirm a claim on their payment");
        Ok(true)
    }

    /// The payer's reply to a confirmation email: opens the request the claim asked for, with
    /// the claim's text and documents and the reply's, on the payer's address.
    pub(super) async fn confirm(
        &self,
        tx: &mut PgConnection,
        reply: &InboundEmail,
        confirmation: PendingConfirmation,
        outcome: &mut IntakeOutcome,
    ) -> anyhow::Result<()> {
        let PendingConfirmation {
            id,
            claim_inbound_id,
            payment,
            language,
        } = confirmation;
        let application = match self.unseal(tx, claim_inbound_id).await? {
            Some(claim) => confirmed_application(claim, reply, language),
            None => {
                let mut own = reply.clone();
                own.language = language;
                own
            }
        };
        let opening = Opening {
            matched: PaymentMatch::ByReference(payment.id),
            payment: Some(payment),
            actor: ACTOR,
            answer: Answer::IntakeReply,
        };
        self.open(tx, &application, opening, outcome).await?;
        let request_id = outcome
            .request_id
            .ok_or_else(|| anyhow::anyhow!("a confirmed claim opened no request"))?;
        transition::record_event(
            tx,
            request_id,
            ACTOR,
            Some(RequestState::Received),
            RequestState::Received,
            Some("the payer confirmed an email from another address by replying"),
            &json!({
                "unverified_email_id": claim_inbound_id,
                "confirmation_id": id,
                "reply_email_id": outcome.inbound_id,
            }),
        )
        .await?;
        inbound_emails::resolve_claim(tx, claim_inbound_id, "confirmed", request_id, ACTOR).await?;
        tracing::info!(inbound_id = %outcome.inbound_id, %request_id, "payer confirmed a claim; request opened");
        Ok(())
    }

    /// Support accepts an unverified email: it is taken in as if its sender were the payer
    /// (a request opened on the claimed payment, with the sender as contact) or the request's
    /// contact (joined to the claimed request); the request's history names `actor`. With
    /// `merchant`, an email claiming another merchant's payment or request is `NotFound`.
    pub async fn accept(
        &self,
        inbound_id: Uuid,
        merchant: Option<&str>,
        actor: &str,
    ) -> anyhow::Result<Result<AcceptedClaim, AcceptRefused>> {
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query!(
            "SELECT i.resolution, i.resolved_request_id, i.claimed_payment_id,
                    i.claimed_request_id
               FROM inbound_emails i
               LEFT JOIN payments p ON p.id = i.claimed_payment_id
               LEFT JOIN refund_requests r ON r.id = i.claimed_request_id
              WHERE i.id = $1 AND i.outcome = 'unverified'
                AND ($2::text IS NULL OR coalesce(p.merchant, r.merchant) = $2)
                FOR UPDATE OF i",
            inbound_id,
            merchant
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Err(AcceptRefused::NotFound));
        };
        let (resolution, resolved_request, payment_id, request_id) = (
            row.resolution,
            row.resolved_request_id,
            row.claimed_payment_id,
            row.claimed_request_id,
        );
        if let Some(resolution) = resolution {
            return Ok(Err(AcceptRefused::Resolved {
                resolution,
                request_id: resolved_request,
            }));
        }
        let Some(email) = self.unseal(&mut tx, inbound_id).await? else {
            return Ok(Err(AcceptRefused::Unreadable));
        };
        let mut outcome = IntakeOutcome::new(
            inbound_id,
            &email.message_id,
            "unverified",
            Some(email.kind.as_str()),
        );
        let payment = match payment_id {
            Some(id) => payments::find(&mut tx, id).await?,
            None => None,
        };
        match (payment, request_id) {
            (Some(payment), _) => {
                let opening = Opening {
                    matched: PaymentMatch::ByReference(payment.id),
                    payment: Some(payment),
                    actor,
                    answer: Answer::ReceivedEmail,
                };
                self.open(&mut tx, &email, opening, &mut outcome).await?;
            }
            (None, Some(request_id)) => {
                self.attach(&mut tx, &email, request_id, None, actor, &mut outcome)
                    .await?;
            }
            (None, None) => return Ok(Err(AcceptRefused::NotFound)),
        }
        let request_id = outcome
            .request_id
            .ok_or_else(|| anyhow::anyhow!("an accepted claim reached no request"))?;
        let (state, _) = transition::lock_state(&mut tx, request_id).await?;
        transition::record_event(
            &mut tx,
            request_id,
            actor,
            Some(state),
            state,
            Some("an email from another address, accepted by support"),
            &json!({"unverified_email_id": inbound_id, "sender": email.from_address}),
        )
        .await?;
        inbound_emails::resolve_claim(&mut tx, inbound_id, "accepted", request_id, actor).await?;
        tx.commit().await?;
        tracing::info!(%inbound_id, %request_id, actor, "unverified email accepted by support");
        Ok(Ok(AcceptedClaim {
            request_id,
            request_state: state.as_str().to_owned(),
        }))
    }

    /// The unverified email as it came (card numbers masked), while its sealed bytes are kept.
    async fn unseal(
        &self,
        tx: &mut PgConnection,
        inbound_id: Uuid,
    ) -> anyhow::Result<Option<InboundEmail>> {
        match shared::inbound_emails::read_raw(tx, &self.document_keys, inbound_id).await {
            Ok(None) => Ok(None),
            Ok(Some(raw)) => Ok(intake::parse_with(&raw, &self.limits).ok()),
            Err(shared::documents::DocumentError::Database(e)) => Err(e.into()),
            Err(e) => {
                tracing::warn!(%inbound_id, error = %e, "unverified email cannot be unsealed");
                Ok(None)
            }
        }
    }
}

/// The application the payer confirmed: the claim's text, reason and attachments, with the
/// reply's attachments, the reason the claim lacked and the payer's own name; answered to the
/// payer's reply, in the payer's language.
fn confirmed_application(
    claim: InboundEmail,
    reply: &InboundEmail,
    language: intake::Language,
) -> InboundEmail {
    let mut attachments = claim.attachments;
    attachments.extend(reply.attachments.iter().cloned());
    let mut extracted = claim.extracted;
    if extracted.reading.reason.is_none() {
        // The claim named no reason: the payer's reply is what gives one.
        extracted.reading = reply.extracted.reading.clone();
    }
    // The name the claim was signed with may be its writer's; only the payer's own counts
    // (else the payment's cardholder name stands).
    extracted.customer_name = reply.extracted.customer_name.clone();
    InboundEmail {
        message_id: reply.message_id.clone(),
        from_address: reply.from_address.clone(),
        from_name: reply.from_name.clone(),
        subject: claim.subject,
        body_text: claim.body_text,
        language,
        in_reply_to: reply.in_reply_to.clone(),
        references: reply.references.clone(),
        request_tag: None,
        attachments,
        card_number_masked: reply.card_number_masked,
        kind: MailKind::Application,
        extracted,
        written_on: reply.written_on,
    }
}
