//! A commune administrator's back office in a real browser: the accounts page (deactivating a
//! member logs them out at once), the CSV export with French labels, the statistics (a no-show
//! marked on the day page is counted), failed emails sent again, the audit log's filters; each
//! page checked with axe and photographed at phone and desktop widths
//! (target/browser-screenshots/<test>/).

use booking_service::staff::{accounts, Role};
use e2e_tests::browser::{axe_source, Browser};
use e2e_tests::{hm, numbers, paris, SiteBuilder, TestApp, TestSite, STAFF_PASSWORD};
use notifier::config::NotifierConfig;
use notifier::worker::Worker;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

const ADMIN: &str = "chef@rixheim.fr";
const AGENT: &str = "agent@rixheim.fr";

/// Rixheim (68278) with one site open weekdays 9:00–12:00, its administrator and an agent.
async fn commune(pool: &PgPool) -> TestSite {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(pool)
        .await;
    for (email, name, role) in [
        (ADMIN, "Claire Chef", Role::CommuneAdmin),
        (AGENT, "Paul Agent", Role::Agent),
    ] {
        accounts::create_account(pool, email, STAFF_PASSWORD, name, role, Some("68278"))
            .await
            .unwrap();
    }
    site
}

/// Logs a member in through the login page.
async fn login(b: &Browser, app: &TestApp, email: &str) {
    b.goto(&format!("{}/agents/connexion", app.base)).await;
    b.type_into("#email", email).await;
    b.type_into("#password", STAFF_PASSWORD).await;
    b.click("main form button").await;
    // Logged in once the login page is left (whatever the staff home says).
    for _ in 0..100 {
        if !b.url().await.contains("/agents/connexion") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{email} never got past the login page: {}", b.text().await);
}

/// No serious or critical axe violation on the current page, then a screenshot at phone width
/// and one at desktop width (the window goes back to the phone's size after).
async fn check_page(b: &Browser, axe: &str, name: &str) {
    let violations = b.axe_violations(axe).await;
    assert!(
        violations.is_empty(),
        "accessibility violations on {name}: {violations:#?}"
    );
    b.shot(&format!("{name}-telephone")).await;
    b.set_window(1366, 900).await;
    b.shot(&format!("{name}-ordinateur")).await;
    let desktop = b.axe_violations(axe).await;
    assert!(
        desktop.is_empty(),
        "accessibility violations on {name} (desktop): {desktop:#?}"
    );
    b.set_window(412, 915).await;
}

async fn account_id(pool: &PgPool, email: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM staff_accounts WHERE email = $1")
        .bind(email)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn audit_count(pool: &PgPool, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn an_agent_deactivated_by_an_administrator_is_logged_out_at_once(pool: PgPool) {
    commune(&pool).await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 2, 9, 0, 0)).await;
    let axe = axe_source();
    let agent_browser = Browser::start("admin-comptes-agent").await;
    let admin_browser = Browser::start("admin-comptes").await;
    login(&agent_browser, &app, AGENT).await;
    login(&admin_browser, &app, ADMIN).await;

    // An agent has no accounts page.
    agent_browser.goto(&format!("{}/agents/comptes", app.base)).await;
    agent_browser.wait_for_text("rôle ne permet pas").await;

    admin_browser.goto(&format!("{}/agents/comptes", app.base)).await;
    let page = admin_browser.wait_for_text("Paul Agent").await;
    assert!(
        page.contains("Administrateur de la commune") && page.contains("Agent"),
        "{page}"
    );
    assert!(!page.contains("commune_admin"), "role codes never shown: {page}");
    assert!(page.contains("Actif"), "{page}");
    check_page(&admin_browser, &axe, "comptes").await;

    let agent_id = account_id(&pool, AGENT).await;
    admin_browser
        .click("button[aria-label='Désactiver le compte de Paul Agent (agent@rixheim.fr)']")
        .await;
    admin_browser.wait_for_text("Compte désactivé").await;
    // The agent's very next page load is the login page.
    agent_browser.goto(&format!("{}/agents", app.base)).await;
    assert!(
        agent_browser.url().await.ends_with("/agents/connexion"),
        "a deactivated agent is sent to the login page, not {}",
        agent_browser.url().await
    );
    agent_browser.wait_for_text("Connexion des agents").await;
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM staff_sessions WHERE account_id = $1 AND revoked_at IS NULL",
    )
    .bind(agent_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(open, 0, "every session of the account ended");
    let detail: Value =
        sqlx::query_scalar("SELECT details FROM audit_log WHERE action = 'account_update' AND target = $1")
            .bind(agent_id.to_string())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(detail["active"], false);
    assert_eq!(detail["was_active"], true);
    // Nor can the agent log in again while deactivated.
    let (s, _) = app.staff_login(AGENT, STAFF_PASSWORD, "10.9.0.1").await;
    assert_eq!(s, 401);

    // Re-enabled, made an administrator, then sent a password link.
    let text = admin_browser.wait_for_text("Désactivé").await;
    assert!(text.contains("Réactiver"), "{text}");
    admin_browser
        .click("button[aria-label='Réactiver le compte de Paul Agent (agent@rixheim.fr)']")
        .await;
    admin_browser.wait_for_text("Compte réactivé").await;
    let (s, _) = app.staff_login(AGENT, STAFF_PASSWORD, "10.9.0.1").await;
    assert_eq!(s, 200);
    admin_browser
        .script(
            &format!("document.querySelector('#role-{agent_id}').value = 'commune_admin';"),
            json!([]),
        )
        .await;
    admin_browser
        .click(&format!(
            "form[action='/agents/comptes/{agent_id}'] select + button"
        ))
        .await;
    admin_browser.wait_for_text("Rôle changé").await;
    let role: String = sqlx::query_scalar("SELECT role FROM staff_accounts WHERE id = $1")
        .bind(agent_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(role, "commune_admin");
    admin_browser
        .click("button[aria-label='Envoyer un lien de réinitialisation à Paul Agent (agent@rixheim.fr)']")
        .await;
    admin_browser
        .wait_for_text("Lien de réinitialisation envoyé")
        .await;
    let links: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE kind = 'staff_password_reset' AND status = 'pending'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(links, 1, "the reset email is queued");
    assert_eq!(audit_count(&pool, "password_reset_sent").await, 1);
    // One's own row has no buttons (the service refuses them anyway).
    let own = account_id(&pool, ADMIN).await;
    let own_forms = admin_browser
        .script(
            &format!("return document.querySelectorAll(\"form[action='/agents/comptes/{own}']\").length;"),
            json!([]),
        )
        .await;
    assert_eq!(own_forms, 0);

    // Creating an agent: a short password is refused next to its field, then the account exists.
    admin_browser.type_into("#c-nom", "Zoé Nouvelle").await;
    admin_browser.type_into("#c-email", "zoe@rixheim.fr").await;
    admin_browser
        .script(
            "document.querySelector('#c-password').removeAttribute('minlength');",
            json!([]),
        )
        .await;
    admin_browser.type_into("#c-password", "court").await;
    admin_browser.click("form[action='/agents/comptes'] button").await;
    // The error itself (the label also says "12 caractères": waiting for that would not wait).
    admin_browser
        .wait_for_text("doit comporter au moins 12 caractères")
        .await;
    let described = admin_browser
        .script(
            "return document.querySelector('#c-password').getAttribute('aria-describedby');",
            json!([]),
        )
        .await;
    assert_eq!(described, "err-c-password");
    admin_browser
        .type_into("#c-password", "un mot de passe assez long")
        .await;
    admin_browser.click("form[action='/agents/comptes'] button").await;
    let page = admin_browser.wait_for_text("Compte créé").await;
    assert!(page.contains("zoe@rixheim.fr"), "{page}");
    let (s, _) = app
        .staff_login("zoe@rixheim.fr", "un mot de passe assez long", "10.9.0.2")
        .await;
    assert_eq!(s, 200);
    assert_eq!(audit_count(&pool, "account_create").await, 1);
    // The API lists the same accounts, with the last login.
    let token = app.staff_token(ADMIN).await;
    let (s, list) = app
        .call("GET", "/api/v1/staff/accounts", &Value::Null, Some(&token))
        .await;
    assert_eq!(s, 200);
    let agent = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == AGENT)
        .unwrap();
    assert!(agent["last_login"].is_string(), "{agent}");
    // The API route sends the same link.
    let (s, _) = app
        .call(
            "POST",
            &format!("/api/v1/staff/accounts/{agent_id}/password-reset"),
            &Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!(s, 202);
    assert_eq!(audit_count(&pool, "password_reset_sent").await, 2);
}

/// The value of the browser's session cookie (HttpOnly: only WebDriver can read it).
async fn session_cookie(b: &Browser) -> String {
    let cookies = b.cookies().await;
    cookies
        .iter()
        .find(|(name, _)| name == "rdv_staff")
        .map(|(_, v)| v.clone())
        .expect("session cookie")
}

#[sqlx::test(migrations = "../migrations")]
async fn the_csv_export_opens_with_french_labels(pool: PgPool) {
    let site = commune(&pool).await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 2, 9, 0, 0)).await;
    let at = |d, h| paris(2026, 12, d, h, 0, 0);
    let st = site.stations[0];
    let booked = e2e_tests::insert_appointment(
        &pool,
        site.id,
        st,
        at(3, 10),
        at(3, 10) + chrono::Duration::minutes(15),
        "booked",
    )
    .await;
    let absent = e2e_tests::insert_appointment(
        &pool,
        site.id,
        st,
        at(1, 10),
        at(1, 10) + chrono::Duration::minutes(15),
        "no_show",
    )
    .await;
    let counter = e2e_tests::insert_appointment(
        &pool,
        site.id,
        st,
        at(1, 11),
        at(1, 11) + chrono::Duration::minutes(15),
        "done",
    )
    .await;
    sqlx::query("UPDATE appointments SET motif = 'PASSPORT', last_name = 'Dupré', first_name = 'Éloïse' WHERE id = $1")
        .bind(booked)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE appointments SET motif = 'RETRIEVAL', last_name = '=HYPERLINK(\"x\")' WHERE id = $1")
        .bind(absent)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE appointments SET motif = 'CNI-PASSPORT', source = 'counter' WHERE id = $1")
        .bind(counter)
        .execute(&pool)
        .await
        .unwrap();

    let axe = axe_source();
    let b = Browser::start("admin-export").await;
    login(&b, &app, AGENT).await;
    b.goto(&format!("{}/agents/lieux/{}/export", app.base, site.id))
        .await;
    b.wait_for_text("Exporter (CSV)").await;
    check_page(&b, &axe, "export").await;
    b.script(
        "document.querySelector('#e-du').value = '2026-12-01'; document.querySelector('#e-au').value = '2026-12-31';",
        json!([]),
    )
    .await;
    // The link the form makes, opened with the browser's session, as the download would be.
    let link = b
        .script(
            "const f = document.querySelector('main form[action$=\"export.csv\"]');\
             return f.action + '?' + new URLSearchParams(new FormData(f)).toString();",
            json!([]),
        )
        .await;
    let link = link.as_str().unwrap().to_string();
    assert!(
        link.ends_with(&format!(
            "/agents/lieux/{}/export.csv?du=2026-12-01&au=2026-12-31",
            site.id
        )),
        "{link}"
    );
    let resp = reqwest::Client::new()
        .get(&link)
        .header("cookie", format!("rdv_staff={}", session_cookie(&b).await))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ctype.starts_with("text/csv"), "{ctype}");
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.contains("rendez-vous-2026-12-01-2026-12-31.csv"),
        "{disposition}"
    );
    let csv = resp.text().await.unwrap();
    assert!(csv.starts_with('\u{feff}'), "a BOM so spreadsheets read UTF-8");
    let lines: Vec<Vec<String>> = csv
        .trim_start_matches('\u{feff}')
        .lines()
        .map(|l| l.split(';').map(String::from).collect())
        .collect();
    assert_eq!(
        lines[0],
        "Date;Heure;Poste;Référence;Statut;Origine;Motif;Personnes;Nom;Prénom;Courriel;Téléphone;Numéros de pré-demande"
            .split(';')
            .collect::<Vec<_>>()
    );
    assert_eq!(lines.len(), 4, "{csv}");
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l[8].contains(name))
            .unwrap_or_else(|| panic!("{name} missing from {csv}"))
            .clone()
    };
    let passport = row("Dupré");
    assert_eq!(
        (passport[0].as_str(), passport[1].as_str()),
        ("03/12/2026", "10:00")
    );
    assert_eq!(passport[4], "confirmé");
    assert_eq!(passport[5], "En ligne");
    assert_eq!(passport[6], "Passeport");
    assert_eq!(passport[9], "Éloïse");
    let absent_row = row("HYPERLINK");
    assert_eq!(absent_row[4], "absent");
    assert_eq!(absent_row[6], "Retrait d'un titre");
    assert!(
        absent_row[8].starts_with("\"'=") || absent_row[8].starts_with("'="),
        "formula neutralised: {absent_row:?}"
    );
    let both = row("Test");
    assert_eq!(both[4], "terminé");
    assert_eq!(both[5], "Guichet");
    assert_eq!(both[6], "Carte d'identité et passeport");
    for code in [
        "booked",
        "no_show",
        "done",
        "PASSPORT",
        "RETRIEVAL",
        "CNI-PASSPORT",
        "online",
        "counter",
    ] {
        assert!(
            !csv.split([';', '\r', '\n']).any(|c| c == code),
            "raw code {code} in {csv}"
        );
    }
    assert_eq!(audit_count(&pool, "export").await, 1);
    // The API's export writes the same file.
    let token = app.staff_token(AGENT).await;
    let (s, api_csv) = app
        .call(
            "GET",
            &format!(
                "/api/v1/staff/sites/{}/export?from=2026-12-01&to=2026-12-31",
                site.id
            ),
            &Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(api_csv.as_str().unwrap(), csv);
    // A period backwards comes back as the form with the error next to the field.
    b.goto(&format!(
        "{}/agents/lieux/{}/export.csv?du=2026-12-31&au=2026-12-01",
        app.base, site.id
    ))
    .await;
    b.wait_for_text("Période invalide").await;
    let invalid = b
        .script(
            "return document.querySelector('#e-au').getAttribute('aria-invalid');",
            json!([]),
        )
        .await;
    assert_eq!(invalid, "true");
    // Without a session: the login page, never the file.
    let anonymous = reqwest::get(&link).await.unwrap();
    assert!(
        anonymous.url().path().ends_with("/agents/connexion"),
        "{}",
        anonymous.url()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_no_show_marked_on_the_day_page_is_counted_in_the_statistics(pool: PgPool) {
    let site = commune(&pool).await;
    // Wednesday 2 December, 15:00: the morning's appointments are over.
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 2, 15, 0, 0)).await;
    let at = |d, h| paris(2026, 12, d, h, 0, 0);
    let quarter = chrono::Duration::minutes(15);
    let st = site.stations[0];
    let missed =
        e2e_tests::insert_appointment(&pool, site.id, st, at(2, 10), at(2, 10) + quarter, "booked").await;
    e2e_tests::insert_appointment(&pool, site.id, st, at(1, 10), at(1, 10) + quarter, "done").await;
    e2e_tests::insert_appointment(&pool, site.id, st, at(1, 11), at(1, 11) + quarter, "cancelled").await;
    // Booked twenty days ahead.
    let ahead =
        e2e_tests::insert_appointment(&pool, site.id, st, at(4, 9), at(4, 9) + quarter, "booked").await;
    sqlx::query("UPDATE appointments SET created_at = created_at - interval '20 days' WHERE id = $1")
        .bind(ahead)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE appointments SET first_name = 'Camille', last_name = 'Absente' WHERE id = $1")
        .bind(missed)
        .execute(&pool)
        .await
        .unwrap();

    let axe = axe_source();
    let b = Browser::start("admin-statistiques").await;
    login(&b, &app, ADMIN).await;
    let stats_url = format!(
        "{}/agents/lieux/{}/statistiques?du=2026-11-30&au=2026-12-06",
        app.base, site.id
    );
    // Before: nobody absent.
    b.goto(&stats_url).await;
    let before = b.wait_for_text("Taux d'absence").await;
    assert!(before.contains("Absents\t0"), "{before}");

    b.goto(&format!("{}/agents/lieux/{}?jour=2026-12-02", app.base, site.id))
        .await;
    b.wait_for_text("Camille").await;
    b.click("form[action$='/statut'] button[aria-label^='Absent']")
        .await;
    b.wait_for_text("absent").await;
    let status: String = sqlx::query_scalar("SELECT status FROM appointments WHERE id = $1")
        .bind(missed)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "no_show");

    b.goto(&stats_url).await;
    let page = b.wait_for_text("Taux de remplissage par poste").await;
    // Past appointments: the done one and the no-show (the cancelled one is left out).
    assert!(page.contains("Absents\t1"), "{page}");
    assert!(
        page.contains("Rendez-vous passés (venus, absents ou non pointés)\t2"),
        "{page}"
    );
    assert!(page.contains("Taux d'absence\t50,0\u{a0}%"), "{page}");
    assert!(page.contains("Annulés\t1"), "{page}");
    // The week's row of the no-show table, and the lead-time table.
    assert!(page.contains("30/11/2026\t2\t1\t50,0\u{a0}%"), "{page}");
    assert!(page.contains("15 à 30 jours\t1"), "{page}");
    assert!(page.contains("Le jour même\t2"), "{page}");
    // Three appointments of 15 minutes over 5 mornings of 3 hours.
    assert!(page.contains("DR 1\t15 h 00\t0 h 45\t5,0\u{a0}%"), "{page}");
    // Four charts, each an image named by its heading, each followed by its table.
    let charts = b
        .script(
            "return [...document.querySelectorAll('svg[role=img]')].map(s => {\
               const h = document.getElementById(s.getAttribute('aria-labelledby'));\
               const next = s.nextElementSibling;\
               return (h ? h.tagName + ':' + h.textContent : 'none') + '|' + (next && next.querySelector('table') ? 'table' : 'none');\
             });",
            json!([]),
        )
        .await;
    assert_eq!(
        charts,
        json!([
            "H2:Rendez-vous par semaine|table",
            "H2:Taux de remplissage par poste|table",
            "H2:Taux d'absence par semaine|table",
            "H2:Délai entre la réservation et le rendez-vous|table"
        ])
    );
    let scripts = b
        .script("return document.querySelectorAll('script').length;", json!([]))
        .await;
    assert_eq!(scripts, 0);
    check_page(&b, &axe, "statistiques").await;
    // The charts themselves, further down the page.
    for (i, what) in ["semaines", "postes", "absences", "delais"].iter().enumerate() {
        b.script(
            "document.querySelectorAll('svg.chart')[arguments[0]].scrollIntoView();",
            json!([i]),
        )
        .await;
        b.shot(&format!("graphique-{what}")).await;
    }

    // The API gives the same figures.
    let token = app.staff_token(ADMIN).await;
    let (s, api) = app
        .call(
            "GET",
            &format!(
                "/api/v1/staff/sites/{}/statistics?from=2026-11-30&to=2026-12-06",
                site.id
            ),
            &Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!(s, 200, "{api}");
    assert_eq!(api["no_shows"], 1);
    assert_eq!(api["attended_or_due"], 2);
    assert_eq!(api["no_show_rate"], 0.5);
    assert_eq!(api["appointments"], 4);
    assert_eq!(api["weeks"][0]["monday"], "2026-11-30");
    assert_eq!(api["weeks"][0]["no_shows"], 1);
    assert_eq!(api["stations"][0]["open_minutes"], 900);
    assert_eq!(api["stations"][0]["booked_minutes"], 45);
    assert_eq!(api["lead_times"][4]["count"], 1);
    // The month's figures (the older route) count it too.
    let (s, month) = app
        .call(
            "GET",
            &format!("/api/v1/staff/sites/{}/stats?month=2026-12", site.id),
            &Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(month["no_shows"], 1);
    // For administrators only; a period backwards is refused.
    let agent = app.staff_token(AGENT).await;
    let (s, _) = app
        .call(
            "GET",
            &format!("/api/v1/staff/sites/{}/statistics", site.id),
            &Value::Null,
            Some(&agent),
        )
        .await;
    assert_eq!(s, 403);
    let (s, err) = app
        .call(
            "GET",
            &format!(
                "/api/v1/staff/sites/{}/statistics?from=2026-12-06&to=2026-11-30",
                site.id
            ),
            &Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!(s, 400, "{err}");
    b.goto(&format!(
        "{}/agents/lieux/{}/statistiques?du=2026-13-01",
        app.base, site.id
    ))
    .await;
    b.wait_for_text("Période par défaut").await;
    let invalid = b
        .script(
            "return document.querySelector('#s-du').getAttribute('aria-invalid');",
            json!([]),
        )
        .await;
    assert_eq!(invalid, "true");
}

async fn drain_mail(app: &TestApp, dir: &std::path::Path) {
    let mut c = NotifierConfig::for_tests("postgres://unused", dir.to_path_buf());
    c.public_base_url = app.base.clone();
    let w = Worker::new(app.pool.clone(), c, Arc::new(app.clock.clone())).unwrap();
    while w.process_batch().await.unwrap() > 0 {}
}

/// Books online and returns the confirmation email's outbox row.
async fn booked_confirmation(app: &TestApp, site: &TestSite, start: &str, email: &str) -> i64 {
    let (s, body) = app.book(site.id, 1, start, "10.60.0.1", email, &numbers(1)).await;
    assert_eq!(s, 201, "{body}");
    sqlx::query_scalar(
        "SELECT o.id FROM outbox o JOIN appointments a ON a.id = o.appointment_id
         WHERE o.kind = 'confirmation' AND a.email = $1",
    )
    .bind(email)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// What the notifier leaves after giving up on a message (its relay kept refusing it).
async fn give_up(pool: &PgPool, id: i64) {
    sqlx::query(
        "UPDATE outbox SET status = 'failed', attempts = 8, last_error = 'gave up after 8 attempts: 451 relay busy'
         WHERE id = $1",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failed_email_is_sent_again_from_the_page_and_through_the_api(pool: PgPool) {
    let site = commune(&pool).await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 2, 8, 0, 0)).await;
    let first = booked_confirmation(
        &app,
        &site,
        "2026-12-03T10:00:00+01:00",
        "camille.durand@example.fr",
    )
    .await;
    let second =
        booked_confirmation(&app, &site, "2026-12-03T10:15:00+01:00", "paul.martin@example.fr").await;
    give_up(&pool, first).await;
    give_up(&pool, second).await;
    // A password link sent to the agent, which failed too.
    let admin = app.staff_token(ADMIN).await;
    let agent_id = account_id(&pool, AGENT).await;
    let (s, _) = app
        .call(
            "POST",
            &format!("/api/v1/staff/accounts/{agent_id}/password-reset"),
            &Value::Null,
            Some(&admin),
        )
        .await;
    assert_eq!(s, 202);
    let link: i64 = sqlx::query_scalar("SELECT id FROM outbox WHERE kind = 'staff_password_reset'")
        .fetch_one(&pool)
        .await
        .unwrap();
    give_up(&pool, link).await;
    let mail = std::env::temp_dir().join(format!("rdv-admin-mail-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&mail).unwrap();

    let axe = axe_source();
    let b = Browser::start("admin-courriels").await;
    login(&b, &app, ADMIN).await;
    b.goto(&format!("{}/agents/courriels-en-echec", app.base)).await;
    let page = b.wait_for_text("Messages en échec : 3").await;
    assert!(
        page.contains("Lien de mot de passe d'un agent") && page.contains("a…@rixheim.fr"),
        "{page}"
    );
    // A dead password link is not sent again: a new one is, from the accounts page.
    let link_forms = b
        .script(
            &format!("return document.querySelectorAll(\"form[action='/agents/courriels-en-echec/{link}/renvoyer']\").length;"),
            json!([]),
        )
        .await;
    assert_eq!(link_forms, 0);
    assert!(
        page.contains("Envoyer un nouveau lien depuis les comptes"),
        "{page}"
    );
    assert!(page.contains("Confirmation de rendez-vous"), "{page}");
    assert!(
        page.contains("c…@example.fr") && !page.contains("camille.durand"),
        "{page}"
    );
    assert!(page.contains("451 relay busy"), "{page}");
    assert!(!page.contains("confirmation\t"), "kind in French: {page}");
    check_page(&b, &axe, "courriels-en-echec").await;
    b.click(&format!(
        "form[action='/agents/courriels-en-echec/{first}/renvoyer'] button"
    ))
    .await;
    let after = b.wait_for_text("remis dans la file").await;
    assert!(after.contains("Messages en échec : 2"), "{after}");
    let row: (String, i32, Option<String>) =
        sqlx::query_as("SELECT status, attempts, last_error FROM outbox WHERE id = $1")
            .bind(first)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(row, ("pending".to_string(), 0, None));
    // The notifier picks it up and delivers it.
    drain_mail(&app, &mail).await;
    let status: String = sqlx::query_scalar("SELECT status FROM outbox WHERE id = $1")
        .bind(first)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "sent");
    let delivered = std::fs::read_dir(&mail)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .filter(|m| m.contains("camille.durand@example.fr"))
        .count();
    assert_eq!(delivered, 1, "the confirmation reached its recipient");
    let still_failed: String = sqlx::query_scalar("SELECT status FROM outbox WHERE id = $1")
        .bind(second)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(still_failed, "failed", "only the one asked for is sent again");

    // The API: an agent may not, another commune's administrator does not see it, a bad id is
    // a 400; the administrator's retry works once (then it is no longer a failure).
    let agent = app.staff_token(AGENT).await;
    SiteBuilder {
        insee: "68224",
        ..SiteBuilder::default()
    }
    .create(&pool)
    .await;
    accounts::create_account(
        &pool,
        "chef@mulhouse.fr",
        STAFF_PASSWORD,
        "Chef",
        Role::CommuneAdmin,
        Some("68224"),
    )
    .await
    .unwrap();
    let other = app.staff_token("chef@mulhouse.fr").await;
    let retry = format!("/api/v1/staff/outbox/{second}/retry");
    assert_eq!(app.call("POST", &retry, &Value::Null, Some(&agent)).await.0, 403);
    assert_eq!(app.call("POST", &retry, &Value::Null, Some(&other)).await.0, 404);
    assert_eq!(
        app.call(
            "POST",
            "/api/v1/staff/outbox/abc/retry",
            &Value::Null,
            Some(&admin)
        )
        .await
        .0,
        400
    );
    let (s, body) = app.call("POST", &retry, &Value::Null, Some(&admin)).await;
    assert_eq!(s, 202, "{body}");
    assert_eq!(body["kind"], "confirmation");
    assert_eq!(body["recipient"], "paul.martin@example.fr");
    assert_eq!(app.call("POST", &retry, &Value::Null, Some(&admin)).await.0, 404);
    let (s, list) = app
        .call("GET", "/api/v1/staff/outbox/failures", &Value::Null, Some(&admin))
        .await;
    assert_eq!(s, 200);
    let left: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(left, vec!["staff_password_reset"]);
    assert_eq!(list[0]["recipient"], AGENT);
    let (s, err) = app
        .call(
            "POST",
            &format!("/api/v1/staff/outbox/{link}/retry"),
            &Value::Null,
            Some(&admin),
        )
        .await;
    assert_eq!(s, 422, "{err}");
    assert_eq!(err["error"]["code"], "link_expired");
    let (_, theirs) = app
        .call("GET", "/api/v1/staff/outbox/failures", &Value::Null, Some(&other))
        .await;
    assert_eq!(theirs, json!([]), "another commune sees none of these");
    let audited: Vec<String> =
        sqlx::query_scalar("SELECT target FROM audit_log WHERE action = 'outbox_retry' ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(audited, vec![first.to_string(), second.to_string()]);
    // Forged form: refused.
    give_up(&pool, second).await;
    let forged = reqwest::Client::new()
        .post(format!(
            "{}/agents/courriels-en-echec/{second}/renvoyer",
            app.base
        ))
        .header("cookie", format!("rdv_staff={}", session_cookie(&b).await))
        .form(&[("csrf", "0".repeat(64))])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_audit_log_filters_by_period_action_and_member(pool: PgPool) {
    let site = commune(&pool).await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 1, 9, 0, 0)).await;
    // 1 December: the agent logs in and exports; 3 December: the administrator logs in.
    let agent = app.staff_token(AGENT).await;
    let (s, _) = app
        .call(
            "GET",
            &format!(
                "/api/v1/staff/sites/{}/export?from=2026-12-01&to=2026-12-02",
                site.id
            ),
            &Value::Null,
            Some(&agent),
        )
        .await;
    assert_eq!(s, 200);
    app.clock.set(paris(2026, 12, 3, 9, 0, 0));
    let admin = app.staff_token(ADMIN).await;
    let agent_id = account_id(&pool, AGENT).await;
    let actions = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["action"].as_str().unwrap(),
                    r["account_email"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    let get = |q: String| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.call(
                "GET",
                &format!("/api/v1/staff/audit{q}"),
                &Value::Null,
                Some(&admin),
            )
            .await
        }
    };
    let (s, all) = get(String::new()).await;
    assert_eq!(s, 200);
    assert_eq!(
        actions(&all),
        vec![
            format!("login {ADMIN}"),
            format!("export {AGENT}"),
            format!("login {AGENT}")
        ]
    );
    let (_, logins) = get("?action=login".into()).await;
    assert_eq!(
        actions(&logins),
        vec![format!("login {ADMIN}"), format!("login {AGENT}")]
    );
    let (_, theirs) = get(format!("?account_id={agent_id}")).await;
    assert_eq!(
        actions(&theirs),
        vec![format!("export {AGENT}"), format!("login {AGENT}")]
    );
    let (_, later) = get("?from=2026-12-02".into()).await;
    assert_eq!(actions(&later), vec![format!("login {ADMIN}")]);
    let (_, first_day) = get(format!(
        "?from=2026-12-01&to=2026-12-01&action=login&account_id={agent_id}"
    ))
    .await;
    assert_eq!(actions(&first_day), vec![format!("login {AGENT}")]);
    assert_eq!(get("?from=2026-12-03&to=2026-12-01".into()).await.0, 400);
    assert_eq!(get("?from=hier".into()).await.0, 400);
    assert_eq!(get("?account_id=quelqu-un".into()).await.0, 400);
    let (s, _) = app
        .call("GET", "/api/v1/staff/audit", &Value::Null, Some(&agent))
        .await;
    assert!(s == 403 || s == 401, "agents have no audit log ({s})");

    // The page: the same filters from its form.
    let axe = axe_source();
    let b = Browser::start("admin-journal").await;
    login(&b, &app, ADMIN).await;
    b.goto(&format!("{}/agents/journal", app.base)).await;
    let page = b.wait_for_text("Journal des actions").await;
    assert!(
        page.contains("Export CSV") && page.contains("Connexion"),
        "{page}"
    );
    assert!(!page.contains("\texport\t"), "actions in French: {page}");
    assert!(
        page.contains("de : 2026-12-01 ; lignes : 0 ; à : 2026-12-02"),
        "details in French: {page}"
    );
    check_page(&b, &axe, "journal").await;
    b.script(
        &format!(
            "document.querySelector('#j-action').value = 'login';\
             document.querySelector('#j-membre').value = '{agent_id}';\
             document.querySelector('#j-du').value = '2026-12-01';\
             document.querySelector('#j-au').value = '2026-12-01';"
        ),
        json!([]),
    )
    .await;
    b.click("form[action='/agents/journal'] button").await;
    let filtered = b.wait_for_text("Actions trouvées : 1").await;
    assert!(
        filtered.contains(AGENT) && filtered.contains("Connexion"),
        "{filtered}"
    );
    assert!(!filtered.contains("Export CSV\t"), "{filtered}");
    // The filters stay chosen.
    let chosen = b
        .script("return document.querySelector('#j-action').value;", json!([]))
        .await;
    assert_eq!(chosen, "login");
    b.goto(&format!(
        "{}/agents/journal?du=2026-12-03&au=2026-12-01",
        app.base
    ))
    .await;
    b.wait_for_text("précède").await;
}
