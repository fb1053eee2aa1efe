//! The vocabulary packs and requests share: refund reasons, fact names with their kinds, the
//! typed set of facts a request carries, and the document kinds an application can include.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::money::DecimalAmount;

/// Why the customer wants their money back (POLICIES.md, "Reasons and facts").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::Display, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
#[derive(sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Reason {
    /// The customer withdraws or changes their mind.
    Withdrawal,
    /// The goods or service did not arrive, or were not provided in time.
    NotDelivered,
    /// Force majeure.
    ForceMajeure,
    /// A wrong or double charge.
    ErroneousCharge,
    /// An item ran out of stock and the invoice is lower than the payment.
    OutOfStockDifference,
    /// The customer wants back their balance held with the shop.
    AdvanceBalance,
}

impl Reason {
    /// Every variant, in declaration order.
    pub const ALL: &'static [Reason] = <Reason as strum::VariantArray>::VARIANTS;

    /// The snake_case name used in packs, requests and the database, e.g. `not_delivered`.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// What kind of value a fact holds; packs may only use a fact where its kind fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactKind {
    /// True or false.
    YesNo,
    /// A local date, given as a date or a timestamp with an offset.
    Date,
    /// Free text; blank text counts as not stated.
    Text,
    /// A whole percentage 0-100.
    Percent,
    /// An amount in the payment's currency.
    Amount,
}

impl fmt::Display for FactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FactKind::YesNo => "a yes/no fact",
            FactKind::Date => "a date fact",
            FactKind::Text => "a text fact",
            FactKind::Percent => "a whole-percent fact",
            FactKind::Amount => "an amount fact",
        })
    }
}

macro_rules! fact_names {
    ($($(#[$meta:meta])* $variant:ident => $name:literal : $kind:ident),+ $(,)?) => {
        /// A fact a request may carry and a pack may ask for.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum FactName { $($(#[$meta])* $variant),+ }

        impl FactName {
            /// Every fact, in declaration order.
            pub const ALL: &'static [FactName] = &[$(FactName::$variant),+];

            /// The snake_case name packs and requests use, e.g. `progress_percent`.
            pub fn name(self) -> &'static str {
                match self { $(FactName::$variant => $name),+ }
            }

            /// The kind of value the fact holds.
            pub fn kind(self) -> FactKind {
                match self { $(FactName::$variant => FactKind::$kind),+ }
            }
        }
    };
}

fact_names! {
    /// The merchant has already accepted the order.
    OrderAccepted => "order_accepted": YesNo,
    /// When the customer got access to the course or service.
    AccessStartedAt => "access_started_at": Date,
    /// The customer violated the terms of the agreement (support establishes it).
    TermsViolated => "terms_violated": YesNo,
    /// The customer's reason in their own words.
    ReasonText => "reason_text": Text,
    /// How much of the course the customer has done, in whole percent.
    ProgressPercent => "progress_percent": Percent,
    /// When the customer received the goods.
    GoodsReceivedAt => "goods_received_at": Date,
    /// The goods kept their presentation and consumer properties.
    GoodsIntact => "goods_intact": YesNo,
    /// The customer has kept the proof of purchase (receipt).
    ProofOfPurchase => "proof_of_purchase": YesNo,
    /// The goods have individually defined properties, usable only by the buyer.
    Personalized => "personalized": YesNo,
    /// The request has a valid identity document; the system sets it.
    IdentityDocumentVerified => "identity_document_verified": YesNo,
    /// The amount finally invoiced, e.g. lower after an item ran out of stock.
    InvoicedAmount => "invoiced_amount": Amount,
    /// The customer's balance held with the shop.
    Balance => "balance": Amount,
    /// The customer's payment details (card) changed since the payment.
    CardChanged => "card_changed": YesNo,
    /// A bank paid on credit for the customer.
    PaidByCredit => "paid_by_credit": YesNo,
    /// The bank details (IBAN) a bank-transfer refund goes to.
    BankDetails => "bank_details": Text,
    /// When a request awaiting confirmation was confirmed; the system sets it.
    ApprovedAt => "approved_at": Date,
}

impl fmt::Display for FactName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn names_of<T: Copy>(
    items: impl IntoIterator<Item = T>,
    name: impl Fn(T) -> &'static str,
) -> String {
    items.into_iter().map(name).collect::<Vec<_>>().join(", ")
}

impl FromStr for FactName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FactName::ALL
            .iter()
            .copied()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown fact `{s}` (known facts: {})",
                    names_of(FactName::ALL.iter().copied(), FactName::name)
                )
            })
    }
}

impl Serialize for FactName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for FactName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A [`FactName`] that a pack uses where only facts of kind `K` fit; refusing the others at
/// load time means the engine never meets a yes/no fact where it needs a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FactOfKind<const K: u8>(pub FactName);

/// Kind codes for [`FactOfKind`] (const generics cannot take the enum itself).
pub mod kind {
    /// The code of `FactKind::YesNo`.
    pub const YES_NO: u8 = 0;
    /// The code of `FactKind::Date`.
    pub const DATE: u8 = 1;
    /// The code of `FactKind::Percent`.
    pub const PERCENT: u8 = 3;
    /// The code of `FactKind::Amount`.
    pub const AMOUNT: u8 = 4;
}

/// A fact name where only a yes/no fact fits.
pub type YesNoFact = FactOfKind<{ kind::YES_NO }>;
/// A fact name where only a date fact fits.
pub type DateFact = FactOfKind<{ kind::DATE }>;
/// A fact name where only a whole-percent fact fits.
pub type PercentFact = FactOfKind<{ kind::PERCENT }>;
/// A fact name where only an amount fact fits.
pub type AmountFact = FactOfKind<{ kind::AMOUNT }>;

impl<const K: u8> FactOfKind<K> {
    fn expected() -> FactKind {
        match K {
            kind::YES_NO => FactKind::YesNo,
            kind::DATE => FactKind::Date,
            kind::PERCENT => FactKind::Percent,
            _ => FactKind::Amount,
        }
    }
}

impl<'de, const K: u8> Deserialize<'de> for FactOfKind<K> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fact = FactName::deserialize(deserializer)?;
        let expected = Self::expected();
        if fact.kind() == expected {
            Ok(FactOfKind(fact))
        } else {
            let fitting = FactName::ALL
                .iter()
                .copied()
                .filter(|f| f.kind() == expected);
            Err(serde::de::Error::custom(format!(
                "`{fact}` is {}, but {expected} is needed here (one of {})",
                fact.kind(),
                names_of(fitting, FactName::name)
            )))
        }
    }
}

/// A document an application can include; packs list the ones they require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// The merchant's refund application form, filled in.
    RefundApplication,
    /// A copy of an identity document that passed validation.
    IdentityDocument,
    /// A receipt or bank statement showing the charge.
    PaymentReceipt,
}

impl DocumentKind {
    /// The snake_case name packs and requests use, e.g. `identity_document`.
    pub fn name(self) -> &'static str {
        match self {
            DocumentKind::RefundApplication => "refund_application",
            DocumentKind::IdentityDocument => "identity_document",
            DocumentKind::PaymentReceipt => "payment_receipt",
        }
    }
}

/// A moment as a request gives it: a plain local date, or a timestamp with an offset that the
/// pack's time zone turns into a local date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrTimestamp {
    /// A plain date, already local.
    Date(NaiveDate),
    /// A moment with its UTC offset.
    Timestamp(DateTime<FixedOffset>),
}

impl DateOrTimestamp {
    /// The calendar date in `zone`: `2026-03-02T22:30:00Z` is 2026-03-03 in Minsk.
    pub fn local_date(self, zone: Tz) -> NaiveDate {
        match self {
            DateOrTimestamp::Date(date) => date,
            DateOrTimestamp::Timestamp(at) => at.with_timezone(&zone).date_naive(),
        }
    }
}

impl FromStr for DateOrTimestamp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(DateOrTimestamp::Date(date));
        }
        DateTime::parse_from_rfc3339(s)
            .map(DateOrTimestamp::Timestamp)
            .map_err(|_| {
                format!(
                    "`{s}` is not a date (2026-03-02) or a timestamp with offset \
                     (2026-03-02T10:15:00+03:00)"
                )
            })
    }
}

impl fmt::Display for DateOrTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateOrTimestamp::Date(d) => write!(f, "{d}"),
            DateOrTimestamp::Timestamp(t) => write!(f, "{}", t.to_rfc3339()),
        }
    }
}

impl Serialize for DateOrTimestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DateOrTimestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A whole percentage 0-100 (course progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Percent(u8);

impl Percent {
    /// The percentage `value`, or an error when it is above 100.
    pub fn new(value: u64) -> Result<Self, String> {
        u8::try_from(value)
            .ok()
            .filter(|v| *v <= 100)
            .map(Percent)
            .ok_or_else(|| format!("{value} is not a whole percentage 0-100"))
    }

    /// The percentage, 0-100.
    pub fn value(self) -> u8 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole percentage 0-100")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Percent, E> {
                Percent::new(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Percent, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("{v} is not a whole percentage 0-100")))
                    .and_then(|v| Percent::new(v).map_err(E::custom))
            }
        }
        deserializer.deserialize_u64(Visitor)
    }
}

/// The facts a request carries. Unknown names are refused so a typo is never silently ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// The merchant has already accepted the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_accepted: Option<bool>,
    /// When the customer got access to the course or service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_started_at: Option<DateOrTimestamp>,
    /// The customer violated the terms of the agreement (support establishes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_violated: Option<bool>,
    /// The customer's reason in their own words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_text: Option<String>,
    /// How much of the course the customer has done, in whole percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_percent: Option<Percent>,
    /// When the customer received the goods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_received_at: Option<DateOrTimestamp>,
    /// The goods kept their presentation and consumer properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_intact: Option<bool>,
    /// The customer has kept the proof of purchase (receipt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_of_purchase: Option<bool>,
    /// The goods have individually defined properties, usable only by the buyer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personalized: Option<bool>,
    /// The request has a valid identity document; the system sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_document_verified: Option<bool>,
    /// The amount finally invoiced, in the payment's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoiced_amount: Option<DecimalAmount>,
    /// The customer's balance held with the shop, in the payment's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<DecimalAmount>,
    /// The customer's payment details (card) changed since the payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_changed: Option<bool>,
    /// A bank paid on credit for the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_by_credit: Option<bool>,
    /// The bank details (IBAN) a bank-transfer refund goes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_details: Option<String>,
    /// When a request awaiting confirmation was confirmed; the system sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<DateOrTimestamp>,
}

/// One fact's value, as the engine reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum FactValue<'a> {
    /// A yes/no fact.
    YesNo(bool),
    /// A date fact, as the request gives it.
    Date(DateOrTimestamp),
    /// A text fact, never blank.
    Text(&'a str),
    /// A whole-percent fact.
    Percent(Percent),
    /// An amount fact, in the payment's currency.
    Amount(DecimalAmount),
}

impl Facts {
    /// The value of `fact`, or `None` when the request does not state it. Blank text counts as
    /// not stated: a reason of spaces is no reason.
    pub fn get(&self, fact: FactName) -> Option<FactValue<'_>> {
        use FactName as F;
        let yes_no = |v: Option<bool>| v.map(FactValue::YesNo);
        let date = |v: Option<DateOrTimestamp>| v.map(FactValue::Date);
        fn text(v: &Option<String>) -> Option<FactValue<'_>> {
            v.as_deref()
                .filter(|t| !t.trim().is_empty())
                .map(FactValue::Text)
        }
        let amount = |v: Option<DecimalAmount>| v.map(FactValue::Amount);
        match fact {
            F::OrderAccepted => yes_no(self.order_accepted),
            F::AccessStartedAt => date(self.access_started_at),
            F::TermsViolated => yes_no(self.terms_violated),
            F::ReasonText => text(&self.reason_text),
            F::ProgressPercent => self.progress_percent.map(FactValue::Percent),
            F::GoodsReceivedAt => date(self.goods_received_at),
            F::GoodsIntact => yes_no(self.goods_intact),
            F::ProofOfPurchase => yes_no(self.proof_of_purchase),
            F::Personalized => yes_no(self.personalized),
            F::IdentityDocumentVerified => yes_no(self.identity_document_verified),
            F::InvoicedAmount => amount(self.invoiced_amount),
            F::Balance => amount(self.balance),
            F::CardChanged => yes_no(self.card_changed),
            F::PaidByCredit => yes_no(self.paid_by_credit),
            F::BankDetails => text(&self.bank_details),
            F::ApprovedAt => date(self.approved_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fact_name_parses_back() {
        for fact in FactName::ALL {
            assert_eq!(fact.name().parse::<FactName>().unwrap(), *fact);
        }
        assert!("progres_percent".parse::<FactName>().is_err());
    }

    #[test]
    fn unknown_facts_are_refused() {
        let err = serde_json::from_str::<Facts>(r#"{"progres_percent": 3}"#).unwrap_err();
        assert!(err.to_string().contains("progres_percent"), "{err}");
    }

    #[test]
    fn progress_must_be_a_whole_percentage() {
        let parse = |json: &str| serde_json::from_str::<Facts>(json);
        assert_eq!(
            parse(r#"{"progress_percent": 100}"#)
                .unwrap()
                .progress_percent
                .unwrap()
                .value(),
            100
        );
        for bad in ["101", "-1", "35.5", "\"35\"", "35.0"] {
            assert!(
                parse(&format!(r#"{{"progress_percent": {bad}}}"#)).is_err(),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn timestamps_become_the_local_date_of_the_pack() {
        let at: DateOrTimestamp = "2026-03-02T22:30:00Z".parse().unwrap();
        let minsk: Tz = "Europe/Minsk".parse().unwrap();
        let riga: Tz = "Europe/Riga".parse().unwrap();
        assert_eq!(at.local_date(minsk).to_string(), "2026-03-03");
        assert_eq!(at.local_date(riga).to_string(), "2026-03-03");
        let evening: DateOrTimestamp = "2026-03-02T20:30:00Z".parse().unwrap();
        assert_eq!(evening.local_date(minsk).to_string(), "2026-03-02");
        assert_eq!(evening.local_date(riga).to_string(), "2026-03-02");
        assert!("2026-02-30".parse::<DateOrTimestamp>().is_err());
        assert!("2026-03-02T10:15:00".parse::<DateOrTimestamp>().is_err());
    }

    #[test]
    fn blank_text_is_not_a_stated_fact() {
        let facts = Facts {
            reason_text: Some("   ".into()),
            ..Facts::default()
        };
        assert_eq!(facts.get(FactName::ReasonText), None);
    }
}
