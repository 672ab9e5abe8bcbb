//! Local wall-clock time ↔ instants, one local day at a time, with DST gaps and repeats handled.
//!
//! Rules are written in a site's local time; a range `[a, b)` of local day `d` means "every instant
//! whose local date is `d` and local time is in `[a, b)`". On a spring-forward day the skipped hour
//! simply has no instants; on a fall-back day the repeated hour has two sets of instants, and a range
//! can even come out as two pieces. Working from the offset pieces of the time line keeps that exact.

use super::intervals::Interval;
use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// The UTC offset, in seconds, in force at instant `at`.
pub fn offset_seconds(tz: Tz, at: DateTime<Utc>) -> i64 {
    i64::from(
        tz.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

fn at_second(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).expect("timestamp in range")
}

/// Splits `[lo, hi)` into pieces of constant UTC offset, as `(start, end, offset_seconds)`.
///
/// Transitions are found by bisection to the second, so the cost is a few dozen offset lookups per
/// transition; the windows used here (about two days) contain at most one in practice.
fn offset_pieces(tz: Tz, lo: DateTime<Utc>, hi: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>, i64)> {
    let mut pieces = Vec::with_capacity(2);
    let mut start = lo;
    while start < hi {
        let off = offset_seconds(tz, start);
        let last = hi - Duration::seconds(1);
        if offset_seconds(tz, last) == off {
            pieces.push((start, hi, off));
            break;
        }
        // Smallest whole second in (start, last] whose offset differs from `off`.
        let (mut good, mut bad) = (start.timestamp(), last.timestamp());
        while bad - good > 1 {
            let mid = good + (bad - good) / 2;
            if offset_seconds(tz, at_second(mid)) == off {
                good = mid;
            } else {
                bad = mid;
            }
        }
        let bad = at_second(bad);
        pieces.push((start, bad, off));
        start = bad;
    }
    pieces
}

/// The instants whose local wall-clock time lies in `[a, b)` (at most two pieces around a DST change).
pub fn local_range_to_utc(tz: Tz, a: NaiveDateTime, b: NaiveDateTime) -> Vec<Interval> {
    if a >= b {
        return Vec::new();
    }
    // Offsets stay within ±15 h, so every matching instant lies in this window.
    let lo = (a - Duration::hours(15)).and_utc();
    let hi = (b + Duration::hours(15)).and_utc();
    let mut out = Vec::with_capacity(1);
    for (p0, p1, off) in offset_pieces(tz, lo, hi) {
        let shift = Duration::seconds(off);
        let start = (a - shift).and_utc().max(p0);
        let end = (b - shift).and_utc().min(p1);
        if let Some(iv) = Interval::new(start, end) {
            match out.last_mut() {
                Some(Interval { end: prev_end, .. }) if *prev_end == iv.start => *prev_end = iv.end,
                _ => out.push(iv),
            }
        }
    }
    out
}

/// Every instant that shows local time `t`: none in a DST gap, two in a repeated hour.
pub fn local_instants(tz: Tz, t: NaiveDateTime) -> impl Iterator<Item = DateTime<Utc>> {
    let (first, second) = match tz.from_local_datetime(&t) {
        LocalResult::Single(x) => (Some(x), None),
        LocalResult::Ambiguous(x, y) => (Some(x), Some(y)),
        LocalResult::None => (None, None),
    };
    first.into_iter().chain(second).map(|x| x.with_timezone(&Utc))
}

/// One instant for a local time, the way calendars resolve it ("compatible"): the earlier of two
/// repeated instants; in a gap, the time shifted forward by the gap's length (02:30 → 03:30 in Paris).
pub fn resolve_local(tz: Tz, t: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&t) {
        LocalResult::Single(x) | LocalResult::Ambiguous(x, _) => x.with_timezone(&Utc),
        LocalResult::None => {
            // In a gap: apply the offset in force a day earlier, i.e. before the change.
            let before = offset_seconds(tz, (t - Duration::hours(26)).and_utc());
            (t - Duration::seconds(before)).and_utc()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn nd(y: i32, m: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        nd(y, m, d, h, mi).and_utc()
    }

    #[test]
    fn spring_forward_drops_the_skipped_hour() {
        // Paris, 29 March 2026: 02:00 → 03:00. 01:00–04:00 local lasts two real hours.
        let r = local_range_to_utc(
            chrono_tz::Europe::Paris,
            nd(2026, 3, 29, 1, 0),
            nd(2026, 3, 29, 4, 0),
        );
        assert_eq!(
            r,
            vec![Interval::new(utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 2, 0)).unwrap()]
        );
        // A range inside the gap has no instants at all.
        assert!(local_range_to_utc(
            chrono_tz::Europe::Paris,
            nd(2026, 3, 29, 2, 10),
            nd(2026, 3, 29, 2, 50)
        )
        .is_empty());
    }

    #[test]
    fn fall_back_repeats_the_hour_and_can_split_a_range() {
        // Paris, 25 October 2026: 03:00 → 02:00. 01:00–04:00 local lasts four real hours.
        let p = chrono_tz::Europe::Paris;
        let r = local_range_to_utc(p, nd(2026, 10, 25, 1, 0), nd(2026, 10, 25, 4, 0));
        assert_eq!(
            r,
            vec![Interval::new(utc(2026, 10, 24, 23, 0), utc(2026, 10, 25, 3, 0)).unwrap()]
        );
        // 02:30–04:00 is 02:30–03:00 summer time, then 02:30–04:00 winter time: two pieces.
        let r = local_range_to_utc(p, nd(2026, 10, 25, 2, 30), nd(2026, 10, 25, 4, 0));
        assert_eq!(
            r,
            vec![
                Interval::new(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 0)).unwrap(),
                Interval::new(utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 3, 0)).unwrap(),
            ]
        );
        assert_eq!(local_instants(p, nd(2026, 10, 25, 2, 30)).count(), 2);
        assert_eq!(local_instants(p, nd(2026, 3, 29, 2, 30)).count(), 0);
    }

    #[test]
    fn miquelon_follows_north_american_dates() {
        // Saint-Pierre-et-Miquelon: UTC−3 → UTC−2 on 8 March 2026 at 02:00 local.
        let m = chrono_tz::America::Miquelon;
        let r = local_range_to_utc(m, nd(2026, 3, 8, 1, 0), nd(2026, 3, 8, 4, 0));
        assert_eq!(
            r,
            vec![Interval::new(utc(2026, 3, 8, 4, 0), utc(2026, 3, 8, 6, 0)).unwrap()]
        );
        // Paris has not changed yet that day: three real hours.
        let p = local_range_to_utc(
            chrono_tz::Europe::Paris,
            nd(2026, 3, 8, 1, 0),
            nd(2026, 3, 8, 4, 0),
        );
        assert_eq!(p[0].end - p[0].start, Duration::hours(3));
    }

    #[test]
    fn resolve_local_is_compatible() {
        let p = chrono_tz::Europe::Paris;
        assert_eq!(resolve_local(p, nd(2026, 3, 29, 2, 30)), utc(2026, 3, 29, 1, 30));
        assert_eq!(
            resolve_local(p, nd(2026, 10, 25, 2, 30)),
            utc(2026, 10, 25, 0, 30)
        );
        assert_eq!(resolve_local(p, nd(2026, 12, 1, 8, 0)), utc(2026, 12, 1, 7, 0));
        assert_eq!(
            resolve_local(chrono_tz::Indian::Reunion, nd(2026, 12, 1, 8, 0)),
            utc(2026, 12, 1, 4, 0)
        );
    }
}
