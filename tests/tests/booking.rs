//! Holds, confirmations and management links: the rules of a booking, through HTTP.

use e2e_tests::{email, hm, numbers, paris, starts, SiteBuilder, TestApp};
use serde_json::{json, Value};
use sqlx::PgPool;

const WED: &str = "from=2026-12-02&to=2026-12-02";

async fn site_9_to_11(pool: &PgPool) -> uuid::Uuid {
    SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(11, 0))])
        .create(pool)
        .await
        .id
}

async fn outbox_kinds(pool: &PgPool, appointment: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT kind, status FROM outbox WHERE appointment_id = $1::uuid ORDER BY id")
        .bind(appointment)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn wednesday(app: &TestApp, site: uuid::Uuid) -> Vec<String> {
    starts(
        &app.get(&format!("/api/v1/sites/{site}/availability?persons=1&{WED}"))
            .await
            .1,
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn a_multi_person_booking_blocks_exactly_its_slots_and_cancelling_frees_them_at_once(pool: PgPool) {
    let site = site_9_to_11(&pool).await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let (s, family) = app
        .book(
            site,
            3,
            "2026-12-02T09:30:00+01:00",
            "10.0.0.1",
            &email(),
            &numbers(3),
        )
        .await;
    assert_eq!(s, 201, "{family}");
    assert_eq!(family["end"], "2026-12-02T10:15:00+01:00");
    assert_eq!(family["status"], "booked");
    assert!(family["reference"].as_str().unwrap().starts_with("RDV-"));
    let s1 = wednesday(&app, site).await;
    for gone in ["09:30", "09:45", "10:00"] {
        assert!(
            !s1.contains(&format!("2026-12-02T{gone}:00+01:00")),
            "{gone} still offered"
        );
    }
    for kept in ["09:15", "10:15"] {
        assert!(
            s1.contains(&format!("2026-12-02T{kept}:00+01:00")),
            "{kept} missing"
        );
    }
    // Back-to-back appointments on the same (only) station coexist.
    let (s, before) = app
        .book(
            site,
            1,
            "2026-12-02T09:15:00+01:00",
            "10.0.0.2",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201, "{before}");
    let (s, after) = app
        .book(
            site,
            1,
            "2026-12-02T10:15:00+01:00",
            "10.0.0.3",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201, "{after}");
    let token = family["manage_token"].as_str().unwrap();
    let (s, cancelled) = app
        .post(&format!("/api/v1/manage/{token}/cancel"), &Value::Null, "x")
        .await;
    assert_eq!((s, cancelled["status"].as_str()), (200, Some("cancelled")));
    let s2 = wednesday(&app, site).await;
    for back in ["09:30", "09:45", "10:00"] {
        assert!(
            s2.contains(&format!("2026-12-02T{back}:00+01:00")),
            "{back} not freed"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn holds_are_refused_for_starts_availability_would_not_offer(pool: PgPool) {
    let site = SiteBuilder {
        horizon_days: 30,
        release_time: hm(8, 0),
        min_notice_minutes: 150,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(11, 0))])
    .create(&pool)
    .await
    .id;
    let app = TestApp::spawn(pool, paris(2026, 11, 30, 7, 0, 0)).await;
    for (start, why) in [
        ("2026-12-02T09:07:00+01:00", "off the grid"),
        ("2026-12-02T13:00:00+01:00", "outside the opening"),
        (
            "2026-12-02T10:45:00+01:00",
            "would run past closing for 2 persons",
        ),
        ("2026-12-25T09:00:00+01:00", "Christmas"),
        (
            "2026-12-31T09:00:00+01:00",
            "not released yet (30-day horizon, released at 08:00)",
        ),
        ("2026-11-30T08:30:00+01:00", "in the past"),
        ("2026-11-30T09:00:00+01:00", "inside the minimum notice"),
    ] {
        let (s, body) = app.hold(site, "CNI", 2, start, "10.0.1.1").await;
        assert_eq!(s, 422, "{why}: {body}");
        assert_eq!(body["error"]["code"], "slot_not_offered", "{why}");
    }
    let (s, body) = app.hold(site, "CNI", 2, "2026-12-02 09:00", "10.0.1.1").await;
    assert_eq!((s, body["error"]["code"].as_str()), (422, Some("invalid_start")));
    let (s, body) = app
        .hold(site, "CNI", 9, "2026-12-02T09:00:00+01:00", "10.0.1.1")
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("too_many_persons"))
    );
    let (s, body) = app
        .hold(site, "VISA", 1, "2026-12-02T09:00:00+01:00", "10.0.1.1")
        .await;
    assert_eq!((s, body["error"]["code"].as_str()), (400, Some("unknown_motif")));
    // The same instant written with another offset is the same start.
    let (s, body) = app.hold(site, "CNI", 1, "2026-12-02T08:00:00Z", "10.0.1.1").await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["start"], "2026-12-02T09:00:00+01:00");
}

#[sqlx::test(migrations = "../migrations")]
async fn altered_or_expired_hold_tokens_are_refused_and_quotas_hold(pool: PgPool) {
    let site = site_9_to_11(&pool).await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let (s, h1) = app
        .hold(site, "CNI", 1, "2026-12-02T09:00:00+01:00", "10.0.2.1")
        .await;
    assert_eq!(s, 201);
    assert_eq!(h1["reserved"], true);
    let token = h1["hold_id"].as_str().unwrap().to_string();
    // One byte altered anywhere: refused, for confirmation and for release.
    for i in [0, token.len() / 3, token.len() / 2, token.len() - 1] {
        let mut b = token.clone().into_bytes();
        b[i] = if b[i] == b'x' { b'y' } else { b'x' };
        let altered = String::from_utf8(b).unwrap();
        let (s, body) = app.confirm(&altered, &email(), &numbers(1)).await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (400, Some("invalid_hold")),
            "byte {i}"
        );
        assert_eq!(app.delete(&format!("/api/v1/holds/{altered}")).await, 400);
    }
    // The held slot is hidden from others.
    let (_, a) = app.get(&format!("/api/v1/sites/{site}/availability?{WED}")).await;
    assert!(!starts(&a).contains(&"2026-12-02T09:00:00+01:00".to_string()));
    let (s, taken) = app
        .hold(site, "CNI", 1, "2026-12-02T09:00:00+01:00", "10.0.2.9")
        .await;
    assert_eq!(
        (s, taken["error"]["code"].as_str()),
        (409, Some("slot_unavailable"))
    );
    let alternatives: Vec<&str> = taken["error"]["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["start"].as_str().unwrap())
        .collect();
    assert_eq!(alternatives.len(), 5);
    assert!(!alternatives.contains(&"2026-12-02T09:00:00+01:00"));
    // Two holds per client; a third is 429 until one is released.
    let (s, h2) = app
        .hold(site, "CNI", 1, "2026-12-02T09:30:00+01:00", "10.0.2.1")
        .await;
    assert_eq!(s, 201);
    let (s, third) = app
        .hold(site, "CNI", 1, "2026-12-02T10:00:00+01:00", "10.0.2.1")
        .await;
    assert_eq!(
        (s, third["error"]["code"].as_str()),
        (429, Some("too_many_holds"))
    );
    assert_eq!(
        app.delete(&format!("/api/v1/holds/{}", h2["hold_id"].as_str().unwrap()))
            .await,
        204
    );
    let (s, _) = app
        .hold(site, "CNI", 1, "2026-12-02T10:00:00+01:00", "10.0.2.1")
        .await;
    assert_eq!(s, 201);
    // Behind the proxy the client is the last X-Forwarded-For entry (the proxy's own), not the
    // forgeable ones before it: changing the first entry does not buy more holds.
    let h = |start: &'static str, xff: &'static str| {
        let app = &app;
        async move {
            let body = json!({"site_id": site, "motif": "CNI", "persons": 1, "start": start});
            app.post("/api/v1/holds", &body, xff).await.0
        }
    };
    assert_eq!(h("2026-12-02T10:15:00+01:00", "6.6.6.1, 10.0.2.50").await, 201);
    assert_eq!(h("2026-12-02T10:30:00+01:00", "6.6.6.2, 10.0.2.50").await, 201);
    assert_eq!(h("2026-12-02T10:45:00+01:00", "6.6.6.3, 10.0.2.50").await, 429);
    // Released: 09:30 is offered again.
    let (_, a) = app.get(&format!("/api/v1/sites/{site}/availability?{WED}")).await;
    assert!(starts(&a).contains(&"2026-12-02T09:30:00+01:00".to_string()));
    // Past its expiry the token is 410, even though the signature is fine.
    app.clock.advance(chrono::Duration::seconds(601));
    let (s, body) = app.confirm(&token, &email(), &numbers(1)).await;
    assert_eq!((s, body["error"]["code"].as_str()), (410, Some("hold_expired")));
}

#[sqlx::test(migrations = "../migrations")]
async fn confirmation_checks_every_field_and_books_once_per_hold(pool: PgPool) {
    let site = site_9_to_11(&pool).await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let (_, h) = app
        .hold(site, "PASSPORT", 2, "2026-12-02T09:00:00+01:00", "10.0.3.1")
        .await;
    let hold = h["hold_id"].as_str().unwrap();
    let base = json!({"hold_id": hold, "citizen": {"first_name": "Jeanne", "last_name": "Dupont", "email": "jeanne@example.fr"},
                      "pre_demande_numbers": numbers(2)});
    let mut cases: Vec<(Value, u16, &str, &str)> = Vec::new();
    let with = |path: &[&str], v: Value| {
        let mut b = base.clone();
        let mut cur = &mut b;
        for p in &path[..path.len() - 1] {
            cur = &mut cur[*p];
        }
        cur[path[path.len() - 1]] = v;
        b
    };
    cases.push((
        with(&["citizen", "email"], json!("jeanne@")),
        422,
        "invalid_field",
        "citizen.email",
    ));
    cases.push((
        with(&["citizen", "phone"], json!("12")),
        422,
        "invalid_field",
        "citizen.phone",
    ));
    cases.push((
        with(&["citizen", "first_name"], json!("  ")),
        422,
        "invalid_field",
        "citizen.first_name",
    ));
    cases.push((
        with(&["pre_demande_numbers"], json!(["ABCDE12345"])),
        422,
        "pre_demande_count",
        "pre_demande_numbers",
    ));
    cases.push((
        with(&["pre_demande_numbers"], json!(["ABCDE12345", "abc"])),
        422,
        "invalid_field",
        "pre_demande_numbers",
    ));
    cases.push((
        with(&["pre_demande_numbers"], json!(["ABCDE12345", " abcde12345 "])),
        422,
        "pre_demande_duplicate",
        "pre_demande_numbers",
    ));
    cases.push((
        with(&["hold_id"], json!("garbage")),
        400,
        "invalid_hold",
        "hold_id",
    ));
    for (body, status, code, field) in cases {
        let (s, resp) = app.post("/api/v1/appointments", &body, "10.0.3.1").await;
        assert_eq!(
            (s, resp["error"]["code"].as_str(), resp["error"]["field"].as_str()),
            (status, Some(code), Some(field)),
            "{resp}"
        );
    }
    // Not JSON, wrong types, missing fields: 4xx, never 5xx.
    let raw = app
        .client
        .post(format!("{}/api/v1/appointments", app.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let (s, _) = app
        .post("/api/v1/appointments", &json!({"hold_id": hold}), "x")
        .await;
    assert_eq!(s, 422);
    let (s, _) = app
        .post(
            "/api/v1/holds",
            &json!({"site_id": site, "motif": "CNI", "persons": "two", "start": "x"}),
            "x",
        )
        .await;
    assert_eq!(s, 422);
    let (s, _) = app
        .post(
            "/api/v1/holds",
            &json!({"site_id": "nope", "motif": "CNI", "persons": 1, "start": "2026-12-02T09:00:00+01:00"}),
            "x",
        )
        .await;
    assert_eq!(s, 400);
    // Valid: numbers normalized, phone optional and international; then the same hold cannot book twice.
    let good = with(&["pre_demande_numbers"], json!([" abcde12345", "FGHIJ67890 "]));
    let good = with_phone(good, "+41 61 123 45 67");
    let (s, ok) = app.post("/api/v1/appointments", &good, "10.0.3.1").await;
    assert_eq!(s, 201, "{ok}");
    let (s, again) = app.post("/api/v1/appointments", &good, "10.0.3.1").await;
    assert_eq!(
        (s, again["error"]["code"].as_str()),
        (409, Some("hold_already_used"))
    );
    let (s, shown) = app
        .get(&format!(
            "/api/v1/manage/{}",
            ok["manage_token"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(shown["pre_demande_numbers"], json!(["ABCDE12345", "FGHIJ67890"]));
    // The outbox got the confirmation, the reminder and one ANTS declaration per number.
    let kinds = outbox_kinds(&pool, ok["id"].as_str().unwrap()).await;
    let names: Vec<&str> = kinds.iter().map(|k| k.0.as_str()).collect();
    assert_eq!(
        names,
        vec!["confirmation", "reminder", "ants_declare", "ants_declare"]
    );
    // A retrieval needs no number.
    let (_, r) = app
        .hold(site, "RETRIEVAL", 1, "2026-12-02T10:30:00+01:00", "10.0.3.2")
        .await;
    let (s, body) = app.confirm(r["hold_id"].as_str().unwrap(), &email(), &[]).await;
    assert_eq!(s, 201, "{body}");
}

fn with_phone(mut body: Value, phone: &str) -> Value {
    body["citizen"]["phone"] = json!(phone);
    body
}

#[sqlx::test(migrations = "../migrations")]
async fn one_email_address_has_at_most_two_live_appointments_even_when_racing(pool: PgPool) {
    let site = SiteBuilder {
        stations: 2,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(11, 0))])
    .create(&pool)
    .await
    .id;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let mut holds = Vec::new();
    for (i, t) in ["09:00", "09:15", "09:30", "09:45", "10:00"].iter().enumerate() {
        let (s, h) = app
            .hold(
                site,
                "CNI",
                1,
                &format!("2026-12-02T{t}:00+01:00"),
                &format!("10.0.4.{i}"),
            )
            .await;
        assert_eq!(s, 201);
        holds.push(h["hold_id"].as_str().unwrap().to_string());
    }
    let same = "Meme.Personne@Example.fr";
    let app = &app;
    let results = futures::future::join_all(
        holds
            .iter()
            .map(|h| async move { app.confirm(h, same, &numbers(1)).await }),
    )
    .await;
    let ok = results.iter().filter(|r| r.0 == 201).count();
    assert_eq!(ok, 2, "{results:?}");
    assert!(results
        .iter()
        .filter(|r| r.0 != 201)
        .all(|r| r.0 == 409 && r.1["error"]["code"] == "email_limit_reached"));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_management_link_shows_cancels_and_moves_the_same_appointment(pool: PgPool) {
    let site = SiteBuilder {
        stations: 1,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(11, 0))])
    .create(&pool)
    .await
    .id;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let (s, booked) = app
        .book(
            site,
            1,
            "2026-12-02T09:00:00+01:00",
            "10.0.5.1",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201);
    let token = booked["manage_token"].as_str().unwrap();
    assert_eq!(token.len(), 43);
    assert!(booked["manage_url"].as_str().unwrap().ends_with(token));
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT manage_token_hash FROM appointments WHERE id = $1::uuid")
            .bind(booked["id"].as_str().unwrap())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_ne!(stored, token.as_bytes(), "only a hash is stored");
    assert_eq!(stored.len(), 32);
    let (s, shown) = app.get(&format!("/api/v1/manage/{token}")).await;
    assert_eq!((s, shown["can_change"].as_bool()), (200, Some(true)));
    assert_eq!(app.get("/api/v1/manage/short").await.0, 400);
    assert_eq!(
        app.get(&format!("/api/v1/manage/{}", "A".repeat(43))).await.0,
        404
    );
    // Move it to 10:00: same id and link, calendar sequence raised, old slot free.
    let (_, h) = app
        .hold(site, "CNI", 1, "2026-12-02T10:00:00+01:00", "10.0.5.1")
        .await;
    let (s, moved) = app
        .post(
            &format!("/api/v1/manage/{token}/reschedule"),
            &json!({"hold_id": h["hold_id"]}),
            "x",
        )
        .await;
    assert_eq!(s, 200, "{moved}");
    assert_eq!(moved["id"], booked["id"]);
    assert_eq!(moved["start"], "2026-12-02T10:00:00+01:00");
    let seq: i32 = sqlx::query_scalar("SELECT calendar_sequence FROM appointments WHERE id = $1::uuid")
        .bind(booked["id"].as_str().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(seq, 1);
    let (_, a) = app.get(&format!("/api/v1/sites/{site}/availability?{WED}")).await;
    assert!(starts(&a).contains(&"2026-12-02T09:00:00+01:00".to_string()));
    // A move onto a taken slot fails and leaves the appointment untouched.
    let (s, other) = app
        .book(
            site,
            1,
            "2026-12-02T10:30:00+01:00",
            "10.0.5.2",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201, "{other}");
    sqlx::query("UPDATE appointments SET status = 'cancelled' WHERE id = $1::uuid")
        .bind(other["id"].as_str().unwrap())
        .execute(&pool)
        .await
        .unwrap();
    let (_, h2) = app
        .hold(site, "CNI", 1, "2026-12-02T10:30:00+01:00", "10.0.5.3")
        .await;
    sqlx::query("UPDATE appointments SET status = 'booked' WHERE id = $1::uuid")
        .bind(other["id"].as_str().unwrap())
        .execute(&pool)
        .await
        .unwrap();
    let (s, lost) = app
        .post(
            &format!("/api/v1/manage/{token}/reschedule"),
            &json!({"hold_id": h2["hold_id"]}),
            "x",
        )
        .await;
    assert_eq!(
        (s, lost["error"]["code"].as_str()),
        (409, Some("slot_unavailable")),
        "{lost}"
    );
    let (_, still) = app.get(&format!("/api/v1/manage/{token}")).await;
    assert_eq!(still["start"], "2026-12-02T10:00:00+01:00");
    // A move to another motif is refused.
    let (_, h3) = app
        .hold(site, "PASSPORT", 1, "2026-12-02T09:30:00+01:00", "10.0.5.4")
        .await;
    let (s, mismatch) = app
        .post(
            &format!("/api/v1/manage/{token}/reschedule"),
            &json!({"hold_id": h3["hold_id"]}),
            "x",
        )
        .await;
    assert_eq!(
        (s, mismatch["error"]["code"].as_str()),
        (422, Some("hold_mismatch"))
    );
    // Outbox: confirmation, reminder (dropped when moved), declarations withdrawn then re-made.
    let kinds = outbox_kinds(&pool, booked["id"].as_str().unwrap()).await;
    let k: Vec<(&str, &str)> = kinds.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(
        k,
        vec![
            ("confirmation", "pending"),
            ("reminder", "dropped"),
            ("ants_declare", "pending"),
            ("reschedule", "pending"),
            ("ants_delete", "pending"),
            ("reminder", "pending"),
            ("ants_declare", "pending"),
        ]
    );
    // Cancel; cancelling twice is a 409; the link still shows the cancelled appointment.
    let (s, c) = app
        .post(&format!("/api/v1/manage/{token}/cancel"), &Value::Null, "x")
        .await;
    assert_eq!(
        (s, c["status"].as_str(), c["can_change"].as_bool()),
        (200, Some("cancelled"), Some(false))
    );
    let (s, again) = app
        .post(&format!("/api/v1/manage/{token}/cancel"), &Value::Null, "x")
        .await;
    assert_eq!(
        (s, again["error"]["code"].as_str()),
        (409, Some("not_modifiable"))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn online_cancellation_stops_at_the_sites_deadline(pool: PgPool) {
    let site = site_9_to_11(&pool).await;
    // Default policy: 240 minutes before the start.
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let (s, booked) = app
        .book(
            site,
            1,
            "2026-12-02T10:00:00+01:00",
            "10.0.6.1",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201);
    let token = booked["manage_token"].as_str().unwrap();
    app.clock.set(paris(2026, 12, 2, 6, 0, 1));
    let (s, late) = app
        .post(&format!("/api/v1/manage/{token}/cancel"), &Value::Null, "x")
        .await;
    assert_eq!(
        (s, late["error"]["code"].as_str()),
        (409, Some("deadline_passed")),
        "{late}"
    );
    app.clock.set(paris(2026, 12, 2, 6, 0, 0));
    let (s, _) = app
        .post(&format!("/api/v1/manage/{token}/cancel"), &Value::Null, "x")
        .await;
    assert_eq!(s, 200);
}

#[sqlx::test(migrations = "../migrations")]
async fn personal_data_is_purged_after_the_retention_and_live_appointments_are_untouched(pool: PgPool) {
    let site = site_9_to_11(&pool).await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let (s, live) = app
        .book(
            site,
            1,
            "2026-12-02T09:00:00+01:00",
            "10.0.7.1",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201);
    let (s, old) = app
        .book(
            site,
            1,
            "2026-12-02T10:00:00+01:00",
            "10.0.7.2",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201);
    let token = old["manage_token"].as_str().unwrap();
    let (s, _) = app
        .post(&format!("/api/v1/manage/{token}/cancel"), &Value::Null, "x")
        .await;
    assert_eq!(s, 200);
    sqlx::query("UPDATE outbox SET status = 'sent'")
        .execute(&pool)
        .await
        .unwrap();
    // A year and a day later, the cancelled one is anonymised; the live one keeps everything.
    let cutoff = paris(2027, 12, 3, 0, 0, 0) - chrono::Duration::days(365);
    let purged = booking_service::db::retention::purge_before(&pool, cutoff)
        .await
        .unwrap();
    assert_eq!(purged.appointments, 1);
    // The messages (all delivered, created before the cutoff) go too.
    assert!(purged.outbox_rows >= 3, "{purged:?}");
    let (name, email_col, numbers_left): (String, Option<String>, i64) = sqlx::query_as(
        "SELECT last_name, email, (SELECT count(*) FROM appointment_pre_demandes WHERE appointment_id = a.id) FROM appointments a WHERE id = $1::uuid",
    )
    .bind(old["id"].as_str().unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((name.as_str(), email_col, numbers_left), ("anonymisé", None, 0));
    assert_eq!(
        app.get(&format!("/api/v1/manage/{token}")).await.0,
        404,
        "the link no longer leads anywhere"
    );
    let (s, still) = app
        .get(&format!(
            "/api/v1/manage/{}",
            live["manage_token"].as_str().unwrap()
        ))
        .await;
    assert_eq!((s, still["last_name"].as_str()), (200, Some("Test")));
    // Idempotent.
    let again = booking_service::db::retention::purge_before(&pool, cutoff)
        .await
        .unwrap();
    assert_eq!((again.appointments, again.outbox_rows), (0, 0));
}

/// A client whose socket is bound to `addr` (a loopback address of its own).
fn client_from(addr: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(Some(addr.parse().unwrap()))
        .build()
        .unwrap()
}

async fn post_from(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    body: &Value,
    forwarded: Option<&str>,
) -> (u16, Value) {
    let mut req = client.post(format!("{}{path}", app.base)).json(body);
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

#[sqlx::test(migrations = "../migrations")]
async fn without_a_proxy_each_socket_address_is_its_own_client_and_forged_headers_change_nothing(
    pool: PgPool,
) {
    let site = site_9_to_11(&pool).await;
    let app = TestApp::spawn_with(pool, paris(2026, 11, 30, 7, 0, 0), |c| {
        c.trusted_proxies = Default::default();
        c.public_writes_per_minute = 6;
    })
    .await;
    let free = wednesday(&app, site).await;
    let (a, b) = (client_from("127.0.0.2"), client_from("127.0.0.3"));
    let hold = |start: &str| json!({"site_id": site, "motif": "CNI", "persons": 1, "start": start});
    // A holds two slots, then is refused a third: a forged X-Forwarded-For, different each time,
    // does not make it someone else.
    for (i, start) in free.iter().take(2).enumerate() {
        let (s, body) = post_from(
            &app,
            &a,
            "/api/v1/holds",
            &hold(start),
            Some(&format!("203.0.113.{i}")),
        )
        .await;
        assert_eq!(s, 201, "{body}");
    }
    let (s, body) = post_from(&app, &a, "/api/v1/holds", &hold(&free[2]), Some("198.51.100.77")).await;
    assert_eq!((s, body["error"]["code"].as_str()), (429, Some("too_many_holds")));
    // A then spends its write budget (6 a minute; 3 used).
    let mut last = (0, Value::Null);
    for i in 0..4 {
        last = post_from(
            &app,
            &a,
            "/api/v1/holds",
            &hold(&free[3]),
            Some(&format!("192.0.2.{i}")),
        )
        .await;
    }
    assert_eq!(
        (last.0, last.1["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    // B, on another address, still holds and books.
    let (s, held) = post_from(&app, &b, "/api/v1/holds", &hold(&free[4]), None).await;
    assert_eq!(s, 201, "{held}");
    let confirm = json!({
        "hold_id": held["hold_id"],
        "citizen": {"first_name": "Lou", "last_name": "Martin", "email": email()},
        "pre_demande_numbers": numbers(1),
    });
    let (s, booked) = post_from(&app, &b, "/api/v1/appointments", &confirm, None).await;
    assert_eq!(s, 201, "{booked}");
}

#[sqlx::test(migrations = "../migrations")]
async fn behind_a_trusted_proxy_the_rightmost_untrusted_entry_is_the_client(pool: PgPool) {
    let site = site_9_to_11(&pool).await;
    let app = TestApp::spawn_with(pool, paris(2026, 11, 30, 7, 0, 0), |c| {
        // The test's socket (127.0.0.4) is the proxy; 10.0.0.0/8 are inner proxies.
        c.trusted_proxies = booking_service::config::CidrList(vec![
            "127.0.0.4/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ]);
    })
    .await;
    let free = wednesday(&app, site).await;
    let proxy = client_from("127.0.0.4");
    let hold = |start: &str| json!({"site_id": site, "motif": "CNI", "persons": 1, "start": start});
    // The client 203.0.113.9 forges a different leftmost entry each time; the proxies append.
    for (i, start) in free.iter().take(2).enumerate() {
        let chain = format!("6.6.6.{i}, 203.0.113.9, 10.1.2.3");
        let (s, body) = post_from(&app, &proxy, "/api/v1/holds", &hold(start), Some(&chain)).await;
        assert_eq!(s, 201, "{body}");
    }
    let chain = "7.7.7.7, 203.0.113.9, 10.1.2.3";
    let (s, body) = post_from(&app, &proxy, "/api/v1/holds", &hold(&free[2]), Some(chain)).await;
    assert_eq!((s, body["error"]["code"].as_str()), (429, Some("too_many_holds")));
    // Another real client behind the same proxy is someone else.
    let chain = "203.0.113.10, 10.1.2.3";
    let (s, body) = post_from(&app, &proxy, "/api/v1/holds", &hold(&free[2]), Some(chain)).await;
    assert_eq!(s, 201, "{body}");
}

#[sqlx::test(migrations = "../migrations")]
async fn tagged_and_dotted_addresses_are_one_person_and_one_phone_books_once_per_site_and_day(pool: PgPool) {
    let site = SiteBuilder {
        stations: 3,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(11, 0))])
    .create(&pool)
    .await
    .id;
    let app = TestApp::spawn_with(pool, paris(2026, 11, 30, 7, 0, 0), |c| {
        c.max_live_per_site_day = 1;
    })
    .await;
    // One mailbox, two spellings: Wednesday and Thursday are fine, a third day is one too many.
    let book = |start: &'static str, mail: &'static str, client: &'static str| {
        let app = &app;
        async move { app.book(site, 1, start, client, mail, &numbers(1)).await }
    };
    let (s, b) = book(
        "2026-12-02T09:00:00+01:00",
        "Jean.Dupont+rdv@gmail.com",
        "10.7.0.1",
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = book(
        "2026-12-03T09:00:00+01:00",
        "jeandupont+autre@googlemail.com",
        "10.7.0.2",
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = book(
        "2026-12-04T09:00:00+01:00",
        "j.e.a.n.dupont@gmail.com",
        "10.7.0.3",
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("email_limit_reached")),
        "{b}"
    );
    // Every test citizen has the same phone: a second booking that Wednesday at this site is
    // refused even under another address; another site's day is not this one's.
    let (s, b) = book("2026-12-02T10:00:00+01:00", "someone.else@mairie.fr", "10.7.0.4").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("site_day_limit_reached")),
        "{b}"
    );
    let (s, b) = book("2026-12-07T10:00:00+01:00", "someone.else@mairie.fr", "10.7.0.5").await;
    assert_eq!(s, 201, "{b}");
    let keys: Vec<Option<String>> =
        sqlx::query_scalar("SELECT email_key FROM appointments ORDER BY created_at")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert!(
        keys.iter()
            .filter(|k| k.as_deref() == Some("jeandupont@gmail.com"))
            .count()
            == 2,
        "{keys:?}"
    );
}
