//! Limits hold across instances: a client spreading its writes round-robin over three instances
//! (one Redis, one database) is limited as if there were one; with Redis away each instance's own
//! line is all there is (the control that shows the difference is Redis's).

use e2e_tests::{hm, paris, redis_url, SiteBuilder, TestApp};
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

async fn three_instances(
    pool: &PgPool,
    redis: &str,
    writes_per_minute: u32,
    logins_per_minute: u32,
) -> Vec<TestApp> {
    let prefix = format!("rdv-test-{}", uuid::Uuid::new_v4().simple());
    let mut apps = Vec::new();
    for _ in 0..3 {
        let (prefix, redis) = (prefix.clone(), redis.to_string());
        apps.push(
            TestApp::spawn_with(pool.clone(), paris(2026, 11, 30, 7, 0, 0), move |c| {
                c.redis_key_prefix = prefix;
                c.redis_url = redis;
                c.public_writes_per_minute = writes_per_minute;
                c.staff_login_per_minute = logins_per_minute;
                c.max_holds_per_client = 1000;
            })
            .await,
        );
    }
    apps
}

/// 30 holds of distinct starts, round-robin over `apps`, from one client: how many were refused
/// by the rate limit (anything else, 201 or a refusal of the slot, got past it).
async fn rate_limited_of_30(apps: &[TestApp], site: uuid::Uuid, client: &str) -> usize {
    let mut limited = 0;
    for i in 0..30u32 {
        let start = format!("2026-12-02T{:02}:{:02}:00+01:00", 8 + i / 4, (i % 4) * 15);
        let body = json!({"site_id": site, "motif": "CNI", "persons": 1, "start": start});
        let (status, answer) = apps[i as usize % apps.len()]
            .post("/api/v1/holds", &body, client)
            .await;
        if answer["error"]["code"] == "rate_limited" {
            assert_eq!(status, 429);
            limited += 1;
        } else {
            assert!(status == 201 || status == 409, "{status} {answer}");
        }
    }
    limited
}

#[sqlx::test(migrations = "../migrations")]
async fn a_client_writing_round_robin_to_three_instances_is_limited_as_by_one(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = opts.max_connections(12).connect_with(connect).await.unwrap();
    let site = SiteBuilder::default()
        .weekdays(&[(hm(8, 0), hm(18, 0))])
        .create(&pool)
        .await;
    let apps = three_instances(&pool, &redis_url(), 10, 4).await;
    // 10 a minute, in bursts of 10: 20 of 30 refused wherever they land (the test takes well
    // under the 6 s that would earn one more).
    assert_eq!(rate_limited_of_30(&apps, site.id, "198.51.100.7").await, 20);
    // Another client has its own allowance.
    assert_eq!(rate_limited_of_30(&apps, site.id, "198.51.100.8").await, 20);
    // Staff logins too: 4 a minute from one address, across the three.
    let mut refused = 0;
    for i in 0..9 {
        let (status, _) = apps[i % 3]
            .staff_login("nobody@example.fr", "wrong password", "198.51.100.9")
            .await;
        if status == 429 {
            refused += 1;
        } else {
            assert_eq!(status, 401);
        }
    }
    assert_eq!(refused, 5);
    // And the refusals are counted on the instances that refused.
    let mut counted = 0;
    for app in &apps {
        let (_, text) = app.get_text("/metrics").await;
        counted += text
            .lines()
            .filter(|l| l.starts_with("rate_limited_total{scope=\"writes\"}"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum::<f64>() as usize;
    }
    assert_eq!(counted, 40);
}

#[sqlx::test(migrations = "../migrations")]
async fn without_redis_each_instance_limits_on_its_own(opts: PgPoolOptions, connect: PgConnectOptions) {
    let pool = opts.max_connections(12).connect_with(connect).await.unwrap();
    let site = SiteBuilder::default()
        .weekdays(&[(hm(8, 0), hm(18, 0))])
        .create(&pool)
        .await;
    // A closed port: Redis is away for the whole test.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // 2 a minute: one more every 30 s, longer than the test lasts.
    let apps = three_instances(&pool, &format!("redis://127.0.0.1:{closed}/0"), 2, 4).await;
    // Each instance allows its 2: 6 of 30 pass, 24 are refused.
    assert_eq!(rate_limited_of_30(&apps, site.id, "198.51.100.7").await, 24);
    // One instance alone still limits, without Redis.
    assert_eq!(rate_limited_of_30(&apps[..1], site.id, "198.51.100.10").await, 28);
}
