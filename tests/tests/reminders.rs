//! Reminders that free slots, and the no-show policy. The 48-hour reminder carries "je confirme"
//! and "je libère mon créneau"; following "je libère" cancels and the slot is offered to the
//! waiting list at once. A site's no-show policy asks an address with repeated no-shows to
//! confirm: without confirmation by the deadline the appointment is released to the list; with
//! it, or when staff lift the requirement, it stays.

use e2e_tests::{email, hm, numbers, paris, SiteBuilder, TestApp, TestSite};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const DAY: &str = "2026-12-02";
const NINE: &str = "2026-12-02T09:00:00+01:00";

fn quick(c: &mut booking_service::config::ServeConfig) {
    c.waitlist_sweep_ms = 100;
}

/// One station open on Wednesdays 09:00–09:15: a single slot.
async fn one_slot_site(pool: &PgPool) -> TestSite {
    SiteBuilder {
        rules: vec![(0, 3, hm(9, 0), hm(9, 15))],
        ..SiteBuilder::default()
    }
    .create(pool)
    .await
}

async fn subscribe(app: &TestApp, site: Uuid) -> String {
    let (status, body) = app
        .post(
            "/api/v1/waitlist",
            &json!({"site_id": site, "motif": "CNI", "persons": 1, "email": email(), "from": DAY, "to": DAY}),
            "10.2.0.1",
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().expect("token").to_string()
}

async fn until_status(app: &TestApp, token: &str, want: &str) {
    let t = Instant::now();
    loop {
        let (_, e) = app.get(&format!("/api/v1/waitlist/{token}")).await;
        if e["status"] == want {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "still {} instead of {want}",
            e["status"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn manage(app: &TestApp, token: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/manage/{token}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The emails the notifier writes now, as (subject, text).
async fn drain_mail(app: &TestApp) -> Vec<(String, String)> {
    let dir = std::env::temp_dir().join(format!("reminders-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = notifier::config::NotifierConfig::for_tests("postgres://unused", dir.clone());
    c.public_base_url = app.base.clone();
    let w = notifier::worker::Worker::new(app.pool.clone(), c, Arc::new(app.clock.clone())).unwrap();
    while w.process_batch().await.unwrap() > 0 {}
    let mut out = Vec::new();
    for f in std::fs::read_dir(&dir).unwrap() {
        let raw = std::fs::read(f.unwrap().path()).unwrap();
        let m = mail_parser::MessageParser::default().parse(&raw[..]).unwrap();
        out.push((
            m.subject().unwrap_or_default().to_string(),
            m.body_text(0).unwrap_or_default().to_string(),
        ));
    }
    std::fs::remove_dir_all(&dir).unwrap();
    out
}

/// The address on the line labelled `label` of `text`.
fn link_after(text: &str, label: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no '{label}' line in: {text}"));
    line.rsplit(' ').next().unwrap().to_string()
}

#[sqlx::test(migrations = "../migrations")]
async fn je_libere_in_the_reminder_frees_the_slot_for_the_waiting_list(pool: PgPool) {
    let site = one_slot_site(&pool).await;
    let app = TestApp::spawn_with(pool.clone(), paris(2026, 11, 30, 7, 0, 0), quick).await;
    let (status, booked) = app
        .book(site.id, 1, NINE, "10.1.0.1", &email(), &numbers(1))
        .await;
    assert_eq!(status, 201, "{booked}");
    let token = booked["manage_token"].as_str().unwrap();
    let waiting = subscribe(&app, site.id).await;
    // The reminder is due 48 hours before: Monday 09:00.
    app.clock.set(paris(2026, 11, 30, 9, 0, 0));
    let mails = drain_mail(&app).await;
    let (_, text) = mails
        .iter()
        .find(|(subject, _)| subject.starts_with("Rappel"))
        .expect("the reminder");
    let confirm = link_after(text, "Je confirme ma venue");
    let free = link_after(text, "Je libère mon créneau");
    assert_eq!(confirm, format!("{}/rdv/{token}/confirmer", app.base));
    assert_eq!(free, format!("{}/rdv/{token}/annuler", app.base));

    // "Je confirme" is recorded (and the page behind it answers).
    let path = |url: &str| url.trim_start_matches(&app.base).to_string();
    let (status, page) = app.get_text(&path(&confirm)).await;
    assert_eq!(status, 200);
    assert!(page.contains("je confirme ma venue"), "{page}");
    let (status, body) = app
        .post(&format!("/api/v1/manage/{token}/confirm"), &json!({}), "10.1.0.1")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["presence_confirmed_at"], "2026-11-30T09:00:00+01:00");

    // "Je libère": the page asks, the form cancels, the slot goes to the waiting list at once.
    let (status, page) = app.get_text(&path(&free)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Oui, annuler"), "{page}");
    let resp = reqwest::Client::new()
        .post(&free)
        .header("x-forwarded-for", "10.1.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(manage(&app, token).await["status"], "cancelled");
    until_status(&app, &waiting, "offered").await;
}

/// A past no-show for `address` at `site`.
async fn past_no_show(pool: &PgPool, site: &TestSite, address: &str) {
    sqlx::query(
        "INSERT INTO appointments (id, reference, site_id, station_id, motif, persons, during, status, source,
                                   first_name, last_name, email, email_key, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'CNI', 1, tstzrange('2026-10-07 07:00+00', '2026-10-07 07:15+00'), 'no_show',
                 'online', 'Absent', 'Récidiviste', $5, $5, now(), now())",
    )
    .bind(Uuid::new_v4())
    .bind(format!("RDV-{}", &Uuid::new_v4().simple().to_string()[..8]))
    .bind(site.id)
    .bind(site.stations[0])
    .bind(address)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unconfirmed_appointment_of_a_repeat_no_show_goes_to_the_waiting_list(pool: PgPool) {
    let site = one_slot_site(&pool).await;
    // One no-show within twelve months is enough here; confirm a day before.
    sqlx::query("UPDATE sites SET noshow_limit = 1, noshow_months = 12, confirm_hours = 24 WHERE id = $1")
        .bind(site.id)
        .execute(&pool)
        .await
        .unwrap();
    let address = email();
    past_no_show(&pool, &site, &address).await;
    let app = TestApp::spawn_with(pool.clone(), paris(2026, 11, 30, 7, 0, 0), quick).await;
    let (status, booked) = app
        .book(site.id, 1, NINE, "10.1.0.1", &address, &numbers(1))
        .await;
    assert_eq!(status, 201, "{booked}");
    let token = booked["manage_token"].as_str().unwrap();
    let m = manage(&app, token).await;
    assert_eq!(m["confirm_by"], "2026-12-01T09:00:00+01:00");
    assert_eq!(m["presence_confirmed_at"], Value::Null);
    let (_, page) = app.get_text(&format!("/rdv/{token}")).await;
    assert!(page.contains("confirmer votre venue avant le"), "{page}");
    let waiting = subscribe(&app, site.id).await;

    // Still before the deadline: kept.
    app.clock.set(paris(2026, 12, 1, 8, 59, 0));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(manage(&app, token).await["status"], "booked");
    // Past it without a confirmation: released, the citizen told, the slot offered.
    app.clock.set(paris(2026, 12, 1, 9, 1, 0));
    until_status(&app, &waiting, "offered").await;
    assert_eq!(manage(&app, token).await["status"], "cancelled");
    let mails = drain_mail(&app).await;
    assert!(
        mails.iter().any(|(s, _)| s.starts_with("Rendez-vous annulé")),
        "the citizen is told: {mails:?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_confirmed_appointment_stays_and_one_booked_without_a_past_no_show_is_never_asked(pool: PgPool) {
    let site = SiteBuilder {
        rules: vec![(0, 3, hm(9, 0), hm(9, 30))],
        ..SiteBuilder::default()
    }
    .create(&pool)
    .await;
    sqlx::query("UPDATE sites SET noshow_limit = 1 WHERE id = $1")
        .bind(site.id)
        .execute(&pool)
        .await
        .unwrap();
    let repeat = email();
    past_no_show(&pool, &site, &repeat).await;
    let app = TestApp::spawn_with(pool.clone(), paris(2026, 11, 30, 7, 0, 0), quick).await;
    let (_, confirmed) = app.book(site.id, 1, NINE, "10.1.0.1", &repeat, &numbers(1)).await;
    let (_, clean) = app
        .book(
            site.id,
            1,
            "2026-12-02T09:15:00+01:00",
            "10.1.0.2",
            &email(),
            &numbers(1),
        )
        .await;
    let (confirmed, clean) = (
        confirmed["manage_token"].as_str().unwrap(),
        clean["manage_token"].as_str().unwrap(),
    );
    assert_eq!(manage(&app, clean).await["confirm_by"], Value::Null);
    assert_eq!(
        manage(&app, confirmed).await["confirm_by"],
        "2026-12-01T09:00:00+01:00"
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/rdv/{confirmed}/confirmer", app.base))
        .header("x-forwarded-for", "10.1.0.1")
        .send()
        .await
        .unwrap();
    assert!(resp.url().as_str().ends_with("?confirme=1"), "{}", resp.url());
    assert!(resp.text().await.unwrap().contains("votre venue est confirmée"));
    app.clock.set(paris(2026, 12, 1, 12, 0, 0));
    tokio::time::sleep(Duration::from_millis(400)).await;
    for token in [confirmed, clean] {
        assert_eq!(manage(&app, token).await["status"], "booked");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn administrators_set_the_policy_and_agents_lift_it_from_an_appointment(pool: PgPool) {
    use booking_service::staff::{accounts, Role};
    let site = one_slot_site(&pool).await;
    for (address, role) in [
        ("chef@rixheim.fr", Role::CommuneAdmin),
        ("agent@rixheim.fr", Role::Agent),
    ] {
        accounts::create_account(
            &pool,
            address,
            e2e_tests::STAFF_PASSWORD,
            "Agent",
            role,
            Some("68278"),
        )
        .await
        .unwrap();
    }
    let app = TestApp::spawn_with(pool.clone(), paris(2026, 11, 30, 7, 0, 0), quick).await;
    let (admin, agent) = (
        app.staff_token("chef@rixheim.fr").await,
        app.staff_token("agent@rixheim.fr").await,
    );
    let policy = |extra: Value| {
        let mut p = json!({"min_notice_minutes": 0, "horizon_days": 365, "release_time": "00:00",
                           "cancel_deadline_minutes": 240, "slot_step_minutes": 15, "reminder_hours": 48});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    let path = format!("/api/v1/staff/sites/{}/policy", site.id);
    let (status, body) = app
        .call("PUT", &path, &policy(json!({"noshow_limit": 2})), Some(&admin))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("noshow_policy_incomplete"))
    );
    let (status, body) = app
        .call(
            "PUT",
            &path,
            &policy(json!({"noshow_limit": 2, "noshow_months": 99, "confirm_hours": 24})),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("noshow_months"))
    );
    let (status, body) = app
        .call(
            "PUT",
            &path,
            &policy(json!({"noshow_limit": 2, "noshow_months": 6, "confirm_hours": 48})),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = app
        .call(
            "PUT",
            &path,
            &policy(json!({"noshow_limit": 2, "noshow_months": 6, "confirm_hours": 48})),
            Some(&agent),
        )
        .await;
    assert_eq!(status, 403, "the policy is for administrators");

    // Two no-shows within six months: asked to confirm 48 hours before (Monday 09:00).
    let address = email();
    past_no_show(&pool, &site, &address).await;
    past_no_show(&pool, &site, &address).await;
    let (status, booked) = app
        .book(site.id, 1, NINE, "10.1.0.1", &address, &numbers(1))
        .await;
    assert_eq!(status, 201, "{booked}");
    let token = booked["manage_token"].as_str().unwrap();
    assert_eq!(
        manage(&app, token).await["confirm_by"],
        "2026-11-30T09:00:00+01:00"
    );
    let id = booked["id"].as_str().unwrap();
    // The appointment page tells the agent, and offers to lift it.
    let page = app
        .client
        .get(format!("{}/agents/rdv/{id}", app.base))
        .header("cookie", format!("rdv_staff={agent}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("à confirmer par l'usager avant le"), "{page}");
    assert!(page.contains("Ne pas exiger de confirmation"), "{page}");

    // An agent lifts it: the appointment survives the deadline.
    let lift = format!("/api/v1/staff/appointments/{id}/lift-confirmation");
    let (status, body) = app.call("POST", &lift, &Value::Null, Some(&agent)).await;
    assert_eq!((status, body["lifted"].as_bool()), (200, Some(true)), "{body}");
    let (_, again) = app.call("POST", &lift, &Value::Null, Some(&agent)).await;
    assert_eq!(again["lifted"], false);
    assert_eq!(manage(&app, token).await["confirm_by"], Value::Null);
    app.clock.set(paris(2026, 11, 30, 10, 0, 0));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(manage(&app, token).await["status"], "booked");
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'confirmation_lifted'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(audited, 1);
}

const SMS_TOKEN: &str = "sms-provider-shared-secret-0123456789";

/// Holds 09:00 and confirms with a phone and `sms_reminder`; the confirmation's status and body.
async fn book_with_sms(
    app: &TestApp,
    site: Uuid,
    start: &str,
    phone: Option<&str>,
    sms: bool,
) -> (u16, Value) {
    let (status, hold) = app.hold(site, "CNI", 1, start, "10.1.0.9").await;
    assert_eq!(status, 201, "{hold}");
    let body = json!({
        "hold_id": hold["hold_id"],
        "citizen": {"first_name": "Sam", "last_name": "Mobile", "email": email(), "phone": phone},
        "pre_demande_numbers": numbers(1),
        "sms_reminder": sms,
    });
    app.post("/api/v1/appointments", &body, "10.1.0.9").await
}

/// Drains the outbox with SMS written to files; the SMS written, as (file name, content).
async fn drain_sms(app: &TestApp, dir: &std::path::Path) -> Vec<String> {
    let mut c = notifier::config::NotifierConfig::for_tests("postgres://unused", dir.to_path_buf());
    c.public_base_url = app.base.clone();
    let w = notifier::worker::Worker::new(app.pool.clone(), c, Arc::new(app.clock.clone())).unwrap();
    while w.process_batch().await.unwrap() > 0 {}
    let Ok(files) = std::fs::read_dir(dir.with_extension("sms")) else {
        return Vec::new();
    };
    files
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn sms_reminders_go_by_day_to_those_who_asked_and_stop_on_a_reply(pool: PgPool) {
    let site = SiteBuilder {
        rules: vec![(0, 3, hm(9, 0), hm(10, 0))],
        ..SiteBuilder::default()
    }
    .create(&pool)
    .await;
    let app = TestApp::spawn_with(pool.clone(), paris(2026, 11, 29, 7, 0, 0), |c| {
        c.sms_inbound_token = Some(booking_service::config::Secret::new(SMS_TOKEN));
    })
    .await;
    let (status, body) = book_with_sms(&app, site.id, "2026-12-02T09:45:00+01:00", None, true).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("sms_needs_phone")),
        "{body}"
    );
    let (status, wants) = book_with_sms(&app, site.id, NINE, Some("06 12 34 56 78"), true).await;
    assert_eq!(status, 201, "{wants}");
    let (_, stops) = book_with_sms(
        &app,
        site.id,
        "2026-12-02T09:15:00+01:00",
        Some("07 98 76 54 32"),
        true,
    )
    .await;
    let (_, never) = book_with_sms(
        &app,
        site.id,
        "2026-12-02T09:30:00+01:00",
        Some("06 11 11 11 11"),
        false,
    )
    .await;
    assert!(stops["id"].is_string() && never["id"].is_string());

    // The second number replies STOP (through the provider's forward, with its secret).
    let reply = json!({"from": "+33798765432", "text": "Stop merci"});
    let (status, _) = app.post("/api/v1/sms/replies", &reply, "10.9.0.1").await;
    assert_eq!(status, 401, "the forward needs the shared secret");
    let resp = app
        .client
        .post(format!("{}/api/v1/sms/replies", app.base))
        .header("x-sms-token", SMS_TOKEN)
        .json(&reply)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["stopped"], 1);

    // The reminders are due on Monday 09:00, 09:15, 09:30; at 22:00 it is night: no SMS, deferred.
    let dir = std::env::temp_dir().join(format!("sms-{}", Uuid::new_v4().simple()));
    app.clock.set(paris(2026, 11, 30, 22, 0, 0));
    assert!(drain_sms(&app, &dir).await.is_empty(), "an SMS was sent at night");
    let due: Vec<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT due_at FROM outbox WHERE kind = 'sms_reminder' AND status = 'pending'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        due,
        vec![paris(2026, 12, 1, 8, 0, 0)],
        "deferred to 08:00, only the wanted one"
    );
    // In the morning: one SMS, to the number that asked and did not stop, with the one link.
    app.clock.set(paris(2026, 12, 1, 8, 0, 0));
    let sent = drain_sms(&app, &dir).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let token = wants["manage_token"].as_str().unwrap();
    assert!(sent[0].starts_with("To: +33612345678\n"), "{}", sent[0]);
    assert!(
        sent[0].contains(&format!("/rdv/{token}/confirmer")),
        "{}",
        sent[0]
    );
    assert!(
        sent[0].contains("mercredi 2 décembre 2026 à 09:00") && sent[0].contains("STOP"),
        "{}",
        sent[0]
    );
    let states: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT status, last_error FROM outbox WHERE kind = 'sms_reminder' ORDER BY due_at")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(
        states
            .iter()
            .any(|(s, e)| s == "dropped" && e.as_deref().is_some_and(|e| e.contains("stopped"))),
        "{states:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(dir.with_extension("sms")).ok();
}

#[tokio::test]
async fn the_http_provider_gets_one_json_post_per_sms_with_its_token() {
    use axum::{routing::post, Json, Router};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Option<String>, Value)>();
    let router = Router::new().route(
        "/send",
        post(move |headers: axum::http::HeaderMap, Json(body): Json<Value>| {
            let tx = tx.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                tx.send((auth, body)).unwrap();
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let mut c = notifier::config::NotifierConfig::for_tests("postgres://unused", std::env::temp_dir());
    c.sms_provider_url = Some(url);
    c.sms_provider_token = Some(booking_service::config::Secret::new("provider-token"));
    let sender = notifier::sms::SmsSender::from_config(&c).unwrap();
    sender
        .send("+33612345678", "Rappel : RDV", "x.sms")
        .await
        .unwrap();
    let (auth, body) = rx.recv().await.unwrap();
    assert_eq!(auth.as_deref(), Some("Bearer provider-token"));
    assert_eq!(
        body,
        json!({"to": "+33612345678", "text": "Rappel : RDV", "sender": "MAIRIE"})
    );
}
