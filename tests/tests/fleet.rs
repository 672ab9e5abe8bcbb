//! Several processes, as in production: three booking-service instances and two notifiers over
//! one PostgreSQL and one Redis. A rush spread over the three books exactly the supply and each
//! confirmation is mailed once; a rolling restart (SIGTERM to one instance at a time) under a
//! sustained booking load fails no booking and loses none.

use chrono::{Datelike, Duration as Days, NaiveDate, Utc, Weekday};
use e2e_tests::fleet::{booking_instance, free_port, notifier_instance, Proc};
use e2e_tests::smtp::{SmtpOptions, SmtpServer};
use e2e_tests::{database_url, email, hm, numbers, overlapping_pairs, redis_url, starts, SiteBuilder};
use futures::StreamExt;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a client sees through a balancer in front of the instances: round-robin, and a request
/// refused at connection or answered 503 is sent to the next instance (never one that was sent
/// and lost: that would be counted as such).
struct Balancer {
    bases: Vec<String>,
    next: AtomicUsize,
    client: reqwest::Client,
    /// Requests sent whose connection broke before an answer (outcome unknown to the client).
    broken: AtomicUsize,
    /// Answers 503 turned into success by trying again.
    retried_503: AtomicUsize,
}

impl Balancer {
    fn new(ports: &[u16]) -> Self {
        Self {
            bases: ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect(),
            next: AtomicUsize::new(0),
            client: reqwest::Client::new(),
            broken: AtomicUsize::new(0),
            retried_503: AtomicUsize::new(0),
        }
    }

    async fn send(&self, method: &str, path: &str, body: Option<&Value>, who: &str) -> (u16, Value) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let base = &self.bases[self.next.fetch_add(1, Ordering::Relaxed) % self.bases.len()];
            let mut req = match method {
                "GET" => self.client.get(format!("{base}{path}")),
                _ => self
                    .client
                    .post(format!("{base}{path}"))
                    .json(body.expect("a body")),
            };
            req = req
                .header("x-forwarded-for", who)
                .timeout(Duration::from_secs(15));
            match req.send().await {
                Ok(r) if r.status() == 503 => {
                    self.retried_503.fetch_add(1, Ordering::Relaxed);
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    return (status, r.json().await.unwrap_or(Value::Null));
                }
                Err(e) if e.is_connect() => {}
                Err(e) => {
                    // Sent, perhaps handled, no answer: a balancer cannot retry a POST blindly.
                    self.broken.fetch_add(1, Ordering::Relaxed);
                    return (0, json!({"transport": e.to_string()}));
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no instance answered {path}"
            );
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
}

async fn database_of(pool: &PgPool) -> String {
    let name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    database_url(&name)
}

/// Three instances sharing one Redis prefix, ready.
async fn three_instances(db: &str) -> Vec<Proc> {
    let prefix = format!("rdv-test-{}", uuid::Uuid::new_v4().simple());
    let mut procs = Vec::new();
    for i in 0..3 {
        procs.push(booking_instance(
            &format!("booking-{i}"),
            db,
            &redis_url(),
            &prefix,
            free_port(),
        ));
    }
    for p in &procs {
        p.wait_ready("/readyz", Duration::from_secs(60)).await;
    }
    procs
}

/// A weekday three to five days ahead in Paris: its one occurrence within a 6-day horizon makes
/// the supply fixed for the test's duration (no slot passes, none is released meanwhile).
fn booking_day() -> NaiveDate {
    let mut d = Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive() + Days::days(3);
    while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
        d += Days::days(1);
    }
    d
}

#[sqlx::test(migrations = "../migrations")]
async fn a_rush_over_three_instances_books_exactly_the_supply_and_two_notifiers_mail_each_once(pool: PgPool) {
    let db = database_of(&pool).await;
    let day = booking_day();
    let weekday = day.weekday().number_from_monday() as i16;
    let site = SiteBuilder {
        stations: 3,
        horizon_days: 6,
        rules: (0..3).map(|st| (st, weekday, hm(8, 0), hm(12, 0))).collect(),
        ..SiteBuilder::default()
    }
    .create(&pool)
    .await;
    let smtp = SmtpServer::start(SmtpOptions::default()).await;
    let instances = three_instances(&db).await;
    let notifiers: Vec<Proc> = (0..2)
        .map(|i| notifier_instance(&format!("notifier-{i}"), &db, smtp.port))
        .collect();
    for n in &notifiers {
        n.wait_ready("/readyz", Duration::from_secs(30)).await;
    }
    let lb = Arc::new(Balancer::new(
        &instances.iter().map(|p| p.port).collect::<Vec<_>>(),
    ));
    let availability = format!(
        "/api/v1/sites/{}/availability?motif=CNI&persons=1&from={day}&to={day}",
        site.id
    );
    let (status, body) = lb.send("GET", &availability, None, "10.0.0.1").await;
    assert_eq!(status, 200, "{body}");
    let supply = starts(&body).len() * 3;
    assert_eq!(supply, 48);

    // Four clients per place, 48 at a time, each trying free starts until it books or none is left.
    let booked = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let clients = (0..supply * 4).map(|c| {
        let (lb, booked, availability) = (lb.clone(), booked.clone(), availability.clone());
        async move {
            let who = format!("10.1.{}.{}", c / 250, c % 250);
            let address = email();
            for attempt in 0.. {
                let (status, body) = lb.send("GET", &availability, None, &who).await;
                assert_eq!(status, 200, "{body}");
                let free = starts(&body);
                if free.is_empty() {
                    return;
                }
                let start = &free[(c + attempt) % free.len()];
                let hold = json!({"site_id": site.id, "motif": "CNI", "persons": 1, "start": start});
                let (status, held) = lb.send("POST", "/api/v1/holds", Some(&hold), &who).await;
                if status != 201 {
                    assert_eq!(status, 409, "{held}");
                    continue;
                }
                let confirm = json!({"hold_id": held["hold_id"], "pre_demande_numbers": numbers(1),
                    "citizen": {"first_name": "Camille", "last_name": "Ruée", "email": address}});
                let (status, answer) = lb
                    .send("POST", "/api/v1/appointments", Some(&confirm), &who)
                    .await;
                if status == 201 {
                    booked
                        .lock()
                        .unwrap()
                        .push((answer["id"].as_str().unwrap().to_string(), address));
                    return;
                }
                assert_eq!(status, 409, "{answer}");
            }
        }
    });
    futures::stream::iter(clients)
        .buffer_unordered(48)
        .collect::<Vec<()>>()
        .await;

    let booked = booked.lock().unwrap().clone();
    assert_eq!(booked.len(), supply, "exactly the supply is booked");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments WHERE status = 'booked'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored as usize, supply);
    assert_eq!(overlapping_pairs(&pool).await, 0);
    assert_eq!(lb.broken.load(Ordering::Relaxed), 0);

    // Each confirmation mailed once, by either notifier.
    e2e_tests::wait_until("every confirmation mailed", Duration::from_secs(60), || async {
        smtp.messages().len() >= supply
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), supply, "no email twice");
    let recipients: HashSet<String> = mails
        .iter()
        .flat_map(|m| m.rcpt_to.iter().map(|r| r.trim_matches(['<', '>']).to_string()))
        .collect();
    let expected: HashSet<String> = booked.iter().map(|(_, a)| a.clone()).collect();
    assert_eq!(recipients, expected);
    // Both notifiers count what they sent; together, each confirmation once.
    let mut sent = 0.0;
    for n in &notifiers {
        let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", n.port))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        sent += text
            .lines()
            .filter(|l| l.starts_with("notifier_sent_total{kind=\"confirmation\"}"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum::<f64>();
    }
    assert_eq!(sent as usize, supply);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_rolling_restart_under_load_fails_no_booking_and_loses_none(pool: PgPool) {
    let db = database_of(&pool).await;
    let site = SiteBuilder {
        stations: 3,
        horizon_days: 40,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(8, 0), hm(18, 0))])
    .create(&pool)
    .await;
    let mut instances = three_instances(&db).await;
    let lb = Arc::new(Balancer::new(
        &instances.iter().map(|p| p.port).collect::<Vec<_>>(),
    ));
    let from = Utc::now().date_naive() + Days::days(2);
    let to = from + Days::days(30);
    let (status, body) = lb
        .send(
            "GET",
            &format!(
                "/api/v1/sites/{}/availability?motif=CNI&persons=1&from={from}&to={to}",
                site.id
            ),
            None,
            "10.0.0.1",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Every start three times (one per station), each worker taking the next.
    let free: Arc<Vec<String>> = Arc::new(
        starts(&body)
            .into_iter()
            .flat_map(|s| [s.clone(), s.clone(), s])
            .collect(),
    );
    assert!(free.len() > 1500, "{}", free.len());

    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let outcomes = Arc::new(Mutex::new(Vec::<(u16, Value)>::new()));
    let ids = Arc::new(Mutex::new(Vec::<uuid::Uuid>::new()));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (lb, stop, next, outcomes, ids, free) = (
                lb.clone(),
                stop.clone(),
                next.clone(),
                outcomes.clone(),
                ids.clone(),
                free.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(start) = free.get(i) else { break };
                    let who = format!("10.2.{w}.{}", i % 250);
                    let hold = json!({"site_id": site.id, "motif": "CNI", "persons": 1, "start": start});
                    let (status, held) = lb.send("POST", "/api/v1/holds", Some(&hold), &who).await;
                    if status != 201 {
                        outcomes.lock().unwrap().push((status, held));
                        continue;
                    }
                    let confirm = json!({"hold_id": held["hold_id"], "pre_demande_numbers": numbers(1),
                        "citizen": {"first_name": "Camille", "last_name": "Relève", "email": email()}});
                    let (status, answer) = lb
                        .send("POST", "/api/v1/appointments", Some(&confirm), &who)
                        .await;
                    if status == 201 {
                        ids.lock()
                            .unwrap()
                            .push(answer["id"].as_str().unwrap().parse().unwrap());
                    }
                    outcomes.lock().unwrap().push((status, answer));
                }
            })
        })
        .collect();

    // One instance at a time: SIGTERM, exit, start again, ready; while the load goes on.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for p in instances.iter_mut() {
        let before = ids.lock().unwrap().len();
        let exit = p.terminate(Duration::from_secs(20)).await;
        assert!(exit.success(), "{} exited with {exit}:\n{}", p.name, p.log_text());
        p.restart();
        p.wait_ready("/readyz", Duration::from_secs(60)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            ids.lock().unwrap().len() > before,
            "bookings went on while {} restarted",
            p.name
        );
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }

    let outcomes = outcomes.lock().unwrap().clone();
    let failed: Vec<&(u16, Value)> = outcomes.iter().filter(|(s, _)| *s != 201).collect();
    assert!(failed.is_empty(), "every booking succeeds: {failed:?}");
    assert_eq!(
        lb.broken.load(Ordering::Relaxed),
        0,
        "no request lost in a closing connection"
    );
    let ids = ids.lock().unwrap().clone();
    assert!(ids.len() > 100, "{} bookings", ids.len());
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM appointments WHERE id = ANY($1) AND status = 'booked'")
            .bind(&ids)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored as usize, ids.len(), "nothing lost");
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        all as usize,
        ids.len(),
        "nothing booked that its client was not told of"
    );
    assert_eq!(overlapping_pairs(&pool).await, 0);
    eprintln!(
        "rolling restart: {} bookings, {} answers 503 retried elsewhere",
        ids.len(),
        lb.retried_503.load(Ordering::Relaxed)
    );
}
