//! Who is calling: the `Authorization` header (`Bearer <key>`, the scheme in any case) resolved
//! to a caller with a role and a merchant scope, and limits on failed attempts.
//!
//! Failures are counted per client address and per presented key (its SHA-256), but a valid
//! key always gets through: someone guessing keys behind the same NAT or proxy never locks out
//! a good key. Over the limit, bad attempts from the address are answered 429 instead of 401,
//! and a key that failed too often is refused without a database lookup (a key that failed
//! cannot become valid: keys are random and revocation is final). The client address is the
//! peer's; behind a trusted proxy (`REFUNDD_TRUSTED_PROXIES`), the right-most address of
//! `X-Forwarded-For` that is not a trusted proxy.
//!
//! Reads (GET) also take the key as the password of HTTP Basic, so a browser can open the
//! dashboard and follow its links; writes never do, so credentials a browser remembers cannot
//! be used to change anything from another site.

use std::collections::HashMap;
use std::hash::Hash;
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

/// Failed attempts allowed per address, and per presented key, per window before bad
/// attempts are answered 429.
const MAX_FAILURES: u32 = 10;
const WINDOW: Duration = Duration::from_secs(60);
/// Entries kept at most per table; beyond it, those whose window has passed are dropped.
const MAX_ENTRIES: usize = 100_000;

/// Failures counted by one key (an address, a key's digest) in fixed windows.
struct Failures<K> {
    inner: Arc<Mutex<HashMap<K, (u32, Instant)>>>,
}

impl<K> Clone for Failures<K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<K> Default for Failures<K> {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
        }
    }
}

impl<K: Hash + Eq> Failures<K> {
    /// Seconds to wait, when `key` is over the limit.
    fn blocked_for(&self, key: &K) -> Option<u64> {
        let map = self.inner.lock().expect("not poisoned");
        let (count, since) = map.get(key)?;
        let elapsed = since.elapsed();
        (*count >= MAX_FAILURES && elapsed < WINDOW).then(|| (WINDOW - elapsed).as_secs().max(1))
    }

    fn record(&self, key: K) {
        let mut map = self.inner.lock().expect("not poisoned");
        let entry = map.entry(key).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        if map.len() > MAX_ENTRIES {
            map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        // Still full inside one window (a flood of made-up keys): keep only what blocks.
        if map.len() > MAX_ENTRIES {
            map.retain(|_, (count, _)| *count >= MAX_FAILURES);
        }
    }
}

/// Failed authentication attempts, by client address and by presented key digest.
#[derive(Clone, Default)]
pub struct FailedAttempts {
    by_address: Failures<IpAddr>,
    by_key: Failures<String>,
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

/// Refuses data of a merchant outside the caller's scope with `not_found`: the very answer an
/// id that does not exist gets (404, never 403), so a key learns nothing of other merchants.
pub fn must_see(
    caller: &Caller,
    merchant: Option<&str>,
    not_found: impl FnOnce() -> ApiError,
) -> Result<(), ApiError> {
    if caller.sees(merchant) {
        Ok(())
    } else {
        Err(not_found())
    }
}

/// The address failures are counted under (see the module's notes on proxies).
pub(crate) fn client_address(parts: &Parts, ctx: &ApiContext) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    ctx.trusted_proxies.client_address(peer, forwarded)
}

impl<S> FromRequestParts<S> for Authenticated
where
    ApiContext: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ctx = ApiContext::from_ref(state);
        let attempts = &ctx.failed_attempts;
        // No header is how a browser first asks (the answer carries the Basic challenge):
        // not counted, never refused as guessing.
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "send your API key as `Authorization: Bearer <key>`",
            ));
        };
        let ip = client_address(parts, &ctx);
        let secret = value
            .to_str()
            .ok()
            .and_then(|v| presented_key(v, &parts.method));
        let Some(secret) = secret else {
            if let Some(wait) = attempts.by_address.blocked_for(&ip) {
                return Err(ApiError::too_many_attempts(wait));
            }
            attempts.by_address.record(ip);
            return Err(ApiError::unauthorized(
                "the Authorization header must be `Bearer <key>`",
            ));
        };
        check_key(&ctx, ip, &secret).await.map(Authenticated)
    }
}

/// The caller holding `secret`, presented from address `ip`, with the failure limits of the
/// module's notes: a key that failed too often, or too many failures from the address, is
/// refused (429) before the database is asked; a failure is counted under both.
pub(crate) async fn check_key(
    ctx: &ApiContext,
    ip: IpAddr,
    secret: &str,
) -> Result<Caller, ApiError> {
    let attempts = &ctx.failed_attempts;
    let digest = api_keys::presented_hash(secret);
    if let Some(wait) = attempts.by_key.blocked_for(&digest) {
        // This very key failed over and over: it is not an active key.
        return Err(ApiError::too_many_attempts(wait));
    }
    if let Some(caller) = api_keys::authenticate(&ctx.db, secret).await? {
        return Ok(caller);
    }
    let blocked = attempts.by_address.blocked_for(&ip);
    attempts.by_address.record(ip);
    attempts.by_key.record(digest);
    tracing::warn!(%ip, "request with an unknown or revoked API key");
    match blocked {
        Some(wait) => Err(ApiError::too_many_attempts(wait)),
        None => Err(ApiError::unauthorized(
            "the API key is not valid (unknown or revoked)",
        )),
    }
}

/// The key an Authorization header presents: `Bearer <key>` (the scheme in any case, RFC
/// 9110); on a read (GET, HEAD) also `Basic` with the key as the password (any user name).
fn presented_key(value: &str, method: &Method) -> Option<String> {
    let (scheme, rest) = value.trim().split_once([' ', '\t'])?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return (!rest.is_empty()).then(|| rest.to_string());
    }
    let read = *method == Method::GET || *method == Method::HEAD;
    if !(read && scheme.eq_ignore_ascii_case("basic")) {
        return None;
    }
    let decoded = String::from_utf8(BASE64.decode(rest).ok()?).ok()?;
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
            presented_key("basic dmlld2VyOnJmZF9zZWNyZXQ=", &Method::GET).as_deref(),
            Some("rfd_secret")
        );
        assert_eq!(
            presented_key("Bearer rfd_secret ", &Method::POST).as_deref(),
            Some("rfd_secret")
        );
        assert_eq!(presented_key("Basic !!", &Method::GET), None);
        assert_eq!(presented_key("Token rfd_secret", &Method::GET), None);
        assert_eq!(presented_key("Bearer", &Method::GET), None);
        assert_eq!(presented_key("Bearer   ", &Method::GET), None);
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for scheme in ["bearer", "BEARER", "BeArEr"] {
            assert_eq!(
                presented_key(&format!("{scheme} rfd_k"), &Method::POST).as_deref(),
                Some("rfd_k"),
                "{scheme}"
            );
        }
        assert_eq!(presented_key("Bearerrfd_k", &Method::GET), None);
    }

    #[test]
    fn failures_block_after_the_limit_and_only_the_counted_key() {
        let f: Failures<IpAddr> = Failures::default();
        let a = IpAddr::from([198, 51, 100, 1]);
        let b = IpAddr::from([198, 51, 100, 2]);
        for _ in 0..MAX_FAILURES - 1 {
            f.record(a);
        }
        assert_eq!(f.blocked_for(&a), None);
        f.record(a);
        assert!(f.blocked_for(&a).is_some_and(|s| (1..=60).contains(&s)));
        assert_eq!(f.blocked_for(&b), None);
    }
}
