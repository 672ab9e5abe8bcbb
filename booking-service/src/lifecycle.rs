//! Periodic work of the service: appointments nobody marked after they ended become `ended`,
//! which frees their pré-demande numbers; erasures waiting for their ANTS withdrawals are finished;
//! once an hour, personal data past its retention is purged (durations in `db::retention`).

use crate::clock::Clock;
use crate::db::appointments::end_past;
use crate::db::citizen_data::finish_erasures;
use crate::db::retention::{purge_before, purge_staff_sessions, SESSION_DAYS};
use chrono::Duration;
use sqlx::PgPool;
use std::sync::Arc;

/// Runs the ending job every `every`, and the retention purge every 60th run, until the process
/// stops. Safe with several replicas: each run is idempotent.
pub fn spawn_ending_job(
    pool: PgPool,
    clock: Arc<dyn Clock>,
    grace: Duration,
    retention: Duration,
    every: std::time::Duration,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut runs: u64 = 0;
        loop {
            tick.tick().await;
            match end_past(&pool, clock.now(), grace).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "past appointments marked ended"),
                Err(e) => tracing::warn!(error = %e, "ending job failed; will retry"),
            }
            match finish_erasures(&pool).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "erasures finished after their ANTS withdrawals"),
                Err(e) => tracing::warn!(error = %e, "finishing erasures failed; will retry"),
            }
            if runs.is_multiple_of(60) {
                match purge_before(&pool, clock.now() - retention).await {
                    Ok(p)
                        if p.appointments
                            + p.outbox_rows
                            + p.ants_declarations
                            + p.audit_rows
                            + p.waitlist_entries
                            > 0 =>
                    {
                        tracing::info!(
                            appointments = p.appointments,
                            outbox = p.outbox_rows,
                            ants_declarations = p.ants_declarations,
                            audit = p.audit_rows,
                            waitlist = p.waitlist_entries,
                            "personal data past retention purged"
                        )
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "retention purge failed; will retry"),
                }
                let sessions_cutoff = clock.now() - Duration::days(SESSION_DAYS);
                match purge_staff_sessions(&pool, sessions_cutoff).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(count = n, "ended staff sessions purged"),
                    Err(e) => tracing::warn!(error = %e, "staff sessions purge failed; will retry"),
                }
            }
            runs += 1;
        }
    });
}
