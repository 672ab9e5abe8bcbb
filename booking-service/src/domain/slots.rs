//! The slot engine: weekly rules, holidays, closures, bookings and the booking policy in, free start
//! instants out. Pure: the caller passes "now" and every input; nothing here reads a clock or a database.
//!
//! A start is offered when
//! - its local date is released (rolling horizon or a release event) and not a public holiday,
//! - its local time is on the site's grid (minutes since local midnight divisible by the step),
//! - it is at least the minimum notice after now,
//! - and **one** station is open and free for the whole duration (fragments of two stations never
//!   add up to one slot).

use super::holidays::HolidayCalendar;
use super::intervals::{covers, normalize, subtract, Interval};
use super::tz::{local_instants, local_range_to_utc, resolve_local};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use uuid::Uuid;

/// One weekly opening range of a station, in the site's local time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyRule {
    /// Day of the week the range applies to.
    pub weekday: Weekday,
    /// Local opening time.
    pub start: NaiveTime,
    /// Local closing time (exclusive); after `start`.
    pub end: NaiveTime,
    /// First local date the rule applies.
    pub valid_from: NaiveDate,
    /// Last local date the rule applies, if it ends.
    pub valid_until: Option<NaiveDate>,
}

impl WeeklyRule {
    /// Whether the rule opens the station on local date `d`.
    pub fn applies_on(&self, d: NaiveDate) -> bool {
        d.weekday() == self.weekday && d >= self.valid_from && self.valid_until.is_none_or(|until| d <= until)
    }
}

/// What the engine knows of one station.
#[derive(Debug, Clone)]
pub struct StationCalendar {
    /// The station's id.
    pub station_id: Uuid,
    /// Its weekly opening rules.
    pub rules: Vec<WeeklyRule>,
    /// Closures of the station and of its site (calendar). Need not be sorted.
    pub closed: Vec<Interval>,
    /// Live appointments and holds on it (bookings). Need not be sorted.
    pub blocked: Vec<Interval>,
}

/// "Openings up to local date `up_to` become bookable at instant `at`" (how a mairie opens a month).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseEvent {
    /// Last local date this event releases.
    pub up_to: NaiveDate,
    /// When it releases them.
    pub at: DateTime<Utc>,
}

/// A site's booking policy, as far as the engine needs it.
#[derive(Debug, Clone)]
pub struct BookingPolicy {
    /// Minimum time between now and a start.
    pub min_notice: Duration,
    /// Rolling horizon H in days: local day d opens at `release_time` on day d − H.
    pub horizon_days: u32,
    /// Local time of the daily rolling release.
    pub release_time: NaiveTime,
    /// Scheduled releases beyond the rolling horizon.
    pub release_events: Vec<ReleaseEvent>,
    /// Grid step in minutes, counted from local midnight.
    pub step_minutes: u32,
}

/// Everything the engine needs to list a site's free starts.
#[derive(Debug, Clone)]
pub struct SiteCalendar {
    /// The site's time zone; rules are in this local time.
    pub tz: Tz,
    /// The site's département code, which decides the public holidays.
    pub department: String,
    /// The booking policy.
    pub policy: BookingPolicy,
    /// The site's active stations.
    pub stations: Vec<StationCalendar>,
}

/// A free start and the end of the appointment that would begin there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    /// First instant of the appointment.
    pub start: DateTime<Utc>,
    /// First instant after it.
    pub end: DateTime<Utc>,
}

/// The instants that can matter to starts on local days `from..=to`: a margin for every offset
/// and for appointments running past midnight.
pub fn utc_window(from: NaiveDate, to: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let lo = (from.and_time(NaiveTime::MIN) - Duration::hours(15)).and_utc();
    let hi = ((to + Duration::days(2)).and_time(NaiveTime::MIN) + Duration::hours(15)).and_utc();
    (lo, hi)
}

/// The first free starts of a site for one duration, holds aside, as computed at some instant:
/// the search across sites orders sites by them and looks closer only at the first few.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstStarts {
    /// Sorted; at most the `k` asked for.
    pub starts: Vec<DateTime<Utc>>,
    /// Fewer than `k` existed over the whole released horizon.
    pub complete: bool,
    /// When a day not released at computation time becomes bookable.
    pub next_release: DateTime<Utc>,
}

impl FirstStarts {
    /// The earliest start still offered (holds aside) at `now`, given the notice: `Some(None)`
    /// when there is none, `None` when this can no longer tell (compute again). Released days
    /// form a prefix that only grows, so a day released since comes after every start kept here:
    /// the first one still in the future remains the first.
    pub fn first_at(&self, now: DateTime<Utc>, min_notice: Duration) -> Option<Option<DateTime<Utc>>> {
        let earliest = now + min_notice;
        match self.starts.iter().find(|s| **s >= earliest) {
            Some(s) => Some(Some(*s)),
            None if self.complete && now < self.next_release => Some(None),
            None => None,
        }
    }
}

impl SiteCalendar {
    /// The instant the rolling horizon releases local day `d`: `release_time` on day d − H.
    pub fn rolling_release_instant(&self, d: NaiveDate) -> DateTime<Utc> {
        let day = d - Duration::days(i64::from(self.policy.horizon_days));
        resolve_local(self.tz, day.and_time(self.policy.release_time))
    }

    /// Whether local day `d` is open for booking at `now`.
    pub fn is_released(&self, d: NaiveDate, now: DateTime<Utc>) -> bool {
        now >= self.rolling_release_instant(d)
            || self
                .policy
                .release_events
                .iter()
                .any(|e| d <= e.up_to && e.at <= now)
    }

    /// The last local day anything can be booked, seen from `today`: the rolling horizon, or a
    /// release event reaching further.
    pub fn horizon_end(&self, today: NaiveDate) -> NaiveDate {
        let rolling = today + Duration::days(i64::from(self.policy.horizon_days));
        self.policy
            .release_events
            .iter()
            .map(|e| e.up_to)
            .fold(rolling, NaiveDate::max)
    }

    /// The part of this calendar that can matter to starts on local days `from..=to`: the same
    /// rules and policy, and only the closures and bookings reaching into those days (with the
    /// margins of [`utc_window`]). Its slots over `from..=to` are the whole calendar's; it is much
    /// cheaper to copy when months of bookings are in memory.
    pub fn window(&self, from: NaiveDate, to: NaiveDate) -> SiteCalendar {
        let (lo, hi) = utc_window(from, to);
        let near = |iv: &&Interval| iv.start < hi && iv.end > lo;
        SiteCalendar {
            tz: self.tz,
            department: self.department.clone(),
            policy: self.policy.clone(),
            stations: self
                .stations
                .iter()
                .map(|st| StationCalendar {
                    station_id: st.station_id,
                    rules: st.rules.clone(),
                    closed: st.closed.iter().filter(near).copied().collect(),
                    blocked: st.blocked.iter().filter(near).copied().collect(),
                })
                .collect(),
        }
    }

    /// The next instant after `now` at which a day is released that was not before: the rolling
    /// horizon's next step or a release event.
    pub fn next_release(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let today = self.local_date(now);
        let h = i64::from(self.policy.horizon_days);
        let rolling = (0..3)
            .map(|k| self.rolling_release_instant(today + Duration::days(h + k)))
            .find(|at| *at > now)
            .unwrap_or(now + Duration::days(1));
        self.policy
            .release_events
            .iter()
            .map(|e| e.at)
            .filter(|at| *at > now)
            .fold(rolling, DateTime::min)
    }

    /// The first `k` free starts for `duration` from `today` to the booking horizon, holds aside:
    /// a lower bound of what a search across sites can find here.
    pub fn first_starts(
        &self,
        today: NaiveDate,
        duration: Duration,
        now: DateTime<Utc>,
        k: usize,
    ) -> FirstStarts {
        let last = self.horizon_end(today);
        let mut starts = Vec::new();
        let mut from = today;
        while from <= last && starts.len() < k {
            let to = (from + Duration::days(13)).min(last);
            starts.extend(
                self.window(from, to)
                    .slots(from, to, duration, now)
                    .into_iter()
                    .take(k - starts.len())
                    .map(|s| s.start),
            );
            from = to + Duration::days(1);
        }
        FirstStarts {
            complete: starts.len() < k,
            starts,
            next_release: self.next_release(now),
        }
    }

    /// Marks `iv` as taken on station `station_id` (a live hold, say); unknown stations are ignored.
    pub fn block(&mut self, station_id: Uuid, iv: Interval) {
        if let Some(st) = self.stations.iter_mut().find(|s| s.station_id == station_id) {
            st.blocked.push(iv);
        }
    }

    /// The local date of an instant at this site.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz).date_naive()
    }

    /// Free intervals of station `idx` over local days `from..=to` (openings minus blocked).
    fn free_intervals(
        &self,
        idx: usize,
        from: NaiveDate,
        to: NaiveDate,
        hol: &mut HolidayCalendar,
    ) -> Vec<Interval> {
        let station = &self.stations[idx];
        let mut open = Vec::new();
        let mut d = from;
        while d <= to {
            if !hol.contains(d) {
                for rule in station.rules.iter().filter(|r| r.applies_on(d)) {
                    open.extend(local_range_to_utc(
                        self.tz,
                        d.and_time(rule.start),
                        d.and_time(rule.end),
                    ));
                }
            }
            d = d.succ_opt().expect("date in range");
        }
        let mut cuts = station.closed.clone();
        cuts.extend_from_slice(&station.blocked);
        subtract(&normalize(open), &normalize(cuts))
    }

    /// The instant of local `midnight` when the day that follows has one offset throughout (24
    /// hours from midnight to midnight, each a single instant); `None` on a day of change.
    fn uniform_day(&self, midnight: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
        let single = |t| match self.tz.from_local_datetime(&t) {
            chrono::LocalResult::Single(x) => Some(x.with_timezone(&Utc)),
            _ => None,
        };
        let start = single(midnight)?;
        let end = single(midnight + Duration::days(1))?;
        (end - start == Duration::days(1)).then_some(start)
    }

    /// Free starts whose local date lies in `from..=to`, sorted, for appointments of `duration`.
    pub fn slots(&self, from: NaiveDate, to: NaiveDate, duration: Duration, now: DateTime<Utc>) -> Vec<Slot> {
        let mut out = Vec::new();
        if from > to || duration <= Duration::zero() || self.stations.is_empty() {
            return out;
        }
        let step = self.policy.step_minutes.clamp(1, 1440);
        let mut hol = HolidayCalendar::new(&self.department);
        // An appointment starting late on `to` may run into the next local day.
        let last_open_day = to.succ_opt().unwrap_or(to);
        let frees: Vec<Vec<Interval>> = (0..self.stations.len())
            .map(|i| self.free_intervals(i, from, last_open_day, &mut hol))
            .collect();
        if frees.iter().all(Vec::is_empty) {
            return out;
        }
        let earliest = now + self.policy.min_notice;
        let mut d = from;
        while d <= to {
            if !hol.contains(d) && self.is_released(d, now) {
                let midnight = d.and_time(NaiveTime::MIN);
                let mut offer = |start: DateTime<Utc>| {
                    if start < earliest {
                        return;
                    }
                    let iv = Interval {
                        start,
                        end: start + duration,
                    };
                    if frees.iter().any(|f| covers(f, &iv)) {
                        out.push(Slot { start, end: iv.end });
                    }
                };
                match self.uniform_day(midnight) {
                    // No change of offset that day: one conversion, then minutes added.
                    Some(utc_midnight) => {
                        for minute in (0..1440).step_by(step as usize) {
                            offer(utc_midnight + Duration::minutes(minute));
                        }
                    }
                    None => {
                        for minute in (0..1440).step_by(step as usize) {
                            for start in local_instants(self.tz, midnight + Duration::minutes(minute)) {
                                offer(start);
                            }
                        }
                    }
                }
            }
            d = d.succ_opt().expect("date in range");
        }
        // The repeated hour of a fall-back day yields its starts out of instant order.
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether `start` is a start that [`SiteCalendar::slots`] offers for `duration` at `now`.
    pub fn is_offered(&self, start: DateTime<Utc>, duration: Duration, now: DateTime<Utc>) -> bool {
        let d = self.local_date(start);
        self.slots(d, d, duration, now).iter().any(|s| s.start == start)
    }

    /// Whether `start` would be offered if no appointment or hold stood in the way: tells "taken"
    /// from "never offered". Closures still count: they are calendar, not bookings.
    pub fn is_offered_ignoring_bookings(
        &self,
        start: DateTime<Utc>,
        duration: Duration,
        now: DateTime<Utc>,
    ) -> bool {
        let mut open = self.clone();
        for st in &mut open.stations {
            st.blocked.clear();
        }
        open.is_offered(start, duration, now)
    }

    /// The stations open (by their rules, outside closures and holidays) for the whole range,
    /// whatever is booked on them.
    pub fn open_stations(&self, start: DateTime<Utc>, duration: Duration) -> Vec<Uuid> {
        let mut open = self.clone();
        for st in &mut open.stations {
            st.blocked.clear();
        }
        open.free_stations(start, duration)
    }

    /// The stations that are open and free for the whole of `[start, start + duration)`, in order.
    pub fn free_stations(&self, start: DateTime<Utc>, duration: Duration) -> Vec<Uuid> {
        let d = self.local_date(start);
        let end_day = self.local_date(start + duration);
        let mut hol = HolidayCalendar::new(&self.department);
        let iv = Interval {
            start,
            end: start + duration,
        };
        (0..self.stations.len())
            .filter(|&i| covers(&self.free_intervals(i, d, end_day, &mut hol), &iv))
            .map(|i| self.stations[i].station_id)
            .collect()
    }
}

#[cfg(test)]
mod tests;
