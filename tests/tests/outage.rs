//! PostgreSQL or Redis going away under a sustained hold + confirm load: clear 503s with
//! `Retry-After` while the database is away, recovery without restarting the service, nothing
//! lost, no overlap; without Redis bookings go on, and holds are reserved in Redis again when
//! it returns.

use e2e_tests::cut::TcpCut;
use e2e_tests::{email, hm, numbers, overlapping_pairs, paris, starts, OwnRedis, SiteBuilder, TestApp};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::net::ToSocketAddrs;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One answer of the load: when, to what, and what came back.
#[derive(Debug, Clone)]
struct Answer {
    at: Duration,
    step: &'static str,
    status: u16,
    retry_after: bool,
    code: String,
    appointment: Option<String>,
}

async fn post(client: &reqwest::Client, url: String, body: Value, who: &str) -> (u16, bool, Value) {
    match client
        .post(url)
        .header("x-forwarded-for", who)
        .json(&body)
        .timeout(Duration::from_secs(20))
        .send()
        .await
    {
        Ok(r) => {
            let status = r.status().as_u16();
            let retry = r.headers().contains_key("retry-after");
            (status, retry, r.json().await.unwrap_or(Value::Null))
        }
        Err(e) => panic!("the service itself must answer: {e}"),
    }
}

/// Workers hold then confirm the next free start until `stop`; every answer is recorded.
async fn load(app: &TestApp, site: uuid::Uuid, free: Vec<String>, stop: Arc<AtomicBool>) -> Vec<Answer> {
    let free = Arc::new(free);
    let next = Arc::new(AtomicUsize::new(0));
    let answers = Arc::new(Mutex::new(Vec::new()));
    let began = Instant::now();
    let workers = (0..6).map(|w| {
        let (free, next, answers, stop) = (free.clone(), next.clone(), answers.clone(), stop.clone());
        let (client, base) = (app.client.clone(), app.base.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(start) = free.get(i) else { break };
                let who = format!("10.9.{w}.{}", i % 250);
                let hold = serde_json::json!({"site_id": site, "motif": "CNI", "persons": 1, "start": start});
                let (status, retry_after, body) =
                    post(&client, format!("{base}/api/v1/holds"), hold, &who).await;
                let record = |step, status, retry_after, body: &Value| {
                    answers.lock().unwrap().push(Answer {
                        at: began.elapsed(),
                        step,
                        status,
                        retry_after,
                        code: body["error"]["code"].as_str().unwrap_or("").to_string(),
                        appointment: (step == "confirm" && status == 201)
                            .then(|| body["id"].as_str().expect("a booking has an id").to_string()),
                    })
                };
                record("hold", status, retry_after, &body);
                if status != 201 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                let confirm = serde_json::json!({
                    "hold_id": body["hold_id"],
                    "citizen": {"first_name": "Camille", "last_name": "Panne", "email": email()},
                    "pre_demande_numbers": numbers(1),
                });
                let (status, retry_after, body) =
                    post(&client, format!("{base}/api/v1/appointments"), confirm, &who).await;
                record("confirm", status, retry_after, &body);
            }
        })
    });
    futures::future::join_all(workers.collect::<Vec<_>>()).await;
    let answers = answers.lock().unwrap().clone();
    answers
}

async fn free_starts(app: &TestApp, site: uuid::Uuid) -> Vec<String> {
    let (status, body) = app
        .get(&format!(
            "/api/v1/sites/{site}/availability?motif=CNI&persons=1&from=2026-12-01&to=2026-12-31"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    starts(&body)
}

#[sqlx::test(migrations = "../migrations")]
async fn postgres_restarted_under_load_answers_503_with_retry_after_then_recovers(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let direct = opts
        .max_connections(4)
        .connect_with(connect.clone())
        .await
        .unwrap();
    let site = SiteBuilder {
        stations: 2,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(8, 0), hm(18, 0))])
    .create(&direct)
    .await;
    // The service reaches PostgreSQL through a relay the test cuts: to the service this is a
    // restart (open connections dropped, new ones refused, then accepted on the same address).
    let server = (connect.get_host(), connect.get_port())
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap();
    let relay = TcpCut::start(server).await;
    let relayed = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(2))
        .connect_with(connect.clone().host("127.0.0.1").port(relay.addr.port()))
        .await
        .unwrap();
    let app = TestApp::spawn(relayed, paris(2026, 11, 30, 7, 0, 0)).await;
    let free = free_starts(&app, site.id).await;
    assert!(free.len() > 500, "{} starts", free.len());

    let stop = Arc::new(AtomicBool::new(false));
    let chaos = {
        let stop = stop.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            relay.cut();
            let cut_at = Instant::now();
            tokio::time::sleep(Duration::from_secs(3)).await;
            relay.restore().await;
            let restored_after = cut_at.elapsed();
            tokio::time::sleep(Duration::from_secs(6)).await;
            stop.store(true, Ordering::Relaxed);
            (relay, restored_after)
        }
    };
    let (answers, (_relay, _)) = tokio::join!(load(&app, site.id, free, stop.clone()), chaos);

    let server_errors: Vec<&Answer> = answers.iter().filter(|a| a.status >= 500).collect();
    assert!(
        server_errors.iter().all(|a| a.status == 503
            && a.retry_after
            && ["unavailable", "overloaded"].contains(&a.code.as_str())),
        "only 503 with Retry-After while the database is away: {server_errors:?}"
    );
    assert!(
        !server_errors.is_empty(),
        "the cut must have been felt (else this test proves nothing)"
    );
    // Recovery without a restart: the last two seconds of load book again.
    let end = answers.iter().map(|a| a.at).max().unwrap();
    let late_bookings = answers
        .iter()
        .filter(|a| a.step == "confirm" && a.status == 201 && a.at + Duration::from_secs(2) > end)
        .count();
    assert!(
        late_bookings > 0,
        "no booking after recovery: {:?}",
        &answers[answers.len().saturating_sub(10)..]
    );
    // Nothing lost: every booking answered 201 is in the database; at most the confirmations cut
    // mid-way (503) may have committed unseen.
    let confirmed: Vec<uuid::Uuid> = answers
        .iter()
        .filter_map(|a| a.appointment.as_deref())
        .map(|id| id.parse().unwrap())
        .collect();
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM appointments WHERE id = ANY($1) AND status = 'booked'")
            .bind(&confirmed)
            .fetch_one(&direct)
            .await
            .unwrap();
    assert_eq!(stored as usize, confirmed.len());
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments")
        .fetch_one(&direct)
        .await
        .unwrap();
    let cut_confirms = answers
        .iter()
        .filter(|a| a.step == "confirm" && a.status == 503)
        .count();
    assert!(
        all as usize <= confirmed.len() + cut_confirms,
        "{all} stored, {} answered",
        confirmed.len()
    );
    assert_eq!(overlapping_pairs(&direct).await, 0);
    let (status, ready) = app.get("/readyz").await;
    assert_eq!((status, ready["database"].as_str()), (200, Some("ok")));
}

#[sqlx::test(migrations = "../migrations")]
async fn redis_stopped_under_load_bookings_go_on_and_holds_resume_when_it_returns(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = opts.max_connections(10).connect_with(connect).await.unwrap();
    let site = SiteBuilder::default()
        .weekdays(&[(hm(8, 0), hm(18, 0))])
        .create(&pool)
        .await;
    let mut redis = OwnRedis::start().await;
    let url = redis.url.clone();
    let app = TestApp::spawn_with(pool.clone(), paris(2026, 11, 30, 7, 0, 0), |c| c.redis_url = url).await;
    let free = free_starts(&app, site.id).await;
    let stop = Arc::new(AtomicBool::new(false));
    let chaos = {
        let stop = stop.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(1000)).await;
            redis.stop();
            tokio::time::sleep(Duration::from_secs(3)).await;
            stop.store(true, Ordering::Relaxed);
            redis
        }
    };
    let (answers, mut redis) = tokio::join!(load(&app, site.id, free, stop), chaos);
    assert!(answers.iter().all(|a| a.status < 500), "{answers:?}");
    let booked_without_redis = answers
        .iter()
        .filter(|a| a.step == "confirm" && a.status == 201 && a.at > Duration::from_millis(1500))
        .count();
    assert!(booked_without_redis > 0, "bookings must go on without Redis");
    let confirmed = answers.iter().filter(|a| a.appointment.is_some()).count() as i64;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments WHERE status = 'booked'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, confirmed);
    assert_eq!(overlapping_pairs(&pool).await, 0);

    // Redis comes back on the same address: the next hold is reserved there again.
    redis.restart().await;
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let free = free_starts(&app, site.id).await;
    let mut reserved = Vec::new();
    for (i, start) in free.iter().take(40).enumerate() {
        let (status, _) = app.hold(site.id, "CNI", 1, start, &format!("10.8.0.{i}")).await;
        if status == 201 {
            reserved = redis::cmd("KEYS")
                .arg(format!("{}:hold:*", app.redis_prefix))
                .query_async::<Vec<String>>(&mut conn)
                .await
                .unwrap();
            if !reserved.is_empty() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !reserved.is_empty(),
        "holds must be reserved in Redis once it is back"
    );
    let (status, ready) = app.get("/readyz").await;
    assert_eq!((status, ready["redis"].as_str()), (200, Some("ok")));
}
