//! ANTS interoperability: the coordination API client, the booking-time check of pré-demande
//! numbers, what ANTS's statuses mean, and the formats and links ANTS and its hub expect.

pub mod check;
pub mod client;
pub mod health;
pub mod status;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;

/// The hub's time format: the site's local wall clock with a literal `Z` (the hub adds any numeric
/// offset to the wall clock, so `08:30:00+01:00` would be shown as 09:30).
pub fn hub_datetime(at: DateTime<Utc>, tz: Tz) -> String {
    crate::formats::stamp::local_with_suffix(at, tz, "Z")
}

/// The coordination API's `appointment_date`: `YYYY-MM-DD HH:MM:SS`, local time of the site.
pub fn coordination_date(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Reads a date as ANTS or its hub may write it back: `YYYY-MM-DD HH:MM:SS` (what we send),
/// `YYYY-MM-DDTHH:MM:SS` (a serialised datetime), without seconds, with a trailing `Z`. Always the
/// site's wall clock: ANTS stores local times, so a `Z` or an offset is dropped, never applied.
/// Comparing parsed values, not strings, keeps reconciliation right whichever form `status` uses.
pub fn parse_ants_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    let wall = s
        .strip_suffix('Z')
        .or_else(|| {
            // A numeric offset after the time (`…T08:30:00+01:00`); the date's own dashes come first.
            let cut = s.rfind(['+', '-']).filter(|&i| i > 10)?;
            Some(&s[..cut])
        })
        .unwrap_or(s);
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(wall, f).ok())
}

/// The citizen's management link as declared to ANTS and answered to the hub: one per appointment
/// *and* number, because ANTS refuses a `management_url` it already holds ("Already exists in
/// database"), even for another number of the same appointment. A move keeps the token, hence the link.
pub fn management_url(base: &str, token: &str, number: &str) -> String {
    format!(
        "{}/rdv/{token}?application_id={number}",
        base.trim_end_matches('/')
    )
}

/// Whether a management link ANTS holds is one of ours (any appointment).
pub fn is_our_link(url: &str, base: &str) -> bool {
    url.starts_with(&format!("{}/rdv/", base.trim_end_matches('/')))
}

/// The management token inside one of our links, in either form we ever gave out:
/// `…/rdv/{token}?application_id=N` and, before links were made unique per number, `…/rdv/{token}`
/// (the hub may have copied that one into ANTS as a "regularisation").
pub fn token_of_link<'a>(url: &'a str, base: &str) -> Option<&'a str> {
    let rest = url.strip_prefix(&format!("{}/rdv/", base.trim_end_matches('/')))?;
    let token = rest.split(['?', '/', '#']).next()?;
    (!token.is_empty()).then_some(token)
}

/// Whether `url` is a management link of the appointment whose token is `token`.
pub fn is_link_of(url: &str, base: &str, token: &str) -> bool {
    token_of_link(url, base) == Some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    #[test]
    fn wall_clock_with_a_literal_z_winter_and_summer() {
        let paris = chrono_tz::Europe::Paris;
        let winter = Utc.with_ymd_and_hms(2026, 12, 1, 7, 30, 0).unwrap();
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 6, 30, 0).unwrap();
        assert_eq!(hub_datetime(winter, paris), "2026-12-01T08:30:00Z");
        assert_eq!(hub_datetime(summer, paris), "2026-07-01T08:30:00Z");
        assert_eq!(coordination_date(winter, paris), "2026-12-01 08:30:00");
    }

    #[test]
    fn ants_dates_read_in_every_form_as_the_same_wall_clock() {
        let want = NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(8, 30, 0)
            .unwrap();
        for s in [
            "2026-12-01 08:30:00",
            "2026-12-01T08:30:00",
            "2026-12-01T08:30:00Z",
            "2026-12-01T08:30Z",
            "2026-12-01T08:30:00+01:00",
            " 2026-12-01 08:30 ",
        ] {
            assert_eq!(parse_ants_datetime(s), Some(want), "{s}");
        }
        assert_eq!(parse_ants_datetime("2026-12-01"), None);
        assert_eq!(parse_ants_datetime(""), None);
    }

    #[test]
    fn one_link_per_number_and_its_token_found_in_both_forms() {
        let base = "https://rdv.example/";
        let a = management_url(base, "tok", "ABCDE12345");
        let b = management_url(base, "tok", "FGHIJ67890");
        assert_eq!(a, "https://rdv.example/rdv/tok?application_id=ABCDE12345");
        assert_ne!(a, b);
        for url in [&a, "https://rdv.example/rdv/tok"] {
            assert!(is_our_link(url, base));
            assert!(is_link_of(url, base, "tok"));
            assert!(!is_link_of(url, base, "to"));
        }
        assert!(!is_our_link("https://rdv.example.evil/rdv/tok", base));
        assert!(!is_our_link("https://autre-editeur.example/rdv/tok", base));
        assert_eq!(token_of_link("https://rdv.example/rdv/", base), None);
    }
}
