//! The read model across instances: two instances of the service over one database and Redis, each
//! serving sites and calendars from memory. A change committed through one (a booking), or by any
//! other path (an operator's SQL changing the hours), disappears from the other's availability and
//! earliest answers within the documented bound (one poll interval, 500 ms, plus a query: under a
//! second), with or without notifications. A negative control (no notifications and no poll)
//! shows the check would see a stale instance.

use e2e_tests::{email, hm, numbers, paris, starts, SiteBuilder, TestApp};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The documented staleness bound: `READ_MODEL_POLL_MS` (500) plus a poll query, under a second.
const BOUND: Duration = Duration::from_secs(1);
/// Wednesday 2 December 2026 (the clock stands on Monday 30 November), 09:00–10:00, one station.
const DAY: &str = "from=2026-12-02&to=2026-12-02";
const NINE: &str = "2026-12-02T09:00:00+01:00";

async fn own_pool(connect: &PgConnectOptions) -> PgPool {
    PgPoolOptions::new()
        .max_connections(5)
        .connect_with(connect.clone())
        .await
        .expect("pool")
}

async fn day_starts(app: &TestApp, site: Uuid) -> Vec<String> {
    let (status, body) = app
        .get(&format!(
            "/api/v1/sites/{site}/availability?motif=CNI&persons=1&{DAY}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    starts(&body)
}

async fn earliest(app: &TestApp) -> Vec<String> {
    let (status, body) = app
        .get("/api/v1/availability/earliest?motif=CNI&persons=1&limit=1")
        .await;
    assert_eq!(status, 200, "{body}");
    starts(&body)
}

/// How long until `gone` holds on `app`, polling every 20 ms, up to `give_up`.
async fn time_until<F, Fut>(give_up: Duration, mut gone: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t = Instant::now();
    while t.elapsed() < give_up {
        if gone().await {
            return Some(t.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// A site and two instances (the second configured by `tweak`), both having read the day once.
async fn setup(
    connect: &PgConnectOptions,
    tweak: impl FnOnce(&mut booking_service::config::ServeConfig) + Send + 'static,
) -> (PgPool, Uuid, TestApp, TestApp) {
    let pool = own_pool(connect).await;
    // Open on Wednesdays only, so that 2 December 09:00 is also the earliest start.
    let site = SiteBuilder {
        rules: vec![(0, 3, hm(9, 0), hm(10, 0))],
        ..SiteBuilder::default()
    }
    .create(&pool)
    .await;
    let now = paris(2026, 11, 30, 7, 0, 0);
    let a = TestApp::spawn(own_pool(connect).await, now).await;
    let prefix = a.redis_prefix.clone();
    let b = TestApp::spawn_with(own_pool(connect).await, now, move |c| {
        c.redis_key_prefix = prefix;
        tweak(c);
    })
    .await;
    for app in [&a, &b] {
        assert_eq!(day_starts(app, site.id).await.len(), 4);
        assert_eq!(earliest(app).await, vec![NINE.to_string()]);
    }
    (pool, site.id, a, b)
}

/// Books 09:00 through `a`, then measures how long `b` still offers it (day and earliest).
async fn booking_seen_by_other(a: &TestApp, b: &TestApp, site: Uuid) -> Option<Duration> {
    let (status, body) = a.book(site, 1, NINE, "10.9.0.1", &email(), &numbers(1)).await;
    assert_eq!(status, 201, "{body}");
    time_until(BOUND * 3, || async {
        !day_starts(b, site).await.contains(&NINE.to_string()) && earliest(b).await != vec![NINE.to_string()]
    })
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn a_booking_on_one_instance_leaves_the_others_answers_within_the_bound(
    _opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let (_pool, site, a, b) = setup(&connect, |_| {}).await;
    let seen = booking_seen_by_other(&a, &b, site).await;
    assert!(
        seen.is_some_and(|d| d <= BOUND),
        "the other instance still offered the booked slot after {seen:?}"
    );
    // The earliest is now the next start, on both.
    for app in [&a, &b] {
        assert_eq!(earliest(app).await, vec!["2026-12-02T09:15:00+01:00".to_string()]);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_rule_changed_by_any_path_reaches_every_instance_within_the_bound(
    _opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let (pool, site, a, b) = setup(&connect, |_| {}).await;
    // An operator closes Wednesdays in SQL: no service code ran, the triggers announce it.
    sqlx::query(
        "DELETE FROM opening_rules r USING stations st
         WHERE st.id = r.station_id AND st.site_id = $1 AND r.weekday = 3",
    )
    .bind(site)
    .execute(&pool)
    .await
    .expect("delete rules");
    for app in [&a, &b] {
        let seen = time_until(BOUND * 3, || async { day_starts(app, site).await.is_empty() }).await;
        assert!(
            seen.is_some_and(|d| d <= BOUND),
            "an instance still offered Wednesday after {seen:?}"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_instance_that_hears_nothing_recovers_by_its_version_poll(
    _opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    // B never listens: it misses every notification, and only its poll of the versions remains.
    let (_pool, site, a, b) = setup(&connect, |c| c.read_model_listen = false).await;
    let seen = booking_seen_by_other(&a, &b, site).await;
    assert!(
        seen.is_some_and(|d| d <= BOUND),
        "the deaf instance still offered the booked slot after {seen:?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_instance_whose_listening_connection_is_killed_recovers(
    _opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let (pool, site, a, b) = setup(&connect, |_| {}).await;
    // Kill every listening backend of this database (both instances'), as a failover would.
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_one(&pool)
    .await
    .expect("terminate");
    assert!(killed >= 2, "the listeners were not found ({killed})");
    let seen = booking_seen_by_other(&a, &b, site).await;
    assert!(
        seen.is_some_and(|d| d <= BOUND),
        "after its listener was killed, the instance offered the booked slot for {seen:?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn control_without_notifications_or_poll_the_other_instance_stays_stale(
    _opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    // What the bound protects against: an instance told nothing serves its memory.
    let (_pool, site, a, b) = setup(&connect, |c| {
        c.read_model_listen = false;
        c.read_model_poll_ms = 0;
    })
    .await;
    let seen = booking_seen_by_other(&a, &b, site).await;
    assert_eq!(seen, None, "without announcements, the slot should still show");
}

/// Deletes the site's opening rules behind the read model's back (triggers off: no version moves),
/// so only a calendar already in memory still shows the hours.
async fn delete_hours_unannounced(pool: &PgPool, site: Uuid) {
    let mut tx = pool.begin().await.expect("tx");
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .expect("replica role");
    sqlx::query(
        "DELETE FROM opening_rules r USING stations st WHERE st.id = r.station_id AND st.site_id = $1",
    )
    .bind(site)
    .execute(&mut *tx)
    .await
    .expect("delete rules");
    tx.commit().await.expect("commit");
}

async fn warm_instance(connect: &PgConnectOptions, warm: bool) -> (PgPool, Uuid, TestApp) {
    let pool = own_pool(connect).await;
    let site = SiteBuilder {
        rules: vec![(0, 3, hm(9, 0), hm(10, 0))],
        ..SiteBuilder::default()
    }
    .create(&pool)
    .await;
    let app = TestApp::spawn_with(own_pool(connect).await, paris(2026, 11, 30, 7, 0, 0), move |c| {
        c.read_model_warm = warm;
    })
    .await;
    let t = Instant::now();
    loop {
        let (status, body) = app.get("/readyz").await;
        if status == 200 {
            assert_eq!(body["read_model"], "ready", "{body}");
            break;
        }
        assert_eq!(body["read_model"], "warming", "{body}");
        assert!(t.elapsed() < Duration::from_secs(10), "never ready: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (pool, site.id, app)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_starting_instance_is_ready_once_every_calendar_is_in_memory(
    _opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let (pool, site, app) = warm_instance(&connect, true).await;
    delete_hours_unannounced(&pool, site).await;
    // Never asked before, yet served from memory: the warm-up loaded it.
    assert_eq!(day_starts(&app, site).await.len(), 4);
}

#[sqlx::test(migrations = "../migrations")]
async fn control_without_the_warm_up_the_first_read_goes_to_the_database(
    _opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let (pool, site, app) = warm_instance(&connect, false).await;
    delete_hours_unannounced(&pool, site).await;
    assert!(day_starts(&app, site).await.is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn an_appointment_moved_to_another_site_frees_the_first_on_every_instance(
    _opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = own_pool(&connect).await;
    let mut sites = Vec::new();
    for _ in 0..2 {
        let s = SiteBuilder {
            rules: vec![(0, 3, hm(9, 0), hm(10, 0))],
            ..SiteBuilder::default()
        }
        .create(&pool)
        .await;
        sites.push(s.id);
    }
    let now = paris(2026, 11, 30, 7, 0, 0);
    let a = TestApp::spawn(own_pool(&connect).await, now).await;
    let prefix = a.redis_prefix.clone();
    let b = TestApp::spawn_with(own_pool(&connect).await, now, move |c| {
        c.redis_key_prefix = prefix
    })
    .await;
    let (status, booked) = a.book(sites[0], 1, NINE, "10.9.0.1", &email(), &numbers(1)).await;
    assert_eq!(status, 201, "{booked}");
    let gone = time_until(BOUND * 3, || async {
        !day_starts(&b, sites[0]).await.contains(&NINE.to_string())
    })
    .await;
    assert!(gone.is_some(), "B never saw the booking");
    // Moved through A to the other site, same time: the first site's 09:00 is free again on B.
    let (status, hold) = a.hold(sites[1], "CNI", 1, NINE, "10.9.0.1").await;
    assert_eq!(status, 201, "{hold}");
    let token = booked["manage_token"].as_str().unwrap();
    let (status, body) = a
        .post(
            &format!("/api/v1/manage/{token}/reschedule"),
            &serde_json::json!({"hold_id": hold["hold_id"]}),
            "10.9.0.1",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let back = time_until(BOUND * 3, || async {
        day_starts(&b, sites[0]).await.contains(&NINE.to_string())
    })
    .await;
    assert!(
        back.is_some_and(|d| d <= BOUND),
        "the site the appointment left still showed 09:00 taken after {back:?}"
    );
}
