//! The ANTS editor endpoints and the pré-demande checks at booking, against the ANTS contract.

use booking_service::config::AntsUnreachablePolicy;
use e2e_tests::ants::FakeAnts;
use e2e_tests::{email, hm, numbers, paris, SiteBuilder, TestApp};
use serde_json::Value;
use sqlx::PgPool;

const HUB: &str = booking_service::config::TEST_HUB_TOKENS[1];

async fn hub(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = app.client.get(format!("{}{}", app.base, path));
    if let Some(t) = token {
        req = req.header("X-HUB-RDV-AUTH-TOKEN", t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn is_hub_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
        && s.chars()
            .enumerate()
            .all(|(i, c)| [4, 7, 10, 13, 16, 19].contains(&i) || c.is_ascii_digit())
}

#[sqlx::test(migrations = "../migrations")]
async fn hub_endpoints_answer_in_the_ants_shapes_for_every_demo_meeting_point(pool: PgPool) {
    booking_service::db::seed::seed_demo(&pool).await.unwrap();
    let now = paris(2026, 11, 30, 10, 0, 0);
    let app = TestApp::spawn(pool, now).await;
    // Authentication.
    for token in [None, Some("wrong"), Some("")] {
        let (s, body) = hub(&app, "/api/ants/getManagedMeetingPoints", token).await;
        assert_eq!(s, 401);
        assert_eq!(body["error"], "X-HUB-RDV-AUTH-TOKEN header is missing or invalid");
    }
    let (s, points) = hub(&app, "/api/ants/getManagedMeetingPoints", Some(HUB)).await;
    assert_eq!(s, 200);
    let points = points.as_array().unwrap();
    assert_eq!(points.len(), 8);
    for p in points {
        for f in ["id", "name", "public_entry_address", "zip_code", "city_name"] {
            assert!(p[f].as_str().is_some_and(|v| !v.is_empty()), "{f} in {p}");
        }
        for f in ["longitude", "latitude"] {
            assert!(p[f].as_f64().is_some(), "{f} in {p}");
        }
        assert!(
            (47.0..48.5).contains(&p["latitude"].as_f64().unwrap()),
            "a real position in m2A"
        );
        assert!(p["zip_code"].as_str().unwrap().starts_with("68"));
        for f in ["decoded_city_name", "website"] {
            assert!(p[f].is_string(), "{f} optional but a string when present");
        }
    }
    let ids: Vec<&str> = points.iter().map(|p| p["id"].as_str().unwrap()).collect();
    let q: String = ids.iter().map(|i| format!("meeting_point_ids={i}&")).collect();
    let url = format!("/api/ants/availableTimeSlots?{q}meeting_point_ids=inconnu&meeting_point_ids=00000000-0000-0000-0000-000000000000&start_date=2026-12-01&end_date=2026-12-31&reason=CNI&documents_number=2");
    let (s, slots) = hub(&app, &url, Some(HUB)).await;
    assert_eq!(s, 200, "{slots}");
    assert_eq!(slots["inconnu"], Value::Array(vec![]));
    assert_eq!(
        slots["00000000-0000-0000-0000-000000000000"],
        Value::Array(vec![])
    );
    let mut total = 0;
    for id in &ids {
        let list = slots[*id].as_array().unwrap_or_else(|| panic!("no key for {id}"));
        assert!(!list.is_empty(), "no slot for {id}");
        let times: Vec<&str> = list.iter().map(|s| s["datetime"].as_str().unwrap()).collect();
        assert!(times.iter().all(|t| is_hub_datetime(t)), "{times:?}");
        assert!(times.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        assert!(times
            .iter()
            .all(|t| ("2026-12-01".."2027-01-01").contains(&&t[..10])));
        // Same starts as the public API (local wall clock, whatever the offset), for 2 persons.
        let (_, public) = app
            .get(&format!(
                "/api/v1/sites/{id}/availability?motif=CNI&persons=2&from=2026-12-01&to=2026-12-31"
            ))
            .await;
        let wall: Vec<String> = public["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| format!("{}Z", &s["start"].as_str().unwrap()[..19]))
            .collect();
        assert_eq!(times, wall.iter().map(String::as_str).collect::<Vec<_>>());
        for s in list {
            assert!(s["callback_url"]
                .as_str()
                .unwrap()
                .starts_with("http://rdv.test/reserver?site="));
        }
        total += list.len();
    }
    assert!(total > 500);
    // documents_number scales the duration: fewer starts for 5 persons than for 1.
    let one = format!("/api/ants/availableTimeSlots?meeting_point_ids={}&start_date=2026-12-01&end_date=2026-12-31&documents_number=1", ids[0]);
    let five = one.replace("documents_number=1", "documents_number=5");
    let (_, a) = hub(&app, &one, Some(HUB)).await;
    let (_, b) = hub(&app, &five, Some(HUB)).await;
    assert!(b[ids[0]].as_array().unwrap().len() < a[ids[0]].as_array().unwrap().len());
    // None in the past: today's passed hours and the minimum notice are excluded.
    let today = format!(
        "/api/ants/availableTimeSlots?meeting_point_ids={}&start_date=2026-11-30&end_date=2026-11-30",
        ids[0]
    );
    let (_, t) = hub(&app, &today, Some(HUB)).await;
    assert!(t[ids[0]]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["datetime"].as_str().unwrap() >= "2026-11-30T12:00:00Z"));
    // Bad input: 400 in ANTS's shape, never 5xx.
    let bad = |q: &str| format!("/api/ants/availableTimeSlots?meeting_point_ids={}&{q}", ids[0]);
    let (s, body) = hub(
        &app,
        &bad("start_date=2026-12-01&end_date=2026-12-31&reason=VISA"),
        Some(HUB),
    )
    .await;
    assert_eq!(
        (s, body),
        (
            400,
            serde_json::json!({"error": {"code": 400, "message": "Invalid reason param"}})
        )
    );
    for q in [
        "start_date=2026-12-31&end_date=2026-12-01",
        "start_date=2026-12-01",
        "start_date=demain&end_date=2026-12-31",
        "start_date=2026-12-01&end_date=2028-12-31",
        "start_date=2026-12-01&end_date=2026-12-31&documents_number=zero",
    ] {
        let (s, body) = hub(&app, &bad(q), Some(HUB)).await;
        assert_eq!(s, 400, "{q}");
        assert_eq!(body["error"]["code"], 400, "{q}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_slot_listed_for_the_hub_can_be_held_booked_and_found_by_number(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(11, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool, paris(2026, 11, 30, 7, 0, 0)).await;
    let (_, slots) = hub(&app, &format!("/api/ants/availableTimeSlots?meeting_point_ids={}&start_date=2026-12-02&end_date=2026-12-02&reason=PASSPORT", site.id), Some(HUB)).await;
    let first = &slots[site.id.to_string()][0];
    assert_eq!(
        first["datetime"], "2026-12-02T09:00:00Z",
        "09:00 in Paris, shown as the hub wants it"
    );
    // The callback link shows the slot with a button; its POST holds it and opens the booking
    // form (HTML, rendered by the pages). The link alone holds nothing.
    let callback = first["callback_url"]
        .as_str()
        .unwrap()
        .replace("http://rdv.test", "");
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirect
        .get(format!("{}{callback}", app.base))
        .header("x-forwarded-for", "10.7.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.text().await.unwrap().contains("Réserver ce créneau"));
    let fields: Vec<(String, String)> = url::Url::parse(&format!("http://x{callback}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let hold_by = |client: &'static str| {
        let (no_redirect, fields, base) = (&no_redirect, &fields, &app.base);
        async move {
            no_redirect
                .post(format!("{base}/reserver"))
                .header("x-forwarded-for", client)
                .form(fields)
                .send()
                .await
                .unwrap()
        }
    };
    let resp = hold_by("10.7.0.1").await;
    assert_eq!(resp.status().as_u16(), 303);
    let form = resp.headers()["location"].to_str().unwrap().to_string();
    let hold = form.rsplit('/').next().unwrap().to_string();
    let number = numbers(1);
    let (s, booked) = app.confirm(&hold, &email(), &number).await;
    assert_eq!(s, 201, "{booked}");
    // Taken now: the same slot offers the next free times instead.
    let resp = hold_by("10.7.0.2").await;
    assert_eq!(resp.status().as_u16(), 409);
    assert!(resp.text().await.unwrap().contains("vient d&#39;être pris"));
    let lower = number[0].to_lowercase();
    let (s, found) = hub(
        &app,
        &format!("/api/ants/searchApplicationIds?application_ids={lower}&application_ids=ZZZZZ99999"),
        Some(HUB),
    )
    .await;
    assert_eq!(s, 200);
    let list = found[&lower].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["datetime"], "2026-12-02T09:00:00Z");
    assert!(list[0]["meeting_point"]
        .as_str()
        .unwrap()
        .starts_with("Mairie test"));
    let token = booked["manage_token"].as_str().unwrap();
    // The very link declared to ANTS for this number (unique per number), so the hub finds it in
    // ANTS's `status` instead of POSTing a second entry.
    assert_eq!(
        list[0]["management_url"],
        format!("http://rdv.test/rdv/{token}?application_id={}", number[0])
    );
    // And it opens the citizen's page (the number in the link changes nothing there).
    let page = app
        .client
        .get(
            list[0]["management_url"]
                .as_str()
                .unwrap()
                .replace("http://rdv.test", &app.base),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("Votre rendez-vous"));
    assert_eq!(
        list[0]["cancel_url"],
        format!("http://rdv.test/rdv/{token}/annuler")
    );
    assert_eq!(found["ZZZZZ99999"], Value::Array(vec![]));
    let (s, _) = hub(&app, "/api/ants/searchApplicationIds?application_ids=X", None).await;
    assert_eq!(s, 401);
}

#[sqlx::test(migrations = "../migrations")]
async fn booking_checks_each_number_with_ants_first(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let ants = FakeAnts::start().await;
    let (url, token) = (ants.url.clone(), ants.token.clone());
    let app = TestApp::spawn_with(pool.clone(), paris(2026, 11, 30, 7, 0, 0), |c| {
        c.ants_api.ants_api_url = Some(url);
        c.ants_api.ants_api_token = Some(booking_service::config::Secret::new(token));
    })
    .await;
    let mut start = 0;
    let mut next = || {
        start += 15;
        format!(
            "2026-12-02T{:02}:{:02}:00+01:00",
            9 + (start - 15) / 60,
            (start - 15) % 60
        )
    };
    let cases = [
        ("consumed", "pre_demande_consumed"),
        ("expired", "pre_demande_expired"),
        ("unknown", "pre_demande_unknown"),
        ("declared", "pre_demande_declared"),
    ];
    for (i, (status, code)) in cases.into_iter().enumerate() {
        let n = numbers(1);
        ants.set_status(&n[0], status);
        let (s, body) = app
            .book(site.id, 1, &next(), &format!("10.8.0.{}", 10 + i), &email(), &n)
            .await;
        assert_eq!((s, body["error"]["code"].as_str()), (422, Some(code)), "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&n[0]));
        // What the citizen should do about it, not only what is wrong.
        assert!(message.contains("ants.gouv.fr"), "{message}");
        if status == "declared" {
            // As the editors in production read it: not recognised by ANTS, not "already declared".
            assert!(
                message.contains("n'est pas officiellement reconnu par l'ANTS"),
                "{message}"
            );
        }
    }
    // Booked elsewhere: a warning naming where; going on needs the citizen's confirmation.
    let n = numbers(1);
    ants.add_foreign(&n[0], "Mairie de Colmar", "2026-12-10 10:00:00");
    let (_, hold) = app.hold(site.id, "CNI", 1, &next(), "10.8.0.2").await;
    let h = hold["hold_id"].as_str().unwrap();
    let (s, warn) = app.confirm(h, &email(), &n).await;
    assert_eq!(
        (s, warn["error"]["code"].as_str()),
        (409, Some("pre_demande_booked_elsewhere")),
        "{warn}"
    );
    assert!(warn["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Mairie de Colmar"));
    assert_eq!(
        warn["error"]["appointments"][0]["meeting_point"],
        "Mairie de Colmar"
    );
    assert!(warn["error"]["message"]
        .as_str()
        .unwrap()
        .contains("le 10/12/2026 à 10:00"));
    let body = serde_json::json!({"hold_id": h, "citizen": {"first_name": "A", "last_name": "B", "email": email()},
                                  "pre_demande_numbers": n, "confirm_other_appointments": true});
    let (s, ok) = app.post("/api/v1/appointments", &body, "10.8.0.2").await;
    assert_eq!(s, 201, "{ok}");
    let check: String =
        sqlx::query_scalar("SELECT ants_check FROM appointment_pre_demandes WHERE number = $1")
            .bind(&n[0])
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(check, "validated");
    // Every check said which meeting point asks (ANTS wants it).
    let asked = ants.status_calls();
    assert!(!asked.is_empty());
    assert!(asked
        .iter()
        .all(|c| c.meeting_point_id == Some(site.id.to_string())));
    // ANTS down: the booking is accepted after a short retry and its number flagged for reconciliation.
    ants.set_down(true);
    let n = numbers(1);
    let (s, body) = app.book(site.id, 1, &next(), "10.8.0.3", &email(), &n).await;
    assert_eq!(s, 201, "{body}");
    let check: String =
        sqlx::query_scalar("SELECT ants_check FROM appointment_pre_demandes WHERE number = $1")
            .bind(&n[0])
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(check, "unchecked");
    // The status call never ran inside the booking transaction: nothing was held open meanwhile.
    let idle: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = current_database()")
        .fetch_one(&pool).await.unwrap();
    assert_eq!(idle, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn with_the_refuse_policy_an_unreachable_ants_gets_a_503_and_books_nothing(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let ants = FakeAnts::start().await;
    ants.set_down(true);
    let url = ants.url.clone();
    let app = TestApp::spawn_with(pool.clone(), paris(2026, 11, 30, 7, 0, 0), |c| {
        c.ants_api.ants_api_url = Some(url);
        c.ants_hub.ants_unreachable_policy = booking_service::config::AntsUnreachablePolicy::Refuse;
    })
    .await;
    let (s, body) = app
        .book(
            site.id,
            1,
            "2026-12-02T09:00:00+01:00",
            "10.8.1.1",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (503, Some("ants_unavailable"))
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

async fn readyz_ants(app: &TestApp) -> String {
    let (status, body) = app.get("/readyz").await;
    assert_eq!(
        status, 200,
        "an ANTS fault never makes the service unready: {body}"
    );
    body["ants"].as_str().unwrap_or_default().to_string()
}

async fn refused_token_counter(app: &TestApp) -> u64 {
    let (_, text) = app.get_text("/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix("ants_unauthorized_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ants_unauthorized_total in {text}"))
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refused_token_is_loud_and_bookings_go_on_unchecked_until_it_is_fixed(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let ants = FakeAnts::start().await;
    let url = ants.url.clone();
    let with_token = |token: &'static str, policy: AntsUnreachablePolicy| {
        let url = url.clone();
        move |c: &mut booking_service::config::ServeConfig| {
            c.ants_api.ants_api_url = Some(url);
            c.ants_api.ants_api_token = Some(booking_service::config::Secret::new(token));
            c.ants_hub.ants_unreachable_policy = policy;
        }
    };
    let now = paris(2026, 11, 30, 7, 0, 0);
    let app = TestApp::spawn_with(
        pool.clone(),
        now,
        with_token("jeton-perime", AntsUnreachablePolicy::Accept),
    )
    .await;
    assert_eq!(readyz_ants(&app).await, "unknown");
    let counted = refused_token_counter(&app).await;
    // Under the default `accept` policy the booking goes through, its number left for reconciliation.
    let n = numbers(1);
    let (s, body) = app
        .book(site.id, 1, "2026-12-02T09:00:00+01:00", "10.8.2.1", &email(), &n)
        .await;
    assert_eq!(s, 201, "{body}");
    let check: String =
        sqlx::query_scalar("SELECT ants_check FROM appointment_pre_demandes WHERE number = $1")
            .bind(&n[0])
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(check, "unchecked", "never recorded as checked");
    // Loud: readiness says why, the counter moved; one call only (a refused token is not retried).
    assert_eq!(readyz_ants(&app).await, "unauthorized");
    assert!(refused_token_counter(&app).await > counted);
    assert_eq!(ants.refused_tokens(), 1);
    assert!(ants.status_calls().is_empty());
    // An outage meanwhile does not hide it.
    ants.set_down(true);
    let (s, _) = app
        .book(
            site.id,
            1,
            "2026-12-02T09:30:00+01:00",
            "10.8.2.2",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(readyz_ants(&app).await, "unauthorized");
    ants.set_down(false);
    // Under the `refuse` policy a refused token refuses the booking like an outage.
    let strict = TestApp::spawn_with(
        pool.clone(),
        now,
        with_token("jeton-perime", AntsUnreachablePolicy::Refuse),
    )
    .await;
    let (s, body) = strict
        .book(
            site.id,
            1,
            "2026-12-02T10:00:00+01:00",
            "10.8.2.3",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (503, Some("ants_unavailable")),
        "{body}"
    );
    // Fixed token (a restart with the right configuration): checked again, and said so.
    let fixed = TestApp::spawn_with(
        pool.clone(),
        now,
        with_token("ants-test-token", AntsUnreachablePolicy::Accept),
    )
    .await;
    let m = numbers(1);
    let (s, body) = fixed
        .book(site.id, 1, "2026-12-02T10:30:00+01:00", "10.8.2.4", &email(), &m)
        .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(readyz_ants(&fixed).await, "ok");
    let checks: Vec<(String, String)> =
        sqlx::query_as("SELECT number, ants_check FROM appointment_pre_demandes ORDER BY number")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(checks.len(), 3, "nothing lost: {checks:?}");
    assert!(checks.contains(&(m[0].clone(), "validated".to_string())));
    assert!(checks.contains(&(n[0].clone(), "unchecked".to_string())));
}
