//! The waiting list, through the API: a day fully booked, subscribers in order; a cancellation
//! offers the slot to the first only (held: nobody else can take it); a lapsed offer passes it to
//! the next, who accepts; the third is never offered it. Under concurrency (twenty cancellations
//! across two instances, twenty subscribers, citizens trying to grab the freed slots at the same
//! time) no slot is ever offered to two people nor booked twice.

use e2e_tests::{email, hm, numbers, overlapping_pairs, paris, starts, SiteBuilder, TestApp};
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const DAY: &str = "2026-12-02";
const NINE: &str = "2026-12-02T09:00:00+01:00";

/// A fast sweep, so that the tests need not wait for the default five seconds.
fn quick(c: &mut booking_service::config::ServeConfig) {
    c.waitlist_sweep_ms = 100;
}

async fn subscribe(app: &TestApp, site: Uuid, client: &str) -> String {
    let (status, body) = app
        .post(
            "/api/v1/waitlist",
            &json!({"site_id": site, "motif": "CNI", "persons": 1, "email": email(), "from": DAY, "to": DAY}),
            client,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["manage_url"]
        .as_str()
        .is_some_and(|u| u.contains("/liste-attente/")));
    body["token"].as_str().expect("token").to_string()
}

async fn entry(app: &TestApp, token: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/waitlist/{token}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until the subscription's status is `want` (up to ten seconds).
async fn until_status(app: &TestApp, token: &str, want: &str) -> Value {
    let t = Instant::now();
    loop {
        let e = entry(app, token).await;
        if e["status"] == want {
            return e;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "still {} instead of {want}",
            e["status"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn accept(app: &TestApp, token: &str, client: &str) -> (u16, Value) {
    app.post(
        &format!("/api/v1/waitlist/{token}/accept"),
        &json!({
            "citizen": {"first_name": "Claude", "last_name": "Attente", "email": email()},
            "pre_demande_numbers": numbers(1),
        }),
        client,
    )
    .await
}

async fn offers_of(pool: &PgPool, token_entry_status: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM waitlist_offers WHERE status = $1")
        .bind(token_entry_status)
        .fetch_one(pool)
        .await
        .expect("count")
}

/// Books every start of the site's Wednesday; returns the management tokens.
async fn book_the_day(app: &TestApp, site: Uuid, per_start: usize) -> Vec<String> {
    let mut tokens = Vec::new();
    for start in ["09:00", "09:15", "09:30", "09:45"] {
        for _ in 0..per_start {
            let at = format!("{DAY}T{start}:00+01:00");
            let (status, body) = app.book(site, 1, &at, "10.1.0.1", &email(), &numbers(1)).await;
            assert_eq!(status, 201, "{body}");
            tokens.push(body["manage_token"].as_str().expect("token").to_string());
        }
    }
    tokens
}

async fn day_starts(app: &TestApp, site: Uuid) -> Vec<String> {
    let (status, body) = app
        .get(&format!(
            "/api/v1/sites/{site}/availability?motif=CNI&persons=1&from={DAY}&to={DAY}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    starts(&body)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_freed_slot_goes_to_the_first_subscriber_then_to_the_next_when_the_offer_lapses(pool: PgPool) {
    let site = SiteBuilder {
        rules: vec![(0, 3, hm(9, 0), hm(10, 0))],
        ..SiteBuilder::default()
    }
    .create(&pool)
    .await;
    let app = TestApp::spawn_with(pool.clone(), paris(2026, 11, 30, 7, 0, 0), quick).await;
    let booked = book_the_day(&app, site.id, 1).await;
    assert!(day_starts(&app, site.id).await.is_empty());
    let (first, second, third) = (
        subscribe(&app, site.id, "10.2.0.1").await,
        subscribe(&app, site.id, "10.2.0.2").await,
        subscribe(&app, site.id, "10.2.0.3").await,
    );
    for (token, position) in [(&first, 1), (&second, 2), (&third, 3)] {
        let e = entry(&app, token).await;
        assert_eq!(e["status"], "waiting");
        assert_eq!(e["position"], position);
        assert_eq!(e["offer"], Value::Null);
    }
    // Staff see the list's length (a subscription by commune within its radius counts too).
    let (status, body) = app
        .post(
            "/api/v1/waitlist",
            &json!({"commune_insee": "68118", "radius_km": 15, "motif": "CNI", "persons": 1,
                    "email": email(), "from": DAY, "to": DAY}),
            "10.2.0.4",
        )
        .await;
    assert_eq!(status, 201, "{body}");
    booking_service::staff::accounts::create_account(
        &pool,
        "chef@rixheim.fr",
        e2e_tests::STAFF_PASSWORD,
        "Claire Chef",
        booking_service::staff::Role::CommuneAdmin,
        Some("68278"),
    )
    .await
    .unwrap();
    let admin = app.staff_token("chef@rixheim.fr").await;
    let (status, stats) = app
        .call(
            "GET",
            &format!("/api/v1/staff/sites/{}/statistics", site.id),
            &Value::Null,
            Some(&admin),
        )
        .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["waitlist_open"], 4);

    // 09:00 is cancelled: offered to the first only, and held from everybody else.
    let (status, body) = app
        .post(
            &format!("/api/v1/manage/{}/cancel", booked[0]),
            &json!({}),
            "10.1.0.1",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let e = until_status(&app, &first, "offered").await;
    assert_eq!(e["offer"]["start"], NINE);
    assert_eq!(e["offer"]["site_id"], site.id.to_string());
    assert_eq!(e["offer"]["expires_at"], "2026-11-30T09:00:00+01:00");
    for token in [&second, &third] {
        assert_eq!(entry(&app, token).await["status"], "waiting");
    }
    assert!(
        day_starts(&app, site.id).await.is_empty(),
        "an offered slot is not public"
    );
    let (status, body) = app.hold(site.id, "CNI", 1, NINE, "10.3.0.1").await;
    assert_eq!(status, 409, "somebody else held the offered slot: {body}");
    // The offer email is queued for the notifier.
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE kind = 'waitlist_offer'")
        .fetch_one(&pool)
        .await
        .expect("outbox");
    assert_eq!(queued, 1);

    // The first does not answer in time: the offer lapses and the slot goes to the second.
    app.clock.advance(chrono::Duration::minutes(121));
    let e = until_status(&app, &second, "offered").await;
    assert_eq!(e["offer"]["start"], NINE);
    assert_eq!(entry(&app, &first).await["status"], "expired");
    let (status, body) = accept(&app, &first, "10.2.0.1").await;
    assert_eq!(status, 410, "a lapsed offer was accepted: {body}");
    assert_eq!(entry(&app, &third).await["status"], "waiting");

    // The second accepts: an appointment like any other, at 09:00.
    let (status, body) = accept(&app, &second, "10.2.0.2").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["start"], NINE);
    assert!(body["manage_url"].as_str().is_some_and(|u| u.contains("/rdv/")));
    let e = entry(&app, &second).await;
    assert_eq!(
        (e["status"].as_str(), &e["offer"]),
        (Some("booked"), &Value::Null)
    );
    let (status, _) = accept(&app, &second, "10.2.0.2").await;
    assert_eq!(status, 410, "an offer books once");

    // The third was never offered that slot, and is still waiting.
    let third_offers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM waitlist_offers o JOIN waitlist_entries e ON e.id = o.entry_id
         WHERE e.token_hash = sha256(convert_to($1, 'UTF8'))",
    )
    .bind(&third)
    .fetch_one(&pool)
    .await
    .expect("third's offers");
    assert_eq!(third_offers, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(entry(&app, &third).await["status"], "waiting");
    assert_eq!(overlapping_pairs(&pool).await, 0);

    // Unsubscribing is one call; the token then shows the end.
    assert_eq!(app.delete(&format!("/api/v1/waitlist/{third}")).await, 204);
    assert_eq!(entry(&app, &third).await["status"], "cancelled");
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_subscriptions_get_clear_4xx(pool: PgPool) {
    let site = SiteBuilder {
        rules: vec![(0, 3, hm(9, 0), hm(10, 0))],
        ..SiteBuilder::default()
    }
    .create(&pool)
    .await;
    let app = TestApp::spawn_with(pool, paris(2026, 11, 30, 7, 0, 0), quick).await;
    let base = json!({"motif": "CNI", "persons": 1, "email": email(), "from": DAY, "to": DAY});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().expect("object") {
            b[k] = v.clone();
        }
        b
    };
    for (body, status, code) in [
        (with(json!({})), 422, "waitlist_place"),
        (
            with(json!({"site_id": site.id, "commune_insee": "68278", "radius_km": 10})),
            422,
            "waitlist_place",
        ),
        (with(json!({"site_id": Uuid::new_v4()})), 404, "site_not_found"),
        (
            with(json!({"site_id": site.id, "email": "pas-un-email"})),
            422,
            "invalid_field",
        ),
        (
            with(json!({"site_id": site.id, "persons": 0})),
            422,
            "invalid_field",
        ),
        (
            with(json!({"site_id": site.id, "from": "2026-12-09", "to": DAY})),
            422,
            "range_inverted",
        ),
        (
            with(json!({"site_id": site.id, "to": "2027-12-31"})),
            422,
            "range_out_of_bounds",
        ),
        (
            with(json!({"commune_insee": "68126", "radius_km": 500})),
            422,
            "radius_out_of_bounds",
        ),
        (
            with(json!({"commune_insee": "99999", "radius_km": 10})),
            404,
            "commune_not_found",
        ),
    ] {
        let (got, answer) = app.post("/api/v1/waitlist", &body, "10.4.0.1").await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body} → {answer}"
        );
    }
    let (got, answer) = app.get("/api/v1/waitlist/not-a-token").await;
    assert_eq!(
        (got, answer["error"]["code"].as_str()),
        (404, Some("waitlist_not_found"))
    );
    // By commune and radius: Habsheim has no mairie equipped, the test site is 6 km away.
    let (got, answer) = app
        .post(
            "/api/v1/waitlist",
            &with(json!({"commune_insee": "68118", "radius_km": 15})),
            "10.4.0.1",
        )
        .await;
    assert_eq!(got, 201, "{answer}");
    let near = answer["token"].as_str().unwrap().to_string();
    // From Paris, 10 km: no site of this territory is that close.
    let (got, answer) = app
        .post(
            "/api/v1/waitlist",
            &with(json!({"commune_insee": "75056", "radius_km": 10})),
            "10.4.0.1",
        )
        .await;
    assert_eq!(got, 201, "{answer}");
    let far = answer["token"].as_str().unwrap().to_string();
    // The day has free slots: the subscriber around Habsheim is offered one at once, not the other.
    let e = until_status(&app, &near, "offered").await;
    assert_eq!(e["offer"]["site_id"], site.id.to_string());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(entry(&app, &far).await["status"], "waiting");
}

#[sqlx::test(migrations = "../migrations")]
async fn twenty_concurrent_cancellations_never_offer_a_slot_twice_nor_book_it_twice(
    _opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(connect.clone())
        .await
        .expect("pool");
    // Five stations, four starts: twenty appointments fill the day.
    let site = SiteBuilder {
        stations: 5,
        ..SiteBuilder::default()
    };
    let rules = (0..5).map(|st| (st, 3, hm(9, 0), hm(10, 0))).collect();
    let site = SiteBuilder { rules, ..site }.create(&pool).await;
    let now = paris(2026, 11, 30, 7, 0, 0);
    let own = |n| {
        PgPoolOptions::new()
            .max_connections(n)
            .connect_with(connect.clone())
    };
    let a = Arc::new(TestApp::spawn_with(own(10).await.expect("pool"), now, quick).await);
    let prefix = a.redis_prefix.clone();
    let b = Arc::new(
        TestApp::spawn_with(own(10).await.expect("pool"), now, move |c| {
            quick(c);
            c.redis_key_prefix = prefix;
        })
        .await,
    );
    let booked = book_the_day(&a, site.id, 5).await;
    let mut subscribers = Vec::new();
    for i in 0..20 {
        subscribers.push(subscribe(if i % 2 == 0 { &a } else { &b }, site.id, &format!("10.5.0.{i}")).await);
    }
    // Twenty cancellations at once, half through each instance, while twenty citizens try to hold
    // the freed starts on both.
    let mut tasks = Vec::new();
    for (i, token) in booked.iter().enumerate() {
        let app = if i % 2 == 0 { a.clone() } else { b.clone() };
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let (status, body) = app
                .post(&format!("/api/v1/manage/{token}/cancel"), &json!({}), "10.6.0.1")
                .await;
            assert_eq!(status, 200, "{body}");
        }));
    }
    let mut grabbed = Vec::new();
    for i in 0..20 {
        let app = if i % 2 == 0 { b.clone() } else { a.clone() };
        let start = format!("{DAY}T09:{:02}:00+01:00", (i % 4) * 15);
        grabbed.push(tokio::spawn(async move {
            let (status, body) = app
                .book(site.id, 1, &start, &format!("10.7.0.{i}"), &email(), &numbers(1))
                .await;
            assert!(matches!(status, 201 | 409), "{status} {body}");
            status == 201
        }));
    }
    for t in tasks {
        t.await.expect("cancel");
    }
    let mut won_by_public = 0;
    for g in grabbed {
        if g.await.expect("grab") {
            won_by_public += 1;
        }
    }
    // Every freed slot goes either to a citizen who grabbed it or to a subscriber: wait until the
    // subscribers hold the rest.
    let t = Instant::now();
    loop {
        let offered = offers_of(&pool, "offered").await;
        if offered + won_by_public >= 20 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "{offered} offered + {won_by_public} booked"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Never one slot offered twice (over the whole history of offers), nor one subscriber twice.
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM waitlist_offers a JOIN waitlist_offers b
           ON a.id < b.id AND ((a.station_id = b.station_id AND a.during && b.during) OR a.entry_id = b.entry_id)",
    )
    .fetch_one(&pool)
    .await
    .expect("offers twice");
    assert_eq!(twice, 0);
    // Every offered subscriber accepts, at once, through both instances.
    let mut accepts = Vec::new();
    for (i, token) in subscribers.iter().enumerate() {
        let app = if i % 2 == 0 { a.clone() } else { b.clone() };
        let token = token.clone();
        accepts.push(tokio::spawn(async move {
            if entry(&app, &token).await["status"] != "offered" {
                return false;
            }
            let (status, body) = accept(&app, &token, &format!("10.8.0.{i}")).await;
            assert_eq!(status, 201, "{body}");
            true
        }));
    }
    let mut accepted = 0;
    for t in accepts {
        if t.await.expect("accept") {
            accepted += 1;
        }
    }
    assert_eq!(accepted + won_by_public, 20, "every freed slot was booked once");
    assert_eq!(overlapping_pairs(&pool).await, 0);
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM appointments WHERE site_id = $1 AND status = 'booked'")
            .bind(site.id)
            .fetch_one(&pool)
            .await
            .expect("live");
    assert_eq!(live, 20);
}

#[sqlx::test(migrations = "../migrations")]
async fn without_redis_the_database_alone_keeps_the_offered_slot(pool: PgPool) {
    let site = SiteBuilder {
        rules: vec![(0, 3, hm(9, 0), hm(10, 0))],
        ..SiteBuilder::default()
    }
    .create(&pool)
    .await;
    // Nothing listens there: holds are bare tokens, the offer has no Redis reservation.
    let app = TestApp::spawn_with(pool.clone(), paris(2026, 11, 30, 7, 0, 0), |c| {
        quick(c);
        c.redis_url = "redis://127.0.0.1:1/0".into();
    })
    .await;
    let booked = book_the_day(&app, site.id, 1).await;
    let subscriber = subscribe(&app, site.id, "10.2.0.1").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/manage/{}/cancel", booked[0]),
            &json!({}),
            "10.1.0.1",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    until_status(&app, &subscriber, "offered").await;
    assert!(
        day_starts(&app, site.id).await.is_empty(),
        "an offered slot is not public"
    );
    let (status, body) = app
        .book(site.id, 1, NINE, "10.3.0.1", &email(), &numbers(1))
        .await;
    assert_eq!(status, 409, "somebody else booked the offered slot: {body}");
    let (status, body) = accept(&app, &subscriber, "10.2.0.1").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(overlapping_pairs(&pool).await, 0);
}

async fn drain_mail(app: &TestApp, dir: &std::path::Path) {
    let mut c = notifier::config::NotifierConfig::for_tests("postgres://unused", dir.to_path_buf());
    c.public_base_url = app.base.clone();
    let w = notifier::worker::Worker::new(app.pool.clone(), c, Arc::new(app.clock.clone())).unwrap();
    while w.process_batch().await.unwrap() > 0 {}
}

/// The emails written to `dir`, parsed: (subject, plain text).
fn mails(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in std::fs::read_dir(dir).unwrap() {
        let raw = std::fs::read(f.unwrap().path()).unwrap();
        let m = mail_parser::MessageParser::default().parse(&raw[..]).unwrap();
        out.push((
            m.subject().unwrap_or_default().to_string(),
            m.body_text(0).unwrap_or_default().to_string(),
        ));
    }
    out
}

#[sqlx::test(migrations = "../migrations")]
async fn a_citizen_joins_from_the_site_page_and_books_the_offer_from_the_email(pool: PgPool) {
    use e2e_tests::browser::{axe_source, Browser};
    let site = SiteBuilder {
        rules: vec![(0, 3, hm(9, 0), hm(10, 0))],
        ..SiteBuilder::default()
    }
    .create(&pool)
    .await;
    let app = TestApp::spawn_with(pool.clone(), paris(2026, 11, 30, 7, 0, 0), quick).await;
    let booked = book_the_day(&app, site.id, 1).await;
    let axe = axe_source();
    let b = Browser::start("waitlist").await;
    b.set_window(412, 915).await;
    b.goto(&format!("{}/lieux/{}", app.base, site.id)).await;
    b.wait_for_text("liste d'attente").await;
    b.click("a[href^='/liste-attente']").await;
    b.wait_for_text("Inscrivez-vous").await;
    let v = b.axe_violations(&axe).await;
    assert!(v.is_empty(), "join page: {v:#?}");
    let address = email();
    b.type_into("#email", &address).await;
    // Date inputs take their value by script (typing into them depends on the browser's locale).
    b.script(
        "document.querySelector('#from').value = arguments[0]; document.querySelector('#to').value = arguments[0];",
        json!([DAY]),
    )
    .await;
    b.click("main form button[type=submit]").await;
    let text = b.wait_for_text("Vous êtes inscrit").await;
    assert!(
        text.contains("Place dans la liste") && text.contains("en attente"),
        "{text}"
    );
    let v = b.axe_violations(&axe).await;
    assert!(v.is_empty(), "subscription page: {v:#?}");
    let page_url = b.url().await;
    let token = page_url
        .split("/liste-attente/")
        .nth(1)
        .and_then(|t| t.split('?').next())
        .expect("token in the URL")
        .to_string();

    // 09:00 is freed: the subscriber gets the email, with the one link.
    let (status, body) = app
        .post(
            &format!("/api/v1/manage/{}/cancel", booked[0]),
            &json!({}),
            "10.1.0.1",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    until_status(&app, &token, "offered").await;
    let dir = std::env::temp_dir().join(format!("waitlist-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    drain_mail(&app, &dir).await;
    let offers: Vec<_> = mails(&dir)
        .into_iter()
        .filter(|(subject, _)| subject.starts_with("Un créneau s'est libéré"))
        .collect();
    assert_eq!(offers.len(), 1, "one offer email");
    let (subject, text) = &offers[0];
    assert!(subject.contains("mercredi 2 décembre 2026 à 09:00"), "{subject}");
    let link = format!("{}/liste-attente/{token}", app.base);
    assert!(text.contains(&link), "{text}");
    assert!(
        text.contains("lundi 30 novembre 2026 à 09:00"),
        "held until: {text}"
    );

    b.goto(&link).await;
    let text = b.wait_for_text("Un créneau vous est réservé").await;
    assert!(text.contains("mercredi 2 décembre 2026 à 09:00"), "{text}");
    let v = b.axe_violations(&axe).await;
    assert!(v.is_empty(), "offer page: {v:#?}");
    b.type_into("#first_name", "Dominique").await;
    b.type_into("#last_name", "Patiente").await;
    b.type_into("#email", &address).await;
    b.type_into("#numero_1", &numbers(1)[0]).await;
    b.click("form[action$='/accepter'] button[type=submit]").await;
    let text = b.wait_for_text("Rendez-vous confirmé").await;
    assert!(text.contains("mercredi 2 décembre 2026"), "{text}");
    let manage_url = b.url().await;
    assert!(manage_url.contains("/rdv/"));
    assert_eq!(entry(&app, &token).await["status"], "booked");
    // The reminder's "je confirme" page, as the citizen will reach it.
    let manage_url = manage_url.split('?').next().unwrap().to_string();
    b.goto(&format!("{manage_url}/confirmer")).await;
    b.wait_for_text("Oui, je confirme ma venue").await;
    let v = b.axe_violations(&axe).await;
    assert!(v.is_empty(), "confirmation page: {v:#?}");
    b.click("main form button[type=submit]").await;
    b.wait_for_text("votre venue est confirmée").await;
    assert_eq!(overlapping_pairs(&pool).await, 0);
}
