//! Holds, their mirror and the shared limits on a Redis Cluster of three nodes that the test
//! starts: one start raced by a hundred clients over two instances gives exactly one hold per
//! station, each instance hears the other's holds, limits hold across instances, and the keys
//! are spread over the nodes (hash tags keep each script on one slot).

use e2e_tests::{
    email, hm, numbers, overlapping_pairs, paris, starts, OwnRedisCluster, SiteBuilder, TestApp,
};
use futures::future::join_all;
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

const START: &str = "2026-12-02T10:00:00+01:00";

#[sqlx::test(migrations = "../migrations")]
async fn holds_mirror_and_limits_work_on_a_three_node_cluster(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = opts.max_connections(15).connect_with(connect).await.unwrap();
    let site = SiteBuilder {
        stations: 3,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(12, 0))])
    .create(&pool)
    .await;
    let cluster = OwnRedisCluster::start().await;
    let prefix = format!("rdv-test-{}", uuid::Uuid::new_v4().simple());
    let mut apps = Vec::new();
    for _ in 0..2 {
        let (url, prefix) = (cluster.url(), prefix.clone());
        apps.push(
            TestApp::spawn_with(pool.clone(), paris(2026, 11, 30, 7, 0, 0), move |c| {
                c.redis_cluster = true;
                c.redis_url = url;
                c.redis_key_prefix = prefix;
                c.public_writes_per_minute = 10;
            })
            .await,
        );
    }
    let (status, ready) = apps[0].get("/readyz").await;
    assert_eq!((status, ready["redis"].as_str()), (200, Some("ok")), "{ready}");

    // A hundred clients, each its own address, half on each instance, for one start.
    let answers = join_all((0..100).map(|i| {
        let app = &apps[i % 2];
        async move {
            app.hold(site.id, "CNI", 1, START, &format!("10.7.{}.{}", i / 250, i % 250))
                .await
        }
    }))
    .await;
    let held: Vec<&serde_json::Value> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(held.len(), 3, "one hold per station");
    assert!(
        held.iter().all(|h| h["reserved"] == true),
        "reserved in the cluster: {held:?}"
    );
    assert!(answers.iter().all(|(s, _)| *s == 201 || *s == 409));
    // The other instance hears of them: the start is no longer offered on either.
    for app in &apps {
        let (_, body) = app
            .get(&format!(
                "/api/v1/sites/{}/availability?motif=CNI&persons=1&from=2026-12-02&to=2026-12-02",
                site.id
            ))
            .await;
        assert!(!starts(&body).contains(&START.to_string()), "{body}");
    }
    for (i, h) in held.iter().enumerate() {
        let (s, body) = apps[i % 2]
            .confirm(h["hold_id"].as_str().unwrap(), &email(), &numbers(1))
            .await;
        assert_eq!(s, 201, "{body}");
    }
    assert_eq!(overlapping_pairs(&pool).await, 0);

    // One client alternating instances: 10 writes a minute in all, not 10 on each.
    let mut limited = 0;
    for i in 0..20u32 {
        let start = format!("2026-12-03T{:02}:{:02}:00+01:00", 9 + i / 4, (i % 4) * 15);
        let body = json!({"site_id": site.id, "motif": "CNI", "persons": 1, "start": start});
        let (status, answer) = apps[i as usize % 2]
            .post("/api/v1/holds", &body, "198.51.100.20")
            .await;
        if answer["error"]["code"] == "rate_limited" {
            limited += 1;
        } else {
            assert!(status == 201 || status == 429, "{status} {answer}");
        }
    }
    assert_eq!(limited, 10);

    // The keys live on more than one node.
    let spread = cluster.keys_per_node(&prefix).await;
    assert!(spread.iter().filter(|n| **n > 0).count() >= 2, "{spread:?}");
}
