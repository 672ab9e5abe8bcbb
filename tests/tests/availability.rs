//! Availability through HTTP against real PostgreSQL.

use e2e_tests::{hm, insert_appointment, paris, starts, SiteBuilder, TestApp};
use sqlx::PgPool;

const DAY: &str = "from=2026-12-02&to=2026-12-02";

#[sqlx::test(migrations = "../migrations")]
async fn availability_excludes_booked_ranges_but_not_cancelled_ones(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let st = site.stations[0];
    insert_appointment(
        &pool,
        site.id,
        st,
        paris(2026, 12, 2, 10, 0, 0),
        paris(2026, 12, 2, 10, 30, 0),
        "booked",
    )
    .await;
    insert_appointment(
        &pool,
        site.id,
        st,
        paris(2026, 12, 2, 11, 0, 0),
        paris(2026, 12, 2, 11, 15, 0),
        "cancelled",
    )
    .await;
    insert_appointment(
        &pool,
        site.id,
        st,
        paris(2026, 12, 2, 11, 30, 0),
        paris(2026, 12, 2, 11, 45, 0),
        "checked_in",
    )
    .await;
    let app = TestApp::spawn(pool, paris(2026, 11, 30, 7, 0, 0)).await;
    let (status, body) = app
        .get(&format!(
            "/api/v1/sites/{}/availability?motif=CNI&persons=1&{DAY}",
            site.id
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let s = starts(&body);
    assert!(s.contains(&"2026-12-02T09:45:00+01:00".to_string()));
    assert!(!s.contains(&"2026-12-02T10:00:00+01:00".to_string()));
    assert!(!s.contains(&"2026-12-02T10:15:00+01:00".to_string()));
    assert!(s.contains(&"2026-12-02T10:30:00+01:00".to_string()));
    assert!(
        s.contains(&"2026-12-02T11:00:00+01:00".to_string()),
        "a cancelled appointment frees its slot"
    );
    assert!(
        !s.contains(&"2026-12-02T11:30:00+01:00".to_string()),
        "a checked-in appointment still holds its slot"
    );
    assert_eq!(s.len(), 12 - 2 - 1);
    assert_eq!(body["duration_minutes"], 15);
    assert_eq!(body["timezone"], "Europe/Paris");
    // Two persons need 30 minutes: 09:45 no longer fits before the 10:00 booking.
    let (_, body2) = app
        .get(&format!(
            "/api/v1/sites/{}/availability?motif=CNI&persons=2&{DAY}",
            site.id
        ))
        .await;
    let s2 = starts(&body2);
    assert!(s2.contains(&"2026-12-02T09:30:00+01:00".to_string()));
    assert!(!s2.contains(&"2026-12-02T09:45:00+01:00".to_string()));
    assert_eq!(body2["slots"][0]["end"], "2026-12-02T09:30:00+01:00");
}

#[sqlx::test(migrations = "../migrations")]
async fn two_stations_with_complementary_fragments_offer_no_start_that_needs_both(pool: PgPool) {
    let site = SiteBuilder {
        stations: 2,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(10, 0))])
    .create(&pool)
    .await;
    // Station 1 free 09:00–09:30; station 2 free 09:30–10:00.
    insert_appointment(
        &pool,
        site.id,
        site.stations[0],
        paris(2026, 12, 2, 9, 30, 0),
        paris(2026, 12, 2, 10, 0, 0),
        "booked",
    )
    .await;
    insert_appointment(
        &pool,
        site.id,
        site.stations[1],
        paris(2026, 12, 2, 9, 0, 0),
        paris(2026, 12, 2, 9, 30, 0),
        "booked",
    )
    .await;
    let app = TestApp::spawn(pool, paris(2026, 11, 30, 7, 0, 0)).await;
    let (_, two) = app
        .get(&format!("/api/v1/sites/{}/availability?persons=2&{DAY}", site.id))
        .await;
    assert_eq!(
        starts(&two),
        vec!["2026-12-02T09:00:00+01:00", "2026-12-02T09:30:00+01:00"]
    );
    let (_, three) = app
        .get(&format!("/api/v1/sites/{}/availability?persons=3&{DAY}", site.id))
        .await;
    assert!(
        starts(&three).is_empty(),
        "45 minutes fit on neither station: {three}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_day_released_at_eight_is_hidden_at_07_59_59_and_shown_at_08_00_00(pool: PgPool) {
    let site = SiteBuilder {
        horizon_days: 30,
        release_time: hm(8, 0),
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(10, 0))])
    .create(&pool)
    .await;
    // Wednesday 30 December opens 30 days earlier, on 30 November at 08:00 Paris time.
    let app = TestApp::spawn(pool, paris(2026, 11, 30, 7, 59, 59)).await;
    let url = format!(
        "/api/v1/sites/{}/availability?from=2026-12-30&to=2026-12-30",
        site.id
    );
    let (status, before) = app.get(&url).await;
    assert_eq!(status, 200);
    assert!(starts(&before).is_empty(), "{before}");
    app.clock.set(paris(2026, 11, 30, 8, 0, 0));
    let (_, after) = app.get(&url).await;
    assert_eq!(starts(&after).len(), 4);
    assert_eq!(starts(&after)[0], "2026-12-30T09:00:00+01:00");
}

#[sqlx::test(migrations = "../migrations")]
async fn closures_of_site_and_station_and_holidays_remove_slots(pool: PgPool) {
    let site = SiteBuilder {
        stations: 2,
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(9, 0), hm(10, 0))])
    .create(&pool)
    .await;
    // Station 1 broken all Wednesday; the whole site closed Thursday 09:00–09:30.
    sqlx::query("INSERT INTO closures (id, site_id, station_id, during, reason) VALUES (gen_random_uuid(), $1, $2, tstzrange($3, $4), 'panne')")
        .bind(site.id)
        .bind(site.stations[0])
        .bind(paris(2026, 12, 2, 0, 0, 0))
        .bind(paris(2026, 12, 3, 0, 0, 0))
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO closures (id, site_id, during, reason) VALUES (gen_random_uuid(), $1, tstzrange($2, $3), 'formation')")
        .bind(site.id)
        .bind(paris(2026, 12, 3, 9, 0, 0))
        .bind(paris(2026, 12, 3, 9, 30, 0))
        .execute(&pool)
        .await
        .unwrap();
    // Station 2 fully booked on Wednesday: nothing left that day.
    insert_appointment(
        &pool,
        site.id,
        site.stations[1],
        paris(2026, 12, 2, 9, 0, 0),
        paris(2026, 12, 2, 10, 0, 0),
        "booked",
    )
    .await;
    let app = TestApp::spawn(pool, paris(2026, 11, 30, 7, 0, 0)).await;
    let (_, body) = app
        .get(&format!(
            "/api/v1/sites/{}/availability?from=2026-12-02&to=2026-12-03",
            site.id
        ))
        .await;
    assert_eq!(
        starts(&body),
        vec!["2026-12-03T09:30:00+01:00", "2026-12-03T09:45:00+01:00"]
    );
    // Christmas and Saint-Étienne (Alsace-Moselle) are holidays: no slot on 25 or 26 December... nor the weekend.
    let (_, xmas) = app
        .get(&format!(
            "/api/v1/sites/{}/availability?from=2026-12-25&to=2026-12-27",
            site.id
        ))
        .await;
    assert!(starts(&xmas).is_empty(), "{xmas}");
}

#[sqlx::test(migrations = "../migrations")]
async fn every_listed_start_of_the_demo_lies_in_an_opening_and_outside_bookings(pool: PgPool) {
    booking_service::db::seed::seed_demo(&pool).await.unwrap();
    let sites: Vec<(uuid::Uuid,)> = sqlx::query_as("SELECT id FROM sites")
        .fetch_all(&pool)
        .await
        .unwrap();
    // Book something at each site so "outside bookings" is tested too.
    for (site,) in &sites {
        let station: uuid::Uuid =
            sqlx::query_scalar("SELECT id FROM stations WHERE site_id = $1 ORDER BY name LIMIT 1")
                .bind(site)
                .fetch_one(&pool)
                .await
                .unwrap();
        insert_appointment(
            &pool,
            *site,
            station,
            paris(2026, 12, 3, 9, 0, 0),
            paris(2026, 12, 3, 10, 0, 0),
            "booked",
        )
        .await;
    }
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let mut checked = 0;
    for (site,) in &sites {
        let (status, body) = app.get(&format!("/api/v1/sites/{site}/availability?motif=CNI-PASSPORT&persons=1&from=2026-11-30&to=2026-12-13")).await;
        assert_eq!(status, 200);
        for slot in body["slots"].as_array().unwrap() {
            let (start, end) = (slot["start"].as_str().unwrap(), slot["end"].as_str().unwrap());
            // SQL, independently of the engine: some station of the site has a rule whose local
            // range contains the slot, and no live appointment on that station overlaps it.
            let ok: bool = sqlx::query_scalar(
                "SELECT EXISTS (
                   SELECT 1 FROM stations st JOIN opening_rules r ON r.station_id = st.id JOIN sites s ON s.id = st.site_id
                   WHERE st.site_id = $1
                     AND r.weekday = extract(isodow FROM ($2::timestamptz AT TIME ZONE s.timezone))
                     AND ($2::timestamptz AT TIME ZONE s.timezone)::time >= r.start_time
                     AND ($3::timestamptz AT TIME ZONE s.timezone)::time <= r.end_time
                     AND ($2::timestamptz AT TIME ZONE s.timezone)::date = ($3::timestamptz AT TIME ZONE s.timezone)::date
                     AND NOT EXISTS (SELECT 1 FROM appointments a WHERE a.station_id = st.id
                                     AND a.status IN ('booked', 'checked_in') AND a.during && tstzrange($2, $3)))",
            )
            .bind(site)
            .bind(chrono::DateTime::parse_from_rfc3339(start).unwrap())
            .bind(chrono::DateTime::parse_from_rfc3339(end).unwrap())
            .fetch_one(&pool)
            .await
            .unwrap();
            assert!(ok, "{start}–{end} at {site} is outside every opening");
            checked += 1;
        }
    }
    assert!(checked > 500, "only {checked} slots checked");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_demo_lists_39_communes_and_every_equipped_site_has_free_slots(pool: PgPool) {
    booking_service::db::seed::seed_demo(&pool).await.unwrap();
    // Seeding twice changes nothing.
    booking_service::db::seed::seed_demo(&pool).await.unwrap();
    let app = TestApp::spawn(pool, chrono::Utc::now()).await;
    let (status, communes) = app.get("/api/v1/communes").await;
    assert_eq!(status, 200);
    let communes = communes.as_array().unwrap();
    assert_eq!(communes.len(), 39);
    let mulhouse = communes.iter().find(|c| c["insee_code"] == "68224").unwrap();
    assert!(mulhouse["sites"].as_array().unwrap().len() >= 2);
    let site_ids: Vec<String> = communes
        .iter()
        .flat_map(|c| {
            c["sites"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(site_ids.len() >= 6);
    for id in site_ids {
        let (status, body) = app
            .get(&format!("/api/v1/sites/{id}/availability?motif=CNI&persons=1"))
            .await;
        assert_eq!(status, 200);
        assert!(
            !starts(&body).is_empty(),
            "no free slot in the next two weeks at {id}"
        );
    }
    let (_, q) = app.get("/api/v1/communes?q=brunstatt%20didenheim").await;
    assert_eq!(q.as_array().unwrap().len(), 1);
    let (_, q) = app.get("/api/v1/communes?q=Chalamp%C3%A9").await;
    assert_eq!(q[0]["insee_code"], "68064");
    let (_, q) = app.get("/api/v1/communes?postcode=68200").await;
    assert_eq!(q[0]["name"], "Mulhouse");
    let (_, q) = app.get("/api/v1/communes?department=75").await;
    assert!(q.as_array().unwrap().is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn sites_near_a_point_are_sorted_by_distance_and_cut_by_radius(pool: PgPool) {
    booking_service::db::seed::seed_demo(&pool).await.unwrap();
    let app = TestApp::spawn(pool, paris(2026, 11, 30, 7, 0, 0)).await;
    let (_, all) = app.get("/api/v1/sites?near=47.7497,7.40203").await;
    let all = all.as_array().unwrap();
    assert_eq!(all[0]["commune_name"], "Rixheim");
    let d: Vec<f64> = all.iter().map(|s| s["distance_km"].as_f64().unwrap()).collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
    let (_, near) = app.get("/api/v1/sites?near=47.7497,7.40203&radius_km=3").await;
    assert!(near.as_array().unwrap().len() < all.len());
    assert!(near
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["distance_km"].as_f64().unwrap() <= 3.0));
    let (_, m) = app.get("/api/v1/sites?commune=68224").await;
    assert_eq!(m.as_array().unwrap().len(), 3);
    let one = &m[0];
    assert!(one["motifs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["motif"] == "CNI-PASSPORT"));
    let (status, site) = app
        .get(&format!("/api/v1/sites/{}", one["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(site["timezone"], "Europe/Paris");
}

#[sqlx::test(migrations = "../migrations")]
async fn earliest_across_sites_is_sorted_and_respects_filters(pool: PgPool) {
    let a = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(10, 0))])
        .create(&pool)
        .await;
    let b = SiteBuilder {
        insee: "68224",
        ..SiteBuilder::default()
    }
    .weekdays(&[(hm(8, 0), hm(9, 0))])
    .create(&pool)
    .await;
    // Site b is full on Tuesday 1 December; site a has its 09:00 taken.
    insert_appointment(
        &pool,
        b.id,
        b.stations[0],
        paris(2026, 12, 1, 8, 0, 0),
        paris(2026, 12, 1, 9, 0, 0),
        "booked",
    )
    .await;
    insert_appointment(
        &pool,
        a.id,
        a.stations[0],
        paris(2026, 12, 1, 9, 0, 0),
        paris(2026, 12, 1, 9, 15, 0),
        "booked",
    )
    .await;
    let app = TestApp::spawn(pool, paris(2026, 11, 30, 18, 0, 0)).await;
    let (status, body) = app
        .get("/api/v1/availability/earliest?motif=CNI&persons=1&limit=5")
        .await;
    assert_eq!(status, 200, "{body}");
    let slots = body["slots"].as_array().unwrap();
    let got: Vec<(&str, &str)> = slots
        .iter()
        .map(|s| (s["commune_insee"].as_str().unwrap(), s["start"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("68278", "2026-12-01T09:15:00+01:00"),
            ("68278", "2026-12-01T09:30:00+01:00"),
            ("68278", "2026-12-01T09:45:00+01:00"),
            ("68224", "2026-12-02T08:00:00+01:00"),
            ("68224", "2026-12-02T08:15:00+01:00"),
        ]
    );
    let (_, only_b) = app
        .get("/api/v1/availability/earliest?commune=68224&limit=1")
        .await;
    assert_eq!(only_b["slots"][0]["site_id"], b.id.to_string());
    let (_, too_many) = app.get("/api/v1/availability/earliest?persons=9").await;
    assert!(too_many["slots"].as_array().unwrap().is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn slots_around_a_dst_change_carry_the_right_offsets(pool: PgPool) {
    // Paris springs forward on Sunday 29 March 2026: Friday is +01:00, Monday is +02:00.
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(9, 30))])
        .create(&pool)
        .await;
    let app = TestApp::spawn(pool, paris(2026, 3, 1, 0, 0, 0)).await;
    let (_, body) = app
        .get(&format!(
            "/api/v1/sites/{}/availability?from=2026-03-27&to=2026-03-30",
            site.id
        ))
        .await;
    assert_eq!(
        starts(&body),
        vec![
            "2026-03-27T09:00:00+01:00",
            "2026-03-27T09:15:00+01:00",
            "2026-03-30T09:00:00+02:00",
            "2026-03-30T09:15:00+02:00",
        ]
    );
    // Easter 2027 falls on 28 March: Good Friday (Alsace-Moselle) and Easter Monday are closed.
    let (_, easter) = app
        .get(&format!(
            "/api/v1/sites/{}/availability?from=2027-03-26&to=2027-03-29",
            site.id
        ))
        .await;
    assert!(starts(&easter).is_empty(), "{easter}");
}
