//! A granted hold is a promise: while it is live, its confirmation never answers "slot taken",
//! even when the holds and confirmations of a rush are spread over several instances sharing one
//! database and one Redis. The database still decides every booking (no overlap by SQL) and a rush
//! larger than the supply books every slot exactly once.

use e2e_tests::{email, hm, numbers, overlapping_pairs, paris, SiteBuilder, TestApp};
use futures::future::join_all;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

/// Instances of the service, each with its own pool, over one database and one Redis prefix.
const INSTANCES: usize = 3;
/// Concurrent clients per round (each wants one of the round's slots).
const CLIENTS: usize = 36;
/// Rounds, each on its own day (fresh slots).
const ROUNDS: usize = 8;
/// 09:00–10:00 in steps of 15 minutes on one station.
const SLOTS: [(u32, u32); 4] = [(9, 0), (9, 15), (9, 30), (9, 45)];
/// Weekdays of December 2026 (the clock stands on Monday 30 November).
const DAYS: [u32; ROUNDS] = [1, 2, 3, 4, 7, 8, 9, 10];

/// What one client saw.
#[derive(Default)]
struct Outcome {
    holds_won: usize,
    /// Confirmations of a won, live hold answered "slot taken": the broken promise.
    confirm_409: usize,
    booked: usize,
}

/// A random index below `n` (a fresh v4 UUID is random enough for spreading clients).
fn pick(n: usize) -> usize {
    (Uuid::new_v4().as_u128() % n as u128) as usize
}

/// The round's slots in a random order.
fn shuffled(day: u32) -> Vec<String> {
    let mut starts: Vec<String> = SLOTS
        .iter()
        .map(|(h, m)| format!("2026-12-{day:02}T{h:02}:{m:02}:00+01:00"))
        .collect();
    for i in (1..starts.len()).rev() {
        starts.swap(i, pick(i + 1));
    }
    starts
}

/// One client: tries the round's slots in a random order, each hold on a random instance and its
/// confirmation on another random instance, until one is booked or every slot was tried.
async fn client(apps: &[TestApp], site: Uuid, day: u32, address: String) -> Outcome {
    let mut out = Outcome::default();
    for start in shuffled(day) {
        let app = &apps[pick(apps.len())];
        let (status, hold) = app.hold(site, "CNI", 1, &start, &address).await;
        if status != 201 {
            assert_eq!(status, 409, "hold: {hold}");
            assert_eq!(hold["error"]["code"], "slot_unavailable", "{hold}");
            continue;
        }
        out.holds_won += 1;
        let token = hold["hold_id"].as_str().expect("hold_id").to_string();
        let app = &apps[pick(apps.len())];
        let (status, body) = app.confirm(&token, &email(), &numbers(1)).await;
        match status {
            201 => {
                out.booked += 1;
                break;
            }
            409 => {
                assert_eq!(body["error"]["code"], "slot_unavailable", "{body}");
                out.confirm_409 += 1;
            }
            other => panic!("confirmation answered {other}: {body}"),
        }
    }
    out
}

async fn booked_on(pool: &PgPool, site: Uuid, day: u32) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM appointments
         WHERE site_id = $1 AND status = 'booked' AND during && tstzrange($2, $3)",
    )
    .bind(site)
    .bind(paris(2026, 12, day, 0, 0, 0))
    .bind(paris(2026, 12, day, 23, 59, 0))
    .fetch_one(pool)
    .await
    .expect("count")
}

#[sqlx::test(migrations = "../migrations")]
async fn a_won_hold_is_never_refused_at_confirmation_across_three_instances(
    _opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect_with(connect.clone())
        .await
        .expect("pool");
    let site = SiteBuilder::default()
        .weekdays(&[(hm(9, 0), hm(10, 0))])
        .create(&pool)
        .await;
    assert_eq!(site.stations.len(), 1);
    let now = paris(2026, 11, 30, 7, 0, 0);
    let first = TestApp::spawn(pool.clone(), now).await;
    let prefix = first.redis_prefix.clone();
    let mut apps = vec![first];
    for _ in 1..INSTANCES {
        // Its own pool, as a separate process would have, and the same Redis keys.
        let own = PgPoolOptions::new()
            .max_connections(10)
            .connect_with(connect.clone())
            .await
            .expect("pool");
        let prefix = prefix.clone();
        apps.push(TestApp::spawn_with(own, now, move |c| c.redis_key_prefix = prefix).await);
    }

    let (mut won, mut broken) = (0, 0);
    for (round, &day) in DAYS.iter().enumerate() {
        let outcomes = join_all((0..CLIENTS).map(|i| {
            client(
                &apps,
                site.id,
                day,
                format!("10.{}.{}.{}", 20 + round, i / 250, i % 250),
            )
        }))
        .await;
        won += outcomes.iter().map(|o| o.holds_won).sum::<usize>();
        broken += outcomes.iter().map(|o| o.confirm_409).sum::<usize>();
        let booked: usize = outcomes.iter().map(|o| o.booked).sum();
        // Demand exceeds supply: every slot booked, once.
        assert_eq!(booked, SLOTS.len(), "round {round}: confirmations answered 201");
        assert_eq!(
            booked_on(&pool, site.id, day).await,
            SLOTS.len() as i64,
            "round {round}"
        );
    }
    eprintln!("{won} holds won, {broken} of them refused at confirmation");
    assert_eq!(overlapping_pairs(&pool).await, 0);
    assert_eq!(
        broken, 0,
        "{broken} of {won} won holds were answered 409 \"slot taken\" at confirmation"
    );
}
