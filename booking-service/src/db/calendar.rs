//! Loads what the slot engine needs for one site and a window of local days.

use crate::domain::intervals::Interval;
use crate::domain::slots::{BookingPolicy, ReleaseEvent, SiteCalendar, StationCalendar, WeeklyRule};
use crate::domain::status::AppointmentStatus;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use sqlx::{FromRow, PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

/// A site's booking policy row.
#[derive(Debug, Clone, FromRow)]
pub struct PolicyRow {
    pub min_notice_minutes: i32,
    pub horizon_days: i32,
    pub release_time: NaiveTime,
    pub cancel_deadline_minutes: i32,
    pub slot_step_minutes: i32,
    pub reminder_hours: i32,
}

impl Default for PolicyRow {
    fn default() -> Self {
        Self {
            min_notice_minutes: 120,
            horizon_days: 60,
            release_time: NaiveTime::MIN,
            cancel_deadline_minutes: 240,
            slot_step_minutes: 15,
            reminder_hours: 48,
        }
    }
}

/// The site's policy, or the schema's defaults when it has none.
pub async fn policy<'e>(db: impl PgExecutor<'e>, site_id: Uuid) -> sqlx::Result<PolicyRow> {
    let row = sqlx::query_as(
        "SELECT min_notice_minutes, horizon_days, release_time, cancel_deadline_minutes,
                slot_step_minutes, reminder_hours
         FROM booking_policies WHERE site_id = $1",
    )
    .bind(site_id)
    .fetch_optional(db)
    .await?;
    Ok(row.unwrap_or_default())
}

pub use crate::domain::slots::utc_window;

#[derive(FromRow)]
struct RuleRow {
    station_id: Uuid,
    weekday: i16,
    start_time: NaiveTime,
    end_time: NaiveTime,
    valid_from: NaiveDate,
    valid_until: Option<NaiveDate>,
}

/// A closure (`closure`; station NULL = whole site) or a live appointment.
#[derive(FromRow)]
struct BlockRow {
    closure: bool,
    station_id: Option<Uuid>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

fn weekday(iso: i16) -> Option<Weekday> {
    u8::try_from(iso - 1).ok().and_then(|n| Weekday::try_from(n).ok())
}

/// The engine's view of a site for local days `from..=to`: active stations, their rules, and
/// everything that blocks them (closures of the site or station, live appointments).
/// Takes a connection so that booking can load it inside its transaction, after its locks.
pub async fn load_calendar(
    conn: &mut PgConnection,
    site_id: Uuid,
    tz: Tz,
    department: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> sqlx::Result<SiteCalendar> {
    let (lo, hi) = utc_window(from, to);
    let pol = policy(&mut *conn, site_id).await?;
    let station_ids: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM stations WHERE site_id = $1 AND active ORDER BY name, id")
            .bind(site_id)
            .fetch_all(&mut *conn)
            .await?;
    // By the stations' ids, so that the rules' station index is used (a join on the site let
    // the planner scan every rule of France for each load).
    let rules: Vec<RuleRow> = sqlx::query_as(
        "SELECT station_id, weekday, start_time, end_time, valid_from, valid_until
         FROM opening_rules
         WHERE station_id = ANY ($1)
           AND valid_from <= $3 AND (valid_until IS NULL OR valid_until >= $2)",
    )
    .bind(&station_ids)
    .bind(from)
    .bind(to + Duration::days(1))
    .fetch_all(&mut *conn)
    .await?;
    // Closures (station NULL = whole site), live appointments and live waiting-list offers (a slot
    // offered to a subscriber is theirs until they accept or the offer lapses), in one round trip.
    let blocks: Vec<BlockRow> = sqlx::query_as(&format!(
        "SELECT true AS closure, station_id, lower(during) AS start, upper(during) AS end FROM closures
         WHERE site_id = $1 AND during && tstzrange($2, $3)
         UNION ALL
         SELECT false, station_id, lower(during), upper(during) FROM appointments
         WHERE site_id = $1 AND status IN {} AND during && tstzrange($2, $3)
         UNION ALL
         SELECT false, station_id, lower(during), upper(during) FROM waitlist_offers
         WHERE site_id = $1 AND status = 'offered' AND during && tstzrange($2, $3)",
        AppointmentStatus::LIVE_SQL
    ))
    .bind(site_id)
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await?;
    let events: Vec<(NaiveDate, DateTime<Utc>)> =
        sqlx::query_as("SELECT up_to, release_at FROM release_events WHERE site_id = $1 AND up_to >= $2")
            .bind(site_id)
            .bind(from)
            .fetch_all(&mut *conn)
            .await?;

    let stations = station_ids
        .into_iter()
        .map(|id| StationCalendar {
            station_id: id,
            rules: rules
                .iter()
                .filter(|r| r.station_id == id)
                .filter_map(|r| {
                    Some(WeeklyRule {
                        weekday: weekday(r.weekday)?,
                        start: r.start_time,
                        end: r.end_time,
                        valid_from: r.valid_from,
                        valid_until: r.valid_until,
                    })
                })
                .collect(),
            closed: blocks
                .iter()
                .filter(|b| b.closure && b.station_id.is_none_or(|s| s == id))
                .filter_map(|b| Interval::new(b.start, b.end))
                .collect(),
            blocked: blocks
                .iter()
                .filter(|b| !b.closure && b.station_id == Some(id))
                .filter_map(|b| Interval::new(b.start, b.end))
                .collect(),
        })
        .collect();
    Ok(SiteCalendar {
        tz,
        department: department.to_string(),
        policy: BookingPolicy {
            min_notice: Duration::minutes(i64::from(pol.min_notice_minutes)),
            horizon_days: u32::try_from(pol.horizon_days).unwrap_or(1),
            release_time: pol.release_time,
            release_events: events
                .into_iter()
                .map(|(up_to, at)| ReleaseEvent { up_to, at })
                .collect(),
            step_minutes: u32::try_from(pol.slot_step_minutes).unwrap_or(15),
        },
        stations,
    })
}

/// The last local date anything can be booked at a site, seen from `today`: the rolling horizon,
/// or a release event reaching further.
pub async fn booking_horizon_end(pool: &PgPool, site_id: Uuid, today: NaiveDate) -> sqlx::Result<NaiveDate> {
    let pol = policy(pool, site_id).await?;
    let event_end: Option<NaiveDate> =
        sqlx::query_scalar("SELECT max(up_to) FROM release_events WHERE site_id = $1")
            .bind(site_id)
            .fetch_one(pool)
            .await?;
    let rolling = today + Duration::days(i64::from(pol.horizon_days));
    Ok(event_end.map_or(rolling, |e| e.max(rolling)))
}

/// One local day of a site's calendar, on a connection of its own.
pub async fn load_day(
    pool: &PgPool,
    site_id: Uuid,
    tz: Tz,
    department: &str,
    day: NaiveDate,
) -> sqlx::Result<SiteCalendar> {
    let mut conn = pool.acquire().await?;
    load_calendar(&mut conn, site_id, tz, department, day, day).await
}
