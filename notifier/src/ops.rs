//! The notifier's operations endpoint: `/healthz` (the process answers), `/readyz` (it can reach
//! PostgreSQL, where its work is), `/metrics` (outcomes by kind and the outbox's backlog), for
//! probes and Prometheus. Served on `NOTIFIER_HTTP_ADDR`, apart from any public traffic.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use booking_service::clock::Clock;
use booking_service::telemetry::Telemetry;
use serde_json::json;
use sqlx::PgPool;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// What the endpoint reads.
#[derive(Clone)]
pub struct OpsState {
    pub pool: PgPool,
    pub telemetry: Arc<Telemetry>,
    pub clock: Arc<dyn Clock>,
}

/// The three routes.
pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(State(state): State<OpsState>) -> Response {
    let db = tokio::time::timeout(Duration::from_secs(2), booking_service::db::ping(&state.pool)).await;
    if matches!(db, Ok(Ok(()))) {
        Json(json!({"status": "ready", "database": "ok"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": "down"})),
        )
            .into_response()
    }
}

async fn metrics(State(state): State<OpsState>) -> Response {
    let backlog = tokio::time::timeout(
        Duration::from_secs(1),
        booking_service::db::outbox::backlog(&state.pool, state.clock.now()),
    )
    .await;
    if let Ok(Ok(b)) = backlog {
        state.telemetry.with(|| {
            metrics::gauge!("outbox_backlog").set(b.messages as f64);
            metrics::gauge!("outbox_oldest_age_seconds").set(b.oldest_message_age_secs);
            metrics::gauge!("ants_queue_backlog").set(b.ants as f64);
            metrics::gauge!("ants_queue_retrying").set(b.ants_retrying as f64);
        });
    }
    state.telemetry.response()
}

/// Serves the endpoint on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: OpsState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
