//! A commune administrator's calendar settings, in the browser and through the API: a station's
//! week entered in the grid, previewed (an appointment left outside the new hours is shown),
//! saved, then offered to citizens; closures added, ended early and removed; the booking policy
//! and a release event saved; stations and motif settings; an agent refused; another commune's
//! administrator never reaching the site. Screenshots: target/browser-screenshots/<test>/.

use booking_service::staff::{accounts, Role};
use e2e_tests::browser::{axe_source, Browser};
use e2e_tests::{email, hm, numbers, paris, starts, SiteBuilder, TestApp, STAFF_PASSWORD};
use serde_json::{json, Value};
use sqlx::PgPool;

const ADMIN: &str = "chef@rixheim.fr";
const AGENT: &str = "agent@rixheim.fr";

async fn account(pool: &PgPool, email: &str, role: Role, commune: &str) {
    accounts::create_account(pool, email, STAFF_PASSWORD, "Membre", role, Some(commune))
        .await
        .expect("account");
}

/// Logs in through the login page.
async fn login(b: &Browser, app: &TestApp, who: &str) {
    b.goto(&format!("{}/agents/connexion", app.base)).await;
    b.type_into("#email", who).await;
    b.type_into("#password", STAFF_PASSWORD).await;
    b.click("main form button").await;
    b.wait_for_text("Se déconnecter").await;
}

/// Empties a field, then types into it as a person would.
async fn fill(b: &Browser, css: &str, text: &str) {
    b.script("document.querySelector(arguments[0]).value = '';", json!([css]))
        .await;
    b.type_into(css, text).await;
}

/// Sets a field that typing cannot fill reliably (date and time pickers).
async fn set(b: &Browser, css: &str, value: &str) {
    b.script(
        "document.querySelector(arguments[0]).value = arguments[1];",
        json!([css, value]),
    )
    .await;
}

/// Clicks the button whose text is `label`.
async fn press(b: &Browser, label: &str) {
    let found = b
        .script(
            "const b = [...document.querySelectorAll('button')].find(b => b.textContent.trim() === arguments[0]);\
             if (b) { b.click(); return true; } return false;",
            json!([label]),
        )
        .await;
    assert_eq!(found, Value::Bool(true), "no button « {label} »");
}

/// axe finds no serious or critical violation; the page is photographed at a phone and a desktop
/// width, scrolled to what `name` is about (`name` may end with `@<css>`).
async fn check_page(b: &Browser, axe: &str, name: &str) {
    let (name, at) = name.split_once('@').unwrap_or((name, "main h1"));
    let show = || async {
        b.script(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'start'});",
            json!([at]),
        )
        .await;
    };
    show().await;
    let v = b.axe_violations(axe).await;
    assert!(v.is_empty(), "accessibility violations on {name}: {v:#?}");
    // The lesser ones, for the closing note.
    let others: Vec<String> = b.axe_report(axe).await;
    if !others.is_empty() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/browser-screenshots/axe-backoffice-hours.txt");
        let line = format!("{name}: {}\n", others.join("; "));
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("axe report");
        std::io::Write::write_all(&mut f, line.as_bytes()).expect("axe report");
    }
    b.shot(&format!("{name}-telephone")).await;
    b.set_window(1366, 900).await;
    show().await;
    let v = b.axe_violations(axe).await;
    assert!(
        v.is_empty(),
        "accessibility violations on {name} (desktop): {v:#?}"
    );
    b.shot(&format!("{name}-bureau")).await;
    b.set_window(412, 915).await;
}

async fn day_starts(app: &TestApp, site: uuid::Uuid, day: &str) -> Vec<String> {
    let (s, body) = app
        .get(&format!("/api/v1/sites/{site}/availability?from={day}&to={day}"))
        .await;
    assert_eq!(s, 200, "{body}");
    starts(&body)
}

async fn audit_count(pool: &PgPool, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(pool)
        .await
        .expect("audit")
}

#[sqlx::test(migrations = "../migrations")]
async fn a_week_entered_in_the_grid_is_previewed_saved_then_offered_to_citizens(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    account(&pool, ADMIN, Role::CommuneAdmin, "68278").await;
    // Monday morning; a citizen has Wednesday 10:00, which the new week no longer opens.
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let (s, booked) = app
        .book(
            site.id,
            1,
            "2026-12-02T10:00:00+01:00",
            "10.61.0.1",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201, "{booked}");
    let reference = booked["reference"].as_str().expect("reference").to_string();
    assert!(day_starts(&app, site.id, "2026-12-02")
        .await
        .contains(&"2026-12-02T09:00:00+01:00".to_string()));

    let axe = axe_source();
    let b = Browser::start("horaires").await;
    login(&b, &app, ADMIN).await;
    b.goto(&format!("{}/agents/lieux/{}/horaires", app.base, site.id))
        .await;
    let t = b.wait_for_text("Semaine en vigueur le").await;
    assert!(t.contains("09:00–12:00") && t.contains("Fermé"), "{t}");
    check_page(&b, &axe, "horaires@.week-grid").await;

    // The new week: long days Monday and Tuesday, Wednesday afternoon only, Saturday morning.
    b.script(
        "document.querySelectorAll('.week-grid input').forEach(i => i.value = '');",
        json!([]),
    )
    .await;
    for (field, range) in [
        ("j1_1", "08:30-12:00"),
        ("j1_2", "13:30-17:00"),
        ("j2_1", "08:30-12:00"),
        ("j2_2", "13h30-17h"),
        ("j3_1", "13:30-17:00"),
        ("j4_1", "08:30-12:00"),
        ("j5_1", "08:30-12:00"),
        ("j6_1", "09:00-12:00"),
    ] {
        b.type_into(&format!("#s0-{field}"), range).await;
    }
    // A range that cannot be read first: shown next to its day, what was typed kept.
    b.type_into("#s0-j7_1", "midi").await;
    press(&b, "Voir les rendez-vous concernés").await;
    let t = b.wait_for_text("plage illisible").await;
    assert!(t.contains("Dimanche : plage illisible « midi »"), "{t}");
    let kept = b
        .script("return document.querySelector('#s0-j1_2').value;", json!([]))
        .await;
    assert_eq!(kept, json!("13:30-17:00"));
    let invalid = b
        .script(
            "return document.querySelector('#s0-j7_1').getAttribute('aria-invalid');",
            json!([]),
        )
        .await;
    assert_eq!(invalid, json!("true"));
    check_page(&b, &axe, "horaires-erreur@#s0-err-j7").await;
    fill(&b, "#s0-j7_1", "").await;
    press(&b, "Voir les rendez-vous concernés").await;

    let t = b.wait_for_text("aperçu").await;
    assert!(
        t.contains("1 rendez-vous à venir de ce poste seraient hors des nouveaux horaires"),
        "{t}"
    );
    assert!(
        t.contains(&reference) && t.contains("mercredi 2 décembre 2026"),
        "{t}"
    );
    assert!(t.contains("Rien n'est encore enregistré"), "{t}");
    check_page(&b, &axe, "horaires-apercu").await;
    let rules: i64 = sqlx::query_scalar("SELECT count(*) FROM opening_rules")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rules, 5, "a preview changes nothing");
    assert!(day_starts(&app, site.id, "2026-12-02")
        .await
        .contains(&"2026-12-02T09:00:00+01:00".to_string()));

    press(&b, "Enregistrer").await;
    let t = b.wait_for_text("enregistrés").await;
    assert!(
        t.contains("Horaires de DR 1 enregistrés à partir du lundi 30 novembre 2026"),
        "{t}"
    );
    assert!(
        t.contains(&reference),
        "the appointment left outside is listed: {t}"
    );
    check_page(&b, &axe, "horaires-enregistres").await;
    assert_eq!(audit_count(&pool, "week_replace").await, 1);
    // The appointment is kept.
    let status: String = sqlx::query_scalar("SELECT status FROM appointments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "booked");
    // The old rules end the day before; the new week runs from today.
    let (old_ended, new_week): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE valid_until = '2026-11-29'), count(*) FILTER (WHERE valid_from = '2026-11-30' AND valid_until IS NULL)
         FROM opening_rules",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((old_ended, new_week), (5, 8));

    // Citizens are offered the new times, and no longer the removed ones.
    let monday = day_starts(&app, site.id, "2026-12-07").await;
    assert!(
        monday.contains(&"2026-12-07T08:30:00+01:00".to_string()),
        "{monday:?}"
    );
    assert!(
        monday.contains(&"2026-12-07T16:45:00+01:00".to_string()),
        "{monday:?}"
    );
    assert!(
        !monday.contains(&"2026-12-07T12:00:00+01:00".to_string()),
        "{monday:?}"
    );
    assert_eq!(monday.len(), 28, "{monday:?}");
    let tuesday = day_starts(&app, site.id, "2026-12-08").await;
    assert!(
        tuesday.contains(&"2026-12-08T13:30:00+01:00".to_string()),
        "{tuesday:?}"
    );
    let wednesday = day_starts(&app, site.id, "2026-12-02").await;
    assert_eq!(
        wednesday.first().map(String::as_str),
        Some("2026-12-02T13:30:00+01:00"),
        "{wednesday:?}"
    );
    let saturday = day_starts(&app, site.id, "2026-12-05").await;
    assert_eq!(saturday.len(), 12, "{saturday:?}");
    assert!(day_starts(&app, site.id, "2026-12-06").await.is_empty());
    // The citizen's page of the site shows the new first time (today 08:30).
    b.goto(&format!("{}/lieux/{}", app.base, site.id)).await;
    let t = b.wait_for_text("08:30").await;
    assert!(t.contains("08:30"), "{t}");
    // The grid now shows the new week.
    b.goto(&format!("{}/agents/lieux/{}/horaires", app.base, site.id))
        .await;
    let t = b.wait_for_text("Semaine en vigueur le").await;
    assert!(t.contains("08:30–12:00, 13:30–17:00"), "{t}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_closure_is_added_ended_early_and_another_removed_from_the_pages(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    account(&pool, ADMIN, Role::CommuneAdmin, "68278").await;
    let now = paris(2026, 12, 1, 9, 0, 0);
    let app = TestApp::spawn(pool.clone(), now).await;
    let (s, _) = app
        .book(
            site.id,
            1,
            "2026-12-02T10:00:00+01:00",
            "10.62.0.1",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201);
    let axe = axe_source();
    let b = Browser::start("fermetures").await;
    login(&b, &app, ADMIN).await;
    b.goto(&format!("{}/agents/lieux/{}/fermetures", app.base, site.id))
        .await;
    b.wait_for_text("Aucune fermeture en cours ni à venir").await;
    check_page(&b, &axe, "fermetures-vide").await;

    // Added: since this morning, until Thursday evening; the Wednesday appointment is shown.
    set(&b, "#ajout-debut", "2026-12-01T08:00").await;
    set(&b, "#ajout-fin", "2026-12-03T18:00").await;
    b.type_into("#ajout-motif", "Travaux").await;
    press(&b, "Voir les rendez-vous concernés").await;
    let t = b.wait_for_text("Fermeture : aperçu").await;
    assert!(
        t.contains("1 rendez-vous pris pendant cette fermeture seront maintenus"),
        "{t}"
    );
    check_page(&b, &axe, "fermeture-apercu").await;
    press(&b, "Confirmer la fermeture").await;
    b.wait_for_text("Fermeture enregistrée").await;
    assert!(day_starts(&app, site.id, "2026-12-02").await.is_empty());
    // A second one next week, through the API.
    let token = app.staff_token(ADMIN).await;
    let (s, body) = app
        .call(
            "POST",
            &format!("/api/v1/staff/sites/{}/closures", site.id),
            &json!({"start": "2026-12-10T08:00:00+01:00", "end": "2026-12-10T18:00:00+01:00", "reason": "Formation", "confirm": true}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 200, "{body}");

    b.goto(&format!("{}/agents/lieux/{}/fermetures", app.base, site.id))
        .await;
    let t = b.wait_for_text("Fermetures en cours et à venir").await;
    assert!(
        t.contains("Travaux") && t.contains("Formation") && t.contains("(en cours)"),
        "{t}"
    );
    check_page(&b, &axe, "fermetures@ul.closures").await;
    // A new end before the start is refused next to its field.
    set(&b, "#fin-0", "2026-11-30T10:00").await;
    b.click("button[aria-label^='Avancer la fin : Tout le lieu du mardi 1']")
        .await;
    let t = b.wait_for_text("La nouvelle fin").await;
    assert!(t.contains("La nouvelle fin ne peut pas être passée"), "{t}");
    // Ended now (the field left empty): Wednesday is offered again.
    b.click("button[aria-label^='Avancer la fin : Tout le lieu du mardi 1']")
        .await;
    b.wait_for_text("Fin de la fermeture avancée").await;
    let end: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT upper(during) FROM closures WHERE reason = 'Travaux'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(end, now);
    assert!(day_starts(&app, site.id, "2026-12-02")
        .await
        .contains(&"2026-12-02T09:00:00+01:00".to_string()));
    assert_eq!(audit_count(&pool, "closure_end").await, 1);
    // The one of next week removed.
    assert!(day_starts(&app, site.id, "2026-12-10").await.is_empty());
    b.click("button[aria-label^='Supprimer : Tout le lieu du jeudi 10']")
        .await;
    let t = b.wait_for_text("Fermeture supprimée").await;
    assert!(!t.contains("Formation"), "{t}");
    assert_eq!(day_starts(&app, site.id, "2026-12-10").await.len(), 12);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM closures")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 1);
    assert_eq!(audit_count(&pool, "closure_delete").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_policy_a_release_event_stations_and_motifs_are_saved_from_the_pages(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    account(&pool, ADMIN, Role::CommuneAdmin, "68278").await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let axe = axe_source();
    let b = Browser::start("reglages").await;
    login(&b, &app, ADMIN).await;

    b.goto(&format!("{}/agents/lieux/{}/politique", app.base, site.id))
        .await;
    b.wait_for_text("Règles de réservation").await;
    check_page(&b, &axe, "politique").await;
    // Out of bounds first: refused next to its field.
    fill(&b, "#politique-horizon_days", "0").await;
    press(&b, "Enregistrer les règles").await;
    let t = b.wait_for_text("horizon_days : entre 1 et 366").await;
    assert!(t.contains("Règles de réservation"), "{t}");
    check_page(&b, &axe, "politique-erreur@#err-politique-horizon_days").await;
    fill(&b, "#politique-horizon_days", "30").await;
    fill(&b, "#politique-min_notice_minutes", "60").await;
    fill(&b, "#politique-reminder_hours", "24").await;
    press(&b, "Enregistrer les règles").await;
    b.wait_for_text("Règles de réservation enregistrées").await;
    let (horizon, notice, reminder): (i32, i32, i32) = sqlx::query_as(
        "SELECT horizon_days, min_notice_minutes, reminder_hours FROM booking_policies WHERE site_id = $1",
    )
    .bind(site.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((horizon, notice, reminder), (30, 60, 24));
    assert_eq!(audit_count(&pool, "policy_set").await, 1);
    // A release event opening January at once.
    set(&b, "#ouverture-up_to", "2027-01-31").await;
    set(&b, "#ouverture-release_at", "2026-12-15T08:00").await;
    press(&b, "Programmer l'ouverture").await;
    let t = b.wait_for_text("Ouverture de créneaux programmée").await;
    assert!(
        t.contains("dimanche 31 janvier 2027") && t.contains("mardi 15 décembre 2026 à 08:00"),
        "{t}"
    );
    // Thirty days ahead is the horizon now; January opens on the 15th of December (checked last:
    // moving the clock ends the session).
    assert!(day_starts(&app, site.id, "2027-01-11").await.is_empty());

    b.goto(&format!("{}/agents/lieux/{}/reglages", app.base, site.id))
        .await;
    b.wait_for_text("Postes du lieu").await;
    check_page(&b, &axe, "reglages").await;
    b.type_into("#nouveau-poste-name", "dr 1").await;
    press(&b, "Ajouter le poste").await;
    let t = b.wait_for_text("déjà ce nom").await;
    assert!(t.contains("Un autre poste de ce lieu porte déjà ce nom"), "{t}");
    fill(&b, "#nouveau-poste-name", "Guichet 2").await;
    press(&b, "Ajouter le poste").await;
    b.wait_for_text("Poste ajouté").await;
    fill(&b, "#poste-0-nom", "Guichet 1").await;
    b.click("#poste-0-nom ~ button").await;
    b.wait_for_text("Poste enregistré").await;
    let names: Vec<(String, bool)> =
        sqlx::query_as("SELECT name, active FROM stations WHERE site_id = $1 ORDER BY name")
            .bind(site.id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        names,
        vec![("Guichet 1".to_string(), true), ("Guichet 2".to_string(), true)]
    );
    b.click("button[aria-label='Désactiver Guichet 2']").await;
    b.wait_for_text("Inactif").await;
    let active: bool = sqlx::query_scalar("SELECT active FROM stations WHERE name = 'Guichet 2'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!active);
    // Turning off a station with an appointment to come: kept, and listed.
    let (s, _) = app
        .book(
            site.id,
            1,
            "2026-12-02T10:00:00+01:00",
            "10.64.0.1",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201);
    b.click("button[aria-label='Désactiver Guichet 1']").await;
    let t = b.wait_for_text("Poste désactivé").await;
    assert!(
        t.contains("1 rendez-vous à venir sur ce poste sont maintenus")
            && t.contains("mercredi 2 décembre 2026"),
        "{t}"
    );
    check_page(&b, &axe, "poste-desactive").await;
    assert!(day_starts(&app, site.id, "2026-12-03").await.is_empty());
    b.goto(&format!("{}/agents/lieux/{}/reglages", app.base, site.id))
        .await;
    b.click("button[aria-label='Activer Guichet 1']").await;
    b.wait_for_text("Poste enregistré").await;
    assert_eq!(day_starts(&app, site.id, "2026-12-03").await.len(), 12);
    // A passport takes longer here, and the mairie asks for its own list.
    fill(&b, "#motif-PASSPORT-minutes_per_person", "25").await;
    fill(&b, "#motif-PASSPORT-max_persons", "3").await;
    b.type_into(
        "#motif-PASSPORT-what_to_bring",
        "Le formulaire CERFA rempli\nDeux photos",
    )
    .await;
    press(&b, "Enregistrer Passeport").await;
    b.wait_for_text("Réglages du motif enregistrés").await;
    let (minutes, max, bring): (i32, i32, Option<String>) = sqlx::query_as(
        "SELECT minutes_per_person, max_persons, what_to_bring FROM site_motifs WHERE site_id = $1 AND motif = 'PASSPORT'",
    )
    .bind(site.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (minutes, max, bring.as_deref()),
        (25, 3, Some("Le formulaire CERFA rempli\nDeux photos"))
    );
    // Shown again in its field.
    let shown = b
        .script(
            "return document.querySelector('#motif-PASSPORT-what_to_bring').value;",
            json!([]),
        )
        .await;
    assert_eq!(shown, json!("Le formulaire CERFA rempli\nDeux photos"));
    check_page(&b, &axe, "reglages-enregistres@#motif-PASSPORT-what_to_bring").await;
    app.clock.set(paris(2026, 12, 15, 8, 0, 0));
    assert_eq!(day_starts(&app, site.id, "2027-01-11").await.len(), 12);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_agent_is_refused_every_settings_page(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    account(&pool, AGENT, Role::Agent, "68278").await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let token = app.staff_token(AGENT).await;
    let b = Browser::start("reglages-agent").await;
    login(&b, &app, AGENT).await;
    for page in ["horaires", "fermetures", "politique", "reglages"] {
        let path = format!("/agents/lieux/{}/{page}", site.id);
        let (s, _) = app.call("GET", &path, &Value::Null, Some(&token)).await;
        assert_eq!(s, 403, "{page}");
        b.goto(&format!("{}{path}", app.base)).await;
        b.wait_for_text("Votre rôle ne permet pas cette action").await;
    }
    b.shot("refuse").await;
    // Nor through the API.
    let (s, _) = app
        .call(
            "PUT",
            &format!(
                "/api/v1/staff/sites/{}/stations/{}/week?confirm=true",
                site.id, site.stations[0]
            ),
            &json!({"valid_from": "2026-11-30", "ranges": []}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 403);
    let rules: i64 = sqlx::query_scalar("SELECT count(*) FROM opening_rules")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rules, 5);
    // Not logged in: to the login page.
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/agents/lieux/{}/horaires", app.base, site.id))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_settings_api_checks_its_input_and_the_commune(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let elsewhere = SiteBuilder {
        insee: "68224",
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(12, 0))])
    .create(&pool)
    .await;
    account(&pool, ADMIN, Role::CommuneAdmin, "68278").await;
    account(&pool, "chef@mulhouse.fr", Role::CommuneAdmin, "68224").await;
    account(&pool, AGENT, Role::Agent, "68278").await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let admin = app.staff_token(ADMIN).await;
    let other = app.staff_token("chef@mulhouse.fr").await;
    let agent = app.staff_token(AGENT).await;
    let st = site.stations[0];
    let week = format!("/api/v1/staff/sites/{}/stations/{st}/week", site.id);
    let (s, booked) = app
        .book(
            site.id,
            1,
            "2026-12-01T11:00:00+01:00",
            "10.63.0.1",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201);

    // The week: previewed, then applied.
    let body = json!({"valid_from": "2026-11-30", "ranges": [
        {"weekday": 1, "start_time": "08:00", "end_time": "10:30"},
        {"weekday": 2, "start_time": "08:00", "end_time": "10:30"},
        {"weekday": 2, "start_time": "14:00", "end_time": "16:00"}]});
    let (s, preview) = app.call("PUT", &week, &body, Some(&admin)).await;
    assert_eq!((s, preview["applied"].as_bool()), (200, Some(false)), "{preview}");
    assert_eq!(preview["hits"].as_array().map(Vec::len), Some(1));
    assert_eq!(preview["hits"][0]["id"], booked["id"]);
    let (s, applied) = app
        .call("PUT", &format!("{week}?confirm=true"), &body, Some(&admin))
        .await;
    assert_eq!((s, applied["applied"].as_bool()), (200, Some(true)), "{applied}");
    assert_eq!(
        day_starts(&app, site.id, "2026-12-08")
            .await
            .first()
            .map(String::as_str),
        Some("2026-12-08T08:00:00+01:00")
    );
    assert!(day_starts(&app, site.id, "2026-12-09").await.is_empty());
    // Refusals: overlapping ranges of a day (named), an end before its start, a past date,
    // unreadable JSON, another commune's administrator, an agent.
    let bad = |ranges: Value, from: &str| json!({"valid_from": from, "ranges": ranges});
    let (s, e) = app
        .call(
            "PUT",
            &week,
            &bad(json!([{"weekday": 3, "start_time": "08:00", "end_time": "12:00"}, {"weekday": 3, "start_time": "11:00", "end_time": "13:00"}]), "2026-11-30"),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str(), e["error"]["field"].as_str()),
        (422, Some("overlapping_rule"), Some("wednesday")),
        "{e}"
    );
    let (s, e) = app
        .call(
            "PUT",
            &week,
            &bad(
                json!([{"weekday": 5, "start_time": "12:00", "end_time": "08:00"}]),
                "2026-11-30",
            ),
            Some(&admin),
        )
        .await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("friday")), "{e}");
    let (s, e) = app
        .call(
            "PUT",
            &week,
            &bad(
                json!([{"weekday": 8, "start_time": "08:00", "end_time": "09:00"}]),
                "2026-11-30",
            ),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("invalid_weekday")),
        "{e}"
    );
    let (s, e) = app
        .call("PUT", &week, &bad(json!([]), "2026-11-01"), Some(&admin))
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (422, Some("valid_from")),
        "{e}"
    );
    let (s, _) = app
        .call(
            "PUT",
            &week,
            &json!({"valid_from": "demain", "ranges": []}),
            Some(&admin),
        )
        .await;
    assert!((400..500).contains(&s), "{s}");
    let (s, _) = app
        .call("PUT", &week, &json!({"ranges": "lundi"}), Some(&admin))
        .await;
    assert!((400..500).contains(&s), "{s}");
    let (s, _) = app
        .call(
            "PUT",
            &week,
            &json!({"valid_from": "2026-11-30", "ranges": []}),
            Some(&other),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .call(
            "PUT",
            &week,
            &json!({"valid_from": "2026-11-30", "ranges": []}),
            Some(&agent),
        )
        .await;
    assert_eq!(s, 403);
    // A station of another site, under this site: not found.
    let (s, _) = app
        .call(
            "PUT",
            &format!(
                "/api/v1/staff/sites/{}/stations/{}/week",
                site.id, elsewhere.stations[0]
            ),
            &json!({"valid_from": "2026-11-30", "ranges": []}),
            Some(&admin),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(audit_count(&pool, "week_replace").await, 1);

    // Closures: ended early, removed; checked inputs and commune.
    let closures = format!("/api/v1/staff/sites/{}/closures", site.id);
    let (s, _) = app
        .call(
            "POST",
            &closures,
            &json!({"start": "2026-12-01T08:00:00+01:00", "end": "2026-12-04T18:00:00+01:00", "reason": "Travaux", "confirm": true}),
            Some(&admin),
        )
        .await;
    assert_eq!(s, 200);
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM closures")
        .fetch_one(&pool)
        .await
        .unwrap();
    let one = format!("{closures}/{id}");
    let (s, e) = app
        .call(
            "PATCH",
            &one,
            &json!({"end": "2026-12-05T08:00:00+01:00"}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("invalid_end")),
        "later than planned: {e}"
    );
    let (s, e) = app
        .call(
            "PATCH",
            &one,
            &json!({"end": "2026-11-29T08:00:00+01:00"}),
            Some(&admin),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    let (s, _) = app
        .call("PATCH", &one, &json!({"end": "mardi"}), Some(&admin))
        .await;
    assert!((400..500).contains(&s));
    let (s, _) = app.call("PATCH", &one, &json!({"end": 12}), Some(&admin)).await;
    assert!((400..500).contains(&s));
    let (s, _) = app.call("PATCH", &one, &json!({}), Some(&other)).await;
    assert_eq!(s, 404);
    let (s, _) = app
        .call(
            "PATCH",
            &format!("/api/v1/staff/sites/{}/closures/{id}", elsewhere.id),
            &json!({}),
            Some(&other),
        )
        .await;
    assert_eq!(s, 404, "a closure under another site is not found");
    let (s, _) = app.call("PATCH", &one, &json!({}), Some(&agent)).await;
    assert_eq!(s, 403);
    let (s, e) = app
        .call(
            "PATCH",
            &one,
            &json!({"end": "2026-12-02T12:00:00+01:00"}),
            Some(&admin),
        )
        .await;
    assert_eq!(s, 204, "{e}");
    let end: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT upper(during) FROM closures")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(end, paris(2026, 12, 2, 12, 0, 0));
    let (s, _) = app.call("DELETE", &one, &Value::Null, Some(&other)).await;
    assert_eq!(s, 404);
    let (s, _) = app.call("DELETE", &one, &Value::Null, Some(&agent)).await;
    assert_eq!(s, 403);
    let (s, _) = app.call("DELETE", &one, &Value::Null, Some(&admin)).await;
    assert_eq!(s, 204);
    let (s, _) = app.call("DELETE", &one, &Value::Null, Some(&admin)).await;
    assert_eq!(s, 404);

    // Stations: added, renamed, turned off (its appointment kept, and listed).
    let stations = format!("/api/v1/staff/sites/{}/stations", site.id);
    let (s, added) = app
        .call("POST", &stations, &json!({"name": "Guichet 2"}), Some(&admin))
        .await;
    assert_eq!(s, 201, "{added}");
    let (s, e) = app
        .call("POST", &stations, &json!({"name": "  "}), Some(&admin))
        .await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("name")));
    let (s, e) = app
        .call("POST", &stations, &json!({"name": "guichet 2"}), Some(&admin))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("station_name_taken"))
    );
    let (s, _) = app
        .call("POST", &stations, &json!({"nom": "X"}), Some(&admin))
        .await;
    assert!((400..500).contains(&s));
    let (s, _) = app
        .call("POST", &stations, &json!({"name": "X"}), Some(&other))
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .call("POST", &stations, &json!({"name": "X"}), Some(&agent))
        .await;
    assert_eq!(s, 403);
    let (s, e) = app
        .call(
            "PATCH",
            &format!("{stations}/{st}"),
            &json!({"name": "Guichet 1", "active": false}),
            Some(&admin),
        )
        .await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(e["hits"][0]["id"], booked["id"]);
    let (s, e) = app
        .call("PATCH", &format!("{stations}/{st}"), &json!({}), Some(&admin))
        .await;
    assert_eq!((s, e["error"]["code"].as_str()), (422, Some("nothing_to_change")));
    let (s, _) = app
        .call(
            "PATCH",
            &format!("{stations}/{st}"),
            &json!({"active": "non"}),
            Some(&admin),
        )
        .await;
    assert!((400..500).contains(&s));
    let (s, _) = app
        .call(
            "PATCH",
            &format!("{stations}/{st}"),
            &json!({"active": true}),
            Some(&other),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .call(
            "PATCH",
            &format!("{stations}/{}", elsewhere.stations[0]),
            &json!({"active": false}),
            Some(&admin),
        )
        .await;
    assert_eq!(s, 404);
    let (name, active): (String, bool) = sqlx::query_as("SELECT name, active FROM stations WHERE id = $1")
        .bind(st)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((name.as_str(), active), ("Guichet 1", false));
    assert!(
        day_starts(&app, site.id, "2026-12-08").await.is_empty(),
        "an inactive station offers nothing"
    );

    // Motifs: listed with French labels, set, checked.
    let motifs = format!("/api/v1/staff/sites/{}/motifs", site.id);
    let (s, list) = app.call("GET", &motifs, &Value::Null, Some(&admin)).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(4));
    assert_eq!(list[1]["label"], "Passeport");
    let (s, _) = app.call("GET", &motifs, &Value::Null, Some(&other)).await;
    assert_eq!(s, 404);
    let (s, _) = app.call("GET", &motifs, &Value::Null, Some(&agent)).await;
    assert_eq!(s, 403);
    let (s, e) = app
        .call(
            "PUT",
            &format!("{motifs}/PASSPORT"),
            &json!({"minutes_per_person": 20, "max_persons": 2, "what_to_bring": " Photo \n\n Timbre "}),
            Some(&admin),
        )
        .await;
    assert_eq!(s, 204, "{e}");
    let (_, list) = app.call("GET", &motifs, &Value::Null, Some(&admin)).await;
    assert_eq!(list[1]["what_to_bring"], "Photo\nTimbre");
    assert_eq!(list[1]["minutes_per_person"], 20);
    let (s, e) = app
        .call(
            "PUT",
            &format!("{motifs}/PASSPORT"),
            &json!({"minutes_per_person": 2, "max_persons": 2}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (422, Some("minutes_per_person"))
    );
    let (s, e) = app
        .call(
            "PUT",
            &format!("{motifs}/PASSPORT"),
            &json!({"minutes_per_person": 20, "max_persons": 11}),
            Some(&admin),
        )
        .await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("max_persons")));
    let (s, _) = app
        .call(
            "PUT",
            &format!("{motifs}/VISA"),
            &json!({"minutes_per_person": 20, "max_persons": 2}),
            Some(&admin),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = app
        .call(
            "PUT",
            &format!("{motifs}/PASSPORT"),
            &json!({"minutes_per_person": "vingt", "max_persons": 2}),
            Some(&admin),
        )
        .await;
    assert!((400..500).contains(&s));
    let (s, _) = app
        .call(
            "PUT",
            &format!("{motifs}/PASSPORT"),
            &json!({"minutes_per_person": 20, "max_persons": 2}),
            Some(&other),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .call(
            "PUT",
            &format!("{motifs}/PASSPORT"),
            &json!({"minutes_per_person": 20, "max_persons": 2}),
            Some(&agent),
        )
        .await;
    assert_eq!(s, 403);
    for action in [
        "closure_end",
        "closure_delete",
        "station_add",
        "station_change",
        "motif_set",
    ] {
        assert_eq!(audit_count(&pool, action).await, 1, "{action}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn what_to_bring_is_the_motifs_list_else_the_sites_else_the_default(pool: PgPool) {
    use booking_service::domain::motif::Motif;
    use booking_service::service::calendar_admin::what_to_bring;
    let site = SiteBuilder::default().create(&pool).await;
    let plain = SiteBuilder::default().create(&pool).await;
    account(&pool, ADMIN, Role::CommuneAdmin, "68278").await;
    sqlx::query("UPDATE booking_policies SET what_to_bring = '{Convocation imprimée}' WHERE site_id = $1")
        .bind(site.id)
        .execute(&pool)
        .await
        .unwrap();
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let token = app.staff_token(ADMIN).await;
    let (s, e) = app
        .call(
            "PUT",
            &format!("/api/v1/staff/sites/{}/motifs/PASSPORT", site.id),
            &json!({"minutes_per_person": 20, "max_persons": 2, "what_to_bring": "Photo\nTimbre fiscal"}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 204, "{e}");
    let state = booking_service::app::AppState::new(
        pool.clone(),
        booking_service::config::ServeConfig::for_tests("postgres://unused", &e2e_tests::redis_url()),
        std::sync::Arc::new(booking_service::clock::ManualClock::new(paris(
            2026, 11, 30, 7, 0, 0,
        ))),
    );
    assert_eq!(
        what_to_bring(&state, site.id, Motif::Passport).await.unwrap(),
        vec!["Photo", "Timbre fiscal"]
    );
    assert_eq!(
        what_to_bring(&state, site.id, Motif::Cni).await.unwrap(),
        vec!["Convocation imprimée"]
    );
    let default = what_to_bring(&state, plain.id, Motif::Passport).await.unwrap();
    assert!(default.iter().any(|i| i.contains("timbre fiscal")), "{default:?}");
    // Emptied, the motif's list gives way to the site's again.
    let (s, _) = app
        .call(
            "PUT",
            &format!("/api/v1/staff/sites/{}/motifs/PASSPORT", site.id),
            &json!({"minutes_per_person": 20, "max_persons": 2, "what_to_bring": "  \n "}),
            Some(&token),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        what_to_bring(&state, site.id, Motif::Passport).await.unwrap(),
        vec!["Convocation imprimée"]
    );
    // The settings page says which list applies when the field is left empty.
    let (s, page) = app
        .client
        .get(format!("{}/agents/lieux/{}/reglages", app.base, site.id))
        .bearer_auth(&token)
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(s, 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("Liste par défaut : Convocation imprimée"));
}
