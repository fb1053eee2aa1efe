//! Reading refund requests: one with its full history, or a page of them (newest first or by
//! due date, keyset cursors).

use super::*;

/// One refund request: state, decision with its clause, amount, due date and full history.
#[utoipa::path(get, path = "/v1/refund-requests/{id}", operation_id = "read_refund_request", tag = "refund requests",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    responses(
        (status = 200, body = RefundRequestView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn read(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
) -> Result<Json<RefundRequestView>, ApiError> {
    let caller = caller.require(&READERS, "read refund requests")?;
    let id = parse_id(&id)?;
    let mut conn = ctx.db.acquire().await?;
    Ok(Json(view(&mut conn, caller, id).await?))
}

/// The answer for a request that does not exist, or is another merchant's.
pub(in crate::api) fn no_request(id: Uuid) -> ApiError {
    ApiError::not_found(format!("no refund request {id}"))
}

/// A request the caller may see: another merchant's answers as one that does not exist.
pub(in crate::api) async fn find_visible(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<RequestRecord, ApiError> {
    let record = requests::find(conn, id)
        .await?
        .ok_or_else(|| no_request(id))?;
    must_see(caller, record.merchant.as_deref(), || no_request(id))?;
    Ok(record)
}

pub(in crate::api) async fn view(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<RefundRequestView, ApiError> {
    let r = find_visible(conn, caller, id).await?;
    let history = requests::history(conn, id)
        .await?
        .into_iter()
        .map(|e| EventView {
            at: e.at,
            actor: e.actor,
            from: e.from,
            to: e.to,
            reason: e.reason,
            details: e.details,
        })
        .collect();
    Ok(RefundRequestView {
        amount: amount_text(r.amount_minor, r.currency.as_deref()),
        id: r.id,
        merchant: r.merchant,
        policy: r.policy_id,
        policy_version: r.policy_version,
        state: r.state.to_string(),
        version: r.version,
        channel: r.channel,
        reason: r.reason.map(|reason| reason.to_string()),
        facts: r.facts,
        payment_id: r.payment_id,
        currency: r.currency,
        received_at: r.received_at,
        complete_at: r.complete_at,
        due_on: r.due_on,
        sla: r.sla_state.map(|sla| sla.to_string()),
        decision: r.decision,
        contact_email: r.contact_email,
        language: r.language.map(|language| language.to_string()),
        history,
    })
}

pub(super) fn amount_text(minor: Option<i64>, currency: Option<&str>) -> Option<String> {
    let currency = currency?.parse().ok()?;
    Some(Money::from_minor(minor?, currency).amount_text())
}

pub(super) fn summary(r: RequestRecord) -> RefundRequestSummary {
    RefundRequestSummary {
        amount: amount_text(r.amount_minor, r.currency.as_deref()),
        id: r.id,
        merchant: r.merchant,
        policy: r.policy_id,
        state: r.state.to_string(),
        reason: r.reason.map(|reason| reason.to_string()),
        currency: r.currency,
        received_at: r.received_at,
        due_on: r.due_on,
        sla: r.sla_state.map(|sla| sla.to_string()),
    }
}

/// Where the next page starts, as the cursor text this API gives out: the last id for
/// `newest`, `due:<date or none>:<id>` for `due_on`.
pub(super) enum Cursor {
    Newest(Uuid),
    DueOn(requests::DueCursor),
}

impl Cursor {
    fn of(sort: ListSort, last: &RequestRecord) -> String {
        match sort {
            ListSort::Newest => last.id.to_string(),
            ListSort::DueOn => format!(
                "due:{}:{}",
                last.due_on
                    .map_or_else(|| "none".to_string(), |d| d.to_string()),
                last.id
            ),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        if let Some(rest) = text.strip_prefix("due:") {
            let (due, id) = rest.split_once(':')?;
            let due_on = match due {
                "none" => None,
                d => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?),
            };
            let id = Uuid::parse_str(id).ok()?;
            return Some(Cursor::DueOn(requests::DueCursor { due_on, id }));
        }
        Uuid::parse_str(text).ok().map(Cursor::Newest)
    }
}

/// Refund requests page by page: newest first, or by due date (`sort=due_on`, the default
/// with an `sla` filter, so the most urgent come first). Keyset pagination: pages stay stable
/// while new requests arrive.
#[utoipa::path(get, path = "/v1/refund-requests", operation_id = "list_refund_requests", tag = "refund requests",
    security(("api_key" = [])),
    params(ListQuery),
    responses(
        (status = 200, body = RefundRequestPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RefundRequestPage>, ApiError> {
    let caller = caller.require(&READERS, "list refund requests")?;
    let Query(q) = query.map_err(|e| ApiError::malformed(e.body_text(), Some("query".into())))?;
    let mut errors = Vec::new();
    if let Some(state) = &q.state
        && state.parse::<RequestState>().is_err()
    {
        errors.push(field(
            "state",
            format!("unknown state {state:?}; states are received, validating, needs_info, approved, awaiting_confirmation, manual_review, rejected, payout_pending, payout_sent, refunded, payout_failed, needs_bank_details, manual_payout, withdrawn"),
        ));
    }
    if let Some(sla) = &q.sla
        && let Err(e) = sla.parse::<shared::sla::SlaState>()
    {
        errors.push(field("sla", e));
    }
    if let Some(merchant) = &q.merchant
        && merchant.contains('\0')
    {
        errors.push(field(
            "merchant",
            "contains a NUL character; no merchant id does",
        ));
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        errors.push(field("limit", "must be between 1 and 200"));
    }
    let sort = match q.sort.as_deref() {
        None if q.sla.is_some() => ListSort::DueOn,
        None => ListSort::Newest,
        Some(text) => ListSort::parse(text).unwrap_or_else(|| {
            errors.push(field("sort", "expected newest or due_on"));
            ListSort::Newest
        }),
    };
    let cursor = match &q.cursor {
        Some(c) => match Cursor::parse(c) {
            Some(cursor) => Some(cursor),
            None => {
                errors.push(field("cursor", "not a cursor this API gave out"));
                None
            }
        },
        None => None,
    };
    let (before, after) = match cursor {
        None => (None, None),
        Some(Cursor::Newest(id)) if sort == ListSort::Newest => (Some(id), None),
        Some(Cursor::DueOn(c)) if sort == ListSort::DueOn => (None, Some(c)),
        Some(_) => {
            errors.push(field(
                "cursor",
                "this cursor belongs to a list in another order; pass the same sort as for the previous page",
            ));
            (None, None)
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation("invalid query", errors));
    }
    // Another merchant asked for is an empty list, as a merchant that does not exist is.
    let Some(merchant) = caller.scope.narrow(q.merchant.as_deref()) else {
        return Ok(Json(RefundRequestPage {
            items: Vec::new(),
            next_cursor: None,
        }));
    };
    let mut conn = ctx.db.acquire().await?;
    let (state, sla) = (q.state.as_deref(), q.sla.as_deref());
    let mut rows = match sort {
        ListSort::Newest => {
            requests::list(&mut conn, state, merchant, sla, before, limit + 1).await?
        }
        ListSort::DueOn => {
            requests::list_by_due_date(&mut conn, state, merchant, sla, after, limit + 1).await?
        }
    };
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| Cursor::of(sort, r))
    } else {
        None
    };
    Ok(Json(RefundRequestPage {
        items: rows.into_iter().map(summary).collect(),
        next_cursor,
    }))
}
