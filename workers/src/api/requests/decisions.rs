//! What people do to a request: add missing facts, confirm, reject, withdraw, and the moves
//! other endpoints share ([`Move`], [`move_to`]); each one transaction with its audit event.

use super::*;

/// Loads and locks a request for a write by a person; another merchant's answers as one that
/// does not exist.
pub(in crate::api) async fn lock(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<(RequestRecord, i32), ApiError> {
    let (_, version) = transition::lock_state(conn, id)
        .await
        .map_err(|e| match e {
            TransitionError::NotFound(_) => no_request(id),
            other => ApiError::internal(other),
        })?;
    let record = find_visible(conn, caller, id).await?;
    Ok((record, version))
}

pub(super) fn illegal(record: &RequestRecord, to: RequestState, what: &str) -> ApiError {
    ApiError::conflict(
        "illegal-transition",
        format!(
            "cannot {what}: the request is {} and cannot go to {to}",
            record.state
        ),
    )
}

/// Adds facts that were missing (later values replace earlier ones). A request waiting for
/// information is validated again.
#[utoipa::path(patch, path = "/v1/refund-requests/{id}/facts", operation_id = "add_refund_request_facts", tag = "refund requests",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    request_body(content = Object, description = "facts by name, e.g. {\"progress_percent\": 35}; `reason_text` at most 4000 characters, `bank_details` 200, other text one line of 200"),
    responses(
        (status = 200, body = RefundRequestView),
        JsonBodyProblems,
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_facts(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
    ApiJson(new_facts): ApiJson<Facts>,
) -> Result<Json<RefundRequestView>, ApiError> {
    let caller = caller.require(&READERS, "add facts")?;
    let id = parse_id(&id)?;
    let added = strip_nulls(serde_json::to_value(&new_facts).expect("facts serialize"));
    if added.as_object().is_none_or(serde_json::Map::is_empty) {
        return Err(ApiError::field("body", "give at least one fact"));
    }
    let mut tx = ctx.db.begin().await?;
    let (record, version) = lock(&mut tx, caller, id).await?;
    let state = record.state();
    if !state.takes_new_facts() {
        return Err(ApiError::conflict(
            "already-decided",
            format!(
                "the request is {}; new facts can no longer change its decision",
                record.state
            ),
        ));
    }
    let mut merged = record.facts.clone();
    if let (Some(target), Some(source)) = (merged.as_object_mut(), added.as_object()) {
        for (k, v) in source {
            target.insert(k.clone(), v.clone());
        }
    }
    requests::replace_facts(&mut tx, id, &merged).await?;
    engine_accepts(&ctx, &mut tx, id).await?;
    // Received or being checked: the running validation reads the new facts. Waiting for
    // them: checked again.
    if state == RequestState::NeedsInfo {
        let validate = WorkMessage::new(Stage::Validate, id).with_version(version + 1);
        transition::apply(
            &mut tx,
            &Transition {
                request_id: id,
                expected_version: version,
                from: state,
                to: RequestState::Validating,
                actor: &caller.actor(),
                reason: Some("missing facts added"),
                details: json!({"facts_added": added}),
            },
            &[validate.into()],
        )
        .await?;
    }
    tx.commit().await?;
    let mut conn = ctx.db.acquire().await?;
    Ok(Json(view(&mut conn, caller, id).await?))
}

/// Confirms a decision that awaits confirmation (a key whose role the policy pack's
/// `confirm_roles` names: support and supervisor unless the pack says fewer), or decides a
/// request in manual review with an amount (a supervisor). The request moves to approved and
/// on to payout.
#[utoipa::path(post, path = "/v1/refund-requests/{id}/confirm", operation_id = "confirm_refund_request", tag = "refund requests",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    request_body(content = Option<ConfirmBody>),
    responses(
        (status = 200, body = RefundRequestView),
        JsonBodyProblems,
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn confirm(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
    OptionalJson(body): OptionalJson<ConfirmBody>,
) -> Result<Json<RefundRequestView>, ApiError> {
    let caller = caller.require(&READERS, "confirm refunds")?;
    let id = parse_id(&id)?;
    let mut tx = ctx.db.begin().await?;
    let (record, version) = lock(&mut tx, caller, id).await?;
    let state = record.state();
    check_transition(state, RequestState::Approved)
        .map_err(|_| illegal(&record, RequestState::Approved, "confirm"))?;
    let payment_id = record.payment_id.ok_or_else(|| {
        ApiError::conflict("no-payment", "the request is not matched to a payment")
    })?;
    // Approvals on one payment happen one at a time: a concurrent confirm of another request
    // on the same payment waits here and then sees this one's amount as committed.
    let payment = payments::lock(&mut tx, payment_id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("payment {payment_id} missing")))?;
    let pack = ctx
        .packs
        .get(&payment.policy)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("pack {} missing", payment.policy)))?;
    // Who confirms the engine's decision is the pack's choice (`confirm_roles`); deciding an
    // amount in manual review is a supervisor's.
    match state {
        RequestState::AwaitingConfirmation => {
            if !pack.confirm_roles().contains(&caller.role) {
                let roles: Vec<&str> = pack.confirm_roles().iter().map(|r| r.as_str()).collect();
                return Err(ApiError::forbidden(format!(
                    "a {} key may not confirm refunds under policy {}; it names {} keys \
                     (`confirm_roles`)",
                    caller.role,
                    pack.id(),
                    roles.join(" or ")
                )));
            }
        }
        _ => {
            if caller.role != ApiRole::Supervisor {
                return Err(ApiError::forbidden(format!(
                    "a {} key may not decide a request in manual review; that needs a \
                     supervisor key",
                    caller.role
                )));
            }
        }
    }
    let committed = payments::committed_refunds(&mut tx, payment_id, Some(id)).await?;
    let left = payment.amount.minor() - committed;

    let (amount_minor, due_on, decision) = match state {
        RequestState::AwaitingConfirmation => {
            // The policy counts its SLA from the confirmation date: decide again with it.
            let mut record = record.clone();
            record.facts["approved_at"] = json!(Utc::now().to_rfc3339());
            let refunded = Money::from_minor(committed, payment.currency);
            let input = requests::quote_input(&record, &payment, refunded, Vec::new())
                .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
            let decision = shared::policy::decide(pack, ctx.calendars.get(pack.country()), &input)
                .map_err(|e| ApiError::conflict("policy", e.to_string()))?;
            let amount = decision.amount.map(Money::minor).unwrap_or(0);
            (
                amount,
                decision.refund_due_by,
                Some(shared::policy::StoredDecision::from_engine(&decision)),
            )
        }
        _ => {
            let text = body.amount.as_deref().ok_or_else(|| {
                ApiError::field(
                    "amount",
                    "a request in manual review needs the amount to refund",
                )
            })?;
            let amount = DecimalAmount::parse(text)
                .and_then(|d| d.in_currency(payment.currency))
                .map_err(|e| ApiError::field("amount", e.to_string()))?;
            if amount.minor() <= 0 {
                return Err(ApiError::field("amount", "must be more than zero"));
            }
            // A person's approval keeps the due date the request has; one that has none gets
            // the pack's default SLA, so no approved request goes unwatched.
            let due_on = match record.due_on {
                Some(due) => Some(due),
                None => {
                    let refunded = Money::from_minor(committed, payment.currency);
                    let input = requests::quote_input(&record, &payment, refunded, Vec::new())
                        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
                    let due = shared::policy::default_due(
                        pack,
                        ctx.calendars.get(pack.country()),
                        &input,
                    )
                    .map_err(|e| ApiError::conflict("policy", e.to_string()))?;
                    Some(due)
                }
            };
            // The stored decision stays: a person chose the amount.
            (amount.minor(), due_on, None)
        }
    };
    if amount_minor <= 0 {
        return Err(ApiError::conflict(
            "nothing-to-refund",
            "the policy leaves nothing to refund",
        ));
    }
    if amount_minor > left {
        return Err(ApiError::conflict(
            "amount-exceeds-payment",
            format!(
                "{} would exceed what is left of the payment ({} of {} {})",
                Money::from_minor(amount_minor, payment.currency).amount_text(),
                Money::from_minor(left.max(0), payment.currency).amount_text(),
                payment.amount.amount_text(),
                payment.currency.code()
            ),
        ));
    }
    requests::record_approval(&mut tx, id, amount_minor, due_on, decision.as_ref()).await?;
    let messages = [OutboxMessage::from(
        WorkMessage::new(Stage::Payout, id).with_version(version + 1),
    )];
    transition::apply(
        &mut tx,
        &Transition {
            request_id: id,
            expected_version: version,
            from: state,
            to: RequestState::Approved,
            actor: &caller.actor(),
            reason: Some(body.note.as_deref().unwrap_or(match caller.role {
                ApiRole::Supervisor => "confirmed by a supervisor",
                _ => "confirmed by support",
            })),
            details: json!({"amount": Money::from_minor(amount_minor, payment.currency).amount_text()}),
        },
        &messages,
    )
    .await?;
    tx.commit().await?;
    let mut conn = ctx.db.acquire().await?;
    Ok(Json(view(&mut conn, caller, id).await?))
}

/// A supervisor rejects a request (awaiting confirmation or in manual review), saying why.
#[utoipa::path(post, path = "/v1/refund-requests/{id}/reject", operation_id = "reject_refund_request", tag = "refund requests",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    request_body = RejectBody,
    responses(
        (status = 200, body = RefundRequestView),
        JsonBodyProblems,
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reject(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
    ApiJson(body): ApiJson<RejectBody>,
) -> Result<Json<RefundRequestView>, ApiError> {
    let caller = caller.require(&[ApiRole::Supervisor], "reject refunds")?;
    let id = parse_id(&id)?;
    let reason = body.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::field(
            "reason",
            "say why, in words the customer will read",
        ));
    }
    move_to(
        &ctx,
        caller,
        id,
        Move::new(RequestState::Rejected, reason, "reject"),
    )
    .await
}

/// The customer withdraws the application (any time before payout).
#[utoipa::path(post, path = "/v1/refund-requests/{id}/withdraw", operation_id = "withdraw_refund_request", tag = "refund requests",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    request_body(content = Option<WithdrawBody>),
    responses(
        (status = 200, body = RefundRequestView),
        JsonBodyProblems,
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn withdraw(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
    OptionalJson(body): OptionalJson<WithdrawBody>,
) -> Result<Json<RefundRequestView>, ApiError> {
    let caller = caller.require(&READERS, "withdraw applications")?;
    let id = parse_id(&id)?;
    let note = body
        .note
        .unwrap_or_else(|| "withdrawn at the customer's request".into());
    move_to(
        &ctx,
        caller,
        id,
        Move::new(RequestState::Withdrawn, &note, "withdraw"),
    )
    .await
}

/// A person asks the customer for something more before deciding (a request in manual
/// review or awaiting confirmation): the request waits in `needs_info` (the SLA clock paused)
/// and the customer's email lists exactly what is asked; their answer is validated and
/// decided again.
#[utoipa::path(post, path = "/v1/refund-requests/{id}/ask", operation_id = "ask_customer", tag = "refund requests",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    request_body = AskBody,
    responses(
        (status = 200, body = RefundRequestView),
        JsonBodyProblems,
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn ask(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
    ApiJson(body): ApiJson<AskBody>,
) -> Result<Json<RefundRequestView>, ApiError> {
    let caller = caller.require(&READERS, "ask customers for information")?;
    let id = parse_id(&id)?;
    let mut asked: Vec<String> = Vec::new();
    for name in body.missing.iter().map(|m| m.trim()) {
        if let shared::notify::MissingItem::Other(_) = shared::notify::MissingItem::from_name(name)
        {
            return Err(ApiError::field(
                "missing",
                format!(
                    "{name:?} is not something the customer can be asked for; give fact names (reason_text, goods_received_at, ...), document kinds (identity_document, refund_application, payment_receipt) or identity problem codes"
                ),
            ));
        }
        if !asked.iter().any(|a| a == name) {
            asked.push(name.to_string());
        }
    }
    if asked.is_empty() {
        return Err(ApiError::field(
            "missing",
            "say what to ask the customer for",
        ));
    }
    let reason = body
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map_or_else(
            || format!("asked the customer for: {}", asked.join(", ")),
            str::to_owned,
        );
    // A fresh decision that only asks: the engine's earlier answer (its amount, clause,
    // calculation) no longer stands, and the customer's email must not quote it. The answer
    // is validated and decided again from scratch.
    let decision = shared::policy::StoredDecision::read(&json!({
        "decision": "needs_info",
        "missing": asked,
    }))
    .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a needs-info decision reads back")))?;
    let mut step = Move::new(RequestState::NeedsInfo, &reason, "ask the customer");
    step.details = json!({"asked": asked});
    step.decision = Some(decision);
    move_to(&ctx, caller, id, step).await
}

/// A move a person makes on a request (reject, withdraw, the manual payout steps).
pub(in crate::api) struct Move<'a> {
    pub to: RequestState,
    /// Why, for the history.
    pub reason: &'a str,
    /// What the caller tried, for the refusal ("cannot withdraw: ...").
    pub what: &'a str,
    /// The state the request must be in, when only one will do.
    pub from: Option<RequestState>,
    pub details: Value,
    /// Facts to add to the request with the move.
    pub facts: Option<Value>,
    /// The decision the request holds from the move on (what the customer's email about the
    /// new state quotes and lists); without one the stored decision stays.
    pub decision: Option<shared::policy::StoredDecision>,
}

impl<'a> Move<'a> {
    pub fn new(to: RequestState, reason: &'a str, what: &'a str) -> Self {
        Self {
            to,
            reason,
            what,
            from: None,
            details: json!({}),
            facts: None,
            decision: None,
        }
    }
}

/// Applies a person's move in one transaction: lock, check, facts, transition (which queues
/// the customer's email for the new state).
/// Answers the request as it now stands.
pub(in crate::api) async fn move_to(
    ctx: &ApiContext,
    caller: &Caller,
    id: Uuid,
    m: Move<'_>,
) -> Result<Json<RefundRequestView>, ApiError> {
    let mut tx = ctx.db.begin().await?;
    let (record, version) = lock(&mut tx, caller, id).await?;
    let from = record.state();
    if m.from.is_some_and(|expected| expected != from) {
        return Err(illegal(&record, m.to, m.what));
    }
    check_transition(from, m.to).map_err(|_| illegal(&record, m.to, m.what))?;
    let mut details = m.details;
    if from.waits_on_customer()
        && !m.to.waits_on_customer()
        && let Some(pack) = record.policy_id.as_deref().and_then(|p| ctx.packs.get(p))
        && let Some(extended) = requests::extend_due_after_pause(
            &mut tx,
            &record,
            from,
            pack,
            ctx.calendars.get(pack.country()),
            Utc::now(),
        )
        .await?
    {
        details["due_on_extended"] = serde_json::to_value(extended).map_err(ApiError::internal)?;
    }
    if let Some(facts) = &m.facts {
        requests::add_facts(&mut tx, id, facts).await?;
    }
    if let Some(decision) = &m.decision {
        requests::record_waiting(&mut tx, id, decision, None).await?;
    }
    // The customer's email follows from the new state (`transition::apply`).
    transition::apply(
        &mut tx,
        &Transition {
            request_id: id,
            expected_version: version,
            from,
            to: m.to,
            actor: &caller.actor(),
            reason: Some(m.reason),
            details,
        },
        &[],
    )
    .await?;
    tx.commit().await?;
    let mut conn = ctx.db.acquire().await?;
    Ok(Json(view(&mut conn, caller, id).await?))
}
