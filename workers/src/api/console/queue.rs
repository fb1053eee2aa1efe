//! `GET /console`: the work queue, everything waiting on a person, the oldest due date first.
//! Requests in manual review or awaiting confirmation, payouts a person must finish, emails
//! from senders not yet verified, and every open request at risk of its SLA or past it.
//! Counts per merchant; filters by kind and merchant (a plain GET form, so a filtered queue
//! is a link to share).

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use maud::html;
use serde::Deserialize;
use shared::language::Language;
use shared::lifecycle::RequestState;
use shared::payout_person;
use uuid::Uuid;

use super::words::{self, tr};
use super::{Signed, error_page, layout};
use crate::api::ApiContext;
use crate::api::problem::ApiError;
use crate::api::unverified::{self, UnverifiedFilter, UnverifiedStatus};

/// Rows of each kind read at most.
const LIMIT: i64 = 500;

/// Why an item waits on a person; its name (`at_risk`, ...) is the filter's value.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
enum Kind {
    Breached,
    AtRisk,
    ManualReview,
    AwaitingConfirmation,
    Payout,
    UnverifiedEmail,
}

impl Kind {
    const ALL: &'static [Kind] = <Kind as strum::VariantArray>::VARIANTS;

    fn slug(self) -> &'static str {
        self.into()
    }

    fn label(self, lang: Language) -> &'static str {
        match self {
            Kind::Breached => tr(lang, "SLA breached", "Срок нарушен"),
            Kind::AtRisk => tr(lang, "SLA at risk", "Срок под угрозой"),
            Kind::ManualReview => tr(lang, "Manual review", "Ручная проверка"),
            Kind::AwaitingConfirmation => tr(lang, "Awaiting confirmation", "Ждёт подтверждения"),
            Kind::Payout => tr(lang, "Payout needs a person", "Выплате нужен человек"),
            Kind::UnverifiedEmail => tr(lang, "Unverified sender", "Отправитель не подтверждён"),
        }
    }
}

/// One line of the queue.
struct Item {
    kinds: Vec<Kind>,
    /// The request, or for an unverified email the email's id.
    id: Uuid,
    request: bool,
    merchant: Option<String>,
    state: Option<RequestState>,
    amount: Option<String>,
    due_on: Option<NaiveDate>,
    sla: Option<String>,
    since: DateTime<Utc>,
    what: String,
}

#[derive(Deserialize)]
pub struct Filters {
    kind: Option<String>,
    merchant: Option<String>,
}

struct RequestRow {
    id: Uuid,
    merchant: Option<String>,
    state: RequestState,
    sla_state: Option<String>,
    due_on: Option<NaiveDate>,
    received_at: DateTime<Utc>,
    amount_minor: Option<i64>,
    currency: Option<String>,
    reason: Option<String>,
}

async fn load(
    ctx: &ApiContext,
    lang: Language,
    merchant: Option<&str>,
) -> Result<Vec<Item>, ApiError> {
    let mut conn = ctx.db.acquire().await?;
    let rows = sqlx::query_as!(
        RequestRow,
        r#"SELECT id, merchant, state AS "state: RequestState", sla_state, due_on, received_at,
                  amount_minor, currency::text AS currency, reason
             FROM refund_requests
            WHERE ($1::text IS NULL OR merchant = $1)
              AND ended_at IS NULL
              AND (state IN ('manual_review', 'awaiting_confirmation')
                   OR sla_state IN ('at_risk', 'breached'))
            ORDER BY due_on ASC NULLS LAST, id
            LIMIT $2"#,
        merchant,
        LIMIT
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut items: BTreeMap<Uuid, Item> = BTreeMap::new();
    for r in rows {
        let mut kinds = Vec::new();
        match r.sla_state.as_deref() {
            Some("breached") => kinds.push(Kind::Breached),
            Some("at_risk") => kinds.push(Kind::AtRisk),
            _ => {}
        }
        match r.state {
            RequestState::ManualReview => kinds.push(Kind::ManualReview),
            RequestState::AwaitingConfirmation => kinds.push(Kind::AwaitingConfirmation),
            _ => {}
        }
        let amount = r
            .amount_minor
            .zip(r.currency.as_deref())
            .and_then(|(minor, c)| words::money_minor(lang, minor, c));
        items.insert(
            r.id,
            Item {
                kinds,
                id: r.id,
                request: true,
                merchant: r.merchant,
                state: Some(r.state),
                amount,
                due_on: r.due_on,
                sla: r.sla_state,
                since: r.received_at,
                what: r
                    .reason
                    .map(|x| words::reason(lang, &x))
                    .unwrap_or_default(),
            },
        );
    }
    for w in payout_person::needing_person(&mut conn, merchant, None).await? {
        let amount = match (&w.amount, &w.currency) {
            (Some(a), Some(c)) => Some(words::decimal(lang, a, c)),
            _ => None,
        };
        let what = payout_words(lang, &w);
        match items.get_mut(&w.request_id) {
            Some(item) => {
                item.kinds.push(Kind::Payout);
                item.what = what;
            }
            None => {
                items.insert(
                    w.request_id,
                    Item {
                        kinds: vec![Kind::Payout],
                        id: w.request_id,
                        request: true,
                        merchant: w.merchant,
                        state: Some(w.state),
                        amount,
                        due_on: None,
                        sla: None,
                        since: w.since,
                        what,
                    },
                );
            }
        }
    }
    let emails = unverified::page(
        &mut conn,
        &UnverifiedFilter {
            status: Some(UnverifiedStatus::Waiting),
            merchant,
            before: None,
            limit: LIMIT,
            id: None,
        },
    )
    .await?;
    let mut list: Vec<Item> = items.into_values().collect();
    for e in emails {
        list.push(Item {
            kinds: vec![Kind::UnverifiedEmail],
            id: e.id,
            request: false,
            merchant: e.merchant,
            state: None,
            amount: None,
            due_on: None,
            sla: None,
            since: e.received_at,
            what: format!(
                "{} — {}",
                e.sender.unwrap_or_default(),
                e.subject.unwrap_or_default()
            ),
        });
    }
    // The oldest due date first; what has none (payouts, emails), oldest first after.
    list.sort_by_key(|i| (i.due_on.is_none(), i.due_on, i.since, i.id));
    Ok(list)
}

/// Why a payout waits, in the person's language.
fn payout_words(lang: Language, w: &payout_person::Waiting) -> String {
    match w.state {
        RequestState::ManualPayout => tr(
            lang,
            "to pay by bank transfer",
            "оплатить банковским переводом",
        )
        .to_string(),
        RequestState::PayoutFailed => {
            let said = w.decline_reason.as_deref().unwrap_or("");
            format!(
                "{}{}{}",
                tr(
                    lang,
                    "the gateway declined the refund",
                    "шлюз отклонил возврат"
                ),
                if said.is_empty() { "" } else { ": " },
                said
            )
        }
        _ => tr(
            lang,
            "the gateway's answer is unknown for too long",
            "ответ шлюза слишком долго неизвестен",
        )
        .to_string(),
    }
}

/// `GET /console`.
pub async fn page(
    State(ctx): State<ApiContext>,
    Signed(session): Signed,
    Query(filters): Query<Filters>,
) -> Response {
    let lang = session.language;
    let scope = &session.caller.scope;
    // Another merchant asked for shows nothing, as the API's lists do.
    let Some(merchant) = scope.narrow(filters.merchant.as_deref().filter(|m| !m.is_empty())) else {
        return error_page(
            lang,
            Some(&session),
            &ApiError::not_found(tr(
                lang,
                "no such merchant among yours",
                "среди ваших нет такого мерчанта",
            )),
        );
    };
    let items = match load(&ctx, lang, merchant).await {
        Ok(items) => items,
        Err(e) => return error_page(lang, Some(&session), &e),
    };
    let kind = filters.kind.as_deref().and_then(|k| k.parse::<Kind>().ok());
    let mut counts: BTreeMap<String, BTreeMap<Kind, usize>> = BTreeMap::new();
    for item in &items {
        let m = item.merchant.clone().unwrap_or_else(|| "—".into());
        for k in &item.kinds {
            *counts.entry(m.clone()).or_default().entry(*k).or_default() += 1;
        }
    }
    let shown: Vec<&Item> = items
        .iter()
        .filter(|i| kind.is_none_or(|k| i.kinds.contains(&k)))
        .collect();
    let tz = chrono_tz::UTC;
    let body = html! {
        h1 { (tr(lang, "Work queue", "Очередь работы")) }
        p.meta { (tr(lang, "Everything waiting on a person, the oldest due date first.", "Всё, что ждёт человека; сначала самый ранний срок.")) }
        @if counts.is_empty() {
            p #queue-empty { (tr(lang, "Nothing waits on a person.", "Ничто не ждёт человека.")) }
        } @else {
            table.counts #counts {
                caption { (tr(lang, "Per merchant", "По мерчантам")) }
                thead { tr {
                    th scope="col" { (tr(lang, "Merchant", "Мерчант")) }
                    @for k in Kind::ALL { th scope="col" { (k.label(lang)) } }
                } }
                tbody {
                    @for (m, per) in &counts {
                        tr {
                            th scope="row" { (m) }
                            @for k in Kind::ALL { td { (per.get(k).copied().unwrap_or(0)) } }
                        }
                    }
                }
            }
        }
        form.filters method="get" action="/console" {
            label for="kind" { (tr(lang, "Show", "Показать")) }
            select #kind name="kind" {
                option value="" { (tr(lang, "everything", "всё")) }
                @for k in Kind::ALL {
                    option value=(k.slug()) selected[kind == Some(*k)] { (k.label(lang)) }
                }
            }
            @if scope.merchant().is_none() {
                label for="merchant" { (tr(lang, "Merchant", "Мерчант")) }
                select #merchant name="merchant" {
                    option value="" { (tr(lang, "all", "все")) }
                    @for m in ctx.merchants.all() {
                        option value=(m.id) selected[merchant == Some(m.id.as_str())] { (m.id) }
                    }
                }
            }
            button type="submit" { (tr(lang, "Filter", "Отобрать")) }
        }
        @if shown.is_empty() && !counts.is_empty() {
            p { (tr(lang, "Nothing of this kind waits.", "Ничего такого не ждёт.")) }
        }
        @if !shown.is_empty() {
            table #queue {
                thead { tr {
                    th scope="col" { (tr(lang, "Waiting because", "Ждёт, потому что")) }
                    th scope="col" { (tr(lang, "Request", "Заявка")) }
                    th scope="col" { (tr(lang, "Merchant", "Мерчант")) }
                    th scope="col" { (tr(lang, "State", "Состояние")) }
                    th scope="col" { (tr(lang, "Amount", "Сумма")) }
                    th scope="col" { (tr(lang, "Due", "Срок")) }
                    th scope="col" { (tr(lang, "Since", "С")) }
                    th scope="col" { (tr(lang, "What", "Что")) }
                } }
                tbody {
                    @for item in &shown {
                        tr.(item.kinds.first().map(|k| k.slug()).unwrap_or("")) data-id=(item.id) {
                            td { @for (i, k) in item.kinds.iter().enumerate() { @if i > 0 { ", " } (k.label(lang)) } }
                            td {
                                @if item.request {
                                    a href={ "/console/requests/" (item.id) } { code { (item.id.to_string()[..8]) "…" } }
                                } @else {
                                    code { (item.id.to_string()[..8]) "…" }
                                }
                            }
                            td { (item.merchant.as_deref().unwrap_or("—")) }
                            td { (item.state.map(|s| words::state(lang, s)).unwrap_or("—")) }
                            td.num { (item.amount.as_deref().unwrap_or("")) }
                            td.sla.(item.sla.as_deref().unwrap_or("")) {
                                @if let Some(d) = item.due_on { (words::date(lang, d)) }
                                @if let Some(s) = &item.sla { " (" (words::sla(lang, s)) ")" }
                            }
                            td { (words::moment(lang, item.since, tz)) " UTC" }
                            td {
                                (item.what)
                                @if !item.request {
                                    form.inline method="post" action={ "/console/emails/" (item.id) "/accept" } {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        button type="submit" title=(tr(lang, "Only when you know the sender speaks for the payer", "Только если вы знаете, что отправитель говорит от имени плательщика")) {
                                            (tr(lang, "Accept the sender", "Принять отправителя"))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(
        lang,
        Some(&session),
        tr(lang, "Work queue", "Очередь"),
        body,
    )
}

/// `POST /console/emails/{id}/accept`: accepts an unverified email as the API does (it opens
/// or joins a request), then shows that request.
pub async fn accept_email(
    State(ctx): State<ApiContext>,
    Signed(session): Signed,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<super::CsrfOnly>,
) -> Response {
    let lang = session.language;
    if let Some(refused) = super::refusal(&headers, &session, form.csrf.as_deref()) {
        return refused;
    }
    let done = unverified::accept(
        State(ctx.clone()),
        crate::api::auth::Authenticated(session.caller.clone()),
        crate::api::extract::PathText(id),
    )
    .await;
    match done {
        Ok(axum::Json(email)) => {
            let text = tr(
                lang,
                "Accepted: the email now counts as the payer's.",
                "Принято: письмо считается письмом плательщика.",
            )
            .to_string();
            let to = email.request_id.map_or_else(
                || "/console".to_string(),
                |r| format!("/console/requests/{r}"),
            );
            super::answer(&ctx, &session, true, text, &to).await
        }
        Err(e) => {
            super::answer(
                &ctx,
                &session,
                false,
                super::problem_words(lang, &e),
                "/console",
            )
            .await
        }
    }
}
