//! Rotating `APP_SECRET` without a broken link or a lost hold: instances started with the new
//! secret and the old one as `APP_SECRET_PREVIOUS` accept what the old secret signed and sealed;
//! `reseal` moves every stored sealed value to the new key; then the old secret can go.

use booking_service::config::{Secret, TEST_APP_SECRET};
use booking_service::db::reseal::reseal_all;
use booking_service::secrets::{KeyRing, Sealer};
use e2e_tests::{email, hm, numbers, paris, SiteBuilder, TestApp};
use sqlx::PgPool;

const NEW_SECRET: &str = "the-new-secret-drawn-for-the-rotation-0123456789";

async fn stored_seal(pool: &PgPool, id: &str) -> Vec<u8> {
    sqlx::query_scalar("SELECT manage_token_sealed FROM appointments WHERE id = $1::uuid")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_rotation_keeps_holds_and_links_then_reseal_lets_the_old_secret_go(pool: PgPool) {
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(12, 0))])
        .create(&pool)
        .await;
    let now = paris(2026, 11, 30, 7, 0, 0);
    // Before: the old secret (the harness's).
    let old = TestApp::spawn(pool.clone(), now).await;
    let (s, booked) = old
        .book(
            site.id,
            1,
            "2026-12-02T09:00:00+01:00",
            "10.0.0.1",
            &email(),
            &numbers(1),
        )
        .await;
    assert_eq!(s, 201, "{booked}");
    let token = booked["manage_token"].as_str().unwrap().to_string();
    let id = booked["id"].as_str().unwrap().to_string();
    let (s, held) = old
        .hold(site.id, "CNI", 1, "2026-12-02T09:15:00+01:00", "10.0.0.2")
        .await;
    assert_eq!(s, 201);
    let (s, held_too) = old
        .hold(site.id, "CNI", 1, "2026-12-02T09:30:00+01:00", "10.0.0.3")
        .await;
    assert_eq!(s, 201);

    // Without the old secret, what it signed is refused (the control).
    let forgetful = TestApp::spawn_with(pool.clone(), now, |c| c.app_secret = Secret::new(NEW_SECRET)).await;
    let (s, body) = forgetful
        .confirm(held_too["hold_id"].as_str().unwrap(), &email(), &numbers(1))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("invalid_hold")),
        "{body}"
    );

    // During the rotation: new secret, the old one accepted.
    let rotating = TestApp::spawn_with(pool.clone(), now, |c| {
        c.app_secret = Secret::new(NEW_SECRET);
        c.app_secret_previous = Some(Secret::new(TEST_APP_SECRET));
    })
    .await;
    let (s, body) = rotating
        .confirm(held["hold_id"].as_str().unwrap(), &email(), &numbers(1))
        .await;
    assert_eq!(
        s, 201,
        "a hold signed before the switch is confirmed after it: {body}"
    );
    let new_id = body["id"].as_str().unwrap().to_string();
    // The management link of the first booking still works (its token is looked up by hash).
    let (s, _) = rotating.get(&format!("/api/v1/manage/{token}")).await;
    assert_eq!(s, 200);
    // The notifier, configured the same way, opens both seals for its emails.
    let mut notifier = notifier::config::NotifierConfig::for_tests("postgres://unused", std::env::temp_dir());
    notifier.app_secret = Secret::new(NEW_SECRET);
    notifier.app_secret_previous = Some(Secret::new(TEST_APP_SECRET));
    assert_eq!(
        notifier.sealer().open(&stored_seal(&pool, &id).await).unwrap(),
        token
    );
    assert!(notifier.sealer().open(&stored_seal(&pool, &new_id).await).is_ok());

    // Reseal: the old seal moves to the new key; a second run has nothing left to do.
    let ring = KeyRing::derive(NEW_SECRET, Some(TEST_APP_SECRET));
    let first = reseal_all(&pool, &Sealer::from_ring(&ring)).await.unwrap();
    assert_eq!((first.resealed, first.current, first.unreadable), (1, 1, 0));
    let again = reseal_all(&pool, &Sealer::from_ring(&ring)).await.unwrap();
    assert_eq!((again.resealed, again.current), (0, 2));
    // After: the new secret alone opens every stored seal.
    let after = Sealer::from_ring(&KeyRing::derive(NEW_SECRET, None));
    assert_eq!(after.open(&stored_seal(&pool, &id).await).unwrap(), token);
    let before = Sealer::from_ring(&KeyRing::derive(TEST_APP_SECRET, None));
    assert!(before.open(&stored_seal(&pool, &id).await).is_err());
}
