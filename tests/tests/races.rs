//! The races: many clients for one start, Redis losing or missing its keys, one pré-demande number
//! on two sites at once, and moves racing new bookings. The database must always have the last word.

use e2e_tests::{
    email, flush_redis_prefix, hm, numbers, overlapping_pairs, paris, redis_url, OwnRedis, SiteBuilder,
    TestApp, TestSite,
};
use futures::future::join_all;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

const START: &str = "2026-12-02T10:00:00+01:00";

/// Six of these run at once: with each instance's listening connection, 15 keeps them all within
/// PostgreSQL's default 100 connections.
async fn pool_of_15(opts: PgPoolOptions, connect: PgConnectOptions) -> PgPool {
    opts.max_connections(15).connect_with(connect).await.unwrap()
}

async fn three_station_site(pool: &PgPool) -> TestSite {
    SiteBuilder {
        stations: 3,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(12, 0))])
    .create(pool)
    .await
}

/// `n` clients (distinct addresses, from `first`) try to hold START; returns the hold tokens.
async fn hold_wave(
    app: &TestApp,
    site: uuid::Uuid,
    first: usize,
    n: usize,
    statuses: &mut Vec<u16>,
) -> Vec<String> {
    let answers = join_all((first..first + n).map(|i| {
        let client = format!("10.1.{}.{}", i / 250, i % 250);
        async move { app.hold(site, "CNI", 1, START, &client).await }
    }))
    .await;
    let mut tokens = Vec::new();
    for (status, body) in answers {
        statuses.push(status);
        if status == 201 {
            tokens.push(body["hold_id"].as_str().unwrap().to_string());
        } else {
            assert_eq!(status, 409, "{body}");
            assert_eq!(body["error"]["code"], "slot_unavailable");
            assert!(body["error"]["alternatives"].is_array());
        }
    }
    tokens
}

async fn confirm_all(app: &TestApp, tokens: &[String], statuses: &mut Vec<u16>) {
    let answers = join_all(
        tokens
            .iter()
            .map(|t| async move { app.confirm(t, &email(), &numbers(1)).await }),
    )
    .await;
    for (status, body) in answers {
        statuses.push(status);
        assert!(
            status == 201 || (status == 409 && body["error"]["code"] == "slot_unavailable"),
            "{status} {body}"
        );
    }
}

async fn booked_at_start(pool: &PgPool, site: uuid::Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM appointments WHERE site_id = $1 AND status = 'booked' AND lower(during) = $2",
    )
    .bind(site)
    .bind(paris(2026, 12, 2, 10, 0, 0))
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn hundred_clients_racing_for_one_start_on_three_stations_get_three_appointments(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = pool_of_15(opts, connect).await;
    let site = three_station_site(&pool).await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let mut statuses = Vec::new();
    let tokens = hold_wave(&app, site.id, 0, 100, &mut statuses).await;
    assert_eq!(tokens.len(), 3, "Redis reserves one hold per station");
    confirm_all(&app, &tokens, &mut statuses).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 6); // 3 holds + 3 confirmations
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 97);
    assert_eq!(booked_at_start(&pool, site.id).await, 3);
    assert_eq!(overlapping_pairs(&pool).await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn redis_flushed_between_holds_and_confirmations_still_yields_three(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = pool_of_15(opts, connect).await;
    let site = three_station_site(&pool).await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let mut statuses = Vec::new();
    // Each flush makes Redis forget the reservations, so every wave wins three more tokens.
    let mut tokens = Vec::new();
    for wave in 0..4 {
        tokens.extend(hold_wave(&app, site.id, wave * 25, 25, &mut statuses).await);
        flush_redis_prefix(&redis_url(), &app.redis_prefix).await;
    }
    assert_eq!(tokens.len(), 12);
    confirm_all(&app, &tokens, &mut statuses).await;
    assert!(statuses.iter().all(|s| *s < 500));
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 12 + 3);
    assert_eq!(booked_at_start(&pool, site.id).await, 3);
    assert_eq!(overlapping_pairs(&pool).await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn redis_stopped_mid_rush_still_yields_three_and_no_5xx(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = pool_of_15(opts, connect).await;
    let site = three_station_site(&pool).await;
    let mut redis = OwnRedis::start().await;
    let url = redis.url.clone();
    let app = TestApp::spawn_with(pool.clone(), paris(2026, 11, 30, 7, 0, 0), |c| c.redis_url = url).await;
    let mut statuses = Vec::new();
    let mut tokens = hold_wave(&app, site.id, 0, 50, &mut statuses).await;
    assert_eq!(tokens.len(), 3);
    redis.stop();
    // Without Redis every hold is issued (signed, unreserved); the database sorts them out.
    tokens.extend(hold_wave(&app, site.id, 50, 50, &mut statuses).await);
    assert_eq!(tokens.len(), 53);
    let (status, ready) = app.get("/readyz").await;
    assert_eq!((status, ready["redis"].as_str()), (200, Some("degraded")));
    confirm_all(&app, &tokens, &mut statuses).await;
    assert!(statuses.iter().all(|s| *s < 500), "{statuses:?}");
    assert_eq!(booked_at_start(&pool, site.id).await, 3);
    assert_eq!(overlapping_pairs(&pool).await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn one_pre_demande_number_is_never_in_two_live_appointments(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = pool_of_15(opts, connect).await;
    let a = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let b = SiteBuilder {
        insee: "68224",
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(12, 0))])
    .create(&pool)
    .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    for round in 0..8 {
        let number = numbers(1);
        let start = format!("2026-12-02T{:02}:{:02}:00+01:00", 9 + round / 4, (round % 4) * 15);
        let (s1, h1) = app.hold(a.id, "CNI", 1, &start, &format!("10.2.0.{round}")).await;
        let (s2, h2) = app.hold(b.id, "CNI", 1, &start, &format!("10.3.0.{round}")).await;
        assert_eq!((s1, s2), (201, 201));
        let (t1, t2) = (h1["hold_id"].as_str().unwrap(), h2["hold_id"].as_str().unwrap());
        let (e1, e2) = (email(), email());
        let (r1, r2) = tokio::join!(app.confirm(t1, &e1, &number), app.confirm(t2, &e2, &number));
        let mut got = [r1.0, r2.0];
        got.sort();
        assert_eq!(got, [201, 409], "{} {}", r1.1, r2.1);
        let loser = if r1.0 == 409 { &r1.1 } else { &r2.1 };
        assert_eq!(loser["error"]["code"], "pre_demande_in_use");
    }
    let live_dupes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT number FROM appointment_pre_demandes d JOIN appointments ap ON ap.id = d.appointment_id
          WHERE ap.status IN ('booked', 'checked_in') GROUP BY number HAVING count(*) > 1) x",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(live_dupes, 0);
    // Free again after a cancellation, and after the appointment ended.
    let number = numbers(1);
    let (s, first) = app
        .book(
            a.id,
            1,
            "2026-12-03T09:00:00+01:00",
            "10.4.0.1",
            &email(),
            &number,
        )
        .await;
    assert_eq!(s, 201, "{first}");
    let (s, hold_b) = app
        .hold(b.id, "CNI", 1, "2026-12-03T09:00:00+01:00", "10.4.0.2")
        .await;
    assert_eq!(s, 201);
    let hold_b = hold_b["hold_id"].as_str().unwrap();
    let (s, refused) = app.confirm(hold_b, &email(), &number).await;
    assert_eq!(
        (s, refused["error"]["code"].as_str()),
        (409, Some("pre_demande_in_use"))
    );
    let token = first["manage_token"].as_str().unwrap();
    let (s, _) = app
        .post(&format!("/api/v1/manage/{token}/cancel"), &Value::Null, "x")
        .await;
    assert_eq!(s, 200);
    // The same hold, confirmed again once the number is free.
    let (s, second) = app.confirm(hold_b, &email(), &number).await;
    assert_eq!(s, 201, "{second}");
    // The appointment passes unmarked; the job ends it and the number is free once more.
    let n = booking_service::db::appointments::end_past(
        &pool,
        paris(2026, 12, 3, 12, 0, 0),
        chrono::Duration::hours(2),
    )
    .await
    .unwrap();
    assert!(n >= 1);
    let status: String = sqlx::query_scalar("SELECT status FROM appointments WHERE id = $1::uuid")
        .bind(second["id"].as_str().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "ended");
    let (s, third) = app
        .book(
            a.id,
            1,
            "2026-12-04T09:00:00+01:00",
            "10.4.0.4",
            &email(),
            &number,
        )
        .await;
    assert_eq!(s, 201, "{third}");
}

#[sqlx::test(migrations = "../migrations")]
async fn reschedule_races_never_leave_a_citizen_with_zero_or_two_appointments(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = pool_of_15(opts, connect).await;
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let mut moved = 0;
    for round in 0..6u32 {
        // Each citizen owns a morning slot on Wednesday and wants Thursday's slot of the round.
        let own = format!("2026-12-02T{:02}:{:02}:00+01:00", 9 + round / 4, (round % 4) * 15);
        let target = format!("2026-12-03T{:02}:{:02}:00+01:00", 9 + round / 4, (round % 4) * 15);
        let (s, mine) = app
            .book(
                site.id,
                1,
                &own,
                &format!("10.5.0.{round}"),
                &email(),
                &numbers(1),
            )
            .await;
        assert_eq!(s, 201, "{mine}");
        let token = mine["manage_token"].as_str().unwrap().to_string();
        let (s, my_hold) = app
            .hold(site.id, "CNI", 1, &target, &format!("10.5.1.{round}"))
            .await;
        assert_eq!(s, 201);
        // Redis forgets; a stranger holds the same slot; both confirm at once.
        flush_redis_prefix(&redis_url(), &app.redis_prefix).await;
        let (s, their_hold) = app
            .hold(site.id, "CNI", 1, &target, &format!("10.5.2.{round}"))
            .await;
        assert_eq!(s, 201);
        let body = serde_json::json!({"hold_id": my_hold["hold_id"]});
        let path = format!("/api/v1/manage/{token}/reschedule");
        let their = their_hold["hold_id"].as_str().unwrap();
        let nums = numbers(1);
        let stranger_email = email();
        let ((rs, rbody), (cs, cbody)) = tokio::join!(
            app.post(&path, &body, "10.5.3.1"),
            app.confirm(their, &stranger_email, &nums)
        );
        assert!(rs == 200 || rs == 409, "{rs} {rbody}");
        assert!(cs == 201 || cs == 409, "{cs} {cbody}");
        assert_eq!(
            (rs == 200) as u8 + (cs == 201) as u8,
            1,
            "exactly one wins: {rbody} {cbody}"
        );
        // The citizen still has exactly one live appointment, where it should be.
        let (s, now_mine) = app.get(&format!("/api/v1/manage/{token}")).await;
        assert_eq!(s, 200);
        assert_eq!(now_mine["status"], "booked");
        assert_eq!(now_mine["id"], mine["id"]);
        let expected = if rs == 200 { &target } else { &own };
        assert_eq!(now_mine["start"].as_str().unwrap(), expected);
        moved += usize::from(rs == 200);
    }
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments WHERE status = 'booked'")
        .fetch_one(&pool)
        .await
        .unwrap();
    // Six citizens, plus each stranger who won his race.
    assert_eq!(live, 6 + (6 - moved) as i64);
    assert_eq!(overlapping_pairs(&pool).await, 0);
    eprintln!("reschedules won: {moved}/6");
}

/// The Argon2 checks made so far by this process (the `/metrics` counter).
async fn password_checks(app: &TestApp) -> u64 {
    let text = app.get_text("/metrics").await.1;
    text.lines()
        .find_map(|l| l.strip_prefix("staff_password_checks_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("staff_password_checks_total in /metrics")
}

#[sqlx::test(migrations = "../migrations")]
async fn thirty_concurrent_guesses_get_five_passwords_checked(pool: PgPool) {
    booking_service::staff::accounts::create_account(
        &pool,
        "agent@rixheim.fr",
        e2e_tests::STAFF_PASSWORD,
        "Agent",
        booking_service::staff::Role::PlatformAdmin,
        None,
    )
    .await
    .unwrap();
    let app = TestApp::spawn(pool, paris(2026, 11, 30, 7, 0, 0)).await;
    let before = password_checks(&app).await;
    let app = &app;
    let answers = futures::future::join_all((0..30).map(|i| async move {
        app.staff_login("agent@rixheim.fr", &format!("guess number {i}"), "10.40.0.1")
            .await
            .0
    }))
    .await;
    assert!(answers.iter().all(|s| *s == 401), "{answers:?}");
    let checked = password_checks(app).await - before;
    assert_eq!(checked, 5, "only five guesses may reach the password check");
    // The right password from that client is refused for the lock's duration.
    assert_eq!(
        app.staff_login("agent@rixheim.fr", e2e_tests::STAFF_PASSWORD, "10.40.0.1")
            .await
            .0,
        401
    );
}
