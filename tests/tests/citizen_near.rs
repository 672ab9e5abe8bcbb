//! Searching from any commune of France, most of which have no station: the nearest equipped
//! sites with their distance and bookable times, on the search page and in the API
//! (`near_commune`). Screenshots: target/browser-screenshots/near-*/.

use booking_service::domain::geo::distance_km;
use e2e_tests::browser::{axe_source, Browser};
use e2e_tests::{paris, TestApp};
use serde_json::Value;
use sqlx::PgPool;

/// Habsheim's position as the kept communes file gives it (GeoNames).
const HABSHEIM: (f64, f64) = (47.72975, 7.41801);

/// The demo's active sites as `(name, latitude, longitude)`, nearest to `from` first.
async fn sites_by_distance(pool: &PgPool, from: (f64, f64)) -> Vec<(String, f64)> {
    let rows: Vec<(String, f64, f64)> =
        sqlx::query_as("SELECT name, latitude, longitude FROM sites WHERE active")
            .fetch_all(pool)
            .await
            .unwrap();
    let mut out: Vec<(String, f64)> = rows
        .into_iter()
        .map(|(n, lat, lon)| (n, distance_km(from.0, from.1, lat, lon)))
        .collect();
    // Sites of one town share its position: the service then lists them by name.
    out.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    out
}

fn km(d: f64) -> String {
    format!("{d:.1} km").replace('.', ",")
}

#[sqlx::test(migrations = "../migrations")]
async fn habsheim_typed_in_the_home_search_shows_the_nearest_sites_with_distance_and_times(pool: PgPool) {
    booking_service::db::seed::seed_demo(&pool).await.unwrap();
    let expected = sites_by_distance(&pool, HABSHEIM).await;
    // Rixheim is the next town: a few kilometres.
    assert_eq!(expected[0].0, "Mairie de Rixheim");
    assert!((2.0..5.0).contains(&expected[0].1), "{expected:?}");
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let axe = axe_source();
    let b = Browser::start("near-habsheim").await;
    b.goto(&format!("{}/", app.base)).await;
    b.type_into("#q", "Habsheim").await;
    b.click("form[role=search] button").await;
    let text = b
        .wait_for_text("Mairies équipées les plus proches de Habsheim")
        .await;
    b.shot("habsheim-telephone").await;
    assert!(!text.contains("Aucune mairie équipée ne correspond"), "{text}");
    assert!(
        text.contains("Le premier créneau libre près de Habsheim"),
        "{text}"
    );
    // The five nearest, in order, each with its distance as computed here.
    let headings = b
        .script(
            "return [...document.querySelectorAll('main h3')].map(h => h.textContent.trim());",
            serde_json::json!([]),
        )
        .await;
    let headings: Vec<&str> = headings
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let want: Vec<&str> = expected.iter().take(5).map(|(n, _)| n.as_str()).collect();
    assert_eq!(headings, want);
    for (name, d) in expected.iter().take(5) {
        assert!(
            text.contains(&format!("À {}", km(*d))),
            "{name} at {} missing: {text}",
            km(*d)
        );
    }
    // Bookable times under the nearest site.
    let buttons = b
        .script(
            "return [...document.querySelectorAll('main h3')][0].nextElementSibling.nextElementSibling\
               .querySelectorAll('button').length;",
            serde_json::json!([]),
        )
        .await;
    assert!(buttons.as_u64().unwrap() >= 1, "{buttons}");
    let violations = b.axe_violations(&axe).await;
    assert!(violations.is_empty(), "{violations:#?}");
    b.set_window(1366, 900).await;
    b.shot("habsheim-bureau").await;
    let violations = b.axe_violations(&axe).await;
    assert!(violations.is_empty(), "{violations:#?}");
    // A time of the nearest site holds it.
    b.click("main h3 + p + ul.slots button").await;
    b.wait_for_text("Ce créneau vous est réservé jusqu'à").await;
    assert!(b.text().await.contains("Rixheim"));
    b.shot("creneau-tenu").await;
}

async fn habsheim_page(app: &TestApp) -> String {
    app.get_text("/recherche?q=Habsheim").await.1
}

#[sqlx::test(migrations = "../migrations")]
async fn names_without_accents_or_case_and_postcodes_find_the_commune(pool: PgPool) {
    booking_service::db::seed::seed_demo(&pool).await.unwrap();
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    for q in ["habsheim", "HABSHEIM", "68440"] {
        let (status, page) = app.get_text(&format!("/recherche?q={q}")).await;
        assert_eq!(status, 200);
        assert!(
            page.contains("Mairies équipées les plus proches de Habsheim (68)"),
            "{q}"
        );
        assert!(page.contains("Mairie de Rixheim"), "{q}");
    }
    // Illzach has a site: its own comes first, at no distance.
    for q in ["Illzach", "illzach"] {
        let (_, page) = app.get_text(&format!("/recherche?q={q}")).await;
        assert!(
            page.contains("Mairies équipées les plus proches de Illzach (68)"),
            "{q}"
        );
        let section = page.find("proches de Illzach").unwrap();
        let h3 = section + page[section..].find("<h3>").unwrap();
        let end = h3 + page[h3..].find("</h3>").unwrap();
        assert!(page[h3..end].contains("Illzach"), "{q}: {}", &page[h3..end]);
        assert!(page.contains("À 0,0 km"), "{q}");
    }
    // Accents typed or not: Chalampé.
    let (_, a) = app.get_text("/recherche?q=chalampe").await;
    let (_, b) = app.get_text("/recherche?q=Chalamp%C3%A9").await;
    assert!(a.contains("proches de Chalampé (68)"), "{a}");
    assert!(b.contains("proches de Chalampé (68)"));
    // A commune far from the service (not a member) still gets the nearest sites, and distances
    // computed here.
    let (_, altkirch) = app.get_text("/recherche?q=Altkirch").await;
    assert!(altkirch.contains("proches de Altkirch (68)"), "{altkirch}");
    let place = booking_service::domain::gazetteer::by_insee("68004").unwrap();
    let expected = sites_by_distance(&pool, (place.latitude, place.longitude)).await;
    assert!(
        altkirch.contains(&format!("À {}", km(expected[0].1))),
        "{altkirch}"
    );
    // Several communes of one name: the most populous, the others offered.
    let (_, sd) = app.get_text("/recherche?q=saint-denis").await;
    assert!(sd.contains("proches de Saint-Denis (974)"), "{sd}");
    assert!(sd.contains("commune=93066"), "{sd}");
    let (_, sd93) = app.get_text("/recherche?q=93200&commune=93066").await;
    assert!(sd93.contains("proches de Saint-Denis (93)"), "{sd93}");
    // A small commune absent from the gazetteer of places sits at its intercommunalité's mean:
    // the page says its distances are approximate.
    use booking_service::domain::gazetteer::{france, Precision};
    let small = france()
        .iter()
        .find(|p| p.department == "68" && p.precision == Precision::Epci && !p.postcodes.is_empty())
        .unwrap();
    let (_, page) = app
        .get_text(&format!(
            "/recherche?q={}&commune={}",
            small.postcodes[0], small.insee_code
        ))
        .await;
    assert!(
        page.contains(&format!("proches de {} (68)", small.name)),
        "{page}"
    );
    assert!(page.contains("Distances approximatives"), "{page}");
    assert!(!habsheim_page(&app).await.contains("Distances approximatives"));
    // Nothing matches: the old answer.
    let (_, none) = app.get_text("/recherche?q=zzzzqqq").await;
    assert!(none.contains("Aucune mairie équipée ne correspond"));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_api_gives_the_earliest_slots_near_a_commune_sorted_by_distance(pool: PgPool) {
    booking_service::db::seed::seed_demo(&pool).await.unwrap();
    let sites: Vec<(uuid::Uuid, f64, f64)> =
        sqlx::query_as("SELECT id, latitude, longitude FROM sites WHERE active")
            .fetch_all(&pool)
            .await
            .unwrap();
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    let (status, body) = app
        .get("/api/v1/availability/earliest?near_commune=68118&limit=30")
        .await;
    assert_eq!(status, 200, "{body}");
    let slots = body["slots"].as_array().unwrap();
    assert!(slots.len() >= 10, "{body}");
    let d: Vec<f64> = slots.iter().map(|s| s["distance_km"].as_f64().unwrap()).collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
    for s in slots {
        let id: uuid::Uuid = s["site_id"].as_str().unwrap().parse().unwrap();
        let (_, lat, lon) = sites.iter().find(|x| x.0 == id).unwrap();
        let want = distance_km(HABSHEIM.0, HABSHEIM.1, *lat, *lon);
        let got = s["distance_km"].as_f64().unwrap();
        assert!((got - want).abs() < 0.006, "{got} vs {want}");
    }
    assert_eq!(slots[0]["commune_name"], "Rixheim");
    assert!((2.0..5.0).contains(&d[0]), "{d:?}");
    // Three at most from each site, in time order within a site.
    let first_site: Vec<&Value> = slots
        .iter()
        .filter(|s| s["site_id"] == slots[0]["site_id"])
        .collect();
    assert!(first_site.len() <= 3);
    assert!(first_site
        .windows(2)
        .all(|w| w[0]["start"].as_str() < w[1]["start"].as_str()));
    // Without near_commune: no distance, as before.
    let (_, plain) = app.get("/api/v1/availability/earliest?limit=3").await;
    assert!(plain["slots"][0].get("distance_km").is_none(), "{plain}");
    // Combined with the other filters.
    let (_, mulhouse) = app
        .get("/api/v1/availability/earliest?near_commune=68118&commune=68224&limit=20")
        .await;
    let m = mulhouse["slots"].as_array().unwrap();
    assert!(!m.is_empty());
    assert!(m.iter().all(|s| s["commune_insee"] == "68224"), "{mulhouse}");
    // Bad codes: JSON 4xx naming the parameter.
    let (status, bad) = app.get("/api/v1/availability/earliest?near_commune=ABC").await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["error"]["code"], "invalid_commune");
    assert_eq!(bad["error"]["field"], "near_commune", "{bad}");
    let (status, unknown) = app.get("/api/v1/availability/earliest?near_commune=99999").await;
    assert_eq!(status, 404, "{unknown}");
    assert_eq!(unknown["error"]["code"], "commune_not_found");
}

#[sqlx::test(migrations = "../migrations")]
async fn autour_de_moi_ranks_the_sites_by_the_browsers_position(pool: PgPool) {
    booking_service::db::seed::seed_demo(&pool).await.unwrap();
    let app = TestApp::spawn(pool.clone(), paris(2026, 11, 30, 7, 0, 0)).await;
    // Without the script, the same search by position.
    let (status, html) = app.get_text("/recherche?lat=47.730&lon=7.418").await;
    assert_eq!(status, 200);
    assert!(html.contains("les plus proches de votre position"), "{html}");
    let expected = sites_by_distance(&pool, (47.730, 7.418)).await;
    let first = html.find(&expected[0].0).expect("the nearest site");
    let second = html.find(&expected[1].0).expect("the second site");
    assert!(first < second, "sites not in distance order");
    let (status, body) = app.get("/recherche?lat=123&lon=7").await;
    assert_eq!(status, 422, "{body}");

    // In a browser: the button appears (the script runs under the CSP), asks the position (the
    // test answers for the citizen: Habsheim's), and lands on the same answer.
    let b = Browser::start("near_me").await;
    b.goto(&format!("{}/", app.base)).await;
    b.wait_for_text("Autour de moi").await;
    b.script(
        "navigator.geolocation.getCurrentPosition = function (ok) { ok({coords: {latitude: 47.7298, longitude: 7.4180}}); };",
        serde_json::json!([]),
    )
    .await;
    b.click("#near-me").await;
    let text = b.wait_for_text("les plus proches de votre position").await;
    assert!(text.contains(&expected[0].0), "{text}");
    assert!(b.url().await.ends_with("/recherche?lat=47.730&lon=7.418"));
    let v = b.axe_violations(&axe_source()).await;
    assert!(v.is_empty(), "{v:#?}");
}
