//! `registry`: migrate, seed the demo registry, or serve.

use booking_service::clock::SystemClock;
use booking_service::config::DbConfig;
use clap::{Parser, Subcommand};
use registry::config::RegistryConfig;
use registry::http::{self, RegistryState};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "registry",
    version,
    about = "Registre des téléservices et répartition des coûts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Exit 0 when `--url` answers 200 (the container image's health check: it has no shell).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8081/healthz")]
        url: String,
    },
    /// Create the database if needed and apply pending migrations (shared schema).
    Migrate(DbConfig),
    /// Load the demo catalog, members, subscriptions, orders and the 2026 period (idempotent).
    SeedDemo(DbConfig),
    /// Serve HTTP until SIGTERM or SIGINT.
    Serve(RegistryConfig),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Healthcheck { url } => booking_service::telemetry::probe(&url).await?,
        Command::Migrate(db) => {
            booking_service::db::ensure_database(&db.database_url).await?;
            booking_service::db::migrate(&booking_service::db::pool(&db)?).await?;
        }
        Command::SeedDemo(db) => {
            let pool = booking_service::db::pool(&db)?;
            registry::seed::seed_demo(&pool).await?;
            tracing::info!("demo registry in place");
        }
        Command::Serve(cfg) => {
            let pool = booking_service::db::pool(&cfg.db)?;
            if cfg.migrate {
                booking_service::db::migrate(&pool).await?;
            }
            let listener = tokio::net::TcpListener::bind(cfg.bind_addr).await?;
            tracing::info!(addr = %listener.local_addr()?, "registry serving");
            let state = RegistryState::new(pool, cfg, Arc::new(SystemClock));
            http::run(listener, state, booking_service::signals::shutdown_signal()).await?;
        }
    }
    Ok(())
}
