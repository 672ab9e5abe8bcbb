//! The registry answers hostile input with 4xx, never 5xx: the same sweep as the booking service
//! (every route, every field, dates of year ±262143, NUL bytes, huge integers and amounts,
//! malformed tokens, a 10 MB body), anonymously and as an administrator.

use booking_service::clock::ManualClock;
use chrono::TimeZone;
use registry::config::RegistryConfig;
use registry::http::{self, RegistryState};
use sqlx::PgPool;
use std::sync::Arc;

#[sqlx::test(migrations = "../migrations")]
async fn hostile_values_in_every_field_of_every_registry_route_get_4xx_never_5xx(pool: PgPool) {
    registry::seed::seed_demo(&pool).await.unwrap();
    let clock = ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap());
    let state = RegistryState::new(pool, RegistryConfig::for_tests(), Arc::new(clock));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { http::run(listener, state, std::future::pending()).await.unwrap() });
    let client = reqwest::Client::new();
    let doc: serde_json::Value = client
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sweep = e2e_tests::hostile::sweep(
        &client,
        &base,
        &doc,
        &[("authorization", "Bearer admin-token".to_string())],
        &[],
    )
    .await;
    assert!(sweep.sent > 100, "only {} requests", sweep.sent);
    assert!(
        sweep.failures.is_empty(),
        "{} of {} answered 5xx:\n{}",
        sweep.failures.len(),
        sweep.sent,
        sweep.failures.join("\n")
    );
}
