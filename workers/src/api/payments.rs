//! The payments registry: `POST /v1/payments` registers a captured card payment (idempotent on
//! gateway + transaction id), `GET /v1/payments/{id}` reads one. Anything that looks like a
//! full card number is refused: only the brand and last four digits may enter.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use shared::api_keys::{ApiRole, Caller};
use shared::language::Language;
use shared::merchants::{GatewayKind, looks_like_email};
use shared::money::{Currency, DecimalAmount};
use shared::payments::{self, Payment, Registered};
use utoipa::ToSchema;
use uuid::Uuid;

use super::ApiContext;
use super::auth::{Authenticated, must_see};
use super::extract::{ApiJson, PathText, TextLimits, TextShape};
use super::problem::{ApiError, FieldProblem, JsonBodyProblems, KeyProblems, Problem};
use super::schemas::{CurrencyCode, DecimalText, GatewayName, LanguageCode};

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/v1/payments", post(register))
        .route("/v1/payments/{id}", get(read))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Card {
    /// e.g. `visa`, `mastercard`.
    #[schema(max_length = 200)]
    pub brand: String,
    /// The last four digits, and only those.
    #[schema(pattern = "^[0-9]{4}$")]
    pub last4: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    #[schema(max_length = 254)]
    pub email: String,
    /// `ru`, `kk`, `lv` or `en`.
    #[schema(value_type = Option<LanguageCode>)]
    pub language: Option<String>,
}

/// A captured card payment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    #[schema(max_length = 200)]
    pub merchant: String,
    /// The policy pack its refunds fall under (one of the merchant's).
    #[schema(max_length = 200)]
    pub policy: String,
    /// The gateway that captured it (the merchant's): `sandbox`, `webpay`, `robokassa`,
    /// `cloudpayments` or `stripe`.
    #[schema(value_type = GatewayName)]
    pub gateway: GatewayKind,
    #[schema(max_length = 200)]
    pub gateway_transaction_id: String,
    /// Captured amount as a decimal string, e.g. `"450.00"`.
    #[schema(value_type = DecimalText)]
    pub amount: DecimalAmount,
    #[schema(value_type = CurrencyCode)]
    pub currency: Currency,
    /// When it was captured (RFC 3339 with offset).
    pub paid_at: DateTime<FixedOffset>,
    pub card: Option<Card>,
    /// One line.
    #[schema(max_length = 200)]
    pub cardholder_name: Option<String>,
    pub customer: Option<Customer>,
    /// The merchant's order number of the payment (WEBPAY `wsb_order_num`, Robokassa
    /// `InvId`, CloudPayments `InvoiceId`). WEBPAY payments need it: WEBPAY finds a
    /// payment's refunds only by its order number.
    #[schema(max_length = 128)]
    pub order_number: Option<String>,
}

impl TextLimits for NewPayment {
    const TEXT: &'static [(&'static str, usize, TextShape)] = &[
        (
            "customer.email",
            super::requests::EMAIL_MAX,
            TextShape::Line,
        ),
        ("order_number", 128, TextShape::Line),
    ];
}

#[derive(Serialize, ToSchema)]
pub struct PaymentView {
    pub id: Uuid,
    pub merchant: String,
    pub policy: String,
    pub gateway: String,
    pub gateway_transaction_id: String,
    #[schema(example = "450.00")]
    pub amount: String,
    pub currency: String,
    pub paid_at: DateTime<Utc>,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub cardholder_name: Option<String>,
    pub customer_email: Option<String>,
    pub customer_language: Option<String>,
    pub order_number: Option<String>,
}

impl From<Payment> for PaymentView {
    fn from(p: Payment) -> Self {
        Self {
            id: p.id,
            merchant: p.merchant,
            policy: p.policy,
            gateway: p.gateway,
            gateway_transaction_id: p.gateway_transaction_id,
            amount: p.amount.amount_text(),
            currency: p.currency.code().to_string(),
            paid_at: p.paid_at,
            card_brand: p.card_brand,
            card_last4: p.card_last4,
            cardholder_name: p.cardholder_name,
            customer_email: p.customer_email,
            customer_language: p.customer_language,
            order_number: p.order_number,
        }
    }
}

fn problem(field: &str, message: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.into(),
        message: message.into(),
    }
}

/// Checks everything a person could get wrong, and builds the payment. A merchant outside the
/// caller's scope is answered as one that does not exist.
fn validate(ctx: &ApiContext, caller: &Caller, p: NewPayment) -> Result<Payment, ApiError> {
    // Card numbers never get this far: the body's reader refuses them in any field.
    let mut errors = Vec::new();
    let merchant = ctx
        .merchants
        .get(&p.merchant)
        .filter(|m| caller.sees(Some(&m.id)));
    match merchant {
        None => errors.push(problem(
            "merchant",
            match caller.scope.merchant() {
                None => format!(
                    "unknown merchant {:?}; GET /v1/merchants lists them",
                    p.merchant
                ),
                Some(own) => format!(
                    "unknown merchant {:?}; this key registers payments of merchant {own} only",
                    p.merchant
                ),
            },
        )),
        Some(m) => {
            if !m.policies.contains(&p.policy) {
                errors.push(problem(
                    "policy",
                    format!(
                        "merchant {} does not use policy {:?}; its policies are {}",
                        m.id,
                        p.policy,
                        m.policies.join(", ")
                    ),
                ));
            }
            if m.gateway.kind != p.gateway {
                errors.push(problem(
                    "gateway",
                    format!(
                        "merchant {} takes payments through {}, not {}",
                        m.id,
                        m.gateway.kind.as_str(),
                        p.gateway.as_str()
                    ),
                ));
            }
        }
    }
    let pack = ctx.packs.get(&p.policy);
    if let Some(pack) = pack {
        if pack.currency() != p.currency {
            errors.push(problem(
                "currency",
                format!(
                    "policy {} is in {}, not {}",
                    p.policy,
                    pack.currency().code(),
                    p.currency.code()
                ),
            ));
        }
    } else if merchant.is_some() {
        errors.push(problem("policy", format!("unknown policy {:?}", p.policy)));
    }
    let amount = match p.amount.in_currency(p.currency) {
        Ok(a) if a.minor() > 0 => Some(a),
        Ok(_) => {
            errors.push(problem(
                "amount",
                "the captured amount must be more than zero",
            ));
            None
        }
        Err(e) => {
            errors.push(problem("amount", e.to_string()));
            None
        }
    };
    let txn = p.gateway_transaction_id.trim();
    if txn.is_empty() || txn.len() > 200 {
        errors.push(problem(
            "gateway_transaction_id",
            "give the gateway's transaction id (1-200 characters)",
        ));
    }
    if p.paid_at.with_timezone(&Utc) > Utc::now() + chrono::Duration::minutes(5) {
        errors.push(problem(
            "paid_at",
            "a payment cannot be captured in the future",
        ));
    }
    if let Some(card) = &p.card {
        if card.last4.len() != 4 || !card.last4.chars().all(|c| c.is_ascii_digit()) {
            errors.push(problem(
                "card.last4",
                "give exactly the last 4 digits of the card",
            ));
        }
        if card.brand.trim().is_empty() || card.brand.len() > 30 {
            errors.push(problem("card.brand", "give the card brand, e.g. visa"));
        }
    }
    if let Some(c) = &p.customer {
        if !looks_like_email(&c.email) {
            errors.push(problem(
                "customer.email",
                format!("{:?} is not an email address", c.email),
            ));
        }
        if let Some(lang) = &c.language
            && Language::exact(lang).is_none()
        {
            errors.push(problem("customer.language", Language::EXPECTED));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(
            format!("{} problem(s) with the payment", errors.len()),
            errors,
        ));
    }
    Ok(Payment {
        id: Uuid::now_v7(),
        merchant: p.merchant,
        policy: p.policy,
        gateway: p.gateway.as_str().to_string(),
        gateway_transaction_id: txn.to_string(),
        amount: amount.expect("checked above"),
        currency: p.currency,
        paid_at: p.paid_at.with_timezone(&Utc),
        card_brand: p.card.as_ref().map(|c| c.brand.trim().to_lowercase()),
        card_last4: p.card.map(|c| c.last4),
        cardholder_name: p.cardholder_name.map(|n| n.trim().to_string()),
        customer_email: p.customer.as_ref().map(|c| c.email.trim().to_string()),
        customer_language: p.customer.and_then(|c| c.language),
        order_number: p
            .order_number
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty()),
    })
}

/// Registers a captured card payment. Registering the same gateway transaction again with
/// the same details answers 200 with the stored payment; with other details, 409.
#[utoipa::path(post, path = "/v1/payments", operation_id = "register_payment", tag = "payments",
    security(("api_key" = [])),
    request_body = NewPayment,
    responses(
        (status = 201, body = PaymentView, description = "registered"),
        (status = 200, body = PaymentView, description = "already registered with the same details"),
        JsonBodyProblems,
        KeyProblems,
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn register(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    ApiJson(body): ApiJson<NewPayment>,
) -> Result<(StatusCode, Json<PaymentView>), ApiError> {
    let caller = caller.require(&[ApiRole::Intake, ApiRole::Supervisor], "register payments")?;
    let payment = validate(&ctx, caller, body)?;
    let mut conn = ctx.db.acquire().await?;
    match payments::register(&mut conn, &payment).await? {
        Registered::Created(p) => {
            tracing::info!(payment_id = %p.id, merchant = p.merchant, "payment registered");
            Ok((StatusCode::CREATED, Json(p.into())))
        }
        Registered::AlreadyRegistered(p) => Ok((StatusCode::OK, Json(p.into()))),
        // Another merchant's payment is not named: its id is not this key's to know.
        Registered::Conflict(existing) if !caller.sees(Some(&existing.merchant)) => {
            Err(ApiError::conflict(
                "payment-conflict",
                format!(
                    "gateway transaction {} of {} is already registered with other details",
                    existing.gateway_transaction_id, existing.gateway
                ),
            ))
        }
        Registered::Conflict(existing) => Err(ApiError::conflict(
            "payment-conflict",
            format!(
                "gateway transaction {} of {} is already registered (payment {}) with other details",
                existing.gateway_transaction_id, existing.gateway, existing.id
            ),
        )),
    }
}

/// One registered payment.
#[utoipa::path(get, path = "/v1/payments/{id}", operation_id = "read_payment", tag = "payments",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "payment id")),
    responses(
        (status = 200, body = PaymentView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn read(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
) -> Result<Json<PaymentView>, ApiError> {
    let caller = caller.require(
        &[ApiRole::Support, ApiRole::Supervisor, ApiRole::Intake],
        "read payments",
    )?;
    let id = parse_id(&id)?;
    let mut conn = ctx.db.acquire().await?;
    let no_payment = || ApiError::not_found(format!("no payment {id}"));
    let payment = payments::find(&mut conn, id)
        .await?
        .ok_or_else(no_payment)?;
    must_see(caller, Some(&payment.merchant), no_payment)?;
    Ok(Json(payment.into()))
}

/// A path id that must be a UUID.
pub fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| {
        ApiError::malformed(
            format!("{text:?} is not a valid id (a UUID)"),
            Some("id".into()),
        )
    })
}
