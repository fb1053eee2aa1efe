//! The worked examples and boundaries of POLICIES.md, run against the shipped packs, plus pack
//! validation and the engine's invariants (property tests).

use chrono::NaiveDate;
use proptest::prelude::*;
use serde_json::json;

use std::collections::{BTreeMap, BTreeSet};

use super::pack::Outcome;
use super::*;
use crate::calendar::WorkingDayCalendar;
use crate::notify::Language;

fn quote(request: serde_json::Value) -> Decision {
    try_quote(request).unwrap()
}

fn try_quote(request: serde_json::Value) -> Result<Decision, QuoteError> {
    let input: QuoteInput = serde_json::from_value(request).expect("a well-formed request");
    let pack = PolicyPacks::builtin()
        .get(&input.policy)
        .expect("a shipped pack");
    decide(pack, WorkingDayCalendar::builtin(pack.country()), &input)
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn amount(decision: &Decision) -> String {
    decision
        .amount
        .map(super::super::money::Money::amount_text)
        .unwrap_or_else(|| "null".into())
}

// ---------- by-online-courses (seed 002) ----------

fn course(received_at: &str, facts: serde_json::Value) -> serde_json::Value {
    json!({
        "policy": "by-online-courses",
        "payment": {"amount": "450.00", "currency": "BYN", "paid_at": "2026-03-02T10:15:00+03:00"},
        "received_at": received_at,
        "reason": "withdrawal",
        "facts": facts,
    })
}

#[test]
fn courses_worked_example_refunds_90_byn_due_5_may() {
    let decision = quote(course(
        "2026-03-20T12:00:00+03:00",
        json!({"access_started_at": "2026-03-02", "progress_percent": 35}),
    ));
    assert_eq!(decision.decision, DecisionKind::Approve);
    assert_eq!(amount(&decision), "90.00");
    assert_eq!(decision.currency, crate::money::Currency::BYN);
    // 30 BY working days from Friday 20 March, skipping 20-21 April (day off, Radunitsa),
    // counting Saturday 25 April (working) and skipping 1 May.
    assert_eq!(decision.refund_due_by, Some(date("2026-05-05")));
    assert!(decision.clause.starts_with("§11 b)"), "{}", decision.clause);
    assert_eq!(decision.payout_method, Some(PayoutMethod::OriginalCard));
    assert!(!decision.requires_confirmation);
    assert_eq!(decision.policy, "by-online-courses");
    assert_eq!(decision.policy_version.len(), 16);
    assert_eq!(decision.rule.as_deref(), Some("by_progress"));
    // §15: access revoked within 1 working day of Friday 20 March: Monday 23 March.
    assert_eq!(decision.effects.len(), 1);
    assert_eq!(decision.effects[0].kind, "access_revocation");
    assert_eq!(decision.effects[0].due_by, date("2026-03-23"));
    assert_eq!(decision.facts_used[&FactName::ProgressPercent], json!(35));
    assert_eq!(
        decision.facts_used[&FactName::AccessStartedAt],
        json!("2026-03-02")
    );
    // The defaults consulted for §14 are kept too, so the decision can be replayed.
    assert_eq!(decision.facts_used[&FactName::CardChanged], json!(false));
}

#[test]
fn courses_decision_serializes_to_the_quote_shape() {
    let decision = quote(course(
        "2026-03-20T12:00:00+03:00",
        json!({"access_started_at": "2026-03-02", "progress_percent": 35}),
    ));
    let value = serde_json::to_value(&decision).unwrap();
    assert_eq!(value["decision"], "approve");
    assert_eq!(value["amount"], "90.00");
    assert_eq!(value["currency"], "BYN");
    assert_eq!(value["refund_due_by"], "2026-05-05");
    assert_eq!(value["payout_method"], "original_card");
    assert_eq!(value["requires_confirmation"], false);
    assert_eq!(value["missing"], json!([]));
    assert_eq!(value["effects"][0]["due_by"], "2026-03-23");
    assert_eq!(value["facts_used"]["progress_percent"], 35);
    assert_eq!(value["calculation"]["kind"], "tier");
    assert_eq!(value["calculation"]["percent"], 20);
}

#[test]
fn courses_progress_tier_edges() {
    let cases = [
        (0, Some("135.00")),
        (30, Some("135.00")),
        (31, Some("90.00")),
        (50, Some("90.00")),
        (51, Some("45.00")),
        (70, Some("45.00")),
        (71, None),
        (100, None),
    ];
    for (progress, expected) in cases {
        let decision = quote(course(
            "2026-03-20T12:00:00+03:00",
            json!({"access_started_at": "2026-03-02", "progress_percent": progress}),
        ));
        match expected {
            Some(refund) => {
                assert_eq!(
                    decision.decision,
                    DecisionKind::Approve,
                    "progress {progress}"
                );
                assert_eq!(amount(&decision), refund, "progress {progress}");
            }
            None => {
                assert_eq!(
                    decision.decision,
                    DecisionKind::Reject,
                    "progress {progress}"
                );
                assert_eq!(amount(&decision), "0.00");
                assert!(decision.clause.starts_with("§11 d)"), "{}", decision.clause);
                // Access still ends: the customer withdrew.
                assert_eq!(decision.effects[0].due_by, date("2026-03-23"));
            }
        }
    }
}

#[test]
fn courses_cooling_off_window_ends_on_its_last_day() {
    let facts = json!({"access_started_at": "2026-03-02", "progress_percent": 35});
    // Paid Monday 2 March: the 7 calendar days end on Monday 9 March.
    let last_day = quote(course("2026-03-09T23:59:00+03:00", facts.clone()));
    assert_eq!(last_day.decision, DecisionKind::Approve);
    assert_eq!(amount(&last_day), "450.00");
    assert_eq!(last_day.rule.as_deref(), Some("cooling_off"));
    let day_after = quote(course("2026-03-10T00:00:00+03:00", facts));
    assert_eq!(amount(&day_after), "90.00");
}

#[test]
fn courses_cooling_off_ending_on_a_weekend_moves_to_the_next_working_day() {
    // Paid Saturday 7 March: 7 days end Saturday 14 March, moved to Monday 16 March.
    let request = |received: &str| {
        json!({
            "policy": "by-online-courses",
            "payment": {"amount": "450.00", "currency": "BYN", "paid_at": "2026-03-07"},
            "received_at": received,
            "reason": "withdrawal",
            "facts": {"access_started_at": "2026-03-07", "progress_percent": 10},
        })
    };
    assert_eq!(amount(&quote(request("2026-03-16"))), "450.00");
    assert_eq!(amount(&quote(request("2026-03-17"))), "135.00");
}

#[test]
fn courses_dates_are_taken_in_minsk_time() {
    let request = |paid_at: &str, received_at: &str| {
        json!({
            "policy": "by-online-courses",
            "payment": {"amount": "450.00", "currency": "BYN", "paid_at": paid_at},
            "received_at": received_at,
            "reason": "withdrawal",
            "facts": {"access_started_at": "2026-03-03", "progress_percent": 35},
        })
    };
    // 22:30 UTC on 2 March is 01:30 on 3 March in Minsk: the window runs to 10 March.
    let late_evening = quote(request("2026-03-02T22:30:00Z", "2026-03-10T20:00:00Z"));
    assert_eq!(late_evening.received_on, date("2026-03-10"));
    assert_eq!(amount(&late_evening), "450.00");
    // 21:30 UTC on 10 March is already 11 March in Minsk: outside the window.
    let after_midnight = quote(request("2026-03-02T22:30:00Z", "2026-03-10T21:30:00Z"));
    assert_eq!(after_midnight.received_on, date("2026-03-11"));
    assert_eq!(amount(&after_midnight), "90.00");
    // A timestamp fact becomes the local date as well.
    let decision = quote(json!({
        "policy": "by-online-courses",
        "payment": {"amount": "450.00", "currency": "BYN", "paid_at": "2026-03-02"},
        "received_at": "2026-03-20",
        "reason": "withdrawal",
        "facts": {"access_started_at": "2026-03-19T22:00:00Z"},
    }));
    // 01:00 on 20 March in Minsk: started, not after the received date, so progress is asked.
    assert_eq!(decision.decision, DecisionKind::NeedsInfo);
    assert_eq!(decision.missing, vec!["progress_percent"]);
}

#[test]
fn courses_full_refund_when_not_rendered_or_not_started() {
    let not_delivered = quote(json!({
        "policy": "by-online-courses",
        "payment": {"amount": "450.00", "currency": "BYN", "paid_at": "2026-03-02"},
        "received_at": "2026-03-20",
        "reason": "not_delivered",
        "facts": {"access_started_at": "2026-03-02", "progress_percent": 90},
    }));
    assert_eq!(amount(&not_delivered), "450.00");
    assert!(not_delivered.clause.starts_with("§7.1"));

    let never_started = quote(course("2026-03-20", json!({})));
    assert_eq!(amount(&never_started), "450.00");
    assert!(never_started.clause.starts_with("§7.2"));

    let starts_later = quote(course(
        "2026-03-20",
        json!({"access_started_at": "2026-04-01"}),
    ));
    assert_eq!(amount(&starts_later), "450.00");
    assert_eq!(starts_later.rule.as_deref(), Some("not_started_yet"));
}

#[test]
fn courses_ask_for_progress_and_bank_details() {
    let no_progress = quote(course(
        "2026-03-20",
        json!({"access_started_at": "2026-03-02"}),
    ));
    assert_eq!(no_progress.decision, DecisionKind::NeedsInfo);
    assert_eq!(no_progress.missing, vec!["progress_percent"]);
    assert_eq!(no_progress.amount, None);
    assert!(no_progress.effects.is_empty());

    let card_changed = quote(course(
        "2026-03-20",
        json!({"access_started_at": "2026-03-02", "progress_percent": 35, "card_changed": true}),
    ));
    assert_eq!(card_changed.decision, DecisionKind::NeedsInfo);
    assert_eq!(card_changed.missing, vec!["bank_details"]);
    assert!(card_changed.clause.starts_with("§14"));

    let both = quote(course(
        "2026-03-20",
        json!({"access_started_at": "2026-03-02", "paid_by_credit": true}),
    ));
    assert_eq!(both.missing, vec!["progress_percent", "bank_details"]);

    let with_details = quote(course(
        "2026-03-20",
        json!({"access_started_at": "2026-03-02", "progress_percent": 35,
               "paid_by_credit": true, "bank_details": "BY20 ALFA 3012 0000 0000 0000 0000"}),
    ));
    assert_eq!(with_details.decision, DecisionKind::Approve);
    assert_eq!(with_details.payout_method, Some(PayoutMethod::BankTransfer));
    assert_eq!(amount(&with_details), "90.00");
}

#[test]
fn percentages_round_half_away_from_zero_once() {
    // 450.05 × 10 % = 45.005 → 45.01; 450.05 × 30 % = 135.015 → 135.02.
    let request = |progress: u8| {
        json!({
            "policy": "by-online-courses",
            "payment": {"amount": "450.05", "currency": "BYN", "paid_at": "2026-03-02"},
            "received_at": "2026-03-20",
            "reason": "withdrawal",
            "facts": {"access_started_at": "2026-03-02", "progress_percent": progress},
        })
    };
    assert_eq!(amount(&quote(request(60))), "45.01");
    assert_eq!(amount(&quote(request(10))), "135.02");
    assert_eq!(amount(&quote(request(40))), "90.01");
}

#[test]
fn deadlines_from_a_weekend_or_holiday_receipt() {
    // Received Saturday 21 March: the next working day is Monday 23 March.
    let saturday = quote(course(
        "2026-03-21T10:00:00+03:00",
        json!({"access_started_at": "2026-03-02", "progress_percent": 35}),
    ));
    assert_eq!(saturday.effects[0].due_by, date("2026-03-23"));
    // 30 working days from the Saturday end on the same day as from the Friday before.
    assert_eq!(saturday.refund_due_by, Some(date("2026-05-05")));

    // Received on Radunitsa (Tuesday 21 April, a BY holiday): access ends Wednesday 22 April.
    let holiday = quote(course(
        "2026-04-21T10:00:00+03:00",
        json!({"access_started_at": "2026-03-02", "progress_percent": 35}),
    ));
    assert_eq!(holiday.effects[0].due_by, date("2026-04-22"));

    // Received Friday 24 April: the next working day is Saturday 25 April (a working Saturday).
    let before_working_saturday = quote(course(
        "2026-04-24T10:00:00+03:00",
        json!({"access_started_at": "2026-03-02", "progress_percent": 35}),
    ));
    assert_eq!(
        before_working_saturday.effects[0].due_by,
        date("2026-04-25")
    );
}

// ---------- by-app-studio (seed 000) ----------

fn studio(reason: &str, facts: serde_json::Value) -> serde_json::Value {
    json!({
        "policy": "by-app-studio",
        "payment": {"amount": "1200.00", "currency": "BYN", "paid_at": "2026-03-02T10:00:00+03:00"},
        "received_at": "2026-03-06T10:00:00+03:00",
        "reason": reason,
        "facts": facts,
    })
}

#[test]
fn studio_refunds_only_before_acceptance() {
    let before = quote(studio("withdrawal", json!({"order_accepted": false})));
    assert_eq!(before.decision, DecisionKind::Approve);
    assert_eq!(amount(&before), "1200.00");
    assert!(before.clause.starts_with("Before acceptance"));
    // 10 BY working days from Friday 6 March: 9-13 and 16-20 March (BY does not move
    // 8 March off its Sunday).
    assert_eq!(before.refund_due_by, Some(date("2026-03-20")));

    let after = quote(studio("withdrawal", json!({"order_accepted": true})));
    assert_eq!(after.decision, DecisionKind::Reject);
    assert!(after.clause.contains("not refundable"), "{}", after.clause);

    for reason in ["not_delivered", "force_majeure"] {
        let exception = quote(studio(reason, json!({"order_accepted": true})));
        assert_eq!(exception.decision, DecisionKind::Approve, "{reason}");
        assert_eq!(amount(&exception), "1200.00");
        assert_eq!(exception.payout_method, Some(PayoutMethod::OriginalCard));
    }

    let unknown = quote(studio("withdrawal", json!({})));
    assert_eq!(unknown.decision, DecisionKind::NeedsInfo);
    assert_eq!(unknown.missing, vec!["order_accepted"]);
}

// ---------- kz-saas-subscription (seed 001) ----------

fn saas(received_at: &str, facts: serde_json::Value) -> serde_json::Value {
    json!({
        "policy": "kz-saas-subscription",
        "payment": {"amount": "60000.00", "currency": "KZT", "paid_at": "2026-03-02T09:00:00+05:00"},
        "received_at": received_at,
        "reason": "withdrawal",
        "facts": facts,
    })
}

#[test]
fn saas_worked_example_refunds_57391_30_kzt() {
    let decision = quote(saas(
        "2026-03-10T12:00:00+05:00",
        json!({"access_started_at": "2026-03-02", "reason_text": "The builder lacks a shop module",
               "approved_at": "2026-04-01"}),
    ));
    assert_eq!(decision.decision, DecisionKind::Approve);
    assert_eq!(amount(&decision), "57391.30");
    assert_eq!(
        decision.calculation,
        Some(Calculation::ProRataDays {
            paid: crate::money::Money::parse("60000.00", crate::money::Currency::KZT).unwrap(),
            term_days: 184,
            used_days: 8,
            rendered: crate::money::Money::parse("2608.70", crate::money::Currency::KZT).unwrap(),
        })
    );
    assert!(decision.requires_confirmation);
    // 14 calendar days from the confirmation on Wednesday 1 April.
    assert_eq!(decision.refund_due_by, Some(date("2026-04-15")));
}

#[test]
fn saas_sla_counts_from_received_until_confirmed_and_moves_off_weekends() {
    // Received Saturday 4 April, no confirmation yet: 14 days end Saturday 18 April → Monday 20.
    let decision = quote(json!({
        "policy": "kz-saas-subscription",
        "payment": {"amount": "60000.00", "currency": "KZT", "paid_at": "2026-04-01"},
        "received_at": "2026-04-04T11:00:00+05:00",
        "reason": "withdrawal",
        "facts": {"access_started_at": "2026-04-01", "reason_text": "not needed"},
    }));
    assert_eq!(decision.decision, DecisionKind::Approve);
    assert_eq!(decision.refund_due_by, Some(date("2026-04-20")));
}

#[test]
fn saas_window_is_14_calendar_days_from_access() {
    let facts = json!({"access_started_at": "2026-03-02", "reason_text": "too expensive"});
    // Monday 16 March is the last day.
    let last_day = quote(saas("2026-03-16T23:00:00+05:00", facts.clone()));
    assert_eq!(last_day.decision, DecisionKind::Approve);
    // 60000 × 14 / 184 = 4565.217… → rendered 4565.22, refund 55434.78.
    assert_eq!(amount(&last_day), "55434.78");
    let late = quote(saas("2026-03-17T00:30:00+05:00", facts));
    assert_eq!(late.decision, DecisionKind::Reject);
    assert!(late.clause.starts_with("§8.3"));
    // 23:30 on 16 March in Almaty is 18:30 UTC: still the 16th locally.
    let utc = quote(saas(
        "2026-03-16T18:30:00Z",
        json!({"access_started_at": "2026-03-02", "reason_text": "too expensive"}),
    ));
    assert_eq!(utc.decision, DecisionKind::Approve);
}

#[test]
fn saas_window_ending_on_a_weekend_extends_to_monday() {
    // Access Saturday 4 April: 14 days end Saturday 18 April, extended to Monday 20 April.
    let request = |received: &str| {
        json!({
            "policy": "kz-saas-subscription",
            "payment": {"amount": "60000.00", "currency": "KZT", "paid_at": "2026-04-04"},
            "received_at": received,
            "reason": "withdrawal",
            "facts": {"access_started_at": "2026-04-04", "reason_text": "changed plans"},
        })
    };
    assert_eq!(quote(request("2026-04-20")).decision, DecisionKind::Approve);
    assert_eq!(quote(request("2026-04-21")).decision, DecisionKind::Reject);
}

#[test]
fn saas_rejects_violations_and_asks_for_reasons() {
    let violated = quote(saas(
        "2026-03-10",
        json!({"access_started_at": "2026-03-02", "reason_text": "x", "terms_violated": true}),
    ));
    assert_eq!(violated.decision, DecisionKind::Reject);
    assert!(violated.clause.starts_with("§8.5"));

    for facts in [
        json!({"access_started_at": "2026-03-02"}),
        json!({"access_started_at": "2026-03-02", "reason_text": "   "}),
    ] {
        let no_reason = quote(saas("2026-03-10", facts));
        assert_eq!(no_reason.decision, DecisionKind::NeedsInfo);
        assert_eq!(no_reason.missing, vec!["reason_text"]);
        assert!(no_reason.clause.contains("motivated"));
    }

    let no_access = quote(saas("2026-03-10", json!({"reason_text": "x"})));
    assert_eq!(no_access.decision, DecisionKind::NeedsInfo);
    assert_eq!(no_access.missing, vec!["access_started_at"]);
}

// ---------- kz-goods-store (seed 003) ----------

fn goods(
    reason: &str,
    facts: serde_json::Value,
    documents: serde_json::Value,
) -> serde_json::Value {
    json!({
        "policy": "kz-goods-store",
        "payment": {"amount": "25990.00", "currency": "KZT", "paid_at": "2026-04-01T15:00:00+05:00"},
        "received_at": "2026-04-11T10:00:00+05:00",
        "reason": reason,
        "facts": facts,
        "documents": documents,
    })
}

fn all_documents() -> serde_json::Value {
    json!(["refund_application", "identity_document"])
}

#[test]
fn goods_store_refunds_intact_goods_within_14_days() {
    let intact = json!({"goods_received_at": "2026-04-03", "goods_intact": true,
                        "proof_of_purchase": true, "identity_document_verified": true});
    let decision = quote(goods("withdrawal", intact.clone(), all_documents()));
    assert_eq!(decision.decision, DecisionKind::Approve);
    assert_eq!(amount(&decision), "25990.00");
    // Received Saturday 11 April: 3 KZ working days (Mon 13, Tue 14, Wed 15) come before
    // 10 calendar days (Tuesday 21 April).
    assert_eq!(decision.refund_due_by, Some(date("2026-04-15")));
    assert_eq!(
        decision.documents_used,
        vec![
            DocumentKind::RefundApplication,
            DocumentKind::IdentityDocument
        ]
    );

    let no_documents = quote(goods("withdrawal", intact, json!([])));
    assert_eq!(no_documents.decision, DecisionKind::NeedsInfo);
    assert_eq!(
        no_documents.missing,
        vec!["refund_application", "identity_document"]
    );

    let unverified = quote(goods(
        "withdrawal",
        json!({"goods_received_at": "2026-04-03", "goods_intact": true,
               "proof_of_purchase": true, "identity_document_verified": false}),
        all_documents(),
    ));
    assert_eq!(unverified.missing, vec!["identity_document_verified"]);
}

#[test]
fn goods_store_refuses_personalized_late_or_damaged_goods() {
    let base = |extra: serde_json::Value| {
        let mut facts = json!({"goods_received_at": "2026-04-03", "goods_intact": true,
                               "proof_of_purchase": true, "identity_document_verified": true});
        facts
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        quote(goods("withdrawal", facts, all_documents()))
    };
    let personalized = base(json!({"personalized": true}));
    assert_eq!(personalized.decision, DecisionKind::Reject);
    assert_eq!(personalized.rule.as_deref(), Some("personalized"));

    let damaged = base(json!({"goods_intact": false}));
    assert_eq!(damaged.decision, DecisionKind::Reject);
    assert_eq!(damaged.rule.as_deref(), Some("not_intact"));

    // Received 11 April: goods received 27 March → window to 10 April (Friday): too late.
    let late = base(json!({"goods_received_at": "2026-03-27"}));
    assert_eq!(late.decision, DecisionKind::Reject);
    assert_eq!(late.rule.as_deref(), Some("late_return"));
    // Goods received 28 March → 14 days end on Saturday 11 April, the received date: in time.
    let last_day = base(json!({"goods_received_at": "2026-03-28"}));
    assert_eq!(last_day.decision, DecisionKind::Approve);
}

#[test]
fn goods_store_before_receipt_and_erroneous_charges() {
    let not_received = quote(goods(
        "withdrawal",
        json!({"identity_document_verified": true}),
        all_documents(),
    ));
    assert_eq!(not_received.decision, DecisionKind::Approve);
    assert_eq!(not_received.rule.as_deref(), Some("before_receipt"));

    let erroneous = quote(goods(
        "erroneous_charge",
        json!({"identity_document_verified": true}),
        all_documents(),
    ));
    assert_eq!(erroneous.decision, DecisionKind::NeedsInfo);
    assert_eq!(erroneous.missing, vec!["proof_of_purchase"]);
    let proven = quote(goods(
        "erroneous_charge",
        json!({"identity_document_verified": true, "proof_of_purchase": true}),
        all_documents(),
    ));
    assert_eq!(amount(&proven), "25990.00");
}

#[test]
fn goods_store_deadline_after_a_public_holiday() {
    // Received Friday 1 May (Unity Day): 3 working days are 4, 5 and 6 May.
    let decision = quote(json!({
        "policy": "kz-goods-store",
        "payment": {"amount": "1000.00", "currency": "KZT", "paid_at": "2026-04-28"},
        "received_at": "2026-05-01T09:00:00+05:00",
        "reason": "withdrawal",
        "facts": {"identity_document_verified": true},
        "documents": ["refund_application", "identity_document"],
    }));
    assert_eq!(decision.refund_due_by, Some(date("2026-05-06")));
}

// ---------- lv-webshop (seed 004) ----------

fn webshop(reason: &str, received_at: &str, facts: serde_json::Value) -> serde_json::Value {
    json!({
        "policy": "lv-webshop",
        "payment": {"amount": "84.90", "currency": "EUR", "paid_at": "2026-03-30T10:00:00+03:00"},
        "received_at": received_at,
        "reason": reason,
        "facts": facts,
    })
}

#[test]
fn webshop_returns_the_out_of_stock_difference() {
    // Received Saturday 4 April: 14 calendar days end Saturday 18 April; LV does not extend.
    let decision = quote(webshop(
        "out_of_stock_difference",
        "2026-04-04",
        json!({"invoiced_amount": "61.35"}),
    ));
    assert_eq!(decision.decision, DecisionKind::Approve);
    assert_eq!(amount(&decision), "23.55");
    assert_eq!(decision.currency, crate::money::Currency::EUR);
    assert_eq!(decision.refund_due_by, Some(date("2026-04-18")));
    assert_eq!(decision.payout_method, Some(PayoutMethod::OriginalCard));

    let no_difference = quote(webshop(
        "out_of_stock_difference",
        "2026-04-04",
        json!({"invoiced_amount": "84.90"}),
    ));
    assert_eq!(no_difference.decision, DecisionKind::Reject);

    let unknown = quote(webshop("out_of_stock_difference", "2026-04-04", json!({})));
    assert_eq!(unknown.missing, vec!["invoiced_amount"]);
}

#[test]
fn webshop_returns_the_advance_balance_by_bank_transfer() {
    let decision = quote(webshop(
        "advance_balance",
        "2026-04-02",
        json!({"balance": "40.00"}),
    ));
    assert_eq!(decision.decision, DecisionKind::Approve);
    assert_eq!(amount(&decision), "40.00");
    assert_eq!(decision.payout_method, Some(PayoutMethod::BankTransfer));
    // 10 LV working days from Thursday 2 April skip Good Friday (3 April) and Easter Monday
    // (6 April): 7-10, 13-17, 20 April.
    assert_eq!(decision.refund_due_by, Some(date("2026-04-20")));
}

#[test]
fn webshop_other_reasons_go_to_a_person() {
    for reason in ["withdrawal", "not_delivered", "erroneous_charge"] {
        let decision = quote(webshop(reason, "2026-04-04", json!({})));
        assert_eq!(decision.decision, DecisionKind::ManualReview, "{reason}");
        assert_eq!(decision.amount, None);
        // A person decides, and the request is due all the same: the pack's default SLA
        // (`[sla]`: 14 calendar days from the complete date, 4 April).
        assert_eq!(decision.refund_due_by, Some(date("2026-04-18")), "{reason}");
    }
}

// ---------- caps and malformed requests ----------

#[test]
fn refunds_never_exceed_what_is_left_of_the_payment() {
    let request = |refunded: &str| {
        json!({
            "policy": "by-app-studio",
            "payment": {"amount": "1200.00", "currency": "BYN", "paid_at": "2026-03-02",
                        "refunded": refunded},
            "received_at": "2026-03-06",
            "reason": "not_delivered",
        })
    };
    let partly = quote(request("1000.00"));
    assert_eq!(amount(&partly), "200.00");
    assert!(partly.capped);
    let fully = quote(request("1200.00"));
    assert_eq!(fully.decision, DecisionKind::Reject);
    assert!(
        fully.clause.contains("already been refunded"),
        "{}",
        fully.clause
    );
    assert!(matches!(
        try_quote(request("1200.01")),
        Err(QuoteError::RefundedExceedsCaptured { .. })
    ));
}

#[test]
fn malformed_requests_are_refused_with_the_field() {
    let mut request = course("2026-03-20", json!({}));
    request["payment"]["currency"] = json!("EUR");
    let err = try_quote(request).unwrap_err();
    assert_eq!(
        err.to_string(),
        "payment currency EUR is not the currency of policy `by-online-courses` (BYN)"
    );

    let mut request = course("2026-03-20", json!({}));
    request["payment"]["amount"] = json!("450.001");
    assert!(
        try_quote(request)
            .unwrap_err()
            .to_string()
            .starts_with("payment.amount:")
    );

    let err = try_quote(course("2026-03-01", json!({}))).unwrap_err();
    assert!(matches!(err, QuoteError::ReceivedBeforePayment { .. }));
}

// ---------- pack format ----------

#[test]
fn builtin_packs_load_with_content_versions() {
    let packs = PolicyPacks::try_builtin().unwrap();
    assert_eq!(
        packs.ids(),
        vec![
            "by-app-studio",
            "by-online-courses",
            "kz-goods-store",
            "kz-saas-subscription",
            "lv-webshop"
        ]
    );
    for pack in packs.iter() {
        assert_eq!(pack.version().len(), 16);
        assert!(pack.version().bytes().all(|b| b.is_ascii_hexdigit()));
    }
    let courses = packs.get("by-online-courses").unwrap();
    assert_eq!(courses.currency(), crate::money::Currency::BYN);
    assert_eq!(courses.timezone(), chrono_tz::Europe::Minsk);
}

const MERCHANT_PACK: &str = r#"
id = "lv-gym"
name = "Gym membership"
country = "LV"
currency = "EUR"
extend_to_working_day = false

[sla]
terms = [{ working_days = 5 }]

[[rules]]
id = "by_visits"
clause = "Refund by share of visits used."
requires = { facts = ["progress_percent"] }
outcome = { tiers = { fact = "progress_percent", bands = [
  { up_to = 10, percent = 90 },
  { up_to = 100, percent = 0 },
] } }
"#;

#[test]
fn a_merchant_pack_is_interpreted_without_code_changes() {
    let pack = PolicyPack::from_toml(MERCHANT_PACK, "gym.toml").unwrap();
    assert_eq!(pack.timezone(), chrono_tz::Europe::Riga);
    let input: QuoteInput = serde_json::from_value(json!({
        "policy": "lv-gym",
        "payment": {"amount": "30.00", "currency": "EUR", "paid_at": "2026-03-02"},
        "received_at": "2026-03-05",
        "reason": "withdrawal",
        "facts": {"progress_percent": 10},
    }))
    .unwrap();
    let decision = decide(&pack, WorkingDayCalendar::builtin(pack.country()), &input).unwrap();
    assert_eq!(amount(&decision), "27.00");
    assert_eq!(decision.refund_due_by, Some(date("2026-03-12")));
    // Any edit is a new version.
    let edited = PolicyPack::from_toml(&MERCHANT_PACK.replace("90", "80"), "gym.toml").unwrap();
    assert_ne!(edited.version(), pack.version());
}

fn pack_error(text: &str) -> PackError {
    PolicyPack::from_toml(text, "merchant.toml").unwrap_err()
}

#[test]
fn pack_errors_name_file_line_field_and_problem() {
    let unknown_fact = pack_error(&MERCHANT_PACK.replace(
        r#"requires = { facts = ["progress_percent"] }"#,
        r#"requires = { facts = ["progres_percent"] }"#,
    ));
    assert_eq!(unknown_fact.file, "merchant.toml");
    assert_eq!(unknown_fact.line, Some(14));
    assert_eq!(unknown_fact.field, "rules[1].requires.facts[1]");
    assert!(
        unknown_fact
            .problem
            .contains("unknown fact `progres_percent`")
    );
    assert!(
        unknown_fact
            .to_string()
            .starts_with("merchant.toml:14: rules[1].requires.facts[1]: unknown fact")
    );

    let wrong_kind = pack_error(
        &MERCHANT_PACK.replace(r#"fact = "progress_percent""#, r#"fact = "goods_intact""#),
    );
    assert_eq!(wrong_kind.line, Some(15));
    assert!(
        wrong_kind
            .problem
            .contains("`goods_intact` is a yes/no fact"),
        "{}",
        wrong_kind.problem
    );

    let gap = pack_error(&MERCHANT_PACK.replace("up_to = 100", "up_to = 99"));
    assert!(gap.problem.contains("up_to = 100"), "{}", gap.problem);

    let bad_currency = pack_error(&MERCHANT_PACK.replace(r#""EUR""#, r#""GBP""#));
    assert_eq!(bad_currency.line, Some(5));
    assert_eq!(bad_currency.field, "currency");

    let bad_zone = pack_error(&MERCHANT_PACK.replace(
        "extend_to_working_day = false",
        "extend_to_working_day = false\ntimezone = \"Europe/Riga2\"",
    ));
    assert_eq!(bad_zone.field, "timezone");
    assert!(bad_zone.problem.contains("Europe/Riga2"));

    let typo_key = pack_error(&MERCHANT_PACK.replace("[sla]\nterms", "[sla]\nterm"));
    assert_eq!(typo_key.field, "sla.term");
    assert!(
        typo_key.problem.contains("unknown field `term`"),
        "{}",
        typo_key.problem
    );

    let missing_clause =
        pack_error(&MERCHANT_PACK.replace("clause = \"Refund by share of visits used.\"\n", ""));
    assert!(missing_clause.problem.contains("missing field `clause`"));
    assert_eq!(missing_clause.line, Some(11));
}

#[test]
fn who_confirms_is_the_packs_choice_among_support_and_supervisor() {
    use crate::api_keys::ApiRole;
    let default = PolicyPack::from_toml(MERCHANT_PACK, "gym.toml").unwrap();
    assert_eq!(
        default.confirm_roles(),
        [ApiRole::Support, ApiRole::Supervisor]
    );
    let with = |roles: &str| {
        MERCHANT_PACK.replace(
            "extend_to_working_day = false",
            &format!("extend_to_working_day = false\nconfirm_roles = {roles}"),
        )
    };
    let supervisors =
        PolicyPack::from_toml(&with(r#"["supervisor", "supervisor"]"#), "gym.toml").unwrap();
    assert_eq!(supervisors.confirm_roles(), [ApiRole::Supervisor]);
    for (roles, problem) in [
        ("[]", "needs at least one role"),
        (r#"["viewer"]"#, "role `viewer` may not confirm refunds"),
        (
            r#"["intake", "support"]"#,
            "role `intake` may not confirm refunds",
        ),
    ] {
        let err = pack_error(&with(roles));
        assert_eq!(err.field, "confirm_roles", "{roles}");
        assert_eq!(err.line, Some(7), "{roles}");
        assert!(err.problem.contains(problem), "{roles}: {}", err.problem);
    }
    let typo = pack_error(&with(r#"["admin"]"#));
    assert!(
        typo.problem.contains("unknown variant `admin`"),
        "{}",
        typo.problem
    );
    // The shipped packs: the subscription's administrator is support (§8.4), as by default.
    let packs = PolicyPacks::try_builtin().unwrap();
    for pack in packs.iter() {
        assert_eq!(
            pack.confirm_roles(),
            [ApiRole::Support, ApiRole::Supervisor],
            "{}",
            pack.id()
        );
    }
}

#[test]
fn pack_refuses_a_fee_that_is_not_defined() {
    let text = MERCHANT_PACK.split("[[rules]]").next().unwrap().to_owned()
        + r#"[[rules]]
id = "balance"
clause = "Balance back."
outcome = { fact_minus_fee = { fact = "balance", fee = "bank_fee" } }
"#;
    let err = pack_error(&text);
    assert_eq!(err.line, Some(11));
    assert!(err.problem.contains("fee `bank_fee`"), "{}", err.problem);
}

// ---------- clauses in several languages ----------

/// `MERCHANT_PACK` with its rule's clause line replaced.
fn with_clause(clause: &str) -> String {
    MERCHANT_PACK.replace(r#"clause = "Refund by share of visits used.""#, clause)
}

#[test]
fn a_clause_is_an_english_string_or_a_table_of_languages() {
    let english = PolicyPack::from_toml(MERCHANT_PACK, "gym.toml").unwrap();
    let clause = &english.rules()[0].clause;
    assert_eq!(clause.en(), "Refund by share of visits used.");
    assert!(clause.translations().is_empty());

    // An inline table, also in a band and in `requires`.
    let inline = with_clause(
        r#"clause = { en = "Refund by share of visits used.", lv = "Atmaksa pēc apmeklējumu daļas.", ru = "Возврат по доле посещений." }"#,
    )
    .replace(
        "{ up_to = 10, percent = 90 }",
        r#"{ up_to = 10, percent = 90, clause = { en = "Up to 10 %: 90 % back.", lv = "Līdz 10 %: 90 % atpakaļ." } }"#,
    )
    .replace(
        r#"requires = { facts = ["progress_percent"] }"#,
        r#"requires = { facts = ["progress_percent"], clause = { en = "Tell us the visits.", kk = "Келулерді айтыңыз." } }"#,
    );
    let pack = PolicyPack::from_toml(&inline, "gym.toml").unwrap();
    let rule = &pack.rules()[0];
    assert_eq!(rule.clause.en(), "Refund by share of visits used.");
    assert_eq!(
        rule.clause.get(Language::Lv),
        Some("Atmaksa pēc apmeklējumu daļas.")
    );
    assert_eq!(
        rule.clause.get(Language::Ru),
        Some("Возврат по доле посещений.")
    );
    assert_eq!(rule.clause.get(Language::Kk), None);
    let Outcome::Tiers(tiers) = &rule.outcome else {
        panic!("tiers")
    };
    let band = tiers.bands[0].clause.as_ref().unwrap();
    assert_eq!(band.get(Language::Lv), Some("Līdz 10 %: 90 % atpakaļ."));
    assert_eq!(tiers.bands[1].clause, None);
    let requires = rule.requires.clause.as_ref().unwrap();
    assert_eq!(requires.get(Language::Kk), Some("Келулерді айтыңыз."));

    // Dotted keys, one language a line, make the same table.
    let dotted = with_clause(
        "clause.en = \"Refund by share of visits used.\"\nclause.lv = \"Atmaksa pēc apmeklējumu daļas.\"",
    );
    let pack = PolicyPack::from_toml(&dotted, "gym.toml").unwrap();
    assert_eq!(
        pack.rules()[0].clause.translations(),
        &BTreeMap::from([(Language::Lv, "Atmaksa pēc apmeklējumu daļas.".to_owned())])
    );
}

#[test]
fn a_clause_in_an_unknown_language_is_a_pack_error_naming_file_line_and_field() {
    let inline = pack_error(&with_clause(
        r#"clause = { en = "Refund.", de = "Erstattung." }"#,
    ));
    assert_eq!(inline.file, "merchant.toml");
    assert_eq!(inline.line, Some(13));
    assert_eq!(inline.field, "rules[1].clause.de");
    assert!(
        inline.problem.contains("unknown language `de`")
            && inline.problem.contains("en (required), ru, kk or lv"),
        "{}",
        inline.problem
    );
    assert!(
        inline
            .to_string()
            .starts_with("merchant.toml:13: rules[1].clause.de: unknown language `de`"),
        "{inline}"
    );

    // Codes are exact: no upper case, no regions.
    for code in ["RU", "ru-RU", "lat"] {
        let err = pack_error(&with_clause(&format!(
            "clause.en = \"Refund.\"\nclause.{code} = \"x\""
        )));
        assert_eq!(err.line, Some(14), "{code}");
        assert!(
            err.problem.contains(&format!("unknown language `{code}`")),
            "{code}: {}",
            err.problem
        );
    }

    // In a band of a tiers table written over several lines.
    let band = pack_error(&MERCHANT_PACK.replace(
        "{ up_to = 10, percent = 90 }",
        r#"{ up_to = 10, percent = 90, clause = { en = "x", fr = "y" } }"#,
    ));
    assert_eq!(band.line, Some(16));
    assert_eq!(band.field, "rules[1].outcome.tiers.bands[1].clause.fr");

    // In a shipped pack: the second band of §11, the §15 effect, the §14 payout rule.
    let courses = include_str!("../../data/policies/by-online-courses.toml");
    for (from, to, field) in [
        (
            "clause.ru = \"\"\"Пункт 11 б)",
            "clause.be = \"\"\"Пункт 11 б)",
            "rules[5].outcome.tiers.bands[2].clause.be",
        ),
        (
            "clause.ru = \"\"\"Пункт 15",
            "clause.by = \"\"\"Пункт 15",
            "effects[1].clause.by",
        ),
        (
            "clause.ru = \"\"\"Пункт 14",
            "clause.rus = \"\"\"Пункт 14",
            "payout_rules[1].clause.rus",
        ),
    ] {
        assert!(courses.contains(from), "{from}");
        let err = PolicyPack::from_toml(&courses.replacen(from, to, 1), "by-online-courses.toml")
            .unwrap_err();
        assert_eq!(err.field, field, "{err}");
        let line = courses[..courses.find(from).unwrap()].matches('\n').count() + 1;
        assert_eq!(err.line, Some(line), "{err}");
    }
}

#[test]
fn a_clause_table_needs_english_and_no_blank_texts() {
    let no_english = pack_error(&with_clause(r#"clause = { ru = "Возврат." }"#));
    assert_eq!(no_english.line, Some(13));
    assert!(
        no_english.problem.contains("needs `en`"),
        "{}",
        no_english.problem
    );
    let blank = pack_error(&with_clause(r#"clause = { en = "Refund.", lv = " " }"#));
    assert_eq!(blank.field, "rules[1].clause");
    assert!(
        blank.problem.contains("`lv` text is empty"),
        "{}",
        blank.problem
    );
    let number = pack_error(&with_clause("clause = 5"));
    assert!(
        number.problem.contains("a string (English) or a table"),
        "{}",
        number.problem
    );
}

#[test]
fn decisions_carry_the_clause_in_the_packs_other_languages() {
    let ru = |d: &Decision| d.clause_translations[&Language::Ru].clone();
    // by-online-courses: the band of §11 and the §15 effect, in the merchant's Russian.
    let course = quote(course(
        "2026-03-20T12:00:00+03:00",
        json!({"access_started_at": "2026-03-02", "progress_percent": 35}),
    ));
    assert!(course.clause.starts_with("§11 b)"));
    assert!(
        ru(&course).starts_with("Пункт 11 б): прогресс по Модулю от 31 до 50 %"),
        "{}",
        ru(&course)
    );
    assert_eq!(course.clause_translations.len(), 1);
    let effect = &course.effects[0];
    assert!(effect.clause.starts_with("§15"));
    assert!(effect.clause_translations[&Language::Ru].starts_with("Пункт 15: доступ к Модулю"));

    let value = serde_json::to_value(&course).unwrap();
    assert!(value["clause"].as_str().unwrap().starts_with("§11 b)"));
    assert_eq!(value["clause_translations"]["ru"], json!(ru(&course)));
    assert_eq!(
        value["clause_translations"].as_object().unwrap().len(),
        1,
        "only the languages the pack has besides en"
    );
    assert!(
        value["effects"][0]["clause_translations"]["ru"]
            .as_str()
            .unwrap()
            .starts_with("Пункт 15")
    );

    // kz-saas-subscription asks for the reasons with the `requires` clause of §8.3.
    let needs = quote(saas(
        "2026-03-10",
        json!({"access_started_at": "2026-03-02"}),
    ));
    assert_eq!(needs.decision, DecisionKind::NeedsInfo);
    assert!(ru(&needs).starts_with("Пункт 8.3: в письменном заявлении"));

    // kz-goods-store in Kazakh, lv-webshop in Latvian.
    let personalized = quote(goods(
        "withdrawal",
        json!({"goods_received_at": "2026-04-03", "goods_intact": true, "personalized": true,
               "proof_of_purchase": true, "identity_document_verified": true}),
        all_documents(),
    ));
    assert_eq!(personalized.decision, DecisionKind::Reject);
    assert!(personalized.clause_translations[&Language::Kk].starts_with("3-тармақ:"));
    assert!(!personalized.clause_translations.contains_key(&Language::Ru));
    let no_difference = quote(webshop(
        "out_of_stock_difference",
        "2026-04-04",
        json!({"invoiced_amount": "84.90"}),
    ));
    assert!(no_difference.clause_translations[&Language::Lv].starts_with("7. punkts:"));

    // A text the engine writes itself comes in every language, amounts written locally.
    let nothing_left = quote(json!({
        "policy": "by-app-studio",
        "payment": {"amount": "1200.00", "currency": "BYN", "paid_at": "2026-03-02",
                    "refunded": "1200.00"},
        "received_at": "2026-03-06",
        "reason": "not_delivered",
    }));
    assert_eq!(
        nothing_left.clause,
        "Nothing is left to refund: 1200.00 BYN of the 1200.00 BYN paid has already been refunded."
    );
    let translations = serde_json::to_value(&nothing_left).unwrap()["clause_translations"].clone();
    assert_eq!(
        translations["ru"],
        "Возвращать больше нечего: из уплаченных 1\u{a0}200,00\u{a0}BYN уже возвращено 1\u{a0}200,00\u{a0}BYN."
    );
    assert!(
        translations["kk"]
            .as_str()
            .unwrap()
            .starts_with("Қайтаратын қаражат қалмады")
    );
    assert!(
        translations["lv"]
            .as_str()
            .unwrap()
            .starts_with("Vairs nav ko atmaksāt")
    );
}

#[test]
fn every_shipped_clause_quotes_the_merchants_own_language() {
    let expected = [
        ("by-app-studio", Language::Ru),
        ("by-online-courses", Language::Ru),
        ("kz-saas-subscription", Language::Ru),
        ("kz-goods-store", Language::Kk),
        ("lv-webshop", Language::Lv),
    ];
    for (id, language) in expected {
        let pack = PolicyPacks::builtin().get(id).unwrap();
        let mut clauses: Vec<(String, &Clause)> = Vec::new();
        for rule in pack.rules() {
            clauses.push((format!("rule {}", rule.id), &rule.clause));
            clauses.extend(
                rule.requires
                    .clause
                    .iter()
                    .map(|c| (format!("rule {} requires", rule.id), c)),
            );
            if let Outcome::Tiers(tiers) = &rule.outcome {
                for band in &tiers.bands {
                    clauses.extend(
                        band.clause
                            .iter()
                            .map(|c| (format!("band up to {}", band.up_to), c)),
                    );
                }
            }
        }
        clauses.extend(
            pack.approval_requires
                .clause
                .iter()
                .map(|c| ("approval_requires".into(), c)),
        );
        for payout in &pack.payout_rules {
            clauses.push(("payout rule".into(), &payout.clause));
        }
        for effect in &pack.effects {
            clauses.push((format!("effect {}", effect.kind), &effect.clause));
        }
        assert!(!clauses.is_empty(), "{id}");
        for (what, clause) in clauses {
            assert_eq!(
                clause.translations().keys().copied().collect::<Vec<_>>(),
                vec![language],
                "{id}: {what}"
            );
            let text = clause.get(language).unwrap();
            assert!(
                text.trim() == text && !text.contains("  "),
                "{id}: {what}: {text:?}"
            );
        }
    }
}

// ---------- properties ----------

fn course_quote(paid_minor: i64, refunded_minor: i64, progress: u8, day: u32) -> Decision {
    let paid = crate::money::Money::from_minor(paid_minor, crate::money::Currency::BYN);
    let refunded = crate::money::Money::from_minor(refunded_minor, crate::money::Currency::BYN);
    quote(json!({
        "policy": "by-online-courses",
        "payment": {"amount": paid.amount_text(), "currency": "BYN", "paid_at": "2026-03-02",
                    "refunded": refunded.amount_text()},
        "received_at": format!("2026-03-{day:02}"),
        "reason": "withdrawal",
        "facts": {"access_started_at": "2026-03-02", "progress_percent": progress},
    }))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn refund_never_exceeds_paid_minus_refunded(
        paid in 1_i64..10_000_000,
        refunded_share in 0_i64..=100,
        progress in 0_u8..=100,
        day in 2_u32..=31,
    ) {
        let refunded = paid * refunded_share / 100;
        let decision = course_quote(paid, refunded, progress, day);
        let refund = decision.amount.map_or(0, super::super::money::Money::minor);
        prop_assert!(refund >= 0);
        prop_assert!(refund <= paid - refunded, "{refund} > {paid} - {refunded}");
    }

    #[test]
    fn more_progress_never_refunds_more(
        paid in 1_i64..10_000_000,
        low in 0_u8..=100,
        high in 0_u8..=100,
        day in 2_u32..=31,
    ) {
        let (low, high) = (low.min(high), low.max(high));
        let at_low = course_quote(paid, 0, low, day).amount.map_or(0, super::super::money::Money::minor);
        let at_high = course_quote(paid, 0, high, day).amount.map_or(0, super::super::money::Money::minor);
        prop_assert!(at_high <= at_low, "progress {high} refunds {at_high} > {at_low} at {low}");
    }

    #[test]
    fn saas_refund_shrinks_as_days_pass(days in 0_u32..=14, paid in 1_i64..100_000_000) {
        let paid = crate::money::Money::from_minor(paid, crate::money::Currency::KZT);
        let received = date("2026-03-02") + chrono::Days::new(days.into());
        let at = |received: NaiveDate| {
            quote(json!({
                "policy": "kz-saas-subscription",
                "payment": {"amount": paid.amount_text(), "currency": "KZT", "paid_at": "2026-03-02"},
                "received_at": received.to_string(),
                "reason": "withdrawal",
                "facts": {"access_started_at": "2026-03-02", "reason_text": "r"},
            }))
            .amount
            .map_or(0, super::super::money::Money::minor)
        };
        let today = at(received);
        prop_assert!(today <= paid.minor());
        if days > 0 {
            prop_assert!(today <= at(received - chrono::Days::new(1)));
        }
    }
}

// ---------- needs_info asks once ----------

#[test]
fn goods_received_and_nothing_said_of_their_state_asks_for_everything_at_once() {
    // Before: `goods_intact` alone, then a second email for the proof of purchase and both
    // documents.
    let asked = quote(goods(
        "withdrawal",
        json!({"goods_received_at": "2026-04-03"}),
        json!([]),
    ));
    assert_eq!(asked.decision, DecisionKind::NeedsInfo);
    assert_eq!(
        asked.missing,
        vec![
            "goods_intact",
            "proof_of_purchase",
            "identity_document_verified",
            "refund_application",
            "identity_document"
        ]
    );
    assert_eq!(asked.rule.as_deref(), Some("intact_return"));
    // Answered in one go: decided.
    let answered = quote(goods(
        "withdrawal",
        json!({"goods_received_at": "2026-04-03", "goods_intact": true,
               "proof_of_purchase": true, "identity_document_verified": true}),
        all_documents(),
    ));
    assert_eq!(answered.decision, DecisionKind::Approve);
    // Goods said to be damaged: refused, nothing more asked.
    let damaged = quote(goods(
        "withdrawal",
        json!({"goods_received_at": "2026-04-03", "goods_intact": false}),
        json!([]),
    ));
    assert_eq!(damaged.decision, DecisionKind::Reject);
}

/// A value of the fact's kind, picked by `pick`.
fn value_of(fact: FactName, pick: u8) -> serde_json::Value {
    use super::facts::FactKind;
    match fact.kind() {
        FactKind::YesNo => json!(pick.is_multiple_of(2)),
        FactKind::Date => json!(format!("2026-03-{:02}", 1 + pick % 28)),
        FactKind::Percent => json!(pick % 101),
        FactKind::Amount => json!(format!("{}.00", u32::from(pick) * 7)),
        FactKind::Text => json!("stated by the customer"),
    }
}

/// Everything a payout rule's requirements name: needed only once the facts its condition
/// reads are known, so a second question may name them.
fn payout_requirements(pack: &PolicyPack) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for rule in &pack.payout_rules {
        let r = &rule.requires;
        names.extend(r.facts.iter().map(|f| f.name().to_owned()));
        names.extend(r.true_facts.iter().map(|f| f.0.name().to_owned()));
        names.extend(r.documents.iter().map(|d| d.name().to_owned()));
    }
    names
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Supplying exactly what a needs_info decision lists (any values) never brings a second
    /// needs_info for an item that was knowable the first time: a second question names only
    /// items it already named (a yes/no requirement answered "no") or a payout rule's
    /// requirements that the answers made apply.
    #[test]
    fn supplying_the_listed_items_never_asks_for_something_knowable_before(
        pack in 0_usize..5,
        reason in 0_usize..6,
        stated in proptest::collection::vec(proptest::option::of(any::<u8>()), FactName::ALL.len()),
        documents in proptest::collection::vec(any::<bool>(), 3),
        answers in proptest::collection::vec(any::<u8>(), FactName::ALL.len()),
        day in 1_u32..=28,
    ) {
        let packs = PolicyPacks::builtin();
        let pack = packs.iter().nth(pack).unwrap();
        let kinds = [
            DocumentKind::RefundApplication,
            DocumentKind::IdentityDocument,
            DocumentKind::PaymentReceipt,
        ];
        let mut facts = serde_json::Map::new();
        for (fact, value) in FactName::ALL.iter().zip(&stated) {
            if let Some(pick) = value {
                facts.insert(fact.name().to_owned(), value_of(*fact, *pick));
            }
        }
        let documents: Vec<&str> = kinds
            .iter()
            .zip(&documents)
            .filter(|(_, has)| **has)
            .map(|(d, _)| d.name())
            .collect();
        let amount = match pack.currency() {
            crate::money::Currency::KZT => "60000.00",
            _ => "450.00",
        };
        let mut request = json!({
            "policy": pack.id().as_str(),
            "payment": {"amount": amount, "currency": pack.currency().code(), "paid_at": "2026-03-02"},
            "received_at": format!("2026-03-{day:02}"),
            "reason": Reason::ALL[reason].name(),
            "facts": facts,
            "documents": documents,
        });
        let Ok(first) = try_quote(request.clone()) else {
            return Ok(());
        };
        prop_assume!(first.decision == DecisionKind::NeedsInfo);
        for name in &first.missing {
            match name.parse::<FactName>() {
                Ok(fact) => {
                    let pick = answers[FactName::ALL.iter().position(|f| *f == fact).unwrap()];
                    request["facts"][name] = value_of(fact, pick);
                }
                Err(_) => request["documents"].as_array_mut().unwrap().push(json!(name)),
            }
        }
        let Ok(second) = try_quote(request.clone()) else {
            return Ok(());
        };
        if second.decision == DecisionKind::NeedsInfo {
            let allowed = payout_requirements(pack);
            for item in &second.missing {
                prop_assert!(
                    first.missing.contains(item) || allowed.contains(item),
                    "{}: asked {:?}, answered, then asked {:?}; {item} was knowable\n{request}",
                    pack.id().as_str(), first.missing, second.missing
                );
            }
        }
    }
}
