//! Load generator against a running booking-service (see BENCHMARKS.md).
//!
//! ```text
//! loadgen availability [BASE_URL] [REQUESTS] [CONCURRENCY]   # public availability reads, all demo sites
//! loadgen rush [BASE_URL] [CLIENTS] [CONCURRENCY]            # clients hold then book one day's slots
//! loadgen ants [BASE_URL] [REQUESTS] [TOKEN]                 # availableTimeSlots, every meeting point, 150 days
//! ```
//! The server must run with `TRUSTED_PROXIES=127.0.0.1` for `rush`: each simulated client sends its
//! own `X-Forwarded-For` address, as it would behind the production proxy.

use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn arg<T: std::str::FromStr>(i: usize, default: T) -> T {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn report(name: &str, mut lat: Vec<Duration>, elapsed: Duration, statuses: &BTreeMap<u16, usize>) {
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{name}: {} requests in {:.2} s = {:.0} req/s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; statuses {statuses:?}",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

async fn sites(client: &reqwest::Client, base: &str) -> Vec<Value> {
    client
        .get(format!("{base}/api/v1/sites"))
        .send()
        .await
        .expect("sites")
        .json::<Vec<Value>>()
        .await
        .expect("json")
}

#[tokio::main]
async fn main() {
    let mode: String = arg(1, "availability".to_string());
    let base: String = arg(2, "http://127.0.0.1:8080".to_string());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    match mode.as_str() {
        "availability" => availability(&client, &base, arg(3, 5000), arg(4, 64)).await,
        "rush" => rush(&client, &base, arg(3, 500), arg(4, 100)).await,
        "ants" => ants(&client, &base, arg(3, 50), arg(4, String::new())).await,
        other => eprintln!("unknown mode {other}: availability, rush or ants"),
    }
}

async fn availability(client: &reqwest::Client, base: &str, n: usize, concurrency: usize) {
    let sites = sites(client, base).await;
    let started = Instant::now();
    let results: Vec<(u16, Duration)> = stream::iter(0..n)
        .map(|i| {
            let site = sites[i % sites.len()]["id"].as_str().unwrap().to_string();
            let persons = 1 + i % 3;
            async move {
                let t = Instant::now();
                let url = format!("{base}/api/v1/sites/{site}/availability?motif=CNI&persons={persons}");
                let s = client
                    .get(url)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                (s, t.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut statuses = BTreeMap::new();
    for (s, _) in &results {
        *statuses.entry(*s).or_insert(0) += 1;
    }
    report(
        "availability (14 days, 1-3 persons)",
        results.into_iter().map(|r| r.1).collect(),
        elapsed,
        &statuses,
    );
}

async fn rush(client: &reqwest::Client, base: &str, clients: usize, concurrency: usize) {
    // The site with the most stations; a day a week ahead; everyone wants a slot of that day.
    let site = sites(client, base)
        .await
        .into_iter()
        .max_by_key(|s| s["stations"].as_i64().unwrap_or(0))
        .expect("a site");
    let id = site["id"].as_str().unwrap().to_string();
    let day = (chrono::Utc::now() + chrono::Duration::days(7)).date_naive();
    let avail: Value = client
        .get(format!(
            "{base}/api/v1/sites/{id}/availability?motif=CNI&persons=1&from={day}&to={}",
            day + chrono::Duration::days(3)
        ))
        .send()
        .await
        .expect("availability")
        .json()
        .await
        .expect("json");
    let starts: Vec<String> = avail["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap().to_string())
        .collect();
    assert!(!starts.is_empty(), "no free slot to rush for");
    let started = Instant::now();
    let results: Vec<(u16, u16, Duration)> = stream::iter(0..clients)
        .map(|i| {
            let start = starts[(i * 7919) % starts.len()].clone();
            let id = id.clone();
            async move {
                let t = Instant::now();
                let ip = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
                let hold = client
                    .post(format!("{base}/api/v1/holds"))
                    .header("x-forwarded-for", &ip)
                    .json(&json!({"site_id": id, "motif": "CNI", "persons": 1, "start": start}))
                    .send()
                    .await;
                let Ok(hold) = hold else { return (0, 0, t.elapsed()) };
                let hs = hold.status().as_u16();
                if hs != 201 {
                    return (hs, 0, t.elapsed());
                }
                let h: Value = hold.json().await.unwrap_or_default();
                let number: String = format!("{:010X}", (i as u64) * 2654435761 % 0xFF_FFFF_FFFF);
                let body = json!({"hold_id": h["hold_id"], "citizen": {"first_name": "Charge", "last_name": format!("Test {i}"),
                                  "email": format!("rush-{i}-{}@example.fr", std::process::id())},
                                  "pre_demande_numbers": [number]});
                let cs = client
                    .post(format!("{base}/api/v1/appointments"))
                    .header("x-forwarded-for", &ip)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                (hs, cs, t.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut statuses = BTreeMap::new();
    for (h, c, _) in &results {
        *statuses.entry(if *c == 0 { *h } else { *c }).or_insert(0) += 1;
    }
    let booked = results.iter().filter(|r| r.1 == 201).count();
    println!(
        "rush on {} ({} starts over 4 days): {booked} booked",
        site["name"],
        starts.len()
    );
    report(
        "rush (hold + confirm per client)",
        results.into_iter().map(|r| r.2).collect(),
        elapsed,
        &statuses,
    );
}

async fn ants(client: &reqwest::Client, base: &str, n: usize, token: String) {
    let points: Vec<Value> = client
        .get(format!("{base}/api/ants/getManagedMeetingPoints"))
        .header("x-hub-rdv-auth-token", &token)
        .send()
        .await
        .expect("meeting points")
        .json()
        .await
        .expect("json");
    let ids: Vec<String> = points
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    let query: String = ids.iter().map(|i| format!("meeting_point_ids={i}&")).collect();
    let today = chrono::Utc::now().date_naive();
    let end = today + chrono::Duration::days(150);
    let mut lat = Vec::new();
    let mut statuses = BTreeMap::new();
    let mut slots = 0;
    let started = Instant::now();
    for i in 0..n {
        let docs = 1 + i % 5;
        let t = Instant::now();
        let r = client
            .get(format!("{base}/api/ants/availableTimeSlots?{query}start_date={today}&end_date={end}&reason=CNI&documents_number={docs}"))
            .header("x-hub-rdv-auth-token", &token)
            .send()
            .await
            .expect("request");
        *statuses.entry(r.status().as_u16()).or_insert(0) += 1;
        let body: Value = r.json().await.unwrap_or_default();
        lat.push(t.elapsed());
        slots += body
            .as_object()
            .map(|o| {
                o.values()
                    .map(|v| v.as_array().map_or(0, Vec::len))
                    .sum::<usize>()
            })
            .unwrap_or(0);
    }
    println!("availableTimeSlots: {} meeting points x 150 days, documents_number 1-5, {} slots per answer on average", ids.len(), slots / n.max(1));
    report(
        "availableTimeSlots (sequential)",
        lat,
        started.elapsed(),
        &statuses,
    );
}
