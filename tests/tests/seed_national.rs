//! `seed-national`: a France-size territory written into a fresh database, twice (idempotent), with
//! appointments that never overlap, and served at once by the service, overseas sites included.

use booking_service::db::seed_national::{seed_national, NationalOptions};
use e2e_tests::{overlapping_pairs, TestApp};
use sqlx::PgPool;

#[sqlx::test(migrations = "../migrations")]
async fn the_national_seed_is_complete_idempotent_and_served(pool: PgPool) {
    let opts = NationalOptions {
        sites: 150,
        appointments: 3_000,
        seed: 7,
    };
    let first = seed_national(&pool, opts).await.expect("first seed");
    assert_eq!(first.sites, 150);
    assert_eq!(first.appointments, 3_000);
    let second = seed_national(&pool, opts).await.expect("second seed");
    assert_eq!(second, first, "a second run changes nothing");

    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .expect(sql)
        }
    };
    assert!(count("SELECT count(*) FROM communes").await > 34_000);
    assert_eq!(count("SELECT count(*) FROM sites").await, 150);
    assert_eq!(
        count("SELECT count(*) FROM appointments WHERE status = 'booked'").await,
        3_000
    );
    assert_eq!(overlapping_pairs(&pool).await, 0);
    // Every département of the gazetteer has a site, overseas ones with their own zone.
    assert_eq!(
        count(
            "SELECT count(DISTINCT c.department_code) FROM communes c
             WHERE NOT EXISTS (SELECT 1 FROM sites s JOIN communes sc ON sc.insee_code = s.commune_insee
                               WHERE sc.department_code = c.department_code)"
        )
        .await,
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM sites s JOIN communes c ON c.insee_code = s.commune_insee WHERE c.department_code = '974' AND s.timezone = 'Indian/Reunion'").await,
        count("SELECT count(*) FROM sites s JOIN communes c ON c.insee_code = s.commune_insee WHERE c.department_code = '974'").await
    );
    // Versions exist for every site (the triggers were off while writing).
    assert_eq!(
        count("SELECT count(*) FROM sites s WHERE NOT EXISTS (SELECT 1 FROM site_versions v WHERE v.site_id = s.id)").await,
        0
    );

    // The service lists them and finds free starts across France and in La Réunion.
    let app = TestApp::spawn(pool.clone(), chrono::Utc::now()).await;
    let (status, body) = app.get("/api/v1/sites?department=974").await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.as_array().expect("sites").is_empty());
    for q in ["", "&department=974"] {
        let (status, body) = app
            .get(&format!(
                "/api/v1/availability/earliest?motif=CNI&persons=1&limit=5{q}"
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["slots"].as_array().expect("slots").len(), 5, "{q}: {body}");
    }
}
