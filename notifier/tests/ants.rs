//! ANTS declarations through the outbox: the right calls, in order, through outages and with two
//! workers; and the reconciliation that repairs what ANTS holds.

use booking_service::clock::ManualClock;
use e2e_tests::ants::{Declaration, FakeAnts, Regularisation};
use e2e_tests::{email, hm, numbers, paris, SiteBuilder, TestApp};
use notifier::ants_worker::{AntsWorker, ReconcileReport};
use notifier::config::NotifierConfig;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::sync::Arc;

fn worker(pool: &PgPool, ants: &FakeAnts, clock: &ManualClock) -> Arc<AntsWorker> {
    worker_with(pool, ants, clock, &ants.token, |_| {})
}

fn worker_with(
    pool: &PgPool,
    ants: &FakeAnts,
    clock: &ManualClock,
    token: &str,
    tweak: impl FnOnce(&mut NotifierConfig),
) -> Arc<AntsWorker> {
    let mut c = NotifierConfig::for_tests("postgres://unused", std::env::temp_dir());
    c.ants_api.ants_api_url = Some(ants.url.clone());
    c.ants_api.ants_api_token = Some(booking_service::config::Secret::new(token));
    tweak(&mut c);
    Arc::new(AntsWorker::new(pool.clone(), c, Arc::new(clock.clone())).expect("configured"))
}

/// The booking service checking numbers with `ants` (with `token`).
async fn app_with_ants(pool: &PgPool, ants: &FakeAnts, token: &str) -> TestApp {
    let (url, token) = (ants.url.clone(), token.to_string());
    TestApp::spawn_with(pool.clone(), paris(2026, 11, 30, 7, 0, 0), |c| {
        c.ants_api.ants_api_url = Some(url);
        c.ants_api.ants_api_token = Some(booking_service::config::Secret::new(token));
    })
    .await
}

/// ANTS rows by status.
async fn ants_rows(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT kind, status FROM outbox WHERE kind IN ('ants_declare', 'ants_delete') ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn failed_rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE status = 'failed'")
        .fetch_one(pool)
        .await
        .unwrap()
}

const HUB_HEADER: &str = "X-HUB-RDV-AUTH-TOKEN";
const HUB_TOKEN: &str = booking_service::config::TEST_HUB_TOKENS[0];

async fn drain(w: &AntsWorker) {
    while w.process_batch().await.unwrap() > 0 {}
}

fn calls_for(ants: &FakeAnts, number: &str) -> Vec<(String, String)> {
    ants.calls()
        .into_iter()
        .filter(|c| c.1 == number)
        .map(|c| (c.0, c.3))
        .collect()
}

fn call(m: &str, date: &str) -> (String, String) {
    (m.to_string(), date.to_string())
}

#[sqlx::test(migrations = "../migrations")]
async fn booking_moving_and_cancelling_declare_then_withdraw_in_order(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let ants = FakeAnts::start().await;
    let w = worker(&pool, &ants, &app.clock);
    let nums = numbers(2);
    let (s, b) = app
        .book(
            site.id,
            2,
            "2026-12-02T09:00:00+01:00",
            "10.6.0.1",
            &email(),
            &nums,
        )
        .await;
    assert_eq!(s, 201, "{b}");
    drain(&w).await;
    for n in &nums {
        assert_eq!(calls_for(&ants, n), vec![call("POST", "2026-12-02 09:00:00")]);
    }
    let held = ants.declarations();
    assert_eq!(held.len(), 2);
    assert!(held
        .iter()
        .all(|d| d.meeting_point_id == site.id.to_string() && d.meeting_point.starts_with("Mairie test")));
    let token = b["manage_token"].as_str().unwrap();
    assert!(held.iter().all(|d| d
        .management_url
        .starts_with(&format!("http://rdv.test/rdv/{token}?application_id="))));
    assert_ne!(
        held[0].management_url, held[1].management_url,
        "unique per number"
    );
    // Move: DELETE the old, then POST the new.
    let (_, h) = app
        .hold(site.id, "CNI", 2, "2026-12-03T10:00:00+01:00", "10.6.0.1")
        .await;
    let (s, _) = app
        .post(
            &format!("/api/v1/manage/{token}/reschedule"),
            &json!({"hold_id": h["hold_id"]}),
            "x",
        )
        .await;
    assert_eq!(s, 200);
    drain(&w).await;
    // A moved appointment keeps its link: ANTS holds the new date under the same management URLs.
    let mut moved = ants.declarations();
    moved.sort_by(|a, b| a.application_id.cmp(&b.application_id));
    let mut before = held.clone();
    before.sort_by(|a, b| a.application_id.cmp(&b.application_id));
    assert_eq!(
        moved.iter().map(|d| &d.management_url).collect::<Vec<_>>(),
        before.iter().map(|d| &d.management_url).collect::<Vec<_>>()
    );
    assert!(moved.iter().all(|d| d.appointment_date == "2026-12-03 10:00:00"));
    // Cancel: DELETE.
    let (s, _) = app
        .post(&format!("/api/v1/manage/{token}/cancel"), &Value::Null, "x")
        .await;
    assert_eq!(s, 200);
    drain(&w).await;
    for n in &nums {
        assert_eq!(
            calls_for(&ants, n),
            vec![
                call("POST", "2026-12-02 09:00:00"),
                call("DELETE", "2026-12-02 09:00:00"),
                call("POST", "2026-12-03 10:00:00"),
                call("DELETE", "2026-12-03 10:00:00")
            ]
        );
    }
    assert!(ants.declarations().is_empty());
    let told: i64 = sqlx::query_scalar("SELECT count(*) FROM ants_declarations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(told, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn ants_down_meanwhile_and_two_workers_still_leave_nothing_declared_after_move_and_cancel(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = opts.max_connections(20).connect_with(connect).await.unwrap();
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let ants = FakeAnts::start().await;
    let (w1, w2) = (worker(&pool, &ants, &app.clock), worker(&pool, &ants, &app.clock));
    let mut all = Vec::new();
    for i in 0..6u32 {
        let nums = numbers(1);
        let start = format!("2026-12-02T{:02}:00:00+01:00", 9 + i / 2);
        let start = if i % 2 == 1 {
            start.replace(":00:00+", ":30:00+")
        } else {
            start
        };
        let (s, b) = app
            .book(site.id, 1, &start, &format!("10.6.1.{i}"), &email(), &nums)
            .await;
        assert_eq!(s, 201, "{b}");
        all.push((nums[0].clone(), b));
    }
    // ANTS goes down: the first declarations fail and are deferred.
    ants.set_down(true);
    drain(&w1).await;
    assert!(ants.calls().is_empty());
    // Meanwhile each citizen moves, then cancels within the same second.
    for (i, (_, b)) in all.iter().enumerate() {
        let token = b["manage_token"].as_str().unwrap();
        let (_, h) = app
            .hold(
                site.id,
                "CNI",
                1,
                &format!("2026-12-04T{:02}:{:02}:00+01:00", 9 + i / 4, (i % 4) * 15),
                &format!("10.6.2.{i}"),
            )
            .await;
        let (s, body) = app
            .post(
                &format!("/api/v1/manage/{token}/reschedule"),
                &json!({"hold_id": h["hold_id"]}),
                "x",
            )
            .await;
        assert_eq!(s, 200, "{body}");
        let (s, _) = app
            .post(&format!("/api/v1/manage/{token}/cancel"), &Value::Null, "x")
            .await;
        assert_eq!(s, 200);
    }
    ants.set_down(false);
    // Two workers drain together, retries coming due as the clock moves.
    for _ in 0..30 {
        app.clock.advance(chrono::Duration::seconds(30));
        let (a, b) = tokio::join!(w1.process_batch(), w2.process_batch());
        if a.unwrap() + b.unwrap() == 0 {
            let pending: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM outbox WHERE status = 'pending' AND kind LIKE 'ants%'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            if pending == 0 {
                break;
            }
        }
    }
    // Every appointment was cancelled before ANTS came back: no declaration may reach it (a POST
    // landing now would block the number nationwide); the DELETEs, idempotent, find nothing.
    for (i, (n, _)) in all.iter().enumerate() {
        let first = if i % 2 == 1 {
            format!("2026-12-02 {:02}:30:00", 9 + i / 2)
        } else {
            format!("2026-12-02 {:02}:00:00", 9 + i / 2)
        };
        let second = format!("2026-12-04 {:02}:{:02}:00", 9 + i / 4, (i % 4) * 15);
        assert_eq!(
            calls_for(&ants, n),
            vec![call("DELETE", &first), call("DELETE", &second)]
        );
    }
    let dropped: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE kind = 'ants_declare' AND status = 'dropped'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(dropped, 12);
    assert!(ants.declarations().is_empty(), "{:?}", ants.declarations());
}

#[sqlx::test(migrations = "../migrations")]
async fn reconciliation_redeclares_withdraws_and_flags_without_cancelling(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let ants = FakeAnts::start().await;
    let w = worker(&pool, &ants, &app.clock);
    let mut booked = Vec::new();
    for (i, t) in ["09:00", "09:30", "10:00"].iter().enumerate() {
        let n = numbers(1);
        let (s, b) = app
            .book(
                site.id,
                1,
                &format!("2026-12-02T{t}:00+01:00"),
                &format!("10.6.3.{i}"),
                &email(),
                &n,
            )
            .await;
        assert_eq!(s, 201);
        booked.push((n[0].clone(), b));
    }
    drain(&w).await;
    assert_eq!(ants.declarations().len(), 3);
    // ANTS lost the first; holds a stale declaration of ours for the second; says the third was used.
    ants.forget(&booked[0].0);
    ants.inject(Declaration {
        application_id: booked[1].0.clone(),
        meeting_point_id: site.id.to_string(),
        meeting_point: "Mairie test".into(),
        appointment_date: "2026-12-01 08:00:00".into(),
        management_url: format!("http://rdv.test/rdv/stale?application_id={}", booked[1].0),
    });
    ants.set_status(&booked[2].0, "consumed");
    let report = w.reconcile().await.unwrap();
    assert_eq!(
        (
            report.checked,
            report.redeclared,
            report.withdrawn,
            report.flagged
        ),
        (3, 1, 1, 1)
    );
    drain(&w).await;
    assert_eq!(
        calls_for(&ants, &booked[0].0).last().unwrap(),
        &call("POST", "2026-12-02 09:00:00")
    );
    assert_eq!(
        calls_for(&ants, &booked[1].0).last().unwrap(),
        &call("DELETE", "2026-12-01 08:00:00")
    );
    let mut held: Vec<String> = ants
        .declarations()
        .into_iter()
        .map(|d| format!("{} {}", d.application_id, d.appointment_date))
        .collect();
    held.sort();
    let mut want = vec![
        format!("{} 2026-12-02 09:00:00", booked[0].0),
        format!("{} 2026-12-02 09:30:00", booked[1].0),
        format!("{} 2026-12-02 10:00:00", booked[2].0),
    ];
    want.sort();
    assert_eq!(held, want);
    // The third is flagged for the staff and the citizen is told, but nothing is cancelled.
    let (check, note): (String, String) =
        sqlx::query_as("SELECT ants_check, ants_note FROM appointment_pre_demandes WHERE number = $1")
            .bind(&booked[2].0)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(check, "flagged");
    assert!(note.contains("a déjà servi"), "{note}");
    let warnings: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE kind = 'ants_warning'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(warnings, 1);
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments WHERE status = 'booked'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(live, 3);
    // A second run finds everything in order and flags nothing twice.
    let again = w.reconcile().await.unwrap();
    assert_eq!((again.redeclared, again.withdrawn, again.flagged), (0, 0, 0));
}

#[sqlx::test(migrations = "../migrations")]
async fn book_declare_and_reconcile_twice_against_the_realistic_server_write_nothing_more(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let ants = FakeAnts::start().await;
    let app = app_with_ants(&pool, &ants, &ants.token).await;
    let w = worker(&pool, &ants, &app.clock);
    let (two, one) = (numbers(2), numbers(1));
    let (s, b) = app
        .book(
            site.id,
            2,
            "2026-12-02T09:00:00+01:00",
            "10.6.4.1",
            &email(),
            &two,
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = app
        .book(
            site.id,
            1,
            "2026-12-02T10:00:00+01:00",
            "10.6.4.2",
            &email(),
            &one,
        )
        .await;
    assert_eq!(s, 201, "{b}");
    drain(&w).await;
    let all = [two, one].concat();
    let held = ants.declarations();
    assert_eq!(held.len(), 3);
    // The hub is answered the very links ANTS holds.
    let q: String = all.iter().map(|n| format!("application_ids={n}&")).collect();
    let found: Value = app
        .client
        .get(format!("{}/api/ants/searchApplicationIds?{q}", app.base))
        .header(HUB_HEADER, HUB_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for d in &held {
        assert_eq!(
            found[&d.application_id][0]["management_url"],
            d.management_url.as_str()
        );
    }
    let writes = ants.calls().len();
    assert_eq!(writes, 3);
    for _ in 0..2 {
        let report = w.reconcile().await.unwrap();
        assert_eq!(
            report,
            ReconcileReport {
                checked: 3,
                ..ReconcileReport::default()
            }
        );
        drain(&w).await;
    }
    assert_eq!(
        ants.calls().len(),
        writes,
        "no extra declaration, no delete: {:?}",
        ants.calls()
    );
    assert_eq!(ants.declarations(), held);
    assert_eq!(
        ants_rows(&pool).await,
        vec![("ants_declare".to_string(), "sent".to_string()); 3]
    );
    assert_eq!(failed_rows(&pool).await, 0);
    // Every status call said which meeting point asks.
    assert!(ants
        .status_calls()
        .iter()
        .all(|c| c.meeting_point_id == Some(site.id.to_string())));
    // The hub's regularisation finds every appointment in ANTS's status and writes nothing.
    let reg = ants.play_hub_search(&app.base, HUB_HEADER, HUB_TOKEN, &all).await;
    assert_eq!(
        reg,
        Regularisation {
            matched: 3,
            posted: 0,
            refused: 0
        }
    );
    assert_eq!(ants.declarations(), held);
    assert_eq!(ants.calls().len(), writes);
}

#[sqlx::test(migrations = "../migrations")]
async fn after_a_site_is_renamed_cancelling_and_reconciling_use_what_ants_stored(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let ants = FakeAnts::start().await;
    let app = app_with_ants(&pool, &ants, &ants.token).await;
    let w = worker(&pool, &ants, &app.clock);
    let (a, b) = (numbers(1), numbers(1));
    let (s, booked_a) = app
        .book(site.id, 1, "2026-12-02T09:00:00+01:00", "10.6.5.1", &email(), &a)
        .await;
    assert_eq!(s, 201);
    let (s, _) = app
        .book(site.id, 1, "2026-12-02T09:30:00+01:00", "10.6.5.2", &email(), &b)
        .await;
    assert_eq!(s, 201);
    drain(&w).await;
    assert_eq!(ants.declarations().len(), 2);
    let renamed = "Mairie annexe du Centre";
    sqlx::query("UPDATE sites SET name = $2 WHERE id = $1")
        .bind(site.id)
        .bind(renamed)
        .execute(&pool)
        .await
        .unwrap();
    // The hub now sees another meeting point name and POSTs its regularisation; ANTS refuses it
    // because it already holds our link for the number: still no second entry.
    let both = [a[0].clone(), b[0].clone()];
    let reg = ants
        .play_hub_search(&app.base, HUB_HEADER, HUB_TOKEN, &both)
        .await;
    assert_eq!(
        reg,
        Regularisation {
            matched: 0,
            posted: 2,
            refused: 2
        }
    );
    assert_eq!(ants.declarations().len(), 2);
    // Cancelling A: the DELETE repeats the name ANTS stored, and ANTS's entry goes.
    let token = booked_a["manage_token"].as_str().unwrap();
    let (s, _) = app
        .post(&format!("/api/v1/manage/{token}/cancel"), &Value::Null, "x")
        .await;
    assert_eq!(s, 200);
    drain(&w).await;
    let held = ants.declarations();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].application_id, b[0]);
    // Reconciliation declares B again under the new name: the old entry withdrawn first.
    let report = w.reconcile().await.unwrap();
    assert_eq!(
        (
            report.checked,
            report.withdrawn,
            report.redeclared,
            report.flagged
        ),
        (1, 1, 1, 0)
    );
    drain(&w).await;
    let held = ants.declarations();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        (held[0].application_id.as_str(), held[0].meeting_point.as_str()),
        (b[0].as_str(), renamed)
    );
    let reg = ants
        .play_hub_search(&app.base, HUB_HEADER, HUB_TOKEN, &both)
        .await;
    assert_eq!(
        reg,
        Regularisation {
            matched: 1,
            ..Regularisation::default()
        }
    );
    let again = w.reconcile().await.unwrap();
    assert_eq!((again.withdrawn, again.redeclared, again.flagged), (0, 0, 0));
    assert_eq!(failed_rows(&pool).await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn declarations_refused_for_the_token_wait_and_go_out_once_it_is_fixed(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let ants = FakeAnts::start().await;
    let app = app_with_ants(&pool, &ants, "jeton-perime").await;
    let n = numbers(1);
    let (s, b) = app
        .book(site.id, 1, "2026-12-02T09:00:00+01:00", "10.6.6.1", &email(), &n)
        .await;
    assert_eq!(s, 201, "{b}");
    let check = || async {
        sqlx::query_scalar::<_, String>("SELECT ants_check FROM appointment_pre_demandes WHERE number = $1")
            .bind(&n[0])
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(check().await, "unchecked");
    // A worker with the wrong token: many attempts, far beyond the limit for an outage, and the
    // declaration still waits (an outage would have failed it for good after two).
    let wrong = worker_with(&pool, &ants, &app.clock, "jeton-perime", |c| {
        c.ants_max_attempts = 2
    });
    for _ in 0..6 {
        app.clock.advance(chrono::Duration::hours(2));
        drain(&wrong).await;
    }
    let (status, attempts, error): (String, i32, String) =
        sqlx::query_as("SELECT status, attempts, last_error FROM outbox WHERE kind = 'ants_declare'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("pending", 6));
    assert!(error.starts_with("ANTS refused our token"), "{error}");
    assert!(!error.contains(&n[0]));
    assert!(ants.calls().is_empty());
    assert!(ants.refused_tokens() >= 6);
    assert!(
        wrong.reconcile().await.is_err(),
        "a reconciliation cannot pass for done"
    );
    assert_eq!(check().await, "unchecked");
    // A worker started with the fixed token sends it at once, without waiting out the backoff.
    let fixed = worker(&pool, &ants, &app.clock);
    assert_eq!(fixed.retry_rows_refused_for_the_token().await.unwrap(), 1);
    drain(&fixed).await;
    assert_eq!(calls_for(&ants, &n[0]), vec![call("POST", "2026-12-02 09:00:00")]);
    assert_eq!(
        ants_rows(&pool).await,
        vec![("ants_declare".to_string(), "sent".to_string())]
    );
    assert_eq!(failed_rows(&pool).await, 0);
    // Reconciliation checks the number booked unchecked: validated now, and recorded as such.
    let report = fixed.reconcile().await.unwrap();
    assert_eq!(
        report,
        ReconcileReport {
            checked: 1,
            confirmed: 1,
            ..ReconcileReport::default()
        }
    );
    assert_eq!(check().await, "validated");
    assert_eq!(fixed.reconcile().await.unwrap().confirmed, 0);
}
