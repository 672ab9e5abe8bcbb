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

#[sqlx::test(migrations = "../migrations")]
async fn conflicts_are_told_by_the_constraint_that_settled_them(pool: PgPool) {
    booking_service::db::seed::seed_demo(&pool).await.unwrap();
    registry::seed::seed_demo(&pool).await.unwrap();
    let clock = ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap());
    let state = RegistryState::new(pool, RegistryConfig::for_tests(), Arc::new(clock));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { http::run(listener, state, std::future::pending()).await.unwrap() });
    let client = reqwest::Client::new();
    let post = |path: &'static str, body: serde_json::Value| {
        let (client, base) = (&client, &base);
        async move {
            let r = client
                .post(format!("{base}{path}"))
                .bearer_auth("admin-token")
                .json(&body)
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            let b: serde_json::Value = r.json().await.unwrap_or_default();
            (s, b["error"]["code"].as_str().unwrap_or_default().to_string())
        }
    };
    let get = |path: &'static str| {
        let (client, base) = (&client, &base);
        async move {
            client
                .get(format!("{base}{path}"))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let members = get("/api/v1/members").await;
    let member = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["insee_code"].is_string())
        .unwrap()
        .clone();
    let again = serde_json::json!({
        "insee_code": member["insee_code"], "siren": member["siren"],
        "adhesion_date": "2026-01-01", "deliberation_ref": "DCM-2026-01",
    });
    assert_eq!(
        post("/api/v1/members", again).await,
        (409, "already_member".to_string())
    );
    let services = get("/api/v1/teleservices").await;
    let service = services.as_array().unwrap()[0].clone();
    let same_code = serde_json::json!({
        "code": service["code"], "name": "Copie", "owner_id": member["id"], "kind": "specific",
    });
    assert_eq!(
        post("/api/v1/teleservices", same_code).await,
        (409, "code_taken".to_string())
    );
    let no_owner = serde_json::json!({
        "code": "nouveau-service", "name": "Nouveau", "owner_id": uuid::Uuid::new_v4(), "kind": "specific",
    });
    assert_eq!(
        post("/api/v1/teleservices", no_owner).await,
        (422, "unknown_member".to_string())
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_registry_role_reads_the_group_but_no_citizen_nor_staff_data(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET ROLE rdv_registry")
        .execute(&mut *conn)
        .await
        .unwrap();
    for allowed in [
        "registry_members",
        "teleservices",
        "purchase_orders",
        "cost_periods",
        "communes",
    ] {
        sqlx::query(&format!("SELECT count(*) FROM {allowed}"))
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{allowed}: {e}"));
    }
    for forbidden in [
        "appointments",
        "appointment_pre_demandes",
        "staff_accounts",
        "staff_sessions",
        "outbox",
        "audit_log",
    ] {
        let err = sqlx::query(&format!("SELECT count(*) FROM {forbidden}"))
            .execute(&mut *conn)
            .await
            .expect_err(forbidden);
        let code = err
            .as_database_error()
            .and_then(|d| d.code())
            .unwrap_or_default()
            .to_string();
        assert_eq!(code, "42501", "{forbidden}: {err}");
    }
    sqlx::query("RESET ROLE").execute(&mut *conn).await.unwrap();
}
