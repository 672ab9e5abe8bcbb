//! A site's statistics over a period, for its administrators: appointments and no-shows by week,
//! how full each station was (booked time over opening time), the no-show rate and how long
//! ahead people book. The page draws them, the API returns the same figures.

use super::availability::site_tz;
use super::staff_access::administered_site;
use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::stats::{self as db, StatRow};
use crate::db::territory::SiteRow;
use crate::domain::holidays::HolidayCalendar;
use crate::domain::intervals::{normalize, subtract, Interval};
use crate::domain::slots::StationCalendar;
use crate::domain::status::AppointmentStatus;
use crate::domain::tz::{local_range_to_utc, resolve_local};
use crate::staff::StaffUser;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use chrono_tz::Tz;
use uuid::Uuid;

/// The longest period asked at once.
const MAX_DAYS: i64 = 366;

/// One week (Monday to Sunday, local) of a site.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekStats {
    /// Its Monday.
    pub monday: NaiveDate,
    /// Appointments starting that week, cancelled ones left out.
    pub booked: i64,
    /// Appointments that took place or should have (done, no-show, unmarked past).
    pub attended_or_due: i64,
    /// Among them, marked absent.
    pub no_shows: i64,
}

/// How full one station was over the period.
#[derive(Debug, Clone, PartialEq)]
pub struct StationFill {
    pub station_id: Uuid,
    pub name: String,
    /// Opening time (weekly rules, less public holidays and closures), in minutes.
    pub open_minutes: i64,
    /// Time taken by appointments not cancelled, in minutes.
    pub booked_minutes: i64,
    /// `booked / open` (0 when never open).
    pub fill_rate: f64,
}

/// How many appointments were booked this long ahead.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadBucket {
    /// The range, as people say it.
    pub label: &'static str,
    pub count: i64,
}

/// The lead-time ranges, in whole days between the booking and the appointment: `(label, up to)`.
const LEAD_BUCKETS: [(&str, Option<i64>); 6] = [
    ("Le jour même", Some(0)),
    ("1 à 2 jours", Some(2)),
    ("3 à 7 jours", Some(7)),
    ("8 à 14 jours", Some(14)),
    ("15 à 30 jours", Some(30)),
    ("Plus de 30 jours", None),
];

/// A site's figures over local days `from..=to`.
#[derive(Debug, Clone)]
pub struct SiteStats {
    pub site: SiteRow,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Every appointment starting in the period, cancelled ones included.
    pub appointments: i64,
    pub cancelled: i64,
    /// Done, no-show or past and unmarked.
    pub attended_or_due: i64,
    pub no_shows: i64,
    /// `no_shows / attended_or_due` (0 when none).
    pub no_show_rate: f64,
    /// Mean days between booking and appointment, cancelled ones left out.
    pub mean_lead_days: f64,
    pub weeks: Vec<WeekStats>,
    pub stations: Vec<StationFill>,
    pub lead_times: Vec<LeadBucket>,
    /// Citizens on the waiting list who could be offered a slot here now (the site's own list and
    /// subscriptions by commune within their radius).
    pub waitlist_open: i64,
}

/// The figures of a site the caller administers over local days `from..=to` (default: the eight
/// weeks before this one, this one and the next four).
pub async fn site_stats(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> ServiceResult<SiteStats> {
    let site = administered_site(state, staff, site_id).await?;
    let tz = site_tz(&site)?;
    let today = state.clock.now().with_timezone(&tz).date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let from = from.unwrap_or(monday - Duration::weeks(8));
    let to = to.unwrap_or(monday + Duration::weeks(5) - Duration::days(1));
    if to < from || (to - from).num_days() >= MAX_DAYS {
        return Err(ServiceError::malformed(
            "invalid_range",
            "to",
            "Période invalide : la fin après le début, 366 jours au plus.",
        ));
    }
    let lo = resolve_local(tz, from.and_time(NaiveTime::MIN));
    let hi = resolve_local(tz, (to + Duration::days(1)).and_time(NaiveTime::MIN));
    let rows = db::appointments(&state.pool, site.id, lo, hi).await?;
    let mut conn = state.pool.acquire().await?;
    let calendar =
        crate::db::calendar::load_calendar(&mut conn, site.id, tz, &site.department_code, from, to).await?;
    drop(conn);
    let names = crate::db::calendar_admin::stations(&state.pool, site.id).await?;
    let stations = calendar
        .stations
        .iter()
        .map(|st| {
            let name = names
                .iter()
                .find(|n| n.id == st.station_id)
                .map(|n| n.name.clone())
                .unwrap_or_default();
            station_fill(st, name, &rows, tz, &site.department_code, from, to)
        })
        .collect();
    let waitlist_open = super::waitlist::open_count(state, &site).await?;
    let mut stats = compute(site, from, to, tz, &rows, stations);
    stats.waitlist_open = waitlist_open;
    Ok(stats)
}

/// Whether the appointment took place or should have: what a no-show rate is counted over.
fn attended_or_due(s: AppointmentStatus) -> bool {
    matches!(
        s,
        AppointmentStatus::Done | AppointmentStatus::NoShow | AppointmentStatus::Ended
    )
}

fn rate(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The figures from the period's appointments (pure, so it is tested without a database).
fn compute(
    site: SiteRow,
    from: NaiveDate,
    to: NaiveDate,
    tz: Tz,
    rows: &[StatRow],
    stations: Vec<StationFill>,
) -> SiteStats {
    let kept: Vec<&StatRow> = rows
        .iter()
        .filter(|r| r.status != AppointmentStatus::Cancelled)
        .collect();
    let first_monday = from - Duration::days(i64::from(from.weekday().num_days_from_monday()));
    let mut weeks = Vec::new();
    let mut monday = first_monday;
    while monday <= to {
        let week: Vec<&StatRow> = kept
            .iter()
            .copied()
            .filter(|r| {
                let d = r.start_utc.with_timezone(&tz).date_naive();
                d >= monday && d < monday + Duration::weeks(1)
            })
            .collect();
        weeks.push(WeekStats {
            monday,
            booked: week.len() as i64,
            attended_or_due: week.iter().filter(|r| attended_or_due(r.status)).count() as i64,
            no_shows: week
                .iter()
                .filter(|r| r.status == AppointmentStatus::NoShow)
                .count() as i64,
        });
        monday += Duration::weeks(1);
    }
    let mut lead_times: Vec<LeadBucket> = LEAD_BUCKETS
        .iter()
        .map(|(label, _)| LeadBucket { label, count: 0 })
        .collect();
    let mut lead_total = 0.0;
    for r in &kept {
        let booked_on = r.created_at.with_timezone(&tz).date_naive();
        let on = r.start_utc.with_timezone(&tz).date_naive();
        let days = (on - booked_on).num_days().max(0);
        let i = LEAD_BUCKETS
            .iter()
            .position(|(_, up_to)| up_to.is_none_or(|u| days <= u))
            .unwrap_or(LEAD_BUCKETS.len() - 1);
        lead_times[i].count += 1;
        lead_total += (r.start_utc - r.created_at).num_seconds().max(0) as f64 / 86_400.0;
    }
    let attended = rows.iter().filter(|r| attended_or_due(r.status)).count() as i64;
    let no_shows = rows
        .iter()
        .filter(|r| r.status == AppointmentStatus::NoShow)
        .count() as i64;
    SiteStats {
        site,
        from,
        to,
        appointments: rows.len() as i64,
        cancelled: (rows.len() - kept.len()) as i64,
        attended_or_due: attended,
        no_shows,
        no_show_rate: rate(no_shows, attended),
        mean_lead_days: if kept.is_empty() {
            0.0
        } else {
            lead_total / kept.len() as f64
        },
        weeks,
        stations,
        lead_times,
        waitlist_open: 0,
    }
}

/// A station's opening time over local days `from..=to` (its weekly rules on days that are not
/// public holidays, less its closures and the site's) and the time its appointments took.
fn station_fill(
    st: &StationCalendar,
    name: String,
    rows: &[StatRow],
    tz: Tz,
    department: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> StationFill {
    let mut holidays = HolidayCalendar::new(department);
    let mut open = Vec::new();
    let mut d = from;
    while d <= to {
        if !holidays.contains(d) {
            for rule in st.rules.iter().filter(|r| r.applies_on(d)) {
                open.extend(local_range_to_utc(
                    tz,
                    d.and_time(rule.start),
                    d.and_time(rule.end),
                ));
            }
        }
        d += Duration::days(1);
    }
    let open: Vec<Interval> = subtract(&normalize(open), &normalize(st.closed.clone()));
    let minutes = |ivs: &[Interval]| {
        ivs.iter()
            .map(|iv| (iv.end - iv.start).num_minutes())
            .sum::<i64>()
    };
    let open_minutes = minutes(&open);
    let booked_minutes = rows
        .iter()
        .filter(|r| r.station_id == st.station_id && r.status != AppointmentStatus::Cancelled)
        .map(|r| (r.end_utc - r.start_utc).num_minutes())
        .sum::<i64>();
    StationFill {
        station_id: st.station_id,
        name,
        open_minutes,
        booked_minutes,
        fill_rate: rate(booked_minutes, open_minutes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn site() -> SiteRow {
        SiteRow {
            id: Uuid::nil(),
            commune_insee: "68224".into(),
            commune_name: "Mulhouse".into(),
            department_code: "68".into(),
            name: "Mairie".into(),
            address_line: String::new(),
            postcode: "68100".into(),
            city: "Mulhouse".into(),
            latitude: 0.0,
            longitude: 0.0,
            timezone: "Europe/Paris".into(),
            is_demo: false,
            stations: 1,
            noshow_limit: 0,
            noshow_months: 12,
            confirm_hours: 24,
        }
    }

    fn row(day: u32, booked_days_before: i64, status: AppointmentStatus) -> StatRow {
        let start = Utc.with_ymd_and_hms(2026, 12, day, 9, 0, 0).unwrap();
        StatRow {
            station_id: Uuid::nil(),
            start_utc: start,
            end_utc: start + Duration::minutes(15),
            created_at: start - Duration::days(booked_days_before),
            status,
        }
    }

    #[test]
    fn weeks_no_shows_and_lead_times_are_counted_without_the_cancelled() {
        use AppointmentStatus::*;
        let rows = [
            row(1, 0, Done),
            row(2, 3, NoShow),
            row(3, 40, Cancelled),
            row(8, 10, Ended),
            row(9, 1, Booked),
        ];
        let from = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let to = NaiveDate::from_ymd_opt(2026, 12, 13).unwrap();
        let s = compute(site(), from, to, chrono_tz::Europe::Paris, &rows, Vec::new());
        assert_eq!(
            (s.appointments, s.cancelled, s.attended_or_due, s.no_shows),
            (5, 1, 3, 1)
        );
        assert!((s.no_show_rate - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(s.weeks.len(), 2);
        assert_eq!(s.weeks[0].monday, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!((s.weeks[0].booked, s.weeks[0].no_shows), (2, 1));
        assert_eq!((s.weeks[1].booked, s.weeks[1].attended_or_due), (2, 1));
        let counts: Vec<i64> = s.lead_times.iter().map(|b| b.count).collect();
        assert_eq!(counts, vec![1, 1, 1, 1, 0, 0]);
        assert!((s.mean_lead_days - 14.0 / 4.0).abs() < 1e-9);
    }

    #[test]
    fn a_station_is_as_full_as_its_appointments_over_its_opening_less_holidays_and_closures() {
        use crate::domain::slots::WeeklyRule;
        let monday = NaiveDate::from_ymd_opt(2026, 12, 21).unwrap();
        let rule = |wd| WeeklyRule {
            weekday: wd,
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
            valid_from: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
            valid_until: None,
        };
        // Mon 21 to Fri 25 December: Christmas and Saint-Étienne (Alsace) are holidays; Monday's
        // hour is half closed.
        let closed_from = Utc.with_ymd_and_hms(2026, 12, 21, 8, 30, 0).unwrap();
        let st = StationCalendar {
            station_id: Uuid::nil(),
            rules: [
                chrono::Weekday::Mon,
                chrono::Weekday::Tue,
                chrono::Weekday::Wed,
                chrono::Weekday::Thu,
                chrono::Weekday::Fri,
            ]
            .into_iter()
            .map(rule)
            .collect(),
            closed: vec![Interval::new(closed_from, closed_from + Duration::hours(1)).unwrap()],
            blocked: Vec::new(),
        };
        let rows = [
            row(22, 1, AppointmentStatus::Done),
            row(23, 1, AppointmentStatus::Cancelled),
        ];
        let f = station_fill(
            &st,
            "DR 1".into(),
            &rows,
            chrono_tz::Europe::Paris,
            "68",
            monday,
            monday + Duration::days(4),
        );
        // Mon 30 min + Tue, Wed, Thu 60 min each; Friday 25 is Christmas.
        assert_eq!(f.open_minutes, 30 + 60 * 3);
        assert_eq!(f.booked_minutes, 15);
        assert!((f.fill_rate - 15.0 / 210.0).abs() < 1e-9);
    }
}
