//! Policy packs: the TOML format merchants write their refund rules in, loading it, and
//! validating every field so a bad file is refused with its name, line, field and problem.
//!
//! A pack is data, not code: an ordered list of rules, each a condition (`when`) and an
//! outcome, plus the pack-wide terms (SLA, payout, documents, fees, side effects). The engine in
//! [`mod@super::decide`] interprets it. The format is documented in `shared/data/policies/README.md`.
//!
//! The pack's `[sla]` table is its default SLA: it dates an approval whose rule has no `sla` of
//! its own, and every request a person decides (`manual_review`, whether no rule covers the
//! request or a rule sends it to a person), so no complete request goes without a due date.
//!
//! Every `clause` (of a rule, a tier band, `requires`, a payout rule, an effect) is either an
//! English string or a table of texts by language, `en` required and `ru`, `kk`, `lv`
//! optional: `clause = { en = "...", ru = "..." }`, or `clause.en = "..."` and `clause.ru =
//! "..."` on lines of their own. Customers are quoted the text in their language
//! ([`Clause::for_reader`]); any other language code stops the pack.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::clause::Clause;
use super::facts::{
    AmountFact, DateFact, DocumentKind, FactName, Facts, PercentFact, Reason, YesNoFact,
};
use crate::api_keys::ApiRole;
use crate::calendar::Country;
use crate::money::{Currency, DecimalAmount, Money};

/// A pack file that cannot be used: which file, where, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {field}: {problem}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct PackError {
    /// The pack file (or directory) as given.
    pub file: String,
    /// The 1-based line in the file, when known.
    pub line: Option<usize>,
    /// The field's path, arrays counted from 1 (`rules[1].when.reason[1]`), or `(file)`.
    pub field: String,
    /// What is wrong, in plain words.
    pub problem: String,
}

/// A pack id: lowercase letters, digits and hyphens, starting with a letter (`by-online-courses`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PolicyId(String);

impl PolicyId {
    /// Checks `text` is a valid pack id; the error says what a pack id must be.
    pub fn parse(text: &str) -> Result<Self, String> {
        let valid = text.len() <= 64
            && text.starts_with(|c: char| c.is_ascii_lowercase())
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if valid {
            Ok(PolicyId(text.to_owned()))
        } else {
            Err(format!(
                "`{text}` is not a pack id: use lowercase letters, digits and hyphens, \
                 starting with a letter, at most 64 characters"
            ))
        }
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PolicyId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        PolicyId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Where a refund goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutMethod {
    /// Back to the card that paid (by gateway transaction id).
    #[default]
    OriginalCard,
    /// To bank details the customer gives.
    BankTransfer,
}

/// The four answers the engine gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Refund an amount.
    Approve,
    /// Refuse, quoting a clause.
    Reject,
    /// Ask the customer for the facts or documents that are missing.
    NeedsInfo,
    /// A person decides.
    ManualReview,
}

/// A length of time from a start date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Term {
    /// Ends on start + N; moved to the next working day when the pack says so.
    CalendarDays(u32),
    /// Ends on the N-th working day strictly after the start.
    WorkingDays(u32),
}

/// The date a window, deadline or effect counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateSource {
    /// The local date of the payment.
    PaidAt,
    /// The date the application first reached us.
    Received,
    /// The date the last required item arrived.
    Complete,
    /// A date fact of the request.
    Fact(FactName),
}

impl<'de> Deserialize<'de> for DateSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "paid_at" => Ok(DateSource::PaidAt),
            "received" => Ok(DateSource::Received),
            "complete" => Ok(DateSource::Complete),
            other => {
                let fact = DateFact::deserialize(serde::de::value::StrDeserializer::<
                    serde::de::value::Error,
                >::new(other))
                .map_err(|e| {
                    serde::de::Error::custom(format!(
                        "expected `paid_at`, `received`, `complete` or a date fact: {e}"
                    ))
                })?;
                Ok(DateSource::Fact(fact.0))
            }
        }
    }
}

/// "Received within N days from D" (or outside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "WindowWire")]
pub struct Window {
    /// The date the window counts from.
    pub from: DateSource,
    /// How long the window lasts.
    pub term: Term,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowWire {
    from: DateSource,
    calendar_days: Option<u32>,
    working_days: Option<u32>,
}

impl TryFrom<WindowWire> for Window {
    type Error = String;

    fn try_from(wire: WindowWire) -> Result<Self, String> {
        let term = match (wire.calendar_days, wire.working_days) {
            (Some(n), None) => Term::CalendarDays(n),
            (None, Some(n)) => Term::WorkingDays(n),
            _ => {
                return Err(
                    "a window needs exactly one of `calendar_days` or `working_days`".into(),
                );
            }
        };
        Ok(Window {
            from: wire.from,
            term,
        })
    }
}

/// A rule's condition: every stated test must hold. An empty `when` always holds.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// The reason is one of these.
    #[serde(default)]
    pub reason: Vec<Reason>,
    /// Yes/no facts with the value they must have.
    #[serde(default)]
    pub is: BTreeMap<YesNoFact, bool>,
    /// Facts the request does not state.
    #[serde(default)]
    pub absent: Vec<FactName>,
    /// Facts the request states.
    #[serde(default)]
    pub present: Vec<FactName>,
    /// At least one of these yes/no facts is true.
    #[serde(default)]
    pub any_true: Vec<YesNoFact>,
    /// These dates fall after the received date.
    #[serde(default)]
    pub after_received: Vec<DateFact>,
    /// These amounts are less than the paid amount.
    #[serde(default)]
    pub below_paid: Vec<AmountFact>,
    /// The application was received on or before the window's last day.
    pub within: Option<Window>,
    /// The application was received after the window's last day.
    pub outside: Option<Window>,
}

/// What must be on file before money moves; anything missing is named in `needs_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// Facts that must be stated (text must not be blank).
    #[serde(default)]
    pub facts: Vec<FactName>,
    /// Yes/no facts that must be stated and true.
    #[serde(default, rename = "true")]
    pub true_facts: Vec<YesNoFact>,
    /// Documents the application must include.
    #[serde(default)]
    pub documents: Vec<DocumentKind>,
    /// The clause quoted when something is missing (a rule's own clause when absent).
    pub clause: Option<Clause>,
}

impl Requirements {
    fn is_empty(&self) -> bool {
        self.facts.is_empty() && self.true_facts.is_empty() && self.documents.is_empty()
    }
}

/// One band of a tiered refund: fact values from the previous band's `up_to` + 1 to `up_to`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// The highest fact value (0-100) this band covers.
    pub up_to: u8,
    /// Share of the paid amount refunded, whole percent.
    pub percent: u8,
    /// Quoted instead of the rule's clause when this band applies.
    pub clause: Option<Clause>,
}

/// Refund a share of the paid amount chosen by a whole-percent fact.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "TiersWire")]
pub struct Tiers {
    /// The whole-percent fact that chooses the band.
    pub fact: FactName,
    /// The bands, rising by `up_to`; the last reaches 100.
    pub bands: Vec<Band>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TiersWire {
    fact: PercentFact,
    bands: Vec<Band>,
}

impl TryFrom<TiersWire> for Tiers {
    type Error = String;

    fn try_from(wire: TiersWire) -> Result<Self, String> {
        if wire.bands.is_empty() {
            return Err("tiers need at least one band".into());
        }
        let mut previous: Option<u8> = None;
        for band in &wire.bands {
            if band.percent > 100 {
                return Err(format!(
                    "band up to {} refunds {} %, more than 100 %",
                    band.up_to, band.percent
                ));
            }
            if let Some(prev) = previous
                && band.up_to <= prev
            {
                return Err(format!(
                    "bands must rise: up_to {} follows up_to {prev}",
                    band.up_to
                ));
            }
            previous = Some(band.up_to);
        }
        if previous != Some(100) {
            return Err(
                "the last band must have up_to = 100 so every value 0-100 is covered".into(),
            );
        }
        Ok(Tiers {
            fact: wire.fact.0,
            bands: wire.bands,
        })
    }
}

/// Paid minus the services rendered, pro rata by calendar days of a term in months.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProRataDays {
    /// The date the service started (term and used days count from it).
    pub from: DateFact,
    /// The term: from the start date to the same day this many months later.
    pub term_months: u32,
}

/// An amount fact minus a fee named in the pack's `[fees]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactMinusFee {
    /// The amount fact, e.g. `balance`.
    pub fact: AmountFact,
    /// The name of the fee in `[fees]`, e.g. `bank_fee`.
    pub fee: String,
}

/// What a rule decides when its condition holds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Approve the whole paid amount.
    Full,
    /// Refuse, quoting the rule's clause.
    Reject,
    /// The policy is silent: a person decides.
    ManualReview,
    /// Approve a share of the paid amount chosen by a fact.
    Tiers(Tiers),
    /// Approve paid minus the days of service used.
    ProRataDays(ProRataDays),
    /// Approve the paid amount minus an amount fact (`paid - invoiced`).
    PaidMinus(AmountFact),
    /// Approve an amount fact minus a pack fee (`balance - bank_fee`).
    FactMinusFee(FactMinusFee),
}

impl Outcome {
    pub(crate) fn approves(&self) -> bool {
        !matches!(self, Outcome::Reject | Outcome::ManualReview)
    }
}

/// When money must be back with the customer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    /// The date the clock starts (default: the complete date).
    #[serde(default = "complete")]
    pub from: DateSource,
    /// Used when `from` names a fact the request does not state (default: the complete date).
    #[serde(default = "complete")]
    pub otherwise: DateSource,
    /// The deadline is the earliest of these terms.
    pub terms: Vec<Term>,
}

fn complete() -> DateSource {
    DateSource::Complete
}

/// A rule that changes where the money goes, possibly asking for more facts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutRule {
    /// The condition; the first payout rule whose condition holds sets the method.
    pub when: When,
    /// Where the money goes when the condition holds.
    pub method: PayoutMethod,
    /// What must also be on file when the condition holds.
    #[serde(default)]
    pub requires: Requirements,
    /// Quoted when the condition cannot be told, or (by default) when a requirement is missing.
    pub clause: Clause,
}

/// Something the merchant must do by a date once a decision is made (revoke access, ...).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EffectRule {
    /// A snake_case event name, e.g. `access_revocation`.
    pub kind: String,
    /// The date the term counts from; the received date by default or when a fact date is missing.
    #[serde(default = "received")]
    pub from: DateSource,
    /// How long after `from` it is due.
    pub term: Term,
    /// The decisions that trigger it (default: approve, reject, manual_review).
    #[serde(default = "final_decisions")]
    pub on: Vec<DecisionKind>,
    /// The text recorded with the effect, in English and possibly other languages.
    pub clause: Clause,
}

fn received() -> DateSource {
    DateSource::Received
}

fn final_decisions() -> Vec<DecisionKind> {
    vec![
        DecisionKind::Approve,
        DecisionKind::Reject,
        DecisionKind::ManualReview,
    ]
}

/// One rule: the first rule whose condition holds decides.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A short name, unique in the pack, recorded with the decision.
    pub id: String,
    /// The policy text this rule applies, quotable to a customer.
    pub clause: Clause,
    /// The condition; an empty one always holds.
    #[serde(default)]
    pub when: When,
    /// What the rule decides when its condition holds.
    pub outcome: Outcome,
    /// Checked only when the outcome approves.
    #[serde(default)]
    pub requires: Requirements,
    /// Overrides the pack's payout method.
    pub payout: Option<PayoutMethod>,
    /// Overrides the pack's SLA.
    pub sla: Option<Sla>,
    /// Overrides the pack's `requires_confirmation`.
    pub requires_confirmation: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    id: PolicyId,
    name: String,
    #[serde(default)]
    source: Option<String>,
    country: Country,
    currency: Currency,
    timezone: Option<Spanned<String>>,
    extend_to_working_day: bool,
    #[serde(default)]
    requires_confirmation: bool,
    #[serde(default)]
    confirm_roles: Option<Spanned<Vec<ApiRole>>>,
    #[serde(default)]
    email_must_state: Vec<FactName>,
    #[serde(default)]
    payout: PayoutMethod,
    #[serde(default)]
    defaults: Facts,
    #[serde(default)]
    fees: BTreeMap<String, Spanned<DecimalAmount>>,
    sla: Sla,
    #[serde(default)]
    approval_requires: Requirements,
    #[serde(default)]
    payout_rules: Vec<PayoutRule>,
    #[serde(default)]
    effects: Vec<Spanned<EffectRule>>,
    rules: Vec<Spanned<Rule>>,
}

/// Who confirms a decision awaiting confirmation when a pack does not say.
const CONFIRM_ROLES_DEFAULT: [ApiRole; 2] = [ApiRole::Support, ApiRole::Supervisor];

/// A validated policy pack.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyPack {
    id: PolicyId,
    version: String,
    name: String,
    source: Option<String>,
    file: String,
    country: Country,
    currency: Currency,
    timezone: Tz,
    pub(crate) extend_to_working_day: bool,
    pub(crate) requires_confirmation: bool,
    /// The keys' roles that may confirm a decision awaiting confirmation.
    confirm_roles: Vec<ApiRole>,
    /// Facts an application read from an email must state (or a person confirm) before the
    /// engine's reading of their absence may decide it automatically.
    pub(crate) email_must_state: BTreeSet<FactName>,
    pub(crate) payout: PayoutMethod,
    pub(crate) defaults: Facts,
    pub(crate) fees: BTreeMap<String, Money>,
    pub(crate) sla: Sla,
    pub(crate) approval_requires: Requirements,
    pub(crate) payout_rules: Vec<PayoutRule>,
    pub(crate) effects: Vec<EffectRule>,
    pub(crate) rules: Vec<Rule>,
}

impl PolicyPack {
    /// Parses and validates a pack; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Self, PackError> {
        let located = |span: Option<Range<usize>>, field: &str, problem: String| PackError {
            file: file.to_owned(),
            line: span.map(|span| line_of(text, span.start)),
            field: field.to_owned(),
            problem,
        };
        let mut fields = serde_path_to_error::Track::new();
        let raw = PackFile::deserialize(serde_path_to_error::Deserializer::new(
            toml::Deserializer::new(text),
            &mut fields,
        ))
        .map_err(|e| {
            located(
                e.span(),
                &field_name(&fields.path()),
                e.message().trim().to_owned(),
            )
        })?;

        let timezone = match &raw.timezone {
            None => raw.country.timezone(),
            Some(zone) => Tz::from_str(zone.get_ref()).map_err(|_| {
                located(
                    Some(zone.span()),
                    "timezone",
                    format!(
                        "`{}` is not an IANA time zone (like Europe/Minsk)",
                        zone.get_ref()
                    ),
                )
            })?,
        };

        let mut fees = BTreeMap::new();
        for (name, amount) in &raw.fees {
            let money = amount.get_ref().in_currency(raw.currency).map_err(|e| {
                located(Some(amount.span()), &format!("fees.{name}"), e.to_string())
            })?;
            if money.is_negative() {
                return Err(located(
                    Some(amount.span()),
                    &format!("fees.{name}"),
                    format!("fee `{name}` must not be negative"),
                ));
            }
            fees.insert(name.clone(), money);
        }

        if raw.sla.terms.is_empty() {
            return Err(located(
                find(text, "[sla]"),
                "sla.terms",
                "`terms` needs at least one term".into(),
            ));
        }
        if raw.rules.is_empty() {
            return Err(located(
                None,
                "rules",
                "a pack needs at least one `[[rules]]`".into(),
            ));
        }
        let confirm_roles = match &raw.confirm_roles {
            None => CONFIRM_ROLES_DEFAULT.to_vec(),
            Some(roles) => {
                let list = roles.get_ref();
                if list.is_empty() {
                    return Err(located(
                        Some(roles.span()),
                        "confirm_roles",
                        "`confirm_roles` needs at least one role: support, supervisor".into(),
                    ));
                }
                if let Some(role) = list.iter().find(|r| !CONFIRM_ROLES_DEFAULT.contains(r)) {
                    return Err(located(
                        Some(roles.span()),
                        "confirm_roles",
                        format!(
                            "role `{role}` may not confirm refunds; `confirm_roles` takes \
                             support and supervisor"
                        ),
                    ));
                }
                let mut unique = Vec::new();
                for role in list {
                    if !unique.contains(role) {
                        unique.push(*role);
                    }
                }
                unique
            }
        };

        let mut ids = BTreeSet::new();
        for (number, rule) in (1..).zip(&raw.rules) {
            let span = Some(rule.span());
            let field = |name: &str| format!("rules[{number}]{name}");
            let body = rule.get_ref();
            if !ids.insert(body.id.clone()) {
                return Err(located(
                    span,
                    &field(".id"),
                    format!("rule id `{}` is used twice", body.id),
                ));
            }
            if body.clause.is_blank() {
                return Err(located(
                    span,
                    &field(".clause"),
                    format!("rule `{}` has an empty clause", body.id),
                ));
            }
            if let Outcome::FactMinusFee(minus) = &body.outcome
                && !fees.contains_key(&minus.fee)
            {
                return Err(located(
                    span,
                    &field(".outcome"),
                    format!(
                        "rule `{}` uses fee `{}`, which `[fees]` does not define",
                        body.id, minus.fee
                    ),
                ));
            }
            if !body.outcome.approves()
                && (!body.requires.is_empty()
                    || body.payout.is_some()
                    || body.sla.is_some()
                    || body.requires_confirmation.is_some())
            {
                return Err(located(
                    span,
                    &field(""),
                    format!(
                        "rule `{}` does not approve, so `requires`, `payout`, `sla` and \
                         `requires_confirmation` have no effect; remove them",
                        body.id
                    ),
                ));
            }
            if let Some(sla) = &body.sla
                && sla.terms.is_empty()
            {
                return Err(located(
                    span,
                    &field(".sla.terms"),
                    "`sla.terms` needs at least one term".into(),
                ));
            }
        }
        for (number, effect) in (1..).zip(&raw.effects) {
            let kind = &effect.get_ref().kind;
            let snake = !kind.is_empty()
                && kind
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !snake {
                return Err(located(
                    Some(effect.span()),
                    &format!("effects[{number}].kind"),
                    format!("effect kind `{kind}` must be snake_case, like access_revocation"),
                ));
            }
        }

        Ok(PolicyPack {
            version: content_version(text),
            id: raw.id,
            name: raw.name,
            source: raw.source,
            file: file.to_owned(),
            country: raw.country,
            currency: raw.currency,
            timezone,
            extend_to_working_day: raw.extend_to_working_day,
            requires_confirmation: raw.requires_confirmation,
            confirm_roles,
            email_must_state: raw.email_must_state.iter().copied().collect(),
            payout: raw.payout,
            defaults: raw.defaults,
            fees,
            sla: raw.sla,
            approval_requires: raw.approval_requires,
            payout_rules: raw.payout_rules,
            effects: raw.effects.into_iter().map(Spanned::into_inner).collect(),
            rules: raw.rules.into_iter().map(Spanned::into_inner).collect(),
        })
    }

    /// Reads and validates a pack file.
    pub fn from_file(path: &Path) -> Result<Self, PackError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PackError {
            file: file.clone(),
            line: None,
            field: "(file)".into(),
            problem: format!("cannot read: {e}"),
        })?;
        PolicyPack::from_toml(&text, &file)
    }

    /// The pack id merchants name in their `policies`.
    pub fn id(&self) -> &PolicyId {
        &self.id
    }

    /// The first 16 hex digits of the SHA-256 of the file's content: any edit changes it.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// A human name for the pack.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The merchant's document the pack was written from.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// Where the pack was loaded from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The country whose working-day calendar the pack uses.
    pub fn country(&self) -> Country {
        self.country
    }

    /// The payments' currency; a request in another currency is refused.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Facts an application read from an email must state before their absence may decide
    /// it automatically (`email_must_state`).
    pub fn email_must_state(&self) -> &BTreeSet<FactName> {
        &self.email_must_state
    }

    /// The roles whose keys may confirm a decision that awaits confirmation
    /// (`confirm_roles`; support and supervisor unless the pack names fewer).
    pub fn confirm_roles(&self) -> &[ApiRole] {
        &self.confirm_roles
    }

    /// The zone whose calendar dates every window and deadline uses.
    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The rules, in the order they are tried.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

fn content_version(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(digest)[..16].to_owned()
}

fn find(text: &str, needle: &str) -> Option<Range<usize>> {
    text.find(needle).map(|start| start..start + needle.len())
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// A field's path as a pack's author counts it: arrays from 1 (`rules[1]` is the first rule),
/// without the wrappers that keep spans (`toml::Spanned`'s private keys).
fn field_name(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut name = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => name.push_str(&format!("[{}]", index + 1)),
            Segment::Map { key } if key.starts_with("$__") => {}
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    if name.is_empty() {
        "(file)".to_owned()
    } else {
        name
    }
}

/// A set of packs by id: the shipped five, or a merchant's directory.
#[derive(Debug, Clone, Default)]
pub struct PolicyPacks {
    packs: BTreeMap<String, PolicyPack>,
}

/// The packs shipped with the project (`shared/data/policies/`).
const BUILTIN: [(&str, &str); 5] = [
    (
        "by-app-studio.toml",
        include_str!("../../data/policies/by-app-studio.toml"),
    ),
    (
        "kz-saas-subscription.toml",
        include_str!("../../data/policies/kz-saas-subscription.toml"),
    ),
    (
        "by-online-courses.toml",
        include_str!("../../data/policies/by-online-courses.toml"),
    ),
    (
        "kz-goods-store.toml",
        include_str!("../../data/policies/kz-goods-store.toml"),
    ),
    (
        "lv-webshop.toml",
        include_str!("../../data/policies/lv-webshop.toml"),
    ),
];

impl PolicyPacks {
    /// The five shipped packs. They are validated by the test suite, so this cannot fail in a
    /// released build; a broken edit fails `builtin_packs_load`.
    pub fn builtin() -> &'static PolicyPacks {
        static PACKS: std::sync::OnceLock<PolicyPacks> = std::sync::OnceLock::new();
        PACKS.get_or_init(|| {
            Self::try_builtin().unwrap_or_else(|e| panic!("a shipped policy pack is invalid: {e}"))
        })
    }

    /// The shipped packs, reporting a problem instead of panicking.
    pub fn try_builtin() -> Result<PolicyPacks, PackError> {
        let mut packs = PolicyPacks::default();
        for (file, text) in BUILTIN {
            packs.insert(PolicyPack::from_toml(
                text,
                &format!("data/policies/{file}"),
            )?)?;
        }
        Ok(packs)
    }

    /// Every `*.toml` in `dir`, in name order; the first bad file stops loading.
    pub fn load_dir(dir: &Path) -> Result<PolicyPacks, PackError> {
        let unreadable = |e: std::io::Error| PackError {
            file: dir.display().to_string(),
            line: None,
            field: "(directory)".into(),
            problem: format!("cannot read: {e}"),
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(unreadable)? {
            let path = entry.map_err(unreadable)?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                paths.push(path);
            }
        }
        paths.sort();
        let mut packs = PolicyPacks::default();
        for path in paths {
            packs.insert(PolicyPack::from_file(&path)?)?;
        }
        Ok(packs)
    }

    /// Adds a pack; two packs with one id are refused.
    pub fn insert(&mut self, pack: PolicyPack) -> Result<(), PackError> {
        if let Some(first) = self.packs.get(pack.id().as_str()) {
            return Err(PackError {
                file: pack.file().to_owned(),
                line: None,
                field: "id".into(),
                problem: format!(
                    "pack id `{}` is already used by {}",
                    pack.id(),
                    first.file()
                ),
            });
        }
        self.packs.insert(pack.id().to_string(), pack);
        Ok(())
    }

    /// The pack with this id, if any.
    pub fn get(&self, id: &str) -> Option<&PolicyPack> {
        self.packs.get(id)
    }

    /// The time zone dates are counted in under pack `policy`; UTC for none or an unknown one.
    pub fn timezone_of(&self, policy: Option<&str>) -> Tz {
        policy
            .and_then(|p| self.get(p))
            .map_or(chrono_tz::UTC, PolicyPack::timezone)
    }

    /// Every pack, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &PolicyPack> {
        self.packs.values()
    }

    /// Every pack id, in sorted order.
    pub fn ids(&self) -> Vec<&str> {
        self.packs.keys().map(String::as_str).collect()
    }
}
