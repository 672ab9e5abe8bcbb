//! What `/metrics` reports beyond the answers counted by [`crate::telemetry::track`]: the pool,
//! the outbox's backlog and its oldest age, the ANTS queue, the read model's hit ratio, the
//! limits' refusals, read when scraped.

use super::AppState;
use std::time::Duration;

/// Sets the gauges and counters read at scrape time, then renders everything.
pub async fn scrape(state: &AppState) -> String {
    // A scrape must not wait on a database that is away: the gauges keep their last values.
    let backlog = tokio::time::timeout(
        Duration::from_secs(1),
        crate::db::outbox::backlog(&state.pool, state.clock.now()),
    )
    .await;
    let (hits, misses) = state.read_model.hits_and_misses();
    state.metrics.with(|| {
        metrics::gauge!("db_pool_connections").set(f64::from(state.pool.size()));
        metrics::gauge!("db_pool_idle_connections").set(state.pool.num_idle() as f64);
        metrics::gauge!("db_pool_max_connections").set(f64::from(state.pool.options().get_max_connections()));
        if let Ok(Ok(b)) = backlog {
            metrics::gauge!("outbox_backlog").set(b.messages as f64);
            metrics::gauge!("outbox_oldest_age_seconds").set(b.oldest_message_age_secs);
            metrics::gauge!("ants_queue_backlog").set(b.ants as f64);
            metrics::gauge!("ants_queue_retrying").set(b.ants_retrying as f64);
            metrics::gauge!("ants_queue_oldest_age_seconds").set(b.oldest_ants_age_secs);
        }
        metrics::counter!("read_model_hits_total").absolute(hits);
        metrics::counter!("read_model_misses_total").absolute(misses);
        for limit in [&state.write_limiter, &state.login_limiter] {
            metrics::counter!("rate_limited_total", "scope" => limit.scope()).absolute(limit.refused());
        }
        metrics::counter!("staff_password_checks_total").absolute(crate::staff::accounts::password_checks());
        metrics::counter!("ants_unauthorized_total").absolute(crate::ants::health::refused_token_answers());
    });
    state.metrics.render()
}
