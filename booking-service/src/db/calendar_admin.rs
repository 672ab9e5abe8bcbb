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
    sqlx::query_as(&format!(
        "SELECT id, reference, station_id, lower(during) AS start, upper(during) AS \"end\", persons, last_name
         FROM appointments
         WHERE site_id = $1 AND ($2::uuid IS NULL OR station_id = $2) AND status IN {}
           AND during && tstzrange($3, $4)
         ORDER BY lower(during), id",
        AppointmentStatus::LIVE_SQL
    ))
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
    let report = breakdown_in(&mut tx, site, station, from, to, reason, now).await?;
    tx.commit().await?;
    Ok(report)
}

/// [`breakdown`] inside the caller's transaction (which then records its audit row and commits).
pub async fn breakdown_in(
    tx: &mut PgConnection,
    site: Uuid,
    station: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    reason: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<BreakdownReport> {
    lock_site(tx, site).await?;
    let closure_id = Uuid::new_v4();
    insert_closure(tx, closure_id, site, Some(station), from, to, reason, now).await?;
    // Appointments still to come (one already started, or a citizen checked in at the counter, is
    // the staff's to handle in person), locked so a concurrent cancellation cannot change them
    // under the breakdown.
    let hits: Vec<Hit> = sqlx::query_as(
        "SELECT id, reference, station_id, lower(during) AS start, upper(during) AS \"end\", persons, last_name
         FROM appointments
         WHERE site_id = $1 AND station_id = $2 AND status = $6 AND during && tstzrange($3, $4)
           AND lower(during) >= $5
         ORDER BY lower(during), id
         FOR UPDATE",
    )
    .bind(site)
    .bind(station)
    .bind(from)
    .bind(to)
    .bind(now)
    .bind(AppointmentStatus::Booked)
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
        let cal = load_calendar(tx, site, tz, &department, day, day).await?;
        let others: Vec<Uuid> = cal
            .free_stations(hit.start, hit.end - hit.start)
            .into_iter()
            .filter(|s| *s != station)
            .collect();
        // The exclusion constraint has the last word, each station in a savepoint.
        let moved_to = on_first_free_station(tx, &others, |other| {
            sqlx::query("UPDATE appointments SET station_id = $2, updated_at = $3 WHERE id = $1")
                .bind(hit.id)
                .bind(other)
                .bind(now)
        })
        .await?;
        match moved_to {
            Some(s) => report.moved.push((hit.id, s)),
            None => {
                staff_set_status_in(tx, hit.id, AppointmentStatus::Cancelled, Some(reason), now)
                    .await
                    .map_err(|e| match e {
                        super::appointments::BookingError::Db(e) => e,
                        other => sqlx::Error::Protocol(other.to_string()),
                    })?;
                report.cancelled.push(hit.id);
            }
        }
    }
    Ok(report)
}

/// A station as its site's staff see it.
#[derive(Debug, Clone, FromRow)]
pub struct StationRow {
    pub id: Uuid,
    pub name: String,
    pub active: bool,
}

/// A weekly opening range as stored.
#[derive(Debug, Clone, FromRow)]
pub struct RuleRow {
    pub id: Uuid,
    pub station_id: Uuid,
    pub weekday: i16,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
}

/// A closure of a site (or one of its stations).
#[derive(Debug, Clone, FromRow)]
pub struct ClosureRow {
    pub id: Uuid,
    pub station_id: Option<Uuid>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: String,
}

/// "The openings up to `up_to` become bookable at `release_at`".
#[derive(Debug, Clone, FromRow)]
pub struct ReleaseEventRow {
    pub id: Uuid,
    pub up_to: NaiveDate,
    pub release_at: DateTime<Utc>,
}

/// The site's stations, by name.
pub async fn stations(pool: &PgPool, site: Uuid) -> sqlx::Result<Vec<StationRow>> {
    sqlx::query_as("SELECT id, name, active FROM stations WHERE site_id = $1 ORDER BY name")
        .bind(site)
        .fetch_all(pool)
        .await
}

/// The opening rules of the site's stations, by station name, weekday and start.
pub async fn rules(pool: &PgPool, site: Uuid) -> sqlx::Result<Vec<RuleRow>> {
    sqlx::query_as(
        "SELECT r.id, r.station_id, r.weekday, r.start_time, r.end_time, r.valid_from, r.valid_until
         FROM opening_rules r JOIN stations st ON st.id = r.station_id WHERE st.site_id = $1
         ORDER BY st.name, r.weekday, r.start_time",
    )
    .bind(site)
    .fetch_all(pool)
    .await
}

/// The site's closures not over at `now`, by start.
pub async fn closures_not_over(
    pool: &PgPool,
    site: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<ClosureRow>> {
    sqlx::query_as(
        "SELECT id, station_id, lower(during) AS start, upper(during) AS \"end\", reason FROM closures
         WHERE site_id = $1 AND upper(during) > $2 ORDER BY lower(during)",
    )
    .bind(site)
    .bind(now)
    .fetch_all(pool)
    .await
}

/// The site's release events, by release time.
pub async fn release_events(pool: &PgPool, site: Uuid) -> sqlx::Result<Vec<ReleaseEventRow>> {
    sqlx::query_as("SELECT id, up_to, release_at FROM release_events WHERE site_id = $1 ORDER BY release_at")
        .bind(site)
        .fetch_all(pool)
        .await
}

/// Whether `station` belongs to `site`.
pub async fn station_in_site(conn: &mut PgConnection, station: Uuid, site: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM stations WHERE id = $1 AND site_id = $2)")
        .bind(station)
        .bind(site)
        .fetch_one(conn)
        .await
}

/// The site of an opening rule, if the rule exists.
pub async fn site_of_rule(pool: &PgPool, rule: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT st.site_id FROM opening_rules r JOIN stations st ON st.id = r.station_id WHERE r.id = $1",
    )
    .bind(rule)
    .fetch_optional(pool)
    .await
}

/// The site of a station, if the station exists.
pub async fn site_of_station(pool: &PgPool, station: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT site_id FROM stations WHERE id = $1")
        .bind(station)
        .fetch_optional(pool)
        .await
}

/// Stores a new opening rule.
pub async fn insert_rule(conn: &mut PgConnection, id: Uuid, r: &RuleInput) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO opening_rules (id, station_id, weekday, start_time, end_time, valid_from, valid_until) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(r.station_id)
    .bind(r.weekday)
    .bind(r.start_time)
    .bind(r.end_time)
    .bind(r.valid_from)
    .bind(r.valid_until)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces an opening rule.
pub async fn update_rule(conn: &mut PgConnection, id: Uuid, r: &RuleInput) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE opening_rules SET station_id = $2, weekday = $3, start_time = $4, end_time = $5, valid_from = $6, valid_until = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(r.station_id)
    .bind(r.weekday)
    .bind(r.start_time)
    .bind(r.end_time)
    .bind(r.valid_from)
    .bind(r.valid_until)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes an opening rule.
pub async fn delete_rule(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM opening_rules WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores a closure of the site (or of one station) for `[from, to)`.
#[allow(clippy::too_many_arguments)]
pub async fn insert_closure(
    conn: &mut PgConnection,
    id: Uuid,
    site: Uuid,
    station: Option<Uuid>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    reason: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO closures (id, site_id, station_id, during, reason, created_at) VALUES ($1, $2, $3, tstzrange($4, $5), $6, $7)",
    )
    .bind(id)
    .bind(site)
    .bind(station)
    .bind(from)
    .bind(to)
    .bind(reason)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets the site's booking policy (creating it the first time).
pub async fn upsert_policy(
    conn: &mut PgConnection,
    site: Uuid,
    p: &super::calendar::PolicyRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO booking_policies (site_id, min_notice_minutes, horizon_days, release_time, cancel_deadline_minutes, slot_step_minutes, reminder_hours)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (site_id) DO UPDATE SET min_notice_minutes = $2, horizon_days = $3, release_time = $4,
             cancel_deadline_minutes = $5, slot_step_minutes = $6, reminder_hours = $7",
    )
    .bind(site)
    .bind(p.min_notice_minutes)
    .bind(p.horizon_days)
    .bind(p.release_time)
    .bind(p.cancel_deadline_minutes)
    .bind(p.slot_step_minutes)
    .bind(p.reminder_hours)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets the site's no-show policy: `(no-shows, months, confirmation hours)` (0 no-shows: none).
pub async fn set_no_show_policy(
    conn: &mut PgConnection,
    site: Uuid,
    (limit, months, hours): (i32, i32, i32),
) -> sqlx::Result<()> {
    sqlx::query("UPDATE sites SET noshow_limit = $2, noshow_months = $3, confirm_hours = $4 WHERE id = $1")
        .bind(site)
        .bind(limit)
        .bind(months)
        .bind(hours)
        .execute(conn)
        .await?;
    Ok(())
}

/// Schedules a release event.
pub async fn insert_release(
    conn: &mut PgConnection,
    id: Uuid,
    site: Uuid,
    up_to: NaiveDate,
    release_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO release_events (id, site_id, up_to, release_at, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(site)
    .bind(up_to)
    .bind(release_at)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// A period's numbers of a site.
#[derive(Debug, Clone, FromRow)]
pub struct PeriodStats {
    pub booked: i64,
    pub cancelled_by_citizen: i64,
    pub cancelled_by_mairie: i64,
    pub no_shows: i64,
    /// No-shows among appointments that took place or should have (done, no-show, ended).
    pub no_show_rate: f64,
    /// Mean days between booking and appointment.
    pub mean_lead_days: f64,
}

/// The numbers of the site's appointments starting in `[from, to)`.
pub async fn period_stats(
    pool: &PgPool,
    site: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<PeriodStats> {
    sqlx::query_as(
        "SELECT count(*) AS booked,
                count(*) FILTER (WHERE status = 'cancelled' AND cancelled_by = 'citizen') AS cancelled_by_citizen,
                count(*) FILTER (WHERE status = 'cancelled' AND cancelled_by = 'staff') AS cancelled_by_mairie,
                count(*) FILTER (WHERE status = 'no_show') AS no_shows,
                coalesce(count(*) FILTER (WHERE status = 'no_show')::float8
                         / nullif(count(*) FILTER (WHERE status IN ('done', 'no_show', 'ended')), 0), 0) AS no_show_rate,
                coalesce(avg(extract(epoch FROM lower(during) - created_at) / 86400.0), 0)::float8 AS mean_lead_days
         FROM appointments WHERE site_id = $1 AND lower(during) >= $2 AND lower(during) < $3",
    )
    .bind(site)
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await
}

/// Ends, the day before `from`, the station's rules that would still apply on or after `from`
/// (their past stays as it was), and deletes the rules that only start on or after it: the
/// station's week from `from` on is then empty, for a new one to be written.
pub async fn clear_week_from(conn: &mut PgConnection, station: Uuid, from: NaiveDate) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM opening_rules WHERE station_id = $1 AND valid_from >= $2")
        .bind(station)
        .bind(from)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE opening_rules SET valid_until = $2 - 1
         WHERE station_id = $1 AND valid_from < $2 AND coalesce(valid_until, 'infinity'::date) >= $2",
    )
    .bind(station)
    .bind(from)
    .execute(conn)
    .await?;
    Ok(())
}

/// A closure and its site.
#[derive(Debug, Clone, FromRow)]
pub struct SiteClosure {
    pub site_id: Uuid,
    #[sqlx(flatten)]
    pub closure: ClosureRow,
}

/// A closure with its site, locked for a change.
pub async fn closure_for_update(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<SiteClosure>> {
    sqlx::query_as(
        "SELECT site_id, id, station_id, lower(during) AS start, upper(during) AS \"end\", reason
         FROM closures WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Moves a closure's end.
pub async fn set_closure_end(conn: &mut PgConnection, id: Uuid, end: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query("UPDATE closures SET during = tstzrange(lower(during), $2) WHERE id = $1")
        .bind(id)
        .bind(end)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes a closure.
pub async fn delete_closure(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM closures WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether another station of the site already has this name (case and surrounding spaces aside).
pub async fn station_name_taken(
    conn: &mut PgConnection,
    site: Uuid,
    name: &str,
    except: Option<Uuid>,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM stations WHERE site_id = $1 AND lower(btrim(name)) = lower(btrim($2))
                        AND ($3::uuid IS NULL OR id <> $3))",
    )
    .bind(site)
    .bind(name)
    .bind(except)
    .fetch_one(conn)
    .await
}

/// Stores a new (active) station.
pub async fn insert_station(
    conn: &mut PgConnection,
    id: Uuid,
    site: Uuid,
    name: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO stations (id, site_id, name, active, created_at) VALUES ($1, $2, $3, true, $4)")
        .bind(id)
        .bind(site)
        .bind(name)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Renames a station and/or turns it on or off (`None` leaves the value as it is).
pub async fn update_station(
    conn: &mut PgConnection,
    id: Uuid,
    name: Option<&str>,
    active: Option<bool>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE stations SET name = coalesce($2, name), active = coalesce($3, active) WHERE id = $1")
        .bind(id)
        .bind(name)
        .bind(active)
        .execute(conn)
        .await?;
    Ok(())
}

/// A motif's settings at a site as its administrators edit them.
#[derive(Debug, Clone, FromRow)]
pub struct MotifRow {
    pub motif: crate::domain::motif::Motif,
    pub minutes_per_person: i32,
    pub max_persons: i32,
    /// The site's own list (one item per line), or `None` for the default one.
    pub what_to_bring: Option<String>,
}

/// The site's motif settings (the motifs it offers).
pub async fn motif_rows(pool: &PgPool, site: Uuid) -> sqlx::Result<Vec<MotifRow>> {
    let mut rows: Vec<MotifRow> = sqlx::query_as(
        "SELECT motif, minutes_per_person, max_persons, what_to_bring FROM site_motifs WHERE site_id = $1",
    )
    .bind(site)
    .fetch_all(pool)
    .await?;
    rows.sort_by_key(|r| r.motif);
    Ok(rows)
}

/// Sets a motif's settings at a site (offering the motif if it was not).
pub async fn upsert_motif(conn: &mut PgConnection, site: Uuid, m: &MotifRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO site_motifs (site_id, motif, minutes_per_person, max_persons, what_to_bring) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (site_id, motif) DO UPDATE SET minutes_per_person = $3, max_persons = $4, what_to_bring = $5",
    )
    .bind(site)
    .bind(m.motif)
    .bind(m.minutes_per_person)
    .bind(m.max_persons)
    .bind(m.what_to_bring.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

/// The site's own "what to bring" for a motif, one item per line: its list for that motif
/// (`site_motifs`), else its list for every motif (`booking_policies`), else `None`.
pub async fn what_to_bring(
    pool: &PgPool,
    site: Uuid,
    motif: crate::domain::motif::Motif,
) -> sqlx::Result<Option<Vec<String>>> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(string_to_array(m.what_to_bring, E'\\n'), p.what_to_bring)
         FROM sites s
         LEFT JOIN site_motifs m ON m.site_id = s.id AND m.motif = $2
         LEFT JOIN booking_policies p ON p.site_id = s.id
         WHERE s.id = $1",
    )
    .bind(site)
    .bind(motif)
    .fetch_optional(pool)
    .await?
    .flatten())
}

/// The site's list of what to bring for every motif (`booking_policies`), if it has one.
pub async fn site_what_to_bring(pool: &PgPool, site: Uuid) -> sqlx::Result<Option<Vec<String>>> {
    Ok(
        sqlx::query_scalar("SELECT what_to_bring FROM booking_policies WHERE site_id = $1")
            .bind(site)
            .fetch_optional(pool)
            .await?
            .flatten(),
    )
}
