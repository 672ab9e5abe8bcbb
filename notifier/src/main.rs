//! `notifier run`: send the outbox's emails; `notifier status`: what is pending or failed.

use booking_service::clock::SystemClock;
use booking_service::config::DbConfig;
use clap::{Parser, Subcommand};
use notifier::ants_worker::AntsWorker;
use notifier::config::NotifierConfig;
use notifier::worker::Worker;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "notifier",
    version,
    about = "Envoi des e-mails de rendez-vous (boîte d'envoi)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drain the outbox until SIGTERM or SIGINT.
    Run(Box<NotifierConfig>),
    /// Print the outbox by kind and status, and the rows that failed.
    Status(DbConfig),
    /// Compare our appointments with ANTS's records once, and queue the repairs.
    Reconcile(Box<NotifierConfig>),
    /// Exit 0 when `--url` answers 200 (the container image's health check: it has no shell).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:9102/healthz")]
        url: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Run(cfg) => {
            let cfg = *cfg;
            let pool = booking_service::db::pool(&cfg.db)?;
            booking_service::db::migrate(&pool).await?;
            let mode = if cfg.smtp_url.is_some() {
                "SMTP".to_string()
            } else {
                format!("files in {}", cfg.mail_dir.display())
            };
            tracing::info!(delivery = %mode, "notifier running");
            let clock = Arc::new(SystemClock);
            let telemetry = Arc::new(booking_service::telemetry::Telemetry::default());
            let ants = AntsWorker::new(pool.clone(), cfg.clone(), clock.clone()).map(|mut a| {
                a.telemetry = telemetry.clone();
                Arc::new(a)
            });
            if ants.is_none() {
                tracing::info!("ANTS_API_URL unset: ANTS declarations stay queued");
            }
            let mut worker = Worker::new(pool.clone(), cfg.clone(), clock.clone())?;
            worker.telemetry = telemetry.clone();
            let worker = Arc::new(worker);
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
                let _ = rx.changed().await;
            };
            let listener = tokio::net::TcpListener::bind(cfg.http_addr).await?;
            tracing::info!(addr = %cfg.http_addr, "health and metrics served");
            let ops = notifier::ops::OpsState {
                pool,
                telemetry,
                clock,
            };
            tokio::spawn(notifier::ops::serve(listener, ops, stopped(stop_rx.clone())));
            let emails = worker.run(stopped(stop_rx.clone()));
            let declarations = async {
                if let Some(a) = ants {
                    a.run(stopped(stop_rx.clone())).await;
                }
            };
            let signal = async {
                booking_service::signals::shutdown_signal().await;
                let _ = stop_tx.send(true);
            };
            tokio::join!(emails, declarations, signal);
        }
        Command::Reconcile(cfg) => {
            let cfg = *cfg;
            let pool = booking_service::db::pool(&cfg.db)?;
            let Some(ants) = AntsWorker::new(pool, cfg, Arc::new(SystemClock)) else {
                anyhow::bail!("ANTS_API_URL is not set");
            };
            let report = ants.reconcile().await?;
            println!("{report:?}");
        }
        Command::Healthcheck { url } => booking_service::telemetry::probe(&url).await?,
        Command::Status(db) => {
            let pool = booking_service::db::pool(&db)?;
            let rows: Vec<(String, String, i64)> =
                sqlx::query_as("SELECT kind, status, count(*) FROM outbox GROUP BY 1, 2 ORDER BY 1, 2")
                    .fetch_all(&pool)
                    .await?;
            for (kind, status, n) in rows {
                println!("{kind:<14} {status:<8} {n}");
            }
            let failed: Vec<(i64, String, String)> = sqlx::query_as(
                "SELECT id, kind, format('%s after %s attempts: %s', coalesce(reference, '-'), attempts, last_error)
                 FROM outbox_failures ORDER BY id DESC LIMIT 50",
            )
            .fetch_all(&pool)
            .await?;
            for (id, kind, detail) in failed {
                println!("failed #{id} {kind} {detail}");
            }
        }
    }
    Ok(())
}
