//! The notify stage: one email per step of a request, exactly once as far as the customer
//! can tell. Customer emails (`received`, `needs_info`, `approved`, ...) go to the request's
//! contact address in its language; SLA escalations (`sla_at_risk`, `sla_breached`) go to
//! the merchant's support address; the intake's automatic answer to an email (`intake_reply`,
//! written by the intake into its `inbound_emails` row) goes to the email's sender, in reply
//! to it.
//!
//! Exactly once, step by step:
//! 1. A `notifications` row is claimed and committed (status `pending`) before anything is
//!    sent. A customer's email about a move is written by the move itself, in its
//!    transaction, due at once and with no message (`shared::notifications::queue_for_move`);
//!    any other email (escalations, the intake's answers, letters about inbound emails) is
//!    claimed by this stage, in a transaction of its own, when its message first comes,
//!    under the message's id, so a redelivered message finds its own row.
//! 2. In one transaction: the row is locked (`FOR UPDATE SKIP LOCKED`: a due row by one
//!    sender only ([`Notify::send_due`]); a second delivery of the same message waits for a
//!    retry tier instead of sending too), the request read, the email sent with the row's
//!    Message-ID, the row marked `sent` (keeping the subject, text and HTML as sent),
//!    `failed` (with an audit event) or, for a due row that failed for a reason that passes,
//!    due again after the next retry tier; and a message settled in the outbox. A sent email needs no audit event: the request's history shows each `sent` row
//!    as `email sent: <event>` (`shared::requests::history`).
//!
//! Which row a message maps to (`seq`): a customer's email about a move is number N when it
//! is the N-th email of its event the moves wrote for the request (each entry into
//! `needs_info` that tells the customer, say), numbered by the move itself. A message that
//! has no row yet is number N when the request's history holds N occurrences of its event so
//! far (for escalations, each change of SLA state to at risk or breached; for a customer's
//! event, each entry into its state), at least 1. A redelivered message maps to its own row by
//! id, however late it comes. A different message for an occurrence that already has a row (a late
//! message overtaken by a later occurrence of the same event) sends nothing: the customer
//! gets one email per occurrence, never more.
//!
//! The at-least-once edge: a row found `pending` (a crash between sending and marking, or a
//! transient failure) is sent again with the same Message-ID. The spool overwrites the same
//! file; mail clients and mailbox providers drop a second message with a Message-ID they
//! already have. A transient failure goes to the retry tiers (the row keeps the last error:
//! a due row waits in itself, a message in the tiers' queues); a permanent refusal marks the
//! row failed, writes it into the history, and stops.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use shared::broker::consumer::{Handler, HandlerError};
use shared::lifecycle::RequestState;
use shared::merchants::{Merchant, Merchants};
use shared::messages::{Stage, WorkMessage};
use shared::money::{Currency, Money};
use shared::notifications::{self, NewNotification, Pending, SendLock};
use shared::notify::{
    AmountReason, EmailContext, Escalation, EscalationContext, Event, Language, Mailer,
    OutgoingEmail, RefundChannel, SendError, named_address, named_message_id, render,
    render_escalation, render_plain, request_tag,
};
use shared::payments::Payment;
use shared::policy::StoredDecision;
use shared::requests::{self, RequestRecord};
use shared::transition;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::intake::{SENDER_CHECK, UNVERIFIED_REPLY};

/// The actor of the audit events this stage writes.
const ACTOR: &str = "worker:notify";

/// Addresses every email uses, from the settings; each falls back to the merchant's
/// `reply_to` when not set.
#[derive(Clone, Debug, Default)]
pub struct MailAddresses {
    /// The refunds mailbox the intake reads: the Reply-To of every email.
    pub intake: Option<String>,
    /// The sending address.
    pub from: Option<String>,
}

/// The notify stage: the handler of notify messages, and the sender of the customers' emails
/// that are due ([`Notify::send_when_due`]). Its clones share what they remember.
#[derive(Clone)]
pub struct Notify {
    pool: PgPool,
    merchants: Arc<Merchants>,
    mailer: Mailer,
    addresses: MailAddresses,
    /// When an email sent when due is tried again after a failure that passes: the retry
    /// tiers' delays (`retry_delays`), the last one over and over.
    retry_delays: Vec<Duration>,
    /// Emails the SMTP server accepted whose `sent` mark did not reach the database (it went
    /// down, or our connection was cut, between the two): when their row or message comes
    /// back to this process it is recorded, not sent again.
    unrecorded: Arc<std::sync::Mutex<std::collections::HashSet<Uuid>>>,
}

impl Notify {
    pub fn new(
        pool: PgPool,
        merchants: Arc<Merchants>,
        mailer: Mailer,
        addresses: MailAddresses,
    ) -> Self {
        Self {
            pool,
            merchants,
            mailer,
            addresses,
            retry_delays: shared::config::Settings::default().retry_delays,
            unrecorded: Arc::default(),
        }
    }

    /// The same stage with these retry tiers (`retry_delays`) for the emails sent when due.
    #[must_use]
    pub fn retrying_after(mut self, retry_delays: Vec<Duration>) -> Self {
        self.retry_delays = retry_delays;
        self
    }
}

/// What a notify message asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Notice {
    Customer(Event),
    Escalation(Escalation),
    /// The intake's automatic answer to one inbound email.
    IntakeReply,
    /// The answer to an email from an address that is not the payer's (no request).
    UnverifiedReply,
    /// The request to a payment's customer address to confirm a claim (no request).
    SenderCheck,
    /// A day's reconciliation with the gateway found differences: to the merchant's support
    /// address (no request).
    Reconciliation,
}

/// The name of [`Notice::Reconciliation`] in notify messages and `notifications` rows (the
/// sla role writes it: `shared::reconcile::escalate`).
const RECONCILIATION_DIFFERENCES: &str = shared::reconcile::ESCALATION_EVENT;

/// The name of [`Notice::IntakeReply`] in notify messages and `notifications` rows.
const INTAKE_REPLY: &str = "intake_reply";

impl Notice {
    fn parse(name: &str) -> Result<Notice, String> {
        if let Ok(event) = name.parse::<Event>() {
            return Ok(Notice::Customer(event));
        }
        match name {
            INTAKE_REPLY => return Ok(Notice::IntakeReply),
            UNVERIFIED_REPLY => return Ok(Notice::UnverifiedReply),
            SENDER_CHECK => return Ok(Notice::SenderCheck),
            RECONCILIATION_DIFFERENCES => return Ok(Notice::Reconciliation),
            _ => {}
        }
        name.parse::<Escalation>()
            .map(Notice::Escalation)
            .map_err(|_| {
                format!(
                    "unknown notification `{name}` (expected received, needs_info, approved, \
                     awaiting_confirmation, rejected, withdrawn, refunded, payout_delayed, \
                     bank_details_needed, sla_at_risk, sla_breached, intake_reply, \
                     unverified_reply, sender_check or reconciliation_differences)"
                )
            })
    }

    fn name(self) -> &'static str {
        match self {
            Notice::Customer(event) => event.as_str(),
            Notice::Escalation(escalation) => escalation.as_str(),
            Notice::IntakeReply => INTAKE_REPLY,
            Notice::UnverifiedReply => UNVERIFIED_REPLY,
            Notice::SenderCheck => SENDER_CHECK,
            Notice::Reconciliation => RECONCILIATION_DIFFERENCES,
        }
    }

    /// Whether the email is a letter written ahead (about an inbound email, or a
    /// reconciliation) rather than about a request.
    fn about_inbound_email(self) -> bool {
        matches!(
            self,
            Notice::UnverifiedReply | Notice::SenderCheck | Notice::Reconciliation
        )
    }
}

/// The intake's automatic answer to one inbound email, as the intake wrote it.
struct IntakeAnswer {
    /// The sender of the inbound email.
    to: Option<String>,
    language: Option<String>,
    subject: Option<String>,
    text: Option<String>,
    /// The inbound email's Message-ID (`sha256:...` when it had none).
    answers: String,
}

impl IntakeAnswer {
    /// The answer whose notify message has id `message_id`.
    async fn find(conn: &mut PgConnection, message_id: Uuid) -> sqlx::Result<Option<Self>> {
        sqlx::query_as!(
            Self,
            r#"SELECT sender AS to, language, reply_subject AS subject, reply_text AS text,
                    message_id AS answers
               FROM inbound_emails WHERE reply_message_id = $1"#,
            message_id
        )
        .fetch_optional(conn)
        .await
    }
}

/// An email about an inbound email that opened no request, as the intake wrote it, or a
/// reconciliation's escalation, as the sla role wrote it.
struct InboundLetter {
    inbound_email_id: Option<Uuid>,
    /// The reconciliation escalated (`<merchant> <day>`), for [`Notice::Reconciliation`].
    reconciliation: Option<String>,
    to: Option<String>,
    language: Option<String>,
    subject: Option<String>,
    text: Option<String>,
    /// The Message-ID of the email it answers (`unverified_reply` only).
    answers: Option<String>,
    /// The id in its Message-ID: the inbound email's, or the confirmation's (`sender_check`),
    /// which the payer's reply quotes back.
    thread_id: Uuid,
    /// The merchant it is signed by (`sender_check` only).
    merchant: Option<String>,
    /// The payment's customer address as it is now (`sender_check` only).
    payer: Option<String>,
    /// Why it must not go out (decided after reading; the queries read it as NULL).
    refused: Option<String>,
}

impl InboundLetter {
    async fn find(
        conn: &mut PgConnection,
        notice: Notice,
        message_id: Uuid,
    ) -> sqlx::Result<Option<Self>> {
        let mut letter: Option<Self> = match notice {
            Notice::SenderCheck => {
                // Only ever to the address registered with the payment, as it still is.
                sqlx::query_as!(
                    Self,
                    r#"SELECT c.inbound_email_id AS "inbound_email_id?", NULL::text AS reconciliation,
                              c.recipient AS "to?", c.language AS "language?",
                              c.subject AS "subject?", c.body_text AS "text?",
                              NULL::text AS answers, c.id AS thread_id,
                              c.merchant AS "merchant?", p.customer_email AS payer,
                              NULL::text AS refused
                         FROM sender_confirmations c JOIN payments p ON p.id = c.payment_id
                        WHERE c.notify_message_id = $1"#,
                    message_id
                )
                .fetch_optional(conn)
                .await?
            }
            Notice::Reconciliation => {
                sqlx::query_as!(
                    Self,
                    r#"SELECT NULL::uuid AS inbound_email_id,
                              merchant || ' ' || day::text AS reconciliation,
                              escalation_to AS to, escalation_language AS language,
                              escalation_subject AS subject, escalation_text AS text,
                              NULL::text AS answers, notify_message_id AS "thread_id!",
                              merchant AS "merchant?", NULL::text AS payer, NULL::text AS refused
                         FROM reconciliations WHERE notify_message_id = $1"#,
                    message_id
                )
                .fetch_optional(conn)
                .await?
            }
            _ => {
                sqlx::query_as!(
                    Self,
                    r#"SELECT id AS "inbound_email_id?", NULL::text AS reconciliation, sender AS to, language,
                              reply_subject AS subject, reply_text AS text,
                              message_id AS "answers?", id AS thread_id,
                              NULL::text AS merchant, NULL::text AS payer, NULL::text AS refused
                         FROM inbound_emails WHERE reply_message_id = $1 AND request_id IS NULL"#,
                    message_id
                )
                .fetch_optional(conn)
                .await?
            }
        };
        if let Some(letter) = &mut letter
            && notice == Notice::SenderCheck
            && !shared::intake::sender_is(letter.payer.as_deref(), letter.to.as_deref())
        {
            // Only ever to the address registered with the payment, as it still is (compared
            // as the intake compares addresses).
            letter.refused = Some(
                "the payment's customer address changed after the confirmation was written".into(),
            );
        }
        Ok(letter)
    }

    /// The address it goes to, if it has one.
    fn recipient(&self) -> Option<String> {
        self.to
            .as_deref()
            .map(str::trim)
            .filter(|to| !to.is_empty())
            .map(str::to_owned)
    }

    /// Why it must not or cannot go out to `to`, if so.
    fn refusal(&self, to: Option<&str>) -> Option<String> {
        self.refused.clone().or_else(|| {
            to.is_none()
                .then(|| "the email has no address to go to".to_owned())
        })
    }
}

/// What an email is about: the request, its payment and merchant, and for the intake's
/// answer, the answer.
struct About<'a> {
    request: &'a RequestRecord,
    merchant: Option<&'a Merchant>,
    answer: Option<&'a IntakeAnswer>,
    /// Where the money went, for a `refunded` email.
    channel: Option<RefundChannel>,
}

/// Who an email goes to, in which language; or why it cannot go anywhere.
struct Addressee {
    to: String,
    language: Language,
}

/// Whether a handled message's outbox row was settled in the handler's own transaction (the
/// one that marked its email), or is still to settle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Settled {
    InTransaction,
    NotYet,
}

/// The most emails sent together from one transaction (and so, at once, to the SMTP server).
pub const BATCH: usize = 8;

/// How long the emails of other moves gather after a move woke the first sender, before it
/// looks ([`Notify::send_when_due`]); longer than [`shared::outbox::WAKE_SETTLE`], so the
/// move that woke it has committed.
const GATHER: Duration = Duration::from_millis(10);

impl Handler for Notify {
    /// Settles the message's outbox row when done with it (sent, failed, or nothing to send),
    /// so the sweeper publishes again only what was lost or is still going round the tiers:
    /// in the transaction that marks the email when there is one, else on its own.
    async fn handle(&self, message: WorkMessage) -> Result<(), HandlerError> {
        let id = message.message_id;
        let result = self.handle_message(message).await;
        self.settle(id, result).await
    }

    /// Emails waiting together go out together: their rows locked in one transaction, the
    /// emails sent at the same time (at most `BATCH` to the server at once), the rows marked
    /// in the same transaction.
    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn handle_batch(&self, messages: Vec<WorkMessage>) -> Vec<Result<(), HandlerError>> {
        let ids: Vec<Uuid> = messages.iter().map(|m| m.message_id).collect();
        let results = self.handle_together(messages).await;
        let mut settled = Vec::with_capacity(results.len());
        for (id, result) in ids.into_iter().zip(results) {
            settled.push(self.settle(id, result).await);
        }
        settled
    }
}

/// An email ready to go out, or why it cannot.
enum Prepared {
    Send {
        email: Box<OutgoingEmail>,
        /// The language code of its text.
        language: Option<String>,
    },
    Fail(String),
}

impl Notify {
    /// Settles a message the handler did not settle in its own transaction, unless it goes
    /// round again.
    async fn settle(
        &self,
        id: Uuid,
        result: Result<Settled, HandlerError>,
    ) -> Result<(), HandlerError> {
        match result {
            Ok(Settled::InTransaction) => Ok(()),
            other => {
                shared::outbox::settle_after(
                    &self.pool,
                    id,
                    other.map(drop),
                    HandlerError::is_retried,
                )
                .await
            }
        }
    }

    /// One transaction per email: the message's row is locked, the request read, the email
    /// sent, the row marked and the message settled. A message with no row yet (escalations,
    /// the intake's answers, letters about inbound emails; all but those a move queued before
    /// its emails were sent when due) claims one first, committed before anything is sent.
    async fn handle_message(&self, message: WorkMessage) -> Result<Settled, HandlerError> {
        let notice = notice_of(&message)?;
        let mut claimed_here = false;
        loop {
            let mut tx = self.pool.begin().await?;
            match notifications::lock_for_sending(&mut tx, message.message_id).await? {
                SendLock::Held(pending) => {
                    let prepared = self
                        .prepare(&mut tx, &message, notice, &pending, None)
                        .await?;
                    return self.deliver(tx, &message, notice, &pending, prepared).await;
                }
                SendLock::Final => {
                    shared::outbox::settle(&mut *tx, message.message_id).await?;
                    tx.commit().await?;
                    self.forget_unrecorded(message.message_id);
                    return Ok(Settled::InTransaction);
                }
                SendLock::Busy => {
                    return Err(HandlerError::Transient(anyhow::anyhow!(
                        "{} email for {} is being sent by another delivery of the same message; looked at again later",
                        notice.name(),
                        about(notice, message.request_id)
                    )));
                }
                SendLock::Missing if !claimed_here => {
                    tx.rollback().await?;
                    let claimed = if notice.about_inbound_email() {
                        self.claim_letter(&message, notice).await?
                    } else {
                        self.claim_for_request(&message, notice).await?
                    };
                    if !claimed {
                        return Ok(Settled::NotYet);
                    }
                    claimed_here = true;
                }
                SendLock::Missing => {
                    return Err(HandlerError::Transient(anyhow::anyhow!(
                        "the {} email's row for {} was claimed and is gone; looked at again later",
                        notice.name(),
                        about(notice, message.request_id)
                    )));
                }
            }
        }
    }

    /// Several messages in one transaction: every row there and free is locked by one
    /// statement, its email written, then all of them sent at once and marked, and the
    /// transaction committed. A message whose row is missing or busy, and every message when
    /// the database fails before anything is sent, goes the way of one
    /// ([`Notify::handle_message`]).
    async fn handle_together(
        &self,
        messages: Vec<WorkMessage>,
    ) -> Vec<Result<Settled, HandlerError>> {
        let mut results: Vec<Option<Result<Settled, HandlerError>>> =
            messages.iter().map(|_| None).collect();
        let ids: Vec<Uuid> = messages.iter().map(|m| m.message_id).collect();
        let Ok(mut tx) = self.pool.begin().await else {
            return self.one_by_one(messages).await;
        };
        let Ok(locked) = notifications::lock_many(&mut tx, &ids).await else {
            return self.one_by_one(messages).await;
        };
        // The requests the held emails are about, with their payments: one statement.
        let about: Vec<Uuid> = messages
            .iter()
            .filter(|m| matches!(locked.get(&m.message_id), Some(SendLock::Held(_))))
            .filter(|m| notice_of(m).is_ok_and(|n| !n.about_inbound_email()))
            .map(|m| m.request_id)
            .collect();
        let Ok(read) = requests::find_many_with_payment(&mut tx, &about).await else {
            drop(tx);
            return self.one_by_one(messages).await;
        };
        // Each message: its email written (reads only), already final, or on its own later.
        let mut ready: Vec<(usize, Notice, Pending, Prepared)> = Vec::new();
        let mut finals: Vec<usize> = Vec::new();
        let mut alone: Vec<usize> = Vec::new();
        let mut database_failed = false;
        let mut seen = std::collections::HashSet::new();
        for (i, message) in messages.iter().enumerate() {
            let notice = match notice_of(message) {
                Ok(notice) => notice,
                Err(e) => {
                    results[i] = Some(Err(e));
                    continue;
                }
            };
            if !seen.insert(message.message_id) {
                // Two copies of one message in the batch (a redelivery next to a copy the
                // sweeper published): the second waits until the first is recorded.
                alone.push(i);
                continue;
            }
            match locked.get(&message.message_id) {
                Some(SendLock::Held(pending)) => {
                    let known = read.get(&message.request_id).cloned();
                    match self.prepare(&mut tx, message, notice, pending, known).await {
                        Ok(prepared) => ready.push((i, notice, pending.clone(), prepared)),
                        Err(HandlerError::Permanent(e)) => {
                            results[i] = Some(Err(HandlerError::Permanent(e)));
                        }
                        Err(_) => {
                            database_failed = true;
                            break;
                        }
                    }
                }
                Some(_) => finals.push(i),
                None => alone.push(i),
            }
        }
        if database_failed {
            // Nothing was sent yet: each message goes on its own.
            drop(tx);
            return self.one_by_one(messages).await;
        }
        // Everything written: what is to be sent goes out at once.
        let emails: Vec<(Uuid, &Prepared)> = ready.iter().map(|(i, .., p)| (ids[*i], p)).collect();
        let (sent, went_out) = self.send_at_once(&emails).await;
        let recorded = async {
            let mut recorded = Vec::with_capacity(ready.len() + finals.len());
            // The emails sent, marked and settled together at the end.
            let mut marks = Marks::new(&self.retry_delays);
            for ((i, notice, pending, prepared), sent) in ready.iter().zip(sent) {
                let result = Self::record_outcome(
                    &mut tx,
                    &messages[*i],
                    *notice,
                    pending,
                    prepared,
                    sent,
                    &mut marks,
                )
                .await?;
                recorded.push((*i, result));
            }
            for &i in &finals {
                marks.settled.push(ids[i]);
                recorded.push((i, Ok(Settled::InTransaction)));
            }
            marks.write(&mut tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(recorded)
        }
        .await;
        match recorded {
            Ok(recorded) => {
                for (i, result) in recorded {
                    if result.is_ok() {
                        self.forget_unrecorded(ids[i]);
                    }
                    results[i] = Some(result);
                }
            }
            Err(e) => {
                // Sent, and the database did not hear it: remembered, never sent twice.
                self.remember_unrecorded(&went_out, &e);
                for (i, ..) in &ready {
                    results[*i] = Some(Err(shared::broker::consumer::error_for_each(&e)));
                }
                for &i in &finals {
                    results[i] = Some(Err(shared::broker::consumer::error_for_each(&e)));
                }
            }
        }
        for i in alone {
            results[i] = Some(self.handle_message(messages[i].clone()).await);
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(HandlerError::Transient(anyhow::anyhow!(
                        "the batch stopped before this email; looked at again later"
                    )))
                })
            })
            .collect()
    }

    /// Sends prepared emails (a batch: at most `BATCH`) to the server at the same time: the
    /// mailer's answer for each, in their order, `None` where nothing was sent now (it cannot
    /// go out, or this process sent it before and could not record it); and the ids of those
    /// the server took.
    async fn send_at_once(
        &self,
        emails: &[(Uuid, &Prepared)],
    ) -> (Vec<Option<Result<(), SendError>>>, Vec<Uuid>) {
        let sends = emails.iter().map(|(id, prepared)| async move {
            match prepared {
                Prepared::Send { email, .. } if !self.sent_before(*id) => {
                    Some(self.mailer.send(email).await)
                }
                _ => None,
            }
        });
        let sent = futures_util::future::join_all(sends).await;
        let went_out = emails
            .iter()
            .zip(&sent)
            .filter(|(_, sent)| matches!(sent, Some(Ok(()))))
            .map(|((id, _), _)| *id)
            .collect();
        (sent, went_out)
    }

    async fn one_by_one(&self, messages: Vec<WorkMessage>) -> Vec<Result<Settled, HandlerError>> {
        let mut results = Vec::with_capacity(messages.len());
        for message in messages {
            results.push(self.handle_message(message).await);
        }
        results
    }

    /// Sends the customers' emails that are due, in up to `tasks` tasks at once, until
    /// `shutdown`. The first task is woken when a move of this process writes an email
    /// ([`notifications::DUE`]), lets the emails of other moves gather for 10 ms (`GATHER`), and
    /// sends what is due, a batch at a time ([`Notify::send_due`]); a batch that came full
    /// wakes another task to help, and each goes on at once while its batches come full. So
    /// a trickle is one transaction for several emails, not a transaction and an empty claim
    /// per email, and a backlog gets every task. Each task also looks by itself, the tasks
    /// together once every `every`: for the rows another process writes, and a wake that
    /// came before its row was committed. When the database does not answer a task waits
    /// longer each time, up to 5 s. On shutdown a batch being sent has `grace` to finish; one
    /// cut short is sent again, with the same Message-ID, by the next process.
    pub fn send_when_due(
        &self,
        tracker: &tokio_util::task::TaskTracker,
        tasks: usize,
        every: Duration,
        grace: Duration,
        shutdown: &CancellationToken,
    ) {
        let tasks = tasks.max(1);
        let each_looks = every.saturating_mul(u32::try_from(tasks).unwrap_or(u32::MAX));
        let help = Arc::new(tokio::sync::Notify::new());
        for n in 0..tasks {
            let (notify, help, shutdown) = (self.clone(), help.clone(), shutdown.clone());
            let first = n == 0;
            tracker.spawn(async move {
                notify
                    .sender(first, &help, each_looks, grace, shutdown)
                    .await;
            });
        }
    }

    /// One task of [`Notify::send_when_due`]: the `first` is woken by moves, the others by
    /// `help`.
    async fn sender(
        self,
        first: bool,
        help: &tokio::sync::Notify,
        every: Duration,
        grace: Duration,
        shutdown: CancellationToken,
    ) {
        const LONGEST_PAUSE: Duration = Duration::from_secs(5);
        let mut failures: u32 = 0;
        while !shutdown.is_cancelled() {
            let cut_short = async {
                shutdown.cancelled().await;
                tokio::time::sleep(grace).await;
            };
            let sent = tokio::select! {
                biased;
                sent = self.send_due() => sent,
                () = cut_short => break,
            };
            let pause = match sent {
                Ok(claimed) if claimed == BATCH => {
                    // More may be due: another task helps.
                    failures = 0;
                    help.notify_one();
                    continue;
                }
                Ok(_) => {
                    failures = 0;
                    None
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let pause = every
                        .saturating_mul(2u32.saturating_pow(failures.min(16)))
                        .min(LONGEST_PAUSE);
                    tracing::warn!(error = %format!("{e:#}"), retry_in_ms = pause.as_millis() as u64,
                        "due emails not sent: the database did not answer; they wait, nothing is lost");
                    Some(pause)
                }
            };
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = notifications::DUE.notified(), if first && pause.is_none() => {
                    tokio::time::sleep(GATHER).await;
                }
                () = help.notified(), if !first && pause.is_none() => {}
                () = tokio::time::sleep(pause.unwrap_or(every)) => {}
            }
        }
    }

    /// Sends up to `BATCH` customer emails that are due, in one transaction: their rows
    /// claimed (`FOR UPDATE SKIP LOCKED`, so concurrent senders take different ones), their
    /// requests read by one statement, the emails written and sent at once, and each row
    /// marked before the commit: sent; failed for a permanent refusal or an email that cannot
    /// be written (with an audit event); or due again after the next retry tier for a failure
    /// that passes. How many rows it claimed. When the database fails nothing is marked and
    /// the rows stay due; an email the server accepted meanwhile is remembered and recorded,
    /// not sent again, when its row comes back.
    pub async fn send_due(&self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let due = notifications::claim_due(&mut tx, BATCH as i64).await?;
        if due.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }
        let about: Vec<Uuid> = due.iter().map(|d| d.request_id).collect();
        let read = requests::find_many_with_payment(&mut tx, &about).await?;
        let mut ready: Vec<(WorkMessage, Notice, &Pending, Prepared)> = Vec::new();
        for d in &due {
            let mut message = WorkMessage::new(Stage::Notify, d.request_id).with_event(&d.event);
            message.message_id = d.id;
            let Ok(notice @ Notice::Customer(_)) = Notice::parse(&d.event) else {
                // Only moves write rows that are sent when due, each for an event they know.
                let why = format!("no customer email is called {:?}", d.event);
                tracing::error!(request_id = %d.request_id, event = %d.event, "email cannot be written; marked failed");
                notifications::mark_failed(&mut tx, d.id, &why).await?;
                continue;
            };
            let known = read.get(&d.request_id).cloned();
            let prepared = match self
                .prepare(&mut tx, &message, notice, &d.pending, known)
                .await
            {
                Ok(prepared) => prepared,
                Err(HandlerError::Permanent(e)) => Prepared::Fail(format!("{e:#}")),
                // The database: nothing sent, nothing marked; the rows stay due.
                Err(e) => return Err(e.into()),
            };
            ready.push((message, notice, &d.pending, prepared));
        }
        let emails: Vec<(Uuid, &Prepared)> =
            ready.iter().map(|(m, .., p)| (m.message_id, p)).collect();
        let (sent, went_out) = self.send_at_once(&emails).await;
        let recorded = async {
            let mut marks = Marks::new(&self.retry_delays);
            for ((message, notice, pending, prepared), sent) in ready.iter().zip(sent) {
                let result = Self::record_outcome(
                    &mut tx,
                    message,
                    *notice,
                    pending,
                    prepared,
                    sent,
                    &mut marks,
                )
                .await?;
                if let Err(e) = result {
                    tracing::warn!(request_id = %message.request_id, event = notice.name(), error = %e,
                        "email not sent yet; its row is due again after the next retry tier");
                }
            }
            // No message to settle: the rows are the work.
            notifications::mark_sent_many(&mut tx, &marks.sent).await?;
            tx.commit().await
        }
        .await;
        match recorded {
            Ok(()) => {
                for (message, ..) in &ready {
                    self.forget_unrecorded(message.message_id);
                }
                Ok(due.len())
            }
            Err(e) => {
                self.remember_unrecorded(&went_out, &e);
                Err(e.into())
            }
        }
    }

    /// The email of a row the caller's transaction holds, written from what it is about; or
    /// why it cannot go out. Reads only. `known`: the request and its payment, when the
    /// caller read them already (a batch reads them together).
    async fn prepare(
        &self,
        conn: &mut PgConnection,
        message: &WorkMessage,
        notice: Notice,
        pending: &Pending,
        known: Option<(RequestRecord, Option<Payment>)>,
    ) -> Result<Prepared, HandlerError> {
        if notice.about_inbound_email() {
            return self.prepare_letter(conn, message, notice, pending).await;
        }
        let id = message.request_id;
        let (request, payment) = match known {
            Some(known) => known,
            None => read_request(conn, id).await?,
        };
        let answer = match notice {
            Notice::IntakeReply => IntakeAnswer::find(conn, message.message_id).await?,
            _ => None,
        };
        let channel = match notice {
            Notice::Customer(Event::Refunded) => {
                refund_channel(conn, &request, payment.as_ref()).await?
            }
            _ => None,
        };
        let merchant = self.merchant_of(&request, payment.as_ref());
        let addressee = match addressee(
            notice,
            &request,
            payment.as_ref(),
            merchant,
            answer.as_ref(),
        ) {
            Ok(addressee) => addressee,
            // The address has gone since the row was claimed.
            Err(why) => return Ok(Prepared::Fail(why)),
        };
        let about = About {
            request: &request,
            merchant,
            answer: answer.as_ref(),
            channel,
        };
        match self.email(conn, notice, &about, &addressee, pending).await {
            Ok(email) => Ok(Prepared::Send {
                email: Box::new(email),
                language: Some(addressee.language.code().to_owned()),
            }),
            Err(Unsendable::Database(e)) => Err(e.into()),
            Err(Unsendable::Because(why)) => Ok(Prepared::Fail(why)),
        }
    }

    /// Sends a prepared email of a row `tx` holds and marks it: sent, or failed for a
    /// permanent refusal, settling the message in the same transaction; a transient failure
    /// keeps the row pending (with the error) and goes to the retry tiers. The row stays
    /// locked while the email goes out: a second delivery of the same message waits its turn
    /// (retry tier) instead of sending it too.
    async fn deliver(
        &self,
        mut tx: Transaction<'_, Postgres>,
        message: &WorkMessage,
        notice: Notice,
        pending: &Pending,
        prepared: Prepared,
    ) -> Result<Settled, HandlerError> {
        let sent = match &prepared {
            Prepared::Send { email, .. } if !self.sent_before(message.message_id) => {
                Some(self.mailer.send(email).await)
            }
            _ => None,
        };
        let went_out = matches!(sent, Some(Ok(())));
        let recorded = async {
            let mut marks = Marks::new(&self.retry_delays);
            let result = Self::record_outcome(
                &mut tx, message, notice, pending, &prepared, sent, &mut marks,
            )
            .await?;
            marks.write(&mut tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(result)
        }
        .await;
        match recorded {
            Ok(result) => {
                if result.is_ok() {
                    self.forget_unrecorded(message.message_id);
                }
                result
            }
            Err(e) => {
                if went_out {
                    self.remember_unrecorded(&[message.message_id], &e);
                }
                Err(e.into())
            }
        }
    }

    /// Records what became of a prepared email in the caller's transaction: `sent` is the
    /// mailer's answer, `None` when nothing was sent now (it went out earlier and was not
    /// recorded, or it cannot go out). The handler's result for the message. A sent email's
    /// mark and every settle are left to `marks` ([`Marks::write`]), which the caller runs
    /// before it commits: one statement each for a batch.
    async fn record_outcome<'p>(
        tx: &mut PgConnection,
        message: &WorkMessage,
        notice: Notice,
        pending: &Pending,
        prepared: &'p Prepared,
        sent: Option<Result<(), SendError>>,
        marks: &mut Marks<'p>,
    ) -> sqlx::Result<Result<Settled, HandlerError>> {
        let message_id = message.message_id;
        let request_id = (!notice.about_inbound_email()).then_some(message.request_id);
        let (email, language) = match prepared {
            Prepared::Fail(why) => {
                tracing::warn!(request_id = ?request_id, event = notice.name(), error = %why, "email cannot be sent; marked failed");
                Self::record_failed(tx, message_id, request_id, notice, why).await?;
                marks.settled.push(message_id);
                return Ok(Ok(Settled::InTransaction));
            }
            Prepared::Send { email, language } => (email, language.as_deref()),
        };
        match sent {
            // Sent now, or earlier by this process without the mark reaching the database.
            Some(Ok(())) | None => {
                // The row is the record: the request's history shows it as `email sent:
                // <event>` (`requests::history`); no audit event is written for it.
                marks.sent.push(notifications::SentEmail {
                    id: message_id,
                    recipient: &email.to,
                    language,
                    rendered: &email.rendered,
                });
                marks.settled.push(message_id);
                if sent.is_none() {
                    tracing::info!(request_id = ?request_id, event = notice.name(), seq = pending.seq, "email sent earlier now recorded (not sent again)");
                } else {
                    tracing::info!(request_id = ?request_id, event = notice.name(), seq = pending.seq, "email sent");
                }
                Ok(Ok(Settled::InTransaction))
            }
            Some(Err(SendError::Transient(why))) => {
                notifications::note_error(tx, message_id, &why, marks.retry_delays).await?;
                Ok(Err(HandlerError::Transient(anyhow::anyhow!(
                    "{} email for {} not sent yet: {why}",
                    notice.name(),
                    about(notice, message.request_id)
                ))))
            }
            Some(Err(SendError::Permanent(why))) => {
                tracing::warn!(request_id = ?request_id, event = notice.name(), error = %why, "email refused; marked failed");
                Self::record_failed(tx, message_id, request_id, notice, &why).await?;
                marks.settled.push(message_id);
                Ok(Ok(Settled::InTransaction))
            }
        }
    }

    /// The merchant a request (or its payment) names, when configured.
    fn merchant_of(&self, request: &RequestRecord, payment: Option<&Payment>) -> Option<&Merchant> {
        request
            .merchant
            .as_deref()
            .or(payment.map(|p| p.merchant.as_str()))
            .and_then(|m| self.merchants.get(m))
    }

    /// Whether this process sent the email already and could not record it.
    fn sent_before(&self, message_id: Uuid) -> bool {
        self.unrecorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&message_id)
    }

    /// Emails the server accepted whose marks did not reach the database: when their messages
    /// come back to this process they are recorded, not sent again.
    fn remember_unrecorded(&self, ids: &[Uuid], e: &sqlx::Error) {
        if ids.is_empty() {
            return;
        }
        self.unrecorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(ids.iter().copied());
        tracing::warn!(emails = ids.len(), error = %e,
            "emails sent but not recorded yet; they will be recorded when the database answers, not sent again");
    }
}

/// The emails sent and the messages done of one transaction (a batch, or one email), written
/// by two statements before it commits.
struct Marks<'p> {
    sent: Vec<notifications::SentEmail<'p>>,
    settled: Vec<Uuid>,
    /// When an email that failed for a reason that passes is due again (rows sent when due).
    retry_delays: &'p [Duration],
}

impl<'p> Marks<'p> {
    fn new(retry_delays: &'p [Duration]) -> Self {
        Self {
            sent: Vec::new(),
            settled: Vec::new(),
            retry_delays,
        }
    }

    async fn write(&self, tx: &mut PgConnection) -> sqlx::Result<()> {
        notifications::mark_sent_many(&mut *tx, &self.sent).await?;
        shared::outbox::settle_many(&mut *tx, &self.settled).await
    }
}

/// The request an email is about, with its payment.
async fn read_request(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<(RequestRecord, Option<Payment>), HandlerError> {
    requests::find_with_payment(conn, id)
        .await?
        .ok_or_else(|| HandlerError::Permanent(anyhow::anyhow!("request {id} does not exist")))
}

/// What a notify message asks for, or why it cannot be read.
fn notice_of(message: &WorkMessage) -> Result<Notice, HandlerError> {
    let name = message.event.as_deref().ok_or_else(|| {
        HandlerError::Permanent(anyhow::anyhow!(
            "notify message for request {} names no event",
            message.request_id
        ))
    })?;
    Notice::parse(name).map_err(|e| HandlerError::Permanent(anyhow::anyhow!(e)))
}

/// Why an email cannot be written at all.
enum Unsendable {
    Because(String),
    Database(sqlx::Error),
}

impl From<sqlx::Error> for Unsendable {
    fn from(e: sqlx::Error) -> Self {
        Unsendable::Database(e)
    }
}

/// What an email is about, in an error message.
fn about(notice: Notice, id: Uuid) -> String {
    if notice.about_inbound_email() {
        "an inbound email".to_owned()
    } else {
        format!("request {id}")
    }
}

impl Notify {
    /// Claims the row of an email about an inbound email that opened no request
    /// (`unverified_reply`, `sender_check`) or of a reconciliation's escalation: `pending`,
    /// or `failed` when it must not or cannot go out. Whether there is an email to send.
    async fn claim_letter(
        &self,
        message: &WorkMessage,
        notice: Notice,
    ) -> Result<bool, HandlerError> {
        let mut tx = self.pool.begin().await?;
        let letter = InboundLetter::find(&mut tx, notice, message.message_id)
            .await?
            .ok_or_else(|| {
                HandlerError::Permanent(anyhow::anyhow!(
                    "no {} email with id {}",
                    notice.name(),
                    message.message_id
                ))
            })?;
        let to = letter.recipient();
        let refused = letter.refusal(to.as_deref());
        let email_message_id = named_message_id(letter.thread_id, notice.name(), 1);
        let inserted = notifications::claim(
            &mut tx,
            &NewNotification {
                id: message.message_id,
                request_id: None,
                inbound_email_id: letter.inbound_email_id,
                reconciliation: letter.reconciliation.as_deref(),
                event: notice.name(),
                seq: 1,
                recipient: to.as_deref().unwrap_or(""),
                language: letter.language.as_deref(),
                status: if refused.is_some() {
                    "failed"
                } else {
                    "pending"
                },
                email_message_id: &email_message_id,
                error: refused.as_deref(),
            },
        )
        .await?;
        tx.commit().await?;
        if let Some(why) = &refused {
            tracing::warn!(inbound_email_id = ?letter.inbound_email_id, reconciliation = letter.reconciliation, event = notice.name(), error = %why, "email cannot be sent; marked failed");
        }
        Ok(inserted && refused.is_none())
    }

    /// A claimed email about an inbound email (or a reconciliation), as the intake (or the
    /// sla role) wrote it; or why it cannot go out.
    async fn prepare_letter(
        &self,
        conn: &mut PgConnection,
        message: &WorkMessage,
        notice: Notice,
        pending: &Pending,
    ) -> Result<Prepared, HandlerError> {
        let Some(letter) = InboundLetter::find(conn, notice, message.message_id).await? else {
            return Ok(Prepared::Fail(format!(
                "no {} email with id {}",
                notice.name(),
                message.message_id
            )));
        };
        let to = letter.recipient();
        let to = match (letter.refusal(to.as_deref()), to) {
            (None, Some(to)) => to,
            (why, _) => {
                return Ok(Prepared::Fail(why.unwrap_or_else(|| {
                    "the email has no address to go to".to_owned()
                })));
            }
        };
        // The answer to a stranger is signed by nobody in particular: naming the merchant
        // would tell them whose payment they named.
        let merchant = match notice {
            Notice::SenderCheck | Notice::Reconciliation => letter
                .merchant
                .as_deref()
                .and_then(|m| self.merchants.get(m)),
            _ => None,
        };
        let (from, reply_to) = match self.addresses(merchant, "Refunds") {
            Ok(addresses) => addresses,
            Err(why) => return Ok(Prepared::Fail(why)),
        };
        let language = Language::from_code(letter.language.as_deref().unwrap_or("en"));
        let mut email = OutgoingEmail {
            to,
            from,
            reply_to,
            message_id: pending.email_message_id.clone(),
            in_reply_to: None,
            references: Vec::new(),
            rendered: render_plain(
                language,
                letter.subject.as_deref().unwrap_or_default(),
                letter.text.as_deref().unwrap_or_default(),
            ),
            auto_replied: notice == Notice::UnverifiedReply,
        };
        if let Some(answers) = &letter.answers
            && !answers.starts_with("sha256:")
        {
            email = email.in_reply_to_customer(answers, &[]);
        }
        Ok(Prepared::Send {
            email: Box::new(email),
            language: letter.language.clone(),
        })
    }

    /// The From and Reply-To of an email: the configured addresses, else the merchant's
    /// reply address (for a letter naming no merchant, the first configured merchant's).
    fn addresses(
        &self,
        merchant: Option<&Merchant>,
        unnamed: &str,
    ) -> Result<(String, String), String> {
        let fallback = merchant.or_else(|| self.merchants.all().next());
        let reply_to = self
            .addresses
            .intake
            .clone()
            .or_else(|| fallback.map(|m| m.reply_to.clone()))
            .or_else(|| self.addresses.from.clone())
            .ok_or_else(|| {
                "no reply address: the email has no known merchant and \
                 REFUNDD_INTAKE_ADDRESS is not set"
                    .to_owned()
            })?;
        let sender = self
            .addresses
            .from
            .clone()
            .unwrap_or_else(|| reply_to.clone());
        let sender_name = merchant.map(|m| m.name.as_str()).unwrap_or(unnamed);
        let from = named_address(sender_name, &sender).map_err(|e| e.to_string())?;
        Ok((from, reply_to))
    }

    /// Claims the row of an email about a request that its move did not claim (escalations,
    /// the intake's answers, messages from before moves claimed their emails): `pending`, or
    /// `failed` when there is nobody to write to, committed before anything is sent. Whether
    /// there is an email to send (`false`: another message holds this occurrence, or it
    /// failed).
    async fn claim_for_request(
        &self,
        message: &WorkMessage,
        notice: Notice,
    ) -> Result<bool, HandlerError> {
        let id = message.request_id;
        let message_id = message.message_id;
        let mut tx = self.pool.begin().await?;
        let (request, payment) = read_request(&mut tx, id).await?;
        let answer = match notice {
            Notice::IntakeReply => Some(
                IntakeAnswer::find(&mut tx, message_id)
                    .await?
                    .ok_or_else(|| {
                        HandlerError::Permanent(anyhow::anyhow!(
                            "no automatic answer with id {message_id} for request {id}"
                        ))
                    })?,
            ),
            _ => None,
        };
        let merchant = self.merchant_of(&request, payment.as_ref());
        let addressee = addressee(
            notice,
            &request,
            payment.as_ref(),
            merchant,
            answer.as_ref(),
        );
        let seq = occurrences(&mut tx, request.id, notice, message_id)
            .await?
            .max(1);
        let email_message_id = named_message_id(request.id, notice.name(), seq as u32);
        let (to, language, status, error) = match &addressee {
            Ok(a) => (a.to.as_str(), Some(a.language.code()), "pending", None),
            Err(why) => ("", None, "failed", Some(why.as_str())),
        };
        let inserted = notifications::claim(
            &mut tx,
            &NewNotification {
                id: message_id,
                request_id: Some(request.id),
                inbound_email_id: None,
                reconciliation: None,
                event: notice.name(),
                seq,
                recipient: to,
                language,
                status,
                email_message_id: &email_message_id,
                error,
            },
        )
        .await?;
        if !inserted {
            // Either this very message, delivered twice at once, or another message for the
            // same occurrence: whichever holds the row sends the email.
            tx.commit().await?;
            tracing::info!(request_id = %request.id, event = notice.name(), seq, "email already claimed by another message; nothing to send");
            return Ok(false);
        }
        if let Err(why) = &addressee {
            record(
                &mut tx,
                request.id,
                &format!("email failed: {}: {why}", notice.name()),
                json!({"event": notice.name(), "seq": seq, "status": "failed"}),
            )
            .await?;
            tx.commit().await?;
            tracing::warn!(request_id = %request.id, event = notice.name(), error = %why, "email cannot be sent; marked failed");
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    fn forget_unrecorded(&self, message_id: Uuid) {
        self.unrecorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&message_id);
    }

    async fn record_failed(
        tx: &mut PgConnection,
        message_id: Uuid,
        request_id: Option<Uuid>,
        notice: Notice,
        why: &str,
    ) -> sqlx::Result<()> {
        if let Some(seq) = notifications::mark_failed(tx, message_id, why).await?
            && let Some(request_id) = request_id
        {
            record(
                tx,
                request_id,
                &format!("email failed: {}: {why}", notice.name()),
                json!({"event": notice.name(), "seq": seq, "status": "failed"}),
            )
            .await?;
        }
        Ok(())
    }

    /// The email for a claimed row: addresses, threading headers and the rendered parts.
    async fn email(
        &self,
        conn: &mut PgConnection,
        notice: Notice,
        about: &About<'_>,
        addressee: &Addressee,
        pending: &Pending,
    ) -> Result<OutgoingEmail, Unsendable> {
        let About {
            request,
            merchant,
            answer,
            ref channel,
        } = *about;
        let (from, reply_to) = self
            .addresses(merchant, "Refunds")
            .map_err(Unsendable::Because)?;
        let amount = amount(request);
        let rendered = match notice {
            Notice::Customer(event) => render(&customer_context(
                event,
                addressee.language,
                request,
                merchant,
                amount,
                channel.clone(),
            )),
            Notice::Escalation(escalation) => {
                let (Some(merchant), Some(due_date)) = (merchant, request.due_on) else {
                    return Err(Unsendable::Because(
                        "an SLA escalation needs the merchant and the due date".to_owned(),
                    ));
                };
                render_escalation(&EscalationContext {
                    escalation,
                    language: addressee.language,
                    request_id: request.id,
                    merchant_name: merchant.name.clone(),
                    state: request.state.to_string(),
                    amount,
                    due_date,
                })
            }
            Notice::IntakeReply => {
                let answer = answer.ok_or_else(|| {
                    Unsendable::Because("the automatic answer is missing".to_owned())
                })?;
                render_plain(
                    addressee.language,
                    answer.subject.as_deref().unwrap_or_default(),
                    answer.text.as_deref().unwrap_or_default(),
                )
            }
            Notice::UnverifiedReply | Notice::SenderCheck | Notice::Reconciliation => {
                return Err(Unsendable::Because(
                    "an email about an inbound email has no request to write about".to_owned(),
                ));
            }
        };
        let mut email = OutgoingEmail {
            to: addressee.to.clone(),
            from,
            reply_to,
            message_id: pending.email_message_id.clone(),
            in_reply_to: None,
            references: Vec::new(),
            rendered,
            auto_replied: matches!(notice, Notice::IntakeReply),
        };
        // The automatic answer replies to the email it answers (unless that had no
        // Message-ID: `sha256:` stands in for it).
        if let Some(answer) = answer
            && !answer.answers.starts_with("sha256:")
        {
            email = email.in_reply_to_customer(&answer.answers, &[]);
        }
        // A reply to the customer's own emails, so it lands in the same conversation.
        if matches!(notice, Notice::Customer(_)) && request.channel == "email" {
            let mut thread: Vec<String> = sqlx::query_scalar!(
                "SELECT message_id FROM inbound_emails
                  WHERE request_id = $1 ORDER BY received_at, id",
                request.id
            )
            .fetch_all(conn)
            .await?;
            if let Some(parent) = thread.pop() {
                email = email.in_reply_to_customer(&parent, &thread);
            }
        }
        Ok(email)
    }
}

/// How many times the event has happened to the request so far (see the module docs).
async fn occurrences(
    conn: &mut PgConnection,
    request_id: Uuid,
    notice: Notice,
    message_id: Uuid,
) -> sqlx::Result<i32> {
    let count: i64 = match notice {
        Notice::Customer(event) => {
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM request_events
                  WHERE request_id = $1 AND to_state = $2 AND from_state IS DISTINCT FROM $2"#,
                request_id,
                state_of(event).as_str()
            )
            .fetch_one(conn)
            .await?
        }
        Notice::Escalation(escalation) => {
            let sla = match escalation {
                Escalation::SlaAtRisk => "at_risk",
                Escalation::SlaBreached => "breached",
            };
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM request_events
                  WHERE request_id = $1 AND actor = 'worker:sla' AND details->>'sla_to' = $2"#,
                request_id,
                sla
            )
            .fetch_one(conn)
            .await?
        }
        // The answers to the request's emails so far, this one included (their ids are
        // UUIDv7s: in the order they were written).
        Notice::IntakeReply => {
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM inbound_emails
                  WHERE request_id = $1 AND reply_message_id <= $2"#,
                request_id,
                message_id
            )
            .fetch_one(conn)
            .await?
        }
        // One email per inbound email (see `Notify::handle_inbound`).
        Notice::UnverifiedReply | Notice::SenderCheck | Notice::Reconciliation => 1,
    };
    Ok(i32::try_from(count).unwrap_or(i32::MAX))
}

/// The state whose entry an event announces: the one whose email it is
/// ([`RequestState::tells_customer`]), or `received` (told when the request is created).
fn state_of(event: Event) -> RequestState {
    if event == Event::Received {
        return RequestState::Received;
    }
    // Sent by the gateway-notification move refunded → payout_failed instead of that state's
    // own email (`shared::gateway_notifications`).
    if event == Event::RefundReversed {
        return RequestState::PayoutFailed;
    }
    RequestState::ALL
        .iter()
        .copied()
        .find(|s| s.tells_customer() == Some(event))
        .expect("every email but `received` follows from entering a state")
}

/// An audit event in the request's history, in its current state (the email changes no
/// state).
async fn record(
    conn: &mut PgConnection,
    request_id: Uuid,
    reason: &str,
    details: Value,
) -> sqlx::Result<()> {
    transition::record_note(conn, request_id, ACTOR, reason, &details).await
}

/// The customer (contact address, else the payment's customer) in the request's language;
/// for escalations, the merchant's support address in the merchant's language; for the
/// intake's answer, the sender of the email it answers, in that email's language.
fn addressee(
    notice: Notice,
    request: &RequestRecord,
    payment: Option<&Payment>,
    merchant: Option<&Merchant>,
    answer: Option<&IntakeAnswer>,
) -> Result<Addressee, String> {
    match notice {
        Notice::UnverifiedReply | Notice::SenderCheck | Notice::Reconciliation => {
            Err("an email about an inbound email has no request to write about".into())
        }
        Notice::IntakeReply => {
            let answer = answer.ok_or("the automatic answer is missing")?;
            let to = answer
                .to
                .as_deref()
                .map(str::trim)
                .filter(|to| !to.is_empty())
                .ok_or("the email being answered has no sender address")?;
            Ok(Addressee {
                to: to.to_owned(),
                language: Language::from_code(answer.language.as_deref().unwrap_or("en")),
            })
        }
        Notice::Customer(_) => {
            let to = request
                .contact_email
                .as_deref()
                .or(payment.and_then(|p| p.customer_email.as_deref()))
                .map(str::trim)
                .filter(|to| !to.is_empty())
                .ok_or("the request has no customer email address")?;
            let language = request
                .language
                .or_else(|| {
                    payment
                        .and_then(|p| p.customer_language.as_deref())
                        .or(merchant.map(|m| m.default_language.as_str()))
                        .map(Language::from_code)
                })
                .unwrap_or(Language::En);
            Ok(Addressee {
                to: to.to_owned(),
                language,
            })
        }
        Notice::Escalation(_) => {
            let merchant = merchant.ok_or("the request has no known merchant to escalate to")?;
            Ok(Addressee {
                to: merchant.support_email.clone(),
                language: Language::from_code(&merchant.default_language),
            })
        }
    }
}

/// The decided refund amount, once there is one.
fn amount(request: &RequestRecord) -> Option<Money> {
    let currency: Currency = request.currency.as_deref()?.trim().parse().ok()?;
    Some(Money::from_minor(request.amount_minor?, currency))
}

fn customer_context(
    event: Event,
    language: Language,
    request: &RequestRecord,
    merchant: Option<&Merchant>,
    amount: Option<Money>,
    refund_channel: Option<RefundChannel>,
) -> EmailContext {
    let decision = request.stored_decision();
    // What to ask for: the policy's missing items, then the identity check's problem codes.
    let missing = match event {
        Event::NeedsInfo | Event::BankDetailsNeeded => decision
            .as_ref()
            .map(StoredDecision::asked)
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let merchant_name = merchant
        .map(|m| m.name.clone())
        .or_else(|| request.merchant.clone())
        .unwrap_or_default();
    EmailContext {
        event,
        language,
        request_id: request.id,
        request_tag: request_tag(request.id),
        customer_name: request.facts[requests::CUSTOMER_NAME]
            .as_str()
            .map(str::to_owned),
        merchant_signature: merchant
            .map(|m| m.signature.clone())
            .unwrap_or_else(|| merchant_name.clone()),
        merchant_name,
        amount,
        due_date: request.due_on,
        clause: decision.as_ref().and_then(StoredDecision::clause),
        merchant_language: merchant.map(|m| Language::from_code(&m.default_language)),
        missing,
        refund_channel,
        amount_reason: match (event, &decision, amount) {
            (Event::Approved, Some(decision), Some(amount)) => {
                AmountReason::from_stored(decision, amount)
            }
            _ => None,
        },
    }
}

/// How the money of a refunded request moved, from its payout: a refund the gateway booked
/// went back to the payment's card; otherwise (no booked card refund: the card could not take
/// it, or the pack pays by bank, and a person marked the transfer paid) it went to the bank
/// account in the request's bank details. Never the payment's card for a bank transfer.
async fn refund_channel(
    conn: &mut PgConnection,
    request: &RequestRecord,
    payment: Option<&Payment>,
) -> sqlx::Result<Option<RefundChannel>> {
    let booked_by_gateway: bool = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM payout_attempts
                         WHERE request_id = $1 AND status = 'succeeded') AS "booked!""#,
        request.id
    )
    .fetch_one(&mut *conn)
    .await?;
    if booked_by_gateway {
        return Ok(payment.and_then(|p| {
            Some(RefundChannel::Card {
                brand: p.card_brand.as_deref().map(card_brand),
                last4: p.card_last4.clone()?,
            })
        }));
    }
    Ok(request.facts["bank_details"]
        .as_str()
        .and_then(RefundChannel::bank_account))
}

/// A card brand as people write it (`visa` → `Visa`); unknown brands as given.
fn card_brand(brand: &str) -> String {
    match brand.trim().to_ascii_lowercase().as_str() {
        "visa" => "Visa".to_owned(),
        "mastercard" => "Mastercard".to_owned(),
        "maestro" => "Maestro".to_owned(),
        "amex" | "american_express" => "American Express".to_owned(),
        "mir" => "Mir".to_owned(),
        "belkart" => "Belkart".to_owned(),
        "unionpay" => "UnionPay".to_owned(),
        _ => brand.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every customer email belongs to exactly one state's entry, and each state that tells
    /// the customer tells them with its own email.
    #[test]
    fn every_email_follows_from_one_state() {
        for &event in Event::ALL {
            let state = state_of(event);
            let owners = RequestState::ALL
                .iter()
                .copied()
                .filter(|s| s.tells_customer() == Some(event))
                .count();
            if event == Event::Received {
                assert_eq!((state, owners), (RequestState::Received, 0));
            } else if event == Event::RefundReversed {
                assert_eq!((state, owners), (RequestState::PayoutFailed, 0));
            } else {
                assert_eq!(owners, 1, "{event:?}");
                assert_eq!(state.tells_customer(), Some(event));
            }
        }
    }

    #[test]
    fn notices_parse_customer_events_and_escalations() {
        assert_eq!(
            Notice::parse("needs_info"),
            Ok(Notice::Customer(Event::NeedsInfo))
        );
        assert_eq!(
            Notice::parse("sla_breached"),
            Ok(Notice::Escalation(Escalation::SlaBreached))
        );
        assert_eq!(Notice::parse("intake_reply"), Ok(Notice::IntakeReply));
        assert_eq!(Notice::IntakeReply.name(), "intake_reply");
        for notice in [Notice::UnverifiedReply, Notice::SenderCheck] {
            assert_eq!(Notice::parse(notice.name()), Ok(notice));
            assert!(notice.about_inbound_email());
        }
        assert!(!Notice::IntakeReply.about_inbound_email());
        assert_eq!(
            Notice::parse(RECONCILIATION_DIFFERENCES),
            Ok(Notice::Reconciliation)
        );
        assert!(Notice::Reconciliation.about_inbound_email());
        let err = Notice::parse("refund").unwrap_err();
        assert!(err.contains("unknown notification `refund`"), "{err}");
        for &event in Event::ALL {
            assert_eq!(Notice::Customer(event).name(), event.as_str());
        }
    }

    #[test]
    fn card_brands_read_as_people_write_them() {
        assert_eq!(card_brand("visa"), "Visa");
        assert_eq!(card_brand("MasterCard"), "Mastercard");
        assert_eq!(card_brand("Humo"), "Humo");
    }
}
