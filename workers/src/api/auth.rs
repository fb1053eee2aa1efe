//! Who is calling: the `Authorization: Bearer <key>` header resolved to a caller with a role,
//! and a limit on failed attempts per client address so keys cannot be guessed.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
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
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(secret) = secret else {
            ctx.failed_attempts.record(ip);
            return Err(ApiError::unauthorized(
                "the Authorization header must be `Bearer <key>`",
            ));
        };
        match api_keys::authenticate(&ctx.db, secret).await? {
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
