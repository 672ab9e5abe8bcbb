//! The registry through HTTP against real PostgreSQL: the demo split, the catalog, orders under the
//! ceiling (also racing), membership.

use booking_service::clock::ManualClock;
use chrono::TimeZone;
use registry::config::RegistryConfig;
use registry::http::{self, RegistryState};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;

struct App {
    base: String,
    client: reqwest::Client,
}

impl App {
    async fn spawn(pool: PgPool) -> Self {
        registry::seed::seed_demo(&pool).await.unwrap();
        let clock = ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap());
        let state = RegistryState::new(pool, RegistryConfig::for_tests(), Arc::new(clock));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { http::run(listener, state, std::future::pending()).await.unwrap() });
        Self {
            base,
            client: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
        let mut req = self.client.post(format!("{}{path}", self.base)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

const ADMIN: Option<&str> = Some("admin-token");

#[sqlx::test(migrations = "../migrations")]
async fn the_demo_period_splits_every_cost_exactly_and_explains_each_line(pool: PgPool) {
    let app = App::spawn(pool).await;
    let (s, body) = app.get("/api/v1/allocations?period=2026").await;
    assert_eq!(s, 200, "{body}");
    let a = &body["allocation"];
    assert_eq!(a["total_cents"], 39_800_000);
    let lines = a["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 40);
    let by_key = |k: &str| lines.iter().find(|l| l["key"] == k).unwrap();
    let sum = |l: &Value, cat: &str| {
        l["parts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["category"] == cat)
            .map(|p| p["cents"].as_i64().unwrap())
            .sum::<i64>()
    };
    // The CNI/passport service: m2A's line and nobody else's.
    let m2a = by_key("200066009");
    assert_eq!(sum(m2a, "state_mission"), 2_500_000);
    assert!(lines
        .iter()
        .filter(|l| l["key"] != "200066009")
        .all(|l| sum(l, "state_mission") == 0));
    // Specific modules stay on Mulhouse's line.
    let mulhouse = by_key("68224");
    assert_eq!(sum(mulhouse, "specific"), 4_900_000);
    // A commune offering nothing but the CNI service pays nothing, and its n is 0.
    let zillisheim = by_key("68384");
    assert_eq!(
        (zillisheim["total_cents"].as_i64(), zillisheim["n"].as_f64()),
        (Some(0), Some(0.0))
    );
    // Rixheim: état civil all year + inscriptions scolaires from 1 July (184/365) = 1.5041.
    assert_eq!(by_key("68278")["n"], 1.5041);
    // Each category adds up exactly.
    for (cat, total) in [
        ("socle", 18_000_000),
        ("hebergement", 4_200_000),
        ("module", 10_200_000),
        ("specific", 4_900_000),
    ] {
        assert_eq!(lines.iter().map(|l| sum(l, cat)).sum::<i64>(), total, "{cat}");
    }
    assert_eq!(body["period"]["alpha_permille"], 500);
    assert_eq!(body["period"]["population_field"], "municipale");
    // CSV for French spreadsheets.
    let r = app
        .client
        .get(format!("{}/api/v1/allocations?period=2026&format=csv", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = r.text().await.unwrap();
    assert!(text.starts_with('\u{feff}'));
    let rows: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(rows.len(), 42);
    assert!(rows[0].starts_with("Membre;Code;n_i;Population;"));
    assert!(rows
        .iter()
        .any(|r| r.starts_with("Mulhouse Alsace Agglomération;200066009;")));
    assert!(rows.iter().any(|r| r.starts_with("Rixheim;68278;1,5041;")));
    assert!(rows.last().unwrap().ends_with(";398000,00"));
    // Bad input.
    assert_eq!(app.get("/api/v1/allocations").await.0, 400);
    assert_eq!(app.get("/api/v1/allocations?period=1999").await.0, 404);
    assert_eq!(app.get("/api/v1/allocations?period=2026&format=xls").await.0, 400);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_catalog_shows_a_commune_what_its_residents_are_offered(pool: PgPool) {
    let app = App::spawn(pool).await;
    let (_, all) = app.get("/api/v1/teleservices").await;
    assert_eq!(all.as_array().unwrap().len(), 9);
    let codes = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t["code"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let (s, rixheim) = app.get("/api/v1/teleservices?commune=68278").await;
    assert_eq!(s, 200);
    assert_eq!(
        codes(&rixheim),
        vec![
            "activites-aquatiques",
            "etat-civil",
            "inscriptions-scolaires",
            "petite-enfance",
            "rdv-cni-passeport"
        ]
    );
    let (_, zillisheim) = app.get("/api/v1/teleservices?commune=68384").await;
    assert_eq!(
        codes(&zillisheim),
        vec!["activites-aquatiques", "petite-enfance", "rdv-cni-passeport"]
    );
    assert_eq!(app.get("/api/v1/teleservices?commune=75056").await.0, 404);
    assert_eq!(app.get("/api/v1/teleservices?commune=abc").await.0, 400);
}

#[sqlx::test(migrations = "../migrations")]
async fn orders_never_pass_the_ceiling_even_when_two_race(pool: PgPool) {
    let app = App::spawn(pool.clone()).await;
    let (_, before) = app.get("/api/v1/orders").await;
    assert_eq!(before["committed_cents"], 9_200_000);
    assert_eq!(before["below_minimum"], true);
    let member: String = sqlx::query_scalar("SELECT id::text FROM registry_members WHERE kind = 'epci'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let order = |cents: i64, date: &str| json!({"member_id": member, "teleservice_code": "etat-civil", "amount_cents": cents, "order_date": date});
    assert_eq!(
        app.post("/api/v1/orders", &order(1000, "2026-12-01"), None)
            .await
            .0,
        401
    );
    assert_eq!(
        app.post("/api/v1/orders", &order(1000, "2026-12-01"), Some("nope"))
            .await
            .0,
        401
    );
    let (s, over) = app
        .post("/api/v1/orders", &order(150_800_001, "2026-12-01"), ADMIN)
        .await;
    assert_eq!(
        (s, over["error"]["code"].as_str()),
        (409, Some("agreement_ceiling")),
        "{over}"
    );
    assert_eq!(over["error"]["remaining_cents"], 150_800_000);
    let (s, outside) = app
        .post("/api/v1/orders", &order(1000, "2029-01-01"), ADMIN)
        .await;
    assert_eq!(
        (s, outside["error"]["code"].as_str()),
        (422, Some("outside_term"))
    );
    let (s, big) = app
        .post("/api/v1/orders", &order(150_000_000, "2026-12-01"), ADMIN)
        .await;
    assert_eq!(s, 201, "{big}");
    // 800,000 cents left; two orders of 500,000 race: exactly one passes.
    let (o1, o2) = (order(500_000, "2026-12-02"), order(500_000, "2026-12-02"));
    let (a, b) = tokio::join!(
        app.post("/api/v1/orders", &o1, ADMIN),
        app.post("/api/v1/orders", &o2, ADMIN)
    );
    let mut got = [a.0, b.0];
    got.sort();
    assert_eq!(got, [201, 409]);
    let (_, after) = app.get("/api/v1/orders").await;
    assert_eq!(after["committed_cents"], 159_700_000);
    assert_eq!(after["remaining_cents"], 300_000);
    // Announced, then issued once.
    let id = big["id"].as_str().unwrap();
    assert_eq!(
        app.post(&format!("/api/v1/orders/{id}/issue"), &Value::Null, ADMIN)
            .await
            .0,
        200
    );
    assert_eq!(
        app.post(&format!("/api/v1/orders/{id}/issue"), &Value::Null, ADMIN)
            .await
            .0,
        409
    );
    assert_eq!(
        app.post("/api/v1/orders/not-an-id/issue", &Value::Null, ADMIN)
            .await
            .0,
        400
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_commune_may_join_at_any_time_but_never_leave(pool: PgPool) {
    sqlx::query("INSERT INTO communes (insee_code, name, search_name, department_code, population) VALUES ('68112', 'Guebwiller', 'guebwiller', '68', 11470)")
        .execute(&pool)
        .await
        .unwrap();
    let app = App::spawn(pool).await;
    let join = json!({"insee_code": "68112", "siren": "216801126", "adhesion_date": "2026-09-01", "deliberation_ref": "DCM 2026-045"});
    assert_eq!(app.post("/api/v1/members", &join, None).await.0, 401);
    assert_eq!(app.post("/api/v1/members", &join, ADMIN).await.0, 201);
    assert_eq!(app.post("/api/v1/members", &join, ADMIN).await.0, 409);
    let (_, members) = app.get("/api/v1/members").await;
    assert_eq!(members.as_array().unwrap().len(), 41);
    let r = app
        .client
        .delete(format!("{}/api/v1/members", app.base))
        .bearer_auth("admin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let bad = json!({"insee_code": "99999", "siren": "123", "adhesion_date": "2026-09-01", "deliberation_ref": "x"});
    assert_eq!(app.post("/api/v1/members", &bad, ADMIN).await.0, 422);
    let (s, doc) = app.get("/openapi.json").await;
    assert_eq!(s, 200);
    for path in [
        "/api/v1/teleservices",
        "/api/v1/members",
        "/api/v1/subscriptions",
        "/api/v1/orders",
        "/api/v1/allocations",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} undocumented");
    }
    assert_eq!(app.get("/healthz").await.0, 200);
    assert_eq!(app.get("/readyz").await.0, 200);
    let (s, body) = app.get("/api/v1/nope").await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (404, Some("route_not_found"))
    );
}
