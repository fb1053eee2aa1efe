//! The support console at `/console`: the pages support agents and supervisors work in, served
//! by `refundd api`, rendered on the server (maud), working without JavaScript.
//!
//! - **Sign-in** takes an API key once (`sign_in`) and opens a server-side session
//!   ([`shared::console_sessions`]): an HttpOnly, SameSite=Strict cookie holding a random token
//!   (Secure when the request came over HTTPS), idle and absolute expiry, sign-out. The key is
//!   never in a URL and never stored by the browser. Only support and supervisor keys sign in.
//! - **Every page acts as the key**: its role and merchant scope. Data is read through the
//!   same functions and checks the JSON API uses, so another merchant's request is "not
//!   found" here as it is there.
//! - **Every form post** must carry the session's CSRF token and, when the browser says where
//!   the form came from (`Origin`, `Sec-Fetch-Site`), come from this site (`refusal`).
//!   Otherwise nothing changes and the page says why.
//! - **Actions** call the API's own handlers, with the same validation and the same audit
//!   events; each answers with what happened, in words, on the next page (the session's
//!   flash), then redirects (303), so a reload repeats nothing.
//! - Pages send a Content-Security-Policy that loads only this site's own style sheet and
//!   script, and `no-store`: nothing of a customer's stays in the browser's cache. The
//!   referrer policy is `same-origin`: no address of ours leaves for another site, and the
//!   browser still sends the `Origin` of our own forms (`no-referrer` would make it `null`).

mod apply;
mod queue;
mod request;
mod sign_in;
pub mod words;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use shared::api_keys::ApiRole;
use shared::console_sessions::{self, Flash, Session};
use shared::language::Language;

use self::words::tr;
use super::ApiContext;
use super::problem::ApiError;

/// The session cookie's name.
pub const COOKIE: &str = "refundd_console";

/// Roles that may sign in to the console.
pub const CONSOLE_ROLES: [ApiRole; 2] = [ApiRole::Support, ApiRole::Supervisor];

/// The largest upload form: a 10 MiB file plus the fields around it.
const UPLOAD_LIMIT: usize = 11 * 1024 * 1024;

const STYLE: &str = include_str!("console.css");
const SCRIPT: &str = include_str!("console.js");

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/console", get(queue::page))
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .route("/console/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/console/sign-out", post(sign_in::sign_out))
        .route("/console/language", post(sign_in::language))
        .route("/console/console.css", get(style))
        .route("/console/console.js", get(script))
        .route("/console/new", get(apply::page).post(apply::submit))
        .route("/console/emails/{id}/accept", post(queue::accept_email))
        .route("/console/requests/{id}", get(request::page))
        .route(
            "/console/requests/{id}/documents",
            post(request::upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route(
            "/console/requests/{id}/documents/{document_id}",
            get(request::document),
        )
        .route(
            "/console/requests/{id}/emails/{email_id}",
            get(request::email),
        )
        .route(
            "/console/requests/{id}/emails/{email_id}/html",
            get(request::email_html),
        )
        .route("/console/requests/{id}/{action}", post(request::act))
}

async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The session token the browser sent, if any.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
}

/// A person signed in to the console: their live session (key, role, scope, language).
pub struct Signed(pub Session);

impl<S> FromRequestParts<S> for Signed
where
    ApiContext: FromRef<S>,
    S: Send + Sync,
{
    /// To the sign-in page, coming back here after.
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ctx = ApiContext::from_ref(state);
        let found = match cookie_token(&parts.headers) {
            Some(token) => console_sessions::find(&ctx.db, &token)
                .await
                .map_err(|e| ApiError::from(e).into_response())?,
            None => None,
        };
        match found {
            Some(session) => Ok(Signed(session)),
            None => {
                let back = parts
                    .uri
                    .path_and_query()
                    .map(axum::http::uri::PathAndQuery::as_str)
                    .filter(|p| parts.method == axum::http::Method::GET && sign_in::safe_next(p))
                    .unwrap_or("/console");
                let to = format!("/console/sign-in?next={}", urlencode(back));
                Err(Redirect::to(&to).into_response())
            }
        }
    }
}

/// `text` for a URL's query.
pub(super) fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Whether a form post came from this site's own page, as far as the browser says: its
/// `Origin` names this host, or (without `Origin`) `Sec-Fetch-Site` is same-origin. A client
/// that sends neither (not a browser) still needs the CSRF token.
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let authority = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        return match (authority, host) {
            (Some(a), Some(h)) => a.to_ascii_lowercase() == h,
            _ => false,
        };
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        None => true,
    }
}

/// Compares two tokens in time independent of where they differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The answer refusing a form post that does not prove it came from one of this session's
/// own pages; `None` when it does: the CSRF token it carries matches the session's, and the
/// browser says it came from this site.
pub(super) fn refusal(
    headers: &HeaderMap,
    session: &Session,
    csrf: Option<&str>,
) -> Option<Response> {
    let lang = session.language;
    let token_ok = csrf.is_some_and(|t| same_token(t, &session.csrf));
    if token_ok && same_origin(headers) {
        return None;
    }
    tracing::warn!(
        session = %session.id,
        token = if csrf.is_none() { "missing" } else if token_ok { "right" } else { "wrong" },
        same_origin = same_origin(headers),
        "console form refused: not from this session's own page"
    );
    let body = html! {
        h1 { (tr(lang, "Nothing was changed", "Ничего не изменено")) }
        p { (tr(lang,
            "This form did not come from your own console page (it came from another site, or from a page of an earlier sign-in). Go back, reload the page and send the form again.",
            "Эта форма пришла не с вашей страницы консоли (с другого сайта или со страницы прошлого входа). Вернитесь, обновите страницу и отправьте форму ещё раз."))
        }
        p { a href="/console" { (tr(lang, "To the work queue", "К очереди")) } }
    };
    Some(with_status(
        StatusCode::FORBIDDEN,
        layout(lang, Some(session), tr(lang, "Refused", "Отказано"), body),
    ))
}

/// A form whose only field is the CSRF token (sign out, accept a sender).
#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

/// Keeps `text` as the answer the next page shows, then sends the browser to `to` (303).
pub(super) async fn answer(
    ctx: &ApiContext,
    session: &Session,
    ok: bool,
    text: String,
    to: &str,
) -> Response {
    let flash = Flash { ok, text };
    if let Err(e) = console_sessions::set_flash(&ctx.db, session.id, &flash).await {
        return ApiError::from(e).into_response();
    }
    // `to` may carry a path segment as typed (decoded): only a clean one becomes a header.
    let to = if HeaderValue::from_str(to).is_ok() && sign_in::safe_next(to) {
        to
    } else {
        "/console"
    };
    Redirect::to(to).into_response()
}

/// What the API said went wrong, as one paragraph: its detail and each field's problem.
pub(super) fn problem_words(lang: Language, e: &ApiError) -> String {
    let p = e.problem();
    let mut text = format!("{} {}", tr(lang, "Not done:", "Не сделано:"), p.detail);
    for f in &p.errors {
        text.push_str(&format!(" {}: {}.", f.field, f.message));
    }
    text
}

fn with_status(status: StatusCode, mut response: Response) -> Response {
    *response.status_mut() = status;
    response
}

/// A whole console page: the header with the person's key and the language switch, the
/// answer to their last action, then `body`.
pub(super) fn layout(
    lang: Language,
    session: Option<&Session>,
    title: &str,
    body: Markup,
) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang=(words::console_language(lang).code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) " · refundd" }
                link rel="stylesheet" href="/console/console.css";
                script src="/console/console.js" defer {}
            }
            body {
                a.skip href="#main" { (tr(lang, "Skip to the content", "К содержимому")) }
                @if let Some(s) = session {
                    header {
                        nav aria-label=(tr(lang, "Console", "Консоль")) {
                            a href="/console" accesskey="q" { (tr(lang, "Work queue", "Очередь")) }
                            a href="/console/new" accesskey="n" { (tr(lang, "New application", "Новое заявление")) }
                        }
                        div.who {
                            span { (s.caller.name) " · " (s.caller.role) " · "
                                @match s.caller.scope.merchant() {
                                    Some(m) => (m),
                                    None => (tr(lang, "all merchants", "все мерчанты")),
                                }
                            }
                            form method="post" action="/console/language" {
                                input type="hidden" name="csrf" value=(s.csrf);
                                label for="language" { (tr(lang, "Language", "Язык")) }
                                select #language name="language" {
                                    @for l in words::CONSOLE_LANGUAGES {
                                        option value=(l.code()) selected[l == words::console_language(lang)] { (words::language_name(l)) }
                                    }
                                }
                                button type="submit" { (tr(lang, "Change", "Сменить")) }
                            }
                            form method="post" action="/console/sign-out" {
                                input type="hidden" name="csrf" value=(s.csrf);
                                button type="submit" #sign-out { (tr(lang, "Sign out", "Выйти")) }
                            }
                        }
                    }
                }
                main #main tabindex="-1" {
                    @if let Some(flash) = session.and_then(|s| s.flash.as_ref()) {
                        p.flash.ok[flash.ok].error[!flash.ok] role=(if flash.ok { "status" } else { "alert" }) #flash {
                            (flash.text)
                        }
                    }
                    (body)
                }
            }
        }
    };
    let mut response = axum::response::Html(markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A page for an error a person met (a request not found, a key that may not see it).
pub(super) fn error_page(lang: Language, session: Option<&Session>, e: &ApiError) -> Response {
    let body = html! {
        h1 { (tr(lang, "This cannot be shown", "Это нельзя показать")) }
        p { (e.problem().detail) }
        p { a href="/console" { (tr(lang, "To the work queue", "К очереди")) } }
    };
    with_status(
        e.status(),
        layout(lang, session, tr(lang, "Not shown", "Не показано"), body),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    #[test]
    fn a_post_from_another_site_is_not_same_origin() {
        let own = headers(&[
            ("host", "console.example:8080"),
            ("origin", "http://console.example:8080"),
        ]);
        assert!(same_origin(&own));
        let foreign = headers(&[
            ("host", "console.example:8080"),
            ("origin", "https://evil.example"),
        ]);
        assert!(!same_origin(&foreign));
        let opaque = headers(&[("host", "console.example"), ("origin", "null")]);
        assert!(!same_origin(&opaque));
        let cross = headers(&[
            ("host", "console.example"),
            ("sec-fetch-site", "cross-site"),
        ]);
        assert!(!same_origin(&cross));
        let same = headers(&[
            ("host", "console.example"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(same_origin(&same));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; refundd_console=rfs_abc ; b=2")]);
        assert_eq!(cookie_token(&h).as_deref(), Some("rfs_abc"));
        assert_eq!(
            cookie_token(&headers(&[("cookie", "refundd_consoleX=1")])),
            None
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "abcd"));
    }
}
