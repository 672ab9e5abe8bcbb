//! Constraints that settle races, by name, and the one way to tell which one a failed statement
//! hit. The booking service and the registry both map a violation to their domain errors here.

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{Connection, PgConnection, Postgres};
use uuid::Uuid;

/// No two live appointments overlap on one station (exclusion constraint).
pub const APPOINTMENT_NO_OVERLAP: &str = "appointment_no_overlap";
/// One live appointment per pré-demande number (partial unique index).
pub const PRE_DEMANDE_ONE_LIVE: &str = "pre_demande_one_live";
/// A hold books once (primary key of `used_holds`).
pub const USED_HOLDS_PKEY: &str = "used_holds_pkey";
/// A hold books once (unique `hold_ref` on appointments).
pub const APPOINTMENTS_HOLD_REF: &str = "appointments_hold_ref";

/// The name of the constraint a statement violated, if that is why it failed.
pub fn violated(e: &sqlx::Error) -> Option<&str> {
    e.as_database_error().and_then(|d| d.constraint())
}

/// Runs `statement(station)` for each candidate station in turn, each in a savepoint, until one
/// passes the no-overlap constraint; returns that station, or `None` when every one was taken
/// meanwhile. Any other failure ends the loop and is returned as is (the caller maps it).
pub async fn on_first_free_station<'q, F>(
    conn: &mut PgConnection,
    candidates: &[Uuid],
    statement: F,
) -> sqlx::Result<Option<Uuid>>
where
    F: Fn(Uuid) -> Query<'q, Postgres, PgArguments>,
{
    for &station in candidates {
        let mut sp = conn.begin().await?;
        match statement(station).execute(&mut *sp).await {
            Ok(_) => {
                sp.commit().await?;
                return Ok(Some(station));
            }
            Err(e) if violated(&e) == Some(APPOINTMENT_NO_OVERLAP) => sp.rollback().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Like [`on_first_free_station`], for a caller that gives up (rolls back) when every station is
/// taken: the last candidate is tried without a savepoint, two statements fewer (all a one-station
/// site needs). After `Ok(None)` the transaction is aborted and must not be used again.
pub async fn on_first_free_station_or_give_up<'q, F>(
    conn: &mut PgConnection,
    candidates: &[Uuid],
    statement: F,
) -> sqlx::Result<Option<Uuid>>
where
    F: Fn(Uuid) -> Query<'q, Postgres, PgArguments>,
{
    let Some((&last, rest)) = candidates.split_last() else {
        return Ok(None);
    };
    if let Some(station) = on_first_free_station(&mut *conn, rest, &statement).await? {
        return Ok(Some(station));
    }
    match statement(last).execute(&mut *conn).await {
        Ok(_) => Ok(Some(last)),
        Err(e) if violated(&e) == Some(APPOINTMENT_NO_OVERLAP) => Ok(None),
        Err(e) => Err(e),
    }
}
