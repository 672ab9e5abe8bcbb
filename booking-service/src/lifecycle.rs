//! Periodic work of the service: appointments nobody marked after they ended become `ended`,
//! which frees their pré-demande numbers.

use crate::clock::Clock;
use crate::db::appointments::end_past;
use chrono::Duration;
use sqlx::PgPool;
use std::sync::Arc;

/// Runs the ending job every `every` until the process stops. Safe with several replicas: each
/// run is one idempotent statement.
pub fn spawn_ending_job(pool: PgPool, clock: Arc<dyn Clock>, grace: Duration, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match end_past(&pool, clock.now(), grace).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "past appointments marked ended"),
                Err(e) => tracing::warn!(error = %e, "ending job failed; will retry"),
            }
        }
    });
}
