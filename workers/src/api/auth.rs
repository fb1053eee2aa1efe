//! Who is calling: the `Authorization: Bearer <key>` header resolved to a caller with a role,
//! and a limit on failed attempts per client address so keys cannot be guessed. Reads (GET)
//! also take the key as the password of HTTP Basic, so a browser can open the dashboard and
//! follow its links; writes never do, so credentials a browser remembers cannot be used to
//! change anything from another site.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use shared::api_keys::{self, ApiRole, Caller};

use super::ApiContext;
use super::problem::ApiError;

/// Failed attempts allowed per address per window before answers turn to 429.
const MAX_FAILURES: u32 = 10;
const WINDOW: Duration = Duration::from_secs(60);

/// Failed authentication attempts by client address.
#[derive(Clone, Default)]
pub struct FailedAttempts {
    inner: Arc<Mutex<HashMap<IpAddr, (u32, Instant)>>>,
}

impl FailedAttempts {
    /// Seconds to wait, when the address is over the limit.
    fn blocked_for(&self, ip: IpAddr) -> Option<u64> {
        let map = self.inner.lock().expect("not poisoned");
        let (count, since) = map.get(&ip)?;
        let elapsed = since.elapsed();
        (*count >= MAX_FAILURES && elapsed < WINDOW).then(|| (WINDOW - elapsed).as_secs().max(1))
    }

    fn record(&self, ip: IpAddr) {
        let mut map = self.inner.lock().expect("not poisoned");
        let entry = map.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        if map.len() > 100_000 {
            map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
    }
}

/// The authenticated caller of a request.
pub struct Authenticated(pub Caller);

impl Authenticated {
    /// Refuses (403) unless the caller has one of `roles`.
    pub fn require(&self, roles: &[ApiRole], action: &str) -> Result<&Caller, ApiError> {
        if roles.contains(&self.0.role) {
            Ok(&self.0)
        } else {
            let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::forbidden(format!(
                "a {} key may not {action}; that needs a {} key",
                self.0.role,
                allowed.join(" or ")
            )))
        }
    }
}

impl<S> FromRequestParts<S> for Authenticated
where
    ApiContext: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ctx = ApiContext::from_ref(state);
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if let Some(wait) = ctx.failed_attempts.blocked_for(ip) {
            return Err(ApiError::too_many_attempts(wait));
        }
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "send your API key as `Authorization: Bearer <key>`",
            ));
        };
        let secret = value
            .to_str()
            .ok()
            .and_then(|v| presented_key(v, &parts.method));
        let Some(secret) = secret else {
            ctx.failed_attempts.record(ip);
            return Err(ApiError::unauthorized(
                "the Authorization header must be `Bearer <key>`",
            ));
        };
        match api_keys::authenticate(&ctx.db, &secret).await? {
            Some(caller) => Ok(Authenticated(caller)),
            None => {
                ctx.failed_attempts.record(ip);
                tracing::warn!(%ip, "request with an unknown or revoked API key");
                Err(ApiError::unauthorized(
                    "the API key is not valid (unknown or revoked)",
                ))
            }
        }
    }
}

/// The key an Authorization header presents: `Bearer <key>`; on a read (GET, HEAD) also
/// `Basic` with the key as the password (any user name).
fn presented_key(value: &str, method: &Method) -> Option<String> {
    if let Some(key) = value.strip_prefix("Bearer ") {
        return Some(key.trim().to_string());
    }
    let read = *method == Method::GET || *method == Method::HEAD;
    let encoded = value.strip_prefix("Basic ").filter(|_| read)?;
    let decoded = String::from_utf8(BASE64.decode(encoded.trim()).ok()?).ok()?;
    let (_user, key) = decoded.split_once(':')?;
    Some(key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_carries_the_key_as_the_password_on_reads_only() {
        // "viewer:rfd_secret"
        let basic = "Basic dmlld2VyOnJmZF9zZWNyZXQ=";
        assert_eq!(
            presented_key(basic, &Method::GET).as_deref(),
            Some("rfd_secret")
        );
        assert_eq!(presented_key(basic, &Method::POST), None);
        assert_eq!(
            presented_key("Bearer rfd_secret ", &Method::POST).as_deref(),
            Some("rfd_secret")
        );
        assert_eq!(presented_key("Basic !!", &Method::GET), None);
        assert_eq!(presented_key("Token rfd_secret", &Method::GET), None);
    }
}
