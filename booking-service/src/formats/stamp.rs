//! Instants written on a site's wall clock, fast: an availability answer or the ANTS hub's
//! 150-day answer writes tens of thousands of them, and chrono's general formatter (a pattern
//! parsed at each call) was a visible share of those answers' time. The outputs are exactly
//! chrono's (`to_rfc3339_opts(Secs, false)` and `%Y-%m-%dT%H:%M:%S`), which a property test checks.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// `at` on the wall clock of `tz`, and the zone's offset from UTC then, in seconds.
fn local(at: DateTime<Utc>, tz: Tz) -> (NaiveDateTime, i32) {
    let offset = tz
        .offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc();
    (at.naive_utc() + Duration::seconds(i64::from(offset)), offset)
}

fn push_two(out: &mut String, n: u32) {
    out.push(char::from(b'0' + (n / 10 % 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// `YYYY-MM-DDTHH:MM:SS` of a wall-clock time (years 0–9999, as every stored date is).
fn push_local(out: &mut String, t: NaiveDateTime) {
    let year = u32::try_from(t.year()).unwrap_or(0).min(9999);
    push_two(out, year / 100);
    push_two(out, year % 100);
    out.push('-');
    push_two(out, t.month());
    out.push('-');
    push_two(out, t.day());
    out.push('T');
    push_two(out, t.hour());
    out.push(':');
    push_two(out, t.minute());
    out.push(':');
    push_two(out, t.second());
}

/// RFC 3339 with the zone's offset, to the second: `2026-12-02T09:00:00+01:00`.
pub fn rfc3339_local(at: DateTime<Utc>, tz: Tz) -> String {
    let mut out = String::with_capacity(25);
    let (t, offset) = local(at, tz);
    push_local(&mut out, t);
    out.push(if offset < 0 { '-' } else { '+' });
    let minutes = offset.unsigned_abs() / 60;
    push_two(&mut out, minutes / 60);
    out.push(':');
    push_two(&mut out, minutes % 60);
    out
}

/// The wall-clock time alone, followed by `suffix` (the ANTS hub's literal `Z`).
pub fn local_with_suffix(at: DateTime<Utc>, tz: Tz, suffix: &str) -> String {
    let mut out = String::with_capacity(19 + suffix.len());
    push_local(&mut out, local(at, tz).0);
    out.push_str(suffix);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SecondsFormat;
    use proptest::prelude::*;

    const ZONES: [Tz; 8] = [
        chrono_tz::Europe::Paris,
        chrono_tz::America::Guadeloupe,
        chrono_tz::America::Cayenne,
        chrono_tz::America::Miquelon,
        chrono_tz::Indian::Reunion,
        chrono_tz::Indian::Mayotte,
        chrono_tz::Pacific::Noumea,
        chrono_tz::Pacific::Marquesas,
    ];

    proptest! {
        #[test]
        fn writes_what_chrono_writes(secs in 0i64..4_102_444_800, zone in 0usize..ZONES.len()) {
            let at = DateTime::from_timestamp(secs, 0).unwrap();
            let tz = ZONES[zone];
            prop_assert_eq!(
                rfc3339_local(at, tz),
                at.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Secs, false)
            );
            prop_assert_eq!(
                local_with_suffix(at, tz, "Z"),
                at.with_timezone(&tz).format("%Y-%m-%dT%H:%M:%SZ").to_string()
            );
        }
    }

    #[test]
    fn a_negative_half_hour_offset_and_daylight_saving() {
        let at = Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap();
        assert_eq!(
            rfc3339_local(at, chrono_tz::Europe::Paris),
            "2026-03-29T03:00:00+02:00"
        );
        assert_eq!(
            rfc3339_local(at, chrono_tz::Pacific::Marquesas),
            "2026-03-28T15:30:00-09:30"
        );
    }
}
