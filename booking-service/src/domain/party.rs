//! How many persons one booking is for: one type, one bound, in every layer (API, pages, hold
//! tokens, database). A site sets a lower maximum per motif (`site_motifs.max_persons`).

use crate::domain::citizen::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A party size, 1 to [`PartySize::MAX`].
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    sqlx::Type,
    utoipa::ToSchema,
)]
#[schema(value_type = i64)]
#[serde(try_from = "i64", into = "i64")]
#[sqlx(transparent)]
pub struct PartySize(i16);

impl PartySize {
    /// The largest party any site may accept (the schema bounds `max_persons` to 10).
    pub const MAX: i16 = 10;

    /// One person.
    pub const ONE: PartySize = PartySize(1);

    /// A party of `n`, refused outside 1..=MAX.
    pub fn new(n: i64) -> Result<Self, FieldError> {
        if n < 1 {
            return Err(FieldError {
                field: "persons",
                message: "Il faut au moins une personne.".into(),
            });
        }
        if n > i64::from(Self::MAX) {
            return Err(FieldError {
                field: "persons",
                message: format!("{} personnes au plus par rendez-vous.", Self::MAX),
            });
        }
        Ok(Self(n as i16))
    }

    /// The number of persons.
    pub fn get(self) -> u8 {
        self.0 as u8
    }

    /// As stored in the database.
    pub fn as_i16(self) -> i16 {
        self.0
    }

    /// As a count for arithmetic.
    pub fn as_i32(self) -> i32 {
        i32::from(self.0)
    }
}

impl TryFrom<i64> for PartySize {
    type Error = String;

    fn try_from(n: i64) -> Result<Self, Self::Error> {
        Self::new(n).map_err(|e| e.message)
    }
}

impl From<PartySize> for i64 {
    fn from(p: PartySize) -> i64 {
        i64::from(p.0)
    }
}

impl fmt::Display for PartySize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_one_to_max() {
        assert!(PartySize::new(0).is_err());
        assert!(PartySize::new(-3).is_err());
        assert_eq!(PartySize::new(1).unwrap(), PartySize::ONE);
        assert_eq!(PartySize::new(10).unwrap().get(), 10);
        assert!(PartySize::new(11).is_err());
        assert!(PartySize::new(i64::MAX).is_err());
        let schema = include_str!("../../../migrations/0001_territory_calendar_appointments.sql");
        assert!(schema.contains(&format!("max_persons BETWEEN 1 AND {}", PartySize::MAX)));
    }
}
