//! ANTS interoperability: the coordination API client and the formats ANTS expects.

pub mod client;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// The hub's time format: the site's local wall clock with a literal `Z` (the hub adds any numeric
/// offset to the wall clock, so `08:30:00+01:00` would be shown as 09:30).
pub fn hub_datetime(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The coordination API's `appointment_date`: `YYYY-MM-DD HH:MM:SS`, local time of the site.
pub fn coordination_date(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn wall_clock_with_a_literal_z_winter_and_summer() {
        let paris = chrono_tz::Europe::Paris;
        let winter = Utc.with_ymd_and_hms(2026, 12, 1, 7, 30, 0).unwrap();
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 6, 30, 0).unwrap();
        assert_eq!(hub_datetime(winter, paris), "2026-12-01T08:30:00Z");
        assert_eq!(hub_datetime(summer, paris), "2026-07-01T08:30:00Z");
        assert_eq!(coordination_date(winter, paris), "2026-12-01 08:30:00");
    }
}
