//! `GET /console/new`: a new application. Find the payment by what the customer quotes (the
//! gateway's transaction id, the order number or their email); the form then offers the
//! reasons the merchant's pack decides on and asks for the facts the engine says it needs;
//! "Show the decision" asks the policy engine (the API's quote) what it would decide, before
//! anything is submitted. Submitting carries an idempotency key made with the form, so a double
//! click, or the same form sent twice, makes one request.

use std::collections::{BTreeSet, HashMap};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use shared::api_keys::Caller;
use shared::language::Language;
use shared::payments::{self, Payment};
use shared::policy::{FactKind, FactName, PolicyPack, Reason};
use uuid::Uuid;

use super::words::{self, tr};
use super::{Signed, answer, error_page, layout, problem_words, refusal};
use crate::api::ApiContext;
use crate::api::auth::Authenticated;
use crate::api::extract::{self, ApiJson, HashedJson};
use crate::api::problem::ApiError;
use crate::api::quotes;
use crate::api::requests;
use crate::api::requests::NewRefundRequest;

#[derive(Deserialize)]
pub struct Find {
    q: Option<String>,
    payment: Option<String>,
}

/// A payment the caller may see, by id.
async fn visible_payment(ctx: &ApiContext, caller: &Caller, id: &str) -> Result<Payment, ApiError> {
    let not_found = || ApiError::not_found(format!("no payment {id} among yours"));
    let id = Uuid::parse_str(id.trim()).map_err(|_| not_found())?;
    let mut conn = ctx.db.acquire().await?;
    payments::find(&mut conn, id)
        .await?
        .filter(|p| caller.sees(Some(&p.merchant)))
        .ok_or_else(not_found)
}

/// The reasons `pack` decides on: those its rules name (all, when a rule names none).
fn reasons(pack: &PolicyPack) -> Vec<Reason> {
    let mut named = BTreeSet::new();
    for rule in pack.rules() {
        if rule.when.reason.is_empty() {
            return Reason::ALL.to_vec();
        }
        named.extend(rule.when.reason.iter().map(|r| r.name()));
    }
    Reason::ALL
        .iter()
        .copied()
        .filter(|r| named.contains(r.name()))
        .collect()
}

/// What the person typed, kept between "show the decision" and "submit".
struct Draft {
    payment: Payment,
    reason: Option<Reason>,
    /// The facts as typed, by name (blank ones left out): the form shows them again as they
    /// were, and [`facts_of`] reads them as the API takes them.
    typed: HashMap<String, String>,
    contact_email: String,
    idempotency_key: String,
}

impl Draft {
    /// A new application on `payment`, with a key of its own.
    fn new(payment: Payment) -> Self {
        Draft {
            contact_email: payment.customer_email.clone().unwrap_or_default(),
            payment,
            reason: None,
            typed: HashMap::new(),
            idempotency_key: Uuid::new_v4().to_string(),
        }
    }
}

/// The facts a person may be asked to give for a decision (the engine's answer): those it
/// found missing, took as absent, or consulted; `reason_text` always. Never what the system
/// sets itself (`identity_document_verified`, `approved_at`).
pub(super) fn asked_facts(decision: Option<&Value>) -> BTreeSet<FactName> {
    let mut names: BTreeSet<&str> = BTreeSet::from([FactName::ReasonText.name()]);
    if let Some(d) = decision {
        for key in ["missing", "facts_taken_absent"] {
            names.extend(
                d.get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str),
            );
        }
        if let Some(used) = d.get("facts_used").and_then(Value::as_object) {
            names.extend(used.keys().map(String::as_str));
        }
    }
    names
        .into_iter()
        .filter_map(|n| n.parse().ok())
        .filter(|f| !matches!(f, FactName::IdentityDocumentVerified | FactName::ApprovedAt))
        .collect()
}

/// The facts a form states (its `fact.<name>` fields), by name, as typed; blank ones state
/// nothing.
pub(super) fn typed_facts(form: &HashMap<String, String>) -> HashMap<String, String> {
    form.iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("fact.")?, v.trim())))
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Typed facts as the API takes them: each as its kind is written in JSON (an unknown name
/// or a value of the wrong shape goes as typed, for the API to name).
pub(super) fn facts_of(typed: &HashMap<String, String>) -> Value {
    let facts: Map<String, Value> = typed
        .iter()
        .map(|(name, v)| {
            let value = match name.parse().map(FactName::kind) {
                Ok(FactKind::YesNo) => json!(v == "yes"),
                Ok(FactKind::Percent) => v.parse::<i64>().map_or_else(|_| json!(v), |n| json!(n)),
                _ => json!(v),
            };
            (name.clone(), value)
        })
        .collect();
    Value::Object(facts)
}

/// `GET /console/new`: the payment search, or with `payment` the application form.
pub async fn page(
    State(ctx): State<ApiContext>,
    Signed(session): Signed,
    Query(find): Query<Find>,
) -> Response {
    let lang = session.language;
    let caller = &session.caller;
    if let Some(id) = &find.payment {
        let payment = match visible_payment(&ctx, caller, id).await {
            Ok(p) => p,
            Err(e) => return error_page(lang, Some(&session), &e),
        };
        return form_page(&ctx, &session, &Draft::new(payment), None);
    }
    let q = find.q.as_deref().map(str::trim).unwrap_or("");
    let found = if q.is_empty() {
        Vec::new()
    } else {
        let mut conn = match ctx.db.acquire().await {
            Ok(c) => c,
            Err(e) => return error_page(lang, Some(&session), &e.into()),
        };
        match payments::search(&mut conn, caller.scope.merchant(), q, 20).await {
            Ok(found) => found,
            Err(e) => return error_page(lang, Some(&session), &e.into()),
        }
    };
    let body = html! {
        h1 { (tr(lang, "New application", "Новое заявление")) }
        form.card method="get" action="/console/new" role="search" {
            label for="q" { (tr(lang, "Find the payment: gateway transaction id, order number or the customer's email", "Найдите платёж: номер транзакции шлюза, номер заказа или email клиента")) }
            input #q name="q" value=(q) required autofocus;
            button type="submit" #find { (tr(lang, "Find", "Найти")) }
        }
        @if !q.is_empty() && found.is_empty() {
            p #no-payment { (tr(lang, "No payment of yours matches. Check the number with the customer; a payment the gateway has not reported must be registered first (POST /v1/payments).", "Нет вашего платежа с такими данными. Уточните номер у клиента; платёж, о котором шлюз не сообщил, сначала регистрируют (POST /v1/payments).")) }
        }
        @if !found.is_empty() {
            table #payments {
                thead { tr {
                    th { (tr(lang, "Paid", "Оплачен")) } th { (tr(lang, "Merchant", "Мерчант")) }
                    th { (tr(lang, "Transaction", "Транзакция")) } th { (tr(lang, "Order", "Заказ")) }
                    th { (tr(lang, "Amount", "Сумма")) } th { (tr(lang, "Card", "Карта")) } th {}
                } }
                tbody { @for p in &found { tr {
                    td { (words::moment(lang, p.paid_at, chrono_tz::UTC)) " UTC" }
                    td { (p.merchant) }
                    td { code { (p.gateway) ":" (p.gateway_transaction_id) } }
                    td { (p.order_number.as_deref().unwrap_or("")) }
                    td.num { (words::money(lang, p.amount)) }
                    td { (p.card_brand.as_deref().unwrap_or("")) " •••• " (p.card_last4.as_deref().unwrap_or("")) }
                    td { a href={ "/console/new?payment=" (p.id) } data-payment=(p.id) { (tr(lang, "Apply for a refund", "Оформить возврат")) } }
                } } }
            }
        }
    };
    layout(
        lang,
        Some(&session),
        tr(lang, "New application", "Новое заявление"),
        body,
    )
}

/// The application form for `draft`, with the engine's answer when there is one.
fn form_page(
    ctx: &ApiContext,
    session: &super::Session,
    draft: &Draft,
    quote: Option<Result<Value, String>>,
) -> Response {
    let lang = session.language;
    let payment = &draft.payment;
    let pack = ctx.packs.get(&payment.policy);
    let offered = pack.map(reasons).unwrap_or_else(|| Reason::ALL.to_vec());
    // The facts to ask: those the engine said it needs or consulted, and any already typed.
    let decided = quote.as_ref().and_then(|q| q.as_ref().ok());
    let mut asked = asked_facts(decided);
    asked.extend(
        draft
            .typed
            .keys()
            .filter_map(|n| n.parse::<FactName>().ok()),
    );
    let body = html! {
        h1 { (tr(lang, "New application", "Новое заявление")) }
        dl.facts #payment {
            dt { (tr(lang, "Payment", "Платёж")) }
            dd { code { (payment.gateway) ":" (payment.gateway_transaction_id) } " · " (words::money(lang, payment.amount)) " · " (words::moment(lang, payment.paid_at, chrono_tz::UTC)) " UTC" }
            dt { (tr(lang, "Merchant and policy", "Мерчант и правила")) }
            dd { (payment.merchant) " · " (payment.policy) }
        }
        form.card method="post" action="/console/new" #application {
            input type="hidden" name="csrf" value=(session.csrf);
            input type="hidden" name="payment" value=(payment.id);
            input type="hidden" name="idempotency_key" value=(draft.idempotency_key);
            p {
                label for="reason" { (tr(lang, "Reason", "Причина")) }
                select #reason name="reason" required {
                    @for r in &offered {
                        option value=(r.name()) selected[draft.reason == Some(*r)] { (words::reason(lang, r.name())) }
                    }
                }
            }
            @for f in &asked {
                (fact_input(lang, *f, draft.typed.get(f.name()).map(String::as_str)))
            }
            p {
                label for="contact_email" { (tr(lang, "Customer's email", "Email клиента")) }
                input #contact_email name="contact_email" type="email" value=(draft.contact_email) required;
            }
            @match &quote {
                Some(Ok(q)) => (quote_box(lang, q)),
                Some(Err(problem)) => { p.flash.error role="alert" #quote-problem { (problem) } },
                None => {},
            }
            p.buttons {
                button type="submit" name="intent" value="quote" #show-decision { (tr(lang, "Show the decision", "Показать решение")) }
                " "
                button type="submit" name="intent" value="submit" #submit-application { (tr(lang, "Submit the application", "Подать заявление")) }
            }
        }
    };
    layout(
        lang,
        Some(session),
        tr(lang, "New application", "Новое заявление"),
        body,
    )
}

pub(super) fn fact_input(lang: Language, f: FactName, value: Option<&str>) -> Markup {
    let id = format!("fact-{}", f.name());
    let name = format!("fact.{}", f.name());
    let label = f.name().replace('_', " ");
    html! {
        p {
            label for=(id) { (label) }
            @match f.kind() {
                FactKind::YesNo => select #(id) name=(name) {
                    option value="" { "—" }
                    option value="yes" selected[value == Some("yes")] { (tr(lang, "yes", "да")) }
                    option value="no" selected[value == Some("no")] { (tr(lang, "no", "нет")) }
                },
                FactKind::Date => input #(id) name=(name) type="date" value=(value.unwrap_or(""));,
                FactKind::Percent => input #(id) name=(name) type="number" min="0" max="100" step="1" value=(value.unwrap_or(""));,
                FactKind::Amount => input #(id) name=(name) inputmode="decimal" value=(value.unwrap_or(""));,
                FactKind::Text => textarea #(id) name=(name) maxlength="4000" { (value.unwrap_or("")) },
            }
        }
    }
}

/// What the policy would decide, in words.
fn quote_box(lang: Language, q: &Value) -> Markup {
    let decision = q.get("decision").and_then(Value::as_str).unwrap_or("");
    let currency = q.get("currency").and_then(Value::as_str).unwrap_or("");
    let amount = q
        .get("amount")
        .and_then(Value::as_str)
        .map(|a| words::decimal(lang, a, currency));
    let translated = q
        .get("clause_translations")
        .and_then(|t| t.get(words::console_language(lang).code()))
        .and_then(Value::as_str);
    let clause = translated
        .or_else(|| q.get("clause").and_then(Value::as_str))
        .unwrap_or("");
    html! {
        section.quote #quote aria-live="polite" {
            h2 { (tr(lang, "What the policy would decide now", "Что решат правила сейчас")) }
            p { strong #quote-decision data-decision=(decision) { (words::decision(lang, decision)) }
                @if let Some(a) = &amount { " · " span #quote-amount { (a) } }
                @if let Some(due) = q.get("refund_due_by").and_then(Value::as_str) { " · " (tr(lang, "due by ", "срок ")) (due) }
            }
            blockquote { (clause) }
            @if let Some(missing) = q.get("missing").and_then(Value::as_array).filter(|m| !m.is_empty()) {
                p #quote-missing { (tr(lang, "It would ask the customer for: ", "У клиента запросят: "))
                    @for (i, m) in missing.iter().filter_map(Value::as_str).enumerate() { @if i > 0 { ", " } (m.replace('_', " ")) } }
            }
            @if q.get("requires_confirmation").and_then(Value::as_bool) == Some(true) {
                p { (tr(lang, "A person must confirm it before the money moves.", "Перед выплатой это должен подтвердить человек.")) }
            }
        }
    }
}

/// `POST /console/new`: show the decision (`intent=quote`) or submit (`intent=submit`).
pub async fn submit(
    State(ctx): State<ApiContext>,
    Signed(session): Signed,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let lang = session.language;
    if let Some(refused) = refusal(&headers, &session, form.get("csrf").map(String::as_str)) {
        return refused;
    }
    let caller = &session.caller;
    let payment = match visible_payment(
        &ctx,
        caller,
        form.get("payment").map(String::as_str).unwrap_or(""),
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return error_page(lang, Some(&session), &e),
    };
    let reason_text = form.get("reason").cloned().unwrap_or_default();
    let given_key = form
        .get("idempotency_key")
        .filter(|k| Uuid::parse_str(k).is_ok())
        .cloned();
    let mut draft = Draft::new(payment);
    draft.reason = Reason::ALL
        .iter()
        .copied()
        .find(|r| r.name() == reason_text);
    draft.typed = typed_facts(&form);
    draft.contact_email = form.get("contact_email").cloned().unwrap_or_default();
    if let Some(key) = &given_key {
        draft.idempotency_key = key.clone();
    }
    if form.get("intent").map(String::as_str) == Some("quote") {
        let quote = quote(&ctx, caller, &draft, &reason_text).await;
        return form_page(
            &ctx,
            &session,
            &draft,
            Some(quote.map_err(|e| problem_words(lang, &e))),
        );
    }
    // Without the form's own key a second send could not be told from a new application.
    if given_key.is_none() {
        let text = tr(
            lang,
            "Not done: this form had no key of its own, so sending it twice could make two applications. It is shown again with one; check it and submit again.",
            "Не сделано: у формы не было собственного ключа, и повторная отправка создала бы второе заявление. Форма показана снова с ключом; проверьте и отправьте ещё раз.",
        );
        return form_page(&ctx, &session, &draft, Some(Err(text.to_string())));
    }
    match create(&ctx, caller, &draft, &reason_text).await {
        Ok(id) => {
            let text = match lang {
                Language::Ru => "Заявление принято; клиенту отправлено подтверждение. Проверка идёт.".to_string(),
                _ => "The application is accepted; the customer is emailed a receipt. It is being checked.".to_string(),
            };
            answer(
                &ctx,
                &session,
                true,
                text,
                &format!("/console/requests/{id}"),
            )
            .await
        }
        Err(e) => form_page(&ctx, &session, &draft, Some(Err(problem_words(lang, &e)))),
    }
}

/// The engine's decision for the draft, as the API's quote gives it.
async fn quote(
    ctx: &ApiContext,
    caller: &Caller,
    d: &Draft,
    reason: &str,
) -> Result<Value, ApiError> {
    let p = &d.payment;
    let refunded = {
        let mut conn = ctx.db.acquire().await?;
        payments::committed_refunds(&mut conn, p.id, None).await?
    };
    let body = json!({
        "policy": p.policy,
        "payment": {
            "amount": p.amount.amount_text(),
            "currency": p.currency.code(),
            "paid_at": p.paid_at.to_rfc3339(),
            "refunded": shared::money::Money::from_minor(refunded, p.currency).amount_text(),
        },
        "received_at": Utc::now().to_rfc3339(),
        "reason": reason,
        "facts": facts_of(&d.typed),
    });
    let input = extract::parse(&serde_json::to_vec(&body).expect("JSON"))?;
    let Json(decision) = quotes::quote(
        State(ctx.clone()),
        Authenticated(caller.clone()),
        ApiJson(input),
    )
    .await?;
    Ok(serde_json::to_value(decision).expect("a decision serialises"))
}

/// Submits the draft as the API's create does, with the form's idempotency key. Returns the
/// request's id (the first one's, when the same form was already sent).
async fn create(
    ctx: &ApiContext,
    caller: &Caller,
    d: &Draft,
    reason: &str,
) -> Result<Uuid, ApiError> {
    let mut body = json!({
        "payment": {"id": d.payment.id},
        "reason": reason,
        "facts": facts_of(&d.typed),
    });
    if !d.contact_email.trim().is_empty() {
        body["contact"] = json!({"email": d.contact_email.trim()});
    }
    let bytes = serde_json::to_vec(&body).expect("JSON");
    let HashedJson(body, hash) = HashedJson::<NewRefundRequest>::from_bytes(&bytes)?;
    // The key is a UUID this console made (checked by the caller): a valid header value.
    let key = HeaderValue::from_str(&format!("console:{}", d.idempotency_key))
        .map_err(|_| ApiError::field("idempotency_key", "not a key this form made"))?;
    let done =
        requests::submit(ctx, &Authenticated(caller.clone()), Some(&key), body, &hash).await?;
    Ok(done.id)
}
