//! Load generator against a running booking-service (see BENCHMARKS.md).
//!
//! ```text
//! loadgen availability [BASE_URL] [REQUESTS] [CONCURRENCY]   # public availability reads, all demo sites
//! loadgen rush [BASE_URL] [CLIENTS] [CONCURRENCY] [SLOTS]    # clients hold then book SLOTS station-slots of one site
//! loadgen ants [BASE_URL] [REQUESTS] [TOKEN] [POINTS]        # availableTimeSlots, POINTS meeting points (default all), 150 days
//! loadgen healthz [BASE_URL] [REQUESTS] [CONCURRENCY]        # the server's floor: GET /healthz
//! loadgen book [BASE_URL] [BOOKINGS] [CONCURRENCY]           # sustained hold + confirm over distinct free slots
//! loadgen earliest [BASE_URL] [REQUESTS] [CONCURRENCY]       # earliest in France, in a département, near a commune
//! ```
//! The server must run with `TRUSTED_PROXIES=127.0.0.1` for `rush` and `book`: each simulated
//! client sends its own `X-Forwarded-For` address, as it would behind the production proxy. With
//! `DATABASE_URL` set, `rush` and `book` count overlapping appointments by SQL afterwards.

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
        "rush" => rush(&client, &base, arg(3, 500), arg(4, 100), arg(5, 0)).await,
        "ants" => {
            ants(
                &client,
                &base,
                arg(3, 50),
                arg(4, String::new()),
                arg(5, usize::MAX),
            )
            .await
        }
        "healthz" => healthz(&client, &base, arg(3, 20000), arg(4, 64)).await,
        "book" => book(&client, &base, arg(3, 5000), arg(4, 64)).await,
        "earliest" => earliest(&client, &base, arg(3, 3000), arg(4, 64)).await,
        other => eprintln!("unknown mode {other}: availability, rush, ants, healthz, book or earliest"),
    }
}

/// Overlapping live appointments, by SQL, when `DATABASE_URL` is given.
async fn check_overlaps() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        println!("(DATABASE_URL not set: overlaps not counted)");
        return;
    };
    let pool = sqlx::PgPool::connect(&url).await.expect("database");
    let n = e2e_tests::overlapping_pairs(&pool).await;
    println!("overlapping live appointments by SQL: {n}");
    assert_eq!(n, 0, "overlapping appointments");
}

/// Runs `n` GETs of `path_of(i)` with `concurrency` in flight and reports them as `name`.
async fn gets(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    n: usize,
    concurrency: usize,
    path_of: impl Fn(usize) -> String,
) {
    let started = Instant::now();
    let results: Vec<(u16, Duration)> = stream::iter(0..n)
        .map(|i| {
            let url = format!("{base}{}", path_of(i));
            async move {
                let t = Instant::now();
                let s = match client.get(url).send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        // The body is read, as a client would.
                        let _ = r.bytes().await;
                        s
                    }
                    Err(_) => 0,
                };
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
        name,
        results.into_iter().map(|r| r.1).collect(),
        elapsed,
        &statuses,
    );
}

async fn healthz(client: &reqwest::Client, base: &str, n: usize, concurrency: usize) {
    gets(client, base, "healthz", n, concurrency, |_| {
        "/healthz".to_string()
    })
    .await;
}

async fn earliest(client: &reqwest::Client, base: &str, n: usize, concurrency: usize) {
    let sites = sites(client, base).await;
    let mut departments: Vec<String> = sites
        .iter()
        .filter_map(|s| s["department_code"].as_str().map(str::to_string))
        .collect();
    departments.sort();
    departments.dedup();
    let communes: Vec<String> = sites
        .iter()
        .filter_map(|s| s["commune_insee"].as_str().map(str::to_string))
        .collect();
    let q = "/api/v1/availability/earliest?motif=CNI&persons=1&limit=10";
    gets(client, base, "earliest in France", n, concurrency, |_| {
        q.to_string()
    })
    .await;
    gets(client, base, "earliest in a département", n, concurrency, |i| {
        format!("{q}&department={}", departments[(i * 7919) % departments.len()])
    })
    .await;
    gets(client, base, "earliest near a commune", n, concurrency, |i| {
        format!("{q}&near_commune={}", communes[(i * 7919) % communes.len()])
    })
    .await;
}

/// Free starts of the sites, a week ahead, interleaved so that neighbours in the list are at
/// different sites: `(site id, start)`, at most `n`.
async fn free_targets(client: &reqwest::Client, base: &str, n: usize) -> Vec<(String, String)> {
    let sites = sites(client, base).await;
    let from = (chrono::Utc::now() + chrono::Duration::days(7)).date_naive();
    let to = from + chrono::Duration::days(6);
    let mut per_site: Vec<Vec<(String, String)>> = Vec::new();
    let mut total = 0;
    for s in &sites {
        if total >= n {
            break;
        }
        let id = s["id"].as_str().unwrap().to_string();
        let avail: Value = client
            .get(format!(
                "{base}/api/v1/sites/{id}/availability?motif=CNI&persons=1&from={from}&to={to}"
            ))
            .send()
            .await
            .expect("availability")
            .json()
            .await
            .unwrap_or_default();
        let starts: Vec<(String, String)> = avail["slots"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["start"].as_str())
            .map(|start| (id.clone(), start.to_string()))
            .collect();
        total += starts.len();
        per_site.push(starts);
    }
    let mut out = Vec::with_capacity(n);
    let mut round = 0;
    while out.len() < n && per_site.iter().any(|s| s.len() > round) {
        out.extend(per_site.iter().filter_map(|s| s.get(round).cloned()));
        round += 1;
    }
    out.truncate(n);
    out
}

async fn book(client: &reqwest::Client, base: &str, n: usize, concurrency: usize) {
    // Several instances, comma-separated: each booking's hold goes to one and its confirmation
    // to the next, as a round-robin balancer would send them.
    let bases: Vec<&str> = base.split(',').collect();
    let bases = &bases;
    let targets = free_targets(client, bases[0], n).await;
    assert!(!targets.is_empty(), "no free slot to book");
    let sites = targets
        .iter()
        .map(|t| &t.0)
        .collect::<std::collections::HashSet<_>>()
        .len();
    let started = Instant::now();
    let results: Vec<(u16, u16, Duration)> = stream::iter(targets.into_iter().enumerate())
        .map(|(i, (site, start))| async move {
            let t = Instant::now();
            let ip = format!("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256);
            let at = (bases[i % bases.len()], bases[(i + 1) % bases.len()]);
            let (hs, cs) = hold_and_confirm(client, at, &ip, &site, &start, i).await;
            (hs, cs, t.elapsed())
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
        "book: {booked} booked over {sites} sites in {:.2} s = {:.0} bookings/s",
        elapsed.as_secs_f64(),
        booked as f64 / elapsed.as_secs_f64()
    );
    report(
        "book (hold + confirm per slot)",
        results.into_iter().map(|r| r.2).collect(),
        elapsed,
        &statuses,
    );
    check_overlaps().await;
}

/// Holds `start` at `site` on the first instance then confirms it on the second, as client `ip`:
/// the two statuses (0 for the confirmation when the hold failed).
async fn hold_and_confirm(
    client: &reqwest::Client,
    (base, confirm_base): (&str, &str),
    ip: &str,
    site: &str,
    start: &str,
    i: usize,
) -> (u16, u16) {
    let hold = client
        .post(format!("{base}/api/v1/holds"))
        .header("x-forwarded-for", ip)
        .json(&json!({"site_id": site, "motif": "CNI", "persons": 1, "start": start}))
        .send()
        .await;
    let Ok(hold) = hold else { return (0, 0) };
    let hs = hold.status().as_u16();
    if hs != 201 {
        return (hs, 0);
    }
    let h: Value = hold.json().await.unwrap_or_default();
    // Distinct across runs too (a number in two live appointments is refused).
    let salt = u64::from(std::process::id()) * 1_000_003;
    let number: String = format!("{:010X}", (i as u64 + 1 + salt) * 2654435761 % 0xFF_FFFF_FFFF);
    let body = json!({"hold_id": h["hold_id"], "citizen": {"first_name": "Charge", "last_name": format!("Test {i}"),
                      "email": format!("load-{i}-{}@example.fr", std::process::id())},
                      "pre_demande_numbers": [number]});
    let cs = client
        .post(format!("{confirm_base}/api/v1/appointments"))
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    (hs, cs)
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

async fn rush(client: &reqwest::Client, base: &str, clients: usize, concurrency: usize, supply: usize) {
    // With SLOTS: a site whose station count divides it, on days three weeks ahead (left
    // alone by `book`), and exactly SLOTS station-slots offered (starts x stations, every station
    // free). Without: the site with the most stations, a week ahead, every start of four days.
    let all = sites(client, base).await;
    let site = if supply > 0 {
        // The last in the list (`book` takes the first ones) among those with the most stations.
        all.into_iter()
            .filter(|s| {
                s["stations"]
                    .as_u64()
                    .is_some_and(|n| n > 0 && (supply as u64).is_multiple_of(n))
            })
            .max_by_key(|s| s["stations"].as_i64().unwrap_or(0))
            .expect("a site whose station count divides SLOTS")
    } else {
        all.into_iter()
            .max_by_key(|s| s["stations"].as_i64().unwrap_or(0))
            .expect("a site")
    };
    let stations = site["stations"].as_u64().unwrap_or(1) as usize;
    let id = site["id"].as_str().unwrap().to_string();
    let ahead = if supply > 0 { 21 } else { 7 };
    let day = (chrono::Utc::now() + chrono::Duration::days(ahead)).date_naive();
    let days = if supply > 0 { 13 } else { 3 };
    let avail: Value = client
        .get(format!(
            "{base}/api/v1/sites/{id}/availability?motif=CNI&persons=1&from={day}&to={}",
            day + chrono::Duration::days(days)
        ))
        .send()
        .await
        .expect("availability")
        .json()
        .await
        .expect("json");
    let mut starts: Vec<String> = avail["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap().to_string())
        .collect();
    if supply > 0 {
        assert!(
            starts.len() * stations >= supply,
            "not enough free starts for {supply}"
        );
        starts.truncate(supply / stations);
        println!(
            "supply: {} starts x {stations} stations = {supply} station-slots",
            starts.len()
        );
    }
    assert!(!starts.is_empty(), "no free slot to rush for");
    let started = Instant::now();
    let results: Vec<(u16, u16, Duration)> = stream::iter(0..clients)
        .map(|i| {
            let start = starts[(i * 7919) % starts.len()].clone();
            let id = id.clone();
            async move {
                let t = Instant::now();
                let ip = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
                let (hs, cs) = hold_and_confirm(client, (base, base), &ip, &id, &start, i).await;
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
        "rush on {} ({} starts): {booked} booked",
        site["name"],
        starts.len()
    );
    report(
        "rush (hold + confirm per client)",
        results.into_iter().map(|r| r.2).collect(),
        elapsed,
        &statuses,
    );
    if supply > 0 {
        assert_eq!(booked, supply, "every offered station-slot booked exactly once");
    }
    check_overlaps().await;
}

async fn ants(client: &reqwest::Client, base: &str, n: usize, token: String, max_points: usize) {
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
        .take(max_points)
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
