//! The notifier against a real SMTP conversation: what is sent for a booking, a move and a
//! cancellation; reminders; TLS and authentication; outages; two workers; a crash.

use booking_service::clock::{Clock, ManualClock};
use e2e_tests::smtp::{self_signed_localhost, Mode, SmtpOptions, SmtpServer};
use e2e_tests::{email, hm, numbers, paris, SiteBuilder, TestApp};
use mail_parser::{MessageParser, MimeHeaders};
use notifier::config::NotifierConfig;
use notifier::worker::Worker;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

fn config(smtp_port: u16) -> NotifierConfig {
    let mut c = NotifierConfig::for_tests("postgres://unused", std::env::temp_dir());
    c.smtp_url = Some(booking_service::config::Secret::new(format!(
        "smtp://127.0.0.1:{smtp_port}?tls=none"
    )));
    c
}

fn worker(pool: &PgPool, c: NotifierConfig, clock: &ManualClock) -> Arc<Worker> {
    Arc::new(Worker::new(pool.clone(), c, Arc::new(clock.clone())).unwrap())
}

/// Runs batches until no row is claimed.
async fn drain(w: &Worker) {
    while w.process_batch().await.unwrap() > 0 {}
}

async fn outbox(pool: &PgPool, appointment: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT kind, status FROM outbox WHERE appointment_id = $1::uuid AND kind NOT LIKE 'ants%' ORDER BY id")
        .bind(appointment)
        .fetch_all(pool)
        .await
        .unwrap()
}

struct Parsed {
    subject: String,
    text: String,
    html: String,
    message_id: String,
    to: String,
    ics: Option<(String, String)>,
}

fn parse(raw: &str) -> Parsed {
    let m = MessageParser::default()
        .parse(raw.as_bytes())
        .expect("MIME message");
    let ics = m
        .attachments()
        .find(|a| {
            a.content_type()
                .is_some_and(|c| c.ctype() == "text" && c.subtype() == Some("calendar"))
        })
        .map(|a| {
            let method = a
                .content_type()
                .and_then(|c| c.attribute("method"))
                .unwrap_or("")
                .to_string();
            (method, String::from_utf8(a.contents().to_vec()).unwrap())
        });
    Parsed {
        subject: m.subject().unwrap_or("").to_string(),
        text: m.body_text(0).unwrap_or_default().to_string(),
        html: m.body_html(0).unwrap_or_default().to_string(),
        message_id: m.message_id().unwrap_or("").to_string(),
        to: m
            .to()
            .and_then(|t| t.first())
            .and_then(|a| a.address())
            .unwrap_or("")
            .to_string(),
        ics,
    }
}

/// Properties as (name, value) pairs.
type Props = Vec<(String, String)>;

/// The calendar's properties and its one VEVENT's, through an independent iCalendar parser.
fn ics_parts(ics: &str) -> (Props, Props) {
    let mut parser = ical::IcalParser::new(std::io::BufReader::new(ics.as_bytes()));
    let cal = parser.next().expect("one calendar").expect("valid iCalendar");
    let pairs = |props: &[ical::property::Property]| {
        props
            .iter()
            .map(|p| (p.name.clone(), p.value.clone().unwrap_or_default()))
            .collect::<Props>()
    };
    assert_eq!(cal.events.len(), 1);
    (pairs(&cal.properties), pairs(&cal.events[0].properties))
}

/// The METHOD and the VEVENT properties of an .ics.
fn ics_props(ics: &str) -> (String, Props) {
    let (calendar, event) = ics_parts(ics);
    let method = calendar
        .iter()
        .find(|(n, _)| n == "METHOD")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    (method, event)
}

fn prop<'a>(props: &'a [(String, String)], name: &str) -> &'a str {
    props
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name}"))
}

/// Moves the appointment of `token` to `start` (a hold by `client`, then the citizen's reschedule).
async fn reschedule(
    app: &TestApp,
    token: &str,
    site: uuid::Uuid,
    persons: u32,
    start: &str,
    client: &str,
) -> u16 {
    let (_, hold) = app.hold(site, "CNI", persons, start, client).await;
    let (s, _) = app
        .post(
            &format!("/api/v1/manage/{token}/reschedule"),
            &serde_json::json!({"hold_id": hold["hold_id"]}),
            "x",
        )
        .await;
    s
}

#[sqlx::test(migrations = "../migrations")]
async fn booking_moving_and_cancelling_send_exactly_the_expected_messages(pool: PgPool) {
    // Sunday openings so the booking lands on 25 October 2026, the day Paris falls back.
    let site = SiteBuilder {
        rules: vec![(0, 7, hm(9, 0), hm(12, 0))],
        ..SiteBuilder::default()
    }
    .create(&pool)
    .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 10, 1, 9, 0, 0)).await;
    let smtp = SmtpServer::start(SmtpOptions::default()).await;
    let w = worker(&pool, config(smtp.port), &app.clock);
    let citizen = email();
    let (s, booked) = app
        .book(
            site.id,
            2,
            "2026-10-25T09:00:00+01:00",
            "10.9.0.1",
            &citizen,
            &numbers(2),
        )
        .await;
    assert_eq!(s, 201, "{booked}");
    let id = booked["id"].as_str().unwrap().to_string();
    let token = booked["manage_token"].as_str().unwrap().to_string();
    drain(&w).await;
    let s = reschedule(&app, &token, site.id, 2, "2026-10-25T10:30:00+01:00", "10.9.0.1").await;
    assert_eq!(s, 200);
    drain(&w).await;
    let (s, _) = app
        .post(&format!("/api/v1/manage/{token}/cancel"), &Value::Null, "x")
        .await;
    assert_eq!(s, 200);
    drain(&w).await;
    // The reminder's time comes: it was dropped with the cancellation, nothing more is sent.
    app.clock.set(paris(2026, 10, 23, 11, 0, 0));
    drain(&w).await;

    let msgs: Vec<Parsed> = smtp.messages().iter().map(|m| parse(&m.data)).collect();
    assert_eq!(
        msgs.len(),
        3,
        "{:?}",
        msgs.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    assert!(
        msgs[0]
            .subject
            .starts_with("Rendez-vous confirmé : dimanche 25 octobre 2026 à 09:00"),
        "{}",
        msgs[0].subject
    );
    assert!(
        msgs[1]
            .subject
            .starts_with("Rendez-vous déplacé : dimanche 25 octobre 2026 à 10:30"),
        "{}",
        msgs[1].subject
    );
    assert!(
        msgs[2].subject.starts_with("Rendez-vous annulé"),
        "{}",
        msgs[2].subject
    );
    let manage = format!("http://rdv.test/rdv/{token}");
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(m.to, citizen);
        for needle in [
            "Mairie test",
            "1 rue de la Mairie",
            "Carte nationale d'identité",
            "2 personnes",
            booked["reference"].as_str().unwrap(),
        ] {
            assert!(m.text.contains(needle), "message {i} lacks {needle}:\n{}", m.text);
            assert!(
                m.html.contains(needle.replace('\'', "&#39;").as_str()),
                "html {i} lacks {needle}"
            );
        }
        assert_eq!(
            m.text.contains(&manage),
            i < 2,
            "management link only while the appointment stands"
        );
    }
    assert!(msgs[0].text.contains("photo d'identité"));
    let ids: HashSet<&str> = msgs.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), 3);
    // Calendar: same UID, SEQUENCE 0 → 1 → 2, REQUEST then CANCEL, right instants on the DST day.
    let mut uid = None;
    for (i, (m, want_method, want_start)) in msgs
        .iter()
        .zip([
            ("REQUEST", "20261025T080000Z"),
            ("REQUEST", "20261025T093000Z"),
            ("CANCEL", "20261025T093000Z"),
        ])
        .map(|(m, (a, b))| (m, a, b))
        .enumerate()
    {
        let (ctype_method, ics) = m.ics.clone().expect("an .ics attachment");
        assert_eq!(ctype_method, want_method);
        let (method, props) = ics_props(&ics);
        assert_eq!(method, want_method);
        assert_eq!(prop(&props, "DTSTART"), want_start, "message {i}");
        assert_eq!(prop(&props, "SEQUENCE"), i.to_string());
        assert!(prop(&props, "ORGANIZER").starts_with("mailto:"));
        assert_eq!(prop(&props, "ATTENDEE"), format!("mailto:{citizen}"));
        let u = prop(&props, "UID").to_string();
        assert!(u.starts_with(&id));
        assert_eq!(uid.get_or_insert(u.clone()), &u);
    }
    let rows = outbox(&pool, &id).await;
    let sent = rows.iter().filter(|r| r.1 == "sent").count();
    let dropped: Vec<&str> = rows
        .iter()
        .filter(|r| r.1 == "dropped")
        .map(|r| r.0.as_str())
        .collect();
    assert_eq!(sent, 3);
    assert_eq!(dropped, vec!["reminder", "reminder"]);
}

/// The email's calendar file and the one downloaded from the management page describe one entry.
struct CalendarFile {
    method: String,
    prodids: usize,
    uid: String,
    sequence: String,
    status: String,
    start: String,
}

fn calendar_file(ics: &str) -> CalendarFile {
    let (calendar, event) = ics_parts(ics);
    CalendarFile {
        method: calendar
            .iter()
            .find(|(n, _)| n == "METHOD")
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
        prodids: calendar.iter().filter(|(n, _)| n == "PRODID").count(),
        uid: prop(&event, "UID").to_string(),
        sequence: prop(&event, "SEQUENCE").to_string(),
        status: prop(&event, "STATUS").to_string(),
        start: prop(&event, "DTSTART").to_string(),
    }
}

/// The `.ics` from `/rdv/{token}/calendrier.ics`, checked to be served as a calendar.
async fn download(app: &TestApp, token: &str) -> CalendarFile {
    let resp = app
        .client
        .get(format!("{}/rdv/{token}/calendrier.ics", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ctype.starts_with("text/calendar"), "{ctype}");
    calendar_file(&resp.text().await.expect("body"))
}

/// The `.ics` attached to the last email sent.
fn last_email_calendar(smtp: &SmtpServer) -> CalendarFile {
    let msgs = smtp.messages();
    let (ctype_method, ics) = parse(&msgs.last().expect("an email").data)
        .ics
        .expect("an .ics attachment");
    let f = calendar_file(&ics);
    assert_eq!(ctype_method, f.method, "the content type's method is the file's");
    f
}

#[sqlx::test(migrations = "../migrations")]
async fn the_downloaded_calendar_file_and_the_emails_share_uid_and_sequence(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let smtp = SmtpServer::start(SmtpOptions::default()).await;
    let w = worker(&pool, config(smtp.port), &app.clock);
    let (s, booked) = app
        .book(
            site.id,
            1,
            "2026-12-02T09:00:00+01:00",
            "10.9.5.1",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201, "{booked}");
    let id = booked["id"].as_str().unwrap();
    let token = booked["manage_token"].as_str().unwrap();
    drain(&w).await;

    // Booked: the confirmation's invitation and the download are one entry at sequence 0.
    let (mail, file) = (last_email_calendar(&smtp), download(&app, token).await);
    assert_eq!(
        (mail.method.as_str(), file.method.as_str()),
        ("REQUEST", "PUBLISH")
    );
    assert_eq!((mail.prodids, file.prodids), (1, 1), "exactly one PRODID in each");
    assert!(mail.uid.starts_with(id), "{}", mail.uid);
    assert_eq!(file.uid, mail.uid);
    assert_eq!((mail.sequence.as_str(), file.sequence.as_str()), ("0", "0"));
    assert_eq!(
        (mail.start.as_str(), file.start.as_str()),
        ("20261202T080000Z", "20261202T080000Z")
    );
    assert_eq!(
        (mail.status.as_str(), file.status.as_str()),
        ("CONFIRMED", "CONFIRMED")
    );

    // Moved: both raised to sequence 1, at the new time, under the same UID.
    let s = reschedule(&app, token, site.id, 1, "2026-12-03T10:00:00+01:00", "10.9.5.1").await;
    assert_eq!(s, 200);
    drain(&w).await;
    let (moved, file) = (last_email_calendar(&smtp), download(&app, token).await);
    assert_eq!(
        (moved.method.as_str(), file.method.as_str()),
        ("REQUEST", "PUBLISH")
    );
    assert_eq!((moved.prodids, file.prodids), (1, 1));
    assert_eq!(
        (moved.uid.as_str(), file.uid.as_str()),
        (mail.uid.as_str(), mail.uid.as_str())
    );
    assert_eq!((moved.sequence.as_str(), file.sequence.as_str()), ("1", "1"));
    assert_eq!(
        (moved.start.as_str(), file.start.as_str()),
        ("20261203T090000Z", "20261203T090000Z")
    );

    // Cancelled: the download still answers, as a cancelled entry at the cancellation's sequence.
    let (s, _) = app
        .post(&format!("/api/v1/manage/{token}/cancel"), &Value::Null, "x")
        .await;
    assert_eq!(s, 200);
    drain(&w).await;
    let (cancel, file) = (last_email_calendar(&smtp), download(&app, token).await);
    assert_eq!(
        (cancel.method.as_str(), file.method.as_str()),
        ("CANCEL", "PUBLISH")
    );
    assert_eq!((cancel.prodids, file.prodids), (1, 1));
    assert_eq!(
        (cancel.uid.as_str(), file.uid.as_str()),
        (mail.uid.as_str(), mail.uid.as_str())
    );
    assert_eq!((cancel.sequence.as_str(), file.sequence.as_str()), ("2", "2"));
    assert_eq!(
        (cancel.status.as_str(), file.status.as_str()),
        ("CANCELLED", "CANCELLED")
    );
    assert_eq!(smtp.messages().len(), 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn reminders_go_48_hours_before_follow_a_move_and_never_come_late(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let smtp = SmtpServer::start(SmtpOptions::default()).await;
    let w = worker(&pool, config(smtp.port), &app.clock);
    // Friday 4 December 09:00: reminder due Wednesday 2 December 09:00.
    let (_, a) = app
        .book(
            site.id,
            1,
            "2026-12-04T09:00:00+01:00",
            "10.9.1.1",
            &email(),
            &numbers(1),
        )
        .await;
    // Moved to Monday 7 December 10:00: reminder due Saturday 5 December 10:00.
    let (_, b) = app
        .book(
            site.id,
            1,
            "2026-12-04T10:00:00+01:00",
            "10.9.1.2",
            &email(),
            &numbers(1),
        )
        .await;
    let tb = b["manage_token"].as_str().unwrap();
    let s = reschedule(&app, tb, site.id, 1, "2026-12-07T10:00:00+01:00", "10.9.1.2").await;
    assert_eq!(s, 200);
    // Booked inside the window (Tuesday for Wednesday): no reminder at all.
    app.clock.set(paris(2026, 12, 1, 12, 0, 0));
    let (_, c) = app
        .book(
            site.id,
            1,
            "2026-12-02T11:00:00+01:00",
            "10.9.1.3",
            &email(),
            &numbers(1),
        )
        .await;
    assert!(!outbox(&pool, c["id"].as_str().unwrap())
        .await
        .iter()
        .any(|r| r.0 == "reminder"));
    drain(&w).await;
    let before = smtp.messages().len();
    app.clock.set(paris(2026, 12, 2, 8, 59, 59));
    drain(&w).await;
    assert_eq!(smtp.messages().len(), before, "not a second early");
    app.clock.set(paris(2026, 12, 2, 9, 0, 0));
    drain(&w).await;
    let reminders: Vec<Parsed> = smtp
        .messages()
        .iter()
        .map(|m| parse(&m.data))
        .filter(|m| m.subject.starts_with("Rappel"))
        .collect();
    assert_eq!(reminders.len(), 1);
    assert!(reminders[0].subject.contains("vendredi 4 décembre 2026 à 09:00"));
    assert!(reminders[0].text.contains(&format!(
        "http://rdv.test/rdv/{}",
        a["manage_token"].as_str().unwrap()
    )));
    // After an outage the backlog is drained past b's start: its reminder is dropped, never sent late.
    app.clock.set(paris(2026, 12, 7, 10, 0, 0));
    drain(&w).await;
    let reminders = smtp
        .messages()
        .iter()
        .filter(|m| parse(&m.data).subject.starts_with("Rappel"))
        .count();
    assert_eq!(reminders, 1);
    let rows = outbox(&pool, b["id"].as_str().unwrap()).await;
    assert_eq!(
        rows.iter()
            .filter(|r| r.0 == "reminder")
            .map(|r| r.1.as_str())
            .collect::<Vec<_>>(),
        vec!["dropped", "dropped"]
    );
}

/// Books one appointment and queues `n` more confirmation rows for it, due now.
async fn queue(app: &TestApp, pool: &PgPool, n: i64, to: &str) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(pool)
        .await;
    let (s, b) = app
        .book(
            site.id,
            1,
            "2026-12-02T09:00:00+01:00",
            "10.9.2.1",
            to,
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    sqlx::query("DELETE FROM outbox WHERE appointment_id = $1::uuid")
        .bind(b["id"].as_str().unwrap())
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO outbox (kind, appointment_id, payload, due_at, created_at)
         SELECT 'confirmation', $1::uuid, '{}', $2, $2 FROM generate_series(1, $3)",
    )
    .bind(b["id"].as_str().unwrap())
    .bind(app.clock.now())
    .bind(n)
    .execute(pool)
    .await
    .unwrap();
}

async fn statuses(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT status, count(*) FROM outbox GROUP BY 1 ORDER BY 1")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn two_notifiers_drain_a_thousand_messages_without_sending_one_twice(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = opts.max_connections(20).connect_with(connect).await.unwrap();
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let smtp = SmtpServer::start(SmtpOptions::default()).await;
    queue(&app, &pool, 1000, &email()).await;
    let (w1, w2) = (
        worker(&pool, config(smtp.port), &app.clock),
        worker(&pool, config(smtp.port), &app.clock),
    );
    let (tx, rx) = tokio::sync::watch::channel(false);
    let run = |w: Arc<Worker>, mut rx: tokio::sync::watch::Receiver<bool>| {
        tokio::spawn(async move {
            w.run(async move {
                let _ = rx.changed().await;
            })
            .await
        })
    };
    let (h1, h2) = (run(w1, rx.clone()), run(w2, rx));
    for _ in 0..600 {
        if smtp.messages().len() >= 1000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tx.send(true).unwrap();
    h1.await.unwrap();
    h2.await.unwrap();
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1000);
    let ids: HashSet<String> = msgs.iter().map(|m| parse(&m.data).message_id).collect();
    assert_eq!(ids.len(), 1000, "no Message-ID twice");
    assert_eq!(statuses(&pool).await, vec![("sent".to_string(), 1000)]);
}

#[sqlx::test(migrations = "../migrations")]
async fn starttls_with_authentication_and_a_self_signed_certificate_trusted_by_configuration(pool: PgPool) {
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let (cert, key) = self_signed_localhost();
    let smtp = SmtpServer::start(SmtpOptions {
        tls: Some((cert.clone(), key)),
        auth: Some(("mairie".into(), "s3cr+t/pass".into())),
        delay_ms: 0,
    })
    .await;
    let dir = std::env::temp_dir().join(format!("smtp-ca-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("relay.pem");
    std::fs::write(&ca, &cert).unwrap();
    queue(&app, &pool, 1, &email()).await;
    // Without trusting the certificate: refused (and retried later, not sent in clear).
    let mut c = config(smtp.port);
    c.smtp_url = Some(booking_service::config::Secret::new(format!(
        "smtp://mairie:s3cr%2Bt%2Fpass@localhost:{}?tls=required",
        smtp.port
    )));
    drain(&worker(&pool, c.clone(), &app.clock)).await;
    assert!(smtp.messages().is_empty());
    // Trusted through SMTP_CA_FILE: STARTTLS, AUTH, delivered.
    c.smtp_ca_file = Some(ca);
    app.clock.advance(chrono::Duration::seconds(5));
    drain(&worker(&pool, c, &app.clock)).await;
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].tls);
    assert_eq!(msgs[0].authenticated_as.as_deref(), Some("mairie"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn smtp_down_then_up_delivers_everything_and_a_permanent_refusal_ends_failed(pool: PgPool) {
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let mut smtp = SmtpServer::start(SmtpOptions::default()).await;
    queue(&app, &pool, 20, &email()).await;
    smtp.stop();
    let w = worker(&pool, config(smtp.port), &app.clock);
    drain(&w).await;
    assert_eq!(statuses(&pool).await, vec![("pending".to_string(), 20)]);
    let errors: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE last_error IS NOT NULL AND attempts = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(errors, 20);
    // A transient 451 is retried too.
    smtp.restart().await;
    smtp.set_mode(Mode::Transient);
    app.clock.advance(chrono::Duration::seconds(1));
    drain(&w).await;
    assert!(smtp.messages().is_empty());
    smtp.set_mode(Mode::Accept);
    for _ in 0..10 {
        app.clock.advance(chrono::Duration::seconds(10));
        drain(&w).await;
    }
    assert_eq!(smtp.messages().len(), 20);
    assert_eq!(statuses(&pool).await, vec![("sent".to_string(), 20)]);
    // A mailbox the relay refuses for good: failed at once with the reason, not retried forever.
    smtp.set_mode(Mode::RejectMarked);
    queue(&app, &pool, 1, "reject-me@example.fr").await;
    drain(&w).await;
    let (status, attempts, err): (String, i32, String) =
        sqlx::query_as("SELECT status, attempts, last_error FROM outbox WHERE status <> 'sent'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("failed", 1));
    assert!(err.contains("550"), "{err}");
    let listed: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_failures")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(listed, 1);
    // Transient forever: failed after the configured number of attempts.
    smtp.set_mode(Mode::Transient);
    queue(&app, &pool, 1, &email()).await;
    for _ in 0..10 {
        app.clock.advance(chrono::Duration::seconds(60));
        drain(&w).await;
    }
    let (status, attempts): (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM outbox ORDER BY id DESC LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("failed", 5));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_notifier_killed_mid_batch_and_restarted_loses_nothing(
    _opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = connect.get_database().unwrap().to_string();
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(connect)
        .await
        .unwrap();
    // The real clock: the notifier binary uses it.
    let app = TestApp::spawn(pool.clone(), chrono::Utc::now()).await;
    let smtp = SmtpServer::start(SmtpOptions {
        delay_ms: 10,
        ..SmtpOptions::default()
    })
    .await;
    sqlx::query("UPDATE booking_policies SET min_notice_minutes = 0")
        .execute(&pool)
        .await
        .ok();
    let site = SiteBuilder {
        rules: (1..=7).map(|d| (0, d, hm(0, 0), hm(23, 45))).collect(),
        ..SiteBuilder::default()
    }
    .create(&pool)
    .await;
    let start = chrono::Utc::now() + chrono::Duration::days(2);
    let start = start
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%Y-%m-%dT%H:00:00%:z")
        .to_string();
    let (s, b) = app
        .book(site.id, 1, &start, "10.9.3.1", &email(), &numbers(1))
        .await;
    assert_eq!(s, 201, "{b}");
    sqlx::query("DELETE FROM outbox WHERE appointment_id = $1::uuid")
        .bind(b["id"].as_str().unwrap())
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO outbox (kind, appointment_id, due_at, created_at) SELECT 'confirmation', $1::uuid, now(), now() FROM generate_series(1, 300)")
        .bind(b["id"].as_str().unwrap())
        .execute(&pool)
        .await
        .unwrap();
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_notifier"))
            .arg("run")
            .env("DATABASE_URL", e2e_tests::database_url(&db))
            .env("SMTP_URL", format!("smtp://127.0.0.1:{}?tls=none", smtp.port))
            .env("APP_SECRET", booking_service::config::TEST_APP_SECRET)
            .env("NOTIFIER_LEASE_SECS", "2")
            .env("NOTIFIER_BATCH_SIZE", "100")
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("notifier binary")
    };
    let mut first = spawn();
    for _ in 0..400 {
        if smtp.messages().len() >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().unwrap(); // SIGKILL, mid-batch
    first.wait().unwrap();
    let at_kill = smtp.messages().len();
    assert!(at_kill < 300, "the kill came too late to prove anything");
    let mut second = spawn();
    for _ in 0..600 {
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE status <> 'sent'")
            .fetch_one(&pool)
            .await
            .unwrap();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(statuses(&pool).await, vec![("sent".to_string(), 300)]);
    let ids: Vec<String> = smtp
        .messages()
        .iter()
        .map(|m| parse(&m.data).message_id)
        .collect();
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 300, "every row delivered");
    eprintln!(
        "killed after {at_kill} messages; {} duplicates, each with its row's Message-ID",
        ids.len() - 300
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn names_with_commas_and_parentheses_are_quoted_not_refused(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let smtp = SmtpServer::start(SmtpOptions::default()).await;
    let w = worker(&pool, config(smtp.port), &app.clock);
    let (_, hold) = app
        .hold(site.id, "CNI", 1, "2026-12-02T09:00:00+01:00", "10.9.4.1")
        .await;
    let to = email();
    let body = serde_json::json!({"hold_id": hold["hold_id"], "pre_demande_numbers": numbers(1),
        "citizen": {"first_name": "Marie", "last_name": "Dupont, épouse Martin (dite \"Mimi\")", "email": to}});
    let (s, b) = app.post("/api/v1/appointments", &body, "10.9.4.1").await;
    assert_eq!(s, 201, "{b}");
    drain(&w).await;
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1);
    let m = MessageParser::default().parse(msgs[0].data.as_bytes()).unwrap();
    let addr = m.to().unwrap().first().unwrap();
    assert_eq!(addr.address(), Some(to.as_str()));
    assert!(addr.name().unwrap().contains("Dupont, épouse Martin"));
}

#[sqlx::test(migrations = "../migrations")]
async fn without_tls_none_written_out_a_relay_that_offers_no_starttls_gets_nothing_in_clear(pool: PgPool) {
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let smtp = SmtpServer::start(SmtpOptions::default()).await;
    queue(&app, &pool, 1, &email()).await;
    let mut c = config(smtp.port);
    c.smtp_url = Some(booking_service::config::Secret::new(format!(
        "smtp://127.0.0.1:{}",
        smtp.port
    )));
    drain(&worker(&pool, c, &app.clock)).await;
    assert!(smtp.messages().is_empty(), "sent in clear");
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE kind = 'confirmation' AND status = 'pending'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(pending, 1, "kept for a retry");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_forgotten_staff_password_is_reset_once_through_the_emailed_link(pool: PgPool) {
    use booking_service::staff::{accounts, Role};
    accounts::create_account(
        &pool,
        "agent@m2a.fr",
        e2e_tests::STAFF_PASSWORD,
        "Agent Test",
        Role::PlatformAdmin,
        None,
    )
    .await
    .unwrap();
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let smtp = SmtpServer::start(SmtpOptions::default()).await;
    let old_session = app.staff_token("agent@m2a.fr").await;
    let ask = |mail: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/staff/password-reset",
                &serde_json::json!({"email": mail}),
                "10.50.0.1",
            )
            .await
            .0
        }
    };
    // The same answer for an unknown address, and nothing queued for it.
    assert_eq!(ask("nobody@m2a.fr").await, 202);
    assert_eq!(ask("Agent@M2A.fr").await, 202);
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE kind = 'staff_password_reset'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(queued, 1);
    drain(&worker(&pool, config(smtp.port), &app.clock)).await;
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].rcpt_to, vec!["<agent@m2a.fr>".to_string()]);
    let mail = parse(&msgs[0].data);
    let link = mail
        .text
        .split_whitespace()
        .find(|w| w.contains("/agents/mot-de-passe/"))
        .expect("link in the email")
        .to_string();
    let token = link.rsplit('/').next().unwrap().to_string();
    // The token is not stored in clear anywhere.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM staff_password_resets WHERE token_hash = $1")
        .bind(token.as_bytes())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    let confirm = |t: String, p: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/staff/password-reset/confirm",
                &serde_json::json!({"token": t, "password": p}),
                "10.50.0.1",
            )
            .await
        }
    };
    let (s, b) = confirm(token.clone(), "short").await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("weak_password")));
    let (s, _) = confirm(token.clone(), "a brand new long password").await;
    assert_eq!(s, 204);
    // Once only; the old session is over; the new password works, the old one not.
    let (s, b) = confirm(token.clone(), "yet another long password").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("invalid_reset_link"))
    );
    let (s, _) = app
        .call("GET", "/api/v1/staff/me", &Value::Null, Some(&old_session))
        .await;
    assert_eq!(s, 401);
    assert_eq!(
        app.staff_login("agent@m2a.fr", e2e_tests::STAFF_PASSWORD, "10.50.0.2")
            .await
            .0,
        401
    );
    assert_eq!(
        app.staff_login("agent@m2a.fr", "a brand new long password", "10.50.0.2")
            .await
            .0,
        200
    );
    // A link expires after an hour.
    assert_eq!(ask("agent@m2a.fr").await, 202);
    drain(&worker(&pool, config(smtp.port), &app.clock)).await;
    let late = parse(&smtp.messages()[1].data)
        .text
        .split_whitespace()
        .find(|w| w.contains("/agents/mot-de-passe/"))
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    app.clock.advance(chrono::Duration::minutes(61));
    let (s, _) = confirm(late, "an expired attempt here").await;
    assert_eq!(s, 422);
    // The same through the pages: the emailed link opens a form, the token goes in its body.
    assert_eq!(ask("agent@m2a.fr").await, 202);
    drain(&worker(&pool, config(smtp.port), &app.clock)).await;
    let link = parse(&smtp.messages()[2].data)
        .text
        .split_whitespace()
        .find(|w| w.contains("/agents/mot-de-passe/"))
        .unwrap()
        .replace("http://rdv.test", &app.base);
    let page = app.client.get(&link).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("Nouveau mot de passe"));
    let token = link.rsplit('/').next().unwrap().to_string();
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let submit = |p1: &'static str, p2: &'static str| {
        let (client, base, token) = (&no_redirect, &app.base, token.clone());
        async move {
            client
                .post(format!("{base}/agents/mot-de-passe/nouveau"))
                .form(&[("token", token.as_str()), ("password", p1), ("password2", p2)])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(submit("one long password!", "another long one!").await, 422);
    assert_eq!(
        submit("the third long password", "the third long password").await,
        303
    );
    assert_eq!(
        app.staff_login("agent@m2a.fr", "the third long password", "10.50.0.3")
            .await
            .0,
        200
    );
}
