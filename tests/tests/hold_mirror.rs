//! Live holds mirrored in each instance's memory: two instances over one database and one Redis.
//! A hold placed or released through one changes the other's availability within the bound (the
//! Redis message's delivery: milliseconds; the documented bound is one second), the mirror really
//! answers from memory (a hold written into Redis behind the service's back is not seen until it is
//! announced, while an instance without the mirror sees it at once), and an instance whose
//! subscription was killed recovers.

use e2e_tests::{hm, paris, starts, OwnRedis, SiteBuilder, TestApp};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The documented bound for a hold placed through another instance (`HOLDS_MIRROR_MS`).
const BOUND: Duration = Duration::from_secs(1);
/// Wednesday 2 December 2026 (the clock stands on Monday 30 November), 09:00–10:00, one station.
const DAY: &str = "from=2026-12-02&to=2026-12-02";
const NINE: &str = "2026-12-02T09:00:00+01:00";

async fn nine_offered(app: &TestApp, site: Uuid) -> bool {
    let (status, body) = app
        .get(&format!(
            "/api/v1/sites/{site}/availability?motif=CNI&persons=1&{DAY}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    starts(&body).contains(&NINE.to_string())
}

/// How long until `app` answers `offered` for 09:00, polling every 10 ms, up to `give_up`.
async fn time_until(app: &TestApp, site: Uuid, offered: bool, give_up: Duration) -> Option<Duration> {
    let t = Instant::now();
    while t.elapsed() < give_up {
        if nine_offered(app, site).await == offered {
            return Some(t.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// A one-station site open on Wednesdays 09:00–10:00 and two instances sharing one Redis prefix
/// (`redis_url`), the second configured by `tweak`; both have read the day once (so B keeps a copy).
async fn setup(
    connect: &PgConnectOptions,
    redis_url: Option<String>,
    tweak: impl FnOnce(&mut booking_service::config::ServeConfig) + Send + 'static,
) -> (Uuid, Uuid, TestApp, TestApp) {
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(connect.clone())
        .await
        .expect("pool");
    let site = SiteBuilder {
        rules: vec![(0, 3, hm(9, 0), hm(10, 0))],
        ..SiteBuilder::default()
    }
    .create(&pool)
    .await;
    let now = paris(2026, 11, 30, 7, 0, 0);
    let url_a = redis_url.clone();
    let a = TestApp::spawn_with(pool.clone(), now, move |c| {
        if let Some(u) = url_a {
            c.redis_url = u;
        }
    })
    .await;
    let prefix = a.redis_prefix.clone();
    let b = TestApp::spawn_with(pool, now, move |c| {
        c.redis_key_prefix = prefix;
        if let Some(u) = redis_url {
            c.redis_url = u;
        }
        tweak(c);
    })
    .await;
    // Both subscribed (their first reads are kept only once the subscription is live).
    tokio::time::sleep(Duration::from_millis(300)).await;
    for app in [&a, &b] {
        assert!(nine_offered(app, site.id).await);
    }
    (site.id, site.stations[0], a, b)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_hold_placed_or_released_on_one_instance_reaches_the_other_within_the_bound(
    _opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    // B keeps its copies for a minute: only the announcement can make it see the change in time.
    let (site, _, a, b) = setup(&connect, None, |c| c.holds_mirror_ms = 60_000).await;
    let (status, hold) = a.hold(site, "CNI", 1, NINE, "10.9.0.1").await;
    assert_eq!(status, 201, "{hold}");
    let hidden = time_until(&b, site, false, BOUND * 3).await;
    assert!(
        hidden.is_some_and(|d| d <= BOUND),
        "the other instance still offered the held slot after {hidden:?}"
    );
    let hold_id = hold["hold_id"].as_str().expect("hold_id");
    assert_eq!(a.delete(&format!("/api/v1/holds/{hold_id}")).await, 204);
    let shown = time_until(&b, site, true, BOUND * 3).await;
    assert!(
        shown.is_some_and(|d| d <= BOUND),
        "the other instance still hid the released slot after {shown:?}"
    );
}

/// Writes a live hold on 09:00–09:15 straight into Redis, without announcing it.
async fn hold_behind_the_services_back(redis_url: &str, prefix: &str, site: Uuid, station: Uuid) {
    let client = redis::Client::open(redis_url).expect("redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    let start = chrono::DateTime::parse_from_rfc3339(NINE)
        .expect("nine")
        .timestamp_millis();
    let expires = chrono::Utc::now().timestamp_millis() + 600_000;
    let _: () = redis::cmd("HSET")
        .arg(format!("{prefix}:hold:{{{site}}}:{station}"))
        .arg("planted")
        .arg(format!("{start}:{}:{expires}", start + 15 * 60_000))
        .query_async(&mut conn)
        .await
        .expect("hset");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_mirror_answers_from_memory_until_a_change_is_announced(
    _opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    // B keeps its copies for a minute: only an announcement can change what it answers.
    let (site, station, a, b) = setup(&connect, None, |c| c.holds_mirror_ms = 60_000).await;
    hold_behind_the_services_back(&e2e_tests::redis_url(), &a.redis_prefix, site, station).await;
    // A read of Redis per request would see the planted hold at once: B does not.
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(1500) {
        assert!(nine_offered(&b, site).await, "B read Redis instead of its mirror");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The announcement any change makes.
    let client = redis::Client::open(e2e_tests::redis_url()).expect("redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    let _: () = redis::cmd("PUBLISH")
        .arg(format!("{}:holds-changed", a.redis_prefix))
        .arg(site.to_string())
        .query_async(&mut conn)
        .await
        .expect("publish");
    let hidden = time_until(&b, site, false, BOUND * 3).await;
    assert!(
        hidden.is_some_and(|d| d <= BOUND),
        "announced, still offered after {hidden:?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn control_without_the_mirror_every_read_asks_redis(_opts: PgPoolOptions, connect: PgConnectOptions) {
    let (site, station, a, b) = setup(&connect, None, |c| c.holds_mirror_ms = 0).await;
    hold_behind_the_services_back(&e2e_tests::redis_url(), &a.redis_prefix, site, station).await;
    assert!(
        !nine_offered(&b, site).await,
        "without a mirror the planted hold shows at once"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_instance_whose_subscription_is_killed_recovers(_opts: PgPoolOptions, connect: PgConnectOptions) {
    // A Redis of this test's own, so that killing its subscribers disturbs no other test.
    let redis = OwnRedis::start().await;
    let (site, _, a, b) = setup(&connect, Some(redis.url.clone()), |c| c.holds_mirror_ms = 60_000).await;
    let client = redis::Client::open(redis.url.as_str()).expect("redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .expect("client kill");
    assert!(killed >= 2, "the subscriptions were not found ({killed})");
    let (status, hold) = a.hold(site, "CNI", 1, NINE, "10.9.0.2").await;
    assert_eq!(status, 201, "{hold}");
    let hidden = time_until(&b, site, false, BOUND * 3).await;
    assert!(
        hidden.is_some_and(|d| d <= BOUND),
        "after its subscription was killed, B offered the held slot for {hidden:?}"
    );
    // And once resubscribed, B hears the release.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let hold_id = hold["hold_id"].as_str().expect("hold_id");
    assert_eq!(a.delete(&format!("/api/v1/holds/{hold_id}")).await, 204);
    let shown = time_until(&b, site, true, BOUND * 3).await;
    assert!(
        shown.is_some_and(|d| d <= BOUND),
        "released, still hidden after {shown:?}"
    );
}
