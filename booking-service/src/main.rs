//! `booking-service`: migrate, seed the demo territory, or serve.

use booking_service::clock::SystemClock;
use booking_service::config::{DbConfig, ServeConfig};
use booking_service::{db, lifecycle};
use clap::{Parser, Subcommand};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "booking-service",
    version,
    about = "Rendez-vous CNI et passeport : service de réservation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Exit 0 when `--url` answers 200 (the container image's health check: it has no shell).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
    },
    /// Create the database if needed and apply pending migrations.
    Migrate(DbConfig),
    /// Load the 39 communes of m2A and equip the demo sites (idempotent).
    SeedDemo(DbConfig),
    /// Load every commune of France and equip a France-size territory (idempotent, deterministic):
    /// for load tests and capacity planning, never in production.
    SeedNational {
        #[command(flatten)]
        db: DbConfig,
        /// Equipped sites (at least one per département).
        #[arg(long, default_value_t = 2_400)]
        sites: usize,
        /// Appointments to pre-book across the territory (written with COPY).
        #[arg(long, default_value_t = 0)]
        appointments: u64,
        /// The seed every choice derives from.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Create a platform administrator; the password is read from standard input.
    CreateAdmin {
        #[command(flatten)]
        db: DbConfig,
        /// The administrator's email address.
        #[arg(long)]
        email: String,
    },
    /// After an `APP_SECRET` rotation: seal every stored management token and feed secret again
    /// under `APP_SECRET`, opening them with `APP_SECRET_PREVIOUS` (idempotent, online).
    Reseal {
        #[command(flatten)]
        db: DbConfig,
        #[arg(long, env = "APP_SECRET", value_parser = booking_service::config::parse_app_secret)]
        app_secret: booking_service::config::Secret,
        #[arg(long, env = "APP_SECRET_PREVIOUS", value_parser = booking_service::config::parse_app_secret)]
        app_secret_previous: booking_service::config::Secret,
    },
    /// Apply pending migrations and serve HTTP until SIGTERM or SIGINT.
    Serve(Box<ServeConfig>),
}

fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Healthcheck { url } => booking_service::telemetry::probe(&url).await?,
        Command::Migrate(cfg) => {
            init_tracing(false);
            db::ensure_database(&cfg.database_url).await?;
            db::migrate(&db::pool(&cfg)?).await?;
            tracing::info!("migrations applied");
        }
        Command::SeedDemo(cfg) => {
            init_tracing(false);
            let report = db::seed::seed_demo(&db::pool(&cfg)?).await?;
            tracing::info!(
                communes = report.communes,
                sites = report.sites,
                "demo data in place"
            );
        }
        Command::SeedNational {
            db,
            sites,
            appointments,
            seed,
        } => {
            init_tracing(false);
            db::ensure_database(&db.database_url).await?;
            let pool = db::pool(&db)?;
            db::migrate(&pool).await?;
            let opts = db::seed_national::NationalOptions {
                sites,
                appointments,
                seed,
            };
            let r = db::seed_national::seed_national(&pool, opts).await?;
            tracing::info!(
                communes = r.communes,
                sites = r.sites,
                stations = r.stations,
                appointments = r.appointments,
                "national territory in place"
            );
        }
        Command::CreateAdmin { db, email } => {
            init_tracing(false);
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            booking_service::staff::accounts::check_password_strength(password)
                .map_err(anyhow::Error::msg)?;
            let pool = db::pool(&db)?;
            db::migrate(&pool).await?;
            let id = booking_service::staff::accounts::create_account(
                &pool,
                &email,
                password,
                "Administrateur",
                booking_service::staff::Role::PlatformAdmin,
                None,
            )
            .await?;
            tracing::info!(%id, "platform administrator created");
        }
        Command::Reseal {
            db,
            app_secret,
            app_secret_previous,
        } => {
            init_tracing(false);
            let ring = booking_service::secrets::KeyRing::derive(
                app_secret.expose(),
                Some(app_secret_previous.expose()),
            );
            let sealer = booking_service::secrets::Sealer::from_ring(&ring);
            let report = db::reseal::reseal_all(&db::pool(&db)?, &sealer).await?;
            println!(
                "resealed {}, already current {}, unreadable under either secret {}",
                report.resealed, report.current, report.unreadable
            );
        }
        Command::Serve(cfg) => {
            let cfg = *cfg;
            init_tracing(cfg.log_format == booking_service::config::LogFormat::Json);
            let pool = db::pool(&cfg.db)?;
            db::migrate(&pool).await?;
            let listener = tokio::net::TcpListener::bind(cfg.bind_addr).await?;
            tracing::info!(addr = %listener.local_addr()?, public = %cfg.public_base_url(), "serving");
            let clock = Arc::new(SystemClock);
            lifecycle::spawn_ending_job(
                pool.clone(),
                clock.clone(),
                chrono::Duration::minutes(cfg.ended_grace_minutes),
                chrono::Duration::days(cfg.retention_days),
                std::time::Duration::from_secs(60),
            );
            let state = booking_service::app::AppState::new(pool, cfg, clock);
            booking_service::app::spawn_limiter_pruning(&state);
            booking_service::app::run(listener, state, booking_service::signals::shutdown_signal()).await?;
        }
    }
    Ok(())
}
