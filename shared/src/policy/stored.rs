//! What a request's `decision` column holds: one type, written by the validate and decide
//! stages and by a person's confirmation, read by the notify, payout and webhook stages, the
//! intake and the API. It is the engine's [`Decision`] as the engine serialized it, or what
//! validation is waiting for (`needs_info`) or handed to a person (`manual_review`), with a
//! format `version` so a later format can still read the rows written before it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Clause, Decision, DecisionKind, PayoutMethod};
use crate::notify::Language;

/// The format written today. Rows written before the version was recorded read as 1.
pub const STORED_DECISION_VERSION: u32 = 1;

fn first_version() -> u32 {
    1
}

/// A request's stored decision (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDecision {
    /// The format version the row was written in (1 when it does not say).
    #[serde(default = "first_version")]
    pub version: u32,
    /// Approve, reject, needs info or manual review.
    pub decision: DecisionKind,
    /// The amount the engine decided, as decimal text in the request's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// The clause that decided (or that asks), in English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clause: Option<String>,
    /// The same clause in the pack's other languages.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub clause_translations: BTreeMap<Language, String>,
    /// The facts and documents asked for (`needs_info`), or still missing when a person took
    /// over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// What the identity check found wrong with the documents sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Value>,
    /// Where the money goes (approve only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_method: Option<PayoutMethod>,
    /// What the merchant must do by a date because of the decision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effects: Vec<Value>,
    /// How the amount was reached (`kind` and its numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calculation: Option<Value>,
    /// The id of the pack applied, when the engine gave an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The version of the pack applied, when the engine gave an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<String>,
    /// The local date the money must be back by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_due_by: Option<NaiveDate>,
    /// Everything else the engine recorded (the rule, the facts and documents it used...),
    /// kept as written.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl StoredDecision {
    /// The engine's decision, as stored.
    pub fn from_engine(decision: &Decision) -> Self {
        let value = serde_json::to_value(decision).expect("a decision serializes");
        let mut stored: StoredDecision =
            serde_json::from_value(value).expect("a decision reads back as a stored one");
        stored.version = STORED_DECISION_VERSION;
        stored
    }

    /// What validation waits for (`needs_info`) or hands to a person (`manual_review`):
    /// `missing` and `problems`, with the policy and clause of the engine's answer, if any.
    pub fn waiting(
        kind: DecisionKind,
        missing: Vec<String>,
        problems: Vec<Value>,
        engine: Option<&Decision>,
        refund_due_by: Option<NaiveDate>,
    ) -> Self {
        StoredDecision {
            version: STORED_DECISION_VERSION,
            decision: kind,
            amount: None,
            clause: engine.map(|d| d.clause.clone()),
            clause_translations: engine
                .map(|d| d.clause_translations.clone())
                .unwrap_or_default(),
            missing,
            problems,
            payout_method: None,
            effects: Vec::new(),
            calculation: None,
            policy: engine.map(|d| d.policy.clone()),
            policy_version: engine.map(|d| d.policy_version.clone()),
            refund_due_by,
            rest: Map::new(),
        }
    }

    /// The column's JSON read back; `None` for a value no version of the format wrote.
    pub fn read(value: &Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }

    /// The JSON the column holds.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a stored decision serializes")
    }

    /// The clause, with its translations; `None` without one.
    pub fn clause(&self) -> Option<Clause> {
        let en = self.clause.as_deref()?;
        Some(Clause::new(en, self.clause_translations.clone()))
    }

    /// Paid by bank transfer rather than back to the card.
    pub fn pays_by_bank_transfer(&self) -> bool {
        self.payout_method == Some(PayoutMethod::BankTransfer)
    }

    /// What the customer was asked for, then what the identity check found (their codes).
    pub fn asked(&self) -> Vec<String> {
        let problems = self
            .problems
            .iter()
            .filter_map(|p| p.as_str().or_else(|| p["code"].as_str()).map(str::to_owned));
        self.missing.iter().cloned().chain(problems).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_written_before_the_version_read_as_version_1_and_keep_every_field() {
        let old = json!({
            "decision": "approve", "amount": "90.00", "currency": "BYN",
            "clause": "§12", "clause_translations": {"ru": "Пункт 12"},
            "rule": "by_progress", "missing": [], "payout_method": "original_card",
            "calculation": {"kind": "tier", "fact": "progress_percent", "value": 35,
                            "percent": 20, "paid": "450.00"},
            "facts_used": {"progress_percent": 35}
        });
        let stored = StoredDecision::read(&old).unwrap();
        assert_eq!(stored.version, 1);
        assert_eq!(stored.decision, DecisionKind::Approve);
        assert_eq!(stored.amount.as_deref(), Some("90.00"));
        assert!(!stored.pays_by_bank_transfer());
        assert_eq!(stored.clause().unwrap().en(), "§12");
        assert_eq!(stored.rest["rule"], "by_progress");
        // Written back: the same fields, now with the version.
        let mut again = stored.to_value();
        assert_eq!(again["version"], 1);
        again.as_object_mut().unwrap().remove("version");
        let mut expected = old.clone();
        expected.as_object_mut().unwrap().remove("missing");
        assert_eq!(again, expected);
    }

    #[test]
    fn a_question_lists_the_missing_items_then_the_problem_codes() {
        let waiting = StoredDecision::waiting(
            DecisionKind::NeedsInfo,
            vec!["progress_percent".into()],
            vec![json!({"code": "document_expired", "field": "expiry"})],
            None,
            None,
        );
        assert_eq!(waiting.asked(), ["progress_percent", "document_expired"]);
        let read = StoredDecision::read(&waiting.to_value()).unwrap();
        assert_eq!(read, waiting);
        assert_eq!(StoredDecision::read(&json!({"amount": "1"})), None);
    }
}
