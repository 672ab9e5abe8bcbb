//! PostgreSQL access: the pool, migrations, and one module per thing stored.

pub mod agenda;
pub mod ants;
pub mod appointment_history;
pub mod appointments;
pub mod audit;
pub mod calendar;
pub mod calendar_admin;
pub mod citizen_data;
pub mod constraints;
pub mod outbox;
pub mod platform;
pub mod reseal;
pub mod retention;
pub mod seed;
pub mod seed_national;
pub mod site_versions;
pub mod staff;
pub mod staff_admin;
pub mod staff_feed;
pub mod stats;
pub mod territory;
pub mod waitlist;

use crate::config::DbConfig;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::time::Duration;

/// The schema's migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Opens the pool. Connections are made lazily, so a service can start before PostgreSQL.
pub fn pool(config: &DbConfig) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(config.database_max_connections)
        // A request that cannot get a connection soon gets a 503, not a hang.
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy(&config.database_url)?)
}

/// Creates the database named in the URL when it does not exist yet (demo and first start).
pub async fn ensure_database(url: &str) -> anyhow::Result<()> {
    use sqlx::migrate::MigrateDatabase;
    if !sqlx::Postgres::database_exists(url).await? {
        sqlx::Postgres::create_database(url).await?;
        tracing::info!("database created");
    }
    Ok(())
}

/// Applies pending migrations.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// PostgreSQL answers (readiness).
pub async fn ping(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}
