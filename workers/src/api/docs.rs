//! The API's description, generated from the code: the OpenAPI 3 document at
//! `/openapi.json`, and a browsable page at `/docs` rendered here on the server from that same
//! document (no JavaScript, nothing downloaded, works offline).

use axum::Router;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::ApiContext;
use super::{dashboard, gateway_notifications, sla};
use super::{
    documents, health, intake, merchants, metrics, payments, payouts, problem, quotes, requests,
    schemas, unverified,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "refundd API",
        description = "Refund applications for card payments: register payments, submit applications, follow them through validation, decision and payout. Authenticate with `Authorization: Bearer <key>` (`refundd api-key create`; the scheme in any case); reads (GET) also take HTTP Basic with the key as the password, so a browser can open `/dashboard`. A key belongs to one merchant (or all merchants): another merchant's requests, payments and documents answer 404, as ids that do not exist, and lists and figures hold the key's merchant only. Errors are RFC 9457 problem details.",
        version = "1"
    ),
    paths(
        health::healthz,
        health::readyz,
        merchants::list,
        payments::register,
        payments::read,
        requests::create,
        requests::list,
        requests::read,
        requests::add_facts,
        requests::confirm,
        requests::reject,
        requests::withdraw,
        requests::ask,
        documents::upload,
        documents::list,
        documents::download,
        payouts::list_manual,
        payouts::bank_details,
        payouts::mark_paid,
        payouts::list_needing_person,
        gateway_notifications::receive,
        payouts::retry,
        payouts::record_external,
        payouts::bank_transfer,
        quotes::quote,
        intake::take_email,
        unverified::list,
        unverified::accept,
        sla::report,
        dashboard::page,
        metrics::scrape,
    ),
    components(schemas(
        problem::Problem,
        problem::FieldProblem,
        schemas::ReasonName,
        schemas::LanguageCode,
        schemas::CurrencyCode,
        schemas::GatewayName,
        schemas::StateName,
        schemas::DecimalText,
        health::Health,
        health::Readiness,
        merchants::MerchantList,
        merchants::MerchantView,
        merchants::PolicyView,
        payments::NewPayment,
        payments::Card,
        payments::Customer,
        payments::PaymentView,
        requests::NewRefundRequest,
        requests::PaymentRef,
        requests::Contact,
        requests::Accepted,
        requests::RefundRequestView,
        requests::RefundRequestSummary,
        requests::RefundRequestPage,
        requests::EventView,
        requests::ConfirmBody,
        requests::RejectBody,
        requests::WithdrawBody,
        requests::AskBody,
        documents::DocumentFields,
        documents::DocumentUpload,
        documents::DocumentAccepted,
        documents::DocumentView,
        documents::DocumentList,
        payouts::BankDetails,
        payouts::MarkPaid,
        payouts::ManualPayout,
        payouts::ManualPayoutList,
        payouts::PayoutNeedingPerson,
        payouts::PayoutsNeedingPerson,
        payouts::RetryPayout,
        payouts::RecordExternalPayout,
        payouts::BankTransferPayout,
        payouts::PayoutActionResult,
        intake::RawEmail,
        crate::intake::IntakeOutcome,
        unverified::UnverifiedEmail,
        unverified::UnverifiedEmailPage,
        unverified::UnverifiedStatus,
        requests::ListSort,
        sla::SlaReport,
        sla::SlaWindow,
        sla::SlaFigures,
        sla::TimeToRefund,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "refund requests", description = "Applications and the decisions people make on them"),
        (name = "payments", description = "The registry of captured card payments refunds go back to"),
        (name = "merchants", description = "Configured merchants"),
        (name = "payouts", description = "Refunds paid by bank transfer when the card cannot take them"),
        (name = "intake", description = "Raw emails from a mail provider's inbound webhook, and emails from addresses that are not the payer's"),
        (name = "quotes", description = "What the policy would decide, without side effects"),
        (name = "health", description = "Liveness and readiness"),
        (name = "sla", description = "SLA figures and the dashboard page"),
        (name = "metrics", description = "Figures for Prometheus: SLA states, time to refund, queues, payouts, emails, intake"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key from `refundd api-key create --role R --merchant M`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "browser_basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "For a browser, on reads (GET) only: any user name, the API key as the password",
                    ))
                    .build(),
            ),
        );
    }
}

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs_page))
}

async fn openapi_json() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the document serializes"),
    )
}

const STYLE: &str = "\
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}\
code,pre{background:#f4f4f4;padding:0 .3em;border-radius:3px}\
.op{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.5em 1em}\
.m{font-weight:bold;text-transform:uppercase;display:inline-block;min-width:4.5em}\
.get{color:#0a6}.post{color:#06c}.patch{color:#a60}.delete{color:#c00}\
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}";

/// Every operation with its parameters, body and answers, and every schema with its fields.
async fn docs_page() -> Html<String> {
    let doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
    let empty = serde_json::Map::new();
    let paths = doc["paths"].as_object().unwrap_or(&empty);
    let schemas = doc["components"]["schemas"].as_object().unwrap_or(&empty);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "refundd API" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (text(&doc["info"]["title"])) }
                p { (markdown_inline(&text(&doc["info"]["description"]))) }
                p {
                    "Machine-readable: " a href="/openapi.json" { "/openapi.json" }
                    " (OpenAPI " (text(&doc["openapi"])) ")"
                }
                h2 { "Operations" }
                @for (path, item) in paths {
                    @for (method, op) in item.as_object().unwrap_or(&empty) {
                        div class="op" id=(format!("{method}-{}", path.replace(['/', '{', '}'], "_"))) {
                            span class=(format!("m {method}")) { (method) } " " code { (path) }
                            @if let Some(summary) = op["summary"].as_str() { (markdown(summary)) }
                            @if let Some(description) = op["description"].as_str() { (markdown(description)) }
                            @if let Some(params) = op["parameters"].as_array() {
                                table {
                                    tr { th { "parameter" } th { "in" } th { "description" } }
                                    @for p in params {
                                        tr {
                                            td { code { (text(&p["name"])) } }
                                            td { (text(&p["in"])) }
                                            td { (markdown_inline(&text(&p["description"]))) }
                                        }
                                    }
                                }
                            }
                            @if let Some(body) = op["requestBody"]["content"].as_object() {
                                @for (content_type, media) in body {
                                    p { "Body (" (content_type) "): " (schema_name(&media["schema"])) }
                                }
                            }
                            @if let Some(responses) = op["responses"].as_object() {
                                p {
                                    "Answers: "
                                    @for (n, (code, answer)) in responses.iter().enumerate() {
                                        @if n > 0 { ", " }
                                        code { (code) } " "
                                        @if let Some(media) = answer["content"].as_object().and_then(|c| c.values().next()) {
                                            (schema_name(&media["schema"]))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                h2 { "Schemas" }
                @for (name, schema) in schemas {
                    h3 id=(format!("schema-{name}")) { (name) }
                    @if let Some(description) = schema["description"].as_str() { (markdown(description)) }
                    @if let Some(props) = schema["properties"].as_object() {
                        @let required: Vec<&str> = schema["required"]
                            .as_array()
                            .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
                            .unwrap_or_default();
                        table {
                            tr { th { "field" } th { "type" } th { "description" } }
                            @for (field, p) in props {
                                tr {
                                    td { code { (field) } @if required.contains(&field.as_str()) { " (required)" } }
                                    td { (schema_name(p)) }
                                    td { (markdown_inline(&text(&p["description"]))) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Html(page.into_string())
}

/// The descriptions are Markdown written in doc comments: rendered as HTML, with any HTML in
/// them shown as text (never as markup) and Rust's intra-doc links (`` [`Name`] ``, which
/// link nothing outside rustdoc) shown as code.
fn markdown(text: &str) -> PreEscaped<String> {
    use pulldown_cmark::{Event, Parser};
    static INTRA_DOC: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\[(`[^`\]]+`)\](\([^)]*\))?").expect("a valid pattern")
    });
    let text = INTRA_DOC.replace_all(text, |c: &regex::Captures| match c.get(2) {
        Some(_) => c[0].to_owned(),
        None => c[1].to_owned(),
    });
    let events = Parser::new(&text).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    PreEscaped(html)
}

/// [`markdown`] for a table cell or a line: one paragraph loses its `<p>`.
fn markdown_inline(text: &str) -> PreEscaped<String> {
    let PreEscaped(html) = markdown(text);
    let trimmed = html.trim_end();
    match trimmed
        .strip_prefix("<p>")
        .and_then(|rest| rest.strip_suffix("</p>"))
    {
        Some(inner) if !inner.contains("<p>") => PreEscaped(inner.to_owned()),
        _ => PreEscaped(html),
    }
}

/// A schema as a reader sees it: a link to a named one, `array of ...`, alternatives, or
/// its type.
fn schema_name(schema: &serde_json::Value) -> Markup {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return html! { a href=(format!("#schema-{name}")) { (name) } };
    }
    if let Some(items) = schema.get("items") {
        return html! { "array of " (schema_name(items)) };
    }
    if let Some(one_of) = schema["oneOf"].as_array() {
        return html! {
            @for (n, alternative) in one_of.iter().enumerate() {
                @if n > 0 { " or " }
                (schema_name(alternative))
            }
        };
    }
    match &schema["type"] {
        serde_json::Value::String(t) => html! { (t) },
        serde_json::Value::Array(ts) => {
            html! { (ts.iter().filter_map(|t| t.as_str()).collect::<Vec<_>>().join(" | ")) }
        }
        _ => html! { "any" },
    }
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    use super::{markdown, markdown_inline};

    #[test]
    fn descriptions_render_as_markdown_and_never_as_markup() {
        assert_eq!(
            markdown_inline("Send `Authorization: Bearer <key>`, *then* read").0,
            "Send <code>Authorization: Bearer &lt;key&gt;</code>, <em>then</em> read"
        );
        assert_eq!(
            markdown("First.\n\nSecond with [`ApiJson`] and [`a link`](https://example.com).").0,
            "<p>First.</p>\n<p>Second with <code>ApiJson</code> and \
             <a href=\"https://example.com\"><code>a link</code></a>.</p>\n"
        );
        let hostile = markdown("<script>alert(1)</script> and <b onclick=x>bold</b>").0;
        assert!(
            !hostile.contains("<script") && !hostile.contains("<b "),
            "{hostile}"
        );
        assert!(hostile.contains("&lt;script&gt;"), "{hostile}");
    }

    /// `/openapi.json` is a contract: clients, the contract check and the checks outside the
    /// repository read it. It changes only on purpose: a change to the API's shape fails here
    /// until `docs/openapi.json` is regenerated with
    /// `REFUNDD_UPDATE_OPENAPI=1 cargo nextest run -p workers openapi_is_the_committed_contract`
    /// and committed with the change that needs it.
    #[test]
    fn openapi_is_the_committed_contract() {
        let now = super::ApiDoc::openapi()
            .to_pretty_json()
            .expect("the document serializes")
            + "\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
        if std::env::var_os("REFUNDD_UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &now).expect("docs/openapi.json is writable");
        }
        let committed = std::fs::read_to_string(path).expect("docs/openapi.json exists");
        if committed != now {
            let line = committed
                .lines()
                .zip(now.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| committed.lines().count().min(now.lines().count()))
                + 1;
            panic!(
                "/openapi.json differs from docs/openapi.json from line {line} on; if the change \
                 is intended, regenerate it (REFUNDD_UPDATE_OPENAPI=1) and commit it"
            );
        }
    }

    #[tokio::test]
    async fn the_docs_page_shows_no_markdown_or_rustdoc_syntax() {
        let page = super::docs_page().await.0;
        let text = regex::Regex::new(r"<[^>]*>")
            .unwrap()
            .replace_all(&page, "");
        for literal in ["`", "[`", "**", "Self::"] {
            assert!(!text.contains(literal), "{literal:?} in /docs");
        }
        assert!(page.contains("<code>Authorization: Bearer &lt;key&gt;</code>"));
    }
}
