//! Operations routes: liveness, readiness, metrics and the OpenAPI document.

use super::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

/// Liveness answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process answers.
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness answer.
#[derive(Serialize, ToSchema)]
pub struct Ready {
    /// `ready`, `unavailable`, or `draining` (shutting down: take no new traffic here).
    status: &'static str,
    /// `ok` or `down`.
    database: &'static str,
    /// `ok` or `degraded` (bookings stay exact without Redis).
    redis: &'static str,
    /// What our last calls to the ANTS coordination API showed: `disabled` (not configured),
    /// `unknown` (not called yet), `ok`, `unreachable`, or `unauthorized` (ANTS refuses our token:
    /// fix `ANTS_API_TOKEN`; meanwhile numbers are not checked). Never makes the service unready:
    /// bookings go on and are reconciled later.
    ants: &'static str,
    /// `warming` while every site's calendar is being loaded at start (503: no traffic yet),
    /// then `ready`.
    read_model: &'static str,
}

/// Ready to serve: 503 without PostgreSQL or while the start-up warm-up loads the calendars; 200
/// with `redis: degraded` when only Redis is missing.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, body = Ready), (status = 503, body = Ready)))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let db = tokio::time::timeout(Duration::from_secs(2), crate::db::ping(&state.pool)).await;
    let db_ok = matches!(db, Ok(Ok(_)));
    let redis_ok = state.kv.ping().await;
    let warm = state.read_model.is_warm();
    let draining = state.draining.load(std::sync::atomic::Ordering::Relaxed);
    let body = Ready {
        status: match (draining, db_ok && warm) {
            (true, _) => "draining",
            (false, true) => "ready",
            (false, false) => "unavailable",
        },
        read_model: if warm { "ready" } else { "warming" },
        database: if db_ok { "ok" } else { "down" },
        redis: if redis_ok { "ok" } else { "degraded" },
        ants: state.ants.as_ref().map_or("disabled", |a| a.health().as_str()),
    };
    let status = if db_ok && warm && !draining {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let text = super::metrics::scrape(&state).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> impl IntoResponse {
    Json(super::openapi().clone())
}
