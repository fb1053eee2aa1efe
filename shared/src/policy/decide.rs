//! The decision engine: a pure function from a pack, a working-day calendar and a request to a
//! decision. It interprets the pack's rules; no pack is known to the code by name.
//!
//! Rules are tried in order. A condition is true, false, or unknown because it needs a fact
//! the request does not state; the first true rule decides, and an unknown one before it turns
//! the decision into `needs_info` naming the missing facts (never guessed): everything any
//! rule still possible would need, down to the first rule that surely holds, so the customer
//! is asked once.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::clause::Clause;
use super::facts::{DateOrTimestamp, DocumentKind, FactName, FactValue, Facts, Reason};
use super::pack::{
    DateSource, DecisionKind, Outcome, PayoutMethod, PolicyPack, Requirements, Rule, Sla, Term,
    When, Window,
};
use crate::calendar::{CalendarError, WorkingDayCalendar};
use crate::money::{Currency, DecimalAmount, Money, MoneyError};
use crate::notify::Language;

/// A refund request as support (or the API) states it; the JSON of `refundd quote`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteInput {
    /// The pack id.
    pub policy: String,
    /// The payment the refund is asked from.
    pub payment: PaymentInput,
    /// When the application first reached us.
    pub received_at: DateOrTimestamp,
    /// When the last required item arrived (default: `received_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_at: Option<DateOrTimestamp>,
    /// Why the customer wants the money back.
    pub reason: Reason,
    /// The facts the request states; the pack's defaults fill in the rest.
    #[serde(default)]
    pub facts: Facts,
    /// Documents the application includes (identity documents already validated).
    #[serde(default)]
    pub documents: Vec<DocumentKind>,
}

/// The payment being refunded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    /// Captured amount.
    pub amount: DecimalAmount,
    /// The payment's currency; it must be the pack's.
    pub currency: Currency,
    /// When the payment was made; the pack's time zone gives its local date.
    pub paid_at: DateOrTimestamp,
    /// Already refunded on this payment (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded: Option<DecimalAmount>,
}

/// A request the engine cannot decide on because it is malformed.
#[derive(Debug, thiserror::Error)]
pub enum QuoteError {
    /// The request names a different policy than the pack given.
    #[error("the request is for policy `{requested}`, but pack `{pack}` was given")]
    WrongPack {
        /// The policy id the request names.
        requested: String,
        /// The id of the pack given.
        pack: String,
    },
    /// The payment is in a currency other than the pack's.
    #[error("payment currency {given} is not the currency of policy `{pack}` ({expected})")]
    CurrencyNotThePacks {
        /// The payment's currency.
        given: Currency,
        /// The pack's currency.
        expected: Currency,
        /// The pack's id.
        pack: String,
    },
    /// An amount that cannot be read in the currency (e.g. too many decimals).
    #[error("{field}: {source}")]
    BadAmount {
        /// The input field that holds it, e.g. `payment.amount`.
        field: &'static str,
        /// What is wrong with it.
        source: MoneyError,
    },
    /// An amount below zero.
    #[error("{field} must not be negative")]
    NegativeAmount {
        /// The input field that holds it, e.g. `payment.refunded`.
        field: &'static str,
    },
    /// More is already refunded than the payment captured.
    #[error("payment.refunded ({refunded}) is more than payment.amount ({captured})")]
    RefundedExceedsCaptured {
        /// What was already refunded on the payment.
        refunded: Money,
        /// What the payment captured.
        captured: Money,
    },
    /// The received date is before the payment date.
    #[error("received_at ({received}) is before the payment date ({paid})")]
    ReceivedBeforePayment {
        /// The local received date.
        received: NaiveDate,
        /// The local payment date.
        paid: NaiveDate,
    },
    /// The complete date is before the received date.
    #[error("complete_at ({complete}) is before received_at ({received})")]
    CompleteBeforeReceived {
        /// The local complete date.
        complete: NaiveDate,
        /// The local received date.
        received: NaiveDate,
    },
    /// A date the working-day calendar does not cover.
    #[error("a date is outside the working-day calendar: {0}")]
    Calendar(#[from] CalendarError),
}

/// How the approved amount was reached, kept so the decision can be checked later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Calculation {
    /// The whole paid amount.
    Full {
        /// The amount the payment captured.
        paid: Money,
    },
    /// A share of the paid amount, by the band holding a whole-percent fact's value.
    Tier {
        /// The whole-percent fact that chose the band.
        fact: FactName,
        /// The fact's value, 0-100.
        value: u8,
        /// The share of the paid amount the band refunds, in whole percent.
        percent: u8,
        /// The amount the payment captured.
        paid: Money,
    },
    /// Paid minus the services rendered, pro rata by calendar days of the term.
    ProRataDays {
        /// The amount the payment captured.
        paid: Money,
        /// Calendar days from the start date to the end of the term.
        term_days: u32,
        /// Calendar days from the start date to the received date, from 0 to `term_days`.
        used_days: u32,
        /// The part of the paid amount for the used days, deducted (rounded once).
        rendered: Money,
    },
    /// The paid amount minus an amount fact.
    PaidMinus {
        /// The amount the payment captured.
        paid: Money,
        /// The amount fact deducted, e.g. `invoiced_amount`.
        fact: FactName,
        /// Its value.
        deducted: Money,
    },
    /// An amount fact minus a fee from the pack's `[fees]`.
    FactMinusFee {
        /// The amount fact, e.g. `balance`.
        fact: FactName,
        /// Its value.
        value: Money,
        /// The fee's name in the pack's `[fees]`, e.g. `bank_fee`.
        fee: String,
        /// The fee's amount.
        fee_amount: Money,
    },
}

/// Something the merchant must do by a date because of this decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Effect {
    /// What must be done, a snake_case name from the pack (e.g. `access_revocation`).
    pub kind: String,
    /// The local date it must be done by.
    pub due_by: NaiveDate,
    /// The pack's clause for the effect, in English.
    pub clause: String,
    /// The same clause in the pack's other languages (`ru`, `kk`, `lv`).
    pub clause_translations: BTreeMap<Language, String>,
}

/// The engine's answer; serializes to the JSON `refundd quote` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The engine's answer: approve, reject, needs info or manual review.
    pub decision: DecisionKind,
    /// The refund for `approve`, `"0.00"` for `reject`, null when not yet known.
    pub amount: Option<Money>,
    /// The payment's currency, which is the pack's.
    pub currency: Currency,
    /// The local date the money must be back by (approve only).
    pub refund_due_by: Option<NaiveDate>,
    /// The policy text applied, quotable to the customer, in English.
    pub clause: String,
    /// The same text in the other languages the pack writes it in (`ru`, `kk`, `lv`); empty
    /// when the pack has English only, or the engine wrote the text (no rule applied, nothing
    /// left to refund).
    pub clause_translations: BTreeMap<Language, String>,
    /// The id of the pack rule applied (null when no rule covered the case or a cap decided).
    pub rule: Option<String>,
    /// Facts and documents to ask for (`needs_info`).
    pub missing: Vec<String>,
    /// Where the money goes (approve only).
    pub payout_method: Option<PayoutMethod>,
    /// True when an approval must wait for a person to confirm it (`awaiting_confirmation`).
    pub requires_confirmation: bool,
    /// What the merchant must do by a date because of this decision.
    pub effects: Vec<Effect>,
    /// The id of the pack applied.
    pub policy: String,
    /// The version of the pack applied: the first 16 hex digits of its file's SHA-256.
    pub policy_version: String,
    /// The local dates the decision counted from.
    pub received_on: NaiveDate,
    /// The local date the last required item arrived.
    pub complete_on: NaiveDate,
    /// Every fact consulted, as used (dates local), including pack defaults.
    pub facts_used: BTreeMap<FactName, serde_json::Value>,
    /// Facts whose absence the decision relied on (an `absent` condition that held). For an
    /// application read from an email, the absence of a fact the pack lists in
    /// `email_must_state` only means the email did not say it, so such a decision is not
    /// taken automatically (see the decide stage).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub facts_taken_absent: Vec<FactName>,
    /// Documents consulted and present.
    pub documents_used: Vec<DocumentKind>,
    /// How the amount was reached, when an approving rule computed one.
    pub calculation: Option<Calculation>,
    /// True when the amount was cut to what is left of the payment.
    pub capped: bool,
}

/// Something a request lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Missing {
    Fact(FactName),
    Document(DocumentKind),
}

impl Missing {
    fn name(self) -> &'static str {
        match self {
            Missing::Fact(f) => f.name(),
            Missing::Document(d) => d.name(),
        }
    }
}

/// The three-valued result of a condition.
enum Truth {
    True,
    False,
    Unknown(BTreeSet<Missing>),
}

impl Truth {
    fn from_bool(value: bool) -> Truth {
        if value { Truth::True } else { Truth::False }
    }

    fn unknown(fact: FactName) -> Truth {
        Truth::Unknown(BTreeSet::from([Missing::Fact(fact)]))
    }

    /// Conjunction: any false makes it false; otherwise any unknown makes it unknown.
    fn and(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::False, _) | (_, Truth::False) => Truth::False,
            (Truth::Unknown(mut a), Truth::Unknown(b)) => {
                a.extend(b);
                Truth::Unknown(a)
            }
            (Truth::Unknown(a), Truth::True) | (Truth::True, Truth::Unknown(a)) => {
                Truth::Unknown(a)
            }
            (Truth::True, Truth::True) => Truth::True,
        }
    }
}

/// An approved amount before caps, or the facts it still needs.
enum Computed {
    Amount {
        amount: Money,
        calculation: Calculation,
        clause: Option<Clause>,
    },
    Needs(BTreeSet<Missing>),
}

/// Decides `input` under `pack`, counting days on `calendar` (the pack country's).
pub fn decide(
    pack: &PolicyPack,
    calendar: &WorkingDayCalendar,
    input: &QuoteInput,
) -> Result<Decision, QuoteError> {
    evaluation(pack, calendar, input)?.decide()
}

/// The date a request is due by the pack's default SLA (`[sla]`), whatever its rules say: the
/// due date of a request a person decides when the engine gave none (an approval after a
/// rejection was doubted, a request in review from before packs dated it).
pub fn default_due(
    pack: &PolicyPack,
    calendar: &WorkingDayCalendar,
    input: &QuoteInput,
) -> Result<NaiveDate, QuoteError> {
    evaluation(pack, calendar, input)?.sla_due(&pack.sla)
}

fn evaluation<'a>(
    pack: &'a PolicyPack,
    calendar: &'a WorkingDayCalendar,
    input: &'a QuoteInput,
) -> Result<Evaluation<'a>, QuoteError> {
    if input.policy != pack.id().as_str() {
        return Err(QuoteError::WrongPack {
            requested: input.policy.clone(),
            pack: pack.id().to_string(),
        });
    }
    let currency = pack.currency();
    if input.payment.currency != currency {
        return Err(QuoteError::CurrencyNotThePacks {
            given: input.payment.currency,
            expected: currency,
            pack: pack.id().to_string(),
        });
    }
    let captured = amount_in(input.payment.amount, currency, "payment.amount")?;
    let refunded = match input.payment.refunded {
        Some(r) => amount_in(r, currency, "payment.refunded")?,
        None => Money::zero(currency),
    };
    if refunded.minor() > captured.minor() {
        return Err(QuoteError::RefundedExceedsCaptured { refunded, captured });
    }
    let zone = pack.timezone();
    let paid_on = input.payment.paid_at.local_date(zone);
    let received_on = input.received_at.local_date(zone);
    let complete_on = input
        .complete_at
        .map_or(received_on, |c| c.local_date(zone));
    if received_on < paid_on {
        return Err(QuoteError::ReceivedBeforePayment {
            received: received_on,
            paid: paid_on,
        });
    }
    if complete_on < received_on {
        return Err(QuoteError::CompleteBeforeReceived {
            complete: complete_on,
            received: received_on,
        });
    }
    let run = Evaluation {
        pack,
        calendar,
        input,
        captured,
        available: captured
            .checked_sub(refunded)
            .map_err(|source| QuoteError::BadAmount {
                field: "payment.refunded",
                source,
            })?,
        paid_on,
        received_on,
        complete_on,
        facts_used: BTreeMap::new(),
        facts_taken_absent: BTreeSet::new(),
        documents_used: BTreeSet::new(),
    };
    Ok(run)
}

/// The amount facts as the engine reads them (in the payment's currency, never negative),
/// checked up front: the API refuses facts the engine would refuse, so a bad fact is a 422
/// for the person who typed it instead of a request the engine cannot decide.
pub fn check_amount_facts(facts: &Facts, currency: Currency) -> Result<(), QuoteError> {
    for fact in [FactName::InvoicedAmount, FactName::Balance] {
        if let Some(FactValue::Amount(amount)) = facts.get(fact) {
            amount_in(amount, currency, amount_field(fact))?;
        }
    }
    Ok(())
}

/// The field an amount fact is named by in errors.
fn amount_field(fact: FactName) -> &'static str {
    match fact {
        FactName::InvoicedAmount => "facts.invoiced_amount",
        FactName::Balance => "facts.balance",
        _ => "facts",
    }
}

fn amount_in(
    amount: DecimalAmount,
    currency: Currency,
    field: &'static str,
) -> Result<Money, QuoteError> {
    let money = amount
        .in_currency(currency)
        .map_err(|source| QuoteError::BadAmount { field, source })?;
    if money.is_negative() {
        return Err(QuoteError::NegativeAmount { field });
    }
    Ok(money)
}

/// One run of the engine: the request's dates and amounts, and a record of what it consulted.
struct Evaluation<'a> {
    pack: &'a PolicyPack,
    calendar: &'a WorkingDayCalendar,
    input: &'a QuoteInput,
    captured: Money,
    /// Captured minus already refunded: the cap on any refund.
    available: Money,
    paid_on: NaiveDate,
    received_on: NaiveDate,
    complete_on: NaiveDate,
    facts_used: BTreeMap<FactName, serde_json::Value>,
    facts_taken_absent: BTreeSet<FactName>,
    documents_used: BTreeSet<DocumentKind>,
}

impl<'a> Evaluation<'a> {
    fn decide(&mut self) -> Result<Decision, QuoteError> {
        let pack = self.pack;
        // When a rule cannot be told yet, the customer is asked once for everything any rule
        // still possible would need: the facts their conditions read, and what each approving
        // one needs to compute and pay its amount, down to the first rule that surely holds.
        let mut asking: Option<(&Rule, BTreeSet<Missing>)> = None;
        for rule in pack.rules() {
            match self.holds(&rule.when)? {
                Truth::False => continue,
                Truth::Unknown(mut missing) => {
                    missing.extend(self.would_need(rule)?);
                    match &mut asking {
                        Some((_, all)) => all.extend(missing),
                        None => asking = Some((rule, missing)),
                    }
                }
                Truth::True => match &mut asking {
                    None => return self.apply(rule),
                    Some((_, all)) => {
                        all.extend(self.would_need(rule)?);
                        break;
                    }
                },
            }
        }
        if let Some((rule, missing)) = asking {
            return Ok(self.needs_info(missing, rule.clause.clone(), Some(rule)));
        }
        Ok(self.finish(
            DecisionKind::ManualReview,
            None,
            Clause::new(
                "No rule of this policy covers the request: a person will review it.",
                BTreeMap::from([
                    (
                        Language::Ru,
                        "Условия возврата не описывают такой случай: заявление рассмотрит сотрудник."
                            .to_owned(),
                    ),
                    (
                        Language::Kk,
                        "Қайтару шарттарында мұндай жағдай қарастырылмаған: өтінішті қызметкер қарайды."
                            .to_owned(),
                    ),
                    (
                        Language::Lv,
                        "Atmaksas noteikumi šādu gadījumu neparedz: pieteikumu izskatīs darbinieks."
                            .to_owned(),
                    ),
                ]),
            ),
            None,
        ))
        .and_then(|decision| self.person_decides_by(decision, &pack.sla))
    }

    /// A request a person decides is complete all the same: it is due by the pack's default
    /// SLA (the `[sla]` table; a rule that does not approve has no SLA of its own).
    fn person_decides_by(
        &mut self,
        mut decision: Decision,
        sla: &Sla,
    ) -> Result<Decision, QuoteError> {
        decision.refund_due_by = Some(self.sla_due(sla)?);
        Ok(decision)
    }

    fn apply(&mut self, rule: &'a Rule) -> Result<Decision, QuoteError> {
        let computed = match &rule.outcome {
            Outcome::Reject => {
                let mut decision = self.finish(
                    DecisionKind::Reject,
                    Some(Money::zero(self.captured.currency())),
                    rule.clause.clone(),
                    Some(rule),
                );
                decision.effects = self.effects(DecisionKind::Reject)?;
                return Ok(decision);
            }
            Outcome::ManualReview => {
                let mut decision = self.finish(
                    DecisionKind::ManualReview,
                    None,
                    rule.clause.clone(),
                    Some(rule),
                );
                decision.effects = self.effects(DecisionKind::ManualReview)?;
                let pack = self.pack;
                return self.person_decides_by(decision, &pack.sla);
            }
            approving => self.compute(approving)?,
        };

        let mut missing: Vec<(BTreeSet<Missing>, Clause)> = Vec::new();
        let (amount, calculation, clause) = match computed {
            Computed::Needs(facts) => {
                missing.push((facts, rule.clause.clone()));
                (None, None, rule.clause.clone())
            }
            Computed::Amount {
                amount,
                calculation,
                clause,
            } => (
                Some(amount),
                Some(calculation),
                clause.unwrap_or_else(|| rule.clause.clone()),
            ),
        };

        // Nothing to pay means a refusal, whatever else is missing.
        if let Some(amount) = amount {
            if amount.minor() <= 0 {
                let mut decision = self.finish(
                    DecisionKind::Reject,
                    Some(Money::zero(amount.currency())),
                    clause,
                    Some(rule),
                );
                decision.calculation = calculation;
                decision.effects = self.effects(DecisionKind::Reject)?;
                return Ok(decision);
            }
            if self.available.is_zero() {
                let mut decision = self.finish(
                    DecisionKind::Reject,
                    Some(Money::zero(amount.currency())),
                    nothing_left(
                        self.captured
                            .checked_sub(self.available)
                            .unwrap_or(self.captured),
                        self.captured,
                    ),
                    None,
                );
                decision.calculation = calculation;
                decision.effects = self.effects(DecisionKind::Reject)?;
                return Ok(decision);
            }
        }

        let payout_method = self.requirements(rule, &mut missing)?;
        missing.retain(|(items, _)| !items.is_empty());
        if let Some((_, first_clause)) = missing.first() {
            let clause = first_clause.clone();
            let all: BTreeSet<Missing> = missing.into_iter().flat_map(|(m, _)| m).collect();
            return Ok(self.needs_info(all, clause, Some(rule)));
        }
        let Some(amount) = amount else {
            unreachable!("an approving outcome without an amount always records what it needs")
        };

        let capped = amount.minor() > self.available.minor();
        let amount = if capped { self.available } else { amount };
        let sla = rule.sla.as_ref().unwrap_or(&self.pack.sla);
        let due = self.sla_due(sla)?;
        let mut decision = self.finish(DecisionKind::Approve, Some(amount), clause, Some(rule));
        decision.refund_due_by = Some(due);
        decision.payout_method = Some(payout_method);
        decision.requires_confirmation = rule
            .requires_confirmation
            .unwrap_or(self.pack.requires_confirmation);
        decision.calculation = calculation;
        decision.capped = capped;
        decision.effects = self.effects(DecisionKind::Approve)?;
        Ok(decision)
    }

    /// What an approving `rule` needs before it pays, each with the clause that asks for it:
    /// its own and the pack's requirements, and the payout rules' (their facts while they
    /// cannot be told, the requirements of the first that holds). Returns the payout method.
    fn requirements(
        &mut self,
        rule: &Rule,
        missing: &mut Vec<(BTreeSet<Missing>, Clause)>,
    ) -> Result<PayoutMethod, QuoteError> {
        let rule_requires_clause = rule.requires.clause.clone().unwrap_or(rule.clause.clone());
        missing.push((self.unmet(&rule.requires), rule_requires_clause));
        let pack = self.pack;
        let pack_requires = &pack.approval_requires;
        missing.push((
            self.unmet(pack_requires),
            pack_requires.clause.clone().unwrap_or(rule.clause.clone()),
        ));

        let mut payout_method = rule.payout.unwrap_or(pack.payout);
        for payout_rule in &pack.payout_rules {
            match self.holds(&payout_rule.when)? {
                Truth::False => {}
                Truth::Unknown(facts) => missing.push((facts, payout_rule.clause.clone())),
                Truth::True => {
                    payout_method = payout_rule.method;
                    let needs_clause = payout_rule
                        .requires
                        .clause
                        .clone()
                        .unwrap_or(payout_rule.clause.clone());
                    missing.push((self.unmet(&payout_rule.requires), needs_clause));
                    break;
                }
            }
        }
        Ok(payout_method)
    }

    /// What `rule` would still need to decide were its condition to hold: for an approving
    /// rule, the facts its amount is computed from and its [`Self::requirements`] (nothing
    /// when the amount it computes is nothing, as it would then refuse); for others, nothing.
    fn would_need(&mut self, rule: &Rule) -> Result<BTreeSet<Missing>, QuoteError> {
        let mut needed = BTreeSet::new();
        if !rule.outcome.approves() {
            return Ok(needed);
        }
        match self.compute(&rule.outcome)? {
            Computed::Needs(facts) => needed.extend(facts),
            Computed::Amount { amount, .. } => {
                if amount.minor() <= 0 || self.available.is_zero() {
                    return Ok(needed);
                }
            }
        }
        let mut missing = Vec::new();
        self.requirements(rule, &mut missing)?;
        needed.extend(missing.into_iter().flat_map(|(items, _)| items));
        Ok(needed)
    }

    fn compute(&mut self, outcome: &Outcome) -> Result<Computed, QuoteError> {
        let paid = self.captured;
        let needs = |fact: FactName| Computed::Needs(BTreeSet::from([Missing::Fact(fact)]));
        Ok(match outcome {
            Outcome::Reject | Outcome::ManualReview => {
                unreachable!("only approving outcomes compute an amount")
            }
            Outcome::Full => Computed::Amount {
                amount: paid,
                calculation: Calculation::Full { paid },
                clause: None,
            },
            Outcome::Tiers(tiers) => {
                let Some(FactValue::Percent(value)) = self.fact(tiers.fact) else {
                    return Ok(needs(tiers.fact));
                };
                let band = tiers
                    .bands
                    .iter()
                    .find(|b| value.value() <= b.up_to)
                    .expect("pack validation makes the last band reach 100");
                Computed::Amount {
                    amount: paid.percent(u32::from(band.percent)).map_err(|source| {
                        QuoteError::BadAmount {
                            field: "payment.amount",
                            source,
                        }
                    })?,
                    calculation: Calculation::Tier {
                        fact: tiers.fact,
                        value: value.value(),
                        percent: band.percent,
                        paid,
                    },
                    clause: band.clause.clone(),
                }
            }
            Outcome::ProRataDays(pro_rata) => {
                let Some(start) = self.date_fact(pro_rata.from.0) else {
                    return Ok(needs(pro_rata.from.0));
                };
                let term_end = start
                    .checked_add_months(chrono::Months::new(pro_rata.term_months))
                    .unwrap_or(NaiveDate::MAX);
                let term_days = days_between(start, term_end);
                let used_days = days_between(start, self.received_on).min(term_days);
                let rendered = if term_days == 0 {
                    paid
                } else {
                    paid.proportion(u64::from(used_days), u64::from(term_days))
                        .map_err(|source| QuoteError::BadAmount {
                            field: "payment.amount",
                            source,
                        })?
                };
                Computed::Amount {
                    amount: subtract(paid, rendered)?,
                    calculation: Calculation::ProRataDays {
                        paid,
                        term_days,
                        used_days,
                        rendered,
                    },
                    clause: None,
                }
            }
            Outcome::PaidMinus(fact) => {
                let Some(deducted) = self.amount_fact(fact.0)? else {
                    return Ok(needs(fact.0));
                };
                Computed::Amount {
                    amount: subtract(paid, deducted)?,
                    calculation: Calculation::PaidMinus {
                        paid,
                        fact: fact.0,
                        deducted,
                    },
                    clause: None,
                }
            }
            Outcome::FactMinusFee(minus) => {
                let Some(value) = self.amount_fact(minus.fact.0)? else {
                    return Ok(needs(minus.fact.0));
                };
                let fee_amount = self.pack.fees[&minus.fee];
                Computed::Amount {
                    amount: subtract(value, fee_amount)?,
                    calculation: Calculation::FactMinusFee {
                        fact: minus.fact.0,
                        value,
                        fee: minus.fee.clone(),
                        fee_amount,
                    },
                    clause: None,
                }
            }
        })
    }

    /// Evaluates a condition, recording the facts it reads.
    fn holds(&mut self, when: &When) -> Result<Truth, QuoteError> {
        let mut truth = Truth::True;
        if !when.reason.is_empty() {
            truth = truth.and(Truth::from_bool(when.reason.contains(&self.input.reason)));
        }
        for (fact, expected) in &when.is {
            let part = match self.fact(fact.0) {
                Some(FactValue::YesNo(value)) => Truth::from_bool(value == *expected),
                _ => Truth::unknown(fact.0),
            };
            truth = truth.and(part);
        }
        let mut taken_absent = Vec::new();
        for fact in &when.absent {
            let absent = self.fact(*fact).is_none();
            if absent {
                taken_absent.push(*fact);
            }
            truth = truth.and(Truth::from_bool(absent));
        }
        for fact in &when.present {
            truth = truth.and(Truth::from_bool(self.fact(*fact).is_some()));
        }
        if !when.any_true.is_empty() {
            let mut unknown = BTreeSet::new();
            let mut any = false;
            for fact in &when.any_true {
                match self.fact(fact.0) {
                    Some(FactValue::YesNo(true)) => any = true,
                    Some(_) => {}
                    None => {
                        unknown.insert(Missing::Fact(fact.0));
                    }
                }
            }
            truth = truth.and(if any {
                Truth::True
            } else if unknown.is_empty() {
                Truth::False
            } else {
                Truth::Unknown(unknown)
            });
        }
        for fact in &when.after_received {
            let part = match self.date_fact(fact.0) {
                Some(date) => Truth::from_bool(date > self.received_on),
                None => Truth::unknown(fact.0),
            };
            truth = truth.and(part);
        }
        for fact in &when.below_paid {
            let part = match self.amount_fact(fact.0)? {
                Some(amount) => Truth::from_bool(amount.minor() < self.captured.minor()),
                None => Truth::unknown(fact.0),
            };
            truth = truth.and(part);
        }
        if let Some(window) = &when.within {
            let part = self.received_within(window)?;
            truth = truth.and(part);
        }
        if let Some(window) = &when.outside {
            let part = match self.received_within(window)? {
                Truth::True => Truth::False,
                Truth::False => Truth::True,
                unknown => unknown,
            };
            truth = truth.and(part);
        }
        if matches!(truth, Truth::True) {
            self.facts_taken_absent.extend(taken_absent);
        }
        Ok(truth)
    }

    /// Whether the received date is on or before the window's last day.
    fn received_within(&mut self, window: &Window) -> Result<Truth, QuoteError> {
        let Some(start) = self.date_of(window.from) else {
            let DateSource::Fact(fact) = window.from else {
                unreachable!("only fact dates can be missing")
            };
            return Ok(Truth::unknown(fact));
        };
        let last_day = self.term_end(start, window.term)?;
        Ok(Truth::from_bool(self.received_on <= last_day))
    }

    fn term_end(&self, start: NaiveDate, term: Term) -> Result<NaiveDate, QuoteError> {
        Ok(match term {
            Term::CalendarDays(n) => {
                self.calendar
                    .add_calendar_days(start, n, self.pack.extend_to_working_day)?
            }
            Term::WorkingDays(n) => self.calendar.add_working_days(start, n)?,
        })
    }

    fn sla_due(&mut self, sla: &Sla) -> Result<NaiveDate, QuoteError> {
        let start = match self.date_of(sla.from) {
            Some(date) => date,
            None => self.date_of(sla.otherwise).unwrap_or(self.complete_on),
        };
        let mut due: Option<NaiveDate> = None;
        for term in &sla.terms {
            let end = self.term_end(start, *term)?;
            due = Some(due.map_or(end, |d| d.min(end)));
        }
        Ok(due.unwrap_or(start))
    }

    fn effects(&mut self, decision: DecisionKind) -> Result<Vec<Effect>, QuoteError> {
        let mut effects = Vec::new();
        for effect in &self.pack.effects {
            if !effect.on.contains(&decision) {
                continue;
            }
            let start = self.date_of(effect.from).unwrap_or(self.received_on);
            effects.push(Effect {
                kind: effect.kind.clone(),
                due_by: self.term_end(start, effect.term)?,
                clause: effect.clause.en().to_owned(),
                clause_translations: effect.clause.translations().clone(),
            });
        }
        Ok(effects)
    }

    fn date_of(&mut self, source: DateSource) -> Option<NaiveDate> {
        match source {
            DateSource::PaidAt => Some(self.paid_on),
            DateSource::Received => Some(self.received_on),
            DateSource::Complete => Some(self.complete_on),
            DateSource::Fact(fact) => self.date_fact(fact),
        }
    }

    /// The request's value of `fact`, else the pack's default, recorded as used.
    fn fact(&mut self, fact: FactName) -> Option<FactValue<'a>> {
        let value = self
            .input
            .facts
            .get(fact)
            .or_else(|| self.pack.defaults.get(fact))?;
        let zone = self.pack.timezone();
        let recorded = match &value {
            FactValue::YesNo(v) => serde_json::Value::Bool(*v),
            FactValue::Date(d) => serde_json::Value::String(d.local_date(zone).to_string()),
            FactValue::Text(t) => serde_json::Value::String((*t).to_owned()),
            FactValue::Percent(p) => serde_json::Value::from(p.value()),
            FactValue::Amount(a) => serde_json::Value::String(a.to_string()),
        };
        self.facts_used.insert(fact, recorded);
        Some(value)
    }

    fn date_fact(&mut self, fact: FactName) -> Option<NaiveDate> {
        match self.fact(fact)? {
            FactValue::Date(d) => Some(d.local_date(self.pack.timezone())),
            _ => None,
        }
    }

    fn amount_fact(&mut self, fact: FactName) -> Result<Option<Money>, QuoteError> {
        let Some(FactValue::Amount(amount)) = self.fact(fact) else {
            return Ok(None);
        };
        amount_in(amount, self.captured.currency(), amount_field(fact)).map(Some)
    }

    /// The requirements not met; yes/no facts must be true, text must not be blank.
    fn unmet(&mut self, requires: &Requirements) -> BTreeSet<Missing> {
        let mut missing = BTreeSet::new();
        for fact in &requires.facts {
            if self.fact(*fact).is_none() {
                missing.insert(Missing::Fact(*fact));
            }
        }
        for fact in &requires.true_facts {
            if self.fact(fact.0) != Some(FactValue::YesNo(true)) {
                missing.insert(Missing::Fact(fact.0));
            }
        }
        for document in &requires.documents {
            if self.input.documents.contains(document) {
                self.documents_used.insert(*document);
            } else {
                missing.insert(Missing::Document(*document));
            }
        }
        missing
    }

    fn needs_info(
        &mut self,
        missing: BTreeSet<Missing>,
        clause: Clause,
        rule: Option<&Rule>,
    ) -> Decision {
        let mut decision = self.finish(DecisionKind::NeedsInfo, None, clause, rule);
        decision.missing = missing.into_iter().map(|m| m.name().to_owned()).collect();
        decision
    }

    fn finish(
        &mut self,
        decision: DecisionKind,
        amount: Option<Money>,
        clause: Clause,
        rule: Option<&Rule>,
    ) -> Decision {
        Decision {
            decision,
            amount,
            currency: self.captured.currency(),
            refund_due_by: None,
            clause: clause.en().to_owned(),
            clause_translations: clause.translations().clone(),
            rule: rule.map(|r| r.id.clone()),
            missing: Vec::new(),
            payout_method: None,
            requires_confirmation: false,
            effects: Vec::new(),
            policy: self.pack.id().to_string(),
            policy_version: self.pack.version().to_owned(),
            received_on: self.received_on,
            complete_on: self.complete_on,
            facts_used: self.facts_used.clone(),
            facts_taken_absent: self.facts_taken_absent.iter().copied().collect(),
            documents_used: self.documents_used.iter().copied().collect(),
            calculation: None,
            capped: false,
        }
    }
}

fn days_between(from: NaiveDate, to: NaiveDate) -> u32 {
    u32::try_from((to - from).num_days().max(0)).unwrap_or(u32::MAX)
}

/// `a - b`, never below zero (a refund is never negative).
fn subtract(a: Money, b: Money) -> Result<Money, QuoteError> {
    let difference = a.checked_sub(b).map_err(|source| QuoteError::BadAmount {
        field: "facts",
        source,
    })?;
    Ok(if difference.is_negative() {
        Money::zero(a.currency())
    } else {
        difference
    })
}

/// The clause of a rejection because earlier refunds took everything: `refunded` of the
/// `captured` amount, in English and, with amounts written as each language writes them, in
/// Russian, Kazakh and Latvian (our words: no merchant's terms say this).
fn nothing_left(refunded: Money, captured: Money) -> Clause {
    use crate::notify::format_money;
    Clause::new(
        format!(
            "Nothing is left to refund: {refunded} of the {captured} paid has already been refunded."
        ),
        BTreeMap::from([
            (
                Language::Ru,
                format!(
                    "Возвращать больше нечего: из уплаченных {} уже возвращено {}.",
                    format_money(captured, Language::Ru),
                    format_money(refunded, Language::Ru)
                ),
            ),
            (
                Language::Kk,
                format!(
                    "Қайтаратын қаражат қалмады: төленген {} ішінен {} қайтарылып қойған.",
                    format_money(captured, Language::Kk),
                    format_money(refunded, Language::Kk)
                ),
            ),
            (
                Language::Lv,
                format!(
                    "Vairs nav ko atmaksāt: no samaksātajiem {} jau atmaksāti {}.",
                    format_money(captured, Language::Lv),
                    format_money(refunded, Language::Lv)
                ),
            ),
        ]),
    )
}
