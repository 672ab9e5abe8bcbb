//! The engine against a deliberately naive reference that walks the time line minute by minute,
//! plus the release and lunch-break cases spelled out by hand.

use super::*;
use crate::domain::holidays::is_public_holiday;
use chrono::{TimeZone, Timelike};
use proptest::prelude::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn policy(step: u32) -> BookingPolicy {
    BookingPolicy {
        min_notice: Duration::zero(),
        horizon_days: 3650,
        release_time: hm(0, 0),
        release_events: vec![],
        step_minutes: step,
    }
}

fn weekday_rules(days: &[Weekday], ranges: &[(NaiveTime, NaiveTime)]) -> Vec<WeeklyRule> {
    days.iter()
        .flat_map(|&weekday| {
            ranges.iter().map(move |&(start, end)| WeeklyRule {
                weekday,
                start,
                end,
                valid_from: date(2020, 1, 1),
                valid_until: None,
            })
        })
        .collect()
}

/// Minute-by-minute reference: a start is offered iff, walking every minute of the candidate
/// appointment, one station's rule for that minute's local date and time opens it and nothing blocks it.
fn reference(
    cal: &SiteCalendar,
    from: NaiveDate,
    to: NaiveDate,
    duration_min: i64,
    now: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let lo = (from.and_time(NaiveTime::MIN) - Duration::hours(15)).and_utc();
    let hi = ((to + Duration::days(2)).and_time(NaiveTime::MIN) + Duration::hours(15)).and_utc();
    let n = (hi - lo).num_minutes() as usize;
    let minute = |i: usize| lo + Duration::minutes(i as i64);
    // prefix[s][i] = number of open minutes among the first i minutes, for station s.
    let prefix: Vec<Vec<usize>> = cal
        .stations
        .iter()
        .map(|st| {
            let mut p = vec![0usize; n + 1];
            for i in 0..n {
                let u = minute(i);
                let local = u.with_timezone(&cal.tz).naive_local();
                let open = !is_public_holiday(&cal.department, local.date())
                    && st.rules.iter().any(|r| {
                        r.applies_on(local.date()) && r.start <= local.time() && local.time() < r.end
                    })
                    && !st
                        .blocked
                        .iter()
                        .chain(&st.closed)
                        .any(|b| b.start <= u && u < b.end);
                p[i + 1] = p[i] + usize::from(open);
            }
            p
        })
        .collect();
    let dur = duration_min as usize;
    let mut out = Vec::new();
    for i in 0..n.saturating_sub(dur) {
        let u = minute(i);
        let local = u.with_timezone(&cal.tz).naive_local();
        let d = local.date();
        let mod_ok =
            (local.hour() * 60 + local.minute()) % cal.policy.step_minutes == 0 && local.second() == 0;
        if d < from || d > to || !mod_ok || !cal.is_released(d, now) || u < now + cal.policy.min_notice {
            continue;
        }
        if prefix.iter().any(|p| p[i + dur] - p[i] == dur) {
            out.push(u);
        }
    }
    out
}

prop_compose! {
    fn arb_rule(anchor: NaiveDate)(
        wd in 0u32..7,
        start in 0u32..288,
        len in 1u32..160,
        from_off in -12i64..4,
        until in proptest::option::of(-2i64..6),
    ) -> WeeklyRule {
        let start_min = start * 5;
        let end_min = (start_min + len * 5).min(23 * 60 + 59);
        let start_min = start_min.min(end_min - 1);
        WeeklyRule {
            weekday: Weekday::try_from(wd as u8).unwrap(),
            start: hm(start_min / 60, start_min % 60),
            end: hm(end_min / 60, end_min % 60),
            valid_from: anchor + Duration::days(from_off),
            valid_until: until.map(|u| anchor + Duration::days(u)),
        }
    }
}

prop_compose! {
    fn arb_block(anchor: NaiveDate)(start in 0i64..(8 * 288), len in 1i64..700) -> Interval {
        let s = (anchor - Duration::days(3)).and_time(NaiveTime::MIN).and_utc() + Duration::minutes(start * 5);
        Interval::new(s, s + Duration::minutes(len * 5)).unwrap()
    }
}

fn arb_station(anchor: NaiveDate) -> impl Strategy<Value = StationCalendar> {
    (
        proptest::collection::vec(arb_rule(anchor), 0..6),
        proptest::collection::vec(arb_block(anchor), 0..3),
        proptest::collection::vec(arb_block(anchor), 0..3),
    )
        .prop_map(|(rules, closed, blocked)| StationCalendar {
            station_id: Uuid::new_v4(),
            rules,
            closed,
            blocked,
        })
}

/// DST days of Paris and Miquelon, Easter-related holidays, Christmas, and ordinary weeks.
const ANCHORS: &[(i32, u32, u32)] = &[
    (2026, 3, 29),
    (2026, 10, 25),
    (2026, 3, 8),
    (2026, 11, 1),
    (2026, 4, 3),
    (2026, 5, 14),
    (2026, 12, 25),
    (2027, 3, 28),
    (2026, 12, 2),
];

fn arb_case() -> impl Strategy<Value = (SiteCalendar, NaiveDate, NaiveDate, i64, DateTime<Utc>)> {
    (0..ANCHORS.len()).prop_flat_map(|a| {
        let (y, m, d) = ANCHORS[a];
        let anchor = date(y, m, d);
        (
            prop_oneof![
                Just(chrono_tz::Europe::Paris),
                Just(chrono_tz::America::Miquelon),
                Just(chrono_tz::Indian::Reunion)
            ],
            prop_oneof![Just("68"), Just("75"), Just("974"), Just("975")],
            proptest::collection::vec(arb_station(anchor), 1..4),
            prop_oneof![Just(5u32), Just(10), Just(15), Just(20), Just(30)],
            prop_oneof![
                Just(10i64),
                Just(15),
                Just(20),
                Just(30),
                Just(45),
                Just(60),
                Just(90)
            ],
            -2i64..2,
            0i64..4,
            0i64..(7 * 96),
            prop_oneof![Just(0i64), Just(60), Just(120), Just(1440)],
            (0u32..6, 0u32..96),
            proptest::option::of((-2i64..5, 0i64..(5 * 96))),
        )
            .prop_map(
                move |(tz, dept, stations, step, dur, from_off, span, now_q, notice, (h, rt), event)| {
                    let from = anchor + Duration::days(from_off);
                    let to = from + Duration::days(span);
                    let base = (anchor - Duration::days(3)).and_time(NaiveTime::MIN).and_utc();
                    let now = base + Duration::minutes(now_q * 15);
                    let release_events = event
                        .map(|(up, at)| {
                            vec![ReleaseEvent {
                                up_to: anchor + Duration::days(up),
                                at: base + Duration::minutes(at * 15),
                            }]
                        })
                        .unwrap_or_default();
                    let cal = SiteCalendar {
                        tz,
                        department: dept.to_string(),
                        policy: BookingPolicy {
                            min_notice: Duration::minutes(notice),
                            horizon_days: h,
                            release_time: hm(rt / 4, (rt % 4) * 15),
                            release_events,
                            step_minutes: step,
                        },
                        stations,
                    };
                    (cal, from, to, dur, now)
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_minute_by_minute_reference((cal, from, to, dur, now) in arb_case()) {
        let got: Vec<DateTime<Utc>> = cal.slots(from, to, Duration::minutes(dur), now).iter().map(|s| s.start).collect();
        let want = reference(&cal, from, to, dur, now);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn a_window_offers_what_the_whole_calendar_offers((cal, from, to, dur, now) in arb_case()) {
        let d = Duration::minutes(dur);
        prop_assert_eq!(cal.window(from, to).slots(from, to, d, now), cal.slots(from, to, d, now));
    }

    #[test]
    fn first_starts_are_the_first_slots_up_to_the_horizon((cal, from, _to, dur, now) in arb_case()) {
        let d = Duration::minutes(dur);
        let all: Vec<DateTime<Utc>> =
            cal.slots(from, cal.horizon_end(from), d, now).into_iter().map(|s| s.start).take(3).collect();
        let f = cal.first_starts(from, d, now, 3);
        prop_assert_eq!(&f.starts, &all);
        prop_assert_eq!(f.complete, all.len() < 3);
    }

    #[test]
    fn first_starts_stay_exact_as_time_passes((cal, _from, _to, dur, now) in arb_case(), later in 0i64..(3 * 96)) {
        // Computed once, asked later: when it answers, it answers what a fresh computation would.
        let d = Duration::minutes(dur);
        let memo = cal.first_starts(cal.local_date(now), d, now, 3);
        let now2 = now + Duration::minutes(later * 15);
        let today2 = cal.local_date(now2);
        let truth = cal.slots(today2, cal.horizon_end(today2), d, now2).first().map(|s| s.start);
        if let Some(first) = memo.first_at(now2, cal.policy.min_notice) {
            prop_assert_eq!(first, truth);
        }
    }

    #[test]
    fn every_offered_start_has_a_free_station((cal, from, to, dur, now) in arb_case()) {
        for s in cal.slots(from, to, Duration::minutes(dur), now) {
            prop_assert_eq!(s.end - s.start, Duration::minutes(dur));
            prop_assert!(!cal.free_stations(s.start, Duration::minutes(dur)).is_empty());
            prop_assert!(cal.is_offered(s.start, Duration::minutes(dur), now));
        }
    }
}

fn paris_site(stations: Vec<StationCalendar>, step: u32) -> SiteCalendar {
    SiteCalendar {
        tz: chrono_tz::Europe::Paris,
        department: "68".into(),
        policy: policy(step),
        stations,
    }
}

fn paris(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Paris
        .with_ymd_and_hms(y, m, d, h, mi, s)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn lunch_break_splits_the_day_and_no_slot_straddles_it() {
    let st = StationCalendar {
        station_id: Uuid::new_v4(),
        rules: weekday_rules(
            &[Weekday::Wed],
            &[(hm(8, 30), hm(12, 0)), (hm(13, 30), hm(17, 0))],
        ),
        closed: vec![],
        blocked: vec![],
    };
    let cal = paris_site(vec![st], 15);
    let now = paris(2026, 11, 30, 0, 0, 0);
    let slots = cal.slots(date(2026, 12, 2), date(2026, 12, 2), Duration::minutes(30), now);
    let starts: Vec<String> = slots
        .iter()
        .map(|s| {
            s.start
                .with_timezone(&chrono_tz::Europe::Paris)
                .format("%H:%M")
                .to_string()
        })
        .collect();
    assert_eq!(starts.first().unwrap(), "08:30");
    assert!(starts.contains(&"11:30".to_string()));
    assert!(!starts.contains(&"11:45".to_string()), "would run into lunch");
    assert!(!starts.contains(&"12:00".to_string()));
    assert!(starts.contains(&"13:30".to_string()));
    assert_eq!(starts.last().unwrap(), "16:30");
    assert_eq!(starts.len(), 13 + 13);
}

#[test]
fn complementary_fragments_of_two_stations_never_make_a_slot() {
    // Station A open 09:00–09:15, station B open 09:15–09:30: a 30-minute appointment fits neither.
    let a = StationCalendar {
        station_id: Uuid::new_v4(),
        rules: weekday_rules(&[Weekday::Wed], &[(hm(9, 0), hm(9, 15))]),
        closed: vec![],
        blocked: vec![],
    };
    let b = StationCalendar {
        station_id: Uuid::new_v4(),
        rules: weekday_rules(&[Weekday::Wed], &[(hm(9, 15), hm(9, 30))]),
        closed: vec![],
        blocked: vec![],
    };
    let cal = paris_site(vec![a, b], 15);
    let now = paris(2026, 11, 30, 0, 0, 0);
    assert!(cal
        .slots(date(2026, 12, 2), date(2026, 12, 2), Duration::minutes(30), now)
        .is_empty());
    assert_eq!(
        cal.slots(date(2026, 12, 2), date(2026, 12, 2), Duration::minutes(15), now)
            .len(),
        2
    );
}

#[test]
fn a_day_is_offered_exactly_at_its_release_instant() {
    // Horizon 30 days, release at 08:00: Wednesday 30 December 2026 opens on 30 November at 08:00.
    let st = StationCalendar {
        station_id: Uuid::new_v4(),
        rules: weekday_rules(&[Weekday::Wed], &[(hm(9, 0), hm(12, 0))]),
        closed: vec![],
        blocked: vec![],
    };
    let mut cal = paris_site(vec![st], 15);
    cal.policy.horizon_days = 30;
    cal.policy.release_time = hm(8, 0);
    let day = date(2026, 12, 30);
    let before = paris(2026, 11, 30, 7, 59, 59);
    let at = paris(2026, 11, 30, 8, 0, 0);
    assert!(cal.slots(day, day, Duration::minutes(15), before).is_empty());
    assert_eq!(cal.slots(day, day, Duration::minutes(15), at).len(), 12);
    // A release event opens 6 January early, at 10:00 on 1 December, and not a second sooner.
    let later = date(2027, 1, 6);
    cal.policy.release_events.push(ReleaseEvent {
        up_to: date(2027, 1, 31),
        at: paris(2026, 12, 1, 10, 0, 0),
    });
    assert!(cal
        .slots(later, later, Duration::minutes(15), paris(2026, 12, 1, 9, 59, 59))
        .is_empty());
    assert_eq!(
        cal.slots(later, later, Duration::minutes(15), paris(2026, 12, 1, 10, 0, 0))
            .len(),
        12
    );
}

#[test]
fn holidays_and_multi_day_closures_remove_slots() {
    let st = StationCalendar {
        station_id: Uuid::new_v4(),
        rules: weekday_rules(
            &[Weekday::Thu, Weekday::Fri, Weekday::Mon, Weekday::Tue],
            &[(hm(9, 0), hm(11, 0))],
        ),
        blocked: vec![],
        // Closed from Monday 28 December 10:00 to Tuesday 29 December 10:00 (a training course).
        closed: vec![Interval::new(paris(2026, 12, 28, 10, 0, 0), paris(2026, 12, 29, 10, 0, 0)).unwrap()],
    };
    let cal = paris_site(vec![st], 60);
    let now = paris(2026, 12, 1, 0, 0, 0);
    let slots = cal.slots(date(2026, 12, 24), date(2026, 12, 29), Duration::minutes(60), now);
    let local: Vec<String> = slots
        .iter()
        .map(|s| {
            s.start
                .with_timezone(&chrono_tz::Europe::Paris)
                .format("%d %H:%M")
                .to_string()
        })
        .collect();
    // Christmas (Friday) is national; 26 December is a Saturday; Thursday 24 is open.
    assert_eq!(local, vec!["24 09:00", "24 10:00", "28 09:00", "29 10:00"]);
}

#[test]
fn minimum_notice_hides_starts_that_are_too_soon() {
    let st = StationCalendar {
        station_id: Uuid::new_v4(),
        rules: weekday_rules(&[Weekday::Wed], &[(hm(9, 0), hm(12, 0))]),
        closed: vec![],
        blocked: vec![],
    };
    let mut cal = paris_site(vec![st], 30);
    cal.policy.min_notice = Duration::hours(2);
    let now = paris(2026, 12, 2, 8, 10, 0);
    let slots = cal.slots(date(2026, 12, 2), date(2026, 12, 2), Duration::minutes(30), now);
    assert_eq!(slots.first().unwrap().start, paris(2026, 12, 2, 10, 30, 0));
}

#[test]
fn fall_back_night_offers_both_repeated_starts_in_instant_order() {
    // A night opening across the repeated hour (unusual, but the engine must not care).
    let st = StationCalendar {
        station_id: Uuid::new_v4(),
        rules: weekday_rules(&[Weekday::Sun], &[(hm(1, 0), hm(4, 0))]),
        closed: vec![],
        blocked: vec![],
    };
    let cal = paris_site(vec![st], 30);
    let now = paris(2026, 10, 1, 0, 0, 0);
    let d = date(2026, 10, 25);
    let slots = cal.slots(d, d, Duration::minutes(30), now);
    // Four real hours: eight half-hour starts, strictly increasing.
    assert_eq!(slots.len(), 8);
    assert!(slots.windows(2).all(|w| w[0].start < w[1].start));
}
