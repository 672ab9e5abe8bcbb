//! The registry's HTTP API: catalog, members, subscriptions, orders, allocations, and ops routes.
//! Paths never collide with booking-service's, so one gateway can front both.

pub mod allocations;
pub mod catalog;
pub mod data_entry;
pub mod members;
pub mod orders;

pub use crate::state::{same_secret, RegistryState};
use crate::web;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Json, Router};
use booking_service::error::ApiError;
use serde_json::json;
use std::future::Future;
use std::sync::OnceLock;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Per-client rate limit (429 with `Retry-After`); the client is the socket's peer, or behind
/// trusted proxies the address they forwarded.
async fn rate_limit(
    State(state): State<RegistryState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let client =
        booking_service::request::client::client_ip(&state.config.trusted_proxies, req.headers(), peer);
    if let Some(ip) = client {
        if state.limiter.check_key(&ip).is_err() {
            return ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Trop de demandes : patientez quelques secondes.",
            )
            .with_retry_after(10)
            .into_response();
        }
    }
    next.run(req).await
}

/// Writes need a platform administrator's bearer token (`REGISTRY_ADMIN_TOKENS`).
pub fn require_admin(state: &RegistryState, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let ok = !given.is_empty()
        && state.config.admin_tokens.as_ref().is_some_and(|t| {
            t.expose()
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .fold(false, |acc, t| acc | same_secret(t, given))
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Réservé à l'administrateur de la plateforme (jeton Bearer).",
        ))
    }
}

#[derive(OpenApi)]
#[openapi(info(
    title = "Registre des téléservices",
    description = "Catalogue, groupement de commandes et répartition des coûts."
))]
struct ApiDoc;

fn api_router() -> OpenApiRouter<RegistryState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(catalog::list_teleservices, catalog::create_teleservice))
        .routes(routes!(catalog::list_subscriptions, catalog::create_subscription))
        .routes(routes!(members::list_members, members::join))
        .routes(routes!(orders::list_orders, orders::announce))
        .routes(routes!(orders::issue))
        .routes(routes!(orders::withdraw))
        .routes(routes!(data_entry::add_populations))
        .routes(routes!(data_entry::list_periods, data_entry::create_period))
        .routes(routes!(data_entry::list_costs, data_entry::add_cost))
        .routes(routes!(web::home))
        .routes(routes!(web::catalog::page, web::catalog::post))
        .routes(routes!(web::offers::page, web::offers::post))
        .routes(routes!(web::data_entry::members_page, web::data_entry::join_post))
        .routes(routes!(web::data_entry::populations_post))
        .routes(routes!(
            web::data_entry::periods_page,
            web::data_entry::periods_post
        ))
        .routes(routes!(web::data_entry::period_page))
        .routes(routes!(web::data_entry::cost_post))
        .routes(routes!(web::orders::page, web::orders::post))
        .routes(routes!(web::orders::issue_post))
        .routes(routes!(web::orders::withdraw_post))
        .routes(routes!(web::allocation::page))
        .routes(routes!(allocations::allocations))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
}

/// The OpenAPI document, built once.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| api_router().split_for_parts().1)
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "ok")))]
async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Ready: 503 without PostgreSQL.
#[utoipa::path(get, path = "/readyz", responses((status = 200, description = "prêt"), (status = 503, description = "base indisponible")))]
async fn readyz(State(state): State<RegistryState>) -> impl IntoResponse {
    let ok = matches!(
        tokio::time::timeout(
            std::time::Duration::from_secs(2),
            sqlx::query("SELECT 1").execute(&state.pool)
        )
        .await,
        Ok(Ok(_))
    );
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(
            json!({"status": if ok { "ready" } else { "unavailable" }, "database": if ok { "ok" } else { "down" }}),
        ),
    )
}

/// Prometheus metrics: answers and their times by route and status.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus", content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<RegistryState>) -> impl IntoResponse {
    state.telemetry.response()
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "OpenAPI", body = Object)))]
async fn openapi_json() -> impl IntoResponse {
    Json(openapi().clone())
}

/// The registry application, with the booking service's protections (panic layer, timeout,
/// load shedding, body limit, security headers) and a per-client rate limit.
pub fn app(state: RegistryState) -> Router {
    let protections = booking_service::app::Hardening {
        timeout: std::time::Duration::from_secs(state.config.request_timeout_secs),
        max_in_flight: state.config.max_in_flight,
        body_limit: 64 * 1024,
        https: false,
    };
    let router = api_router()
        .split_for_parts()
        .0
        .fallback(booking_service::app::not_found)
        .method_not_allowed_fallback(booking_service::app::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.telemetry.clone(),
            booking_service::telemetry::track,
        ));
    booking_service::app::hardened(router, protections)
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(booking_service::app::request_span),
        )
        .with_state(state)
}

/// Serves until `shutdown` resolves.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: RegistryState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    booking_service::app::serve(listener, app(state), shutdown).await
}
