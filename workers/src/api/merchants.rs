//! `GET /v1/merchants`: the configured merchants, their policy packs and gateways. Secrets are
//! never part of the configuration; a key of one merchant sees that merchant only.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use shared::api_keys::ApiRole;
use utoipa::ToSchema;

use super::ApiContext;
use super::auth::Authenticated;
use super::problem::{ApiError, Problem};

pub fn router() -> Router<ApiContext> {
    Router::new().route("/v1/merchants", get(list))
}

#[derive(Serialize, ToSchema)]
pub struct MerchantView {
    pub id: String,
    pub name: String,
    /// Policy packs the merchant's payments are refunded under.
    pub policies: Vec<PolicyView>,
    /// `sandbox`, `webpay`, `robokassa`, `cloudpayments` or `stripe`.
    pub gateway: String,
    pub support_email: String,
    pub reply_to: String,
    pub default_language: String,
    pub webhook_configured: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyView {
    pub id: String,
    pub version: String,
    pub country: String,
    pub currency: String,
}

#[derive(Serialize, ToSchema)]
pub struct MerchantList {
    pub items: Vec<MerchantView>,
}

/// The configured merchants (the key's own, for a key of one merchant).
#[utoipa::path(get, path = "/v1/merchants", operation_id = "list_merchants", tag = "merchants",
    security(("api_key" = [])),
    responses(
        (status = 200, body = MerchantList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
) -> Result<Json<MerchantList>, ApiError> {
    let caller = caller.require(ApiRole::ALL, "list merchants")?;
    let items = ctx
        .merchants
        .all()
        .filter(|m| caller.sees(Some(&m.id)))
        .map(|m| MerchantView {
            id: m.id.clone(),
            name: m.name.clone(),
            policies: m
                .policies
                .iter()
                .filter_map(|p| ctx.packs.get(p))
                .map(|p| PolicyView {
                    id: p.id().to_string(),
                    version: p.version().to_string(),
                    country: p.country().to_string(),
                    currency: p.currency().code().to_string(),
                })
                .collect(),
            gateway: m.gateway.kind.as_str().to_string(),
            support_email: m.support_email.clone(),
            reply_to: m.reply_to.clone(),
            default_language: m.default_language.clone(),
            webhook_configured: m.webhook_url.is_some(),
        })
        .collect();
    Ok(Json(MerchantList { items }))
}
