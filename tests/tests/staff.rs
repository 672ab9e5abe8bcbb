//! The staff API: authentication, roles and commune isolation on every route, lockout and sessions,
//! counter bookings, status changes, CSV export and the audit log.

use booking_service::staff::{accounts, Role};
use e2e_tests::{email, numbers, paris, TestApp, STAFF_PASSWORD};
use serde_json::{json, Value};
use sqlx::PgPool;

const PASSWORD: &str = STAFF_PASSWORD;

async fn login(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    app.staff_login(email, password, "10.20.0.1").await
}

async fn token(app: &TestApp, email: &str) -> String {
    app.staff_token(email).await
}

async fn call(app: &TestApp, method: &str, path: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
    app.call(method, path, body, token).await
}

async fn site_of(pool: &PgPool, insee: &str) -> String {
    // The site with the most stations (Mulhouse's Hôtel de Ville has three).
    sqlx::query_scalar(
        "SELECT s.id::text FROM sites s WHERE commune_insee = $1
         ORDER BY (SELECT count(*) FROM stations st WHERE st.site_id = s.id) DESC, name LIMIT 1",
    )
    .bind(insee)
    .fetch_one(pool)
    .await
    .unwrap()
}

struct World {
    app: TestApp,
    site_a: String,
    site_b: String,
    appt_a: String,
    appt_b: String,
    station_a: String,
    rule_a: String,
    /// The account of Mulhouse's agent.
    account_a: String,
}

/// Mulhouse (A) and Rixheim (B), an admin and an agent in A, an agent in B, a platform admin, and
/// one appointment in each commune.
async fn world(pool: PgPool) -> World {
    booking_service::db::seed::seed_demo(&pool).await.unwrap();
    for (mail, role, commune) in [
        ("admin@m2a.fr", Role::PlatformAdmin, None),
        ("chef@mulhouse.fr", Role::CommuneAdmin, Some("68224")),
        ("agent@mulhouse.fr", Role::Agent, Some("68224")),
        ("agent@rixheim.fr", Role::Agent, Some("68278")),
    ] {
        accounts::create_account(&pool, mail, PASSWORD, "Test", role, commune)
            .await
            .unwrap();
    }
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let (site_a, site_b) = (site_of(&pool, "68224").await, site_of(&pool, "68278").await);
    let agent_a = token(&app, "agent@mulhouse.fr").await;
    let agent_b = token(&app, "agent@rixheim.fr").await;
    let book = |site: String, t: String, at: &'static str| {
        let app = &app;
        async move {
            let body = json!({"motif": "CNI", "persons": 1, "start": at, "first_name": "Éloïse", "last_name": "=cmd|' /C calc'!A0", "email": email()});
            let (s, b) = call(
                app,
                "POST",
                &format!("/api/v1/staff/sites/{site}/appointments"),
                &body,
                Some(&t),
            )
            .await;
            assert_eq!(s, 201, "{b}");
            b["id"].as_str().unwrap().to_string()
        }
    };
    let appt_a = book(site_a.clone(), agent_a, "2026-12-02T09:00:00+01:00").await;
    let appt_b = book(site_b.clone(), agent_b, "2026-12-02T09:00:00+01:00").await;
    let station_a: String =
        sqlx::query_scalar("SELECT id::text FROM stations WHERE site_id = $1::uuid ORDER BY name LIMIT 1")
            .bind(&site_a)
            .fetch_one(&pool)
            .await
            .unwrap();
    let rule_a: String = sqlx::query_scalar(
        "SELECT id::text FROM opening_rules WHERE station_id = $1::uuid ORDER BY weekday, start_time LIMIT 1",
    )
    .bind(&station_a)
    .fetch_one(&pool)
    .await
    .unwrap();
    let account_a: String =
        sqlx::query_scalar("SELECT id::text FROM staff_accounts WHERE email = 'agent@mulhouse.fr'")
            .fetch_one(&pool)
            .await
            .unwrap();
    World {
        app,
        site_a,
        site_b,
        appt_a,
        appt_b,
        station_a,
        rule_a,
        account_a,
    }
}

/// (method, path, body, expected status for the right role, admin only, concerns commune A's resource)
/// A closure id no site has.
const UNKNOWN_CLOSURE: &str = "00000000-0000-4000-8000-00000000c105";

fn routes(w: &World) -> Vec<(&'static str, String, Value, u16, bool, bool)> {
    let (a, appt, st, rule) = (&w.site_a, &w.appt_a, &w.station_a, &w.rule_a);
    vec![
        (
            "GET",
            format!("/api/v1/staff/sites/{a}/calendar"),
            Value::Null,
            200,
            false,
            true,
        ),
        (
            "POST",
            format!("/api/v1/staff/sites/{a}/rules"),
            json!({"station_id": st, "weekday": 7, "start_time": "10:00", "end_time": "11:00", "valid_from": "2026-12-01"}),
            201,
            true,
            true,
        ),
        (
            "DELETE",
            format!("/api/v1/staff/rules/{rule}"),
            Value::Null,
            200,
            true,
            true,
        ),
        (
            "POST",
            format!("/api/v1/staff/sites/{a}/closures"),
            json!({"start": "2026-12-24T08:00:00+01:00", "end": "2026-12-24T12:00:00+01:00", "reason": "Formation"}),
            200,
            true,
            true,
        ),
        (
            "PUT",
            format!("/api/v1/staff/sites/{a}/policy"),
            json!({"min_notice_minutes": 60, "horizon_days": 45, "release_time": "08:00", "cancel_deadline_minutes": 240, "slot_step_minutes": 15, "reminder_hours": 48}),
            204,
            true,
            true,
        ),
        (
            "POST",
            format!("/api/v1/staff/sites/{a}/release-events"),
            json!({"up_to": "2027-02-28", "release_at": "2026-12-15T08:00:00+01:00"}),
            201,
            true,
            true,
        ),
        // A week for the station, previewed (no `confirm`): nothing changes.
        (
            "PUT",
            format!("/api/v1/staff/sites/{a}/stations/{st}/week"),
            json!({"valid_from": "2027-01-04", "ranges": [{"weekday": 1, "start_time": "09:00", "end_time": "12:00"}]}),
            200,
            true,
            true,
        ),
        // An unknown closure of the site: the route answers, after the checks, that it has none.
        (
            "PATCH",
            format!("/api/v1/staff/sites/{a}/closures/{UNKNOWN_CLOSURE}"),
            json!({}),
            404,
            true,
            true,
        ),
        (
            "DELETE",
            format!("/api/v1/staff/sites/{a}/closures/{UNKNOWN_CLOSURE}"),
            Value::Null,
            404,
            true,
            true,
        ),
        (
            "POST",
            format!("/api/v1/staff/sites/{a}/stations"),
            json!({"name": "Poste 9"}),
            201,
            true,
            true,
        ),
        (
            "PATCH",
            format!("/api/v1/staff/sites/{a}/stations/{st}"),
            json!({"active": true}),
            200,
            true,
            true,
        ),
        (
            "GET",
            format!("/api/v1/staff/sites/{a}/motifs"),
            Value::Null,
            200,
            true,
            true,
        ),
        (
            "PUT",
            format!("/api/v1/staff/sites/{a}/motifs/CNI"),
            json!({"minutes_per_person": 20, "max_persons": 4, "what_to_bring": ""}),
            204,
            true,
            true,
        ),
        // Opening a site is for platform administrators: a commune administrator is refused.
        (
            "POST",
            "/api/v1/staff/sites".into(),
            json!({"commune_insee": "68224", "name": "Annexe", "address_line": "1 rue", "postcode": "68100", "city": "Mulhouse", "stations": 1}),
            403,
            true,
            false,
        ),
        (
            "POST",
            format!("/api/v1/staff/stations/{st}/breakdown"),
            json!({"start": "2027-02-01T08:00:00+01:00", "end": "2027-02-01T12:00:00+01:00", "reason": "Panne"}),
            200,
            false,
            true,
        ),
        (
            "GET",
            format!("/api/v1/staff/sites/{a}/stats?month=2026-12"),
            Value::Null,
            200,
            true,
            true,
        ),
        ("GET", "/api/v1/staff/me".into(), Value::Null, 200, false, false),
        (
            "POST",
            "/api/v1/staff/password".into(),
            json!({"current_password": "wrong wrong wrong", "new_password": "another long password"}),
            422,
            false,
            false,
        ),
        (
            "GET",
            "/api/v1/staff/sites".into(),
            Value::Null,
            200,
            false,
            false,
        ),
        (
            "GET",
            format!("/api/v1/staff/sites/{a}/agenda?date=2026-12-02&days=7"),
            Value::Null,
            200,
            false,
            true,
        ),
        (
            "GET",
            "/api/v1/staff/appointments?q=calc".into(),
            Value::Null,
            200,
            false,
            false,
        ),
        (
            "GET",
            format!("/api/v1/staff/sites/{a}/export?from=2026-12-01&to=2026-12-31"),
            Value::Null,
            200,
            false,
            true,
        ),
        // Before the status change below: a checked-in appointment can no longer be moved.
        (
            "GET",
            format!("/api/v1/staff/appointments/{appt}"),
            Value::Null,
            200,
            false,
            true,
        ),
        (
            "PATCH",
            format!("/api/v1/staff/appointments/{appt}"),
            json!({"phone": "+33 6 12 34 56 78"}),
            200,
            false,
            true,
        ),
        (
            "POST",
            format!("/api/v1/staff/appointments/{appt}/move"),
            json!({"start": "2026-12-02T10:00:00+01:00"}),
            200,
            false,
            true,
        ),
        (
            "POST",
            format!("/api/v1/staff/appointments/{appt}/lift-confirmation"),
            Value::Null,
            200,
            false,
            true,
        ),
        (
            "POST",
            format!("/api/v1/staff/appointments/{appt}/status"),
            json!({"status": "checked_in"}),
            200,
            false,
            true,
        ),
        (
            "POST",
            format!("/api/v1/staff/sites/{a}/appointments"),
            json!({"motif": "CNI", "persons": 1, "start": "2026-12-03T10:00:00+01:00", "first_name": "A", "last_name": "B"}),
            201,
            false,
            true,
        ),
        (
            "GET",
            format!("/api/v1/staff/sites/{a}/feed"),
            Value::Null,
            200,
            false,
            true,
        ),
        (
            "POST",
            format!("/api/v1/staff/sites/{a}/feed"),
            Value::Null,
            201,
            false,
            true,
        ),
        (
            "POST",
            format!("/api/v1/staff/sites/{a}/stations/{st}/feed"),
            Value::Null,
            201,
            false,
            true,
        ),
        (
            "GET",
            "/api/v1/staff/accounts".into(),
            Value::Null,
            200,
            true,
            false,
        ),
        (
            "POST",
            "/api/v1/staff/accounts".into(),
            json!({"email": "nouvel.agent@mulhouse.fr", "password": "a long enough password", "role": "agent"}),
            201,
            true,
            false,
        ),
        (
            "PATCH",
            format!("/api/v1/staff/accounts/{}", w.account_a),
            json!({"active": true}),
            200,
            true,
            true,
        ),
        ("GET", "/api/v1/staff/audit".into(), Value::Null, 200, true, false),
        (
            "GET",
            "/api/v1/staff/outbox/failures".into(),
            Value::Null,
            200,
            true,
            false,
        ),
        (
            "GET",
            format!(
                "/api/v1/staff/sites/{}/statistics?from=2026-11-30&to=2026-12-06",
                w.site_a
            ),
            Value::Null,
            200,
            true,
            true,
        ),
        (
            "POST",
            "/api/v1/staff/logout".into(),
            Value::Null,
            204,
            false,
            false,
        ),
    ]
}

#[sqlx::test(migrations = "../migrations")]
async fn every_staff_route_checks_login_role_and_commune(pool: PgPool) {
    let w = world(pool.clone()).await;
    let app = &w.app;
    let mut table = routes(&w);
    // A confirmation of A the notifier gave up on, to send again (agents of any commune: 403).
    let failed: i64 = sqlx::query_scalar(
        "UPDATE outbox SET status = 'failed', attempts = 8 WHERE appointment_id = $1::uuid AND kind = 'confirmation'
         RETURNING id",
    )
    .bind(&w.appt_a)
    .fetch_one(&pool)
    .await
    .unwrap();
    let retry = format!("/outbox/{failed}/retry");
    // Before the logout, which ends the admin's session.
    let at = table
        .iter()
        .position(|r| r.1.ends_with("/logout"))
        .unwrap_or(table.len());
    table.insert(
        at,
        (
            "POST",
            format!("/api/v1/staff{retry}"),
            Value::Null,
            202,
            true,
            false,
        ),
    );
    // The table covers every staff route of the OpenAPI document.
    let (_, doc) = app.get("/openapi.json").await;
    let mut documented: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        // Logging in and resetting a forgotten password are for people not logged in.
        .filter(|p| {
            p.starts_with("/api/v1/staff/") && !p.ends_with("/login") && !p.contains("/password-reset")
        })
        .cloned()
        .collect();
    documented.sort();
    let mut tested: Vec<String> = table
        .iter()
        .map(|r| {
            r.1.split('?')
                .next()
                .unwrap()
                .replace(&w.site_a, "{site_id}")
                .replace(&w.appt_a, "{appointment_id}")
                .replace(&w.station_a, "{station_id}")
                .replace(&w.rule_a, "{rule_id}")
                .replace(&w.account_a, "{account_id}")
                .replace(UNKNOWN_CLOSURE, "{closure_id}")
                .replace("/motifs/CNI", "/motifs/{motif}")
                .replace(&retry, "/outbox/{id}/retry")
        })
        .collect();
    tested.sort();
    tested.dedup();
    assert_eq!(tested, documented);
    let agent_b = token(app, "agent@rixheim.fr").await;
    let agent_a = token(app, "agent@mulhouse.fr").await;
    for (method, path, body, _, admin_only, commune_a) in &table {
        // Anonymous: 401.
        let (s, b) = call(app, method, path, body, None).await;
        assert_eq!(s, 401, "anonymous {method} {path}: {b}");
        assert_eq!(b["error"]["code"], "unauthenticated");
        let (s, _) = call(app, method, path, body, Some("garbage-token")).await;
        assert_eq!(s, 401, "bad token {method} {path}");
        if *commune_a {
            // Another commune's agent: 404, its existence not revealed.
            let (s, b) = call(app, method, path, body, Some(&agent_b)).await;
            assert_eq!(s, 404, "agent B on {method} {path}: {b}");
        }
        if *admin_only {
            // An agent of the right commune: 403.
            let (s, b) = call(app, method, path, body, Some(&agent_a)).await;
            assert_eq!(s, 403, "agent on admin route {method} {path}: {b}");
        }
    }
    // The right role: 2xx (or the route's own 4xx for the deliberately wrong password).
    let admin_a = token(app, "chef@mulhouse.fr").await;
    for (method, path, body, want, _, _) in &table {
        let (s, b) = call(app, method, path, body, Some(&admin_a)).await;
        assert_eq!(s, *want, "commune admin {method} {path}: {b}");
    }
    // Rixheim's appointment is invisible to Mulhouse's admin, visible to the platform admin.
    let admin_a = token(app, "chef@mulhouse.fr").await;
    let (s, _) = call(
        app,
        "POST",
        &format!("/api/v1/staff/appointments/{}/status", w.appt_b),
        &json!({"status": "checked_in"}),
        Some(&admin_a),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call(
        app,
        "GET",
        &format!("/api/v1/staff/sites/{}/agenda", w.site_b),
        &Value::Null,
        Some(&admin_a),
    )
    .await;
    assert_eq!(s, 404);
    let platform = token(app, "admin@m2a.fr").await;
    let (s, b) = call(
        app,
        "GET",
        &format!("/api/v1/staff/sites/{}/agenda?date=2026-12-02", w.site_b),
        &Value::Null,
        Some(&platform),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b.as_array().unwrap().len(), 1);
    // A commune admin cannot create accounts elsewhere or a platform admin.
    let (s, _) = call(
        app,
        "POST",
        "/api/v1/staff/accounts",
        &json!({"email": "x@y.fr", "password": "a long enough password", "role": "platform_admin"}),
        Some(&admin_a),
    )
    .await;
    assert_eq!(s, 403);
    // The search stays inside the commune.
    let (_, found) = call(
        app,
        "GET",
        "/api/v1/staff/appointments?q=calc",
        &Value::Null,
        Some(&admin_a),
    )
    .await;
    assert!(found
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["site_id"] == w.site_a.as_str()));
    assert!(!found.as_array().unwrap().is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn five_wrong_passwords_lock_the_login_sessions_expire_and_logout_ends_them(pool: PgPool) {
    let w = world(pool).await;
    let app = &w.app;
    for _ in 0..5 {
        let (s, b) = login(app, "agent@mulhouse.fr", "wrong password!").await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (401, Some("invalid_credentials"))
        );
    }
    // Locked for this client, even with the right password, and with the very answer a wrong
    // password or an unknown address gets: the lock tells nobody that the address exists.
    let (s, locked) = login(app, "agent@mulhouse.fr", PASSWORD).await;
    assert_eq!(s, 401, "locked even with the right password");
    let (s, unknown) = login(app, "nobody@mulhouse.fr", PASSWORD).await;
    assert_eq!((s, &locked), (401, &unknown));
    // Another client is not locked out by these guesses: nobody can lock a member out.
    let (s, _) = app.staff_login("agent@mulhouse.fr", PASSWORD, "10.20.9.9").await;
    assert_eq!(s, 200, "another client logs in");
    app.clock.advance(chrono::Duration::minutes(16));
    let t = token(app, "agent@mulhouse.fr").await;
    assert_eq!(
        call(app, "GET", "/api/v1/staff/me", &Value::Null, Some(&t))
            .await
            .0,
        200
    );
    // The cookie works too, and is HttpOnly, Secure, SameSite.
    let resp = app
        .client
        .post(format!("{}/api/v1/staff/login", app.base))
        .json(&json!({"email": "agent@mulhouse.fr", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let me = app
        .client
        .get(format!("{}/api/v1/staff/me", app.base))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200);
    // Sessions expire.
    app.clock.advance(chrono::Duration::hours(11));
    assert_eq!(
        call(app, "GET", "/api/v1/staff/me", &Value::Null, Some(&t))
            .await
            .0,
        401
    );
    // Logout ends a session at once.
    let t2 = token(app, "agent@mulhouse.fr").await;
    assert_eq!(
        call(app, "POST", "/api/v1/staff/logout", &Value::Null, Some(&t2))
            .await
            .0,
        204
    );
    assert_eq!(
        call(app, "GET", "/api/v1/staff/me", &Value::Null, Some(&t2))
            .await
            .0,
        401
    );
    // The hash, never the token, is stored.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM staff_sessions WHERE token_hash = $1")
        .bind(t2.as_bytes())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM staff_accounts WHERE email = 'agent@mulhouse.fr'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(hash.starts_with("$argon2id$"));
}

#[sqlx::test(migrations = "../migrations")]
async fn counter_bookings_waive_notice_and_horizon_but_never_overlap(pool: PgPool) {
    let w = world(pool.clone()).await;
    let app = &w.app;
    let agent = token(app, "agent@mulhouse.fr").await;
    // The Hôtel de Ville's public horizon is 60 days: mid-March 2027 is not public yet.
    let far = "2027-03-10T09:00:00+01:00";
    let (s, _) = app
        .hold(w.site_a.parse().unwrap(), "CNI", 1, far, "10.21.0.1")
        .await;
    assert_eq!(s, 422, "not offered to the public");
    let path = format!("/api/v1/staff/sites/{}/appointments", w.site_a);
    let body = |at: &str| json!({"motif": "PASSPORT", "persons": 2, "start": at, "first_name": "Jean", "last_name": "Guichet", "source": "phone"});
    let (s, first) = call(app, "POST", &path, &body(far), Some(&agent)).await;
    assert_eq!(s, 201, "{first}");
    // Within the minimum notice, too (it is 07:00; the counter books 09:00 today... a Monday).
    let (s, b) = call(
        app,
        "POST",
        &path,
        &body("2026-11-30T09:00:00+01:00"),
        Some(&agent),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    // Three stations; the 4th booking at the same time overlaps: 409.
    for _ in 0..2 {
        assert_eq!(call(app, "POST", &path, &body(far), Some(&agent)).await.0, 201);
    }
    let (s, b) = call(app, "POST", &path, &body(far), Some(&agent)).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("slot_unavailable")),
        "{b}"
    );
    // Outside openings (a Sunday) is refused too.
    let (s, _) = call(
        app,
        "POST",
        &path,
        &body("2026-12-06T10:00:00+01:00"),
        Some(&agent),
    )
    .await;
    assert_eq!(s, 409);
    assert_eq!(e2e_tests::overlapping_pairs(&pool).await, 0);
    let (source, email): (String, Option<String>) =
        sqlx::query_as("SELECT source, email FROM appointments WHERE id = $1::uuid")
            .bind(first["id"].as_str().unwrap())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (source.as_str(), email),
        ("phone", None),
        "a phone booking, no email needed"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn status_changes_cancellation_export_and_audit(pool: PgPool) {
    let w = world(pool.clone()).await;
    let app = &w.app;
    let agent = token(app, "agent@mulhouse.fr").await;
    // An online booking with a number, cancelled by the mairie with a reason.
    let n = numbers(1);
    let (s, online) = app
        .book(
            w.site_a.parse().unwrap(),
            1,
            "2026-12-03T09:00:00+01:00",
            "10.22.0.1",
            &email(),
            &n,
        )
        .await;
    assert_eq!(s, 201, "{online}");
    let id = online["id"].as_str().unwrap();
    let status = |st: &str, reason: Option<&str>| json!({"status": st, "reason": reason});
    let (s, b) = call(
        app,
        "POST",
        &format!("/api/v1/staff/appointments/{id}/status"),
        &status("cancelled", None),
        Some(&agent),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("reason_required")));
    let (s, _) = call(
        app,
        "POST",
        &format!("/api/v1/staff/appointments/{id}/status"),
        &status("cancelled", Some("Panne du dispositif")),
        Some(&agent),
    )
    .await;
    assert_eq!(s, 200);
    let (s, b) = call(
        app,
        "POST",
        &format!("/api/v1/staff/appointments/{id}/status"),
        &status("checked_in", None),
        Some(&agent),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    let (kind, payload): (String, Value) = sqlx::query_as(
        "SELECT kind, payload FROM outbox WHERE appointment_id = $1::uuid AND kind = 'cancellation'",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (kind.as_str(), payload["by"].as_str(), payload["reason"].as_str()),
        ("cancellation", Some("staff"), Some("Panne du dispositif"))
    );
    let live: bool = sqlx::query_scalar("SELECT live FROM appointment_pre_demandes WHERE number = $1")
        .bind(&n[0])
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!live, "the number is free again");
    // Check-in then done.
    let a = &w.appt_a;
    assert_eq!(
        call(
            app,
            "POST",
            &format!("/api/v1/staff/appointments/{a}/status"),
            &status("checked_in", None),
            Some(&agent)
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            app,
            "POST",
            &format!("/api/v1/staff/appointments/{a}/status"),
            &status("done", None),
            Some(&agent)
        )
        .await
        .0,
        200
    );
    // CSV: BOM, semicolons, French headers, accents intact, formulas neutralised.
    let (s, csv) = call(
        app,
        "GET",
        &format!(
            "/api/v1/staff/sites/{}/export?from=2026-12-01&to=2026-12-31",
            w.site_a
        ),
        &Value::Null,
        Some(&agent),
    )
    .await;
    assert_eq!(s, 200);
    let csv = csv.as_str().unwrap();
    assert!(csv.starts_with('\u{feff}'));
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "Date;Heure;Poste;Référence;Statut;Origine;Motif;Personnes;Nom;Prénom;Courriel;Téléphone;Numéros de pré-demande");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Éloïse") && l.contains("'=cmd|' /C calc'!A0")),
        "{csv}"
    );
    assert!(lines.iter().all(|l| !l.contains(";=cmd")));
    assert_eq!(lines.len(), 3);
    // Every mutating action left an audit row, without secrets.
    let admin = token(app, "chef@mulhouse.fr").await;
    let (_, log) = call(
        app,
        "GET",
        "/api/v1/staff/audit?limit=500",
        &Value::Null,
        Some(&admin),
    )
    .await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for want in ["counter_booking", "status_change", "export", "login"] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    assert_eq!(actions.iter().filter(|a| **a == "status_change").count(), 3);
    let text = log.to_string();
    assert!(!text.contains(PASSWORD) && !text.contains(&agent));
    // Mulhouse's admin does not see Rixheim's rows.
    assert!(log
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["commune_insee"] == "68224"));
}

/// The CSRF token the staff pages derive from a session (the form field's value).
fn csrf_of(session: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(format!("csrf/{session}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_cancellation_from_the_day_page_is_audited_and_its_slot_offered_at_once(pool: PgPool) {
    let w = world(pool.clone()).await;
    let app = &w.app;
    let agent = token(app, "agent@mulhouse.fr").await;
    // Every station of the site booked at 09:00, so that start is no longer offered.
    let start = "2026-12-03T09:00:00+01:00";
    let stations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM stations WHERE site_id = $1::uuid AND active")
            .bind(&w.site_a)
            .fetch_one(&pool)
            .await
            .unwrap();
    let mut ids = Vec::new();
    for i in 0..stations {
        let (s, b) = app
            .book(
                w.site_a.parse().unwrap(),
                1,
                start,
                &format!("10.24.0.{i}"),
                &email(),
                &numbers(1),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        ids.push(b["id"].as_str().unwrap().to_string());
    }
    let day = format!(
        "/api/v1/sites/{}/availability?from=2026-12-03&to=2026-12-03",
        w.site_a
    );
    let offered = |body: &Value| e2e_tests::starts(body).iter().any(|s| s == start);
    // Read once: the calendar is now cached in memory (the cache lasts two seconds).
    let (s, before) = app.get(&day).await;
    assert_eq!(s, 200);
    assert!(!offered(&before), "09:00 should be full: {before}");
    // The agent cancels one from the page's form (no redirect followed: the answer is the page's).
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client
        .post(format!("{}/agents/rendez-vous/{}/statut", app.base, ids[0]))
        .header("cookie", format!("rdv_staff={agent}"))
        .form(&[
            ("csrf", csrf_of(&agent).as_str()),
            ("status", "cancelled"),
            ("reason", "Fermeture exceptionnelle"),
            ("site", w.site_a.as_str()),
            ("jour", "2026-12-03"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303, "{}", resp.text().await.unwrap());
    // Offered again at once, well inside the cache's two seconds.
    let (_, after) = app.get(&day).await;
    assert!(
        offered(&after),
        "the freed 09:00 should be offered at once: {after}"
    );
    // Audited, with who, what and why.
    let (action, details): (String, Value) = sqlx::query_as(
        "SELECT l.action, l.details FROM audit_log l JOIN staff_accounts a ON a.id = l.account_id
         WHERE l.appointment_id = $1::uuid AND a.email = 'agent@mulhouse.fr'",
    )
    .bind(&ids[0])
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(action, "status_change");
    assert_eq!(
        (
            details["from"].as_str(),
            details["to"].as_str(),
            details["reason"].as_str()
        ),
        (
            Some("booked"),
            Some("cancelled"),
            Some("Fermeture exceptionnelle")
        )
    );
    // The page enforces the API's limit on the reason sent to the citizen.
    let long = "x".repeat(501);
    let resp = client
        .post(format!("{}/agents/rendez-vous/{}/statut", app.base, ids[1]))
        .header("cookie", format!("rdv_staff={agent}"))
        .form(&[
            ("csrf", csrf_of(&agent).as_str()),
            ("status", "cancelled"),
            ("reason", long.as_str()),
            ("site", w.site_a.as_str()),
            ("jour", "2026-12-03"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let status: String = sqlx::query_scalar("SELECT status FROM appointments WHERE id = $1::uuid")
        .bind(&ids[1])
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "booked");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_login_page_refuses_an_over_long_password_like_the_api(pool: PgPool) {
    let w = world(pool.clone()).await;
    let app = &w.app;
    let long = "p".repeat(1025);
    let (s, body) = login(app, "agent@mulhouse.fr", &long).await;
    assert_eq!((s, body["error"]["code"].as_str()), (422, Some("invalid_field")));
    // Without the form's anti-forgery value: refused before anything else.
    let resp = app
        .client
        .post(format!("{}/agents/connexion", app.base))
        .form(&[("email", "agent@mulhouse.fr"), ("password", long.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    // With the cookie and field the login page gave.
    let form = app
        .client
        .get(format!("{}/agents/connexion", app.base))
        .send()
        .await
        .unwrap();
    let cookie = form.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let value = cookie.split_once('=').unwrap().1.to_string();
    assert!(
        form.text().await.unwrap().contains(&value),
        "the field carries the cookie's value"
    );
    let resp = app
        .client
        .post(format!("{}/agents/connexion", app.base))
        .header("cookie", &cookie)
        .form(&[
            ("email", "agent@mulhouse.fr"),
            ("password", long.as_str()),
            ("csrf", value.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let page = resp.text().await.unwrap();
    assert!(page.contains("Identifiants trop longs"), "{page}");
    // Neither attempt counted against the account: the right password still logs in.
    let (s, _) = login(app, "agent@mulhouse.fr", PASSWORD).await;
    assert_eq!(s, 200);
}

#[sqlx::test(migrations = "../migrations")]
async fn over_https_the_session_cookie_is_a_host_cookie(pool: PgPool) {
    accounts::create_account(
        &pool,
        "admin@m2a.fr",
        PASSWORD,
        "Admin",
        Role::PlatformAdmin,
        None,
    )
    .await
    .unwrap();
    let app = TestApp::spawn_with(pool, paris(2026, 11, 30, 7, 0, 0), |c| {
        c.public_base_url = Some("https://rdv.example.fr".into());
    })
    .await;
    let resp = app
        .client
        .post(format!("{}/api/v1/staff/login", app.base))
        .json(&json!({"email": "admin@m2a.fr", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-rdv_staff="), "{cookie}");
    assert!(cookie.contains("Path=/") && cookie.contains("Secure") && !cookie.contains("Domain"));
    let pair = cookie.split(';').next().unwrap().to_string();
    let token = pair.split_once('=').unwrap().1.to_string();
    let me = |c: String| {
        app.client
            .get(format!("{}/api/v1/staff/me", app.base))
            .header("cookie", c)
            .send()
    };
    assert_eq!(me(pair).await.unwrap().status().as_u16(), 200);
    // The plain name is not read over HTTPS: a sibling subdomain could have set it.
    assert_eq!(
        me(format!("rdv_staff={token}")).await.unwrap().status().as_u16(),
        401
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_deactivated_account_is_shut_out_at_once_from_the_api_and_the_pages(pool: PgPool) {
    let w = world(pool.clone()).await;
    let app = &w.app;
    let agent = token(app, "agent@mulhouse.fr").await;
    let chef = token(app, "chef@mulhouse.fr").await;
    let me = |t: String| async move {
        let api = call(app, "GET", "/api/v1/staff/me", &Value::Null, Some(&t))
            .await
            .0;
        let page = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(format!("{}/agents", app.base))
            .header("cookie", format!("rdv_staff={t}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        (api, page)
    };
    assert_eq!(me(agent.clone()).await, (200, 200));
    // Rixheim's staff do not even see the account; an agent cannot deactivate anyone.
    let path = format!("/api/v1/staff/accounts/{}", w.account_a);
    let off = json!({"active": false});
    let rixheim = token(app, "agent@rixheim.fr").await;
    assert_eq!(call(app, "PATCH", &path, &off, Some(&rixheim)).await.0, 404);
    assert_eq!(call(app, "PATCH", &path, &off, Some(&agent)).await.0, 403);
    // Mulhouse's administrator deactivates it: the very next request of its session is refused.
    let (s, b) = call(app, "PATCH", &path, &off, Some(&chef)).await;
    assert_eq!((s, b["active"].as_bool()), (200, Some(false)), "{b}");
    let (api, page) = me(agent.clone()).await;
    assert_eq!(api, 401);
    assert_eq!(page, 303, "the pages send it to the login");
    let revoked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM staff_sessions s JOIN staff_accounts a ON a.id = s.account_id
         WHERE a.email = 'agent@mulhouse.fr' AND s.revoked_at IS NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(revoked, 0, "every session closed");
    assert_eq!(login(app, "agent@mulhouse.fr", PASSWORD).await.0, 401);
    // Re-enabled, it logs in again; promoted, it administers; nobody changes their own account.
    let (s, _) = call(
        app,
        "PATCH",
        &path,
        &json!({"active": true, "role": "commune_admin"}),
        Some(&chef),
    )
    .await;
    assert_eq!(s, 200);
    let again = token(app, "agent@mulhouse.fr").await;
    let (s, me_body) = call(app, "GET", "/api/v1/staff/me", &Value::Null, Some(&again)).await;
    assert_eq!((s, me_body["role"].as_str()), (200, Some("commune_admin")));
    let (s, b) = call(app, "PATCH", &path, &json!({"active": false}), Some(&again)).await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("own_account")));
    let (s, _) = call(
        app,
        "PATCH",
        &path,
        &json!({"role": "platform_admin"}),
        Some(&chef),
    )
    .await;
    assert_eq!(
        s, 403,
        "a commune administrator never makes a platform administrator"
    );
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'account_update'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audited, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_logout_button_of_the_pages_ends_the_session_and_needs_its_csrf_token(pool: PgPool) {
    let w = world(pool).await;
    let app = &w.app;
    let agent = token(app, "agent@mulhouse.fr").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(format!("{}/agents", app.base))
        .header("cookie", format!("rdv_staff={agent}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Se déconnecter") && page.contains("/agents/deconnexion"),
        "{page}"
    );
    let logout = |csrf: String| {
        let (client, base, agent) = (&client, &app.base, agent.clone());
        async move {
            client
                .post(format!("{base}/agents/deconnexion"))
                .header("cookie", format!("rdv_staff={agent}"))
                .form(&[("csrf", csrf)])
                .send()
                .await
                .unwrap()
        }
    };
    // A forged or truncated token changes nothing.
    let good = csrf_of(&agent);
    assert_eq!(logout("0".repeat(good.len())).await.status().as_u16(), 403);
    assert_eq!(logout(good[..10].to_string()).await.status().as_u16(), 403);
    assert_eq!(
        call(app, "GET", "/api/v1/staff/me", &Value::Null, Some(&agent))
            .await
            .0,
        200
    );
    let resp = logout(good).await;
    assert_eq!(resp.status().as_u16(), 303);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("Max-Age=0"), "{cookie}");
    assert_eq!(
        call(app, "GET", "/api/v1/staff/me", &Value::Null, Some(&agent))
            .await
            .0,
        401
    );
}
