//! The citizen's data through their management link: the download holds theirs and nobody
//! else's; erasure cancels, frees the slot, still withdraws the numbers at ANTS, then leaves no
//! trace of the person in any column of any table; the legal pages every footer links to.
//! Screenshots: target/browser-screenshots/<test>/.

use e2e_tests::ants::FakeAnts;
use e2e_tests::browser::{axe_source, Browser};
use e2e_tests::{hm, numbers, paris, starts, SiteBuilder, TestApp};
use notifier::ants_worker::AntsWorker;
use notifier::config::NotifierConfig;
use notifier::worker::Worker;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

/// A citizen nobody else is: names, address and phone found nowhere else in the database.
struct Citizen {
    first_name: String,
    last_name: String,
    email: String,
    /// As typed; stored in E.164.
    phone: &'static str,
    phone_e164: &'static str,
}

fn citizen(phone: &'static str, phone_e164: &'static str) -> Citizen {
    let tag = Uuid::new_v4().simple().to_string();
    Citizen {
        first_name: format!("Prénomeffacable{}", &tag[..8]),
        last_name: format!("Nomeffacable{}", &tag[8..16]),
        email: format!("effacable-{}@example.fr", &tag[16..24]),
        phone,
        phone_e164,
    }
}

/// Holds then confirms for `who`; the confirmation's body.
async fn book_as(
    app: &TestApp,
    site: Uuid,
    start: &str,
    who: &Citizen,
    email: &str,
    nums: &[String],
) -> Value {
    let (s, hold) = app.hold(site, "CNI", nums.len() as u32, start, "10.31.0.1").await;
    assert_eq!(s, 201, "{hold}");
    let body = json!({
        "hold_id": hold["hold_id"],
        "citizen": {"first_name": who.first_name, "last_name": who.last_name, "email": email, "phone": who.phone},
        "pre_demande_numbers": nums,
    });
    let (s, done) = app.post("/api/v1/appointments", &body, "10.31.0.2").await;
    assert_eq!(s, 201, "{done}");
    done
}

async fn drain_mail(app: &TestApp) {
    let dir = std::env::temp_dir().join(format!("citizen-data-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = NotifierConfig::for_tests("postgres://unused", dir);
    c.public_base_url = app.base.clone();
    let w = Worker::new(app.pool.clone(), c, Arc::new(app.clock.clone())).unwrap();
    while w.process_batch().await.unwrap() > 0 {}
}

fn ants_worker(app: &TestApp, ants: &FakeAnts) -> AntsWorker {
    let mut c = NotifierConfig::for_tests("postgres://unused", std::env::temp_dir());
    c.ants_api.ants_api_url = Some(ants.url.clone());
    c.ants_api.ants_api_token = Some(booking_service::config::Secret::new(&ants.token));
    AntsWorker::new(app.pool.clone(), c, Arc::new(app.clock.clone())).unwrap()
}

async fn drain_ants(w: &AntsWorker) {
    while w.process_batch().await.unwrap() > 0 {}
}

/// Every `table.column` of the public schema holding text (text, varchar, char, json, jsonb,
/// arrays, and bytea read as text) where `needle` appears, case-insensitively.
async fn columns_containing(pool: &PgPool, needle: &str) -> Vec<String> {
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = 'public'
           AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY', 'bytea')
         ORDER BY table_name, column_name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(columns.len() > 40, "the scan sees the schema: {columns:?}");
    let mut found = Vec::new();
    for (table, column, ty) in columns {
        let expr = if ty == "bytea" {
            format!("encode(\"{column}\", 'escape')")
        } else {
            format!("\"{column}\"::text")
        };
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM \"{table}\" WHERE strpos(lower({expr}), lower($1)) > 0"
        ))
        .bind(needle)
        .fetch_one(pool)
        .await
        .unwrap();
        if n > 0 {
            found.push(format!("{table}.{column} ({n})"));
        }
    }
    found
}

#[sqlx::test(migrations = "../migrations")]
async fn the_download_holds_the_citizens_data_and_nobody_elses(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let me = citizen("06 12 34 56 71", "+33612345671");
    let other = citizen("06 12 34 56 72", "+33612345672");
    let (mine, same_mailbox, theirs) = (numbers(1), numbers(1), numbers(1));
    let a = book_as(&app, site.id, "2026-12-02T09:00:00+01:00", &me, &me.email, &mine).await;
    // The same mailbox with a `+tag`: the same person for the service.
    let tagged = me.email.replace('@', "+famille@");
    let b = book_as(
        &app,
        site.id,
        "2026-12-03T09:00:00+01:00",
        &me,
        &tagged,
        &same_mailbox,
    )
    .await;
    let c = book_as(
        &app,
        site.id,
        "2026-12-02T10:00:00+01:00",
        &other,
        &other.email,
        &theirs,
    )
    .await;
    drain_mail(&app).await;
    // A staff action on the first appointment, and one on the other person's.
    for (appointment, note) in [(&a, "appel de la citoyenne"), (&c, "appel de l'autre usager")] {
        sqlx::query(
            "INSERT INTO audit_log (at, account_id, commune_insee, action, appointment_id, details)
             VALUES (now(), NULL, '68224', 'status_change', $1::uuid, $2)",
        )
        .bind(appointment["id"].as_str().unwrap())
        .bind(json!({"from": "booked", "to": "booked", "reason": note}))
        .execute(&pool)
        .await
        .unwrap();
    }
    // Both wait for a slot: the download holds theirs, never the other person's.
    for (who, client) in [(&me, "10.31.0.5"), (&other, "10.31.0.6")] {
        let (s, body) = app
            .post(
                "/api/v1/waitlist",
                &json!({"commune_insee": "68224", "radius_km": 20, "motif": "CNI", "persons": 1,
                        "email": who.email, "from": "2026-12-01", "to": "2026-12-01"}),
                client,
            )
            .await;
        assert_eq!(s, 201, "{body}");
    }
    let token = a["manage_token"].as_str().unwrap();
    let (s, data) = app.get(&format!("/api/v1/manage/{token}/data")).await;
    assert_eq!(s, 200, "{data}");
    let waits = data["waiting_list"].as_array().unwrap();
    assert_eq!(waits.len(), 1, "{data}");
    assert_eq!(
        (waits[0]["commune_insee"].as_str(), waits[0]["radius_km"].as_i64()),
        (Some("68224"), Some(20))
    );
    let list = data["appointments"].as_array().unwrap();
    let refs: Vec<&str> = list.iter().map(|x| x["reference"].as_str().unwrap()).collect();
    assert_eq!(
        refs,
        vec![a["reference"].as_str().unwrap(), b["reference"].as_str().unwrap()],
        "this link's appointment and the one of the same mailbox, by date"
    );
    let first = &list[0];
    assert_eq!(first["this_link"], true);
    assert_eq!(list[1]["this_link"], false);
    assert_eq!(first["first_name"], me.first_name.as_str());
    assert_eq!(first["last_name"], me.last_name.as_str());
    assert_eq!(first["email"], me.email.as_str());
    assert_eq!(first["phone"], me.phone_e164);
    assert_eq!(first["motif"], "Carte nationale d'identité");
    assert_eq!(first["pre_demande_numbers"][0]["number"], mine[0].as_str());
    assert_eq!(
        list[1]["pre_demande_numbers"][0]["number"],
        same_mailbox[0].as_str()
    );
    assert_eq!(list[1]["email"], tagged.as_str());
    let kinds: Vec<&str> = first["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"confirmation"), "{kinds:?}");
    assert!(kinds.contains(&"ants_declare"), "{kinds:?}");
    assert_eq!(first["history"][0]["details"]["reason"], "appel de la citoyenne");
    assert!(first["history"][0].get("account_id").is_none(), "no agent in it");
    // Nothing of the other person: not their name, address, phone, number, appointment or note.
    let text = data.to_string();
    for needle in [
        other.first_name.as_str(),
        other.last_name.as_str(),
        other.email.as_str(),
        other.phone_e164,
        theirs[0].as_str(),
        c["reference"].as_str().unwrap(),
        c["id"].as_str().unwrap(),
        "appel de l'autre usager",
    ] {
        assert!(!text.contains(needle), "{needle} in {text}");
    }
    // The page's link downloads the same, as a file.
    let resp = app
        .client
        .get(format!("{}/rdv/{token}/donnees", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp
        .headers()
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let file: Value = resp.json().await.unwrap();
    assert_eq!(file["appointments"], data["appointments"]);
    // The other person's link shows only theirs.
    let (_, theirs_data) = app
        .get(&format!(
            "/api/v1/manage/{}/data",
            c["manage_token"].as_str().unwrap()
        ))
        .await;
    assert_eq!(theirs_data["appointments"].as_array().unwrap().len(), 1);
    assert!(!theirs_data.to_string().contains(&me.email));
    // A malformed or unknown link: 400 and 404 in JSON.
    assert_eq!(app.get("/api/v1/manage/court/data").await.0, 400);
    let unknown = "A".repeat(43);
    assert_eq!(app.get(&format!("/api/v1/manage/{unknown}/data")).await.0, 404);
}

#[sqlx::test(migrations = "../migrations")]
async fn erasure_cancels_withdraws_the_numbers_at_ants_then_leaves_no_trace(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let ants = FakeAnts::start().await;
    let w = ants_worker(&app, &ants);
    let me = citizen("06 12 34 56 73", "+33612345673");
    let nums = numbers(2);
    let start = "2026-12-02T09:00:00+01:00";
    let a = book_as(&app, site.id, start, &me, &me.email, &nums).await;
    let token = a["manage_token"].as_str().unwrap().to_string();
    let id = a["id"].as_str().unwrap().to_string();
    drain_ants(&w).await;
    drain_mail(&app).await;
    assert_eq!(ants.declarations().len(), 2, "both numbers declared");
    // Someone else's appointment stays whole.
    let other = citizen("06 12 34 56 74", "+33612345674");
    let kept = book_as(
        &app,
        site.id,
        "2026-12-02T10:00:00+01:00",
        &other,
        &other.email,
        &numbers(1),
    )
    .await;
    // An agent's note about the appointment quoting the address, and a staff row elsewhere that does.
    sqlx::query(
        "INSERT INTO audit_log (at, account_id, commune_insee, action, appointment_id, target, details)
         VALUES (now(), NULL, '68224', 'status_change', $1::uuid, $2, $3),
                (now(), NULL, '68224', 'outbox_retry', NULL, NULL, $4)",
    )
    .bind(&id)
    .bind(&me.email)
    .bind(json!({"reason": format!("{} {} a appelé", me.first_name, me.last_name)}))
    .bind(json!({"last_error": format!("550 {} inconnu", me.email)}))
    .execute(&pool)
    .await
    .unwrap();
    let day = format!(
        "/api/v1/sites/{}/availability?motif=CNI&persons=2&from=2026-12-02&to=2026-12-02",
        site.id
    );
    let (_, before) = app.get(&day).await;
    assert!(!starts(&before).iter().any(|s| s.starts_with("2026-12-02T09:00")));

    // They also wait for an earlier slot, with the same address.
    let (s, body) = app
        .post(
            "/api/v1/waitlist",
            &json!({"site_id": site.id, "motif": "CNI", "persons": 1, "email": me.email,
                    "from": "2026-12-01", "to": "2026-12-01"}),
            "10.31.0.4",
        )
        .await;
    assert_eq!(s, 201, "{body}");
    // The scan finds the person before the erasure (in the appointment, the waiting list and the
    // audit rows).
    let seen = columns_containing(&pool, &me.email).await;
    assert!(
        seen.iter().any(|c| c.starts_with("appointments.email")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|c| c.starts_with("waitlist_entries.email")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|c| c.starts_with("audit_log.details")),
        "{seen:?}"
    );
    let (s, done) = app
        .post(
            &format!("/api/v1/manage/{token}/erase"),
            &Value::Null,
            "10.31.0.3",
        )
        .await;
    assert_eq!((s, &done), (200, &json!({"erased": true, "cancelled": true})));
    // The slot is offered again at once.
    let (_, after) = app.get(&day).await;
    assert!(
        starts(&after).iter().any(|s| s.starts_with("2026-12-02T09:00")),
        "{after}"
    );
    // The link says what happened, in JSON and as a page; a second erasure finds nothing.
    let (s, body) = app.get(&format!("/api/v1/manage/{token}")).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (404, Some("data_erased")),
        "{body}"
    );
    assert_eq!(app.get(&format!("/api/v1/manage/{token}/data")).await.0, 404);
    let (s, page) = app.get_text(&format!("/rdv/{token}")).await;
    assert_eq!(s, 404);
    assert!(
        page.contains("Vos données ont été effacées à votre demande"),
        "{page}"
    );
    let (s, _) = app
        .post(
            &format!("/api/v1/manage/{token}/erase"),
            &Value::Null,
            "10.31.0.3",
        )
        .await;
    assert_eq!(s, 404);
    // No name, address or phone anywhere already; the numbers wait for their withdrawal.
    for needle in [
        me.first_name.as_str(),
        me.last_name.as_str(),
        me.email.as_str(),
        me.phone_e164,
    ] {
        assert_eq!(
            columns_containing(&pool, needle).await,
            Vec::<String>::new(),
            "{needle}"
        );
    }
    assert!(
        !columns_containing(&pool, &nums[0]).await.is_empty(),
        "kept for the ANTS withdrawal"
    );
    // The notifier withdraws both numbers at ANTS, with what was kept for it.
    drain_ants(&w).await;
    for n in &nums {
        let deletes = ants
            .calls()
            .into_iter()
            .filter(|c| c.0 == "DELETE" && &c.1 == n)
            .count();
        assert_eq!(deletes, 1, "ANTS told to withdraw {n}: {:?}", ants.calls());
    }
    assert!(ants
        .declarations()
        .iter()
        .all(|d| !nums.contains(&d.application_id)));
    let finished = booking_service::db::citizen_data::finish_erasures(&pool)
        .await
        .unwrap();
    assert_eq!(finished, 1);
    // Then nothing of the person in any text column of any table: names, address (as typed and
    // reduced), phone, numbers, management token.
    let needles = [
        me.first_name.clone(),
        me.last_name.clone(),
        me.email.clone(),
        me.email.split('@').next().unwrap().to_string(),
        me.phone_e164.to_string(),
        me.phone_e164[3..].to_string(),
        nums[0].clone(),
        nums[1].clone(),
        token.clone(),
    ];
    for needle in &needles {
        assert_eq!(
            columns_containing(&pool, needle).await,
            Vec::<String>::new(),
            "{needle}"
        );
    }
    let sealed: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT manage_token_sealed FROM appointments WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(sealed.is_none(), "the sealed token (bytes) goes too");
    // The statistics keep the appointment, with no person.
    let row: (String, String, String, String, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT status, motif, first_name, last_name, email, phone FROM appointments WHERE id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            "cancelled".into(),
            "CNI".into(),
            "anonymisé".into(),
            "anonymisé".into(),
            None,
            None
        )
    );
    // The other person is untouched.
    let (s, still) = app
        .get(&format!(
            "/api/v1/manage/{}",
            kept["manage_token"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (s, still["last_name"].as_str()),
        (200, Some(other.last_name.as_str()))
    );
    assert_eq!(finish_again(&pool).await, 0, "idempotent");
}

async fn finish_again(pool: &PgPool) -> u64 {
    booking_service::db::citizen_data::finish_erasures(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn too_close_to_cancel_online_nothing_is_erased(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let me = citizen("06 12 34 56 75", "+33612345675");
    let a = book_as(
        &app,
        site.id,
        "2026-12-02T09:00:00+01:00",
        &me,
        &me.email,
        &numbers(1),
    )
    .await;
    let token = a["manage_token"].as_str().unwrap();
    // An hour before: past the online deadline (four hours by default).
    app.clock.set(paris(2026, 12, 2, 8, 0, 0));
    let (s, body) = app
        .post(
            &format!("/api/v1/manage/{token}/erase"),
            &Value::Null,
            "10.31.0.4",
        )
        .await;
    assert_eq!(s, 409, "{body}");
    let (s, still) = app.get(&format!("/api/v1/manage/{token}")).await;
    assert_eq!((s, still["status"].as_str()), (200, Some("booked")));
    assert_eq!(still["last_name"], me.last_name.as_str());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_footer_links_to_the_legal_pages_and_erasure_works_in_the_browser(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let me = citizen("06 12 34 56 76", "+33612345676");
    let a = book_as(
        &app,
        site.id,
        "2026-12-02T09:00:00+01:00",
        &me,
        &me.email,
        &numbers(1),
    )
    .await;
    let token = a["manage_token"].as_str().unwrap();
    let axe = axe_source();
    let b = Browser::start("citizen_data").await;
    for (width, height, label) in [(412, 915, "telephone"), (1366, 900, "ordinateur")] {
        b.set_window(width, height).await;
        for (link, title, needle) in [
            (
                "/confidentialite",
                "Données personnelles",
                "mission d'intérêt public",
            ),
            (
                "/mentions-legales",
                "Mentions légales",
                "Directeur de la publication",
            ),
            (
                "/accessibilite",
                "Déclaration d'accessibilité",
                "partiellement conforme",
            ),
        ] {
            // From the home page's footer, by its link.
            b.goto(&format!("{}/", app.base)).await;
            b.click(&format!("footer a[href='{link}']")).await;
            let text = b.wait_for_text(title).await;
            assert!(text.contains(needle), "{link}: {text}");
            assert!(b.url().await.ends_with(link));
            b.shot(&format!("{}-{label}", &link[1..])).await;
            let v = b.axe_violations(&axe).await;
            assert!(v.is_empty(), "{link} at {label}: {v:#?}");
        }
    }
    let acc = app.get_text("/accessibilite").await.1;
    assert!(acc.contains("Défenseur des droits") && acc.contains("axe-core"));
    // The footer is on every page: the management page and a staff page too.
    for path in [format!("/rdv/{token}"), "/agents/connexion".to_string()] {
        let (s, html) = app.get_text(&path).await;
        assert_eq!(s, 200, "{path}");
        for link in ["/confidentialite", "/mentions-legales", "/accessibilite"] {
            assert!(html.contains(&format!("href=\"{link}\"")), "{path} links {link}");
        }
    }
    // Erasure from the management page, through its confirmation step.
    b.set_window(412, 915).await;
    b.goto(&format!("{}/rdv/{token}", app.base)).await;
    let text = b.wait_for_text("Vos données").await;
    assert!(text.contains("Télécharger mes données"));
    b.click(&format!("a[href='/rdv/{token}/effacer']")).await;
    let text = b.wait_for_text("Oui, effacer mes données").await;
    assert!(text.contains("il sera d'abord annulé"), "{text}");
    b.shot("effacer-confirmation").await;
    let v = b.axe_violations(&axe).await;
    assert!(v.is_empty(), "erase page: {v:#?}");
    b.set_window(1366, 900).await;
    b.shot("effacer-confirmation-ordinateur").await;
    b.click("main form button").await;
    let text = b.wait_for_text("Données effacées").await;
    assert!(text.contains("Votre rendez-vous est annulé et vos données sont effacées."));
    b.shot("effacees-ordinateur").await;
    let v = b.axe_violations(&axe).await;
    assert!(v.is_empty(), "erased page: {v:#?}");
    b.set_window(412, 915).await;
    b.shot("effacees-telephone").await;
    let last: Option<String> = sqlx::query_scalar("SELECT email FROM appointments WHERE id = $1::uuid")
        .bind(a["id"].as_str().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(last, None);
    b.goto(&format!("{}/rdv/{token}", app.base)).await;
    b.wait_for_text("Vos données ont été effacées à votre demande")
        .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn retention_also_covers_the_audit_log_staff_sessions_and_ants_declarations(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let now = paris(2026, 11, 30, 7, 0, 0);
    let app = TestApp::spawn(pool.clone(), now).await;
    let me = citizen("06 12 34 56 77", "+33612345677");
    let live_number = numbers(1);
    book_as(
        &app,
        site.id,
        "2026-12-02T09:00:00+01:00",
        &me,
        &me.email,
        &live_number,
    )
    .await;
    let old = now - chrono::Duration::days(400);
    let recent = now - chrono::Duration::days(10);
    let stale_number = numbers(1);
    for (number, at) in [(&stale_number[0], old), (&live_number[0], old)] {
        sqlx::query(
            "INSERT INTO ants_declarations (number, meeting_point_id, appointment_date, management_url, told_at)
             VALUES ($1, $2, '2025-10-01 09:00:00', 'http://rdv.test/rdv/x?application_id=' || $1, $3)
             ON CONFLICT (number) DO UPDATE SET told_at = EXCLUDED.told_at",
        )
        .bind(number)
        .bind(site.id)
        .bind(at)
        .execute(&pool)
        .await
        .unwrap();
    }
    for at in [old, recent] {
        sqlx::query("INSERT INTO audit_log (at, action, details) VALUES ($1, 'login', '{}')")
            .bind(at)
            .execute(&pool)
            .await
            .unwrap();
    }
    let account: Uuid = sqlx::query_scalar(
        "INSERT INTO staff_accounts (id, email, password_hash, role) VALUES ($1, 'agent@example.fr', 'x', 'platform_admin') RETURNING id",
    )
    .bind(Uuid::new_v4())
    .fetch_one(&pool)
    .await
    .unwrap();
    // Expired 40 days ago; revoked 31 days ago (would have lasted); still valid.
    let day = chrono::Duration::days(1);
    for (expires, revoked) in [
        (now - day * 40, None),
        (now + day, Some(now - day * 31)),
        (now + day, None),
    ] {
        sqlx::query(
            "INSERT INTO staff_sessions (token_hash, account_id, created_at, expires_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::new_v4().as_bytes().to_vec())
        .bind(account)
        .bind(now - day * 60)
        .bind(expires)
        .bind(revoked)
        .execute(&pool)
        .await
        .unwrap();
    }
    // Waiting-list subscriptions: one ended long ago, one ended lately, one still open from long ago.
    for (status, updated) in [("expired", old), ("booked", recent), ("waiting", old)] {
        sqlx::query(
            "INSERT INTO waitlist_entries (id, token_hash, manage_token_sealed, site_id, motif, persons, email,
                                           from_day, to_day, status, created_at, updated_at)
             VALUES ($1, $2, '\\x00', $3, 'CNI', 1, 'attente@example.fr', '2025-01-01', '2027-01-01', $4, $5, $5)",
        )
        .bind(Uuid::new_v4())
        .bind(Uuid::new_v4().as_bytes().to_vec())
        .bind(site.id)
        .bind(status)
        .bind(updated)
        .execute(&pool)
        .await
        .unwrap();
    }
    let cutoff = now - chrono::Duration::days(365);
    let purged = booking_service::db::retention::purge_before(&pool, cutoff)
        .await
        .unwrap();
    assert_eq!((purged.ants_declarations, purged.audit_rows), (1, 1));
    assert_eq!(
        purged.waitlist_entries, 1,
        "only the subscription that ended long ago goes"
    );
    let left: Vec<String> = sqlx::query_scalar("SELECT number FROM ants_declarations")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, live_number, "a live appointment's declaration stays");
    let audit_left: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE at < $1")
        .bind(cutoff)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audit_left, 0);
    let sessions = booking_service::db::retention::purge_staff_sessions(
        &pool,
        now - chrono::Duration::days(booking_service::db::retention::SESSION_DAYS),
    )
    .await
    .unwrap();
    assert_eq!(sessions, 2);
    let valid: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM staff_sessions WHERE revoked_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(valid, 1, "the valid session stays");
    let again = booking_service::db::retention::purge_before(&pool, cutoff)
        .await
        .unwrap();
    assert_eq!(
        (again.ants_declarations, again.audit_rows, again.waitlist_entries),
        (0, 0, 0)
    );
}
