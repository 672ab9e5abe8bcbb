//! Registry configuration, from the environment with documented defaults.

use booking_service::config::{DbConfig, Secret};
use clap::Args;
use std::net::SocketAddr;

/// Everything `registry serve` needs.
#[derive(Debug, Clone, Args)]
pub struct RegistryConfig {
    /// Database settings (the schema is shared with booking-service).
    #[command(flatten)]
    pub db: DbConfig,
    /// Address and port to listen on.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8081")]
    pub bind_addr: SocketAddr,
    /// Bearer tokens of the platform administrators allowed to write (comma-separated). Unset:
    /// the registry is read-only.
    #[arg(long, env = "REGISTRY_ADMIN_TOKENS")]
    pub admin_tokens: Option<Secret>,
    /// Seconds a request may run before it is answered 503.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 15)]
    pub request_timeout_secs: u64,
    /// Requests served at once; beyond, an immediate 503.
    #[arg(long, env = "MAX_IN_FLIGHT", default_value_t = 128)]
    pub max_in_flight: usize,
    /// Requests one client may send per minute (429 beyond).
    #[arg(long, env = "REGISTRY_REQUESTS_PER_MINUTE", default_value_t = 600)]
    pub requests_per_minute: u32,
    /// Apply pending migrations at start. `false` when the registry runs under its own restricted
    /// role (`rdv_registry`, see migration 0013): the owner role migrates (`booking-service migrate`).
    #[arg(long, env = "REGISTRY_MIGRATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate: bool,
    /// Public URL of the gateway in front of booking-service and the registry (as booking-service's
    /// `PUBLIC_BASE_URL`): under `https://` the pages read the staff session from the
    /// `__Host-rdv_staff` cookie, else from `rdv_staff`.
    #[arg(long, env = "PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,
    /// Proxies whose `X-Forwarded-For` is believed (as booking-service's `TRUSTED_PROXIES`).
    #[arg(long, env = "TRUSTED_PROXIES", value_parser = booking_service::config::parse_cidr_list, default_value = "")]
    pub trusted_proxies: booking_service::config::CidrList,
}

impl RegistryConfig {
    /// A configuration for tests.
    pub fn for_tests() -> Self {
        Self {
            db: DbConfig {
                database_url: "postgres://unused".into(),
                database_max_connections: 16,
            },
            bind_addr: "127.0.0.1:0".parse().expect("literal address"),
            admin_tokens: Some(Secret::new("admin-token")),
            request_timeout_secs: 15,
            max_in_flight: 128,
            migrate: true,
            requests_per_minute: 100_000,
            trusted_proxies: booking_service::config::CidrList::default(),
            public_base_url: None,
        }
    }
}
