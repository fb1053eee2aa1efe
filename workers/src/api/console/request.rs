//! `GET /console/requests/{id}`: one request, everything a person needs to act on it, and the
//! actions their role allows in its state. Each action posts a form here; the API's own
//! handler does it (same checks, same history), and the next page says what happened.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use shared::api_keys::{ApiRole, Caller};
use shared::console_sessions::Session;
use shared::language::Language;
use shared::lifecycle::{RequestState, check_transition};

use super::words::{self, tr};
use super::{Signed, answer, error_page, layout, problem_words, refusal};
use crate::api::ApiContext;
use crate::api::auth::Authenticated;
use crate::api::documents::{self, DocumentView};
use crate::api::extract::{self, ApiJson, OptionalJson, PathText, TextLimits};
use crate::api::payments::parse_id;
use crate::api::payouts;
use crate::api::problem::ApiError;
use crate::api::requests::{self, RefundRequestView};

struct Attempt {
    idempotency_key: String,
    gateway: String,
    amount_minor: i64,
    currency: String,
    status: String,
    gateway_ref: Option<String>,
    decline_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

struct Email {
    id: uuid::Uuid,
    event: String,
    recipient: String,
    language: Option<String>,
    status: String,
    error: Option<String>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

/// Everything the page shows, read as the session's key.
struct Loaded {
    view: RefundRequestView,
    /// What a person may do about its payout now (`retry`, `record-external`,
    /// `bank-transfer`, `mark-paid`), as `payout_person` says; empty when the payout needs
    /// no one.
    payout_actions: Vec<&'static str>,
    documents: Vec<DocumentView>,
    attempts: Vec<Attempt>,
    emails: Vec<Email>,
}

async fn load(ctx: &ApiContext, caller: &Caller, id: &str) -> Result<Loaded, ApiError> {
    let Json(view) = requests::read(
        State(ctx.clone()),
        Authenticated(caller.clone()),
        PathText(id.to_string()),
    )
    .await?;
    let Json(docs) = documents::list(
        State(ctx.clone()),
        Authenticated(caller.clone()),
        PathText(id.to_string()),
    )
    .await?;
    let mut conn = ctx.db.acquire().await?;
    let attempts = sqlx::query_as!(
        Attempt,
        r#"SELECT idempotency_key, gateway, amount_minor, currency::text AS "currency!",
                  status, gateway_ref, decline_reason, created_at, updated_at
             FROM payout_attempts WHERE request_id = $1 ORDER BY created_at, id"#,
        view.id
    )
    .fetch_all(&mut *conn)
    .await?;
    let payout_actions = shared::payout_person::needing_person(&mut conn, None, Some(view.id))
        .await?
        .into_iter()
        .flat_map(|w| w.actions)
        .collect();
    let emails = sqlx::query_as!(
        Email,
        r#"SELECT id, event, recipient, language, status, error, created_at, sent_at
             FROM notifications WHERE request_id = $1 ORDER BY created_at, seq"#,
        view.id
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Loaded {
        view,
        payout_actions,
        documents: docs.items,
        attempts,
        emails,
    })
}

/// `GET /console/requests/{id}`.
pub async fn page(
    State(ctx): State<ApiContext>,
    Signed(session): Signed,
    Path(id): Path<String>,
) -> Response {
    let lang = session.language;
    match load(&ctx, &session.caller, &id).await {
        Ok(loaded) => render(&ctx, &session, loaded),
        Err(e) => error_page(lang, Some(&session), &e),
    }
}

fn state_of(view: &RefundRequestView) -> Option<RequestState> {
    view.state.parse().ok()
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn render(ctx: &ApiContext, session: &Session, l: Loaded) -> Response {
    let lang = session.language;
    let v = &l.view;
    let tz = ctx.packs.timezone_of(v.policy.as_deref());
    let state = state_of(v);
    let role = session.caller.role;
    let supervisor = role == ApiRole::Supervisor;
    let customer_lang = v.language.as_deref().map(Language::from_code);
    let currency = v.currency.clone().unwrap_or_default();
    let amount_words = v
        .amount
        .as_deref()
        .map(|a| words::decimal(lang, a, &currency));
    let decision = v.decision.as_ref();
    let base = format!("/console/requests/{}", v.id);
    let body = html! {
        h1 { (tr(lang, "Refund request", "Заявка на возврат")) " " code { (v.id) } }
        dl.facts #summary {
            dt { (tr(lang, "State", "Состояние")) }
            dd #state data-state=(v.state) { (state.map(|s| words::state(lang, s)).unwrap_or(&v.state)) }
            dt { (tr(lang, "Merchant", "Мерчант")) }
            dd { (v.merchant.as_deref().unwrap_or("—")) " · " (v.policy.as_deref().unwrap_or("—")) }
            dt { (tr(lang, "Reason", "Причина")) }
            dd { (v.reason.as_deref().map(|r| words::reason(lang, r)).unwrap_or_default()) }
            dt { (tr(lang, "Received", "Получена")) }
            dd { (words::moment(lang, v.received_at, tz)) " (" (tz.name()) ")" }
            dt { (tr(lang, "Due by", "Срок")) }
            dd.sla.(v.sla.as_deref().unwrap_or("")) {
                @if let Some(d) = v.due_on { (words::date(lang, d)) } @else { "—" }
                @if let Some(s) = &v.sla { " · " (words::sla(lang, s)) }
            }
            dt { (tr(lang, "Amount", "Сумма")) }
            dd #amount { (amount_words.clone().unwrap_or_else(|| tr(lang, "not decided yet", "ещё не решена").into())) }
            dt { (tr(lang, "Customer", "Клиент")) }
            dd { (v.contact_email.as_deref().unwrap_or("—")) " · " (v.language.as_deref().unwrap_or("—")) }
        }
        @if let Some(d) = decision {
            section #decision {
                h2 { (tr(lang, "Decision", "Решение")) }
                p { strong { (text(d, "decision").map(|x| words::decision(lang, x)).unwrap_or_default()) }
                    @if let Some(rule) = text(d, "rule") { " · " (tr(lang, "rule", "правило")) " " code { (rule) } } }
                @if let Some(cl) = customer_lang.filter(|c| *c != Language::En) {
                    @if let Some(t) = d.get("clause_translations").and_then(|t| t.get(cl.code())).and_then(Value::as_str) {
                        blockquote lang=(cl.code()) { (t) }
                    }
                }
                blockquote lang="en" { (text(d, "clause").unwrap_or("")) }
                @if let Some(calc) = d.get("calculation").filter(|c| !c.is_null()) {
                    h3 { (tr(lang, "Calculation", "Расчёт")) }
                    pre { (serde_json::to_string_pretty(calc).unwrap_or_default()) }
                }
                @if let Some(used) = d.get("facts_used").and_then(Value::as_object).filter(|m| !m.is_empty()) {
                    h3 { (tr(lang, "Facts used", "Использованные факты")) }
                    (pairs(used))
                }
                @if let Some(missing) = d.get("missing").and_then(Value::as_array).filter(|m| !m.is_empty()) {
                    p { (tr(lang, "Missing:", "Не хватает:")) " "
                        @for (i, m) in missing.iter().enumerate() { @if i > 0 { ", " } code { (m.as_str().unwrap_or("")) } } }
                }
            }
        }
        @if let Some(facts) = v.facts.as_object().filter(|m| !m.is_empty()) {
            section { h2 { (tr(lang, "Facts given", "Данные заявки")) } (pairs(facts)) }
        }
        section #actions {
            h2 { (tr(lang, "Actions", "Действия")) }
            (actions(session, v, state, supervisor, &l.payout_actions, &base, amount_words.as_deref()))
        }
        section #documents {
            h2 { (tr(lang, "Documents", "Документы")) }
            @if l.documents.is_empty() { p { (tr(lang, "None yet.", "Пока нет.")) } }
            @for d in &l.documents {
                article.document {
                    h3 { (d.kind) " · " (d.content_type.as_deref().unwrap_or("")) " · " (d.size_bytes / 1024) " KiB" }
                    @if d.purged_at.is_some() {
                        p { (tr(lang, "The file was deleted after the retention period.", "Файл удалён по истечении срока хранения.")) }
                    } @else if d.content_type.as_deref().is_some_and(|t| t == "image/jpeg" || t == "image/png") {
                        img src={ (base) "/documents/" (d.id) } alt=(tr(lang, "the document as sent", "документ, как прислан")) loading="lazy";
                    } @else {
                        p { a href={ (base) "/documents/" (d.id) } { (tr(lang, "Open the file", "Открыть файл")) } }
                    }
                    @if let Some(fields) = d.fields.as_object().filter(|m| !m.is_empty()) {
                        h4 { (tr(lang, "What was read", "Что прочитано")) } (pairs(fields))
                    }
                    @if let Some(val) = &d.validation {
                        h4 { (tr(lang, "Checks", "Проверки")) }
                        pre { (serde_json::to_string_pretty(val).unwrap_or_default()) }
                    }
                }
            }
        }
        section #payouts {
            h2 { (tr(lang, "Payout attempts", "Попытки выплаты")) }
            @if l.attempts.is_empty() { p { (tr(lang, "None yet.", "Пока нет.")) } } @else {
                table {
                    thead { tr {
                        th { (tr(lang, "Started", "Начата")) } th { (tr(lang, "Gateway", "Шлюз")) }
                        th { (tr(lang, "Amount", "Сумма")) } th { (tr(lang, "Status", "Статус")) }
                        th { (tr(lang, "Gateway's answer", "Ответ шлюза")) } th { (tr(lang, "Last news", "Последнее")) }
                    } }
                    tbody { @for a in &l.attempts { tr {
                        td { (words::moment(lang, a.created_at, tz)) }
                        td { (a.gateway) br; small { code { (a.idempotency_key) } } }
                        td.num { (words::money_minor(lang, a.amount_minor, &a.currency).unwrap_or_default()) }
                        td { (a.status) }
                        td { (a.gateway_ref.as_deref().unwrap_or("")) @if let Some(r) = &a.decline_reason { " · " (r) } }
                        td { (words::moment(lang, a.updated_at, tz)) }
                    } } }
                }
            }
        }
        section #emails {
            h2 { (tr(lang, "Emails to the customer", "Письма клиенту")) }
            @if l.emails.is_empty() { p { (tr(lang, "None yet.", "Пока нет.")) } } @else {
                table {
                    thead { tr {
                        th { (tr(lang, "Written", "Создано")) } th { (tr(lang, "About", "О чём")) }
                        th { (tr(lang, "To", "Кому")) } th { (tr(lang, "Status", "Статус")) }
                    } }
                    tbody { @for e in &l.emails { tr {
                        td { (words::moment(lang, e.created_at, tz)) }
                        td {
                            @if e.sent_at.is_some() {
                                a href={ (base) "/emails/" (e.id) } { (e.event) }
                            } @else { (e.event) }
                            " · " (e.language.as_deref().unwrap_or(""))
                        }
                        td { (e.recipient) }
                        td { (e.status) @if let Some(at) = e.sent_at { " " (words::moment(lang, at, tz)) } @if let Some(err) = &e.error { " · " (err) } }
                    } } }
                }
            }
        }
        section #history {
            h2 { (tr(lang, "History", "История")) }
            ol.history {
                @for e in &v.history {
                    li {
                        time datetime=(e.at.to_rfc3339()) { (words::moment(lang, e.at, tz)) }
                        " · " code { (e.actor) } " · "
                        @if let Some(from) = &e.from { (from) " → " }
                        strong { (e.to) }
                        @if let Some(r) = &e.reason { " — " (r) }
                    }
                }
            }
        }
    };
    layout(
        lang,
        Some(session),
        tr(lang, "Refund request", "Заявка"),
        body,
    )
}

fn pairs(map: &Map<String, Value>) -> Markup {
    html! {
        dl.pairs {
            @for (k, v) in map {
                dt { code { (k) } }
                dd { @match v { Value::String(s) => (s), other => (other.to_string()) } }
            }
        }
    }
}

/// One action's form: it posts to `{base}/{action}` with the session's CSRF token; the form
/// is `#{action}-form`, its button `#{action}`.
fn action_form(
    csrf: &str,
    base: &str,
    action: &str,
    title: &str,
    button: &str,
    fields: Markup,
) -> Markup {
    html! {
        form.action method="post" action={ (base) "/" (action) } id={ (action) "-form" } {
            h3 { (title) }
            input type="hidden" name="csrf" value=(csrf);
            (fields)
            button type="submit" id=(action) { (button) }
        }
    }
}

/// The forms the person's role may use in the request's state. Which forms show follows the
/// rules the actions themselves check: the lifecycle's legal moves,
/// `RequestState::takes_new_facts`, and `payout_person`'s actions for the payout.
fn actions(
    session: &Session,
    v: &RefundRequestView,
    state: Option<RequestState>,
    supervisor: bool,
    payout_actions: &[&str],
    base: &str,
    amount: Option<&str>,
) -> Markup {
    use RequestState::*;
    let lang = session.language;
    let csrf = &session.csrf;
    let form = |action: &str, title: &str, button: &str, fields: Markup| {
        action_form(csrf, base, action, title, button, fields)
    };
    let open = state.is_some_and(|s| !s.is_final());
    let may_move = |to| state.is_some_and(|s| check_transition(s, to).is_ok());
    // A decision waiting for a person (the API's confirm takes these two).
    let confirmable = matches!(state, Some(AwaitingConfirmation | ManualReview));
    let payout = |action: &str| supervisor && payout_actions.contains(&action);
    let why = |id: &str| {
        html! { p { label for=(id) { (tr(lang, "Why", "Почему")) }
        input id=(id) name="reason" required maxlength="500"; } }
    };
    html! {
        @if !open { p { (tr(lang, "The request is finished; nothing is left to do.", "Заявка завершена; делать больше нечего.")) } }
        @if confirmable {
            (form("confirm", tr(lang, "Confirm the refund", "Подтвердить возврат"), tr(lang, "Confirm", "Подтвердить"), html! {
                p {
                    label for="confirm-amount" { (tr(lang, "Amount to refund", "Сумма возврата")) " (" (v.currency.as_deref().unwrap_or("")) ")" }
                    input #confirm-amount name="amount" inputmode="decimal" value=(v.amount.as_deref().unwrap_or("")) required[matches!(state, Some(ManualReview))];
                    @if let Some(a) = amount {
                        small { (tr(lang, "The policy's amount is ", "Сумма по правилам: ")) (a) (tr(lang, "; never more than is left of the payment.", "; не больше остатка платежа.")) }
                    }
                }
                p { label for="confirm-note" { (tr(lang, "Note for the history", "Заметка в историю")) }
                    textarea #confirm-note name="note" maxlength="2000" {} }
            }))
            (form("ask", tr(lang, "Ask the customer for information", "Запросить у клиента сведения"), tr(lang, "Ask by email", "Запросить по почте"), html! {
                fieldset {
                    legend { (tr(lang, "What to ask for (the email lists each, in the customer's language)", "Что запросить (письмо перечислит каждое на языке клиента)")) }
                    @for kind in documents::KINDS {
                        label.check { input type="checkbox" name={ "ask." (kind) } value="yes"; " " (words::document_kind(lang, kind)) }
                    }
                    @for f in &super::apply::asked_facts(v.decision.as_ref()) {
                        label.check { input type="checkbox" name={ "ask." (f.name()) } value="yes"; " " (f.name().replace('_', " ")) }
                    }
                }
                p { label for="ask-note" { (tr(lang, "Note for the history", "Заметка в историю")) }
                    input #ask-note name="note" maxlength="2000"; }
            }))
        }
        @if supervisor && may_move(Rejected) {
            (form("reject", tr(lang, "Reject", "Отклонить"), tr(lang, "Reject", "Отклонить"), html! {
                p { label for="reject-reason" { (tr(lang, "Why, in words the customer will read (quote the clause)", "Почему — словами, которые прочтёт клиент (процитируйте пункт)")) }
                    textarea #reject-reason name="reason" required maxlength="2000" {} }
            }))
        }
        @if may_move(Withdrawn) {
            (form("withdraw", tr(lang, "Withdraw at the customer's request", "Отозвать по просьбе клиента"), tr(lang, "Withdraw", "Отозвать"), html! {
                p { label for="withdraw-note" { (tr(lang, "Note", "Заметка")) }
                    input #withdraw-note name="note" maxlength="2000"; }
            }))
        }
        @if open {
            // A file: the only multipart form, read part by part (`upload`), token first.
            form.action method="post" action={ (base) "/documents" } enctype="multipart/form-data" #upload-form {
                h3 { (tr(lang, "Add a document", "Добавить документ")) }
                input type="hidden" name="csrf" value=(csrf);
                p { label for="upload-kind" { (tr(lang, "Kind", "Вид")) }
                    select #upload-kind name="kind" {
                        @for kind in documents::KINDS { option value=(kind) { (words::document_kind(lang, kind)) } }
                    } }
                p { label for="upload-file" { (tr(lang, "File (JPEG, PNG or PDF, at most 10 MiB)", "Файл (JPEG, PNG или PDF, до 10 МиБ)")) }
                    input #upload-file type="file" name="file" accept="image/jpeg,image/png,application/pdf" required; }
                p { small { (tr(lang, "An identity document is read from the scan (the MRZ); its checks appear under Documents.", "Удостоверение читается со скана (MRZ); проверки видны в разделе «Документы».")) } }
                button type="submit" #upload { (tr(lang, "Upload", "Загрузить")) }
            }
        }
        @if state.is_some_and(RequestState::takes_new_facts) {
            (form("facts", tr(lang, "Add facts", "Добавить данные"), tr(lang, "Add", "Добавить"), html! {
                p { small { (tr(lang, "What the customer told you; the request is checked again with it.", "Что сообщил клиент; заявка будет проверена заново.")) } }
                @for f in &super::apply::asked_facts(v.decision.as_ref()) {
                    (super::apply::fact_input(lang, *f, None))
                }
            }))
        }
        @if matches!(state, Some(NeedsBankDetails)) {
            (form("bank-details", tr(lang, "Enter the customer's bank details", "Ввести реквизиты клиента"), tr(lang, "Record", "Записать"), html! {
                p { label for="bd-details" { (tr(lang, "IBAN and bank", "IBAN и банк")) }
                    textarea #bd-details name="bank_details" required maxlength="200" {} }
                p { label for="bd-holder" { (tr(lang, "Account holder", "Владелец счёта")) }
                    input #bd-holder name="account_holder" maxlength="200"; }
            }))
        }
        @if payout("mark-paid") {
            (form("mark-paid", tr(lang, "Mark paid by bank transfer", "Отметить выплату переводом"), tr(lang, "Mark paid", "Отметить"), html! {
                p { label for="mp-ref" { (tr(lang, "The transfer's reference", "Номер перевода")) }
                    input #mp-ref name="reference" required maxlength="200"; }
            }))
        }
        @if payout("retry") {
            (form("retry", tr(lang, "Retry the payout", "Повторить выплату"), tr(lang, "Retry", "Повторить"), why("retry-reason")))
        }
        @if payout("bank-transfer") {
            (form("bank-transfer", tr(lang, "Pay by bank transfer instead", "Выплатить банковским переводом"), tr(lang, "Switch to bank transfer", "Перевести на банковский перевод"), html! {
                (why("bt-reason"))
                p { label for="bt-details" { (tr(lang, "IBAN and bank, if known (else the customer is asked)", "IBAN и банк, если известны (иначе спросим клиента)")) }
                    textarea #bt-details name="bank_details" maxlength="200" {} }
                p { label for="bt-holder" { (tr(lang, "Account holder", "Владелец счёта")) }
                    input #bt-holder name="account_holder" maxlength="200"; }
            }))
        }
        @if payout("record-external") {
            (form("record-external", tr(lang, "Record a refund made outside", "Отметить возврат, сделанный вне системы"), tr(lang, "Record", "Отметить"), html! {
                p { label for="re-ref" { (tr(lang, "The gateway's or bank's reference", "Номер операции шлюза или банка")) }
                    input #re-ref name="gateway_reference" required maxlength="200"; }
                (why("re-reason"))
            }))
        }
    }
}

/// The form's fields, `csrf` apart, as the JSON body the API's handler reads: empty fields
/// are left out, so an optional field left blank is absent, not "".
fn body_of(form: &HashMap<String, String>) -> Value {
    let mut body = Map::new();
    for (k, v) in form {
        if k != "csrf" && !v.trim().is_empty() {
            body.insert(k.clone(), json!(v));
        }
    }
    Value::Object(body)
}

/// The JSON body as the API reads it: the same parse and text limits as `ApiJson`.
fn parsed<T: DeserializeOwned + TextLimits>(body: &Value) -> Result<T, ApiError> {
    extract::parse(&serde_json::to_vec(body).expect("a JSON value serialises"))
}

/// `POST /console/requests/{id}/{action}`: confirm, reject, withdraw, ask, facts,
/// bank-details, mark-paid, retry, bank-transfer, record-external.
pub async fn act(
    State(ctx): State<ApiContext>,
    Signed(session): Signed,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let lang = session.language;
    let form = match axum::Form::<HashMap<String, String>>::from_request(request, &ctx).await {
        Ok(axum::Form(f)) => f,
        Err(e) => {
            return error_page(
                lang,
                Some(&session),
                &ApiError::malformed(e.body_text(), Some("form".into())),
            );
        }
    };
    if let Some(refused) = refusal(&headers, &session, form.get("csrf").map(String::as_str)) {
        return refused;
    }
    let to = format!("/console/requests/{id}");
    let done = run(&ctx, &session, &id, &action, &form).await;
    let (ok, text) = match done {
        Ok(text) => (true, text),
        Err(e) => (false, problem_words(lang, &e)),
    };
    answer(&ctx, &session, ok, text, &to).await
}

async fn run(
    ctx: &ApiContext,
    session: &Session,
    id: &str,
    action: &str,
    form: &HashMap<String, String>,
) -> Result<String, ApiError> {
    let lang = session.language;
    let body = &body_of(form);
    let said = |view: &RefundRequestView, en: &str, ru: &str| -> String {
        let s = state_of(view)
            .map(|s| words::state(lang, s))
            .unwrap_or(&view.state);
        match lang {
            Language::Ru => format!("{ru} Состояние теперь: {s}."),
            _ => format!("{en} The request is now: {s}."),
        }
    };
    // The API's handler for this request, called as the session's key with `$body` read as
    // the handler reads its JSON body (`$json`: `ApiJson` or `OptionalJson`).
    macro_rules! call {
        ($handler:path, $id:expr, $json:ident, $body:expr) => {{
            let Json(answer) = $handler(
                State(ctx.clone()),
                Authenticated(session.caller.clone()),
                $id,
                $json(parsed($body)?),
            )
            .await?;
            answer
        }};
    }
    let text = || PathText(id.to_string());
    let path = || Path(id.to_string());
    Ok(match action {
        "confirm" => {
            let v = call!(requests::confirm, text(), OptionalJson, body);
            let amount = v
                .amount
                .as_deref()
                .map(|a| words::decimal(lang, a, v.currency.as_deref().unwrap_or("")))
                .unwrap_or_default();
            said(
                &v,
                &format!("Confirmed: {amount} will be refunded to the card."),
                &format!("Подтверждено: {amount} будет возвращено на карту."),
            )
        }
        "reject" => said(
            &call!(requests::reject, text(), ApiJson, body),
            "Rejected; the customer is emailed the reason.",
            "Отклонено; клиенту отправлена причина.",
        ),
        "withdraw" => said(
            &call!(requests::withdraw, text(), OptionalJson, body),
            "Withdrawn.",
            "Отозвано.",
        ),
        "ask" => {
            let missing: Vec<&str> = form.keys().filter_map(|k| k.strip_prefix("ask.")).collect();
            let mut ask = json!({"missing": missing});
            if let Some(note) = body.get("note") {
                ask["note"] = note.clone();
            }
            said(
                &call!(requests::ask, text(), ApiJson, &ask),
                "The customer is asked by email; the deadline waits for their answer.",
                "Клиенту отправлен запрос по почте; срок ждёт его ответа.",
            )
        }
        "facts" => said(
            &call!(
                requests::add_facts,
                text(),
                ApiJson,
                &super::apply::facts_of(&super::apply::typed_facts(form))
            ),
            "The facts are added; the request is checked again with them.",
            "Данные добавлены; заявка проверяется заново.",
        ),
        "bank-details" => said(
            &call!(payouts::bank_details, path(), ApiJson, body),
            "The bank details are recorded; the refund waits in the manual payouts.",
            "Реквизиты записаны; возврат ждёт в ручных выплатах.",
        ),
        "mark-paid" => said(
            &call!(payouts::mark_paid, path(), ApiJson, body),
            "Marked paid by bank transfer; the customer is told.",
            "Отмечено как выплаченное переводом; клиенту сообщено.",
        ),
        // A person's payout action says itself what it did (in English); Russian is ours.
        "retry" => {
            let r = call!(payouts::retry, path(), ApiJson, body);
            said(
                &r.request,
                &r.message,
                "Выплата повторяется: сначала у шлюза проверяется, нет ли уже возврата.",
            )
        }
        "bank-transfer" => {
            let r = call!(payouts::bank_transfer, path(), ApiJson, body);
            said(&r.request, &r.message, "Переведено на банковский перевод.")
        }
        "record-external" => {
            let r = call!(payouts::record_external, path(), ApiJson, body);
            said(
                &r.request,
                &r.message,
                "Возврат, сделанный вне системы, отмечен; клиенту сообщено.",
            )
        }
        other => {
            return Err(ApiError::not_found(format!(
                "no action {other:?}; the actions are confirm, reject, withdraw, ask, facts, bank-details, mark-paid, retry, bank-transfer and record-external"
            )));
        }
    })
}

/// `POST /console/requests/{id}/documents`: the upload form. Its first part must be the CSRF
/// token; the rest goes to the API's upload as it is (kind, file), read part by part.
pub async fn upload(
    State(ctx): State<ApiContext>,
    Signed(session): Signed,
    Path(id): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let lang = session.language;
    let to = format!("/console/requests/{id}");
    let mut multipart = match multipart {
        Ok(m) => m,
        Err(e) => {
            let e = ApiError::unsupported_media(e.body_text());
            return answer(&ctx, &session, false, problem_words(lang, &e), &to).await;
        }
    };
    // The token comes first in the form, so nothing else is read before it is checked.
    let csrf = match multipart.next_field().await {
        Ok(Some(part)) if part.name() == Some("csrf") => part.text().await.ok(),
        _ => None,
    };
    if let Some(refused) = refusal(&headers, &session, csrf.as_deref()) {
        return refused;
    }
    let done = documents::upload(
        State(ctx.clone()),
        Authenticated(session.caller.clone()),
        PathText(id.clone()),
        None,
        Ok(multipart),
    )
    .await;
    let (ok, text) = match done {
        Ok((_, Json(accepted))) => {
            let state = accepted
                .request_state
                .parse()
                .map(|s| words::state(lang, s))
                .unwrap_or("");
            let problems: Vec<String> = accepted
                .problems
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("message").and_then(Value::as_str).map(str::to_owned))
                .collect();
            let text = match (lang, accepted.valid) {
                (Language::Ru, true) => format!("Документ добавлен. Состояние заявки: {state}."),
                (Language::Ru, false) => format!(
                    "Документ добавлен, но с замечаниями: {}. Состояние заявки: {state}.",
                    problems.join("; ")
                ),
                (_, true) => format!("The document is added. The request is now: {state}."),
                (_, false) => format!(
                    "The document is added, with problems: {}. The request is now: {state}.",
                    problems.join("; ")
                ),
            };
            (true, text)
        }
        Err(e) => (false, problem_words(lang, &e)),
    };
    answer(&ctx, &session, ok, text, &to).await
}

/// `GET /console/requests/{id}/documents/{document_id}`: the file, as the API serves it to
/// this key (opening it is written into the history).
pub async fn document(
    State(ctx): State<ApiContext>,
    Signed(session): Signed,
    Path((id, document_id)): Path<(String, String)>,
) -> Response {
    match documents::download(
        State(ctx.clone()),
        Authenticated(session.caller.clone()),
        Ok(Path((id, document_id))),
    )
    .await
    {
        Ok(response) => response,
        Err(e) => error_page(session.language, Some(&session), &e),
    }
}

struct SentEmail {
    event: String,
    recipient: String,
    language: Option<String>,
    sent_at: Option<DateTime<Utc>>,
    subject: Option<String>,
    body_text: Option<String>,
    body_html: Option<String>,
}

async fn sent_email(
    ctx: &ApiContext,
    caller: &Caller,
    id: &str,
    email_id: &str,
) -> Result<SentEmail, ApiError> {
    let id = parse_id(id)?;
    let not_found = || ApiError::not_found(format!("no email {email_id} of request {id}"));
    let email_id = uuid::Uuid::parse_str(email_id.trim()).map_err(|_| not_found())?;
    let mut conn = ctx.db.acquire().await?;
    requests::find_visible(&mut conn, caller, id).await?;
    sqlx::query_as!(
        SentEmail,
        "SELECT event, recipient, language, sent_at, subject, body_text, body_html
           FROM notifications WHERE id = $1 AND request_id = $2",
        email_id,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(not_found)
}

/// `GET /console/requests/{id}/emails/{email_id}`: an email as the customer received it
/// (subject and text part; the HTML part one link away).
pub async fn email(
    State(ctx): State<ApiContext>,
    Signed(session): Signed,
    Path((id, email_id)): Path<(String, String)>,
) -> Response {
    let lang = session.language;
    let e = match sent_email(&ctx, &session.caller, &id, &email_id).await {
        Ok(e) => e,
        Err(e) => return error_page(lang, Some(&session), &e),
    };
    let back = format!("/console/requests/{id}");
    let body = html! {
        p { a href=(back) { "← " (tr(lang, "Back to the request", "К заявке")) } }
        h1 { (tr(lang, "Email to the customer", "Письмо клиенту")) }
        dl.facts {
            dt { (tr(lang, "To", "Кому")) } dd { (e.recipient) }
            dt { (tr(lang, "About", "О чём")) } dd { (e.event) " · " (e.language.as_deref().unwrap_or("")) }
            dt { (tr(lang, "Sent", "Отправлено")) } dd { (e.sent_at.map(|t| words::moment(lang, t, chrono_tz::UTC) + " UTC").unwrap_or_default()) }
            dt { (tr(lang, "Subject", "Тема")) } dd #email-subject { (e.subject.as_deref().unwrap_or("")) }
        }
        @match &e.body_text {
            Some(text) => {
                pre.email #email-text lang=(e.language.as_deref().unwrap_or("en")) { (text) }
                @if e.body_html.is_some() {
                    p { a href={ (back) "/emails/" (email_id) "/html" } { (tr(lang, "The HTML part, as a mail program shows it", "HTML-часть, как её показывает почтовая программа")) } }
                }
            }
            None => p { (tr(lang,
                "No copy is kept: the email was sent before copies were kept, or the request ended longer ago than the retention period.",
                "Копии нет: письмо отправлено до того, как копии стали храниться, или заявка завершена раньше срока хранения.")) },
        }
    };
    layout(lang, Some(&session), tr(lang, "Email", "Письмо"), body)
}

/// `GET /console/requests/{id}/emails/{email_id}/html`: the HTML part as sent, in a sandbox:
/// no script runs, nothing loads, no form posts.
pub async fn email_html(
    State(ctx): State<ApiContext>,
    Signed(session): Signed,
    Path((id, email_id)): Path<(String, String)>,
) -> Response {
    let lang = session.language;
    match sent_email(&ctx, &session.caller, &id, &email_id).await {
        Ok(SentEmail {
            body_html: Some(html),
            ..
        }) => {
            let mut response = axum::response::Html(html).into_response();
            let headers = response.headers_mut();
            headers.insert(
                axum::http::header::CONTENT_SECURITY_POLICY,
                axum::http::HeaderValue::from_static(
                    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                ),
            );
            headers.insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            headers.insert(
                axum::http::header::X_CONTENT_TYPE_OPTIONS,
                axum::http::HeaderValue::from_static("nosniff"),
            );
            response
        }
        Ok(_) => error_page(
            lang,
            Some(&session),
            &ApiError::not_found("no copy of this email is kept"),
        ),
        Err(e) => error_page(lang, Some(&session), &e),
    }
}
