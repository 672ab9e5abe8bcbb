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
        }
    }
}
