//! Parsing of query and path values into domain types, each failure naming its field.

use crate::domain::motif::Motif;
use crate::domain::party::PartySize;
use crate::error::ApiError;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use uuid::Uuid;

/// A motif code; unknown codes are a 400 naming the field.
pub fn motif(raw: Option<&str>, default: Motif) -> Result<Motif, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|e: crate::domain::motif::UnknownMotif| {
            ApiError::bad_request("unknown_motif", e.to_string()).with_field("motif")
        }),
    }
}

/// A number of persons, 1 or more (the site's maximum is checked where it is known).
pub fn persons(raw: Option<&str>) -> Result<PartySize, ApiError> {
    let Some(s) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(PartySize::ONE);
    };
    let n: i32 = s.parse().map_err(|_| {
        ApiError::bad_request("invalid_persons", "Le nombre de personnes doit être un entier.")
            .with_field("persons")
    })?;
    party_size(i64::from(n))
}

/// A party size from a JSON body: fewer than one is invalid, more than any site takes is too many.
pub fn party_size(n: i64) -> Result<PartySize, ApiError> {
    if n < 1 {
        return Err(
            ApiError::unprocessable("invalid_persons", "Il faut au moins une personne.")
                .with_field("persons"),
        );
    }
    PartySize::new(n)
        .map_err(|e| ApiError::unprocessable("too_many_persons", e.message).with_field("persons"))
}

/// An instant (RFC 3339, any offset).
pub fn instant(raw: &str, field: &'static str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::unprocessable(
                "invalid_start",
                "Horaire invalide (RFC 3339 attendu, ex. 2026-12-01T08:30:00+01:00).",
            )
            .with_field(field)
        })
}

/// A `YYYY-MM-DD` date.
pub fn date(raw: Option<&str>, field: &'static str) -> Result<Option<NaiveDate>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                ApiError::bad_request(
                    "invalid_date",
                    format!("Date invalide « {s} » (format attendu : AAAA-MM-JJ)."),
                )
                .with_field(field)
            })?;
            // Years of five digits or more parse, and a day's arithmetic near chrono's limits
            // would overflow: refuse them here, before any caller adds a day.
            if !(1..=9999).contains(&d.year()) {
                return Err(ApiError::bad_request(
                    "date_out_of_range",
                    "Dates trop éloignées d'aujourd'hui.",
                )
                .with_field(field));
            }
            Ok(Some(d))
        }
    }
}

/// A UUID path or query value.
pub fn uuid(raw: &str, field: &'static str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        ApiError::bad_request("invalid_id", format!("Identifiant invalide pour {field}.")).with_field(field)
    })
}

/// An INSEE commune code (5 characters, 2A/2B for Corsica).
pub fn insee(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(s) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let s = s.to_ascii_uppercase();
    let b = s.as_bytes();
    let ok = b.len() == 5
        && b[0].is_ascii_digit()
        && (b[1].is_ascii_digit() || b[1] == b'A' || b[1] == b'B')
        && b[2..].iter().all(u8::is_ascii_digit);
    if ok {
        Ok(Some(s))
    } else {
        Err(ApiError::bad_request(
            "invalid_commune",
            "Code INSEE invalide (5 caractères, ex. 68224).",
        )
        .with_field("commune"))
    }
}

/// A French postcode (5 digits).
pub fn postcode(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(s) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(Some(s.to_string()))
    } else {
        Err(
            ApiError::bad_request("invalid_postcode", "Code postal invalide (5 chiffres).")
                .with_field("postcode"),
        )
    }
}

/// A département code: two digits, 2A/2B, or 97x.
pub fn department(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(s) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let s = s.to_ascii_uppercase();
    let b = s.as_bytes();
    let ok = (b.len() == 2 && (b.iter().all(u8::is_ascii_digit) || s == "2A" || s == "2B"))
        || (b.len() == 3 && s.starts_with("97") && b[2].is_ascii_digit());
    if ok {
        Ok(Some(s))
    } else {
        Err(ApiError::bad_request(
            "invalid_department",
            "Code de département invalide (ex. 68, 2A, 974).",
        )
        .with_field("department"))
    }
}

/// `LAT,LON` in degrees.
pub fn lat_lon(raw: Option<&str>) -> Result<Option<(f64, f64)>, ApiError> {
    let Some(s) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::bad_request(
            "invalid_near",
            "Position invalide (format attendu : LAT,LON en degrés).",
        )
        .with_field("near")
    };
    let (a, b) = s.split_once(',').ok_or_else(bad)?;
    let lat: f64 = a.trim().parse().map_err(|_| bad())?;
    let lon: f64 = b.trim().parse().map_err(|_| bad())?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(bad());
    }
    Ok(Some((lat, lon)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(motif(None, Motif::Cni).unwrap(), Motif::Cni);
        assert_eq!(motif(Some("VISA"), Motif::Cni).unwrap_err().code, "unknown_motif");
        assert_eq!(persons(Some("0")).unwrap_err().status, 422);
        assert_eq!(persons(Some("deux")).unwrap_err().status, 400);
        assert_eq!(
            date(Some("+262142-12-31"), "from").unwrap_err().code,
            "date_out_of_range"
        );
        assert_eq!(date(Some("-262143-01-01"), "from").unwrap_err().status, 400);
        assert!(date(Some("2026-12-01"), "from").unwrap().is_some());
        assert_eq!(insee(Some("2a004")).unwrap(), Some("2A004".to_string()));
        assert!(insee(Some("6822")).is_err());
        assert!(department(Some("974")).unwrap().is_some());
        assert!(department(Some("999")).is_err());
        assert_eq!(lat_lon(Some("47.75, 7.33")).unwrap(), Some((47.75, 7.33)));
        assert!(lat_lon(Some("91,0")).is_err());
        assert!(lat_lon(Some("NaN,0")).is_err());
        assert!(date(Some("2026-02-30"), "from").is_err());
    }
}
