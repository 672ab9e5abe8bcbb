//! Benchmark: emails per second from the outbox into a local SMTP server (the in-repo test server,
//! plain SMTP on loopback, one connection pool per worker).
//!
//! `cargo run --release -p notifier --example mail_bench -- [messages] [workers] [concurrency]`
//! Uses a throw-away database on the server of `DATABASE_URL` (default local `postgres`), dropped after.

use booking_service::clock::SystemClock;
use e2e_tests::smtp::{SmtpOptions, SmtpServer};
use e2e_tests::{hm, insert_appointment, paris, SiteBuilder};
use notifier::config::NotifierConfig;
use notifier::worker::Worker;
use sqlx::postgres::PgPoolOptions;
use sqlx::Executor;
use std::sync::Arc;
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: i64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5000);
    let workers: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let concurrency: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(8);
    let admin_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = format!("bench_mail_{}", std::process::id());
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin_url)
        .await?;
    admin.execute(format!("CREATE DATABASE {db}").as_str()).await?;
    let url = format!(
        "{}/{db}",
        admin_url.rsplit_once('/').map(|(a, _)| a).unwrap_or(&admin_url)
    );
    let result = run(&url, n, workers, concurrency).await;
    admin
        .execute(format!("DROP DATABASE {db} WITH (FORCE)").as_str())
        .await?;
    result
}

async fn run(url: &str, n: i64, workers: usize, concurrency: usize) -> anyhow::Result<()> {
    let pool = PgPoolOptions::new().max_connections(10).connect(url).await?;
    booking_service::db::migrate(&pool).await?;
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let id = insert_appointment(
        &pool,
        site.id,
        site.stations[0],
        paris(2030, 12, 2, 9, 0, 0),
        paris(2030, 12, 2, 9, 15, 0),
        "booked",
    )
    .await;
    sqlx::query("UPDATE appointments SET email = 'bench@example.fr' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await?;
    sqlx::query(
        "INSERT INTO outbox (kind, appointment_id, due_at, created_at)
         SELECT 'confirmation', $1, now(), now() FROM generate_series(1, $2)",
    )
    .bind(id)
    .bind(n)
    .execute(&pool)
    .await?;
    let smtp = SmtpServer::start(SmtpOptions::default()).await;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let mut c = NotifierConfig::for_tests(url, std::env::temp_dir());
        c.smtp_url = Some(booking_service::config::Secret::new(format!(
            "smtp://127.0.0.1:{}?tls=none",
            smtp.port
        )));
        c.concurrency = concurrency;
        c.batch_size = 100;
        let w = Arc::new(Worker::new(pool.clone(), c, Arc::new(SystemClock))?);
        let mut rx = rx.clone();
        handles.push(tokio::spawn(async move {
            w.run(async move {
                let _ = rx.changed().await;
            })
            .await
        }));
    }
    while (smtp.messages().len() as i64) < n {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    tx.send(true)?;
    for h in handles {
        h.await?;
    }
    println!(
        "{n} emails, {workers} worker(s) x {concurrency} concurrent sends: {:.2} s, {:.0} emails/s",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
