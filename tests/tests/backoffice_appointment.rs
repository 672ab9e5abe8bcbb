//! Staff around one appointment: its page, the contact correction and the move (API and pages),
//! the search and the week. A staff move past the citizen's deadline is walked through in a
//! browser (login, search, the appointment's page, "Déplacer", a time, the new time shown), each
//! page checked by axe and photographed at a phone and a desktop width.

use booking_service::staff::{accounts, Role};
use e2e_tests::browser::{axe_source, Browser};
use e2e_tests::{hm, insert_appointment, numbers, paris, SiteBuilder, TestApp, TestSite, STAFF_PASSWORD};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

/// A Rixheim site open 9:00–12:00 on weekdays (one station, 15-minute appointments, the default
/// four-hour cancellation deadline), a Rixheim agent and a Mulhouse agent, the clock on Wednesday
/// 2 December 2026 at 8:00.
async fn setup(pool: &PgPool) -> (TestApp, TestSite) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(pool)
        .await;
    // Mulhouse exists with a site of its own, so its agent belongs to a real commune.
    SiteBuilder {
        insee: "68224",
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(12, 0))])
    .create(pool)
    .await;
    for (mail, commune) in [("agent@rixheim.fr", "68278"), ("agent@mulhouse.fr", "68224")] {
        accounts::create_account(pool, mail, STAFF_PASSWORD, "Agent", Role::Agent, Some(commune))
            .await
            .unwrap();
    }
    let app = TestApp::spawn(pool.clone(), paris(2026, 12, 2, 8, 0, 0)).await;
    (app, site)
}

/// A citizen's online booking at `start` (with one pré-demande number): its id and management token.
async fn book_online(app: &TestApp, site: Uuid, start: &str, last_name: &str) -> (String, String) {
    let (s, hold) = app.hold(site, "CNI", 1, start, "10.60.0.1").await;
    assert_eq!(s, 201, "{hold}");
    let body = json!({
        "hold_id": hold["hold_id"],
        "citizen": {"first_name": "Zoé", "last_name": last_name, "email": e2e_tests::email(), "phone": "+33 6 12 34 56 78"},
        "pre_demande_numbers": numbers(1),
    });
    let (s, booked) = app.post("/api/v1/appointments", &body, "10.60.0.1").await;
    assert_eq!(s, 201, "{booked}");
    (
        booked["id"].as_str().unwrap().to_string(),
        booked["manage_token"].as_str().unwrap().to_string(),
    )
}

async fn count(pool: &PgPool, sql: &str, id: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(Uuid::parse_str(id).unwrap())
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn staff_correct_a_contact_checked_as_at_booking_audited_and_inside_their_commune(pool: PgPool) {
    let (app, site) = setup(&pool).await;
    let (id, _) = book_online(&app, site.id, "2026-12-02T10:00:00+01:00", "Bernard").await;
    let path = format!("/api/v1/staff/appointments/{id}");
    let agent = app.staff_token("agent@rixheim.fr").await;
    let other = app.staff_token("agent@mulhouse.fr").await;

    // Not logged in: 401; another commune's agent: 404 (its existence not revealed).
    let (s, _) = app.call("PATCH", &path, &json!({"first_name": "X"}), None).await;
    assert_eq!(s, 401);
    let (s, b) = app
        .call("PATCH", &path, &json!({"first_name": "X"}), Some(&other))
        .await;
    assert_eq!(s, 404, "{b}");
    let (s, _) = app.call("GET", &path, &Value::Null, Some(&other)).await;
    assert_eq!(s, 404);

    // Refused as at booking, each naming the field; nothing written.
    for (body, field) in [
        (json!({"email": "pas-une-adresse"}), "citizen.email"),
        (json!({"last_name": "   "}), "last_name"),
        (json!({"phone": "appelez-moi"}), "citizen.phone"),
    ] {
        let (s, b) = app.call("PATCH", &path, &body, Some(&agent)).await;
        assert_eq!(s, 422, "{body}: {b}");
        assert_eq!(b["error"]["field"], field, "{b}");
    }
    // Unreadable or unknown input: a JSON 4xx, never a 5xx.
    let (s, b) = app
        .call("PATCH", &path, &json!({"first_name": 3}), Some(&agent))
        .await;
    assert_eq!(s, 422, "{b}");
    let (s, b) = app
        .call("PATCH", &path, &json!({"prenom": "Zoé"}), Some(&agent))
        .await;
    assert_eq!(s, 422, "{b}");
    let resp = app
        .client
        .patch(format!("{}{path}", app.base))
        .bearer_auth(&agent)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let (s, b) = app
        .call(
            "PATCH",
            "/api/v1/staff/appointments/pas-un-id",
            &json!({}),
            Some(&agent),
        )
        .await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("invalid_id")));
    let audited = "SELECT count(*) FROM audit_log WHERE appointment_id = $1 AND action = 'contact_edit'";
    assert_eq!(count(&pool, audited, &id).await, 0);

    // A correction: trimmed, the phone removed; only what changed is audited.
    let (s, b) = app
        .call(
            "PATCH",
            &path,
            &json!({"first_name": "  Zoé-Marie ", "phone": ""}),
            Some(&agent),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["first_name"], "Zoé-Marie");
    assert_eq!(b["phone"], Value::Null);
    assert_eq!(b["changed"], json!(["first_name", "phone"]));
    let stored: (String, String, Option<String>) =
        sqlx::query_as("SELECT first_name, last_name, phone FROM appointments WHERE id = $1")
            .bind(Uuid::parse_str(&id).unwrap())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored, ("Zoé-Marie".into(), "Bernard".into(), None));
    assert_eq!(count(&pool, audited, &id).await, 1);
    // The same again changes nothing and is not audited twice.
    let (s, b) = app
        .call("PATCH", &path, &json!({"first_name": "Zoé-Marie"}), Some(&agent))
        .await;
    assert_eq!((s, b["changed"].clone()), (200, json!([])));
    assert_eq!(count(&pool, audited, &id).await, 1);

    // A new address gets the confirmation (with the management link) again.
    let confirmations = "SELECT count(*) FROM outbox WHERE appointment_id = $1 AND kind = 'confirmation'";
    assert_eq!(count(&pool, confirmations, &id).await, 1);
    let (s, b) = app
        .call(
            "PATCH",
            &path,
            &json!({"email": "Nouvelle.Adresse@Example.fr"}),
            Some(&agent),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["email"], "nouvelle.adresse@example.fr");
    assert_eq!(count(&pool, confirmations, &id).await, 2);

    // The appointment as staff read it: the history names the corrections, newest first.
    let (s, sheet) = app.call("GET", &path, &Value::Null, Some(&agent)).await;
    assert_eq!(s, 200, "{sheet}");
    assert_eq!(sheet["email"], "nouvelle.adresse@example.fr");
    let history = sheet["history"].as_array().unwrap();
    let edits: Vec<&Value> = history.iter().filter(|h| h["action"] == "contact_edit").collect();
    assert_eq!(edits.len(), 2);
    assert_eq!(edits[0]["details"]["fields"], json!(["email"]));
    assert_eq!(sheet["pre_demande_numbers"][0]["last_call"], "ants_declare");
}

#[sqlx::test(migrations = "../migrations")]
async fn staff_move_past_the_citizens_deadline_but_never_onto_a_taken_or_closed_time(pool: PgPool) {
    let (app, site) = setup(&pool).await;
    // Booked for 10:00 today: at 8:00 the four-hour deadline (6:00) is past.
    let (id, manage) = book_online(&app, site.id, "2026-12-02T10:00:00+01:00", "Bernard").await;
    let agent = app.staff_token("agent@rixheim.fr").await;
    let other = app.staff_token("agent@mulhouse.fr").await;
    let move_path = format!("/api/v1/staff/appointments/{id}/move");

    // The citizen may no longer move it.
    let (s, hold) = app
        .hold(site.id, "CNI", 1, "2026-12-02T11:00:00+01:00", "10.60.0.2")
        .await;
    assert_eq!(s, 201, "{hold}");
    let (s, b) = app
        .post(
            &format!("/api/v1/manage/{manage}/reschedule"),
            &json!({"hold_id": hold["hold_id"]}),
            "10.60.0.2",
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("deadline_passed")),
        "{b}"
    );
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/holds/{}", hold["hold_id"].as_str().unwrap()),
            &Value::Null,
            None,
        )
        .await;
    assert!(s < 300, "hold released: {s}");

    // Inputs refused before anything moves.
    let (s, _) = app
        .call(
            "POST",
            &move_path,
            &json!({"start": "2026-12-02T11:00:00+01:00"}),
            None,
        )
        .await;
    assert_eq!(s, 401);
    let (s, b) = app
        .call(
            "POST",
            &move_path,
            &json!({"start": "2026-12-02T11:00:00+01:00"}),
            Some(&other),
        )
        .await;
    assert_eq!(s, 404, "{b}");
    let (s, b) = app
        .call("POST", &move_path, &json!({"start": "demain"}), Some(&agent))
        .await;
    assert_eq!((s, b["error"]["field"].as_str()), (422, Some("start")), "{b}");
    let (s, b) = app.call("POST", &move_path, &json!({}), Some(&agent)).await;
    assert_eq!(s, 422, "{b}");
    // After the opening hours: never offered, even to staff.
    let (s, b) = app
        .call(
            "POST",
            &move_path,
            &json!({"start": "2026-12-02T13:00:00+01:00"}),
            Some(&agent),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("slot_not_offered")),
        "{b}"
    );
    // Never into the past, even for staff.
    let (s, b) = app
        .call(
            "POST",
            &move_path,
            &json!({"start": "2026-12-01T10:00:00+01:00"}),
            Some(&agent),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("slot_not_offered")),
        "{b}"
    );
    // A station of another site.
    let foreign: Uuid = sqlx::query_scalar("SELECT id FROM stations WHERE site_id <> $1 LIMIT 1")
        .bind(site.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let (s, b) = app
        .call(
            "POST",
            &move_path,
            &json!({"start": "2026-12-02T11:00:00+01:00", "station_id": foreign}),
            Some(&agent),
        )
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (422, Some("station_id")),
        "{b}"
    );

    // Taken by another appointment, or held by a citizen right now: 409 with the next free times.
    insert_appointment(
        &pool,
        site.id,
        site.stations[0],
        paris(2026, 12, 2, 11, 30, 0),
        paris(2026, 12, 2, 11, 45, 0),
        "booked",
    )
    .await;
    let (s, held) = app
        .hold(site.id, "CNI", 1, "2026-12-02T11:45:00+01:00", "10.60.0.3")
        .await;
    assert_eq!(s, 201, "{held}");
    for taken in ["2026-12-02T11:30:00+01:00", "2026-12-02T11:45:00+01:00"] {
        let (s, b) = app
            .call("POST", &move_path, &json!({"start": taken}), Some(&agent))
            .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (409, Some("slot_unavailable")),
            "{taken}: {b}"
        );
        let alternatives = b["error"]["alternatives"].as_array().unwrap();
        assert!(!alternatives.is_empty(), "{b}");
        assert!(alternatives.iter().all(|a| a["start"] != taken));
    }
    let start: String = sqlx::query_scalar(
        "SELECT to_char(lower(during) AT TIME ZONE 'Europe/Paris', 'HH24:MI') FROM appointments WHERE id = $1",
    )
    .bind(Uuid::parse_str(&id).unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(start, "10:00", "nothing moved yet");

    // Staff move it past the citizen's deadline.
    let (s, b) = app
        .call(
            "POST",
            &move_path,
            &json!({"start": "2026-12-02T11:00:00+01:00"}),
            Some(&agent),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["start"], "2026-12-02T11:00:00+01:00");
    assert_eq!(b["end"], "2026-12-02T11:15:00+01:00");
    assert_eq!(b["station_id"], json!(site.stations[0]));
    // The same path as a citizen's move: the "moved" email, the ANTS withdrawal then declaration.
    let q = |kind: &str| format!("SELECT count(*) FROM outbox WHERE appointment_id = $1 AND kind = '{kind}'");
    assert_eq!(count(&pool, &q("reschedule"), &id).await, 1);
    assert_eq!(count(&pool, &q("ants_delete"), &id).await, 1);
    assert_eq!(count(&pool, &q("ants_declare"), &id).await, 2);
    let late: bool = sqlx::query_scalar(
        "SELECT (details ->> 'past_citizen_deadline')::boolean FROM audit_log WHERE appointment_id = $1 AND action = 'staff_move'",
    )
    .bind(Uuid::parse_str(&id).unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(late);
    assert_eq!(e2e_tests::overlapping_pairs(&pool).await, 0);
    // Its page in the API shows the new time and the move first in the history.
    let (_, sheet) = app
        .call(
            "GET",
            &format!("/api/v1/staff/appointments/{id}"),
            &Value::Null,
            Some(&agent),
        )
        .await;
    assert_eq!(sheet["start"], "2026-12-02T11:00:00+01:00");
    assert_eq!(sheet["history"][0]["action"], "staff_move");

    // A cancelled appointment is not moved.
    let (s, _) = app
        .call(
            "POST",
            &format!("/api/v1/staff/appointments/{id}/status"),
            &json!({"status": "cancelled", "reason": "Demande de l'usager"}),
            Some(&agent),
        )
        .await;
    assert_eq!(s, 200);
    let (s, b) = app
        .call(
            "POST",
            &move_path,
            &json!({"start": "2026-12-02T09:00:00+01:00"}),
            Some(&agent),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("not_modifiable")),
        "{b}"
    );
}

/// The CSRF token the staff pages derive from a session.
fn csrf_of(session: &str) -> String {
    Sha256::digest(format!("csrf/{session}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_pages_show_errors_next_to_their_field_and_keep_to_the_commune(pool: PgPool) {
    let (app, site) = setup(&pool).await;
    let (id, _) = book_online(&app, site.id, "2026-12-02T10:00:00+01:00", "Bernard").await;
    let agent = app.staff_token("agent@rixheim.fr").await;
    let other = app.staff_token("agent@mulhouse.fr").await;
    // Redirects are looked at, not followed.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |token: String, path: String| {
        let (app, client) = (&app, &client);
        async move {
            let resp = client
                .get(format!("{}{path}", app.base))
                .header("cookie", format!("rdv_staff={token}"))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let post = |token: String, path: String, form: Vec<(&'static str, String)>| {
        let (app, client) = (&app, &client);
        async move {
            let resp = client
                .post(format!("{}{path}", app.base))
                .header("cookie", format!("rdv_staff={token}"))
                .form(&form)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    // Another commune's agent finds nothing, on the page or in the search.
    let (s, _) = get(other.clone(), format!("/agents/rdv/{id}")).await;
    assert_eq!(s, 404);
    let (s, text) = get(other.clone(), "/agents/recherche?q=Bernard".into()).await;
    assert_eq!(s, 200);
    assert!(text.contains("Aucun rendez-vous"), "{text}");
    let (s, _) = get(other.clone(), format!("/agents/lieux/{}/semaine", site.id)).await;
    assert_eq!(s, 404);
    // French labels, never the codes.
    let (s, text) = get(agent.clone(), format!("/agents/rdv/{id}")).await;
    assert_eq!(s, 200);
    for label in ["confirmé", "Carte nationale d'identité", "En ligne", "1 personne"] {
        assert!(text.contains(label), "{label} missing");
    }
    assert!(!text.contains(">booked<") && !text.contains(">CNI<"));
    // A wrong email: the page again (422) with the error next to the field and what was typed.
    let form = |email: &str| {
        vec![
            ("csrf", csrf_of(&agent)),
            ("first_name", "Zoé".to_string()),
            ("last_name", "Bernard".to_string()),
            ("email", email.to_string()),
            ("phone", String::new()),
        ]
    };
    let (s, text) = post(
        agent.clone(),
        format!("/agents/rdv/{id}/coordonnees"),
        form("zoé@"),
    )
    .await;
    assert_eq!(s, 422);
    assert!(text.contains("id=\"err-contact\""), "{text}");
    assert!(text.contains("aria-describedby=\"err-contact\""));
    assert!(text.contains("value=\"zoé@\""));
    // A forged token changes nothing.
    let mut forged = form("zoe@example.fr");
    forged[0].1 = csrf_of("another session");
    let (s, _) = post(agent.clone(), format!("/agents/rdv/{id}/coordonnees"), forged).await;
    assert_eq!(s, 403);
    let (s, _) = post(
        agent.clone(),
        format!("/agents/rdv/{id}/coordonnees"),
        form("zoe@example.fr"),
    )
    .await;
    assert_eq!(s, 303);
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM appointments WHERE id = $1")
        .bind(Uuid::parse_str(&id).unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(email.as_deref(), Some("zoe@example.fr"));
    // Cancelling without a reason: the error next to the reason field.
    let (s, text) = post(
        agent.clone(),
        format!("/agents/rdv/{id}/statut"),
        vec![
            ("csrf", csrf_of(&agent)),
            ("status", "cancelled".into()),
            ("reason", " ".into()),
        ],
    )
    .await;
    assert_eq!(s, 422);
    assert!(text.contains("id=\"err-status\"") && text.contains("aria-describedby=\"err-status\""));
    // A search too short: said next to the field.
    let (s, text) = get(agent.clone(), "/agents/recherche?q=ab".into()).await;
    assert_eq!(s, 400);
    assert!(text.contains("id=\"err-q\""));
    // The week lists the appointment, linked to its page.
    let (s, text) = get(
        agent.clone(),
        format!("/agents/lieux/{}/semaine?debut=2026-11-30", site.id),
    )
    .await;
    assert_eq!(s, 200);
    assert!(text.contains(&format!("href=\"/agents/rdv/{id}\"")), "{text}");
    assert!(text.contains("semaine?debut=2026-11-23") && text.contains("semaine?debut=2026-12-07"));
    // Cancelled from its page: the history says so in French, and it can no longer be moved.
    let (s, _) = post(
        agent.clone(),
        format!("/agents/rdv/{id}/statut"),
        vec![
            ("csrf", csrf_of(&agent)),
            ("status", "cancelled".into()),
            ("reason", "Demande de l'usager par téléphone".into()),
        ],
    )
    .await;
    assert_eq!(s, 303);
    let (s, text) = get(agent.clone(), format!("/agents/rdv/{id}?fait=statut")).await;
    assert_eq!(s, 200);
    assert!(
        text.contains("Annulé par la mairie") && text.contains("Motif : Demande de l'usager par téléphone"),
        "{text}"
    );
    assert!(text.contains("Statut : confirmé → annulé"), "{text}");
    assert!(!text.contains("Déplacer le rendez-vous"));
    let (s, text) = get(agent.clone(), format!("/agents/rdv/{id}/deplacer")).await;
    assert_eq!(s, 409);
    assert!(
        text.contains("il est annulé") && !text.contains("cancelled"),
        "{text}"
    );
    // Not logged in: to the login page.
    let resp = client
        .get(format!("{}/agents/rdv/{id}/deplacer", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
}

/// Photographs the current page at a desktop width, then a phone width (where it is left).
async fn shots(b: &Browser, name: &str) {
    b.set_window(1366, 900).await;
    b.shot(&format!("{name}-bureau")).await;
    b.set_window(412, 915).await;
    b.shot(&format!("{name}-telephone")).await;
    // Nothing runs off the side of a phone: wide tables scroll inside their own region.
    let overflow = b
        .script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            json!([]),
        )
        .await;
    if overflow.as_i64().unwrap_or(1) > 0 {
        let culprits = b
            .script(
                "const w = document.documentElement.clientWidth;\
                 return [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > w + 1)\
                   .slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + (e.textContent || '').slice(0, 40));",
                json!([]),
            )
            .await;
        panic!("{name}: {overflow} px wider than a phone, because of {culprits}");
    }
}

fn assert_accessible(violations: Vec<String>, page: &str) {
    assert!(
        violations.is_empty(),
        "serious or critical accessibility violations on {page}: {violations:#?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_agent_moves_an_appointment_past_the_citizens_deadline_through_the_pages(pool: PgPool) {
    let (app, site) = setup(&pool).await;
    let (id, manage) = book_online(&app, site.id, "2026-12-02T10:00:00+01:00", "Bernard-Lefèvre").await;
    // The citizen's own link no longer allows it.
    let (s, m) = app.get(&format!("/api/v1/manage/{manage}")).await;
    assert_eq!((s, m["can_change"].as_bool()), (200, Some(false)), "{m}");
    let axe = axe_source();
    let b = Browser::start("backoffice-deplacement").await;
    b.goto(&format!("{}/agents/connexion", app.base)).await;
    b.type_into("#email", "agent@rixheim.fr").await;
    b.type_into("#password", STAFF_PASSWORD).await;
    b.click("main form button").await;
    b.wait_for_text("Vos lieux").await;

    // Search the citizen by name.
    b.goto(&format!("{}/agents/recherche", app.base)).await;
    b.wait_for_text("Rechercher un rendez-vous").await;
    b.type_into("#q", "bernard-lef").await;
    b.click("main form[role=search] button").await;
    b.wait_for_text("1 rendez-vous pour").await;
    assert_accessible(b.axe_violations(&axe).await, "la recherche");
    shots(&b, "recherche").await;

    // Its page.
    b.click(&format!("main table a[href='/agents/rdv/{id}']")).await;
    let text = b.wait_for_text("Rendez-vous de Zoé Bernard-Lefèvre").await;
    assert!(text.contains("mercredi 2 décembre 2026 à 10:00"), "{text}");
    assert!(text.contains("Numéros de pré-demande") && text.contains("Historique"));
    assert_accessible(b.axe_violations(&axe).await, "la page du rendez-vous");
    shots(&b, "rendez-vous").await;

    // Déplacer, then a time.
    b.click("main a.button[href$='/deplacer']").await;
    let text = b.wait_for_text("Déplacer le rendez-vous de Zoé").await;
    assert!(text.contains("Le délai de l'usager est passé"), "{text}");
    assert_accessible(b.axe_violations(&axe).await, "la page de déplacement");
    shots(&b, "deplacer").await;
    b.click("button[aria-label='Déplacer au mercredi 2 décembre 2026 à 11:00']")
        .await;
    let text = b.wait_for_text("Rendez-vous déplacé").await;
    assert!(text.contains("mercredi 2 décembre 2026 à 11:00"), "{text}");
    assert!(
        text.contains("Déplacé par la mairie"),
        "the history shows the move: {text}"
    );
    assert!(b.url().await.contains(&format!("/agents/rdv/{id}")));
    assert_accessible(b.axe_violations(&axe).await, "le rendez-vous déplacé");
    shots(&b, "deplace").await;
    let start: String = sqlx::query_scalar(
        "SELECT to_char(lower(during) AT TIME ZONE 'Europe/Paris', 'HH24:MI') FROM appointments WHERE id = $1",
    )
    .bind(Uuid::parse_str(&id).unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(start, "11:00");

    // The week shows it at its new time, linked to its page.
    b.goto(&format!(
        "{}/agents/lieux/{}/semaine?debut=2026-11-30",
        app.base, site.id
    ))
    .await;
    let text = b.wait_for_text("semaine du lundi 30 novembre 2026").await;
    assert!(text.contains("11:00\tZoé Bernard-Lefèvre"), "{text}");
    assert_accessible(b.axe_violations(&axe).await, "la semaine");
    shots(&b, "semaine").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn two_agents_moving_two_appointments_onto_one_time_at_once_one_wins(pool: PgPool) {
    let (app, site) = setup(&pool).await;
    let (first, _) = book_online(&app, site.id, "2026-12-02T10:00:00+01:00", "Premier").await;
    let (second, _) = book_online(&app, site.id, "2026-12-02T10:30:00+01:00", "Second").await;
    let agent = app.staff_token("agent@rixheim.fr").await;
    let to = json!({"start": "2026-12-02T11:00:00+01:00"});
    let (path_1, path_2) = (
        format!("/api/v1/staff/appointments/{first}/move"),
        format!("/api/v1/staff/appointments/{second}/move"),
    );
    let (a, b) = tokio::join!(
        app.call("POST", &path_1, &to, Some(&agent)),
        app.call("POST", &path_2, &to, Some(&agent)),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} / {}", a.1, b.1);
    let loser = if a.0 == 409 { &a.1 } else { &b.1 };
    assert_eq!(loser["error"]["code"], "slot_unavailable");
    assert_eq!(e2e_tests::overlapping_pairs(&pool).await, 0);
    let at_eleven: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM appointments WHERE lower(during) = $1 AND status = 'booked'",
    )
    .bind(paris(2026, 12, 2, 11, 0, 0))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(at_eleven, 1);
    let moves: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'staff_move'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(moves, 1, "only the move that happened is audited");
}
