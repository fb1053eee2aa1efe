//! Customer email templates: one per [`Event`], written in Russian, Kazakh, Latvian and
//! English. [`render`] turns an [`EmailContext`] (everything an email may show, already
//! loaded) into a subject, a plain-text part and an HTML part.
//!
//! Every email has the same frame: a greeting (by name when known), the event's body, a note
//! with the request tag and how to reply, and the merchant's signature. The subject starts
//! with the request tag (`[RF-1A2B3C4D]`) so that a customer's reply finds its request.

mod en;
mod kk;
mod lv;
mod ru;

use chrono::NaiveDate;
use uuid::Uuid;

use super::document::{Block, Letter};
use super::event::{Event, Language};
use super::local::{format_date, format_money};
use super::missing::MissingItem;
use crate::money::Money;
use crate::policy::{Clause, FactName};

/// Everything a template may show. All owned: rendering never touches the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailContext {
    /// The event the email is about; it chooses the template.
    pub event: Event,
    /// The language the email is written in.
    pub language: Language,
    /// The request the email is about.
    pub request_id: Uuid,
    /// `RF-` and the last 8 hex digits of the request id (see [`request_tag`]).
    pub request_tag: String,
    /// The customer's name for the greeting; without it the greeting names no one.
    pub customer_name: Option<String>,
    /// The merchant's name.
    pub merchant_name: String,
    /// The merchant's signature, possibly several lines.
    pub merchant_signature: String,
    /// The refund amount, when the email names one.
    pub amount: Option<Money>,
    /// The date the refund is due by, when the email names one.
    pub due_date: Option<NaiveDate>,
    /// The policy clause a decision applied (shown when a refund is rejected), in every
    /// language the pack writes it in; quoted in `language` when it has it.
    pub clause: Option<Clause>,
    /// The language the merchant writes in (its default): a clause the pack does not have in
    /// `language` is quoted in this one when it can be, else in English.
    pub merchant_language: Option<Language>,
    /// Fact or document names from the policy engine (`progress_percent`,
    /// `identity_document`, `bank_details`...) or identity-check problem codes.
    pub missing: Vec<String>,
    /// Where the refund went, taken from the payout (not from the payment): the card the
    /// gateway refunded, or the bank account a transfer went to. Shown in `refunded` emails.
    pub refund_channel: Option<RefundChannel>,
    /// Why an approved refund is less than what was paid (the calculation the policy made),
    /// quoted in the `approved` email with the clause.
    pub amount_reason: Option<AmountReason>,
}

/// How the policy reached a partial refund, with the numbers an email shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountReason {
    /// `percent` % of `paid` back at `value` % of a percentage fact (course progress).
    Tier {
        /// The percentage fact the tier is chosen by (`progress_percent`, ...).
        fact: String,
        /// The fact's value, in percent.
        value: u8,
        /// The percentage of `paid` refunded.
        percent: u8,
        /// What the customer paid.
        paid: Money,
    },
    /// `paid` minus the service rendered over `used_days` of `term_days`.
    ProRata {
        /// What the customer paid.
        paid: Money,
        /// The value of the service rendered over the days used.
        rendered: Money,
        /// Days of the term used.
        used_days: u32,
        /// Days in the whole term.
        term_days: u32,
    },
    /// `paid` minus an amount (the invoiced amount).
    Deduction {
        /// What the customer paid.
        paid: Money,
        /// The amount deducted (the invoiced amount).
        deducted: Money,
    },
    /// An amount (the balance) minus a fee.
    Fee {
        /// The amount the fee is taken from (the balance).
        value: Money,
        /// The fee deducted.
        fee: Money,
    },
}

impl AmountReason {
    /// The reason for `amount` from a stored decision (its `calculation`), only when the
    /// decision approved exactly `amount` and it is less than the whole: a full refund, or an
    /// amount a person chose, needs no calculation.
    pub fn from_decision(decision: &serde_json::Value, amount: Money) -> Option<Self> {
        Self::from_calculation(
            decision["amount"].as_str(),
            &decision["calculation"],
            amount,
        )
    }

    /// [`AmountReason::from_decision`] of a stored decision.
    pub fn from_stored(decision: &crate::policy::StoredDecision, amount: Money) -> Option<Self> {
        Self::from_calculation(
            decision.amount.as_deref(),
            decision.calculation.as_ref()?,
            amount,
        )
    }

    /// The reason for `amount` from the amount a decision approved (`decided`) and its
    /// calculation.
    fn from_calculation(
        decided: Option<&str>,
        calc: &serde_json::Value,
        amount: Money,
    ) -> Option<Self> {
        if decided != Some(amount.amount_text().as_str()) {
            return None;
        }
        let currency = amount.currency();
        let money = |field: &str| Money::parse(calc[field].as_str()?, currency).ok();
        let number = |field: &str| calc[field].as_u64();
        let reason = match calc["kind"].as_str()? {
            "tier" => AmountReason::Tier {
                fact: calc["fact"].as_str()?.to_owned(),
                value: u8::try_from(number("value")?).ok()?,
                percent: u8::try_from(number("percent")?).ok()?,
                paid: money("paid")?,
            },
            "pro_rata_days" => AmountReason::ProRata {
                paid: money("paid")?,
                rendered: money("rendered")?,
                used_days: u32::try_from(number("used_days")?).ok()?,
                term_days: u32::try_from(number("term_days")?).ok()?,
            },
            "paid_minus" => AmountReason::Deduction {
                paid: money("paid")?,
                deducted: money("deducted")?,
            },
            "fact_minus_fee" => AmountReason::Fee {
                value: money("value")?,
                fee: money("fee_amount")?,
            },
            _ => return None,
        };
        let partial = match &reason {
            AmountReason::Tier { percent, .. } => *percent < 100,
            AmountReason::ProRata { rendered, .. } => rendered.minor() > 0,
            AmountReason::Deduction { deducted, .. } => deducted.minor() > 0,
            AmountReason::Fee { fee, .. } => fee.minor() > 0,
        };
        partial.then_some(reason)
    }
}

/// How the money of a refund moved, as far as an email may show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundChannel {
    /// Refunded to the card through the gateway: its brand and last four digits (anything
    /// but exactly four digits is never shown).
    Card {
        /// The card brand, when the gateway reported it.
        brand: Option<String>,
        /// The last four digits of the card number.
        last4: String,
    },
    /// Paid by bank transfer: the last four characters of the account (IBAN) number.
    BankAccount {
        /// The last four characters of the account number.
        last4: String,
    },
}

impl RefundChannel {
    /// The bank account in bank details as a customer wrote them (`LV80 BANK 0000 4351 9500
    /// 1 Swedbank`): the last four letters or digits of the first IBAN, else of the first
    /// account-like part (8 or more letters and digits, at least 4 of them digits); none when
    /// there is no such part.
    pub fn bank_account(details: &str) -> Option<Self> {
        if let Some(iban) = crate::bank_details::ibans(details).into_iter().next() {
            let chars: Vec<char> = details[iban]
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_uppercase())
                .collect();
            return Some(RefundChannel::BankAccount {
                last4: chars[chars.len() - 4..].iter().collect(),
            });
        }
        details
            .split(|c: char| !(c.is_ascii_alphanumeric() || c.is_whitespace()))
            .map(|part| {
                part.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .map(|c| c.to_ascii_uppercase())
                    .collect::<Vec<char>>()
            })
            .find(|chars| {
                chars.len() >= 8 && chars.iter().filter(|c| c.is_ascii_digit()).count() >= 4
            })
            .map(|chars| RefundChannel::BankAccount {
                last4: chars[chars.len() - 4..].iter().collect(),
            })
    }
}

/// A rendered email: subject, plain-text part and HTML part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// The language the parts are written in (sent as `Content-Language`).
    pub language: Language,
    /// The subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// The tag that identifies a request in email subjects: `RF-` and the last 8 hex digits of
/// its id, uppercased (`RF-56789ABC`); see [`crate::intake::RequestTag`].
pub fn request_tag(request_id: Uuid) -> String {
    crate::intake::RequestTag::for_request(request_id).to_string()
}

/// An email written elsewhere as plain text (the intake's automatic answer): its paragraphs
/// (separated by blank lines) become the HTML part, escaped, line breaks kept; lines starting
/// with `- ` become a list.
pub fn render_plain(language: Language, subject: &str, text: &str) -> RenderedEmail {
    let blocks = text
        .split("\n\n")
        .map(str::trim_end)
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let items: Vec<&str> = p.lines().collect();
            if items.iter().all(|l| l.starts_with("- ")) {
                Block::List(items.iter().map(|l| l[2..].to_owned()).collect())
            } else {
                Block::Paragraph(p.to_owned())
            }
        })
        .collect();
    let letter = Letter {
        subject: subject.to_owned(),
        blocks,
    };
    RenderedEmail {
        language,
        subject: letter.subject.clone(),
        text: letter.text(),
        html: letter.html(language),
    }
}

/// The email for `ctx.event` in `ctx.language`.
pub fn render(ctx: &EmailContext) -> RenderedEmail {
    let view = View::new(ctx);
    let wording = wording(ctx.language);
    let mut blocks = vec![Block::Paragraph((wording.greeting)(view.customer_name()))];
    blocks.extend((wording.body)(&view));
    blocks.push(Block::Note((wording.footer)(&view.tag)));
    let mut signature = vec![wording.closing.to_owned()];
    signature.extend(
        ctx.merchant_signature
            .lines()
            .map(str::trim_end)
            .filter(|line| !line.trim().is_empty())
            .map(str::to_owned),
    );
    blocks.push(Block::Signature(signature));
    let letter = Letter {
        subject: format!(
            "[{}] {}: {}",
            view.tag,
            view.merchant,
            (wording.subject)(ctx.event)
        ),
        blocks,
    };
    RenderedEmail {
        language: ctx.language,
        text: letter.text(),
        html: letter.html(ctx.language),
        subject: letter.subject,
    }
}

/// The words of one language.
struct Wording {
    greeting: fn(Option<&str>) -> String,
    subject: fn(Event) -> &'static str,
    body: fn(&View<'_>) -> Vec<Block>,
    /// The note with the request tag and how to reply.
    footer: fn(&str) -> String,
    closing: &'static str,
}

fn wording(language: Language) -> &'static Wording {
    match language {
        Language::Ru => &ru::WORDING,
        Language::Kk => &kk::WORDING,
        Language::Lv => &lv::WORDING,
        Language::En => &en::WORDING,
    }
}

/// The context with its values cleaned and formatted for one language.
struct View<'a> {
    ctx: &'a EmailContext,
    tag: String,
    /// The merchant's name on one line (it goes into the subject).
    merchant: String,
}

/// The card a refund went to, as far as it may be shown.
struct Card<'a> {
    brand: Option<&'a str>,
    last4: &'a str,
}

/// Where the money of a refund went, checked for showing.
enum Channel<'a> {
    Card(Card<'a>),
    /// The last four characters of the bank account a transfer went to.
    Bank(&'a str),
}

/// How many working days banks usually take to credit a card refund (the range quoted in
/// `refunded` emails).
const BANK_DAYS: (u64, u64) = (3, 10);

impl<'a> View<'a> {
    fn new(ctx: &'a EmailContext) -> Self {
        let tag = if ctx.request_tag.trim().is_empty() {
            request_tag(ctx.request_id)
        } else {
            one_line(&ctx.request_tag)
        };
        View {
            ctx,
            tag,
            merchant: one_line(&ctx.merchant_name),
        }
    }

    fn language(&self) -> Language {
        self.ctx.language
    }

    fn customer_name(&self) -> Option<&'a str> {
        self.ctx
            .customer_name
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty())
    }

    fn amount(&self) -> Option<String> {
        self.ctx
            .amount
            .map(|amount| format_money(amount, self.language()))
    }

    fn due_date(&self) -> Option<String> {
        self.ctx
            .due_date
            .map(|date| format_date(date, self.language()))
    }

    /// The clause in the customer's language, else the merchant's, else English.
    fn clause(&self) -> Option<&'a str> {
        self.ctx
            .clause
            .as_ref()
            .map(|c| {
                c.for_reader(self.language(), self.ctx.merchant_language)
                    .trim()
            })
            .filter(|c| !c.is_empty())
    }

    /// Money in this email's language.
    fn money(&self, amount: Money) -> String {
        format_money(amount, self.language())
    }

    /// Why the approved amount is partial: the clause (when the decision has one) and the
    /// calculation line `calculation` writes, after `intro`.
    fn amount_reason(
        &self,
        intro: &str,
        calculation_label: &str,
        calculation: fn(&View<'_>, &AmountReason, &str) -> String,
    ) -> Vec<Block> {
        let (Some(reason), Some(amount)) = (self.ctx.amount_reason.as_ref(), self.amount()) else {
            return Vec::new();
        };
        // The intro introduces the clause ("…under this clause:"): without one, the
        // calculation stands alone.
        let mut blocks = Vec::new();
        if let Some(clause) = self.clause() {
            blocks.push(Block::Paragraph(intro.to_owned()));
            blocks.push(Block::Quote(clause.to_owned()));
        }
        blocks.push(Block::Facts(vec![(
            calculation_label.to_owned(),
            calculation(self, reason, &amount),
        )]));
        blocks
    }

    /// The missing items, in the order given, without duplicates.
    fn missing(&self) -> Vec<MissingItem> {
        let mut items: Vec<MissingItem> = Vec::new();
        for name in &self.ctx.missing {
            let item = MissingItem::from_name(name);
            if !items.contains(&item) {
                items.push(item);
            }
        }
        items
    }

    /// The missing items as up to two lists: what to send or tell us (facts, documents,
    /// unknown names), then what to correct in a document already sent (identity problems).
    fn missing_lists(
        &self,
        requests_intro: &str,
        problems_intro: &str,
        explain: fn(&MissingItem) -> String,
    ) -> Vec<Block> {
        let (problems, requests): (Vec<MissingItem>, Vec<MissingItem>) = self
            .missing()
            .into_iter()
            .partition(|item| matches!(item, MissingItem::Problem(_)));
        let mut blocks = Vec::new();
        for (intro, items) in [(requests_intro, requests), (problems_intro, problems)] {
            if !items.is_empty() {
                blocks.push(Block::Paragraph(intro.to_owned()));
                blocks.push(Block::List(explain_all(&items, explain)));
            }
        }
        blocks
    }

    /// What a bank-details email asks for: the missing items, or the bank details themselves.
    fn bank_details_items(&self) -> Vec<MissingItem> {
        let missing = self.missing();
        if missing.is_empty() {
            vec![MissingItem::Fact(FactName::BankDetails)]
        } else {
            missing
        }
    }

    /// Where the refund went: a card only when its last four are exactly four digits, a
    /// bank account only when its last four are exactly four letters or digits; a longer
    /// number passed by mistake must never reach an email.
    fn channel(&self) -> Option<Channel<'a>> {
        match self.ctx.refund_channel.as_ref()? {
            RefundChannel::Card { brand, last4 } => {
                let last4 = last4.trim();
                if last4.len() != 4 || !last4.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let brand = brand.as_deref().map(str::trim).filter(|b| !b.is_empty());
                Some(Channel::Card(Card { brand, last4 }))
            }
            RefundChannel::BankAccount { last4 } => {
                let last4 = last4.trim();
                if last4.len() != 4 || !last4.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return None;
                }
                Some(Channel::Bank(last4))
            }
        }
    }

    /// `label: value` lines for the amount and the due date, when known; `due` gives the
    /// label and the written-out date (`("Срок возврата", "до 5 мая 2026 г.")`).
    fn amount_and_due(&self, amount_label: &str, due: Option<(&str, String)>) -> Option<Block> {
        let mut facts = Vec::new();
        if let Some(amount) = self.amount() {
            facts.push((amount_label.to_owned(), amount));
        }
        if let Some((label, date)) = due {
            facts.push((label.to_owned(), date));
        }
        (!facts.is_empty()).then_some(Block::Facts(facts))
    }
}

impl Card<'_> {
    /// `Visa •••• 4242`, or `•••• 4242` when the brand is unknown.
    fn masked(&self) -> String {
        match self.brand {
            Some(brand) => format!("{brand} •••• {}", self.last4),
            None => format!("•••• {}", self.last4),
        }
    }
}

/// Each item explained, without repeating a sentence (several identity problems, such as
/// two wrong MRZ check digits, ask for the same new photo).
fn explain_all(items: &[MissingItem], explain: fn(&MissingItem) -> String) -> Vec<String> {
    let mut lines: Vec<String> = Vec::with_capacity(items.len());
    for line in items.iter().map(explain) {
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    lines
}

/// Text on one line: control characters and runs of whitespace become one space.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
