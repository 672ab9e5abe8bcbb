//! The pages in a real browser (headless Chromium): a booking from search to confirmation, the
//! email's management link, cancellation, accessibility, two browsers racing, staff check-in, and
//! every link the service sends out. Screenshots: target/browser-screenshots/<test>/.

use booking_service::staff::{accounts, Role};
use e2e_tests::browser::{axe_source, Browser};
use e2e_tests::{hm, numbers, paris, SiteBuilder, TestApp};
use notifier::config::NotifierConfig;
use notifier::worker::Worker;
use sqlx::PgPool;
use std::sync::Arc;

async fn drain_mail(app: &TestApp, dir: &std::path::Path) {
    let mut c = NotifierConfig::for_tests("postgres://unused", dir.to_path_buf());
    c.public_base_url = app.base.clone();
    let w = Worker::new(app.pool.clone(), c, Arc::new(app.clock.clone())).unwrap();
    while w.process_batch().await.unwrap() > 0 {}
}

fn management_link(eml: &str, base: &str) -> String {
    let m = mail_parser::MessageParser::default()
        .parse(eml.as_bytes())
        .unwrap();
    let text = m.body_text(0).unwrap().to_string();
    let start = text
        .find(&format!("{base}/rdv/"))
        .expect("management link in the email");
    text[start..].split_whitespace().next().unwrap().to_string()
}

/// The page a slot click led to, once it is there: the form, or the "taken" answer.
async fn settled(b: &Browser) -> String {
    for _ in 0..100 {
        let t = b.text().await;
        if t.contains("Ce créneau vous est réservé") || t.contains("être pris") {
            return t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    b.text().await
}

/// Logs a staff member in through the login page (every test account has the same password).
async fn staff_login(b: &Browser, app: &TestApp, email: &str) {
    b.goto(&format!("{}/agents/connexion", app.base)).await;
    b.type_into("#email", email).await;
    b.type_into("#password", "correct horse battery staple").await;
    b.click("main form button").await;
    b.wait_for_text("Vos lieux").await;
}

fn assert_accessible(violations: Vec<String>, page: &str) {
    assert!(
        violations.is_empty(),
        "accessibility violations on {page}: {violations:#?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_citizen_books_through_the_pages_then_cancels_from_the_email_link(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    // Sunday morning: the first free time is Monday 09:00, still cancellable online afterwards.
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 29, 7, 0, 0)).await;
    let axe = axe_source();
    let b = Browser::start("booking").await;
    b.goto(&format!("{}/", app.base)).await;
    b.shot("accueil").await;
    assert_accessible(b.axe_violations(&axe).await, "home");
    b.type_into("#q", "68170").await;
    b.click("form[role=search] button").await;
    b.shot("recherche").await;
    let found = b.wait_for_text("Les premiers créneaux libres").await;
    assert!(found.contains("Mairie test"));
    assert!(found.contains("Les premiers créneaux libres"), "{found}");
    assert_accessible(b.axe_violations(&axe).await, "search");
    b.click("main a[href^='/lieux/']").await;
    b.wait_for_text("Mettre à jour les horaires").await;
    b.shot("horaires").await;
    assert!(b.url().await.contains(&site.id.to_string()));
    assert_accessible(b.axe_violations(&axe).await, "site");
    b.click("ul.slots button").await;
    b.shot("formulaire").await;
    b.wait_for_text("Ce créneau vous est réservé jusqu'à").await;
    assert_accessible(b.axe_violations(&axe).await, "form");
    // A wrong number first: the error is shown next to its field, what was typed is kept.
    b.type_into("#first_name", "Élise").await;
    b.type_into("#last_name", "Martin").await;
    b.type_into("#email", "elise.martin@example.fr").await;
    b.type_into("#numero_1", "ABC").await;
    b.script(
        "document.querySelector('#numero_1').removeAttribute('minlength');",
        serde_json::json!([]),
    )
    .await;
    b.click("main form button[type=submit]").await;
    b.shot("erreur").await;
    b.wait_for_text("Numéro de pré-demande invalide").await;
    assert_accessible(b.axe_violations(&axe).await, "form with error");
    let number = numbers(1).remove(0);
    b.script(
        "document.querySelector('#numero_1').value = '';",
        serde_json::json!([]),
    )
    .await;
    b.type_into("#numero_1", &number).await;
    b.click("main form button[type=submit]").await;
    b.shot("confirmation").await;
    let text = b.wait_for_text("Rendez-vous confirmé").await;
    assert!(text.contains("timbre fiscal") || text.contains("photo d'identité"));
    assert_accessible(b.axe_violations(&axe).await, "confirmation");
    // The email the notifier wrote carries the management link; it opens the page.
    let dir = std::env::temp_dir().join(format!("rdv-mail-{}", uuid::Uuid::new_v4()));
    drain_mail(&app, &dir).await;
    let eml = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("confirmation"))
        .unwrap();
    let link = management_link(&std::fs::read_to_string(eml).unwrap(), &app.base);
    b.goto(&link).await;
    b.shot("lien-email").await;
    b.wait_for_text("Rendez-vous confirmé").await;
    // Move it: another time at the same site, the same appointment.
    b.click("a[href$='/deplacer']").await;
    b.wait_for_text("Déplacer le rendez-vous").await;
    b.click("ul.slots li:nth-child(3) button").await;
    b.shot("deplace").await;
    b.wait_for_text("Rendez-vous déplacé").await;
    let moved: i32 = sqlx::query_scalar("SELECT calendar_sequence FROM appointments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(moved, 1);
    b.click("form[action$='/annuler'] button").await;
    b.shot("annule").await;
    b.wait_for_text("est annulé").await;
    let status: String = sqlx::query_scalar("SELECT status FROM appointments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "cancelled");
    let _ = std::fs::remove_dir_all(dir);
}

#[sqlx::test(migrations = "../migrations")]
async fn two_browsers_racing_for_one_slot_one_books_the_other_is_offered_alternatives(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool, paris(2026, 11, 30, 7, 0, 0)).await;
    let (a, b) = tokio::join!(Browser::start("race-a"), Browser::start("race-b"));
    let page = format!("{}/lieux/{}", app.base, site.id);
    tokio::join!(a.goto(&page), b.goto(&page));
    let first = "ul.slots li:first-child button";
    tokio::join!(a.click(first), b.click(first));
    a.shot("a").await;
    b.shot("b").await;
    let (ta, tb) = (settled(&a).await, settled(&b).await);
    let won = [&ta, &tb]
        .iter()
        .filter(|t| t.contains("Ce créneau vous est réservé"))
        .count();
    let told = [&ta, &tb]
        .iter()
        .filter(|t| t.contains("vient d'être pris"))
        .count();
    assert_eq!((won, told), (1, 1), "A: {ta}\nB: {tb}");
    // The one told is offered the next free times, and can take one.
    let loser = if ta.contains("vient d'être pris") { &a } else { &b };
    loser.click("ul.slots button").await;
    loser.shot("alternative").await;
    loser.wait_for_text("Ce créneau vous est réservé").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_staff_member_logs_in_and_checks_a_citizen_in(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    accounts::create_account(
        &pool,
        "agent@rixheim.fr",
        "correct horse battery staple",
        "Agent",
        Role::Agent,
        Some("68278"),
    )
    .await
    .unwrap();
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 2, 8, 0, 0)).await;
    let (s, booked) = app
        .book(
            site.id,
            1,
            "2026-12-02T10:00:00+01:00",
            "10.50.0.1",
            &e2e_tests::email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201, "{booked}");
    let b = Browser::start("staff").await;
    b.goto(&format!("{}/agents", app.base)).await;
    assert!(
        b.url().await.ends_with("/agents/connexion"),
        "not logged in: sent to the login page"
    );
    b.type_into("#email", "agent@rixheim.fr").await;
    b.type_into("#password", "correct horse battery staple").await;
    b.click("main form button").await;
    b.wait_for_text("Vos lieux").await;
    b.shot("lieux").await;
    b.click("main a[href^='/agents/lieux/']").await;
    b.shot("journee").await;
    b.wait_for_text("Camille").await;
    b.click("form[action$='/statut'] button[aria-label^='Arrivé']")
        .await;
    b.shot("arrive").await;
    // The status cell, in French (on a phone each cell of the day list is a line of its card).
    b.wait_for_text("\narrivé\n").await;
    let status: String = sqlx::query_scalar("SELECT status FROM appointments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "checked_in");
    let cookie = b.script("return document.cookie;", serde_json::json!([])).await;
    assert_eq!(cookie, "", "the session cookie is HttpOnly");
    // A phone booking at 11:00 through the counter page, picked from the free times (a
    // retrieval: no pré-demande number asked).
    b.click("main a[href$='/guichet?jour=2026-12-02']").await;
    b.wait_for_text("Afficher les horaires libres").await;
    b.goto(&format!(
        "{}/agents/lieux/{}/guichet?motif=RETRIEVAL&personnes=1&jour=2026-12-02",
        app.base, site.id
    ))
    .await;
    b.click("button[aria-label='Choisir le mercredi 2 décembre 2026 à 11:00']")
        .await;
    b.wait_for_text("mercredi 2 décembre 2026 à 11:00").await;
    b.type_into("#prenom", "Paul").await;
    b.type_into("#nom", "Téléphone").await;
    b.click("#source-telephone").await;
    b.click("form[action$='/guichet'] button[type=submit]").await;
    b.wait_for_text("Rendez-vous enregistré").await;
    b.shot("guichet").await;
    b.goto(&format!("{}/agents/lieux/{}?jour=2026-12-02", app.base, site.id))
        .await;
    b.wait_for_text("Paul Téléphone").await;
    let phone: (String, String) = sqlx::query_as("SELECT source, to_char(lower(during) AT TIME ZONE 'Europe/Paris', 'HH24:MI') FROM appointments WHERE last_name = 'Téléphone'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(phone, ("phone".to_string(), "11:00".to_string()));
    // Cancelled by the mairie, with the reason.
    b.type_into("input[name=reason]", "Mairie fermée exceptionnellement")
        .await;
    b.click("form[action$='/statut'] button.secondary").await;
    b.wait_for_text("\nannulé\n").await;
    let cancelled: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments WHERE status = 'cancelled' AND cancel_reason = 'Mairie fermée exceptionnellement'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(cancelled, 1);
    // A closure is for administrators: an agent is told so.
    b.script("document.querySelector('#f-debut').value = '2026-12-03T08:00'; document.querySelector('#f-fin').value = '2026-12-03T12:00';", serde_json::json!([])).await;
    b.type_into("#f-motif", "Formation").await;
    b.click("form[action$='/fermeture'] button").await;
    b.wait_for_text("rôle ne permet pas").await;
    // A breakdown is the counter's: declared from the page.
    b.goto(&format!("{}/agents/lieux/{}?jour=2026-12-02", app.base, site.id))
        .await;
    b.script("document.querySelector('#p-debut').value = '2026-12-02T08:00'; document.querySelector('#p-fin').value = '2026-12-02T18:00';", serde_json::json!([])).await;
    b.type_into("#p-motif", "Lecteur d'empreintes en panne").await;
    b.click("form[action$='/panne'] button").await;
    b.shot("panne").await;
    b.wait_for_text("Panne déclarée").await;
    let closures: i64 = sqlx::query_scalar("SELECT count(*) FROM closures")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(closures, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_administrator_previews_a_closure_then_applies_it_and_forms_need_their_csrf_token(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    accounts::create_account(
        &pool,
        "chef@rixheim.fr",
        "correct horse battery staple",
        "Chef",
        Role::CommuneAdmin,
        Some("68278"),
    )
    .await
    .unwrap();
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 1, 8, 0, 0)).await;
    let (s, _) = app
        .book(
            site.id,
            1,
            "2026-12-03T10:00:00+01:00",
            "10.52.0.1",
            &e2e_tests::email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201);
    let b = Browser::start("closure").await;
    staff_login(&b, &app, "chef@rixheim.fr").await;
    b.goto(&format!("{}/agents/lieux/{}?jour=2026-12-03", app.base, site.id))
        .await;
    b.script("document.querySelector('#f-debut').value = '2026-12-03T08:00'; document.querySelector('#f-fin').value = '2026-12-03T12:00';", serde_json::json!([])).await;
    b.type_into("#f-motif", "Formation").await;
    b.click("form[action$='/fermeture'] button").await;
    let t = b.wait_for_text("Fermeture : aperçu").await;
    b.shot("apercu").await;
    assert!(
        t.contains("Fermeture : aperçu") && t.contains("1 rendez-vous"),
        "{t}"
    );
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM closures")
            .fetch_one(&pool)
            .await
            .unwrap(),
        0
    );
    b.click("main form button").await;
    b.shot("appliquee").await;
    b.wait_for_text("Fermeture enregistrée").await;
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM closures")
            .fetch_one(&pool)
            .await
            .unwrap(),
        1
    );
    // A form posted without the session's CSRF token is refused.
    b.goto(&format!("{}/agents/lieux/{}?jour=2026-12-03", app.base, site.id))
        .await;
    b.script(
        "document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged');",
        serde_json::json!([]),
    )
    .await;
    b.click("form[action$='/statut'] button[aria-label^='Arrivé']")
        .await;
    b.shot("csrf").await;
    b.wait_for_text("Formulaire expiré ou invalide").await;
    let status: String = sqlx::query_scalar("SELECT status FROM appointments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "booked");
}

#[sqlx::test(migrations = "../migrations")]
async fn every_link_the_service_sends_out_opens_a_working_page(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let local = |url: &str| url.replace("http://rdv.test", &app.base);
    let number = numbers(1);
    let (s, booked) = app
        .book(
            site.id,
            1,
            "2026-12-02T09:00:00+01:00",
            "10.51.0.1",
            &e2e_tests::email(),
            &number,
        )
        .await;
    assert_eq!(s, 201);
    let b = Browser::start("links").await;
    // The API's manage_url.
    b.goto(&local(booked["manage_url"].as_str().unwrap())).await;
    b.wait_for_text("Votre rendez-vous").await;
    // ANTS: callback_url, management_url, cancel_url.
    let hub = |path: String| {
        let app = &app;
        async move {
            app.client
                .get(format!("{}{path}", app.base))
                .header(
                    "X-HUB-RDV-AUTH-TOKEN",
                    booking_service::config::TEST_HUB_TOKENS[0],
                )
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let slots = hub(format!(
        "/api/ants/availableTimeSlots?meeting_point_ids={}&start_date=2026-12-03&end_date=2026-12-03",
        site.id
    ))
    .await;
    b.goto(&local(
        slots[site.id.to_string()][0]["callback_url"].as_str().unwrap(),
    ))
    .await;
    b.shot("callback").await;
    // The link itself holds nothing: the citizen's click does.
    b.wait_for_text("Réserver ce créneau").await;
    b.click("form[action='/reserver'] button").await;
    b.wait_for_text("Ce créneau vous est réservé").await;
    let found = hub(format!(
        "/api/ants/searchApplicationIds?application_ids={}",
        number[0]
    ))
    .await;
    let entry = &found[&number[0]][0];
    b.goto(&local(entry["management_url"].as_str().unwrap())).await;
    b.wait_for_text("Votre rendez-vous").await;
    b.goto(&local(entry["cancel_url"].as_str().unwrap())).await;
    b.shot("cancel-url").await;
    b.wait_for_text("Annuler le rendez-vous").await;
    // The emails' links.
    let dir = std::env::temp_dir().join(format!("rdv-mail-{}", uuid::Uuid::new_v4()));
    drain_mail(&app, &dir).await;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let eml = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        b.goto(&management_link(&eml, &app.base)).await;
        b.wait_for_text("Votre rendez-vous").await;
    }
    let _ = std::fs::remove_dir_all(dir);
    // The stylesheet is cached, from our own server.
    let css = app
        .client
        .get(format!("{}/static/site.css", app.base))
        .send()
        .await
        .unwrap();
    assert!(css.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_tampered_form_field_never_breaks_a_redirect(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    accounts::create_account(
        &pool,
        "agent@rixheim.fr",
        "correct horse battery staple",
        "Agent",
        Role::Agent,
        Some("68278"),
    )
    .await
    .unwrap();
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 2, 8, 0, 0)).await;
    let (s, _) = app
        .book(
            site.id,
            1,
            "2026-12-02T10:00:00+01:00",
            "10.53.0.1",
            &e2e_tests::email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201);
    let b = Browser::start("tampered").await;
    staff_login(&b, &app, "agent@rixheim.fr").await;
    b.goto(&format!("{}/agents/lieux/{}?jour=2026-12-02", app.base, site.id))
        .await;
    b.script(
        "document.querySelectorAll('input[name=jour]').forEach(i => i.value = '2026-12-02\\r\\nX-Evil: 1');",
        serde_json::json!([]),
    )
    .await;
    b.click("form[action$='/statut'] button[aria-label^='Arrivé']")
        .await;
    let t = b.wait_for_text("\narrivé\n").await;
    assert!(!t.contains("Erreur interne"), "{t}");
    assert!(b.url().await.contains(&format!("/agents/lieux/{}", site.id)));
    let status: String = sqlx::query_scalar("SELECT status FROM appointments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "checked_in");
}

/// A staff account of Rixheim (its commune comes with a site) whose password every test knows.
async fn agent_account(pool: &PgPool, email: &str) {
    if sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sites")
        .fetch_one(pool)
        .await
        .unwrap()
        == 0
    {
        SiteBuilder::default()
            .weekdays(&[(hm(9, 0), hm(12, 0))])
            .create(pool)
            .await;
    }
    accounts::create_account(
        pool,
        email,
        "correct horse battery staple",
        "Agent",
        Role::Agent,
        Some("68278"),
    )
    .await
    .unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn the_logout_button_ends_the_session_server_side(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    agent_account(&pool, "agent@rixheim.fr").await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 2, 8, 0, 0)).await;
    let axe = axe_source();
    let b = Browser::start("logout").await;
    staff_login(&b, &app, "agent@rixheim.fr").await;
    assert_accessible(b.axe_violations(&axe).await, "sites with the logout button");
    // On the day page too.
    b.goto(&format!("{}/agents/lieux/{}?jour=2026-12-02", app.base, site.id))
        .await;
    b.wait_for_text("Jour suivant").await;
    assert_accessible(b.axe_violations(&axe).await, "day with the logout button");
    b.click("form[action='/agents/deconnexion'] button").await;
    b.shot("deconnecte").await;
    b.wait_for_text("Connexion des agents").await;
    assert!(b.url().await.ends_with("/agents/connexion"), "{}", b.url().await);
    // The session ended on the server, not only in the browser: the old cookie is refused.
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM staff_sessions WHERE revoked_at IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    let ended: i64 = sqlx::query_scalar("SELECT count(*) FROM staff_sessions WHERE revoked_at IS NOT NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((live, ended), (0, 1));
    b.goto(&format!("{}/agents/lieux/{}?jour=2026-12-02", app.base, site.id))
        .await;
    b.wait_for_text("Connexion des agents").await;
    assert!(b.url().await.ends_with("/agents/connexion"));
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'logout'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audited, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_login_form_needs_its_anti_forgery_value(pool: PgPool) {
    agent_account(&pool, "agent@rixheim.fr").await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 2, 8, 0, 0)).await;
    let axe = axe_source();
    // Posted from elsewhere (no cookie, no field): refused before the password is looked at.
    let resp = app
        .client
        .post(format!("{}/agents/connexion", app.base))
        .form(&[
            ("email", "agent@rixheim.fr"),
            ("password", "correct horse battery staple"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert!(
        resp.headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().contains("rdv_staff=")),
        "no session"
    );
    // A field that is not the cookie's value, in the browser: refused, the page says why and
    // offers a fresh form that works.
    let b = Browser::start("login-csrf").await;
    b.goto(&format!("{}/agents/connexion", app.base)).await;
    assert_accessible(b.axe_violations(&axe).await, "login");
    b.script(
        "document.querySelector('input[name=csrf]').value = 'forged';",
        serde_json::json!([]),
    )
    .await;
    b.type_into("#email", "agent@rixheim.fr").await;
    b.type_into("#password", "correct horse battery staple").await;
    b.click("main form button").await;
    b.shot("refuse").await;
    b.wait_for_text("Formulaire expiré ou venu d'ailleurs").await;
    assert_accessible(b.axe_violations(&axe).await, "login refused");
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM staff_sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    b.type_into("#email", "agent@rixheim.fr").await;
    b.type_into("#password", "correct horse battery staple").await;
    b.click("main form button").await;
    b.wait_for_text("Vos lieux").await;
}

fn reset_link(eml: &str, base: &str) -> String {
    let m = mail_parser::MessageParser::default()
        .parse(eml.as_bytes())
        .unwrap();
    let text = m.body_text(0).unwrap().to_string();
    let start = text
        .find(&format!("{base}/agents/mot-de-passe/"))
        .expect("reset link in the email");
    text[start..].split_whitespace().next().unwrap().to_string()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_forgotten_password_is_reset_through_the_emailed_link(pool: PgPool) {
    agent_account(&pool, "agent@rixheim.fr").await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 2, 8, 0, 0)).await;
    let axe = axe_source();
    let b = Browser::start("reset").await;
    b.goto(&format!("{}/agents/connexion", app.base)).await;
    b.click("a[href='/agents/mot-de-passe-oublie']").await;
    b.wait_for_text("Recevoir un lien").await;
    assert_accessible(b.axe_violations(&axe).await, "forgotten password");
    // An unknown address gets the same answer, and no email.
    b.type_into("#email", "personne@rixheim.fr").await;
    b.click("main form button").await;
    let unknown = b.wait_for_text("Si un compte correspond").await;
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(queued, 0);
    b.type_into("#email", "agent@rixheim.fr").await;
    b.click("main form button").await;
    b.shot("demande").await;
    let known = b.wait_for_text("Si un compte correspond").await;
    assert_eq!(
        unknown, known,
        "the answer does not tell whether the address exists"
    );
    assert_accessible(b.axe_violations(&axe).await, "link requested");
    let dir = std::env::temp_dir().join(format!("rdv-mail-{}", uuid::Uuid::new_v4()));
    drain_mail(&app, &dir).await;
    let emails: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(emails.len(), 1, "{emails:?}");
    let link = reset_link(&std::fs::read_to_string(&emails[0]).unwrap(), &app.base);
    assert!(!link.contains('?'), "the token is in the path: {link}");
    b.goto(&link).await;
    b.wait_for_text("Nouveau mot de passe").await;
    assert!(!b.url().await.contains('?'));
    assert_accessible(b.axe_violations(&axe).await, "new password");
    // Two different passwords: said next to the field, nothing changed.
    b.type_into("#password", "une phrase de passe nouvelle").await;
    b.type_into("#password2", "une autre phrase de passe").await;
    b.click("main form button").await;
    b.shot("differents").await;
    b.wait_for_text("Les deux mots de passe diffèrent").await;
    assert_accessible(b.axe_violations(&axe).await, "new password with an error");
    let described = b
        .script(
            "return document.querySelector('#password').getAttribute('aria-describedby');",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(described, "err-password");
    b.type_into("#password", "une phrase de passe nouvelle").await;
    b.type_into("#password2", "une phrase de passe nouvelle").await;
    b.click("main form button").await;
    b.shot("enregistre").await;
    b.wait_for_text("Mot de passe enregistré").await;
    assert!(b.url().await.contains("/agents/connexion"));
    assert_accessible(b.axe_violations(&axe).await, "login after the reset");
    // The old password no longer opens a session, the new one does.
    b.type_into("#email", "agent@rixheim.fr").await;
    b.type_into("#password", "correct horse battery staple").await;
    b.click("main form button").await;
    b.wait_for_text("Adresse ou mot de passe incorrect").await;
    b.type_into("#email", "agent@rixheim.fr").await;
    b.type_into("#password", "une phrase de passe nouvelle").await;
    b.click("main form button").await;
    b.wait_for_text("Vos lieux").await;
    // The link works once.
    b.goto(&link).await;
    b.type_into("#password", "encore une autre phrase").await;
    b.type_into("#password2", "encore une autre phrase").await;
    b.click("main form button").await;
    b.wait_for_text("n'est plus valable").await;
    let _ = std::fs::remove_dir_all(dir);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_logged_in_member_changes_their_password_from_the_pages(pool: PgPool) {
    agent_account(&pool, "agent@rixheim.fr").await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 2, 8, 0, 0)).await;
    // Another session of the same member (the API's), which the change ends.
    let other = app
        .client
        .post(format!("{}/api/v1/staff/login", app.base))
        .json(&serde_json::json!({"email": "agent@rixheim.fr", "password": "correct horse battery staple"}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let me = |token: String| {
        let app = &app;
        async move {
            app.client
                .get(format!("{}/api/v1/staff/me", app.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(me(other.clone()).await, 200);
    let axe = axe_source();
    let b = Browser::start("password-change").await;
    staff_login(&b, &app, "agent@rixheim.fr").await;
    b.click("a[href='/agents/mot-de-passe']").await;
    b.wait_for_text("Mot de passe actuel").await;
    assert_accessible(b.axe_violations(&axe).await, "password change");
    // A wrong current password: said next to that field.
    b.type_into("#current_password", "pas le bon mot de passe").await;
    b.type_into("#new_password", "une phrase de passe nouvelle").await;
    b.type_into("#new_password2", "une phrase de passe nouvelle")
        .await;
    b.click("main form[action='/agents/mot-de-passe'] button").await;
    b.shot("mauvais").await;
    b.wait_for_text("Mot de passe actuel incorrect").await;
    assert_accessible(b.axe_violations(&axe).await, "password change with an error");
    let described = b
        .script(
            "return document.querySelector('#current_password').getAttribute('aria-describedby');",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(described, "err-current");
    // The two new ones differ: said next to them.
    b.type_into("#current_password", "correct horse battery staple")
        .await;
    b.type_into("#new_password", "une phrase de passe nouvelle").await;
    b.type_into("#new_password2", "une autre phrase de passe").await;
    b.click("main form[action='/agents/mot-de-passe'] button").await;
    b.wait_for_text("Les deux nouveaux mots de passe diffèrent").await;
    assert_eq!(me(other.clone()).await, 200, "nothing changed yet");
    // A forged CSRF token is refused.
    b.script(
        "document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged');",
        serde_json::json!([]),
    )
    .await;
    b.type_into("#current_password", "correct horse battery staple")
        .await;
    b.type_into("#new_password", "une phrase de passe nouvelle").await;
    b.type_into("#new_password2", "une phrase de passe nouvelle")
        .await;
    b.click("main form[action='/agents/mot-de-passe'] button").await;
    b.wait_for_text("Formulaire expiré ou invalide").await;
    assert_eq!(me(other.clone()).await, 200, "nothing changed");
    b.goto(&format!("{}/agents/mot-de-passe", app.base)).await;
    b.type_into("#current_password", "correct horse battery staple")
        .await;
    b.type_into("#new_password", "une phrase de passe nouvelle").await;
    b.type_into("#new_password2", "une phrase de passe nouvelle")
        .await;
    b.click("main form[action='/agents/mot-de-passe'] button").await;
    b.shot("change").await;
    b.wait_for_text("Mot de passe changé").await;
    // The other session ended, this one goes on; audited once.
    assert_eq!(me(other).await, 401);
    b.goto(&format!("{}/agents", app.base)).await;
    b.wait_for_text("Vos lieux").await;
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'password_change'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audited, 1);
    // Logged out, the new password opens a session.
    b.click("form[action='/agents/deconnexion'] button").await;
    b.wait_for_text("Connexion des agents").await;
    b.type_into("#email", "agent@rixheim.fr").await;
    b.type_into("#password", "une phrase de passe nouvelle").await;
    b.click("main form button").await;
    b.wait_for_text("Vos lieux").await;
    // Not logged in: the page sends to the login.
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/agents/mot-de-passe", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
}
