//! `POST /v1/quotes`: what the policy engine would decide for a request, with no side effects;
//! the same input and answer as `refundd quote`. A key of one merchant quotes under that
//! merchant's policy packs.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use shared::api_keys::ApiRole;
use shared::policy::{Decision, QuoteInput};

use super::ApiContext;
use super::auth::Authenticated;
use super::extract::{ApiJson, TextLimits, TextShape};
use super::problem::{ApiError, JsonBodyProblems, KeyProblems};

pub fn router() -> Router<ApiContext> {
    Router::new().route("/v1/quotes", post(quote))
}

/// Decides a hypothetical refund request under a policy pack and returns the decision.
#[utoipa::path(post, path = "/v1/quotes", operation_id = "quote", tag = "quotes",
    security(("api_key" = [])),
    request_body(content = Object, description = "the JSON of `refundd quote`: policy, payment {amount, currency, paid_at, refunded?}, received_at, complete_at?, reason, facts, documents?"),
    responses(
        (status = 200, body = Object, description = "the decision: decision, amount, currency, refund_due_by, clause (English), clause_translations (the same clause in the pack's other languages, e.g. {\"ru\": \"...\"}; {} when the pack has English only), missing, payout_method, requires_confirmation, effects (each with its clause and clause_translations), policy, policy_version, ..."),
        JsonBodyProblems,
        KeyProblems,
    ))]
pub async fn quote(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    ApiJson(input): ApiJson<QuoteInput>,
) -> Result<Json<Decision>, ApiError> {
    let caller = caller.require(&[ApiRole::Support, ApiRole::Supervisor], "ask for quotes")?;
    // A key of one merchant quotes under that merchant's packs only.
    let usable = |policy: &str| match caller.scope.merchant() {
        None => true,
        Some(m) => ctx
            .merchants
            .get(m)
            .is_some_and(|m| m.policies.iter().any(|p| p == policy)),
    };
    let pack = ctx
        .packs
        .get(&input.policy)
        .filter(|_| usable(&input.policy));
    let pack = pack.ok_or_else(|| {
        let known: Vec<&str> = ctx
            .packs
            .iter()
            .map(|p| p.id().as_str())
            .filter(|p| usable(p))
            .collect();
        ApiError::field(
            "policy",
            format!(
                "unknown policy {:?}; known: {}",
                input.policy,
                known.join(", ")
            ),
        )
    })?;
    let calendar = ctx.calendars.get(pack.country());
    shared::policy::decide(pack, calendar, &input)
        .map(Json)
        .map_err(|e| ApiError::validation(e.to_string(), Vec::new()))
}

impl TextLimits for QuoteInput {
    const TEXT: &'static [(&'static str, usize, TextShape)] = &[
        (
            "facts.reason_text",
            super::requests::REASON_TEXT_MAX,
            TextShape::Lines,
        ),
        (
            "facts.bank_details",
            super::requests::BANK_DETAILS_MAX,
            TextShape::Lines,
        ),
    ];
}
