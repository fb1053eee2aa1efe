//! `POST /v1/refund-requests`: a new application, idempotent with `Idempotency-Key`, checked
//! by the policy engine before it is accepted.

use super::*;

/// The payment an application names, when it is one of the caller's merchant's: another
/// merchant's payment gets the answer of one never registered.
pub(super) async fn find_payment(
    conn: &mut PgConnection,
    caller: &Caller,
    r: &PaymentRef,
) -> Result<Payment, ApiError> {
    let found = match (r.id, &r.gateway, &r.transaction_id) {
        (Some(id), None, None) => payments::find(conn, id).await?,
        (None, Some(gateway), Some(txn)) => payments::find_by_gateway(conn, gateway, txn).await?,
        _ => {
            return Err(ApiError::field(
                "payment",
                "give either payment.id, or payment.gateway and payment.transaction_id",
            ));
        }
    };
    found
        .filter(|p| caller.sees(Some(&p.merchant)))
        .ok_or_else(|| {
            ApiError::field(
                "payment",
                "no such payment is registered; register it with POST /v1/payments first",
            )
        })
}

fn accepted(id: Uuid, replayed: bool) -> Response {
    let status_url = format!("/v1/refund-requests/{id}");
    let mut response = (
        StatusCode::ACCEPTED,
        Json(Accepted {
            id,
            state: RequestState::Received.as_str().into(),
            status_url: status_url.clone(),
        }),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&status_url) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// An idempotency key as given (the `Idempotency-Key` header), scoped to the caller's key so
/// clients cannot collide.
fn idempotency_key(
    value: Option<&HeaderValue>,
    caller: &Caller,
) -> Result<Option<String>, ApiError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .ok_or_else(|| {
            ApiError::field(
                "Idempotency-Key",
                "must be 1-200 printable ASCII characters",
            )
        })?;
    Ok(Some(format!("{}:{key}", caller.key_id)))
}

/// What a replayed key answers: the same request for the same body, 409 for another.
fn replay(existing: RequestRecord, hash: &str) -> Result<Submitted, ApiError> {
    if existing.request_hash.as_deref() == Some(hash) {
        Ok(Submitted {
            id: existing.id,
            replayed: true,
        })
    } else {
        Err(ApiError::conflict(
            "idempotency-key-reused",
            format!(
                "this Idempotency-Key was already used for a different application ({}); use a new key for a new application",
                existing.id
            ),
        ))
    }
}

/// Submits a refund application. Answers 202 with the id and where to follow it.
#[utoipa::path(post, path = "/v1/refund-requests", operation_id = "create_refund_request", tag = "refund requests",
    security(("api_key" = [])),
    request_body = NewRefundRequest,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, description = "same key and body: the same answer; same key, other body: 409")),
    responses(
        (status = 202, body = Accepted),
        JsonBodyProblems,
        KeyProblems,
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    headers: HeaderMap,
    HashedJson(body, hash): HashedJson<NewRefundRequest>,
) -> Result<Response, ApiError> {
    let done = submit(&ctx, &caller, headers.get("idempotency-key"), body, &hash).await?;
    Ok(accepted(done.id, done.replayed))
}

/// An application accepted: its request, and whether an earlier call with the same key and
/// body made it.
pub(in crate::api) struct Submitted {
    pub id: Uuid,
    pub replayed: bool,
}

/// What `POST /v1/refund-requests` does, for the API and the console alike: `key` is the
/// idempotency key as given, `hash` the canonical body's ([`HashedJson`]).
pub(in crate::api) async fn submit(
    ctx: &ApiContext,
    caller: &Authenticated,
    key: Option<&HeaderValue>,
    body: NewRefundRequest,
    hash: &str,
) -> Result<Submitted, ApiError> {
    let caller = caller.require(&READERS, "submit refund applications")?;
    let key = idempotency_key(key, caller)?;
    let mut tx = ctx.db.begin().await?;
    if let Some(key) = &key
        && let Some(existing) = requests::find_by_idempotency_key(&mut tx, key).await?
    {
        return replay(existing, hash);
    }
    let payment = find_payment(&mut tx, caller, &body.payment).await?;

    let mut errors = Vec::new();
    let email = body
        .contact
        .as_ref()
        .map(|c| c.email.trim().to_string())
        .or_else(|| payment.customer_email.clone());
    match &email {
        Some(e) if !looks_like_email(e) => errors.push(field(
            "contact.email",
            format!("{e:?} is not an email address"),
        )),
        None => errors.push(field(
            "contact.email",
            "the payment has no customer email; give contact.email",
        )),
        _ => {}
    }
    if let Some(lang) = &body.language
        && Language::exact(lang).is_none()
    {
        errors.push(field("language", Language::EXPECTED));
    }
    let now = Utc::now();
    let received_at = body
        .received_at
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    if received_at > now + chrono::Duration::minutes(5) {
        errors.push(field("received_at", "cannot be in the future"));
    }
    if received_at < payment.paid_at {
        errors.push(field(
            "received_at",
            "cannot be before the payment was made",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(
            format!("{} problem(s) with the application", errors.len()),
            errors,
        ));
    }
    let merchant = ctx.merchants.get(&payment.merchant);
    let language = body
        .language
        .clone()
        .or_else(|| payment.customer_language.clone())
        .or_else(|| merchant.map(|m| m.default_language.clone()));
    let mut facts = serde_json::to_value(&body.facts).expect("facts serialize");
    if let Some(name) = body.contact.as_ref().and_then(|c| c.name.clone()) {
        facts[requests::CUSTOMER_NAME] = json!(name);
    }
    let facts = strip_nulls(facts);

    let id = Uuid::now_v7();
    let new = NewRequest {
        id,
        payment_id: Some(payment.id),
        merchant: Some(payment.merchant.clone()),
        channel: Channel::Api,
        reason: Some(reason_name(body.reason)),
        facts,
        policy_id: Some(payment.policy.clone()),
        currency: Some(payment.currency.code().to_string()),
        received_at,
        contact_email: email,
        language,
        idempotency_key: key.clone(),
        request_hash: Some(hash.to_string()),
    };
    let messages = [OutboxMessage::from(
        WorkMessage::new(Stage::Validate, id).with_version(1),
    )];
    let created = requests::create(&mut tx, &new, &caller.actor(), &messages, true).await;
    let record = match created {
        Ok(record) => record,
        Err(sqlx::Error::Database(e))
            if e.constraint() == Some("refund_requests_idempotency_key") =>
        {
            // Another call with the same key won the race: answer as a replay.
            drop(tx);
            let mut conn = ctx.db.acquire().await?;
            let existing =
                requests::find_by_idempotency_key(&mut conn, key.as_deref().unwrap_or(""))
                    .await?
                    .ok_or_else(|| {
                        ApiError::internal(anyhow::anyhow!("idempotency row vanished"))
                    })?;
            return replay(existing, hash);
        }
        Err(e) => return Err(e.into()),
    };
    engine_accepts_record(ctx, &record, &payment)?;
    tx.commit().await?;
    tracing::info!(request_id = %id, merchant = payment.merchant, "refund application accepted");
    Ok(Submitted {
        id,
        replayed: false,
    })
}

/// Runs the policy engine's checks over request `id` as it stands in this transaction:
/// facts the engine would refuse (a negative balance, more decimals than the currency has, a
/// date its calendar cannot count) are a 422 for the person who typed them, not a message
/// the decide stage would have to park. Missing facts are not an error here.
pub(super) async fn engine_accepts(
    ctx: &ApiContext,
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<(), ApiError> {
    let Some(record) = requests::find(conn, id).await? else {
        return Ok(());
    };
    let Some(payment) = (match record.payment_id {
        Some(p) => payments::find(conn, p).await?,
        None => None,
    }) else {
        return Ok(());
    };
    engine_accepts_record(ctx, &record, &payment)
}

/// [`engine_accepts`] for a request and its payment the caller holds already (the create
/// path has both from its own statements: no second read).
fn engine_accepts_record(
    ctx: &ApiContext,
    record: &RequestRecord,
    payment: &Payment,
) -> Result<(), ApiError> {
    let refused = |e: shared::policy::QuoteError| {
        let field = match &e {
            shared::policy::QuoteError::BadAmount { field, .. }
            | shared::policy::QuoteError::NegativeAmount { field } => field.to_string(),
            _ => "facts".to_string(),
        };
        ApiError::field(field, format!("{e}; the policy cannot decide on it"))
    };
    let facts = requests::policy_facts(record).map_err(|e| ApiError::field("facts", e))?;
    shared::policy::decide::check_amount_facts(&facts, payment.currency).map_err(refused)?;
    if record.reason.is_none() {
        return Ok(());
    }
    let Some(pack) = ctx.packs.get(&payment.policy) else {
        return Ok(());
    };
    let input = requests::quote_input(
        record,
        payment,
        Money::from_minor(0, payment.currency),
        Vec::new(),
    )
    .map_err(|e| ApiError::field("facts", e))?;
    shared::policy::decide(pack, ctx.calendars.get(pack.country()), &input)
        .map(|_| ())
        .map_err(refused)
}

pub(super) fn reason_name(reason: Reason) -> String {
    reason.name().to_string()
}

pub(super) fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    }
}
