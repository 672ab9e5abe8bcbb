//! Staff changes to a site's calendar: opening rules, closures, and station breakdowns.
//!
//! Every write here takes the site row `FOR UPDATE`; citizen bookings take it `FOR SHARE` and
//! re-check the calendar after their locks, so a booking can never slip into a closure or outside
//! a rule being changed at the same moment. Changes never drop an appointment silently: previews
//! list the live appointments a change would leave outside an opening, and a breakdown moves or
//! cancels (telling the citizen) explicitly.

use super::appointments::staff_set_status_in;
use super::calendar::load_calendar;
use super::constraints::on_first_free_station;
use crate::domain::status::AppointmentStatus;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

/// A live appointment a change would hit.
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct Hit {
    pub id: Uuid,
    pub reference: String,
    pub station_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub persons: i16,
    pub last_name: String,
}

/// Locks the site against concurrent bookings and calendar changes.
pub async fn lock_site(conn: &mut PgConnection, site: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT id FROM sites WHERE id = $1 FOR UPDATE")
        .bind(site)
        .execute(conn)
        .await?;
    Ok(())
}

/// Live appointments of `site` (one station, or all) overlapping `[from, to)`.
pub async fn live_overlapping(
    conn: &mut PgConnection,
    site: Uuid,
    station: Option<Uuid>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<Hit>> {
    sqlx::query_as(
        "SELECT id, reference, station_id, lower(during) AS start, upper(during) AS \"end\", persons, last_name
         FROM appointments
         WHERE site_id = $1 AND ($2::uuid IS NULL OR station_id = $2) AND status IN ('booked', 'checked_in')
           AND during && tstzrange($3, $4)
         ORDER BY lower(during), id",
    )
    .bind(site)
    .bind(station)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}

/// A weekly rule as staff write it.
#[derive(Debug, Clone)]
pub struct RuleInput {
    pub station_id: Uuid,
    pub weekday: i16,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
}

/// Whether another rule of the station overlaps `r` (same weekday, overlapping hours and dates).
pub async fn rule_overlaps(
    conn: &mut PgConnection,
    r: &RuleInput,
    except: Option<Uuid>,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM opening_rules
         WHERE station_id = $1 AND weekday = $2 AND ($7::uuid IS NULL OR id <> $7)
           AND start_time < $4 AND $3 < end_time
           AND valid_from <= coalesce($6, 'infinity'::date) AND $5 <= coalesce(valid_until, 'infinity'::date))",
    )
    .bind(r.station_id)
    .bind(r.weekday)
    .bind(r.start_time)
    .bind(r.end_time)
    .bind(r.valid_from)
    .bind(r.valid_until)
    .bind(except)
    .fetch_one(conn)
    .await
}

/// What a breakdown did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct BreakdownReport {
    pub closure_id: Uuid,
    /// Appointments moved to another station at the same time: `(appointment, new station)`.
    pub moved: Vec<(Uuid, Uuid)>,
    /// Appointments cancelled with an apology (no station free for their whole duration).
    pub cancelled: Vec<Uuid>,
}

/// Marks `station` out of service for `[from, to)`, in one transaction: its live appointments move
/// whole to another station of the site free at the same time when one is, the rest are cancelled
/// with `reason` (the citizen is told and given a link to book again).
pub async fn breakdown(
    pool: &PgPool,
    site: Uuid,
    station: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    reason: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<BreakdownReport> {
    let mut tx = pool.begin().await?;
    lock_site(&mut tx, site).await?;
    let closure_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO closures (id, site_id, station_id, during, reason, created_at) VALUES ($1, $2, $3, tstzrange($4, $5), $6, $7)",
    )
    .bind(closure_id)
    .bind(site)
    .bind(station)
    .bind(from)
    .bind(to)
    .bind(reason)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // Appointments still to come (one already started, or a citizen checked in at the counter, is
    // the staff's to handle in person), locked so a concurrent cancellation cannot change them
    // under the breakdown.
    let hits: Vec<Hit> = sqlx::query_as(
        "SELECT id, reference, station_id, lower(during) AS start, upper(during) AS \"end\", persons, last_name
         FROM appointments
         WHERE site_id = $1 AND station_id = $2 AND status = 'booked' AND during && tstzrange($3, $4)
           AND lower(during) >= $5
         ORDER BY lower(during), id
         FOR UPDATE",
    )
    .bind(site)
    .bind(station)
    .bind(from)
    .bind(to)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let (tz, department): (String, String) = sqlx::query_as(
        "SELECT s.timezone, c.department_code FROM sites s JOIN communes c ON c.insee_code = s.commune_insee WHERE s.id = $1",
    )
    .bind(site)
    .fetch_one(&mut *tx)
    .await?;
    let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::Europe::Paris);
    let mut report = BreakdownReport {
        closure_id,
        ..BreakdownReport::default()
    };
    for hit in hits {
        // Stations open and free for the whole appointment, as the slot engine sees it now
        // (closures, holidays and the moves already made in this transaction included).
        let day = hit.start.with_timezone(&tz).date_naive();
        let cal = load_calendar(&mut tx, site, tz, &department, day, day).await?;
        let others: Vec<Uuid> = cal
            .free_stations(hit.start, hit.end - hit.start)
            .into_iter()
            .filter(|s| *s != station)
            .collect();
        // The exclusion constraint has the last word, each station in a savepoint.
        let moved_to = on_first_free_station(&mut tx, &others, |other| {
            sqlx::query("UPDATE appointments SET station_id = $2, updated_at = $3 WHERE id = $1")
                .bind(hit.id)
                .bind(other)
                .bind(now)
        })
        .await?;
        match moved_to {
            Some(s) => report.moved.push((hit.id, s)),
            None => {
                staff_set_status_in(&mut tx, hit.id, AppointmentStatus::Cancelled, Some(reason), now)
                    .await
                    .map_err(|e| match e {
                        super::appointments::BookingError::Db(e) => e,
                        other => sqlx::Error::Protocol(other.to_string()),
                    })?;
                report.cancelled.push(hit.id);
            }
        }
    }
    tx.commit().await?;
    Ok(report)
}
