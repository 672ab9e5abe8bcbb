//! The earliest search orders sites by lower bounds kept in memory and looks closely at the first
//! few only. Checked here against brute force: each site's own availability (holds applied), merged
//! and sorted, over many sites with different hours, bookings and holds, and again after the
//! clock moves and after a booking (the kept bounds must follow both).

use chrono::Duration;
use e2e_tests::{email, hm, insert_appointment, numbers, paris, SiteBuilder, TestApp, TestSite};
use serde_json::Value;
use sqlx::PgPool;

const SITES: usize = 12;
const LIMIT: usize = 25;

/// Site `i` opens on one or two weekdays, at its own hours.
fn builder(i: usize) -> SiteBuilder {
    let wd = i16::try_from(1 + i % 5).expect("weekday");
    let start = hm(8 + u32::try_from(i % 4).expect("hour"), 0);
    let end = hm(11 + u32::try_from(i % 3).expect("hour"), 30);
    let mut rules = vec![(0, wd, start, end)];
    if i.is_multiple_of(3) {
        rules.push((0, 1 + (wd % 5), hm(14, 0), hm(16, 0)));
    }
    SiteBuilder {
        rules,
        step: if i.is_multiple_of(2) { 15 } else { 20 },
        min_notice_minutes: 60 * i32::try_from(i % 3).expect("notice"),
        ..SiteBuilder::default()
    }
}

/// `(site, start)` of the merged availability of every site over the next 60 days, sorted as the
/// search sorts (start, then site id), the first `LIMIT`.
async fn brute_force(app: &TestApp, sites: &[TestSite], from: &str, to: &str) -> Vec<(String, String)> {
    let mut all: Vec<(chrono::DateTime<chrono::FixedOffset>, String, String)> = Vec::new();
    for s in sites {
        let (status, body) = app
            .get(&format!(
                "/api/v1/sites/{}/availability?motif=CNI&persons=1&from={from}&to={to}",
                s.id
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        for slot in body["slots"].as_array().expect("slots") {
            let start = slot["start"].as_str().expect("start").to_string();
            let at = chrono::DateTime::parse_from_rfc3339(&start).expect("rfc3339");
            all.push((at, s.id.to_string(), start));
        }
    }
    all.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    all.into_iter()
        .take(LIMIT)
        .map(|(_, site, start)| (site, start))
        .collect()
}

async fn searched(app: &TestApp) -> Vec<(String, String)> {
    let (status, body) = app
        .get(&format!(
            "/api/v1/availability/earliest?motif=CNI&persons=1&limit={LIMIT}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    body["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .map(|s: &Value| {
            (
                s["site_id"].as_str().expect("site").to_string(),
                s["start"].as_str().expect("start").to_string(),
            )
        })
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_earliest_search_equals_brute_force_across_sites_holds_and_time(pool: PgPool) {
    let mut sites = Vec::new();
    for i in 0..SITES {
        sites.push(builder(i).create(&pool).await);
    }
    let now = paris(2026, 11, 30, 7, 0, 0);
    // The first hours of some sites are booked already.
    for (i, s) in sites.iter().enumerate().filter(|(i, _)| i % 4 == 1) {
        let day = 30 + (i % 5) as u32;
        let (m, d) = if day > 30 { (12, day - 30) } else { (11, 30) };
        let start = paris(2026, m, d, 8 + (i % 4) as u32, 0, 0);
        insert_appointment(
            &pool,
            s.id,
            s.stations[0],
            start,
            start + Duration::minutes(15),
            "booked",
        )
        .await;
    }
    let app = TestApp::spawn(pool.clone(), now).await;
    let want = brute_force(&app, &sites, "2026-11-30", "2027-01-28").await;
    assert_eq!(want.len(), LIMIT);
    assert_eq!(searched(&app).await, want, "first search");

    // A hold on the very first start and a booking on the third: both leave the answers.
    let (site0, start0) = want[0].clone();
    let (status, hold) = app
        .hold(site0.parse().expect("uuid"), "CNI", 1, &start0, "10.1.1.1")
        .await;
    assert_eq!(status, 201, "{hold}");
    let (site2, start2) = want[2].clone();
    let (status, body) = app
        .book(
            site2.parse().expect("uuid"),
            1,
            &start2,
            "10.1.1.2",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let want = brute_force(&app, &sites, "2026-11-30", "2027-01-28").await;
    assert!(!want.contains(&(site0.clone(), start0.clone())));
    assert_eq!(searched(&app).await, want, "after a hold and a booking");

    // Two days later: the kept bounds were computed on the 30th.
    app.clock.set(paris(2026, 12, 2, 10, 5, 0));
    let want = brute_force(&app, &sites, "2026-12-02", "2027-01-30").await;
    assert_eq!(searched(&app).await, want, "two days later");

    // Every start of the first site in the list booked by SQL (no service code, so only the
    // version announcement tells), then freed again: the search follows both ways.
    let (first_site, first_start) = want[0].clone();
    let at = chrono::DateTime::parse_from_rfc3339(&first_start)
        .expect("rfc3339")
        .to_utc();
    let site = sites
        .iter()
        .find(|s| s.id.to_string() == first_site)
        .expect("site");
    let taken = insert_appointment(
        &pool,
        site.id,
        site.stations[0],
        at,
        at + Duration::minutes(15),
        "booked",
    )
    .await;
    e2e_tests::wait_until(
        "the booked start to leave the search",
        std::time::Duration::from_secs(2),
        || async {
            !searched(&app)
                .await
                .contains(&(first_site.clone(), first_start.clone()))
        },
    )
    .await;
    let want = brute_force(&app, &sites, "2026-12-02", "2027-01-30").await;
    assert_eq!(searched(&app).await, want, "after a booking made in SQL");
    sqlx::query("UPDATE appointments SET status = 'cancelled' WHERE id = $1")
        .bind(taken)
        .execute(&pool)
        .await
        .expect("cancel");
    e2e_tests::wait_until(
        "the freed start to come back",
        std::time::Duration::from_secs(2),
        || async { searched(&app).await.first() == Some(&(first_site.clone(), first_start.clone())) },
    )
    .await;
}
