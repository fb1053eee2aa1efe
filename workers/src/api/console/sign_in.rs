//! Signing in with an API key, signing out, and the person's language.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use shared::console_sessions;
use shared::language::Language;

use super::words::{self, tr};
use super::{CONSOLE_ROLES, COOKIE, Signed, layout, with_status};
use crate::api::ApiContext;
use crate::api::auth::{check_key, client_address};

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
    signed_out: Option<String>,
}

/// Whether `next` may be where sign-in sends the browser: a console page of this site (not
/// `//elsewhere`, not another scheme).
pub(super) fn safe_next(next: &str) -> bool {
    (next == "/console" || next.starts_with("/console/") || next.starts_with("/console?"))
        && !next.contains("//")
        && !next.contains('\\')
        && next.chars().all(|c| !c.is_control())
}

/// The language a browser asks for first, of those the console speaks.
fn browser_language(headers: &HeaderMap) -> Language {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|first| {
            words::console_language(Language::from_code(first.split(';').next().unwrap_or("")))
        })
        .unwrap_or(Language::En)
}

/// The sign-in form, saying why the last try failed (`problem`) or that the person signed out.
fn form_page(lang: Language, next: &str, problem: Option<&str>, signed_out: bool) -> Response {
    let body = html! {
        h1 { (tr(lang, "Sign in to the refunds console", "Вход в консоль возвратов")) }
        @if signed_out {
            p.flash.ok role="status" #signed-out { (tr(lang, "You are signed out. The session is closed on the server too.", "Вы вышли. Сессия закрыта и на сервере.")) }
        }
        @if let Some(problem) = problem {
            p.flash.error role="alert" #sign-in-problem { (problem) }
        }
        form.card method="post" action="/console/sign-in" {
            input type="hidden" name="next" value=(next);
            p {
                label for="key" { (tr(lang, "Your API key", "Ваш API-ключ")) }
                input #key name="key" type="password" autocomplete="off" required autofocus
                    aria-describedby="key-help";
                small #key-help { (tr(lang,
                    "The rfd_… key your administrator gave you (refundd api-key create). It is checked once; the console then keeps a session, not the key.",
                    "Ключ rfd_…, выданный администратором (refundd api-key create). Он проверяется один раз; дальше консоль хранит сессию, а не ключ.")) }
            }
            p {
                label for="language" { (tr(lang, "Language", "Язык")) }
                select #language name="language" {
                    @for l in words::CONSOLE_LANGUAGES {
                        option value=(l.code()) selected[l == lang] { (words::language_name(l)) }
                    }
                }
            }
            button type="submit" #sign-in { (tr(lang, "Sign in", "Войти")) }
        }
    };
    layout(lang, None, tr(lang, "Sign in", "Вход"), body)
}

/// `GET /console/sign-in`: the form.
pub async fn form(headers: HeaderMap, Query(q): Query<Next>) -> Response {
    let next = q.next.filter(|n| safe_next(n)).unwrap_or("/console".into());
    form_page(
        browser_language(&headers),
        &next,
        None,
        q.signed_out.is_some(),
    )
}

#[derive(Deserialize)]
pub struct SignIn {
    key: String,
    language: Option<String>,
    next: Option<String>,
}

/// `POST /console/sign-in`: checks the key (with the API's limits on failed attempts) and
/// opens a session.
pub async fn submit(
    State(ctx): State<ApiContext>,
    parts: Parts,
    Form(f): Form<SignIn>,
) -> Response {
    let headers = &parts.headers;
    let lang = f
        .language
        .as_deref()
        .map(|l| words::console_language(Language::from_code(l)))
        .unwrap_or_else(|| browser_language(headers));
    let next = f.next.filter(|n| safe_next(n)).unwrap_or("/console".into());
    // Signing in from a form on another site would sign the person into the attacker's key.
    if !super::same_origin(headers) {
        return with_status(
            StatusCode::FORBIDDEN,
            form_page(
                lang,
                &next,
                Some(tr(
                    lang,
                    "This sign-in form came from another site; nothing was done. Open the console's own page and sign in there.",
                    "Эта форма входа пришла с другого сайта; ничего не сделано. Откройте страницу консоли и войдите там.",
                )),
                false,
            ),
        );
    }
    let ip = client_address(&parts, &ctx);
    let caller = match check_key(&ctx, ip, f.key.trim()).await {
        Ok(caller) => caller,
        Err(e) => {
            let text = match e.status() {
                StatusCode::UNAUTHORIZED => tr(lang,
                    "That key is not valid: it is unknown or was revoked. Check that you pasted the whole key (rfd_ and 64 characters), or ask your administrator for a new one.",
                    "Этот ключ недействителен: он неизвестен или отозван. Проверьте, что вставлен весь ключ (rfd_ и 64 символа), или попросите у администратора новый.").to_string(),
                StatusCode::TOO_MANY_REQUESTS => tr(lang,
                    "Too many wrong keys from here; wait a minute and try again.",
                    "Слишком много неверных ключей отсюда; подождите минуту и попробуйте снова.").to_string(),
                _ => e.problem().detail,
            };
            return with_status(e.status(), form_page(lang, &next, Some(&text), false));
        }
    };
    if !CONSOLE_ROLES.contains(&caller.role) {
        let text = match lang {
            Language::Ru => format!(
                "Ключ роли {} не открывает консоль: нужен ключ support или supervisor. Для графиков SLA есть /dashboard.",
                caller.role
            ),
            _ => format!(
                "A {} key does not open the console: it needs a support or supervisor key. SLA figures are on /dashboard.",
                caller.role
            ),
        };
        return with_status(
            StatusCode::FORBIDDEN,
            form_page(lang, &next, Some(&text), false),
        );
    }
    let session = match console_sessions::create(&ctx.db, &caller, lang).await {
        Ok(s) => s,
        Err(e) => return crate::api::problem::ApiError::from(e).into_response(),
    };
    tracing::info!(session = %session.id, key = %caller.name, role = %caller.role, "console sign-in");
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let cookie = format!(
        "{COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{}",
        session.token,
        console_sessions::LIFETIME.num_seconds(),
        if secure { "; Secure" } else { "" }
    );
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("a cookie of token characters"),
    );
    response
}

/// `POST /console/sign-out`: ends the session; its cookie opens nothing after.
pub async fn sign_out(
    State(ctx): State<ApiContext>,
    Signed(session): Signed,
    headers: HeaderMap,
    Form(f): Form<super::CsrfOnly>,
) -> Response {
    if let Some(refused) = super::refusal(&headers, &session, f.csrf.as_deref()) {
        return refused;
    }
    if let Err(e) = console_sessions::sign_out(&ctx.db, session.id).await {
        return crate::api::problem::ApiError::from(e).into_response();
    }
    tracing::info!(session = %session.id, "console sign-out");
    let mut response = Redirect::to("/console/sign-in?signed_out=1").into_response();
    let cookie = format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0");
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("a plain cookie"),
    );
    response
}

#[derive(Deserialize)]
pub struct ChooseLanguage {
    csrf: Option<String>,
    language: String,
}

/// `POST /console/language`: the person's language for the rest of the session.
pub async fn language(
    State(ctx): State<ApiContext>,
    Signed(session): Signed,
    headers: HeaderMap,
    Form(f): Form<ChooseLanguage>,
) -> Response {
    if let Some(refused) = super::refusal(&headers, &session, f.csrf.as_deref()) {
        return refused;
    }
    let lang = words::console_language(Language::from_code(&f.language));
    if let Err(e) = console_sessions::set_language(&ctx.db, session.id, lang).await {
        return crate::api::problem::ApiError::from(e).into_response();
    }
    Redirect::to("/console").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_sends_only_to_console_pages_of_this_site() {
        assert!(safe_next("/console"));
        assert!(safe_next("/console/requests/0193"));
        assert!(safe_next("/console?kind=payout"));
        assert!(!safe_next("//evil.example/console"));
        assert!(!safe_next("https://evil.example/console"));
        assert!(!safe_next("/console//evil.example"));
        assert!(!safe_next("/console/\\evil"));
        assert!(!safe_next("/consolex"));
        assert!(!safe_next("/v1/refund-requests"));
    }
}
