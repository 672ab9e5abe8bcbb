//! Bad input always gets a clear 4xx JSON error, never a 5xx; the OpenAPI document lists every route.

use e2e_tests::{hm, paris, SiteBuilder, TestApp};
use sqlx::PgPool;

#[sqlx::test(migrations = "../migrations")]
async fn malformed_queries_and_paths_get_json_4xx_with_stable_codes(pool: PgPool) {
    let site = SiteBuilder {
        max_persons: 3,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(12, 0))])
    .create(&pool)
    .await;
    let app = TestApp::spawn(pool, paris(2026, 11, 30, 7, 0, 0)).await;
    let s = site.id;
    let cases: Vec<(String, u16, &str)> = vec![
        (
            format!("/api/v1/sites/{s}/availability?motif=VISA"),
            400,
            "unknown_motif",
        ),
        (
            format!("/api/v1/sites/{s}/availability?persons=0"),
            422,
            "invalid_persons",
        ),
        (
            format!("/api/v1/sites/{s}/availability?persons=-1"),
            422,
            "invalid_persons",
        ),
        (
            format!("/api/v1/sites/{s}/availability?persons=4"),
            422,
            "too_many_persons",
        ),
        (
            format!("/api/v1/sites/{s}/availability?persons=99999999999999"),
            400,
            "invalid_persons",
        ),
        (
            format!("/api/v1/sites/{s}/availability?persons=deux"),
            400,
            "invalid_persons",
        ),
        (
            format!("/api/v1/sites/{s}/availability?from=2026-12-10&to=2026-12-01"),
            400,
            "invalid_range",
        ),
        (
            format!("/api/v1/sites/{s}/availability?from=2026-12-01&to=2027-06-01"),
            400,
            "range_too_long",
        ),
        (
            format!("/api/v1/sites/{s}/availability?from=9999-12-01&to=9999-12-02"),
            400,
            "date_out_of_range",
        ),
        (
            format!("/api/v1/sites/{s}/availability?from=0001-01-01&to=0001-01-02"),
            400,
            "date_out_of_range",
        ),
        (
            format!("/api/v1/sites/{s}/availability?from=2026-13-01"),
            400,
            "invalid_date",
        ),
        (
            format!("/api/v1/sites/{s}/availability?from=demain"),
            400,
            "invalid_date",
        ),
        (
            "/api/v1/sites/not-a-uuid/availability".to_string(),
            400,
            "invalid_id",
        ),
        (
            "/api/v1/sites/00000000-0000-0000-0000-000000000000/availability".to_string(),
            404,
            "site_not_found",
        ),
        (
            "/api/v1/sites/00000000-0000-0000-0000-000000000000".to_string(),
            404,
            "site_not_found",
        ),
        ("/api/v1/sites/%FF%FE".to_string(), 400, "invalid_path"),
        ("/api/v1/sites?near=abc".to_string(), 400, "invalid_near"),
        (
            "/api/v1/sites?near=47.7,7.3&radius_km=-2".to_string(),
            400,
            "invalid_radius",
        ),
        (
            "/api/v1/sites?radius_km=5".to_string(),
            400,
            "radius_without_near",
        ),
        ("/api/v1/sites?commune=ABC".to_string(), 400, "invalid_commune"),
        ("/api/v1/sites?postcode=6817".to_string(), 400, "invalid_postcode"),
        (
            "/api/v1/communes?department=999".to_string(),
            400,
            "invalid_department",
        ),
        (
            format!("/api/v1/communes?q={}", "x".repeat(200)),
            400,
            "invalid_query",
        ),
        (
            "/api/v1/availability/earliest?limit=0".to_string(),
            400,
            "invalid_limit",
        ),
        (
            "/api/v1/availability/earliest?limit=1000".to_string(),
            400,
            "invalid_limit",
        ),
        ("/api/v1/availability/earliest?motif=".to_string(), 200, ""),
        (
            "/api/v1/availability/earliest?motif=PASSEPORT".to_string(),
            400,
            "unknown_motif",
        ),
        (
            "/api/v1/availability/earliest?near_commune=ABC".to_string(),
            400,
            "invalid_commune",
        ),
        (
            "/api/v1/availability/earliest?near_commune=99999".to_string(),
            404,
            "commune_not_found",
        ),
        ("/api/v1/nothing-here".to_string(), 404, "route_not_found"),
    ];
    for (path, want_status, want_code) in cases {
        let (status, body) = app.get(&path).await;
        assert_eq!(status, want_status, "{path}: {body}");
        if want_status >= 400 {
            assert_eq!(body["error"]["code"], want_code, "{path}: {body}");
            assert!(
                body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{path}"
            );
        }
    }
    // A wrong method gets JSON too.
    let resp = app
        .client
        .delete(format!("{}/api/v1/communes", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[sqlx::test(migrations = "../migrations")]
async fn openapi_documents_exactly_the_routes_the_router_serves(pool: PgPool) {
    let app = TestApp::spawn(pool, paris(2026, 11, 30, 7, 0, 0)).await;
    let (status, doc) = app.get("/openapi.json").await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().unwrap();
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), p.clone()))
        })
        .collect();
    documented.sort();
    let mut expected: Vec<(String, String)> = [
        ("GET", "/api/v1/communes"),
        ("GET", "/api/v1/sites"),
        ("GET", "/api/v1/sites/{site_id}"),
        ("GET", "/api/v1/sites/{site_id}/availability"),
        ("GET", "/api/v1/availability/earliest"),
        ("POST", "/api/v1/holds"),
        ("DELETE", "/api/v1/holds/{hold_id}"),
        ("POST", "/api/v1/appointments"),
        ("GET", "/api/v1/manage/{token}"),
        ("POST", "/api/v1/manage/{token}/cancel"),
        ("POST", "/api/v1/manage/{token}/reschedule"),
        ("GET", "/api/v1/manage/{token}/data"),
        ("POST", "/api/v1/manage/{token}/erase"),
        ("POST", "/api/v1/manage/{token}/confirm"),
        ("POST", "/api/v1/waitlist"),
        ("GET", "/api/v1/waitlist/{token}"),
        ("DELETE", "/api/v1/waitlist/{token}"),
        ("POST", "/api/v1/waitlist/{token}/accept"),
        ("GET", "/api/ants/getManagedMeetingPoints"),
        ("GET", "/api/ants/availableTimeSlots"),
        ("GET", "/api/ants/searchApplicationIds"),
        ("GET", "/reserver"),
        ("POST", "/reserver"),
        ("GET", "/"),
        ("GET", "/recherche"),
        ("GET", "/lieux/{site_id}"),
        ("GET", "/reserver/formulaire/{hold}"),
        ("POST", "/reserver/confirmer"),
        ("GET", "/rdv/{token}"),
        ("GET", "/rdv/{token}/deplacer"),
        ("GET", "/rdv/{token}/calendrier.ics"),
        ("GET", "/rdv/{token}/annuler"),
        ("POST", "/rdv/{token}/annuler"),
        ("GET", "/rdv/{token}/donnees"),
        ("GET", "/rdv/{token}/effacer"),
        ("POST", "/rdv/{token}/effacer"),
        ("GET", "/rdv/{token}/confirmer"),
        ("POST", "/rdv/{token}/confirmer"),
        ("GET", "/liste-attente"),
        ("POST", "/liste-attente"),
        ("GET", "/liste-attente/{token}"),
        ("POST", "/liste-attente/{token}/accepter"),
        ("POST", "/liste-attente/{token}/quitter"),
        ("GET", "/confidentialite"),
        ("GET", "/mentions-legales"),
        ("GET", "/accessibilite"),
        ("GET", "/static/site.css"),
        ("GET", "/static/near-me.js"),
        ("POST", "/api/v1/sms/replies"),
        ("GET", "/agents/connexion"),
        ("POST", "/agents/connexion"),
        ("GET", "/agents"),
        ("GET", "/agents/lieux/{site_id}"),
        ("POST", "/agents/rendez-vous/{appointment_id}/statut"),
        ("POST", "/agents/lieux/{site_id}/fermeture"),
        ("POST", "/agents/lieux/{site_id}/panne"),
        ("POST", "/agents/deconnexion"),
        ("GET", "/agents/mot-de-passe-oublie"),
        ("POST", "/agents/mot-de-passe-oublie"),
        ("GET", "/agents/mot-de-passe/{token}"),
        ("POST", "/agents/mot-de-passe/nouveau"),
        ("GET", "/agents/mot-de-passe"),
        ("POST", "/agents/mot-de-passe"),
        ("POST", "/api/v1/staff/login"),
        ("POST", "/api/v1/staff/logout"),
        ("GET", "/api/v1/staff/me"),
        ("POST", "/api/v1/staff/password"),
        ("GET", "/api/v1/staff/sites"),
        ("GET", "/api/v1/staff/sites/{site_id}/agenda"),
        ("GET", "/api/v1/staff/appointments"),
        ("GET", "/api/v1/staff/sites/{site_id}/export"),
        ("POST", "/api/v1/staff/appointments/{appointment_id}/status"),
        ("POST", "/api/v1/staff/sites/{site_id}/appointments"),
        ("GET", "/api/v1/staff/sites/{site_id}/calendar"),
        ("POST", "/api/v1/staff/sites/{site_id}/rules"),
        ("PUT", "/api/v1/staff/rules/{rule_id}"),
        ("DELETE", "/api/v1/staff/rules/{rule_id}"),
        ("POST", "/api/v1/staff/sites/{site_id}/closures"),
        ("PUT", "/api/v1/staff/sites/{site_id}/policy"),
        ("POST", "/api/v1/staff/sites/{site_id}/release-events"),
        ("POST", "/api/v1/staff/stations/{station_id}/breakdown"),
        ("GET", "/api/v1/staff/sites/{site_id}/stats"),
        ("GET", "/api/v1/staff/accounts"),
        ("POST", "/api/v1/staff/accounts"),
        ("PATCH", "/api/v1/staff/accounts/{account_id}"),
        ("POST", "/api/v1/staff/password-reset"),
        ("POST", "/api/v1/staff/password-reset/confirm"),
        ("GET", "/api/v1/staff/audit"),
        ("GET", "/api/v1/staff/outbox/failures"),
        ("POST", "/api/v1/staff/outbox/{id}/retry"),
        ("POST", "/api/v1/staff/accounts/{account_id}/password-reset"),
        ("GET", "/api/v1/staff/sites/{site_id}/statistics"),
        ("GET", "/agents/comptes"),
        ("POST", "/agents/comptes"),
        ("POST", "/agents/comptes/{account_id}"),
        ("GET", "/agents/journal"),
        ("GET", "/agents/courriels-en-echec"),
        ("POST", "/agents/courriels-en-echec/{id}/renvoyer"),
        ("GET", "/agents/lieux/{site_id}/export"),
        ("GET", "/agents/lieux/{site_id}/export.csv"),
        ("GET", "/agents/lieux/{site_id}/statistiques"),
        ("GET", "/agents/lieux/{site_id}/guichet"),
        ("POST", "/agents/lieux/{site_id}/guichet"),
        ("GET", "/agents/lieux/{site_id}/guichet/creneau"),
        ("GET", "/agents/lieux/{site_id}/flux"),
        ("POST", "/agents/lieux/{site_id}/flux"),
        ("GET", "/agents/flux/{file}"),
        ("GET", "/api/v1/staff/sites/{site_id}/feed"),
        ("POST", "/api/v1/staff/sites/{site_id}/feed"),
        ("POST", "/api/v1/staff/sites/{site_id}/stations/{station_id}/feed"),
        ("GET", "/agents/rdv/{appointment_id}"),
        ("POST", "/agents/rdv/{appointment_id}/statut"),
        ("POST", "/agents/rdv/{appointment_id}/coordonnees"),
        ("GET", "/agents/rdv/{appointment_id}/deplacer"),
        ("POST", "/agents/rdv/{appointment_id}/deplacer"),
        ("GET", "/agents/recherche"),
        ("GET", "/agents/lieux/{site_id}/semaine"),
        ("GET", "/api/v1/staff/appointments/{appointment_id}"),
        ("PATCH", "/api/v1/staff/appointments/{appointment_id}"),
        ("POST", "/api/v1/staff/appointments/{appointment_id}/move"),
        (
            "POST",
            "/api/v1/staff/appointments/{appointment_id}/lift-confirmation",
        ),
        ("POST", "/agents/rdv/{appointment_id}/lever-confirmation"),
        ("GET", "/agents/lieux/{site_id}/imprimer"),
        ("GET", "/agents/plateforme/lieux"),
        ("POST", "/agents/plateforme/lieux"),
        ("POST", "/api/v1/staff/sites"),
        ("GET", "/agents/lieux/{site_id}/horaires"),
        ("POST", "/agents/lieux/{site_id}/horaires/{station_id}"),
        ("GET", "/agents/lieux/{site_id}/fermetures"),
        ("POST", "/agents/lieux/{site_id}/fermetures"),
        ("POST", "/agents/lieux/{site_id}/fermetures/{closure_id}/fin"),
        (
            "POST",
            "/agents/lieux/{site_id}/fermetures/{closure_id}/supprimer",
        ),
        ("GET", "/agents/lieux/{site_id}/politique"),
        ("POST", "/agents/lieux/{site_id}/politique"),
        ("POST", "/agents/lieux/{site_id}/ouvertures"),
        ("GET", "/agents/lieux/{site_id}/reglages"),
        ("POST", "/agents/lieux/{site_id}/postes"),
        ("POST", "/agents/lieux/{site_id}/postes/{station_id}"),
        ("POST", "/agents/lieux/{site_id}/motifs/{motif}"),
        ("PUT", "/api/v1/staff/sites/{site_id}/stations/{station_id}/week"),
        ("PATCH", "/api/v1/staff/sites/{site_id}/closures/{closure_id}"),
        ("DELETE", "/api/v1/staff/sites/{site_id}/closures/{closure_id}"),
        ("POST", "/api/v1/staff/sites/{site_id}/stations"),
        ("PATCH", "/api/v1/staff/sites/{site_id}/stations/{station_id}"),
        ("GET", "/api/v1/staff/sites/{site_id}/motifs"),
        ("PUT", "/api/v1/staff/sites/{site_id}/motifs/{motif}"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    expected.sort();
    assert_eq!(documented, expected);
    // Every documented route is really served (not the JSON 404 of unknown routes).
    for (method, path) in documented {
        let url = format!(
            "{}{}",
            app.base,
            path.replace("{site_id}", "00000000-0000-0000-0000-000000000000")
                .replace("{hold_id}", "x")
                .replace("{appointment_id}", "x")
                .replace("{rule_id}", "x")
                .replace("{station_id}", "x")
                .replace("{token}", "x")
        );
        let resp = app
            .client
            .request(method.parse().unwrap(), url)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert!(
            !text.contains("route_not_found") && status != 405,
            "{method} {path}: {status} {text}"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn readiness_reports_redis_degraded_and_metrics_count_requests(pool: PgPool) {
    // Nothing listens on port 1: Redis is "down" for this instance.
    let app = TestApp::spawn_with(pool, paris(2026, 11, 30, 7, 0, 0), |c| {
        c.redis_url = "redis://127.0.0.1:1/0".into()
    })
    .await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(body["redis"], "degraded");
    assert_eq!(body["database"], "ok");
    let (status, body) = app.get("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, text) = app.get_text("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        text.contains("http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"),
        "{text}"
    );
    // Answer times are a histogram per route (quantiles can be computed across instances).
    assert!(
        text.contains(
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",status=\"200\",le=\"+Inf\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("# TYPE http_request_duration_seconds histogram"),
        "{text}"
    );
    // The outbox's backlog, read at scrape time: nothing waits in a fresh database.
    for line in [
        "outbox_backlog 0",
        "outbox_oldest_age_seconds 0",
        "ants_queue_backlog 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in {text}");
    }
    // A path with an identifier is counted under its pattern, never under the path itself.
    let id = uuid::Uuid::new_v4();
    app.get(&format!("/api/v1/sites/{id}")).await;
    let (_, text) = app.get_text("/metrics").await;
    assert!(!text.contains(&id.to_string()), "{text}");
    assert!(text.contains("route=\"/api/v1/sites/{site_id}\""), "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn readiness_is_503_without_postgres_and_ok_with_redis(pool: PgPool) {
    drop(pool);
    let dead = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:1/none")
        .unwrap();
    let app = TestApp::spawn(dead, paris(2026, 11, 30, 7, 0, 0)).await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body["database"], "down");
    assert_eq!(body["redis"], "ok");
    // A data route without the database is a clean 5xx JSON answer, not a hang or a panic.
    let (status, body) = app.get("/api/v1/communes").await;
    assert!(status == 503 || status == 500, "{status}");
    assert!(body["error"]["code"].is_string());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_client_sending_too_many_writes_gets_429_with_retry_after(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn_with(pool, paris(2026, 11, 30, 7, 0, 0), |c| {
        c.public_writes_per_minute = 3
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let start = format!("2026-12-02T09:{:02}:00+01:00", i * 15);
        statuses.push(app.hold(site.id, "CNI", 1, &start, "10.40.0.1").await.0);
    }
    // Two holds, the quota's 429, then the rate limit's.
    assert_eq!(statuses, vec![201, 201, 429, 429, 429]);
    let body = serde_json::json!({"site_id": site.id, "motif": "CNI", "persons": 1, "start": "2026-12-02T10:00:00+01:00"});
    let resp = app
        .client
        .post(format!("{}/api/v1/holds", app.base))
        .header("x-forwarded-for", "10.40.0.1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    let b: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(b["error"]["code"], "rate_limited");
    // Another client is not affected.
    assert_eq!(
        app.hold(site.id, "CNI", 1, "2026-12-02T10:00:00+01:00", "10.40.0.2")
            .await
            .0,
        201
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn beyond_the_in_flight_bound_requests_get_a_quick_503_never_a_hang(pool: PgPool) {
    let site = SiteBuilder {
        stations: 3,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(12, 0))])
    .create(&pool)
    .await;
    let app = TestApp::spawn_with(pool, paris(2026, 11, 30, 7, 0, 0), |c| c.max_in_flight = 1).await;
    let url = format!(
        "{}/api/v1/sites/{}/availability?from=2026-12-01&to=2027-02-28",
        app.base, site.id
    );
    let answers = futures::future::join_all((0..40).map(|_| {
        let (client, url) = (&app.client, &url);
        async move {
            let r = client.get(url).send().await.unwrap();
            (r.status().as_u16(), r.headers().contains_key("retry-after"))
        }
    }))
    .await;
    assert!(answers.iter().all(|(s, _)| *s == 200 || *s == 503), "{answers:?}");
    assert!(answers.iter().any(|(s, _)| *s == 200));
    assert!(
        answers.iter().any(|(s, retry)| *s == 503 && *retry),
        "nothing was shed: {answers:?}"
    );
}

/// Every documented route, as a citizen and as a platform administrator, is sent hostile values
/// in every path segment, query parameter and body field: dates of year ±262143, a NUL byte, a
/// huge integer, a malformed token, and a 10 MB body. Nothing may answer 5xx.
#[sqlx::test(migrations = "../migrations")]
async fn hostile_values_in_every_field_of_every_route_get_4xx_never_5xx(pool: PgPool) {
    booking_service::db::seed::seed_demo(&pool).await.unwrap();
    booking_service::staff::accounts::create_account(
        &pool,
        "admin@m2a.fr",
        e2e_tests::STAFF_PASSWORD,
        "Admin",
        booking_service::staff::Role::PlatformAdmin,
        None,
    )
    .await
    .unwrap();
    let app = TestApp::spawn(pool, paris(2026, 11, 30, 7, 0, 0)).await;
    let admin = app.staff_token("admin@m2a.fr").await;
    let (_, doc) = app.get("/openapi.json").await;
    let sweep = e2e_tests::hostile::sweep(
        &app.client,
        &app.base,
        &doc,
        &[
            ("authorization", format!("Bearer {admin}")),
            ("cookie", format!("rdv_staff={admin}")),
        ],
        // Would end the session the rest of the sweep uses.
        &["/api/v1/staff/logout"],
    )
    .await;
    assert!(sweep.sent > 500, "only {} requests", sweep.sent);
    assert!(
        sweep.failures.is_empty(),
        "{} of {} answered 5xx:\n{}",
        sweep.failures.len(),
        sweep.sent,
        sweep.failures.join("\n")
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn answers_carry_the_security_headers_and_hsts_only_over_https(pool: PgPool) {
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let header = |r: &reqwest::Response, n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    for path in [
        "/",
        "/recherche?q=mulhouse",
        "/agents/connexion",
        "/api/v1/communes",
        "/no/such/page",
    ] {
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&r, "referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header(&r, "cache-control"), "no-store", "{path}");
        assert_eq!(
            header(&r, "strict-transport-security"),
            "",
            "{path}: no HSTS over plain HTTP"
        );
        let html = header(&r, "content-type").starts_with("text/html");
        assert_eq!(
            header(&r, "content-security-policy").contains("frame-ancestors 'none'"),
            html,
            "{path}"
        );
    }
    // The stylesheet keeps its own caching.
    let r = app
        .client
        .get(format!("{}/static/site.css", app.base))
        .send()
        .await
        .unwrap();
    assert!(header(&r, "cache-control").starts_with("public"));
    let https = TestApp::spawn_with(pool, paris(2026, 11, 30, 7, 0, 0), |c| {
        c.public_base_url = Some("https://rdv.example.fr".into());
    })
    .await;
    let r = https.client.get(format!("{}/", https.base)).send().await.unwrap();
    assert!(header(&r, "strict-transport-security").starts_with("max-age="));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_page_of_another_site_cannot_make_a_browser_hold_book_or_cancel(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(11, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let form = [
        ("site_id", site.id.to_string()),
        ("motif", "CNI".to_string()),
        ("persons", "1".to_string()),
        ("start", "2026-12-02T09:00:00+01:00".to_string()),
    ];
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |headers: Vec<(&'static str, String)>| {
        let mut req = no_redirect.post(format!("{}/reserver", app.base)).form(&form);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    for forged in [
        vec![("sec-fetch-site", "cross-site".to_string())],
        vec![("sec-fetch-site", "same-site".to_string())],
        vec![("origin", "https://pieges.example".to_string())],
        vec![("origin", "null".to_string())],
    ] {
        let resp = post(forged.clone()).await.unwrap();
        assert_eq!(resp.status().as_u16(), 403, "{forged:?}");
    }
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(held, 0);
    // The service's own pages (and clients that are not browsers) go through.
    let host = app.base.trim_start_matches("http://").to_string();
    // (The first holds the slot and goes on to the form; the next ones find it held: either way
    // the request was let through.)
    for (i, own) in [
        vec![("sec-fetch-site", "same-origin".to_string())],
        vec![("origin", format!("http://{host}"))],
        vec![],
    ]
    .into_iter()
    .enumerate()
    {
        let status = post(own.clone()).await.unwrap().status().as_u16();
        let expected = if i == 0 { 303 } else { 409 };
        assert_eq!(status, expected, "{own:?}");
    }
}
