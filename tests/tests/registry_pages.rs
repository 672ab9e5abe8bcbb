//! The registry's pages for platform administrators, in a real browser behind one gateway with
//! booking-service (as deployed: the registry reads booking-service's staff session): a platform
//! administrator logs in on booking-service, then adds a téléservice, enters a new source of
//! populations, opens a period with a cost, withdraws an order (the totals change) and reads a
//! period's split; a commune administrator is refused, a forged form too. Then the API routes
//! those pages share their functions with. Screenshots: target/browser-screenshots/registry-pages/.

use axum::http::header;
use booking_service::clock::ManualClock;
use booking_service::staff::{accounts, Role};
use e2e_tests::browser::{axe_source, Browser};
use e2e_tests::{paris, SiteBuilder, TestApp, STAFF_PASSWORD};
use registry::config::RegistryConfig;
use registry::http::RegistryState;
use registry::ops::euros;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

/// The registry's paths; everything else goes to booking-service (the two never collide).
const REGISTRY_PATHS: [&str; 8] = [
    "/registre",
    "/api/v1/teleservices",
    "/api/v1/subscriptions",
    "/api/v1/members",
    "/api/v1/orders",
    "/api/v1/allocations",
    "/api/v1/populations",
    "/api/v1/periods",
];

/// A minimal gateway in front of both services, as in production: one origin, so the pages
/// share the session cookie, the stylesheet and the logout button's address.
async fn spawn_gateway(booking: String, registry: String) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (client, booking, registry) = (client.clone(), booking.clone(), registry.clone());
        async move {
            let path = req.uri().path().to_string();
            let target = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let upstream = if REGISTRY_PATHS
                .iter()
                .any(|p| path == *p || path.starts_with(&format!("{p}/")))
            {
                registry
            } else {
                booking
            };
            let (method, headers) = (req.method().clone(), req.headers().clone());
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            let mut out = client.request(method, format!("{upstream}{target}"));
            for (k, v) in &headers {
                if k != header::HOST && k != header::CONTENT_LENGTH {
                    out = out.header(k, v);
                }
            }
            let resp = out.body(body).send().await.expect("upstream");
            let mut back = axum::http::Response::builder().status(resp.status());
            for (k, v) in resp.headers() {
                if k != header::TRANSFER_ENCODING && k != header::CONTENT_LENGTH && k != header::CONNECTION {
                    back = back.header(k, v);
                }
            }
            let bytes = resp.bytes().await.unwrap_or_default();
            back.body(axum::body::Body::from(bytes)).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// booking-service, the registry over the same database, and the gateway in front.
struct Stack {
    app: TestApp,
    gateway: String,
    pool: PgPool,
}

async fn stack(pool: PgPool) -> Stack {
    // A failed test shows the servers' errors (an error page tells nothing of its cause).
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn,sqlx=warn")
        .try_init();
    SiteBuilder::default().create(&pool).await;
    registry::seed::seed_demo(&pool).await.unwrap();
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
    let now = paris(2026, 11, 30, 10, 0, 0);
    let app = TestApp::spawn(pool.clone(), now).await;
    let state = RegistryState::new(
        pool.clone(),
        RegistryConfig::for_tests(),
        Arc::new(ManualClock::new(now)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let registry = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        registry::http::run(listener, state, std::future::pending())
            .await
            .unwrap()
    });
    let gateway = spawn_gateway(app.base.clone(), registry).await;
    Stack { app, gateway, pool }
}

/// No serious or critical accessibility violation, and a screenshot, at phone and desktop width,
/// scrolled to the element with id `show` when given (what the step is about).
async fn check_page_at(b: &Browser, name: &str, show: Option<&str>) {
    for (width, height, label) in [(412, 915, "telephone"), (1366, 900, "bureau")] {
        b.set_window(width, height).await;
        let serious = b.axe_violations(&axe_source()).await;
        assert!(serious.is_empty(), "{name} at {label} width: {serious:#?}");
        // Nothing wider than the window: wide tables scroll in their own region.
        let overflow = b
            .script(
                "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && !e.closest('.table-scroll')).map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 5);",
                json!([]),
            )
            .await;
        assert_eq!(overflow, json!([]), "{name} at {label} width overflows");
        let page_width = b
            .script(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
                json!([]),
            )
            .await;
        assert!(
            page_width[0].as_i64() <= page_width[1].as_i64(),
            "{name} at {label} width scrolls sideways: {page_width}"
        );
        if let Some(id) = show {
            b.script(
                "document.getElementById(arguments[0]).scrollIntoView({block: 'center'});",
                json!([id]),
            )
            .await;
        }
        b.shot(&format!("{name}-{label}")).await;
    }
    b.set_window(412, 915).await;
}

async fn check_page(b: &Browser, name: &str) {
    check_page_at(b, name, None).await;
}

/// Clicks the option of a `select` with this value.
async fn choose(b: &Browser, select: &str, value: &str) {
    b.click(&format!("{select} option[value='{value}']")).await;
}

/// Sets a date input (what a date picker would send).
async fn set_date(b: &Browser, id: &str, iso: &str) {
    b.script(
        "document.getElementById(arguments[0]).value = arguments[1];",
        json!([id, iso]),
    )
    .await;
}

async fn member_id(pool: &PgPool, insee: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM registry_members WHERE insee_code = $1")
        .bind(insee)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Announced and issued orders, in cents, from the database.
async fn committed(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT coalesce(sum(amount_cents), 0)::bigint FROM purchase_orders WHERE status <> 'withdrawn'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The orders page's total committed, as shown.
async fn engaged(b: &Browser) -> String {
    b.script("return document.getElementById('engage').innerText;", json!([]))
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_platform_administrator_keeps_the_registry_from_the_pages(pool: PgPool) {
    let s = stack(pool).await;
    let g = &s.gateway;
    let b = Browser::start("registry-pages").await;

    // Not logged in: the registry sends the browser to booking-service's login page.
    b.goto(&format!("{g}/registre/teleservices")).await;
    assert!(b.url().await.ends_with("/agents/connexion"), "{}", b.url().await);
    b.type_into("#email", "plateforme@m2a.fr").await;
    b.type_into("#password", STAFF_PASSWORD).await;
    b.click("main form button").await;
    b.wait_for_text("Vos lieux").await;

    // The staff home of a platform administrator links to the registry.
    b.click("main a[href='/registre']").await;
    b.wait_for_text("Registre des téléservices").await;
    check_page(&b, "accueil").await;

    // The catalog: a new téléservice, owned by Mulhouse, specific.
    let mulhouse = member_id(&s.pool, "68224").await;
    b.goto(&format!("{g}/registre/teleservices")).await;
    b.wait_for_text("Ajouter un téléservice").await;
    check_page(&b, "catalogue").await;
    b.type_into("#t-code", "signalements-voirie").await;
    b.type_into("#t-nom", "Signalements de voirie").await;
    choose(&b, "#t-proprio", &mulhouse.to_string()).await;
    choose(&b, "#t-type", "specific").await;
    b.click("form[action='/registre/teleservices'] button[type=submit]")
        .await;
    let text = b.wait_for_text("Téléservice ajouté au catalogue.").await;
    assert!(text.contains("Signalements de voirie"), "{text}");
    let (owner, kind): (Uuid, String) =
        sqlx::query_as("SELECT owner_id, kind FROM teleservices WHERE code = 'signalements-voirie'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert_eq!((owner, kind.as_str()), (mulhouse, "specific"));
    // The same code again: the error next to the field, the typed values kept.
    b.type_into("#t-code", "signalements-voirie").await;
    b.type_into("#t-nom", "Copie").await;
    choose(&b, "#t-proprio", &mulhouse.to_string()).await;
    b.click("form[action='/registre/teleservices'] button[type=submit]")
        .await;
    b.wait_for_text("Ce code de téléservice existe déjà.").await;
    let described = b
        .script(
            "return document.getElementById('t-code').getAttribute('aria-describedby');",
            json!([]),
        )
        .await;
    assert_eq!(described, "err-t-code");
    check_page_at(&b, "catalogue-erreur", Some("err-t-code")).await;

    // A new source of populations for two members.
    let rixheim = member_id(&s.pool, "68278").await;
    b.goto(&format!("{g}/registre/membres")).await;
    b.wait_for_text("Populations d'une nouvelle période").await;
    check_page(&b, "membres").await;
    b.type_into("#p-source", "insee-2027").await;
    b.type_into(&format!("#pm-{mulhouse}"), "110000").await;
    b.type_into(&format!("#pt-{mulhouse}"), "111500").await;
    b.type_into(&format!("#pm-{rixheim}"), "14000").await;
    b.click("form[action='/registre/membres/populations'] button[type=submit]")
        .await;
    let text = b.wait_for_text("Populations enregistrées pour 2 membres.").await;
    assert!(text.contains("insee-2027"), "{text}");
    let figures: Vec<(Uuid, i32, i32)> = sqlx::query_as(
        "SELECT member_id, municipale, totale FROM member_populations WHERE source = 'insee-2027' ORDER BY municipale",
    )
    .fetch_all(&s.pool)
    .await
    .unwrap();
    assert_eq!(figures, vec![(rixheim, 14000, 14000), (mulhouse, 110000, 111500)]);
    // The same source again is refused: its figures never change under a period's key.
    b.type_into("#p-source", "insee-2027").await;
    b.type_into(&format!("#pm-{rixheim}"), "1").await;
    b.click("form[action='/registre/membres/populations'] button[type=submit]")
        .await;
    b.wait_for_text("Cette source de populations est déjà enregistrée")
        .await;
    check_page_at(&b, "membres-source-existante", Some("err-p-source")).await;

    // A commune of the platform joins the group; its name comes from the commune data.
    sqlx::query(
        "INSERT INTO communes (insee_code, name, search_name, department_code, postcodes, latitude, longitude)
         VALUES ('97411', 'Saint-Denis', 'saint-denis', '974', '{97400}', -20.88, 55.45)",
    )
    .execute(&s.pool)
    .await
    .unwrap();
    b.goto(&format!("{g}/registre/membres")).await;
    b.type_into("#j-insee", "97411").await;
    b.type_into("#j-siren", "219740115").await;
    set_date(&b, "j-date", "2026-12-01").await;
    b.type_into("#j-delib", "DCM-2026-42").await;
    b.click("form[action='/registre/membres'] button[type=submit]")
        .await;
    let text = b.wait_for_text("Adhésion enregistrée.").await;
    assert!(text.contains("Saint-Denis"), "{text}");
    let joined: (String, String, chrono::NaiveDate) =
        sqlx::query_as("SELECT name, siren, adhesion_date FROM registry_members WHERE insee_code = '97411'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert_eq!(
        joined,
        (
            "Saint-Denis".to_string(),
            "219740115".to_string(),
            chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        )
    );
    b.type_into("#j-insee", "97411").await;
    b.type_into("#j-siren", "219740115").await;
    set_date(&b, "j-date", "2026-12-01").await;
    b.type_into("#j-delib", "DCM-2026-42").await;
    b.click("form[action='/registre/membres'] button[type=submit]")
        .await;
    b.wait_for_text("Cette commune est déjà membre.").await;
    check_page_at(&b, "membres-adhesion-refusee", Some("adhesion")).await;

    // Rixheim offers Petite enfance from 2027.
    b.goto(&format!("{g}/registre/offres")).await;
    b.wait_for_text("Enregistrer une offre").await;
    check_page(&b, "offres").await;
    choose(&b, "#s-membre", &rixheim.to_string()).await;
    choose(&b, "#s-service", "petite-enfance").await;
    set_date(&b, "s-debut", "2027-01-01").await;
    b.click("form[action='/registre/offres'] button[type=submit]")
        .await;
    b.wait_for_text("Offre enregistrée.").await;
    let offered: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM subscriptions WHERE member_id = $1 AND teleservice_code = 'petite-enfance'
           AND starts_on = '2027-01-01' AND ends_on IS NULL",
    )
    .bind(rixheim)
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(offered, 1);

    // A new period with its key, then a cost.
    b.goto(&format!("{g}/registre/periodes")).await;
    b.wait_for_text("Ouvrir une période").await;
    check_page(&b, "periodes").await;
    b.type_into("#per-code", "2027").await;
    set_date(&b, "per-debut", "2027-01-01").await;
    set_date(&b, "per-fin", "2027-12-31").await;
    choose(&b, "#per-source", "insee-2027").await;
    b.click("form[action='/registre/periodes'] button[type=submit]")
        .await;
    b.wait_for_text("Période ouverte avec sa clé").await;
    let (ends_on, source): (chrono::NaiveDate, String) =
        sqlx::query_as("SELECT ends_on, population_source FROM cost_periods WHERE code = '2027'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert_eq!(
        (ends_on, source.as_str()),
        (chrono::NaiveDate::from_ymd_opt(2028, 1, 1).unwrap(), "insee-2027")
    );
    b.type_into("#c-libelle", "Socle de base 2027").await;
    b.type_into("#c-montant", "12 000,00").await;
    b.click("form[action='/registre/periodes/2027/couts'] button[type=submit]")
        .await;
    b.wait_for_text("Coût ajouté.").await;
    check_page(&b, "periode-2027").await;
    // A module must name a mutualisable téléservice: the error is told next to the field.
    choose(&b, "#c-cat", "module").await;
    b.type_into("#c-libelle", "Module sans service").await;
    b.type_into("#c-montant", "10").await;
    b.click("form[action='/registre/periodes/2027/couts'] button[type=submit]")
        .await;
    b.wait_for_text("Ce coût doit désigner le téléservice qu'il finance.")
        .await;
    check_page_at(&b, "periode-2027-erreur", Some("err-c-service")).await;
    let costs: Vec<(String, i64)> =
        sqlx::query_as("SELECT label, amount_cents FROM period_costs WHERE period_code = '2027'")
            .fetch_all(&s.pool)
            .await
            .unwrap();
    assert_eq!(costs, vec![("Socle de base 2027".to_string(), 1_200_000)]);

    // Orders: one withdrawn, and the total committed drops by its amount.
    let before = committed(&s.pool).await;
    let (order, reference, amount): (Uuid, String, i64) = sqlx::query_as(
        "SELECT id, reference, amount_cents FROM purchase_orders WHERE status IN ('announced', 'issued')
         ORDER BY reference LIMIT 1",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    b.goto(&format!("{g}/registre/commandes")).await;
    b.wait_for_text("Annoncer un bon de commande").await;
    check_page(&b, "commandes").await;
    assert_eq!(engaged(&b).await, format!("{} HT", euros(before)));
    b.click(&format!(
        "form[action='/registre/commandes/{order}/retrait'] button"
    ))
    .await;
    b.wait_for_text("Bon de commande retiré").await;
    assert_eq!(committed(&s.pool).await, before - amount);
    assert_eq!(engaged(&b).await, format!("{} HT", euros(before - amount)));
    let status: String = sqlx::query_scalar("SELECT status FROM purchase_orders WHERE id = $1")
        .bind(order)
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(status, "withdrawn");
    let row = b
        .script(
            "return [...document.querySelectorAll('tbody tr')].find(r => r.querySelector('th')?.innerText === arguments[0]).innerText;",
            json!([reference]),
        )
        .await;
    assert!(row.as_str().unwrap().contains("Retiré"), "{row}");
    check_page_at(&b, "commandes-apres-retrait", Some("engage")).await;
    // An order announced from the page, then issued: it counts in the total.
    b.type_into("#o-montant", "1 000,00").await;
    b.type_into("#o-objet", "Formulaires papier").await;
    choose(&b, "#o-membre", &rixheim.to_string()).await;
    b.click("form[action='/registre/commandes'] button[type=submit]")
        .await;
    b.wait_for_text("Bon de commande annoncé").await;
    assert_eq!(committed(&s.pool).await, before - amount + 100_000);
    assert_eq!(
        engaged(&b).await,
        format!("{} HT", euros(before - amount + 100_000))
    );
    let (new_order, new_status): (Uuid, String) = sqlx::query_as(
        "SELECT id, status FROM purchase_orders WHERE label = 'Formulaires papier' AND member_id = $1",
    )
    .bind(rixheim)
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(new_status, "announced");
    b.click(&format!(
        "form[action='/registre/commandes/{new_order}/emission'] button"
    ))
    .await;
    b.wait_for_text("Bon de commande émis.").await;
    let issued: String = sqlx::query_scalar("SELECT status FROM purchase_orders WHERE id = $1")
        .bind(new_order)
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(issued, "issued");
    // Past the agreement's maximum: refused, the error next to the amount.
    b.type_into("#o-montant", "99 999 999,00").await;
    choose(&b, "#o-membre", &rixheim.to_string()).await;
    b.click("form[action='/registre/commandes'] button[type=submit]")
        .await;
    b.wait_for_text("dépasserait le maximum de l'accord-cadre").await;
    check_page_at(&b, "commandes-plafond", Some("err-o-montant")).await;

    // The split of the demo period, as the API computes it.
    let api: Value = reqwest::get(format!("{g}/api/v1/allocations?period=2026"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    b.goto(&format!("{g}/registre/repartition?periode=2026")).await;
    let text = b.wait_for_text("Répartition des coûts de la période 2026").await;
    let total = api["allocation"]["total_cents"].as_i64().unwrap();
    assert!(
        text.contains(&format!(
            "Répartition de {} HT entre {} membres",
            euros(total),
            api["allocation"]["lines"].as_array().unwrap().len()
        )),
        "{text}"
    );
    for line in api["allocation"]["lines"].as_array().unwrap() {
        let name = line["name"].as_str().unwrap();
        let cells = b
            .script(
                "return [...document.querySelectorAll('tbody tr')].find(r => r.querySelector('th').innerText === arguments[0]).innerText;",
                json!([name]),
            )
            .await;
        let cells = cells.as_str().unwrap();
        assert!(
            cells.ends_with(&euros(line["total_cents"].as_i64().unwrap())),
            "{name}: {cells}"
        );
    }
    check_page_at(&b, "repartition-2026", Some("parts")).await;
    // The new period splits its one cost.
    b.goto(&format!("{g}/registre/repartition?periode=2027")).await;
    b.wait_for_text(&format!("Répartition de {} HT", euros(1_200_000)))
        .await;
    check_page_at(&b, "repartition-2027", Some("parts")).await;

    // A form posted from elsewhere, with the session's cookie but not its CSRF token: refused.
    let session = b
        .cookies()
        .await
        .into_iter()
        .find(|(k, _)| k == "rdv_staff")
        .expect("session cookie")
        .1;
    let forged = no_redirects()
        .post(format!("{g}/registre/teleservices"))
        .header("cookie", format!("rdv_staff={session}"))
        .form(&[
            ("csrf", "0".repeat(64).as_str()),
            ("code", "forge"),
            ("name", "Forgé"),
            ("owner_id", &mulhouse.to_string()),
            ("kind", "specific"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let withdraw_forged = no_redirects()
        .post(format!("{g}/registre/commandes/{order}/retrait"))
        .header("cookie", format!("rdv_staff={session}"))
        .form(&[("csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(withdraw_forged.status(), 403);
    let forged_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM teleservices WHERE code = 'forge'")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(forged_rows, 0);

    // The logout button of the registry's pages ends booking-service's session.
    b.goto(&format!("{g}/registre")).await;
    b.click("form[action='/agents/deconnexion'] button").await;
    b.wait_for_text("Mot de passe").await;
    b.goto(&format!("{g}/registre/commandes")).await;
    assert!(b.url().await.ends_with("/agents/connexion"), "{}", b.url().await);
}

#[sqlx::test(migrations = "../migrations")]
async fn only_a_platform_administrator_may_open_the_registry_pages(pool: PgPool) {
    let s = stack(pool).await;
    let g = &s.gateway;
    let client = no_redirects();
    // No session: to the login page, for a page and for a form.
    let r = client
        .get(format!("{g}/registre/commandes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/agents/connexion");
    let r = client
        .post(format!("{g}/registre/commandes"))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // An expired or made-up session: the same.
    let r = client
        .get(format!("{g}/registre"))
        .header("cookie", "rdv_staff=not-a-session")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // A commune administrator: refused on every page, as a page.
    let token = s.app.staff_token("admin@rixheim.fr").await;
    for path in [
        "/registre",
        "/registre/teleservices",
        "/registre/offres",
        "/registre/membres",
        "/registre/periodes",
        "/registre/periodes/2026",
        "/registre/commandes",
        "/registre/repartition",
    ] {
        let r = client
            .get(format!("{g}{path}"))
            .header("cookie", format!("rdv_staff={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
        assert!(r
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let body = r.text().await.unwrap();
        assert!(
            body.contains("Réservé aux administrateurs de la plateforme"),
            "{path}: {body}"
        );
    }
    // …and on a form even with the right CSRF token: the role is checked first.
    let order: Uuid = sqlx::query_scalar("SELECT id FROM purchase_orders WHERE status = 'announced' LIMIT 1")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    let r = client
        .post(format!("{g}/registre/commandes/{order}/retrait"))
        .header("cookie", format!("rdv_staff={token}"))
        .form(&[(
            "csrf",
            booking_service::request::staff_session::csrf_token(&token),
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let status: String = sqlx::query_scalar("SELECT status FROM purchase_orders WHERE id = $1")
        .bind(order)
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(status, "announced");
    // The platform administrator with the session's token may.
    let platform = s.app.staff_token("plateforme@m2a.fr").await;
    let r = client
        .post(format!("{g}/registre/commandes/{order}/retrait"))
        .header("cookie", format!("rdv_staff={platform}"))
        .form(&[(
            "csrf",
            booking_service::request::staff_session::csrf_token(&platform),
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/registre/commandes?fait=retire");
}

/// `(status, error code)` of a JSON answer (`""` when it has none).
async fn call(method: &str, url: &str, body: Option<Value>, bearer: bool) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(method.parse().unwrap(), url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    if bearer {
        req = req.bearer_auth("admin-token");
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[sqlx::test(migrations = "../migrations")]
async fn the_registry_data_entry_api_needs_the_bearer_and_refuses_bad_input_in_json(pool: PgPool) {
    let s = stack(pool).await;
    let g = &s.gateway;
    let mulhouse = member_id(&s.pool, "68224").await;
    let rixheim = member_id(&s.pool, "68278").await;

    // Withdraw an order.
    let (order, amount): (Uuid, i64) =
        sqlx::query_as("SELECT id, amount_cents FROM purchase_orders WHERE status = 'issued' LIMIT 1")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    let url = format!("{g}/api/v1/orders/{order}/withdraw");
    let (st, body) = call("POST", &url, None, false).await;
    assert_eq!((st, code(&body)), (401, "unauthorized"));
    let (_, before) = call("GET", &format!("{g}/api/v1/orders"), None, false).await;
    assert_eq!(call("POST", &url, None, true).await.0, 200);
    let (_, after) = call("GET", &format!("{g}/api/v1/orders"), None, false).await;
    assert_eq!(
        after["committed_cents"].as_i64().unwrap(),
        before["committed_cents"].as_i64().unwrap() - amount
    );
    let listed = after["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == order.to_string())
        .unwrap();
    assert_eq!(listed["status"], "withdrawn");
    let (st, body) = call("POST", &url, None, true).await;
    assert_eq!((st, code(&body)), (409, "already_withdrawn"));
    let (st, body) = call(
        "POST",
        &format!("{g}/api/v1/orders/{}/withdraw", Uuid::new_v4()),
        None,
        true,
    )
    .await;
    assert_eq!((st, code(&body)), (404, "order_not_found"));
    let (st, body) = call(
        "POST",
        &format!("{g}/api/v1/orders/pas-un-id/withdraw"),
        None,
        true,
    )
    .await;
    assert_eq!(st, 400, "{body}");
    assert!(!code(&body).is_empty());
    // A withdrawn order cannot be issued.
    let (st, body) = call("POST", &format!("{g}/api/v1/orders/{order}/issue"), None, true).await;
    assert_eq!((st, code(&body)), (409, "not_announced"));

    // Populations of a new source.
    let url = format!("{g}/api/v1/populations");
    let good = json!({"source": "insee-2027", "figures": [
        {"member_id": mulhouse, "municipale": 110000, "totale": 111500},
        {"member_id": rixheim, "municipale": 14000, "totale": 14100}]});
    let (st, body) = call("POST", &url, Some(good.clone()), false).await;
    assert_eq!((st, code(&body)), (401, "unauthorized"));
    for (bad, status, expected) in [
        (
            json!({"source": "x", "figures": [{"member_id": mulhouse, "municipale": -1, "totale": 5}]}),
            422,
            "invalid_population",
        ),
        (
            json!({"source": "x", "figures": [{"member_id": mulhouse, "municipale": 10, "totale": 5}]}),
            422,
            "invalid_population",
        ),
        (
            json!({"source": "x", "figures": [{"member_id": mulhouse, "municipale": 99_999_999_999i64, "totale": 99_999_999_999i64}]}),
            422,
            "invalid_population",
        ),
        (
            json!({"source": "x", "figures": [{"member_id": Uuid::new_v4(), "municipale": 1, "totale": 1}]}),
            422,
            "unknown_member",
        ),
        (
            json!({"source": "x", "figures": [{"member_id": mulhouse, "municipale": 1, "totale": 1},
                                              {"member_id": mulhouse, "municipale": 2, "totale": 2}]}),
            422,
            "duplicate_member",
        ),
        (json!({"source": "x", "figures": []}), 422, "no_figures"),
        (
            json!({"source": "  ", "figures": [{"member_id": mulhouse, "municipale": 1, "totale": 1}]}),
            422,
            "invalid_field",
        ),
        (json!({"source": "x"}), 422, "invalid_body"),
    ] {
        let (st, body) = call("POST", &url, Some(bad.clone()), true).await;
        assert_eq!((st, code(&body)), (status, expected), "{bad}: {body}");
    }
    let (st, body) = call("POST", &url, Some(good.clone()), true).await;
    assert_eq!((st, &body["members"]), (201, &json!(2)), "{body}");
    let (st, body) = call("POST", &url, Some(good), true).await;
    assert_eq!((st, code(&body)), (409, "source_exists"));
    assert_eq!(body["error"]["field"], "source");

    // Periods.
    let url = format!("{g}/api/v1/periods");
    let (st, list) = call("GET", &url, None, false).await;
    assert_eq!(st, 200);
    assert!(
        list.as_array().unwrap().iter().any(|p| p["code"] == "2026"),
        "{list}"
    );
    let period = |code: &str| {
        json!({"code": code, "starts_on": "2027-01-01", "ends_on": "2028-01-01", "population_source": "insee-2027",
               "alpha_permille": 600, "combination": "product",
               "costs": [{"category": "socle", "label": "Socle", "amount_cents": 1_000_000},
                         {"category": "material", "label": "Courriers", "amount_cents": 5_000}]})
    };
    let (st, body) = call("POST", &url, Some(period("2027")), false).await;
    assert_eq!((st, code(&body)), (401, "unauthorized"));
    let with = |changes: Value| {
        let mut p = period("2027");
        for (k, v) in changes.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    for (bad, expected, field) in [
        (with(json!({"code": "20 27"})), "invalid_code", "code"),
        (with(json!({"ends_on": "2026-06-01"})), "invalid_dates", "ends_on"),
        (
            with(json!({"starts_on": "1000-01-01"})),
            "invalid_dates",
            "starts_on",
        ),
        (
            with(json!({"alpha_permille": 1001})),
            "invalid_key",
            "alpha_permille",
        ),
        (
            with(json!({"combination": "average"})),
            "invalid_key",
            "combination",
        ),
        (
            with(json!({"population_source": "nulle-part"})),
            "unknown_population_source",
            "population_source",
        ),
        (
            with(
                json!({"costs": [{"category": "module", "teleservice_code": "service-des-eaux", "label": "M", "amount_cents": 5}]}),
            ),
            "teleservice_kind",
            "teleservice_code",
        ),
        (
            with(
                json!({"costs": [{"category": "socle", "teleservice_code": "etat-civil", "label": "S", "amount_cents": 5}]}),
            ),
            "unexpected_teleservice",
            "teleservice_code",
        ),
        (
            with(json!({"costs": [{"category": "socle", "label": "S", "amount_cents": -5}]})),
            "invalid_amount",
            "amount_cents",
        ),
        (
            with(json!({"costs": [{"category": "autre", "label": "S", "amount_cents": 5}]})),
            "invalid_category",
            "category",
        ),
    ] {
        let (st, body) = call("POST", &url, Some(bad.clone()), true).await;
        assert_eq!(
            (st, code(&body), body["error"]["field"].as_str()),
            (422, expected, Some(field)),
            "{bad}: {body}"
        );
    }
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM cost_periods WHERE code = '2027'")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(none, 0, "a refused period leaves nothing");
    assert_eq!(call("POST", &url, Some(period("2027")), true).await.0, 201);
    let (st, body) = call("POST", &url, Some(period("2027")), true).await;
    assert_eq!((st, code(&body)), (409, "period_exists"));
    // The new period splits under the key it was given.
    let (st, split) = call("GET", &format!("{g}/api/v1/allocations?period=2027"), None, false).await;
    assert_eq!(st, 200, "{split}");
    assert_eq!(split["allocation"]["total_cents"], 1_005_000);
    assert_eq!(
        (
            &split["period"]["alpha_permille"],
            &split["period"]["combination"],
            &split["period"]["population_source"]
        ),
        (&json!(600), &json!("product"), &json!("insee-2027"))
    );

    // Costs of a period.
    let url = format!("{g}/api/v1/periods/2027/costs");
    let cost = json!({"category": "hebergement", "label": "Hébergement 2027", "amount_cents": 250_000});
    let (st, body) = call("POST", &url, Some(cost.clone()), false).await;
    assert_eq!((st, code(&body)), (401, "unauthorized"));
    assert_eq!(call("POST", &url, Some(cost.clone()), true).await.0, 201);
    let (st, costs) = call("GET", &url, None, false).await;
    assert_eq!(st, 200);
    assert_eq!(costs["total_cents"], 1_255_000);
    assert_eq!(costs["costs"].as_array().unwrap().len(), 3);
    let (st, body) = call(
        "POST",
        &format!("{g}/api/v1/periods/1999/costs"),
        Some(cost.clone()),
        true,
    )
    .await;
    assert_eq!((st, code(&body)), (404, "period_not_found"));
    let (st, body) = call(
        "POST",
        &url,
        Some(json!({"category": "specific", "label": "X", "amount_cents": 1})),
        true,
    )
    .await;
    assert_eq!((st, code(&body)), (422, "missing_teleservice"));
    let (st, body) = call("POST", &url, Some(json!({"category": "socle"})), true).await;
    assert_eq!((st, code(&body)), (422, "invalid_body"));
    // A closed period's costs never change.
    sqlx::query("UPDATE cost_periods SET closed = true WHERE code = '2027'")
        .execute(&s.pool)
        .await
        .unwrap();
    let (st, body) = call("POST", &url, Some(cost), true).await;
    assert_eq!((st, code(&body)), (409, "period_closed"));
}

#[sqlx::test(migrations = "../migrations")]
async fn under_its_restricted_role_the_registry_says_its_pages_are_unavailable(pool: PgPool) {
    let s = stack(pool.clone()).await;
    // The registry as production may run it: every connection under `rdv_registry`, which may
    // not read staff sessions (migration 0013).
    let restricted = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET ROLE rdv_registry").execute(conn).await?;
                Ok(())
            })
        })
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap();
    let now = paris(2026, 11, 30, 10, 0, 0);
    let state = RegistryState::new(
        restricted,
        RegistryConfig::for_tests(),
        Arc::new(ManualClock::new(now)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        registry::http::run(listener, state, std::future::pending())
            .await
            .unwrap()
    });
    let token = s.app.staff_token("plateforme@m2a.fr").await;
    let r = no_redirects()
        .get(format!("{base}/registre/commandes"))
        .header("cookie", format!("rdv_staff={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("ne peut pas lire les sessions des agents"),
        "{body}"
    );
    // Its API still works under that role.
    let (st, orders) = call("GET", &format!("{base}/api/v1/orders"), None, false).await;
    assert_eq!(st, 200, "{orders}");
    assert!(!orders["orders"].as_array().unwrap().is_empty());
}
