//! An appointment's status, its transitions, and which statuses are live (occupy a station and
//! a pré-demande number). The database keeps the same six values (a CHECK constraint) and the
//! same live set (the exclusion constraint's and the unique indexes' `WHERE`).

use serde::{Deserialize, Serialize};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};
use std::fmt;
use std::str::FromStr;

/// Where an appointment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    /// Booked, to come.
    Booked,
    /// The citizen arrived at the counter.
    CheckedIn,
    /// Taken place.
    Done,
    /// The citizen did not come.
    NoShow,
    /// Cancelled by the citizen or the mairie.
    Cancelled,
    /// Over and never marked by staff (the ending job sets it).
    Ended,
}

impl AppointmentStatus {
    /// Every status.
    pub const ALL: [Self; 6] = [
        Self::Booked,
        Self::CheckedIn,
        Self::Done,
        Self::NoShow,
        Self::Cancelled,
        Self::Ended,
    ];

    /// The statuses that occupy a station and a pré-demande number.
    pub const LIVE: [Self; 2] = [Self::Booked, Self::CheckedIn];

    /// [`Self::LIVE`] as an SQL list, for the hot queries that must match the partial indexes'
    /// `WHERE status IN (…)` literally (a bound array would hide the implication from the planner).
    pub const LIVE_SQL: &'static str = "('booked', 'checked_in')";

    /// The code stored in the database and used in the API.
    pub fn code(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::CheckedIn => "checked_in",
            Self::Done => "done",
            Self::NoShow => "no_show",
            Self::Cancelled => "cancelled",
            Self::Ended => "ended",
        }
    }

    /// French label shown to citizens and staff.
    pub fn label_fr(self) -> &'static str {
        match self {
            Self::Booked => "confirmé",
            Self::CheckedIn => "arrivé",
            Self::Done => "terminé",
            Self::NoShow => "absent",
            Self::Cancelled => "annulé",
            Self::Ended => "passé",
        }
    }

    /// Whether the appointment occupies its station and its numbers.
    pub fn is_live(self) -> bool {
        Self::LIVE.contains(&self)
    }

    /// Whether staff may set `to` from this status: booked → arrived, absent, cancelled;
    /// arrived → done, absent, cancelled; ended (unmarked) → done, absent (marked late).
    pub fn staff_may_set(self, to: Self) -> bool {
        use AppointmentStatus::*;
        matches!(
            (self, to),
            (Booked, CheckedIn | NoShow | Cancelled)
                | (CheckedIn, Done | NoShow | Cancelled)
                | (Ended, Done | NoShow)
        )
    }

    /// The marks staff may put on it now, in the counter's order (arrived, done, absent);
    /// cancelling is apart: it asks for a reason.
    pub fn staff_marks(self) -> impl Iterator<Item = Self> {
        [Self::CheckedIn, Self::Done, Self::NoShow]
            .into_iter()
            .filter(move |to| self.staff_may_set(*to))
    }

    /// Whether the citizen may still cancel or move it online (the deadline aside).
    pub fn citizen_may_change(self) -> bool {
        self == Self::Booked
    }
}

impl fmt::Display for AppointmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A status code that is not one of the six.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("statut inconnu : {0}")]
pub struct UnknownStatus(pub String);

impl FromStr for AppointmentStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.code() == s.trim())
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

// Stored as text (with a CHECK), not as a PostgreSQL enum type: the column predates this type.
impl Type<Postgres> for AppointmentStatus {
    fn type_info() -> PgTypeInfo {
        <&str as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <&str as Type<Postgres>>::compatible(ty)
    }
}

impl sqlx::postgres::PgHasArrayType for AppointmentStatus {
    fn array_type_info() -> PgTypeInfo {
        <&str as sqlx::postgres::PgHasArrayType>::array_type_info()
    }
}

impl Encode<'_, Postgres> for AppointmentStatus {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as Encode<Postgres>>::encode_by_ref(&self.code(), buf)
    }
}

impl<'r> Decode<'r, Postgres> for AppointmentStatus {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let s = <&str as Decode<Postgres>>::decode(value)?;
        Ok(s.parse()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_live_set_matches_the_schema() {
        for s in AppointmentStatus::ALL {
            assert_eq!(s.code().parse::<AppointmentStatus>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.code()));
        }
        // The schema's partial indexes say `status IN ('booked', 'checked_in')`.
        let schema = include_str!("../../../migrations/0001_territory_calendar_appointments.sql");
        assert!(schema.contains("WHERE (status IN ('booked', 'checked_in'))"));
        let live: Vec<_> = AppointmentStatus::ALL
            .into_iter()
            .filter(|s| s.is_live())
            .collect();
        assert_eq!(
            live,
            vec![AppointmentStatus::Booked, AppointmentStatus::CheckedIn]
        );
        assert!("deleted".parse::<AppointmentStatus>().is_err());
    }

    #[test]
    fn staff_transitions_never_leave_a_closed_status() {
        use AppointmentStatus::*;
        for to in AppointmentStatus::ALL {
            assert!(!Cancelled.staff_may_set(to), "cancelled → {to}");
            assert!(!Done.staff_may_set(to), "done → {to}");
            assert!(!NoShow.staff_may_set(to), "no_show → {to}");
            assert!(!to.staff_may_set(Booked), "{to} → booked");
        }
        assert!(Booked.staff_may_set(CheckedIn));
        assert!(Ended.staff_may_set(NoShow));
        assert!(!Ended.staff_may_set(Cancelled));
    }
}
