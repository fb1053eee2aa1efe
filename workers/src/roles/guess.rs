//! Never pay on a guess. An application read from an email is decided automatically (paid,
//! or refused) only when the reading is certain by the reader's stated rule
//! (`shared::intake::Reading::certain`: one reason with explicit support, no competing
//! reason, no negation, question or condition around it) and the decision does not rest on
//! the absence of a fact the pack says an email must state (`email_must_state`): an email
//! that does not mention the course's start has not said the course never started. Anything
//! else goes to a person (`manual_review`), with the reading and its evidence in the history;
//! so does a claim of an erroneous or double charge read from an email, however certain: the
//! registered payment is the purchase itself, and only a person can see the other charge;
//! the customer was already told, in the intake's answer, what we understood and asked to
//! confirm or correct it.

use serde_json::Value;
use shared::policy::{Decision, PolicyPack, Reason};
use shared::requests::RequestRecord;
use sqlx::PgConnection;

/// Why a decision on this request would be a guess, or `None` when it would not.
pub async fn doubt(
    conn: &mut PgConnection,
    record: &RequestRecord,
    pack: Option<&PolicyPack>,
    decision: &Decision,
) -> sqlx::Result<Option<Value>> {
    if record.channel != "email" {
        return Ok(None);
    }
    let reading: Option<Value> = sqlx::query_scalar!(
        "SELECT email_reading FROM refund_requests WHERE id = $1",
        record.id
    )
    .fetch_one(conn)
    .await?;
    Ok(doubt_in(reading.as_ref(), record, pack, decision))
}

/// The rule itself, on what was read and decided.
pub fn doubt_in(
    reading: Option<&Value>,
    record: &RequestRecord,
    pack: Option<&PolicyPack>,
    decision: &Decision,
) -> Option<Value> {
    let Some(reading) = reading else {
        // An emailed request with nothing read (taken in before readings were kept).
        return Some(serde_json::json!({"why": "no reading of the email is kept"}));
    };
    let certain = reading["certain"].as_bool().unwrap_or(false);
    let read_reason = reading["reason"].as_str();
    if !certain {
        return Some(serde_json::json!({
            "why": "the email's reason is not certain",
            "doubts": reading["doubts"],
            "evidence": reading["evidence"],
        }));
    }
    if record.reason == Some(Reason::ErroneousCharge) {
        return Some(serde_json::json!({
            "why": "an erroneous or double charge claimed by email: a person checks the other charge",
            "evidence": reading["evidence"],
        }));
    }
    if read_reason.is_some() && read_reason != record.reason.map(Reason::name) {
        // The reason was changed since (a reply, a person): the reading no longer covers it.
        return Some(serde_json::json!({
            "why": "the request's reason is not the one read from the email",
            "read": read_reason,
            "reason": record.reason,
        }));
    }
    let must_state = pack.map(PolicyPack::email_must_state);
    let stated: shared::intake::StatedFacts =
        serde_json::from_value(reading["facts"].clone()).unwrap_or_default();
    let unstated: Vec<&str> = decision
        .facts_taken_absent
        .iter()
        .filter(|f| must_state.is_some_and(|m| m.contains(f)))
        .filter(|f| !stated.states_absence_of(**f))
        .map(|f| f.name())
        .collect();
    if !unstated.is_empty() {
        return Some(serde_json::json!({
            "why": "the decision rests on facts the email does not state",
            "facts": unstated,
            "evidence": reading["evidence"],
        }));
    }
    None
}
