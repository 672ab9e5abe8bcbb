//! The back office as a whole: every page the staff home links to opens, passes axe (no serious or
//! critical violation; the others are written to `target/browser-screenshots/tour/axe-other.txt`)
//! and is photographed at a desktop and a phone width; no staff operation of the API is left
//! without a page, and every such page is reachable from the home.

use booking_service::staff::{accounts, Role};
use booking_service::web::staff::{COMMUNE_PAGES, PLATFORM_PAGES, SITE_PAGES};
use e2e_tests::browser::{axe_source, Browser};
use e2e_tests::{hm, numbers, paris, SiteBuilder, TestApp, STAFF_PASSWORD};
use sqlx::PgPool;
use std::collections::BTreeSet;

/// Each staff operation of the JSON API, and the page (a `GET` route) where staff do the same.
/// A new API operation fails [`no_staff_operation_of_the_api_is_left_without_a_page`] until it is
/// listed here with its page.
const PAGE_OF_OPERATION: &[(&str, &str)] = &[
    ("post /api/v1/staff/login", "/agents/connexion"),
    ("post /api/v1/staff/logout", "/agents"),
    ("get /api/v1/staff/me", "/agents"),
    ("post /api/v1/staff/password", "/agents/mot-de-passe"),
    ("post /api/v1/staff/password-reset", "/agents/mot-de-passe-oublie"),
    (
        "post /api/v1/staff/password-reset/confirm",
        "/agents/mot-de-passe/{token}",
    ),
    ("get /api/v1/staff/sites", "/agents"),
    ("post /api/v1/staff/sites", "/agents/plateforme/lieux"),
    (
        "get /api/v1/staff/sites/{site_id}/agenda",
        "/agents/lieux/{site_id}",
    ),
    ("get /api/v1/staff/appointments", "/agents/recherche"),
    (
        "get /api/v1/staff/sites/{site_id}/export",
        "/agents/lieux/{site_id}/export",
    ),
    (
        "post /api/v1/staff/appointments/{appointment_id}/status",
        "/agents/lieux/{site_id}",
    ),
    (
        "post /api/v1/staff/sites/{site_id}/appointments",
        "/agents/lieux/{site_id}/guichet",
    ),
    (
        "get /api/v1/staff/sites/{site_id}/calendar",
        "/agents/lieux/{site_id}/horaires",
    ),
    (
        "post /api/v1/staff/sites/{site_id}/rules",
        "/agents/lieux/{site_id}/horaires",
    ),
    (
        "put /api/v1/staff/rules/{rule_id}",
        "/agents/lieux/{site_id}/horaires",
    ),
    (
        "delete /api/v1/staff/rules/{rule_id}",
        "/agents/lieux/{site_id}/horaires",
    ),
    (
        "post /api/v1/staff/sites/{site_id}/closures",
        "/agents/lieux/{site_id}/fermetures",
    ),
    (
        "put /api/v1/staff/sites/{site_id}/policy",
        "/agents/lieux/{site_id}/politique",
    ),
    (
        "post /api/v1/staff/sites/{site_id}/release-events",
        "/agents/lieux/{site_id}/politique",
    ),
    (
        "post /api/v1/staff/stations/{station_id}/breakdown",
        "/agents/lieux/{site_id}",
    ),
    (
        "get /api/v1/staff/sites/{site_id}/stats",
        "/agents/lieux/{site_id}/statistiques",
    ),
    ("get /api/v1/staff/accounts", "/agents/comptes"),
    ("post /api/v1/staff/accounts", "/agents/comptes"),
    ("patch /api/v1/staff/accounts/{account_id}", "/agents/comptes"),
    ("get /api/v1/staff/audit", "/agents/journal"),
    ("get /api/v1/staff/outbox/failures", "/agents/courriels-en-echec"),
    (
        "post /api/v1/staff/outbox/{id}/retry",
        "/agents/courriels-en-echec",
    ),
    (
        "post /api/v1/staff/accounts/{account_id}/password-reset",
        "/agents/comptes",
    ),
    (
        "get /api/v1/staff/appointments/{appointment_id}",
        "/agents/rdv/{appointment_id}",
    ),
    (
        "patch /api/v1/staff/appointments/{appointment_id}",
        "/agents/rdv/{appointment_id}",
    ),
    (
        "post /api/v1/staff/appointments/{appointment_id}/move",
        "/agents/rdv/{appointment_id}/deplacer",
    ),
    (
        "post /api/v1/staff/appointments/{appointment_id}/lift-confirmation",
        "/agents/rdv/{appointment_id}",
    ),
    (
        "patch /api/v1/staff/sites/{site_id}/closures/{closure_id}",
        "/agents/lieux/{site_id}/fermetures",
    ),
    (
        "delete /api/v1/staff/sites/{site_id}/closures/{closure_id}",
        "/agents/lieux/{site_id}/fermetures",
    ),
    (
        "put /api/v1/staff/sites/{site_id}/stations/{station_id}/week",
        "/agents/lieux/{site_id}/horaires",
    ),
    (
        "post /api/v1/staff/sites/{site_id}/stations",
        "/agents/lieux/{site_id}/reglages",
    ),
    (
        "patch /api/v1/staff/sites/{site_id}/stations/{station_id}",
        "/agents/lieux/{site_id}/reglages",
    ),
    (
        "get /api/v1/staff/sites/{site_id}/motifs",
        "/agents/lieux/{site_id}/reglages",
    ),
    (
        "put /api/v1/staff/sites/{site_id}/motifs/{motif}",
        "/agents/lieux/{site_id}/reglages",
    ),
    (
        "get /api/v1/staff/sites/{site_id}/statistics",
        "/agents/lieux/{site_id}/statistiques",
    ),
    (
        "get /api/v1/staff/sites/{site_id}/feed",
        "/agents/lieux/{site_id}/flux",
    ),
    (
        "post /api/v1/staff/sites/{site_id}/feed",
        "/agents/lieux/{site_id}/flux",
    ),
    (
        "post /api/v1/staff/sites/{site_id}/stations/{station_id}/feed",
        "/agents/lieux/{site_id}/flux",
    ),
];

/// Pages reached from a page the home links to rather than from the home itself, with that page.
const REACHED_THROUGH: &[(&str, &str)] = &[
    ("/agents/connexion", "/agents"),
    ("/agents/mot-de-passe-oublie", "/agents/connexion"),
    ("/agents/mot-de-passe/{token}", "/agents/mot-de-passe-oublie"),
    ("/agents/rdv/{appointment_id}", "/agents/lieux/{site_id}"),
    (
        "/agents/rdv/{appointment_id}/deplacer",
        "/agents/rdv/{appointment_id}",
    ),
];

/// The `GET` pages the home links to, as OpenAPI templates.
fn home_links() -> BTreeSet<String> {
    let mut links: BTreeSet<String> = SITE_PAGES
        .iter()
        .map(|(_, tail, _)| format!("/agents/lieux/{{site_id}}{tail}"))
        .chain(COMMUNE_PAGES.iter().map(|(_, path, _)| path.to_string()))
        .chain(PLATFORM_PAGES.iter().map(|(_, path)| path.to_string()))
        .collect();
    // The navigation on every staff page.
    links.extend(["/agents", "/agents/recherche", "/agents/mot-de-passe"].map(String::from));
    links
}

#[test]
fn no_staff_operation_of_the_api_is_left_without_a_page() {
    let doc = serde_json::to_value(booking_service::app::openapi()).expect("openapi");
    let paths = doc["paths"].as_object().expect("paths");
    let operations: BTreeSet<String> = paths
        .iter()
        .filter(|(p, _)| p.starts_with("/api/v1/staff"))
        .flat_map(|(p, item)| {
            item.as_object()
                .into_iter()
                .flat_map(|m| m.keys())
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| format!("{m} {p}"))
        })
        .collect();
    let listed: BTreeSet<String> = PAGE_OF_OPERATION.iter().map(|(op, _)| op.to_string()).collect();
    let without_page: Vec<&String> = operations.difference(&listed).collect();
    assert!(
        without_page.is_empty(),
        "staff API operations without a page: {without_page:#?}"
    );
    let stale: Vec<&String> = listed.difference(&operations).collect();
    assert!(
        stale.is_empty(),
        "listed operations the API no longer has: {stale:#?}"
    );
    let reachable = home_links();
    for (op, page) in PAGE_OF_OPERATION {
        assert!(
            paths.get(*page).and_then(|p| p.get("get")).is_some(),
            "{op}: its page GET {page} is not a route"
        );
        // Reachable from the home, directly or through the pages listed above.
        let mut at = page.to_string();
        for _ in 0..REACHED_THROUGH.len() + 1 {
            if reachable.contains(&at) {
                break;
            }
            match REACHED_THROUGH.iter().find(|(p, _)| *p == at) {
                Some((_, from)) => at = from.to_string(),
                None => panic!("{op}: its page {page} is not linked from the staff home"),
            }
        }
        assert!(
            reachable.contains(&at),
            "{op}: {page} is not reachable from the home"
        );
    }
}

/// The staff links of the current page.
async fn links(b: &Browser) -> Vec<String> {
    let v = b
        .script(
            "return [...document.querySelectorAll('main a[href^=\"/agents\"]')].map(a => a.getAttribute('href'));",
            serde_json::json!([]),
        )
        .await;
    v.as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h.as_str().map(String::from))
        .collect()
}

/// The text a staff error page shows in its title (see `web::error_page`).
fn is_error_page(text: &str) -> bool {
    [
        "Page introuvable",
        "Demande incorrecte",
        "Service très sollicité",
        "Délai dépassé",
    ]
    .iter()
    .any(|t| text.starts_with(t) || text.contains(&format!("\n{t}\n")))
}

#[sqlx::test(migrations = "../migrations")]
async fn every_page_the_staff_home_links_to_opens_passes_axe_and_is_photographed(pool: PgPool) {
    let site = SiteBuilder {
        stations: 2,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(12, 0)), (hm(14, 0), hm(17, 0))])
    .create(&pool)
    .await;
    accounts::create_account(
        &pool,
        "admin@rixheim.fr",
        STAFF_PASSWORD,
        "Camille Admin",
        Role::CommuneAdmin,
        Some("68278"),
    )
    .await
    .unwrap();
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 2, 8, 0, 0)).await;
    for (i, at) in [
        "2026-12-02T09:00:00+01:00",
        "2026-12-02T09:00:00+01:00",
        "2026-12-02T10:30:00+01:00",
    ]
    .iter()
    .enumerate()
    {
        let (s, body) = app
            .book(
                site.id,
                1,
                at,
                &format!("10.60.0.{i}"),
                &e2e_tests::email(),
                &numbers(1),
            )
            .await;
        assert_eq!(s, 201, "{body}");
    }
    let token = app.staff_token("admin@rixheim.fr").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let b = Browser::start("tour").await;
    b.goto(&format!("{}/agents/connexion", app.base)).await;
    b.type_into("#email", "admin@rixheim.fr").await;
    b.type_into("#password", STAFF_PASSWORD).await;
    b.click("main form button").await;
    b.wait_for_text("Vos lieux").await;
    let mut pages: Vec<String> = links(&b).await;
    pages.insert(0, "/agents".into());
    let expected = SITE_PAGES.len() + COMMUNE_PAGES.len();
    assert!(pages.len() > expected, "the home links to {pages:#?}");
    // One appointment's page, from the day.
    b.goto(&format!("{}/agents/lieux/{}?jour=2026-12-02", app.base, site.id))
        .await;
    let appointment = links(&b)
        .await
        .into_iter()
        .find(|h| h.starts_with("/agents/rdv/"))
        .expect("the day links to its appointments");
    pages.push(appointment);
    let mut seen = BTreeSet::new();
    let mut other_findings = Vec::new();
    for path in pages {
        if !seen.insert(path.clone()) {
            continue;
        }
        let url = format!("{}{}", app.base, path);
        let resp = http
            .get(&url)
            .header("cookie", format!("rdv_staff={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        b.goto(&url).await;
        let text = b.text().await;
        assert!(!is_error_page(&text), "{path} shows an error: {text}");
        // Named after the page, not its ids, so that a run replaces the previous one's pictures.
        let name = path
            .replace(&site.id.to_string(), "lieu")
            .split('/')
            .filter(|s| !s.is_empty() && uuid::Uuid::parse_str(s).is_err())
            .collect::<Vec<_>>()
            .join("_")
            .replace(['?', '=', '&'], "_");
        for (width, height, label) in [(412, 915, "telephone"), (1366, 900, "bureau")] {
            b.set_window(width, height).await;
            b.shot(&format!("{name}-{label}")).await;
            let serious = b.axe_violations(&axe_source()).await;
            assert!(serious.is_empty(), "{path} at {label} width: {serious:#?}");
        }
        for finding in b.axe_report(&axe_source()).await {
            other_findings.push(format!("{path}: {finding}"));
        }
        b.set_window(412, 915).await;
    }
    let report = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/browser-screenshots/tour/axe-other.txt");
    std::fs::write(&report, other_findings.join("\n")).unwrap();
    assert!(seen.len() > expected, "pages visited: {seen:#?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_platform_administrator_opens_a_site_from_the_api_and_from_the_page(pool: PgPool) {
    let existing = SiteBuilder::default().create(&pool).await;
    sqlx::query(
        "INSERT INTO communes (insee_code, name, search_name, department_code, postcodes, latitude, longitude)
         VALUES ('97411', 'Saint-Denis', 'saint-denis', '974', '{97400}', -20.88, 55.45)",
    )
    .execute(&pool)
    .await
    .unwrap();
    accounts::create_account(
        &pool,
        "plateforme@m2a.fr",
        STAFF_PASSWORD,
        "Plateforme",
        Role::PlatformAdmin,
        None,
    )
    .await
    .unwrap();
    accounts::create_account(
        &pool,
        "admin@rixheim.fr",
        STAFF_PASSWORD,
        "Admin",
        Role::CommuneAdmin,
        Some("68278"),
    )
    .await
    .unwrap();
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 2, 8, 0, 0)).await;
    let platform = app.staff_token("plateforme@m2a.fr").await;
    let commune_admin = app.staff_token("admin@rixheim.fr").await;
    let new_site = |insee: &str, stations: i64| {
        serde_json::json!({"commune_insee": insee, "name": "Mairie annexe", "address_line": "2 rue de Paris",
                           "postcode": "97400", "city": "Saint-Denis", "stations": stations})
    };
    let (s, body) = app
        .call(
            "POST",
            "/api/v1/staff/sites",
            &new_site("97411", 2),
            Some(&commune_admin),
        )
        .await;
    assert_eq!(s, 403, "{body}");
    for (bad, field) in [
        (new_site("99999", 2), "commune_insee"),
        (new_site("97411", 0), "stations"),
    ] {
        let (s, body) = app
            .call("POST", "/api/v1/staff/sites", &bad, Some(&platform))
            .await;
        assert_eq!(s, 422, "{body}");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let (s, body) = app
        .call(
            "POST",
            "/api/v1/staff/sites",
            &new_site("97411", 2),
            Some(&platform),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let (tz, stations, motifs, lat): (String, i64, i64, f64) = sqlx::query_as(
        "SELECT s.timezone, (SELECT count(*) FROM stations WHERE site_id = s.id),
                (SELECT count(*) FROM site_motifs WHERE site_id = s.id), s.latitude
         FROM sites s WHERE s.id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((tz.as_str(), stations, motifs), ("Indian/Reunion", 2, 4));
    assert!((lat + 20.88).abs() < 1e-9, "the commune's coordinates: {lat}");
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'site_created' AND target = $1")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(audited, 1);

    // The same from the page: an error next to its field, then the site in the list.
    let b = Browser::start("plateforme").await;
    b.goto(&format!("{}/agents/connexion", app.base)).await;
    b.type_into("#email", "plateforme@m2a.fr").await;
    b.type_into("#password", STAFF_PASSWORD).await;
    b.click("main form button").await;
    b.wait_for_text("Plateforme").await;
    b.click("main a[href='/agents/plateforme/lieux']").await;
    b.wait_for_text("Ouvrir un lieu").await;
    b.type_into("#p-insee", "68278").await;
    b.type_into("#p-nom", "Mairie de quartier").await;
    b.type_into("#p-adresse", "3 place de la Mairie").await;
    b.type_into("#p-cp", "681").await;
    b.type_into("#p-ville", "Rixheim").await;
    b.click("form[action='/agents/plateforme/lieux'] button").await;
    b.wait_for_text("5 chiffres").await;
    let kept = b
        .script(
            "return document.querySelector('#p-nom').value;",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(kept, "Mairie de quartier", "typed values are kept");
    let invalid = b
        .script(
            "return document.querySelector('#p-cp').getAttribute('aria-invalid');",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(invalid, "true");
    b.script(
        "document.querySelector('#p-cp').value = '68170';",
        serde_json::json!([]),
    )
    .await;
    b.click("form[action='/agents/plateforme/lieux'] button").await;
    b.wait_for_text("Lieu créé").await;
    for (w, h, label) in [(412, 915, "telephone"), (1366, 900, "bureau")] {
        b.set_window(w, h).await;
        b.shot(&format!("lieux-{label}")).await;
        let serious = b.axe_violations(&axe_source()).await;
        assert!(serious.is_empty(), "{serious:#?}");
    }
    let created: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sites WHERE name = 'Mairie de quartier' AND commune_insee = '68278' AND timezone = 'Europe/Paris'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(created, 1);
    assert_ne!(existing.id.to_string(), id);
}

#[sqlx::test(migrations = "../migrations")]
async fn what_a_site_asks_to_bring_reaches_the_email_the_citizen_page_and_the_day_list(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    accounts::create_account(
        &pool,
        "admin@rixheim.fr",
        STAFF_PASSWORD,
        "Admin",
        Role::CommuneAdmin,
        Some("68278"),
    )
    .await
    .unwrap();
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 1, 8, 0, 0)).await;
    let admin = app.staff_token("admin@rixheim.fr").await;
    // The passport gets the site's own list; the identity card keeps the domain's default.
    let (s, body) = app
        .call(
            "PUT",
            &format!("/api/v1/staff/sites/{}/motifs/PASSPORT", site.id),
            &serde_json::json!({"minutes_per_person": 15, "max_persons": 4,
                                "what_to_bring": "Ancien passeport\nJustificatif de domicile de Rixheim"}),
            Some(&admin),
        )
        .await;
    assert_eq!(s, 204, "{body}");
    let mut booked = Vec::new();
    for (i, (motif, at)) in [
        ("PASSPORT", "2026-12-02T09:00:00+01:00"),
        ("CNI", "2026-12-02T10:00:00+01:00"),
    ]
    .iter()
    .enumerate()
    {
        let (s, hold) = app
            .post(
                "/api/v1/holds",
                &serde_json::json!({"site_id": site.id, "motif": motif, "persons": 1, "start": at}),
                &format!("10.70.0.{i}"),
            )
            .await;
        assert_eq!(s, 201, "{hold}");
        let (s, done) = app
            .confirm(
                hold["hold_id"].as_str().unwrap(),
                &e2e_tests::email(),
                &numbers(1),
            )
            .await;
        assert_eq!(s, 201, "{done}");
        booked.push(done);
    }
    // The email of the passport appointment.
    let dir = tempfile_dir("a-apporter");
    let mut c = notifier::config::NotifierConfig::for_tests("postgres://unused", dir.clone());
    c.public_base_url = app.base.clone();
    let w =
        notifier::worker::Worker::new(app.pool.clone(), c, std::sync::Arc::new(app.clock.clone())).unwrap();
    while w.process_batch().await.unwrap() > 0 {}
    let mails: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let passport_mail = mails
        .iter()
        .find(|m| m.contains("Passeport"))
        .expect("the passport confirmation");
    assert!(
        passport_mail.contains("Justificatif de domicile de Rixheim"),
        "{passport_mail}"
    );
    let cni_mail = mails
        .iter()
        .find(|m| !m.contains("Passeport"))
        .expect("the CNI confirmation");
    assert!(!cni_mail.contains("Justificatif de domicile de Rixheim"));
    // The citizen's management page.
    let url = booked[0]["manage_url"].as_str().unwrap();
    let manage = &url[url.find("/rdv/").expect("a management link")..];
    let (s, page) = app.get_text(manage).await;
    assert_eq!(s, 200);
    assert!(page.contains("Justificatif de domicile de Rixheim"), "{page}");
    // The printable day list: the site's list for the passport, the default for the card.
    let http = reqwest::Client::new();
    let list = http
        .get(format!(
            "{}/agents/lieux/{}/imprimer?jour=2026-12-02",
            app.base, site.id
        ))
        .header("cookie", format!("rdv_staff={admin}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        list.matches("Justificatif de domicile de Rixheim").count(),
        1,
        "{list}"
    );
    let default_cni =
        booking_service::domain::french::what_to_bring(booking_service::domain::motif::Motif::Cni);
    assert!(list.contains(&maud_escape(default_cni[0])), "{list}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh folder for the notifier's `.eml` files.
fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rdv-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Text as the pages write it (maud escapes `&`, `<`, `>`, `"` and `'`).
fn maud_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failed_ants_call_overtaken_by_a_later_one_is_not_sent_again(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    accounts::create_account(
        &pool,
        "admin@rixheim.fr",
        STAFF_PASSWORD,
        "Admin",
        Role::CommuneAdmin,
        Some("68278"),
    )
    .await
    .unwrap();
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 1, 8, 0, 0)).await;
    let (s, booked) = app
        .book(
            site.id,
            1,
            "2026-12-02T09:00:00+01:00",
            "10.80.0.1",
            &e2e_tests::email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201, "{booked}");
    let appointment = booked["id"].as_str().unwrap().to_string();
    // A withdrawal that failed for good, then a declaration queued after it (a move).
    let insert = |kind: &'static str, status: &'static str| {
        let pool = pool.clone();
        let appointment = appointment.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO outbox (kind, appointment_id, due_at, status, attempts, last_error, created_at)
                 VALUES ($1, $2::uuid, now(), $3, 8, 'gave up', now()) RETURNING id",
            )
            .bind(kind)
            .bind(appointment)
            .bind(status)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let stale = insert("ants_delete", "failed").await;
    let admin = app.staff_token("admin@rixheim.fr").await;
    let retry = format!("/api/v1/staff/outbox/{stale}/retry");
    insert("ants_declare", "pending").await;
    let (s, body) = app
        .call("POST", &retry, &serde_json::Value::Null, Some(&admin))
        .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["error"]["code"], "superseded", "{body}");
    let status: String = sqlx::query_scalar("SELECT status FROM outbox WHERE id = $1")
        .bind(stale)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "failed", "left as it was");
    // The last ANTS call of an appointment can be sent again.
    let last = insert("ants_declare", "failed").await;
    let (s, body) = app
        .call(
            "POST",
            &format!("/api/v1/staff/outbox/{last}/retry"),
            &serde_json::Value::Null,
            Some(&admin),
        )
        .await;
    assert_eq!(s, 202, "{body}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_member_leaving_takes_the_commune_s_feed_urls_with_them(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    for (email, role) in [
        ("admin@rixheim.fr", Role::CommuneAdmin),
        ("agent@rixheim.fr", Role::Agent),
    ] {
        accounts::create_account(&pool, email, STAFF_PASSWORD, "Membre", role, Some("68278"))
            .await
            .unwrap();
    }
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 1, 8, 0, 0)).await;
    let agent = app.staff_token("agent@rixheim.fr").await;
    let (s, body) = app
        .call(
            "POST",
            &format!("/api/v1/staff/sites/{}/feed", site.id),
            &serde_json::Value::Null,
            Some(&agent),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let url = body["url"].as_str().unwrap();
    let feed = url[url.find("/agents/flux/").unwrap()..].to_string();
    assert_eq!(app.get_text(&feed).await.0, 200);
    // The administrator deactivates the agent, who had the URL: it stops working.
    let admin = app.staff_token("admin@rixheim.fr").await;
    let agent_id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM staff_accounts WHERE email = 'agent@rixheim.fr'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let (s, body) = app
        .call(
            "PATCH",
            &format!("/api/v1/staff/accounts/{agent_id}"),
            &serde_json::json!({"active": false}),
            Some(&admin),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(app.get_text(&feed).await.0, 404);
    // A new one is drawn from the feed page and works.
    let (s, body) = app
        .call(
            "POST",
            &format!("/api/v1/staff/sites/{}/feed", site.id),
            &serde_json::Value::Null,
            Some(&admin),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let url = body["url"].as_str().unwrap();
    assert_eq!(
        app.get_text(&url[url.find("/agents/flux/").unwrap()..]).await.0,
        200
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_staff_move_goes_to_a_station_no_citizen_holds(pool: PgPool) {
    let site = SiteBuilder {
        stations: 2,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(12, 0))])
    .create(&pool)
    .await;
    accounts::create_account(
        &pool,
        "agent@rixheim.fr",
        STAFF_PASSWORD,
        "Agent",
        Role::Agent,
        Some("68278"),
    )
    .await
    .unwrap();
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 1, 8, 0, 0)).await;
    let (s, booked) = app
        .book(
            site.id,
            1,
            "2026-12-02T09:00:00+01:00",
            "10.90.0.1",
            &e2e_tests::email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201, "{booked}");
    let id: uuid::Uuid = booked["id"].as_str().unwrap().parse().unwrap();
    let own: uuid::Uuid = sqlx::query_scalar("SELECT station_id FROM appointments WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let other = *site.stations.iter().find(|s| **s != own).unwrap();
    // A citizen holds 10:00 on the appointment's own station (written as the holds store does),
    // the other station is free.
    let (start, end) = (paris(2026, 12, 2, 10, 0, 0), paris(2026, 12, 2, 10, 15, 0));
    let mut redis = redis::Client::open(e2e_tests::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let key = format!("{}:hold:{{{}}}:{own}", app.redis_prefix, site.id);
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 600_000;
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("citizen-hold")
        .arg(format!(
            "{}:{}:{expires}",
            start.timestamp_millis(),
            end.timestamp_millis()
        ))
        .query_async(&mut redis)
        .await
        .unwrap();
    let agent = app.staff_token("agent@rixheim.fr").await;
    let (s, body) = app
        .call(
            "POST",
            &format!("/api/v1/staff/appointments/{id}/move"),
            &serde_json::json!({"start": "2026-12-02T10:00:00+01:00"}),
            Some(&agent),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let now_on: uuid::Uuid = sqlx::query_scalar("SELECT station_id FROM appointments WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(now_on, other, "the held station stays the citizen's");
    let _: () = redis::cmd("DEL").arg(&key).query_async(&mut redis).await.unwrap();
}
