//! Counter and phone bookings done as online ones (free times from the citizens' engine, live
//! citizen holds respected, pré-demande numbers checked with ANTS and declared, the confirmation
//! email queued), the agent's "confirm anyway" after ANTS reports a number booked elsewhere, and
//! the staff calendar feed read by an iCalendar parser, with its secret renewed.
//! Screenshots: target/browser-screenshots/<test>/, at phone and desktop widths.

use booking_service::staff::{accounts, Role};
use e2e_tests::ants::FakeAnts;
use e2e_tests::browser::{axe_source, Browser};
use e2e_tests::{hm, numbers, paris, SiteBuilder, TestApp, STAFF_PASSWORD};
use notifier::config::NotifierConfig;
use notifier::worker::Worker;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

async fn agent(pool: &PgPool, email: &str, insee: &str) {
    accounts::create_account(pool, email, STAFF_PASSWORD, "Agent", Role::Agent, Some(insee))
        .await
        .unwrap();
}

async fn app_with_ants(pool: &PgPool, now: chrono::DateTime<chrono::Utc>, ants: &FakeAnts) -> TestApp {
    let (url, token) = (ants.url.clone(), ants.token.clone());
    TestApp::spawn_with(pool.clone(), now, |c| {
        c.ants_api.ants_api_url = Some(url);
        c.ants_api.ants_api_token = Some(booking_service::config::Secret::new(token));
    })
    .await
}

async fn staff_login(b: &Browser, app: &TestApp, email: &str) {
    b.goto(&format!("{}/agents/connexion", app.base)).await;
    b.type_into("#email", email).await;
    b.type_into("#password", STAFF_PASSWORD).await;
    b.click("main form button").await;
    b.wait_for_text("Vos lieux").await;
}

fn assert_accessible(violations: Vec<String>, page: &str) {
    assert!(
        violations.is_empty(),
        "accessibility violations on {page}: {violations:#?}"
    );
}

/// axe at the phone width, then screenshots at phone and desktop widths.
async fn check_page(b: &Browser, axe: &str, name: &str) {
    assert_accessible(b.axe_violations(axe).await, name);
    b.shot(&format!("{name}-telephone")).await;
    b.set_window(1280, 900).await;
    assert_accessible(b.axe_violations(axe).await, &format!("{name} (desktop)"));
    b.shot(&format!("{name}-bureau")).await;
    b.set_window(412, 915).await;
}

async fn drain_mail(app: &TestApp, dir: &std::path::Path) {
    let mut c = NotifierConfig::for_tests("postgres://unused", dir.to_path_buf());
    c.public_base_url = app.base.clone();
    let w = Worker::new(app.pool.clone(), c, Arc::new(app.clock.clone())).unwrap();
    while w.process_batch().await.unwrap() > 0 {}
}

/// Outbox rows of an appointment by kind.
async fn outbox_kinds(pool: &PgPool, id: Uuid) -> Vec<String> {
    sqlx::query_scalar("SELECT kind FROM outbox WHERE appointment_id = $1 ORDER BY kind")
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_counter_booking_with_numbers_booked_elsewhere_is_confirmed_by_the_agent(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    agent(&pool, "agent@rixheim.fr", "68278").await;
    let ants = FakeAnts::start().await;
    // Wednesday 08:00; the site asks no notice, but the counter would waive it anyway.
    let app = app_with_ants(&pool, paris(2026, 12, 2, 8, 0, 0), &ants).await;
    let n = numbers(2);
    ants.add_foreign(&n[0], "Mairie de Colmar", "2026-12-10 10:00:00");
    let axe = axe_source();
    let b = Browser::start("guichet-ants").await;
    staff_login(&b, &app, "agent@rixheim.fr").await;
    b.goto(&format!(
        "{}/agents/lieux/{}/guichet?motif=CNI&personnes=2&jour=2026-12-02",
        app.base, site.id
    ))
    .await;
    let list = b
        .wait_for_text("Horaires libres du mercredi 2 décembre 2026")
        .await;
    assert!(list.contains("09:00") && list.contains("11:30"), "{list}");
    check_page(&b, &axe, "horaires").await;
    b.click("button[aria-label='Choisir le mercredi 2 décembre 2026 à 10:00']")
        .await;
    b.wait_for_text("mercredi 2 décembre 2026 à 10:00").await;
    b.wait_for_text("Pré-demande de la personne 2").await;
    check_page(&b, &axe, "formulaire").await;
    b.type_into("#prenom", "Lucie").await;
    b.type_into("#nom", "Guichet").await;
    b.type_into("#email", "lucie.guichet@example.fr").await;
    b.type_into("#telephone", "06 12 34 56 78").await;
    // A malformed number first: said next to the numbers, what was typed kept, nothing booked.
    b.type_into("#numero_1", "ABC").await;
    b.type_into("#numero_2", &n[1]).await;
    b.click("form[action$='/guichet'] button[type=submit]").await;
    b.wait_for_text("Numéro de pré-demande invalide").await;
    let described = b
        .script(
            "return [document.querySelector('#numero_1').getAttribute('aria-describedby'), \
             document.querySelector('#err-numeros').textContent, document.querySelector('#nom').value];",
            json!([]),
        )
        .await;
    assert_eq!(described[0], "err-numeros");
    assert!(described[1].as_str().unwrap().contains("invalide"), "{described}");
    assert_eq!(described[2], "Guichet");
    check_page(&b, &axe, "numero-invalide").await;
    b.script("document.querySelector('#numero_1').value = '';", json!([]))
        .await;
    b.type_into("#numero_1", &n[0]).await;
    b.click("form[action$='/guichet'] button[type=submit]").await;
    let warned = b.wait_for_text("L'ANTS signale un autre rendez-vous").await;
    assert!(warned.contains("Mairie de Colmar"), "{warned}");
    assert!(warned.contains("le 10/12/2026 à 10:00"), "{warned}");
    assert!(warned.contains(&n[0]), "{warned}");
    check_page(&b, &axe, "ailleurs").await;
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(none, 0, "nothing booked before the agent confirms");
    // What was typed is still there; the agent ticks the confirmation and sends again.
    let kept = b
        .script(
            "return [document.querySelector('#prenom').value, document.querySelector('#numero_2').value];",
            json!([]),
        )
        .await;
    assert_eq!(kept, json!(["Lucie", n[1]]));
    b.click("#confirmer_ants").await;
    b.click("form[action$='/guichet'] button[type=submit]").await;
    let done = b.wait_for_text("Rendez-vous enregistré").await;
    assert!(
        done.contains("confirmé après vérification avec l'usager"),
        "{done}"
    );
    assert!(done.contains("lucie.guichet@example.fr"), "{done}");
    check_page(&b, &axe, "enregistre").await;
    // The appointment, its numbers recorded as overridden, the audit row with ANTS's answer.
    let (id, source, at): (Uuid, String, String) = sqlx::query_as(
        "SELECT id, source, to_char(lower(during) AT TIME ZONE 'Europe/Paris', 'YYYY-MM-DD HH24:MI') FROM appointments",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((source.as_str(), at.as_str()), ("counter", "2026-12-02 10:00"));
    let checks: Vec<(String, String)> = sqlx::query_as(
        "SELECT number, ants_check FROM appointment_pre_demandes WHERE appointment_id = $1 ORDER BY number",
    )
    .bind(id)
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut want: Vec<(String, String)> = n.iter().map(|x| (x.clone(), "overridden".to_string())).collect();
    want.sort();
    assert_eq!(checks, want);
    let audit: Value = sqlx::query_scalar(
        "SELECT details FROM audit_log WHERE action = 'counter_booking' AND appointment_id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audit["ants_check"], "overridden");
    assert_eq!(audit["ants_override"][0]["meeting_point"], "Mairie de Colmar");
    assert_eq!(audit["ants_override"][0]["number"], n[0]);
    // The confirmation email and one ANTS declaration per number are queued, as online.
    let kinds = outbox_kinds(&pool, id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "ants_declare").count(),
        2,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"confirmation".to_string()), "{kinds:?}");
    // ANTS was asked about both numbers for this site.
    let asked = ants.status_calls();
    assert!(asked.iter().any(|c| c.application_ids.contains(&n[0])
        && c.application_ids.contains(&n[1])
        && c.meeting_point_id == Some(site.id.to_string())));
    // The email goes out to the address given, with the reference.
    let dir = std::env::temp_dir().join(format!("rdv-mail-{}", Uuid::new_v4()));
    drain_mail(&app, &dir).await;
    let eml = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("confirmation"))
        .expect("a confirmation email");
    let text = std::fs::read_to_string(eml).unwrap();
    assert!(text.contains("lucie.guichet@example.fr"));
    let reference: String = sqlx::query_scalar("SELECT reference FROM appointments WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(done.contains(&reference));
}

#[sqlx::test(migrations = "../migrations")]
async fn counter_bookings_through_the_api_respect_holds_and_check_and_declare_numbers(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    agent(&pool, "agent@rixheim.fr", "68278").await;
    let ants = FakeAnts::start().await;
    let app = app_with_ants(&pool, paris(2026, 12, 2, 8, 0, 0), &ants).await;
    let token = app.staff_token("agent@rixheim.fr").await;
    let path = format!("/api/v1/staff/sites/{}/appointments", site.id);
    let body = |at: &str, numbers: &[String], more: Value| {
        let mut b = json!({"motif": "CNI", "persons": numbers.len().max(1), "start": at,
                           "first_name": "Marc", "last_name": "Comptoir", "email": e2e_tests::email(),
                           "pre_demande_numbers": numbers});
        if let (Some(b), Some(more)) = (b.as_object_mut(), more.as_object()) {
            b.extend(more.clone());
        }
        b
    };
    // A citizen holds 10:00 on the only station: the counter may not take it.
    let (s, hold) = app
        .hold(site.id, "CNI", 1, "2026-12-02T10:00:00+01:00", "10.60.0.1")
        .await;
    assert_eq!(s, 201, "{hold}");
    let (s, page) = app
        .call(
            "GET",
            &format!("/agents/lieux/{}/guichet?jour=2026-12-02", site.id),
            &Value::Null,
            Some(&token),
        )
        .await;
    let page = page.as_str().unwrap_or_default().to_string();
    assert_eq!(s, 200);
    let listed = |t: &str| page.contains(&format!("Choisir le mercredi 2 décembre 2026 à {t}"));
    assert!(
        listed("09:45") && listed("10:15"),
        "listed around the hold: {page}"
    );
    assert!(!listed("10:00"), "the held time is not offered at the counter");
    assert!(
        page.contains("Choisir le jeudi 3 décembre 2026 à 10:00"),
        "the next days are listed"
    );
    let n = numbers(1);
    let (s, refused) = app
        .call(
            "POST",
            &path,
            &body("2026-12-02T10:00:00+01:00", &n, json!({})),
            Some(&token),
        )
        .await;
    assert_eq!(
        (s, refused["error"]["code"].as_str()),
        (409, Some("slot_unavailable")),
        "{refused}"
    );
    // Nothing was checked with ANTS for nothing... but the check comes first: no appointment anyway.
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
    // A consumed number is refused as online.
    let used = numbers(1);
    ants.set_status(&used[0], "consumed");
    let (s, b) = app
        .call(
            "POST",
            &path,
            &body("2026-12-02T10:15:00+01:00", &used, json!({})),
            Some(&token),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("pre_demande_consumed")),
        "{b}"
    );
    // Booked elsewhere: the same answer as online, then the agent's override.
    let elsewhere = numbers(1);
    ants.add_foreign(&elsewhere[0], "Mairie de Colmar", "2026-12-10 10:00:00");
    let (s, b) = app
        .call(
            "POST",
            &path,
            &body("2026-12-02T10:15:00+01:00", &elsewhere, json!({})),
            Some(&token),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str(), b["error"]["field"].as_str()),
        (409, Some("pre_demande_booked_elsewhere"), Some("override_ants")),
        "{b}"
    );
    assert_eq!(b["error"]["appointments"][0]["meeting_point"], "Mairie de Colmar");
    let (s, over) = app
        .call(
            "POST",
            &path,
            &body(
                "2026-12-02T10:15:00+01:00",
                &elsewhere,
                json!({"override_ants": true}),
            ),
            Some(&token),
        )
        .await;
    assert_eq!(
        (s, over["ants_check"].as_str()),
        (201, Some("overridden")),
        "{over}"
    );
    // Validated numbers: recorded so, declared, the confirmation queued for the email given.
    let ok = numbers(2);
    let (s, made) = app
        .call(
            "POST",
            &path,
            &json!({"motif": "PASSPORT", "persons": 2, "start": "2026-12-02T10:30:00+01:00",
                    "first_name": "Inès", "last_name": "Téléphone", "email": "ines@example.fr",
                    "phone": "06 11 22 33 44", "source": "phone", "pre_demande_numbers": ok}),
            Some(&token),
        )
        .await;
    assert_eq!(
        (s, made["ants_check"].as_str()),
        (201, Some("validated")),
        "{made}"
    );
    let id: Uuid = made["id"].as_str().unwrap().parse().unwrap();
    let kinds = outbox_kinds(&pool, id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "ants_declare").count(),
        2,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"confirmation".to_string()), "{kinds:?}");
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM appointments WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(email.as_deref(), Some("ines@example.fr"));
    assert!(ants
        .status_calls()
        .iter()
        .any(|c| c.application_ids.contains(&ok[0])));
    // A number already in a live appointment here: the same refusal as online.
    let (s, b) = app
        .call(
            "POST",
            &path,
            &body("2026-12-02T11:30:00+01:00", &ok[..1], json!({})),
            Some(&token),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("pre_demande_in_use")),
        "{b}"
    );
    // The citizen gives up their hold: the counter may now take 10:00.
    let hold_id = hold["hold_id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/api/v1/holds/{hold_id}")).await, 204);
    let (s, b) = app
        .call(
            "POST",
            &path,
            &body("2026-12-02T10:00:00+01:00", &n, json!({})),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(e2e_tests::overlapping_pairs(&pool).await, 0);
    // Every counter booking is audited with its check.
    let checks: Vec<String> = sqlx::query_scalar(
        "SELECT details->>'ants_check' FROM audit_log WHERE action = 'counter_booking' ORDER BY at, id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(checks.len(), 3);
    assert!(checks.contains(&"overridden".to_string()) && checks.contains(&"validated".to_string()));
}

/// A component's properties as (name, value) pairs.
type Props = Vec<(String, String)>;

/// The calendar's properties and each event's, through the `ical` parser.
fn feed_events(ics: &str) -> (Props, Vec<Props>) {
    let mut parser = ical::IcalParser::new(std::io::BufReader::new(ics.as_bytes()));
    let cal = parser.next().expect("one calendar").expect("valid iCalendar");
    assert!(parser.next().is_none(), "one calendar only");
    let pairs = |props: &[ical::property::Property]| {
        props
            .iter()
            .map(|p| (p.name.clone(), p.value.clone().unwrap_or_default()))
            .collect::<Props>()
    };
    (
        pairs(&cal.properties),
        cal.events.iter().map(|e| pairs(&e.properties)).collect(),
    )
}

fn prop<'a>(props: &'a [(String, String)], name: &str) -> &'a str {
    props
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {props:?}"))
}

/// The URLs the feeds page shows, once `ready` says the page after a click is there.
async fn shown_urls(b: &Browser, ready: impl Fn(&[String]) -> bool) -> Vec<String> {
    for _ in 0..100 {
        let urls = b
            .script(
                "return Array.from(document.querySelectorAll('code.feed-url')).map(c => c.textContent);",
                json!([]),
            )
            .await;
        let urls: Vec<String> = serde_json::from_value(urls).unwrap_or_default();
        if ready(&urls) {
            return urls;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "the feeds page never showed the expected URLs: {}",
        b.text().await
    );
}

/// The path of a feed URL (the test server's address is not the public base URL).
fn feed_path(url: &str) -> String {
    let at = url.find("/agents/flux/").expect("a feed URL");
    url[at..].to_string()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_staff_feed_lists_the_days_appointments_and_renewing_cuts_the_old_url(pool: PgPool) {
    let site = SiteBuilder {
        stations: 2,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(12, 0))])
    .create(&pool)
    .await;
    let other = SiteBuilder {
        insee: "68224",
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(12, 0))])
    .create(&pool)
    .await;
    agent(&pool, "agent@rixheim.fr", "68278").await;
    agent(&pool, "agent@mulhouse.fr", "68224").await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 1, 8, 0, 0)).await;
    let token = app.staff_token("agent@rixheim.fr").await;
    // The day: two online bookings and one by phone at the counter, one more cancelled by staff,
    // one at the other commune's site.
    let mut booked = Vec::new();
    for (i, at) in ["2026-12-02T09:00:00+01:00", "2026-12-02T09:00:00+01:00"]
        .iter()
        .enumerate()
    {
        let (s, b) = app
            .book(
                site.id,
                1,
                at,
                &format!("10.70.0.{i}"),
                &e2e_tests::email(),
                &numbers(1),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        booked.push(b["id"].as_str().unwrap().to_string());
    }
    let counter = format!("/api/v1/staff/sites/{}/appointments", site.id);
    let (s, phone) = app
        .call(
            "POST",
            &counter,
            &json!({"motif": "RETRIEVAL", "persons": 2, "start": "2026-12-02T11:00:00+01:00",
                    "first_name": "Zoé", "last_name": "Appel", "phone": "06 00 00 00 01", "source": "phone"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{phone}");
    let (s, gone) = app
        .call(
            "POST",
            &counter,
            &json!({"motif": "CNI", "persons": 1, "start": "2026-12-02T10:00:00+01:00",
                    "first_name": "Annulé", "last_name": "Ensuite"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{gone}");
    let (s, b) = app
        .call(
            "POST",
            &format!(
                "/api/v1/staff/appointments/{}/status",
                gone["id"].as_str().unwrap()
            ),
            &json!({"status": "cancelled", "reason": "Erreur de saisie"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app
        .book(
            other.id,
            1,
            "2026-12-02T09:30:00+01:00",
            "10.70.0.9",
            &e2e_tests::email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201, "{b}");

    // The page, then a URL for the whole site and one for the first station.
    let axe = axe_source();
    let br = Browser::start("flux-agents").await;
    staff_login(&br, &app, "agent@rixheim.fr").await;
    br.goto(&format!("{}/agents/lieux/{}/flux", app.base, site.id))
        .await;
    let text = br.wait_for_text("Guichet DR 2").await;
    assert!(text.contains("Pas encore d'adresse"), "{text}");
    check_page(&br, &axe, "flux-vide").await;
    br.click("button[aria-label='Créer l\\'adresse : Tout le lieu']")
        .await;
    shown_urls(&br, |u| u.len() == 1).await;
    br.wait_for_text("Adresse renouvelée").await;
    br.click("button[aria-label='Créer l\\'adresse : Guichet DR 1']")
        .await;
    let urls = shown_urls(&br, |u| u.len() == 2).await;
    check_page(&br, &axe, "flux").await;
    let (site_url, station_url) = (feed_path(&urls[0]), feed_path(&urls[1]));
    assert!(site_url.ends_with(".ics"));

    // The site's feed, as a calendar application reads it (no session).
    let (s, ics) = app.get_text(&site_url).await;
    assert_eq!(s, 200, "{ics}");
    let resp = app
        .client
        .get(format!("{}{site_url}", app.base))
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    let (calendar, events) = feed_events(&ics);
    assert_eq!(prop(&calendar, "METHOD"), "PUBLISH");
    assert_eq!(
        events.len(),
        3,
        "the cancelled one and the other site's are left out: {ics}"
    );
    let mut starts: Vec<&str> = events.iter().map(|e| prop(e, "DTSTART")).collect();
    starts.sort();
    assert_eq!(
        starts,
        ["20261202T080000Z", "20261202T080000Z", "20261202T100000Z"]
    );
    let summaries: Vec<&str> = events.iter().map(|e| prop(e, "SUMMARY")).collect();
    assert_eq!(
        summaries
            .iter()
            .filter(|s| s.starts_with("Carte nationale d'identité – Camille Test – 1 personne"))
            .count(),
        2,
        "{summaries:?}"
    );
    assert!(
        summaries.iter().any(|s| s.contains("Zoé Appel – 2 personnes")),
        "{summaries:?}"
    );
    assert!(
        !summaries
            .iter()
            .any(|s| s.contains("CNI") || s.contains("RETRIEVAL")),
        "labels, not codes"
    );
    let uids: std::collections::HashSet<&str> = events.iter().map(|e| prop(e, "UID")).collect();
    assert_eq!(uids.len(), 3, "one UID per appointment");
    for id in &booked {
        assert!(uids.contains(format!("agents-{id}@rdv-cni-passeport.invalid").as_str()));
    }
    // The same UID on the next read: calendar applications update rather than duplicate.
    let (_, again) = app.get_text(&site_url).await;
    let (_, events_again) = feed_events(&again);
    let uids_again: std::collections::HashSet<&str> = events_again.iter().map(|e| prop(e, "UID")).collect();
    assert_eq!(uids, uids_again);
    // The station's feed: its own appointments only.
    let (s, ics) = app.get_text(&station_url).await;
    assert_eq!(s, 200);
    let (_, station_events) = feed_events(&ics);
    assert!(!station_events.is_empty() && station_events.len() < 3, "{ics}");
    assert!(station_events.iter().all(|e| prop(e, "LOCATION") == "DR 1"));

    // Renewed from the page: the old URL is dead at once, the new one works.
    br.click("button[aria-label='Renouveler l\\'adresse : Tout le lieu']")
        .await;
    let shown = shown_urls(&br, |u| u.len() == 2 && feed_path(&u[0]) != site_url).await;
    let renewed = feed_path(&shown[0]);
    assert_ne!(renewed, site_url);
    assert_eq!(app.get_text(&site_url).await.0, 404, "the old URL stops at once");
    assert_eq!(app.get_text(&renewed).await.0, 200);
    assert_eq!(
        app.get_text(&station_url).await.0,
        200,
        "the station's URL is untouched"
    );
    // Wrong secrets: a well-formed unknown one, a malformed one, no suffix.
    let (fake, _) = booking_service::tokens::new_token();
    assert_eq!(app.get_text(&format!("/agents/flux/{fake}.ics")).await.0, 404);
    assert_eq!(app.get_text("/agents/flux/pas-un-secret.ics").await.0, 404);
    let bare = renewed.trim_end_matches(".ics");
    assert_eq!(app.get_text(bare).await.0, 404);

    // The API: the list, and a renewal that cuts the page's URL.
    let (s, list) = app
        .call(
            "GET",
            &format!("/api/v1/staff/sites/{}/feed", site.id),
            &Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(
        list.as_array().unwrap().len(),
        3,
        "the site and its two stations: {list}"
    );
    assert_eq!(feed_path(list[0]["url"].as_str().unwrap()), renewed);
    assert!(list[2]["url"].is_null(), "never generated: {list}");
    let (s, new) = app
        .call(
            "POST",
            &format!("/api/v1/staff/sites/{}/feed", site.id),
            &Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{new}");
    assert_eq!(app.get_text(&renewed).await.0, 404);
    assert_eq!(
        app.get_text(&feed_path(new["url"].as_str().unwrap())).await.0,
        200
    );
    let station2 = site.stations[1];
    let (s, st) = app
        .call(
            "POST",
            &format!("/api/v1/staff/sites/{}/stations/{station2}/feed", site.id),
            &Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!(s, 201, "{st}");
    // Another commune's agent sees none of it; another site's station is not this site's.
    let mulhouse = app.staff_token("agent@mulhouse.fr").await;
    for page in ["flux", "guichet"] {
        let (s, _) = app
            .call(
                "GET",
                &format!("/agents/lieux/{}/{page}", site.id),
                &Value::Null,
                Some(&mulhouse),
            )
            .await;
        assert_eq!(s, 404, "another commune's {page} page");
    }
    let (s, _) = app
        .call(
            "POST",
            &format!("/api/v1/staff/sites/{}/feed", site.id),
            &Value::Null,
            Some(&mulhouse),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .call(
            "POST",
            &format!(
                "/api/v1/staff/sites/{}/stations/{}/feed",
                site.id, other.stations[0]
            ),
            &Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .call(
            "POST",
            &format!("/api/v1/staff/sites/{}/feed", site.id),
            &Value::Null,
            None,
        )
        .await;
    assert_eq!(s, 401);
    // Every renewal is audited; only the hash and a sealed copy are stored.
    let renewals: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'feed_renewed'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(renewals, 5);
    let secret = new["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".ics")
        .to_string();
    let plain: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM staff_feed_secrets WHERE position(convert_to($1, 'UTF8') in secret_sealed) > 0",
    )
    .bind(&secret)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(plain, 0, "the secret is never stored readable");
}
