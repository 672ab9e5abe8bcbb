//! What the API and the pages share: the registry's state, and the constant-time comparison of
//! secrets (bearer tokens, CSRF tokens).

use crate::config::RegistryConfig;
use booking_service::clock::Clock;
use sqlx::PgPool;
use std::sync::Arc;

/// Shared state of the registry.
#[derive(Clone)]
pub struct RegistryState {
    /// PostgreSQL (the schema shared with booking-service).
    pub pool: PgPool,
    /// Configuration.
    pub config: Arc<RegistryConfig>,
    /// The clock ("today" for the catalog, timestamps of orders).
    pub clock: Arc<dyn Clock>,
    /// Requests per client address (per process).
    pub limiter: Arc<governor::DefaultKeyedRateLimiter<std::net::IpAddr>>,
    /// Answers counted for `/metrics`.
    pub telemetry: Arc<booking_service::telemetry::Telemetry>,
}

impl RegistryState {
    /// State from its parts.
    pub fn new(pool: PgPool, config: RegistryConfig, clock: Arc<dyn Clock>) -> Self {
        let quota = governor::Quota::per_minute(
            std::num::NonZeroU32::new(config.requests_per_minute.max(1)).expect("at least one"),
        );
        Self {
            pool,
            config: Arc::new(config),
            clock,
            limiter: Arc::new(governor::RateLimiter::keyed(quota)),
            telemetry: Arc::default(),
        }
    }
}

/// Whether two secrets are equal, compared in constant time (a comparison that stops at the first
/// difference would tell, byte by byte, how much of a guess is right).
pub fn same_secret(expected: &str, given: &str) -> bool {
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0
}
