//! Rate limits for the public edge: joins per client address and per venue, and login
//! attempts with a lock-out that backs off. In memory, per instance.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// Past this many tracked keys, idle ones are forgotten, so a flood of addresses cannot grow
/// memory without bound.
pub const MAX_TRACKED_KEYS: usize = 50_000;

/// Failed logins for one e-mail address before it is locked out.
pub const LOGIN_FREE_FAILURES: u32 = 5;
/// First lock-out; each further failure doubles it, up to [`LOGIN_MAX_LOCKOUT`].
pub const LOGIN_FIRST_LOCKOUT: Duration = Duration::from_secs(30);
pub const LOGIN_MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// A token bucket per key: `per_minute` tokens, refilled continuously, burst of `per_minute`.
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one token for `key`; `Err(wait)` says how long until one is free.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let capacity = self.per_minute as f64;
        let per_sec = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_TRACKED_KEYS && !buckets.contains_key(key) {
            // Forget buckets that have refilled: they carry no information.
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_sec < capacity
            });
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_sec).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else if per_sec > 0.0 {
            Err(Duration::from_secs_f64((1.0 - *tokens) / per_sec))
        } else {
            Err(Duration::from_secs(60))
        }
    }
}

/// Failed logins per e-mail address.
#[derive(Default)]
pub struct LoginGuard {
    failures: Mutex<HashMap<String, (u32, Option<Instant>)>>,
}

impl LoginGuard {
    /// `Err(wait)` while the address is locked out.
    pub fn check(&self, email: &str, now: Instant) -> Result<(), Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(email) {
            Some((_, Some(until))) if *until > now => Err(*until - now),
            _ => Ok(()),
        }
    }

    pub fn failed(&self, email: &str, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_TRACKED_KEYS && !failures.contains_key(email) {
            failures.retain(|_, (_, until)| until.is_some_and(|u| u > now));
        }
        let (count, until) = failures.entry(email.to_owned()).or_insert((0, None));
        *count += 1;
        if *count >= LOGIN_FREE_FAILURES {
            let doublings = (*count - LOGIN_FREE_FAILURES).min(10);
            let lock = (LOGIN_FIRST_LOCKOUT * 2u32.pow(doublings)).min(LOGIN_MAX_LOCKOUT);
            *until = Some(now + lock);
        }
    }

    pub fn succeeded(&self, email: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(email);
    }
}

/// The client's address: the TCP peer, or (behind a trusted proxy) the first
/// `X-Forwarded-For` entry.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trust_proxy: bool) -> IpAddr {
    if trust_proxy
        && let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return ip;
    }
    peer.ip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills() {
        let limiter = RateLimiter::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check("a", t0).is_ok());
        }
        let wait = limiter.check("a", t0).unwrap_err();
        assert!(wait <= Duration::from_secs(20) && wait > Duration::from_secs(19));
        assert!(limiter.check("b", t0).is_ok(), "keys are independent");
        assert!(limiter.check("a", t0 + Duration::from_secs(20)).is_ok());
    }

    #[test]
    fn logins_lock_out_after_five_failures_with_growing_waits() {
        let guard = LoginGuard::default();
        let t0 = Instant::now();
        for _ in 0..4 {
            guard.failed("x", t0);
        }
        assert!(guard.check("x", t0).is_ok());
        guard.failed("x", t0);
        assert_eq!(guard.check("x", t0), Err(LOGIN_FIRST_LOCKOUT));
        guard.failed("x", t0);
        assert_eq!(guard.check("x", t0), Err(LOGIN_FIRST_LOCKOUT * 2));
        guard.succeeded("x");
        assert!(guard.check("x", t0).is_ok());
    }
}
