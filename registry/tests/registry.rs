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
    // Rixheim: état civil all year + inscriptions scolaires from 1 July. The default key counts
    // téléservices offered in the period, as the Annexe says: n = 2 (it was 1.5041 = 1 + 184/365
    // when n_i was prorated by days; that reading is now prorata_temporis=true, tested below).
    assert_eq!(by_key("68278")["n"], 2.0);
    // The split read literally, worked out by hand in allocation/tests.rs.
    for (key, cents) in [
        ("68278", 2_851_987),
        ("68224", 17_892_999),
        ("200066009", 15_719_212),
        ("68154", 1_727_583),
        ("68376", 1_608_219),
    ] {
        assert_eq!(by_key(key)["total_cents"], cents, "{key}");
    }
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
    // The whole key, each choice labelled as the steering committee's with the sentence it reads.
    let period = &body["period"];
    assert_eq!(
        (
            &period["prorata_temporis"],
            &period["combination"],
            &period["epci_population"],
            &period["state_mission_in_epci_n"],
            &period["simulation"]
        ),
        (
            &json!(false),
            &json!("sum"),
            &json!("communes_sum"),
            &json!(false),
            &json!(false)
        )
    );
    let decisions = period["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 7);
    for d in decisions {
        assert_eq!(d["status"], "Décision du comité de pilotage", "{d}");
        assert!(d["interprets"]
            .as_str()
            .unwrap()
            .contains("« en fonction du nombre de téléservices proposés sur la plateforme"));
    }
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
    // The key first (a title, a header and its seven choices, then a blank line), then the
    // table as before: a header, 40 members and the total.
    assert!(rows[0].starts_with(
        "Répartition des coûts du groupement de commandes;Période 2026;du 01/01/2026 au 31/12/2026;"
    ));
    assert!(rows[1].starts_with("Clé de répartition;Valeur;Statut;"));
    assert!(rows[2].starts_with("Prorata temporis;non;Décision du comité de pilotage;"));
    assert!(rows[2..9]
        .iter()
        .all(|r| r.contains(";Décision du comité de pilotage;")));
    assert_eq!(rows[9], "");
    let rows = &rows[10..];
    assert_eq!(rows.len(), 42);
    assert!(rows[0].starts_with("Membre;Code;n_i;Population;"));
    assert!(rows
        .iter()
        .any(|r| r.starts_with("Mulhouse Alsace Agglomération;200066009;")));
    assert!(rows.iter().any(|r| r.starts_with("Rixheim;68278;2,0000;")));
    assert!(rows.iter().any(|r| r.ends_with(";28519,87")));
    assert!(rows.last().unwrap().ends_with(";398000,00"));
    // Bad input.
    assert_eq!(app.get("/api/v1/allocations").await.0, 400);
    assert_eq!(app.get("/api/v1/allocations?period=1999").await.0, 404);
    assert_eq!(app.get("/api/v1/allocations?period=2026&format=xls").await.0, 400);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_what_if_computes_another_key_and_stores_nothing(pool: PgPool) {
    let app = App::spawn(pool.clone()).await;
    let stored = || async {
        sqlx::query_as::<_, (bool, i32, String, bool)>(
            "SELECT prorata_temporis, alpha_permille, combination, closed FROM cost_periods WHERE code = '2026'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let before = stored().await;
    let (s, body) = app
        .get("/api/v1/allocations?period=2026&prorata_temporis=true")
        .await;
    assert_eq!(s, 200, "{body}");
    let lines = body["allocation"]["lines"].as_array().unwrap();
    let by_key = |k: &str| lines.iter().find(|l| l["key"] == k).unwrap();
    // With prorata temporis, worked out by hand in allocation/tests.rs: Rixheim's school module
    // counts 184 of 365 days in its n_i and in its share of that module.
    assert_eq!(by_key("68278")["n"], 1.5041);
    for (key, cents) in [
        ("68278", 2_335_287),
        ("68224", 18_235_032),
        ("200066009", 15_798_957),
        ("68154", 1_767_456),
        ("68376", 1_663_268),
    ] {
        assert_eq!(by_key(key)["total_cents"], cents, "{key}");
    }
    assert_eq!(body["allocation"]["total_cents"], 39_800_000);
    let period = &body["period"];
    assert_eq!(period["simulation"], true);
    assert_eq!(period["prorata_temporis"], true);
    assert_eq!(period["committee_key"]["prorata_temporis"], false);
    let decisions = period["decisions"].as_array().unwrap();
    assert!(decisions[0]["status"]
        .as_str()
        .unwrap()
        .starts_with("Simulation, hors décision du comité de pilotage"));
    assert_eq!(decisions[0]["committee_value"], false);
    assert_eq!(decisions[1]["status"], "Décision du comité de pilotage");
    // Nothing was stored: the period answers with the committee's key again.
    assert_eq!(stored().await, before);
    let (_, again) = app.get("/api/v1/allocations?period=2026").await;
    assert_eq!(again["period"]["simulation"], false);
    assert_eq!(again["period"]["prorata_temporis"], false);
    // Giving the committee's own values is no simulation; an empty value keeps the committee's.
    let (_, same) = app
        .get("/api/v1/allocations?period=2026&alpha_permille=500&combination=&population_field=municipale")
        .await;
    assert_eq!(same["period"]["simulation"], false);
    // Every other choice can be tried, and each moves the split as computed by hand.
    for (query, key, cents) in [
        ("combination=product", "68278", 1_139_085),
        ("epci_population=other_communes", "200066009", 13_564_012),
        ("state_mission_in_epci_n=true", "200066009", 16_430_751),
        ("alpha_permille=0", "200066009", 21_038_425),
    ] {
        let (s, body) = app.get(&format!("/api/v1/allocations?period=2026&{query}")).await;
        assert_eq!(s, 200, "{query}: {body}");
        let line = body["allocation"]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["key"] == key)
            .unwrap()
            .clone();
        assert_eq!(line["total_cents"], cents, "{query}");
        assert_eq!(body["allocation"]["total_cents"], 39_800_000, "{query}");
    }
    let (s, totale) = app
        .get("/api/v1/allocations?period=2026&population_field=totale")
        .await;
    assert_eq!(s, 200);
    let mulhouse = totale["allocation"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == "68224")
        .unwrap()
        .clone();
    assert_eq!(mulhouse["population"], 106_095);
    // The CSV says it is a simulation, before anything else.
    let r = app
        .client
        .get(format!(
            "{}/api/v1/allocations?period=2026&format=csv&prorata_temporis=true",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("simulation-2026.csv"));
    let text = r.text().await.unwrap();
    let rows: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert!(rows[1].starts_with("SIMULATION : clé différente de celle décidée par le comité de pilotage"));
    assert!(rows[3].starts_with(
        "Prorata temporis;oui;Simulation, hors décision du comité de pilotage (décision : non);"
    ));
    assert!(rows.iter().any(|r| r.starts_with("Rixheim;68278;1,5041;")));
    // Bad values: a 4xx naming the field, never a 5xx.
    for (query, status, field) in [
        ("prorata_temporis=peut-etre", 400, "prorata_temporis"),
        ("alpha_permille=1001", 400, "alpha_permille"),
        ("alpha_permille=0.5", 400, "alpha_permille"),
        ("alpha_permille=-1", 400, "alpha_permille"),
        ("combination=mean", 400, "combination"),
        ("epci_population=all", 400, "epci_population"),
        ("state_mission_in_epci_n=1", 400, "state_mission_in_epci_n"),
        ("population_field=legale", 400, "population_field"),
        ("population_source=a%00b", 400, "population_source"),
        ("population_source=insee-1999", 422, "population_source"),
    ] {
        let (s, body) = app.get(&format!("/api/v1/allocations?period=2026&{query}")).await;
        assert_eq!(
            (s, body["error"]["field"].as_str()),
            (status, Some(field)),
            "{query}: {body}"
        );
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    let (_, unknown) = app
        .get("/api/v1/allocations?period=2026&population_source=insee-1999")
        .await;
    assert_eq!(unknown["error"]["known_sources"], json!([registry::seed::SOURCE]));
    // A source on record can be tried: here every member counted twice as many.
    sqlx::query(
        "INSERT INTO member_populations (member_id, source, municipale, totale)
         SELECT member_id, 'double', municipale * 2, totale * 2 FROM member_populations",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (s, double) = app
        .get("/api/v1/allocations?period=2026&population_source=double")
        .await;
    assert_eq!(s, 200, "{double}");
    let rixheim = |b: &Value| {
        b["allocation"]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["key"] == "68278")
            .unwrap()
            .clone()
    };
    // Populations doubled everywhere: the same shares, to the cent.
    assert_eq!(rixheim(&double)["population"], 28_250);
    assert_eq!(rixheim(&double)["total_cents"], 2_851_987);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_closed_period_keeps_its_key_and_costs(pool: PgPool) {
    let app = App::spawn(pool.clone()).await;
    sqlx::query("UPDATE cost_periods SET closed = true WHERE code = '2026'")
        .execute(&pool)
        .await
        .unwrap();
    let (s, body) = app.get("/api/v1/allocations?period=2026").await;
    assert_eq!((s, &body["period"]["closed"]), (200, &json!(true)));
    // A what-if on a closed period is answered and changes nothing.
    let (s, what_if) = app
        .get("/api/v1/allocations?period=2026&prorata_temporis=true")
        .await;
    assert_eq!((s, &what_if["period"]["simulation"]), (200, &json!(true)));
    let (_, again) = app.get("/api/v1/allocations?period=2026").await;
    assert_eq!(again, body);
    // The database refuses to change a closed period's key, its costs, or to reopen it.
    for sql in [
        "UPDATE cost_periods SET prorata_temporis = true WHERE code = '2026'",
        "UPDATE cost_periods SET alpha_permille = 400 WHERE code = '2026'",
        "UPDATE cost_periods SET closed = false WHERE code = '2026'",
        "DELETE FROM period_costs WHERE period_code = '2026'",
        "UPDATE period_costs SET amount_cents = 1 WHERE period_code = '2026'",
        "INSERT INTO period_costs (id, period_code, category, label, amount_cents)
         VALUES (gen_random_uuid(), '2026', 'material', 'Affranchissement', 100)",
    ] {
        assert!(sqlx::query(sql).execute(&pool).await.is_err(), "{sql}");
    }
    let (_, after) = app.get("/api/v1/allocations?period=2026").await;
    assert_eq!(after, body);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_groups_material_costs_are_on_m2as_line(pool: PgPool) {
    let app = App::spawn(pool.clone()).await;
    sqlx::query(
        "INSERT INTO period_costs (id, period_code, category, label, amount_cents)
         VALUES (gen_random_uuid(), '2026', 'material', 'Frais matériels (avis, copies, affranchissement)', 123456)",
    )
    .execute(&pool)
    .await
    .unwrap();
    // A material cost names no téléservice.
    assert!(sqlx::query(
        "INSERT INTO period_costs (id, period_code, category, teleservice_code, label, amount_cents)
         VALUES (gen_random_uuid(), '2026', 'material', 'etat-civil', 'x', 1)"
    )
    .execute(&pool)
    .await
    .is_err());
    let (s, body) = app.get("/api/v1/allocations?period=2026").await;
    assert_eq!(s, 200, "{body}");
    let lines = body["allocation"]["lines"].as_array().unwrap();
    let m2a = lines.iter().find(|l| l["key"] == "200066009").unwrap();
    assert_eq!(m2a["total_cents"], 15_719_212 + 123_456);
    assert!(m2a["parts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["category"] == "material" && p["cents"] == 123_456));
    assert_eq!(body["allocation"]["total_cents"], 39_800_000 + 123_456);
    let text = app
        .client
        .get(format!("{}/api/v1/allocations?period=2026&format=csv", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(";Frais matériels du groupement (art. 3.5);Total HT\r\n"));
    assert!(text.contains("Mulhouse Alsace Agglomération;200066009;2,0000;272950;"));
    assert!(text.contains(";25000,00;1234,56;158426,68\r\n"));
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
    let params: Vec<&str> = doc["paths"]["/api/v1/allocations"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for what_if in [
        "prorata_temporis",
        "alpha_permille",
        "combination",
        "epci_population",
        "state_mission_in_epci_n",
        "population_source",
        "population_field",
    ] {
        assert!(params.contains(&what_if), "{what_if} undocumented");
    }
    assert_eq!(app.get("/healthz").await.0, 200);
    assert_eq!(app.get("/readyz").await.0, 200);
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"),
        "{metrics}"
    );
    let (s, body) = app.get("/api/v1/nope").await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (404, Some("route_not_found"))
    );
}
