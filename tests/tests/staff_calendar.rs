//! Calendar management by staff: rules validated, closures and rule deletions previewed and never
//! dropping appointments silently, a station breakdown racing citizen bookings, monthly numbers.

use booking_service::staff::{accounts, Role};
use e2e_tests::{
    email, hm, insert_appointment, numbers, overlapping_pairs, paris, SiteBuilder, TestApp, STAFF_PASSWORD,
};
use futures::future::join_all;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

const PASSWORD: &str = STAFF_PASSWORD;

async fn admin_token(app: &TestApp) -> String {
    app.staff_token("chef@rixheim.fr").await
}

async fn call(app: &TestApp, method: &str, path: &str, body: &Value, token: &str) -> (u16, Value) {
    let (s, b) = app.call(method, path, body, Some(token)).await;
    // This file's assertions read a non-JSON answer as `null`.
    (s, if b.is_string() { Value::Null } else { b })
}

#[sqlx::test(migrations = "../migrations")]
async fn a_breakdown_moves_what_fits_cancels_the_rest_and_races_citizens_safely(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = opts.max_connections(20).connect_with(connect).await.unwrap();
    let site = SiteBuilder {
        stations: 2,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(12, 0))])
    .create(&pool)
    .await;
    accounts::create_account(
        &pool,
        "chef@rixheim.fr",
        PASSWORD,
        "Chef",
        Role::CommuneAdmin,
        Some("68278"),
    )
    .await
    .unwrap();
    let (s1, s2) = (site.stations[0], site.stations[1]);
    // Station 1: ten appointments filling Wednesday morning, two of them for two persons (30 min).
    let plan: [(u32, u32, u32); 10] = [
        (9, 0, 15),
        (9, 15, 15),
        (9, 30, 30),
        (10, 0, 15),
        (10, 15, 15),
        (10, 30, 15),
        (10, 45, 30),
        (11, 15, 15),
        (11, 30, 15),
        (11, 45, 15),
    ];
    let mut ids = Vec::new();
    for (h, m, len) in plan {
        let start = paris(2026, 12, 2, h, m, 0);
        let id = insert_appointment(
            &pool,
            site.id,
            s1,
            start,
            start + chrono::Duration::minutes(i64::from(len)),
            "booked",
        )
        .await;
        if len == 30 {
            sqlx::query("UPDATE appointments SET persons = 2 WHERE id = $1")
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
        }
        ids.push(id);
    }
    // Station 2 is busy 09:00–09:45 and 10:45–11:00: it can take 10:00, 10:15, 10:30, 11:15, 11:30, 11:45.
    insert_appointment(
        &pool,
        site.id,
        s2,
        paris(2026, 12, 2, 9, 0, 0),
        paris(2026, 12, 2, 9, 45, 0),
        "booked",
    )
    .await;
    insert_appointment(
        &pool,
        site.id,
        s2,
        paris(2026, 12, 2, 10, 45, 0),
        paris(2026, 12, 2, 11, 0, 0),
        "booked",
    )
    .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let token = admin_token(&app).await;
    // Citizens try to book Wednesday's few free starts on station 2 while the breakdown runs.
    let citizens = join_all((0..12).map(|i| {
        let app = &app;
        let start = ["2026-12-02T09:45:00+01:00", "2026-12-02T11:00:00+01:00"][i % 2];
        async move {
            app.book(site.id, 1, start, &format!("10.31.0.{i}"), &email(), &numbers(1))
                .await
                .0
        }
    }));
    let path = format!("/api/v1/staff/stations/{s1}/breakdown");
    let body = json!({"start": "2026-12-02T08:00:00+01:00", "end": "2026-12-02T13:00:00+01:00", "reason": "Panne du dispositif de recueil"});
    let (statuses, (s, report)) = tokio::join!(citizens, call(&app, "POST", &path, &body, &token));
    assert_eq!(s, 200, "{report}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    let moved: Vec<String> = report["moved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[0].as_str().unwrap().to_string())
        .collect();
    let cancelled: Vec<String> = report["cancelled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(moved.len() + cancelled.len(), 10);
    // Whatever the citizens took first, the four that never fit stay cancelled: 09:00, 09:15, the
    // 09:30 pair (station 2 busy until 09:45) and the 10:45 pair (busy 10:45–11:00): moved whole or not at all.
    for i in [0, 1, 2, 6] {
        assert!(
            cancelled.contains(&ids[i].to_string()),
            "appointment {i} should be cancelled"
        );
    }
    let citizens_won = statuses.iter().filter(|s| **s == 201).count();
    // A citizen booking 09:45 or 11:00 on station 2 never blocks a move (09:45–10:00 and 11:00–11:15
    // are outside every moved range), so all six others moved.
    assert_eq!(moved.len(), 6, "{report}");
    for id in &moved {
        let st: uuid::Uuid = sqlx::query_scalar("SELECT station_id FROM appointments WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(st, s2);
    }
    for id in &cancelled {
        let (status, by, reason): (String, String, String) = sqlx::query_as(
            "SELECT status, cancelled_by, cancel_reason FROM appointments WHERE id = $1::uuid",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(
            (status.as_str(), by.as_str(), reason.as_str()),
            ("cancelled", "staff", "Panne du dispositif de recueil")
        );
        let mails: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE appointment_id = $1::uuid AND kind = 'cancellation'",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(mails, 1);
    }
    // Nothing lives on the broken station any more, and nothing overlaps anywhere.
    let on_broken: i64 =
        sqlx::query_scalar("SELECT count(*) FROM appointments WHERE station_id = $1 AND status = 'booked'")
            .bind(s1)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(on_broken, 0);
    assert_eq!(overlapping_pairs(&pool).await, 0);
    assert!(citizens_won <= 2, "only 09:45 and 11:00 were free: {statuses:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn rules_are_validated_and_changes_are_previewed_before_they_apply(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    accounts::create_account(
        &pool,
        "chef@rixheim.fr",
        PASSWORD,
        "Chef",
        Role::CommuneAdmin,
        Some("68278"),
    )
    .await
    .unwrap();
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let token = admin_token(&app).await;
    let st = site.stations[0];
    let rules = format!("/api/v1/staff/sites/{}/rules", site.id);
    let rule = |wd: i16, a: &str, b: &str| json!({"station_id": st, "weekday": wd, "start_time": a, "end_time": b, "valid_from": "2026-12-01"});
    let (s, b) = call(&app, "POST", &rules, &rule(3, "11:00", "13:00"), &token).await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("overlapping_rule")));
    let (s, b) = call(&app, "POST", &rules, &rule(3, "15:00", "14:00"), &token).await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("invalid_range")));
    let (s, b) = call(&app, "POST", &rules, &rule(6, "09:00", "12:00"), &token).await;
    assert_eq!(s, 201, "{b}");
    // Saturday mornings are now offered.
    let (_, sat) = app
        .get(&format!(
            "/api/v1/sites/{}/availability?from=2026-12-05&to=2026-12-05",
            site.id
        ))
        .await;
    assert_eq!(sat["slots"].as_array().unwrap().len(), 12);
    // A booking on Wednesday; deleting Wednesday's rule would leave it outside any opening.
    let (s, booked) = app
        .book(
            site.id,
            1,
            "2026-12-02T10:00:00+01:00",
            "10.32.0.1",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201);
    let wed: String =
        sqlx::query_scalar("SELECT id::text FROM opening_rules WHERE station_id = $1 AND weekday = 3")
            .bind(st)
            .fetch_one(&pool)
            .await
            .unwrap();
    let (s, preview) = call(
        &app,
        "DELETE",
        &format!("/api/v1/staff/rules/{wed}"),
        &Value::Null,
        &token,
    )
    .await;
    assert_eq!((s, preview["applied"].as_bool()), (200, Some(false)));
    assert_eq!(preview["hits"][0]["id"], booked["id"]);
    let still: i64 = sqlx::query_scalar("SELECT count(*) FROM opening_rules WHERE id = $1::uuid")
        .bind(&wed)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(still, 1, "a preview changes nothing");
    let (s, applied) = call(
        &app,
        "DELETE",
        &format!("/api/v1/staff/rules/{wed}?confirm=true"),
        &Value::Null,
        &token,
    )
    .await;
    assert_eq!(
        (
            s,
            applied["applied"].as_bool(),
            applied["hits"].as_array().unwrap().len()
        ),
        (200, Some(true), 1)
    );
    let status: String = sqlx::query_scalar("SELECT status FROM appointments WHERE id = $1::uuid")
        .bind(booked["id"].as_str().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "booked", "never dropped silently");
    // A closure over Thursday's booking: previewed, then applied; the appointment stays, listed.
    let (_, thu) = app
        .book(
            site.id,
            1,
            "2026-12-03T10:00:00+01:00",
            "10.32.0.2",
            &email(),
            &numbers(1),
        )
        .await;
    let closures = format!("/api/v1/staff/sites/{}/closures", site.id);
    let closure = |confirm: bool| json!({"start": "2026-12-03T08:00:00+01:00", "end": "2026-12-03T13:00:00+01:00", "reason": "Formation", "confirm": confirm});
    let (_, p) = call(&app, "POST", &closures, &closure(false), &token).await;
    assert_eq!(
        (p["applied"].as_bool(), p["hits"][0]["id"].clone()),
        (Some(false), thu["id"].clone())
    );
    let (_, avail) = app
        .get(&format!(
            "/api/v1/sites/{}/availability?from=2026-12-03&to=2026-12-03",
            site.id
        ))
        .await;
    assert!(!avail["slots"].as_array().unwrap().is_empty());
    let (_, a) = call(&app, "POST", &closures, &closure(true), &token).await;
    assert_eq!(a["applied"], true);
    let (_, avail) = app
        .get(&format!(
            "/api/v1/sites/{}/availability?from=2026-12-03&to=2026-12-03",
            site.id
        ))
        .await;
    assert!(
        avail["slots"].as_array().unwrap().is_empty(),
        "closed at once for citizens"
    );
    // Monthly numbers.
    let t = thu["manage_token"].as_str().unwrap();
    let (s, _) = app
        .post(&format!("/api/v1/manage/{t}/cancel"), &Value::Null, "x")
        .await;
    assert_eq!(s, 200);
    let (s, stats) = call(
        &app,
        "GET",
        &format!("/api/v1/staff/sites/{}/stats?month=2026-12", site.id),
        &Value::Null,
        &token,
    )
    .await;
    assert_eq!(s, 200, "{stats}");
    assert_eq!(
        (
            stats["booked"].as_i64(),
            stats["cancelled_by_citizen"].as_i64(),
            stats["no_shows"].as_i64()
        ),
        (Some(2), Some(1), Some(0))
    );
    assert!(stats["mean_lead_days"].as_f64().unwrap() > 2.0);
    let (s, _) = call(
        &app,
        "GET",
        &format!("/api/v1/staff/sites/{}/stats?month=2026-13", site.id),
        &Value::Null,
        &token,
    )
    .await;
    assert_eq!(s, 400);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_breakdown_recorded_late_leaves_past_and_checked_in_appointments_alone(pool: PgPool) {
    let site = SiteBuilder {
        stations: 2,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(12, 0))])
    .create(&pool)
    .await;
    accounts::create_account(
        &pool,
        "chef@rixheim.fr",
        PASSWORD,
        "Chef",
        Role::CommuneAdmin,
        Some("68278"),
    )
    .await
    .unwrap();
    let s1 = site.stations[0];
    let past = insert_appointment(
        &pool,
        site.id,
        s1,
        paris(2026, 12, 2, 9, 0, 0),
        paris(2026, 12, 2, 9, 15, 0),
        "booked",
    )
    .await;
    let here = insert_appointment(
        &pool,
        site.id,
        s1,
        paris(2026, 12, 2, 10, 0, 0),
        paris(2026, 12, 2, 10, 15, 0),
        "checked_in",
    )
    .await;
    let later = insert_appointment(
        &pool,
        site.id,
        s1,
        paris(2026, 12, 2, 11, 0, 0),
        paris(2026, 12, 2, 11, 15, 0),
        "booked",
    )
    .await;
    // It is 10:05; the agent records that the station broke at 08:00.
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 2, 10, 5, 0)).await;
    let token = admin_token(&app).await;
    let body =
        json!({"start": "2026-12-02T08:00:00+01:00", "end": "2026-12-02T13:00:00+01:00", "reason": "Panne"});
    let (s, report) = call(
        &app,
        "POST",
        &format!("/api/v1/staff/stations/{s1}/breakdown"),
        &body,
        &token,
    )
    .await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["moved"].as_array().unwrap().len(), 1);
    assert_eq!(report["moved"][0][0], later.to_string());
    assert!(report["cancelled"].as_array().unwrap().is_empty());
    for (id, want) in [(past, "booked"), (here, "checked_in")] {
        let st: String = sqlx::query_scalar("SELECT status FROM appointments WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(st, want);
    }
}
