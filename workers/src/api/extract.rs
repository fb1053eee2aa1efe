//! Reading request bodies strictly: JSON only, within the size limit, unknown fields refused,
//! and every mistake answered as a problem naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::limits::BodyDeadline;
use super::problem::ApiError;

/// A JSON body deserialized into `T`, or a problem+json answer naming what is wrong.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned + TextLimits,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body(req, state).await?;
        parse(&bytes).map(ApiJson)
    }
}

/// A JSON body deserialized into `T`, with the SHA-256 of its canonical form (keys sorted,
/// no whitespace): two bodies that mean the same have the same hash. Used for idempotency.
pub struct HashedJson<T>(pub T, pub String);

impl<T, S> FromRequest<S> for HashedJson<T>
where
    T: DeserializeOwned + TextLimits,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body(req, state).await?;
        HashedJson::from_bytes(&bytes)
    }
}

impl<T: DeserializeOwned + TextLimits> HashedJson<T> {
    /// `bytes` read as [`ApiJson`] reads a body, with the hash of their canonical form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ApiError> {
        let value: T = parse(bytes)?;
        let canonical: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| ApiError::malformed(format!("the body is not valid JSON: {e}"), None))?;
        let hash = hex::encode(Sha256::digest(
            serde_json::to_vec(&canonical).expect("json values serialize"),
        ));
        Ok(HashedJson(value, hash))
    }
}

/// An optional JSON body: an empty body means `T::default()`; anything else is read as
/// strictly as [`ApiJson`].
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default + TextLimits,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = content_type(&req).to_owned();
        let bytes = read_body(req, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalJson(T::default()));
        }
        require_json(&content_type)?;
        parse(&bytes).map(OptionalJson)
    }
}

fn content_type(req: &Request) -> &str {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn require_json(content_type: &str) -> Result<(), ApiError> {
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if mime == "application/json" || mime.ends_with("+json") {
        return Ok(());
    }
    Err(ApiError::unsupported_media(format!(
        "send the body as JSON with Content-Type: application/json (got {:?})",
        if content_type.is_empty() {
            "nothing"
        } else {
            content_type
        }
    )))
}

/// The raw body of a request that must be JSON and within the size limit.
async fn json_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    require_json(content_type(&req))?;
    read_body(req, state).await
}

/// The raw body within the size limit; axum's plain-text rejections become problems.
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let deadline = req.extensions().get::<BodyDeadline>().copied();
    Bytes::from_request(req, state).await.map_err(|e| {
        if let Some(late) = BodyDeadline::timed_out(deadline.as_ref()) {
            late
        } else if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            // Every JSON body is read under the API's one JSON limit (uploads and raw emails
            // have their own limits and messages).
            ApiError::too_large(format!(
                "the body is over the {}-byte ({} KiB) limit for JSON requests",
                super::JSON_BODY_LIMIT,
                super::JSON_BODY_LIMIT / 1024
            ))
        } else {
            ApiError::malformed(format!("the body could not be read: {e}"), None)
        }
    })
}

/// How a text field may look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextShape {
    /// One line: no control characters at all.
    Line,
    /// Free text: line breaks and tabs, no other control characters.
    Lines,
}

/// The longest text (in characters) a field of a JSON body takes when the body names no other.
pub const LINE_MAX: usize = 200;

/// The text fields of a body that differ from the default (one line of at most [`LINE_MAX`]
/// characters), by JSON path (`contact.name`, `facts.reason_text`; array items share their
/// array's path). Every string of every JSON body is checked against these at the door, so
/// no handler can forget a field; the OpenAPI schema states the same `maxLength`.
pub trait TextLimits {
    const TEXT: &'static [(&'static str, usize, TextShape)] = &[];
}

impl TextLimits for serde_json::Value {}
impl TextLimits for std::collections::BTreeMap<String, String> {}

/// Deserializes JSON, naming the path of the field at fault; then checks every string
/// against the body's [`TextLimits`]. A full card number anywhere is refused first; personal
/// (national identity) numbers in free text (the fields of [`TextShape::Lines`]) are masked
/// (`90***23`) before the handler sees the body, so none is stored in clear.
pub fn parse<T: DeserializeOwned + TextLimits>(bytes: &[u8]) -> Result<T, ApiError> {
    // The body as plain JSON, read once: card numbers are looked for first, before any
    // other answer could quote the value back; text limits and masking use it after.
    let raw = serde_json::from_slice::<serde_json::Value>(bytes).ok();
    if let Some((field, problem)) = raw.as_ref().and_then(card_number_in) {
        return Err(ApiError::field(field, problem));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => {
            de.end().map_err(|e| {
                ApiError::malformed(format!("unexpected data after the JSON value: {e}"), None)
            })?;
            // `T` read the bytes, so they are one JSON value.
            let mut raw = raw.ok_or_else(|| {
                ApiError::malformed("the body is not valid JSON".to_owned(), None)
            })?;
            if let Some((field, problem)) = text_problem(&raw, T::TEXT) {
                return Err(ApiError::field(field, problem));
            }
            if mask_free_text(&mut raw, "", T::TEXT) {
                // The same body with masked text: it was read above, so it reads again.
                return T::deserialize(raw).map_err(|e| ApiError::malformed(e.to_string(), None));
            }
            Ok(value)
        }
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = strip_position(&inner.to_string());
            if inner.is_syntax() || inner.is_eof() {
                Err(ApiError::malformed(
                    format!("the body is not valid JSON: {inner}"),
                    None,
                ))
            } else if path == "." {
                Err(ApiError::malformed(message, Some("body".into())))
            } else {
                Err(ApiError::malformed_field(
                    format!("{path}: {message}"),
                    path,
                    message,
                ))
            }
        }
    }
}

/// Characters that make text lie about itself: bidirectional overrides and isolates (a name
/// that reads differently than it sorts or compares), and Unicode line separators.
fn deceptive(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// What is wrong with one text value, if anything.
pub fn text_value_problem(text: &str, max: usize, shape: TextShape) -> Option<String> {
    if text.contains('\0') {
        return Some(
            "contains a NUL character (\\u0000), which text here may not hold; remove it".into(),
        );
    }
    let allowed = |c: char| shape == TextShape::Lines && matches!(c, '\n' | '\r' | '\t');
    if let Some(c) = text
        .chars()
        .find(|c| (c.is_control() && !allowed(*c)) || deceptive(*c))
    {
        return Some(format!(
            "contains the control character U+{:04X}, which {} may not hold; remove it",
            c as u32,
            match shape {
                TextShape::Line => "a one-line field",
                TextShape::Lines => "text",
            }
        ));
    }
    let count = text.chars().count();
    (count > max).then(|| format!("is {count} characters long; at most {max} are allowed"))
}

/// The path of `key` inside `path`.
fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The first string or key of `value`, in document order, that `check(path, text, is_key)`
/// finds a problem with: the field (`body` for the body itself; a key named as `show_key`
/// writes it) and the problem (`the name ...` for a key).
fn first_problem(
    value: &serde_json::Value,
    path: &str,
    check: &dyn Fn(&str, &str, bool) -> Option<String>,
    show_key: &dyn Fn(&str) -> String,
) -> Option<(String, String)> {
    match value {
        serde_json::Value::String(s) => check(path, s, false).map(|problem| {
            let field = if path.is_empty() { "body" } else { path };
            (field.to_owned(), problem)
        }),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| first_problem(v, &format!("{path}[{i}]"), check, show_key)),
        serde_json::Value::Object(map) => {
            map.iter().find_map(|(k, v)| match check(path, k, true) {
                Some(problem) => Some((child(path, &show_key(k)), format!("the name {problem}"))),
                None => first_problem(v, &child(path, k), check, show_key),
            })
        }
        _ => None,
    }
}

/// The path and problem of the first string (or key) that breaks its field's limits.
fn text_problem(
    value: &serde_json::Value,
    limits: &[(&str, usize, TextShape)],
) -> Option<(String, String)> {
    let check = |path: &str, text: &str, is_key: bool| {
        let (max, shape) = if is_key {
            (LINE_MAX, TextShape::Line)
        } else {
            limits
                .iter()
                .find(|(p, _, _)| *p == strip_indexes(path))
                .map_or((LINE_MAX, TextShape::Line), |(_, max, shape)| {
                    (*max, *shape)
                })
        };
        text_value_problem(text, max, shape)
    };
    first_problem(value, "", &check, &|k| k.replace('\0', "\\u0000"))
}

/// The path and problem of the first string or key of `value` holding a card number (keys
/// are named with the number masked).
fn card_number_in(value: &serde_json::Value) -> Option<(String, String)> {
    first_problem(
        value,
        "",
        &|path, text, _| card_number_problem(path, text),
        &|k| shared::cards::mask_card_numbers(k).0,
    )
}

/// A full card number in any string of any JSON body is refused here, at the door, before a
/// handler sees it: nothing we are sent may hold one (a payment gives the brand and last 4
/// digits; a refund to another account is an IBAN), so no field can store or echo one. The
/// answer names the field and never repeats the number. IBANs are not card numbers, whatever
/// their digits.
fn card_number_problem(path: &str, text: &str) -> Option<String> {
    if !shared::cards::contains_card_number(&shared::bank_details::without_ibans(text)) {
        return None;
    }
    Some(if strip_indexes(path).ends_with("bank_details") {
        "looks like a card number; the card cannot take the refund: give the bank account \
         (IBAN and bank) to send the money to"
            .into()
    } else {
        "looks like a full card number; card numbers are never needed or stored: remove it \
         (a payment gives only the card's brand and last 4 digits)"
            .into()
    })
}

/// Masks personal numbers in the free-text strings of `value` (those whose path has the
/// [`TextShape::Lines`] limit); whether any was masked.
fn mask_free_text(
    value: &mut serde_json::Value,
    path: &str,
    limits: &[(&str, usize, TextShape)],
) -> bool {
    match value {
        serde_json::Value::String(s) => {
            let free = limits
                .iter()
                .any(|(p, _, shape)| *p == strip_indexes(path) && *shape == TextShape::Lines);
            if !free {
                return false;
            }
            let (masked, any) = shared::identity::masking::mask_personal_numbers(s);
            if any {
                *s = masked;
            }
            any
        }
        serde_json::Value::Array(items) => {
            items.iter_mut().enumerate().fold(false, |any, (i, v)| {
                mask_free_text(v, &format!("{path}[{i}]"), limits) | any
            })
        }
        serde_json::Value::Object(map) => map.iter_mut().fold(false, |any, (k, v)| {
            mask_free_text(v, &child(path, k), limits) | any
        }),
        _ => false,
    }
}

/// `facts.notes[1]` → `facts.notes`: array items share their array's limits.
fn strip_indexes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// serde_json appends " at line 1 column 42"; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The one path parameter of a route (`{id}`) as text, parsed by the handler after it has
/// checked the caller's role. A path that is not valid percent-encoded UTF-8 is answered as a
/// problem, not with axum's plain-text rejection.
pub struct PathText(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathText {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(text)| PathText(text))
            .map_err(|e| ApiError::malformed(e.body_text(), Some("id".into())))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_nul_character_anywhere_is_refused_naming_the_field() {
        let body = br#"{"facts": {"notes": ["ok", "bad\u0000text"]}}"#;
        let e = parse::<serde_json::Value>(body).unwrap_err();
        assert_eq!(e.status(), 422);
        assert_eq!(e.problem().errors[0].field, "facts.notes[1]");

        let e = parse::<BTreeMap<String, String>>(br#"{"a\u0000": "x"}"#).unwrap_err();
        assert_eq!(e.problem().errors[0].field, "a\\u0000");
    }

    /// One guard at the door: a card number anywhere in any body (a fact, a name, a note, an
    /// array item, a key) is refused naming the field, and the answer never repeats it.
    #[test]
    fn a_card_number_in_any_string_is_refused_naming_the_field_and_not_echoed() {
        for (body, field) in [
            (
                r#"{"facts": {"bank_details": "4111 1111 1111 1111"}}"#,
                "facts.bank_details",
            ),
            (
                r#"{"bank_details": "card 4111-1111-1111-1111 Swedbank"}"#,
                "bank_details",
            ),
            (
                r#"{"contact": {"name": "5555555555554444"}}"#,
                "contact.name",
            ),
            (
                r#"{"facts": {"notes": ["ok", "pay to 4111 1111 1111 1111"]}}"#,
                "facts.notes[1]",
            ),
            (
                r#"{"note": "x", "extra": {"4111111111111111": true}}"#,
                "extra.**** **** **** 1111",
            ),
        ] {
            let e = parse::<serde_json::Value>(body.as_bytes()).unwrap_err();
            assert_eq!(e.status(), 422, "{body}");
            let problem = &e.problem().errors[0];
            assert_eq!(problem.field, field, "{body}");
            assert!(
                problem.message.contains("card number"),
                "{}",
                problem.message
            );
            let answer = serde_json::to_string(&e.problem()).unwrap();
            for digits in ["4111", "5555555555554444"] {
                assert!(!answer.contains(digits), "{answer}");
            }
        }
        let bank =
            parse::<serde_json::Value>(br#"{"facts": {"bank_details": "4111 1111 1111 1111"}}"#)
                .unwrap_err();
        assert!(bank.problem().errors[0].message.contains("IBAN"));
    }

    /// Personal numbers in free text reach the handler masked; elsewhere (a one-line field,
    /// which never holds one legitimately either, is left for its own check) they are kept.
    #[test]
    fn personal_numbers_in_free_text_are_masked_before_the_handler_sees_them() {
        #[derive(serde::Deserialize)]
        struct Body {
            note: String,
            notes: Vec<String>,
            reference: String,
        }
        impl TextLimits for Body {
            const TEXT: &'static [(&'static str, usize, TextShape)] = &[
                ("note", 2000, TextShape::Lines),
                ("notes", 2000, TextShape::Lines),
            ];
        }
        // A valid Kazakh IIN (date, sex and check digit) and a Latvian personal code.
        let body = br#"{"note": "my IIN is 900101300126, call me",
                        "notes": ["code 010190-12349"],
                        "reference": "900101300126"}"#;
        let b: Body = parse(body).unwrap();
        assert_eq!(b.note, "my IIN is 90***26, call me");
        assert_eq!(b.notes, ["code 01***49"]);
        assert_eq!(b.reference, "900101300126", "not free text");
        // Ordinary numbers stay.
        let b: Body =
            parse(br#"{"note": "order 123456789012, 3 items", "notes": [], "reference": ""}"#)
                .unwrap();
        assert_eq!(b.note, "order 123456789012, 3 items");
    }

    /// What is not a card number passes: an IBAN (whatever its digits), a Luhn-invalid run,
    /// a 12-digit personal code, a timestamp.
    #[test]
    fn ibans_dates_and_short_numbers_are_not_card_numbers() {
        for body in [
            r#"{"bank_details": "LV80 BANK 0000 4351 9500 1 Swedbank"}"#,
            r#"{"bank_details": "KZ86125KZT5004100100"}"#,
            r#"{"reason_text": "order 4111 1111 1111 1112, IIN 900101300123"}"#,
            r#"{"paid_at": "2026-12-02T14:22:11.123456789+00:00"}"#,
        ] {
            assert!(
                parse::<serde_json::Value>(body.as_bytes()).is_ok(),
                "{body}"
            );
        }
    }

    #[test]
    fn an_escaped_backslash_before_u0000_is_just_text() {
        let v: serde_json::Value = parse(br#"{"a": "C:\\u0000"}"#).unwrap();
        assert_eq!(v["a"], "C:\\u0000");
    }

    #[test]
    fn control_characters_and_long_text_are_refused_where_they_make_no_sense() {
        struct Body;
        impl TextLimits for Body {
            const TEXT: &'static [(&'static str, usize, TextShape)] =
                &[("note", 10, TextShape::Lines), ("tags", 3, TextShape::Line)];
        }
        let check = |json: &str| {
            let raw: serde_json::Value = serde_json::from_str(json).unwrap();
            text_problem(&raw, Body::TEXT)
        };
        // Free text keeps its line breaks and tabs; one-line fields do not.
        assert_eq!(check(r#"{"note": "a\nb\tc\r\n"}"#), None);
        let (field, problem) = check(r#"{"name": "Ivan\nIvanov"}"#).unwrap();
        assert_eq!(field, "name");
        assert!(problem.contains("U+000A"), "{problem}");
        // Escape sequences and bidirectional overrides never.
        assert!(check(r#"{"note": "\u001b[31mred"}"#).is_some());
        let (_, problem) = check(r#"{"name": "abc\u202Egpj.exe"}"#).unwrap();
        assert!(problem.contains("U+202E"), "{problem}");
        // Lengths in characters, not bytes: ten Cyrillic letters fit a 10-character note.
        assert_eq!(check(r#"{"note": "ДесятьБукв"}"#), None);
        assert!(check(r#"{"note": "ОдиннадцатьБ"}"#).is_some());
        // Array items take their array's limits; anything unlisted is one line of 200.
        assert_eq!(check(r#"{"tags": ["abc", "de"]}"#), None);
        assert_eq!(check(r#"{"tags": ["abcd"]}"#).unwrap().0, "tags[0]");
        let long = format!(r#"{{"other": "{}"}}"#, "x".repeat(LINE_MAX + 1));
        assert!(check(&long).unwrap().1.contains("at most 200"));
    }
}
