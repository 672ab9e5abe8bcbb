//! Test harness: a real server on a random port over a fresh PostgreSQL database (created per test
//! by `#[sqlx::test]`), a manual clock, and helpers to build sites and calendars by SQL.

pub mod ants;
pub mod browser;
pub mod cut;
pub mod fleet;
pub mod hostile;
pub mod smtp;

use booking_service::app::{self as http, AppState};
use booking_service::clock::ManualClock;
use booking_service::config::ServeConfig;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use serde_json::Value;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::oneshot;
use uuid::Uuid;

/// Redis of the test machine (keys are prefixed per test by `ServeConfig::for_tests`).
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_string())
}

/// A running service.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The Redis key prefix of this instance.
    pub redis_prefix: String,
    pub client: reqwest::Client,
    pub pool: PgPool,
    pub clock: ManualClock,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestApp {
    /// Serves the app on a random port, over `pool`, with the clock standing at `now`.
    pub async fn spawn(pool: PgPool, now: DateTime<Utc>) -> Self {
        Self::spawn_with(pool, now, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with a chance to adjust the configuration.
    pub async fn spawn_with(pool: PgPool, now: DateTime<Utc>, tweak: impl FnOnce(&mut ServeConfig)) -> Self {
        let mut config = ServeConfig::for_tests("postgres://unused", &redis_url());
        tweak(&mut config);
        let clock = ManualClock::new(now);
        let redis_prefix = config.redis_key_prefix.clone();
        let state = AppState::new(pool.clone(), config, Arc::new(clock.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            http::run(listener, state, async {
                let _ = rx.await;
            })
            .await
            .expect("server");
        });
        Self {
            base,
            redis_prefix,
            client: reqwest::Client::new(),
            pool,
            clock,
            shutdown: Some(tx),
        }
    }

    /// GET `path`, returning the status and the JSON body (`Null` when not JSON).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .client
            .get(format!("{}{}", self.base, path))
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// POST JSON to `path` as client `client` (its `X-Forwarded-For` address).
    pub async fn post(&self, path: &str, body: &Value, client: &str) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}{}", self.base, path))
            .header("x-forwarded-for", client)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// DELETE `path`.
    pub async fn delete(&self, path: &str) -> u16 {
        let resp = self
            .client
            .delete(format!("{}{}", self.base, path))
            .send()
            .await
            .expect("request");
        resp.status().as_u16()
    }

    /// Holds `start` at `site` for `persons` as `client`.
    pub async fn hold(
        &self,
        site: Uuid,
        motif: &str,
        persons: u32,
        start: &str,
        client: &str,
    ) -> (u16, Value) {
        let body = serde_json::json!({"site_id": site, "motif": motif, "persons": persons, "start": start});
        self.post("/api/v1/holds", &body, client).await
    }

    /// Confirms a hold for a citizen with the given email and numbers.
    pub async fn confirm(&self, hold_id: &str, email: &str, numbers: &[String]) -> (u16, Value) {
        let body = serde_json::json!({
            "hold_id": hold_id,
            "citizen": {"first_name": "Camille", "last_name": "Test", "email": email, "phone": "+33 6 12 34 56 78"},
            "pre_demande_numbers": numbers,
        });
        self.post("/api/v1/appointments", &body, "10.255.255.1").await
    }

    /// Holds then confirms; returns the confirmation's status and body.
    pub async fn book(
        &self,
        site: Uuid,
        persons: u32,
        start: &str,
        client: &str,
        email: &str,
        numbers: &[String],
    ) -> (u16, Value) {
        let (status, hold) = self.hold(site, "CNI", persons, start, client).await;
        if status != 201 {
            return (status, hold);
        }
        self.confirm(hold["hold_id"].as_str().expect("hold_id"), email, numbers)
            .await
    }

    /// Any method on `path`, as staff (`Bearer` token) or anonymously; a JSON body except for GET.
    /// Returns the status and the JSON answer (the raw text as a string when not JSON).
    pub async fn call(&self, method: &str, path: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
        let mut req = self
            .client
            .request(method.parse().expect("method"), format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if method != "GET" {
            req = req.json(body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// `POST /api/v1/staff/login` from client address `client`: status and answer.
    pub async fn staff_login(&self, email: &str, password: &str, client: &str) -> (u16, Value) {
        self.post(
            "/api/v1/staff/login",
            &serde_json::json!({"email": email, "password": password}),
            client,
        )
        .await
    }

    /// A session token of `email` (logged in with [`STAFF_PASSWORD`]), or a failed test.
    pub async fn staff_token(&self, email: &str) -> String {
        let (s, body) = self.staff_login(email, STAFF_PASSWORD, "10.20.0.1").await;
        assert_eq!(s, 200, "login of {email}: {body}");
        body["token"].as_str().expect("token").to_string()
    }

    /// GET `path` and the raw text.
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let resp = self
            .client
            .get(format!("{}{}", self.base, path))
            .send()
            .await
            .expect("request");
        (resp.status().as_u16(), resp.text().await.expect("body"))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The password every test staff account is given.
pub const STAFF_PASSWORD: &str = "correct horse battery staple";

/// An instant given in Paris local time.
pub fn paris(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Paris
        .with_ymd_and_hms(y, m, d, h, mi, s)
        .single()
        .expect("unambiguous")
        .with_timezone(&Utc)
}

/// `HH:MM`.
pub fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("time")
}

/// Builder of a test site: one commune, one site, stations, rules, policy and motif settings.
pub struct SiteBuilder {
    pub insee: &'static str,
    pub department: &'static str,
    pub timezone: &'static str,
    pub stations: usize,
    /// `(station index, ISO weekday, start, end)`.
    pub rules: Vec<(usize, i16, NaiveTime, NaiveTime)>,
    pub minutes_per_person: i32,
    pub max_persons: i32,
    pub step: i32,
    pub min_notice_minutes: i32,
    pub horizon_days: i32,
    pub release_time: NaiveTime,
}

impl Default for SiteBuilder {
    fn default() -> Self {
        Self {
            insee: "68278",
            department: "68",
            timezone: "Europe/Paris",
            stations: 1,
            rules: Vec::new(),
            minutes_per_person: 15,
            max_persons: 4,
            step: 15,
            min_notice_minutes: 0,
            horizon_days: 365,
            release_time: NaiveTime::MIN,
        }
    }
}

/// A site created by [`SiteBuilder::create`].
pub struct TestSite {
    pub id: Uuid,
    pub stations: Vec<Uuid>,
}

impl SiteBuilder {
    /// Opens every station Monday to Friday with the given ranges.
    pub fn weekdays(mut self, ranges: &[(NaiveTime, NaiveTime)]) -> Self {
        for st in 0..self.stations {
            for wd in 1..=5 {
                for &(a, b) in ranges {
                    self.rules.push((st, wd, a, b));
                }
            }
        }
        self
    }

    /// Writes the site to the database.
    pub async fn create(self, pool: &PgPool) -> TestSite {
        sqlx::query(
            "INSERT INTO communes (insee_code, name, search_name, department_code, postcodes, latitude, longitude)
             VALUES ($1, 'Commune ' || $1, 'commune ' || $1, $2, '{68170}', 47.75, 7.40) ON CONFLICT DO NOTHING",
        )
        .bind(self.insee)
        .bind(self.department)
        .execute(pool)
        .await
        .expect("commune");
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO sites (id, commune_insee, name, address_line, postcode, city, latitude, longitude, timezone)
             VALUES ($1, $2, 'Mairie test ' || $1::text, '1 rue de la Mairie', '68170', 'Test', 47.75, 7.40, $3)",
        )
        .bind(id)
        .bind(self.insee)
        .bind(self.timezone)
        .execute(pool)
        .await
        .expect("site");
        sqlx::query(
            "INSERT INTO booking_policies (site_id, min_notice_minutes, horizon_days, release_time, slot_step_minutes)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(self.min_notice_minutes)
        .bind(self.horizon_days)
        .bind(self.release_time)
        .bind(self.step)
        .execute(pool)
        .await
        .expect("policy");
        for motif in ["CNI", "PASSPORT", "CNI-PASSPORT", "RETRIEVAL"] {
            sqlx::query("INSERT INTO site_motifs (site_id, motif, minutes_per_person, max_persons) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(motif)
                .bind(self.minutes_per_person)
                .bind(self.max_persons)
                .execute(pool)
                .await
                .expect("motif");
        }
        let mut stations = Vec::new();
        for i in 0..self.stations {
            let st = Uuid::new_v4();
            sqlx::query("INSERT INTO stations (id, site_id, name) VALUES ($1, $2, $3)")
                .bind(st)
                .bind(id)
                .bind(format!("DR {}", i + 1))
                .execute(pool)
                .await
                .expect("station");
            stations.push(st);
        }
        for (st, wd, a, b) in self.rules {
            sqlx::query(
                "INSERT INTO opening_rules (id, station_id, weekday, start_time, end_time, valid_from)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(Uuid::new_v4())
            .bind(stations[st])
            .bind(wd)
            .bind(a)
            .bind(b)
            .bind(NaiveDate::from_ymd_opt(2020, 1, 1).expect("date"))
            .execute(pool)
            .await
            .expect("rule");
        }
        TestSite { id, stations }
    }
}

/// Inserts an appointment row directly (bypassing the API), with the given status.
pub async fn insert_appointment(
    pool: &PgPool,
    site: Uuid,
    station: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    status: &str,
) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO appointments (id, reference, site_id, station_id, motif, persons, during, status,
                                   first_name, last_name, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'CNI', 1, tstzrange($5, $6, '[)'), $7, 'Test', 'Test', $5, $5)",
    )
    .bind(id)
    .bind(id.simple().to_string()[..10].to_uppercase())
    .bind(site)
    .bind(station)
    .bind(start)
    .bind(end)
    .bind(status)
    .execute(pool)
    .await
    .expect("appointment");
    id
}

/// `n` fresh, valid pré-demande numbers.
pub fn numbers(n: usize) -> Vec<String> {
    (0..n)
        .map(|_| Uuid::new_v4().simple().to_string()[..10].to_uppercase())
        .collect()
}

/// A fresh email address.
pub fn email() -> String {
    format!("citoyen-{}@example.fr", Uuid::new_v4().simple())
}

/// Live appointments overlapping on one station, counted by SQL over the whole table: must be 0.
pub async fn overlapping_pairs(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM appointments a JOIN appointments b
           ON a.station_id = b.station_id AND a.id < b.id AND a.during && b.during
         WHERE a.status IN ('booked', 'checked_in') AND b.status IN ('booked', 'checked_in')",
    )
    .fetch_one(pool)
    .await
    .expect("overlap count")
}

/// Deletes every Redis key of this test's service (its prefix): Redis "losing" the holds.
pub async fn flush_redis_prefix(redis_url: &str, prefix: &str) {
    let client = redis::Client::open(redis_url).expect("redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .expect("keys");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .expect("del");
    }
}

/// A Redis server of the test's own, on a free port, killed when dropped.
pub struct OwnRedis {
    pub url: String,
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    /// Starts `redis-server` on a free port and waits until it answers.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let mut redis = Self {
            url: format!("redis://127.0.0.1:{port}/0"),
            port,
            child: None,
        };
        redis.restart().await;
        redis
    }

    /// Starts the server (again) on its port, empty, and waits until it answers.
    pub async fn restart(&mut self) {
        self.stop();
        let port = self.port;
        let child = redis_server(port)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        self.child = Some(child);
        let url = self.url.clone();
        wait_until("our redis-server", std::time::Duration::from_secs(10), || {
            redis_answers(&url)
        })
        .await;
    }

    /// Kills the server.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `ready` every 50 ms until it says yes; panics, naming `what`, after `timeout`: a server
/// that never came up must fail the test where it happened, not three steps later.
pub async fn wait_until<F, Fut>(what: &str, timeout: std::time::Duration, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if ready().await {
            return;
        }
        if std::time::Instant::now() >= deadline {
            panic!("{what} not ready after {timeout:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The URL of database `name` on the server of `DATABASE_URL` (`TEST_DATABASE_URL` in
/// `deploy/test.sh`), for binaries started by a test on that test's own database.
pub fn database_url(name: &str) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL (deploy/test.sh sets it)");
    let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
    url.set_path(name);
    url.to_string()
}

/// The `start` strings of an availability answer.
pub fn starts(body: &Value) -> Vec<String> {
    body["slots"]
        .as_array()
        .expect("slots array")
        .iter()
        .map(|s| s["start"].as_str().expect("start").to_string())
        .collect()
}

/// A Redis Cluster of three primaries of the test's own (no replicas), on free ports, in a
/// temporary folder; killed and removed when dropped.
pub struct OwnRedisCluster {
    /// The nodes' ports.
    pub ports: Vec<u16>,
    dir: std::path::PathBuf,
    children: Vec<std::process::Child>,
}

impl OwnRedisCluster {
    /// Starts three nodes, joins them into one cluster (16384 slots spread), waits until it is ok.
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("redis-cluster-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let mut ports = Vec::new();
        while ports.len() < 3 {
            // Each node also listens on port + 10000 (the cluster bus): both must be free.
            let port = free_port_in(20_000..50_000);
            if std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() && !ports.contains(&port) {
                ports.push(port);
            }
        }
        let mut cluster = Self {
            ports: ports.clone(),
            dir: dir.clone(),
            children: Vec::new(),
        };
        for port in &ports {
            let child = redis_server(*port)
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .arg("--dir")
                .arg(&dir)
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server must be installed");
            cluster.children.push(child);
        }
        for port in &ports {
            let url = format!("redis://127.0.0.1:{port}/");
            wait_until("a cluster node", std::time::Duration::from_secs(10), || {
                redis_answers(&url)
            })
            .await;
        }
        let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = std::process::Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("redis-cli must be installed");
        assert!(created.success(), "redis-cli --cluster create failed");
        for port in &ports {
            let url = format!("redis://127.0.0.1:{port}/");
            wait_until(
                "the cluster's state ok",
                std::time::Duration::from_secs(20),
                || async {
                    let Ok(c) = redis::Client::open(url.as_str()) else {
                        return false;
                    };
                    let Ok(mut conn) = c.get_multiplexed_async_connection().await else {
                        return false;
                    };
                    let info: String = redis::cmd("CLUSTER")
                        .arg("INFO")
                        .query_async(&mut conn)
                        .await
                        .unwrap_or_default();
                    info.contains("cluster_state:ok")
                },
            )
            .await;
        }
        cluster
    }

    /// The seeds, as `REDIS_URL` takes them with `REDIS_CLUSTER=true`.
    pub fn url(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}/"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// How many keys under `prefix` each node holds.
    pub async fn keys_per_node(&self, prefix: &str) -> Vec<usize> {
        let mut counts = Vec::new();
        for port in &self.ports {
            let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("url");
            let mut conn = c.get_multiplexed_async_connection().await.expect("node");
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}:*"))
                .query_async(&mut conn)
                .await
                .expect("keys");
            counts.push(keys.len());
        }
        counts
    }
}

impl Drop for OwnRedisCluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `redis-server` on `port` of loopback, keeping nothing on disk.
fn redis_server(port: u16) -> std::process::Command {
    let mut cmd = std::process::Command::new("redis-server");
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]);
    cmd
}

/// Whether the Redis server at `url` answers PING.
async fn redis_answers(url: &str) -> bool {
    let Ok(c) = redis::Client::open(url) else {
        return false;
    };
    let Ok(mut conn) = c.get_multiplexed_async_connection().await else {
        return false;
    };
    redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
}

/// A port of `range` free now.
fn free_port_in(range: std::ops::Range<u16>) -> u16 {
    use rand::Rng;
    loop {
        let port = rand::thread_rng().gen_range(range.clone());
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
