//! `POST /v1/gateway-notifications/{gateway}/{merchant}`: what the gateways tell us about
//! refunds (CloudPayments Refund notifications, Stripe events, WEBPAY transaction
//! notifications). No API key: the gateway's signature with the merchant's secret is the
//! authentication, checked before anything is read; a bad one answers 401 and changes
//! nothing. Each notification is applied once (`shared::gateway_notifications`). Bodies are
//! never logged: they carry payer data.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use shared::gateway::{Secret, read_secret_from};
use shared::gateway_notifications::{self as notices, NoticeError};
use shared::merchants::{GatewayKind, Merchants};

use super::ApiContext;
use super::problem::{ApiError, Problem};

/// Each merchant's secret for checking its gateway's notifications.
#[derive(Clone, Debug, Default)]
pub struct NotificationSecrets(Arc<HashMap<String, Secret>>);

impl NotificationSecrets {
    /// Reads, for every merchant whose gateway notifies refunds, the secret that signs them:
    /// CloudPayments `{PREFIX}_API_SECRET`, Stripe `{PREFIX}_WEBHOOK_SECRET` (the endpoint's
    /// signing secret), WEBPAY `{PREFIX}_SECRET_KEY`. A merchant without one receives none.
    pub fn from_env(merchants: &Merchants, env: &impl Fn(&str) -> Option<String>) -> Self {
        let mut secrets = HashMap::new();
        for m in merchants.all() {
            let Some(prefix) = m.gateway.credentials_env.as_deref() else {
                continue;
            };
            let Some(name) = secret_name(m.gateway.kind) else {
                continue;
            };
            if let Ok(secret) = read_secret_from(m.gateway.kind, prefix, name, env) {
                secrets.insert(m.id.clone(), secret);
            }
        }
        Self(Arc::new(secrets))
    }

    /// Secrets given directly (tests).
    pub fn new(secrets: HashMap<String, Secret>) -> Self {
        Self(Arc::new(secrets))
    }
}

fn secret_name(kind: GatewayKind) -> Option<&'static str> {
    match kind {
        GatewayKind::Cloudpayments => Some("API_SECRET"),
        GatewayKind::Stripe => Some("WEBHOOK_SECRET"),
        GatewayKind::Webpay => Some("SECRET_KEY"),
        GatewayKind::Robokassa | GatewayKind::Sandbox => None,
    }
}

pub fn router() -> Router<ApiContext> {
    Router::new().route(
        "/v1/gateway-notifications/{gateway}/{merchant}",
        post(receive),
    )
}

fn bad_signature(detail: String) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "bad-signature",
        "The notification's signature does not match",
        format!("{detail}; nothing was changed"),
    )
}

/// A gateway's notification about a refund, signed with the merchant's secret.
#[utoipa::path(post, path = "/v1/gateway-notifications/{gateway}/{merchant}",
    tag = "gateway notifications",
    params(
        ("gateway" = String, Path, description = "`cloudpayments`, `stripe` or `webpay`"),
        ("merchant" = String, Path, description = "the merchant's id"),
    ),
    request_body(content = String, description = "the gateway's notification as it sends it: CloudPayments form or JSON with Content-HMAC, a Stripe event with Stripe-Signature, a WEBPAY form with wsb_signature"),
    responses(
        (status = 200, description = "taken (or already taken): CloudPayments gets {\"code\":0}, Stripe {\"received\":true}, WEBPAY OK"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn receive(
    State(ctx): State<ApiContext>,
    Path((gateway, merchant)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let kind = match gateway.as_str() {
        "cloudpayments" => GatewayKind::Cloudpayments,
        "stripe" => GatewayKind::Stripe,
        "webpay" => GatewayKind::Webpay,
        "robokassa" => {
            return Err(ApiError::not_found(
                "Robokassa publishes no refund notifications; its refunds are followed by GetState",
            ));
        }
        other => {
            return Err(ApiError::not_found(format!(
                "no gateway {other:?} sends notifications here (cloudpayments, stripe, webpay)"
            )));
        }
    };
    let configured = ctx
        .merchants
        .get(&merchant)
        .is_some_and(|m| m.gateway.kind == kind);
    if !configured {
        return Err(ApiError::not_found(format!(
            "no merchant {merchant:?} refunds through {gateway}"
        )));
    }
    let Some(secret) = ctx.notification_secrets.0.get(&merchant) else {
        return Err(ApiError::not_found(format!(
            "merchant {merchant:?} has no {gateway} notification secret configured ({{PREFIX}}_{})",
            secret_name(kind).unwrap_or_default()
        )));
    };
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let refused = |e: NoticeError| match e {
        NoticeError::Signature(d) => bad_signature(d),
        NoticeError::Shape(d) => ApiError::field("body", d),
    };
    let notice = match kind {
        GatewayKind::Cloudpayments => {
            notices::verify_cloudpayments(
                &body,
                header_text("Content-HMAC"),
                header_text("X-Content-HMAC"),
                secret,
            )
            .map_err(refused)?;
            let json_body = header_text(header::CONTENT_TYPE.as_str())
                .is_some_and(|c| c.starts_with("application/json"));
            notices::parse_cloudpayments(&body, json_body).map_err(refused)?
        }
        GatewayKind::Stripe => {
            notices::verify_stripe(
                &body,
                header_text("Stripe-Signature"),
                secret,
                chrono::Utc::now(),
            )
            .map_err(refused)?;
            notices::parse_stripe(&body).map_err(refused)?
        }
        _ => notices::verify_and_parse_webpay(&body, secret).map_err(refused)?,
    };
    let mut tx = ctx.db.begin().await?;
    let applied = notices::apply(&mut tx, kind, &merchant, &notice).await?;
    tx.commit().await?;
    tracing::info!(
        gateway = kind.as_str(),
        merchant,
        event_id = notice.event_id,
        kind = notice.kind,
        first_time = applied.first_time,
        request_id = applied.request_id.map(|id| id.to_string()),
        effect = applied.effect,
        "gateway notification"
    );
    Ok(match kind {
        GatewayKind::Cloudpayments => Json(json!({"code": 0})).into_response(),
        GatewayKind::Stripe => Json(json!({"received": true})).into_response(),
        _ => (StatusCode::OK, "OK").into_response(),
    })
}
