//! Appointment motifs: the ANTS `reason` values plus document retrieval. The party size is
//! [`crate::domain::party::PartySize`].

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why the citizen comes. The first three are ANTS `reason` values.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub enum Motif {
    /// Identity card application.
    #[serde(rename = "CNI")]
    Cni,
    /// Passport application.
    #[serde(rename = "PASSPORT")]
    Passport,
    /// Both at once.
    #[serde(rename = "CNI-PASSPORT")]
    CniPassport,
    /// Collecting a finished title; no pré-demande needed.
    #[serde(rename = "RETRIEVAL")]
    Retrieval,
}

impl Motif {
    /// Every motif, in display order.
    pub const ALL: [Motif; 4] = [Motif::Cni, Motif::Passport, Motif::CniPassport, Motif::Retrieval];

    /// The stable code used in the API, the database and by ANTS.
    pub fn code(self) -> &'static str {
        match self {
            Motif::Cni => "CNI",
            Motif::Passport => "PASSPORT",
            Motif::CniPassport => "CNI-PASSPORT",
            Motif::Retrieval => "RETRIEVAL",
        }
    }

    /// French label shown to citizens and staff.
    pub fn label_fr(self) -> &'static str {
        match self {
            Motif::Cni => "Carte nationale d'identité",
            Motif::Passport => "Passeport",
            Motif::CniPassport => "Carte d'identité et passeport",
            Motif::Retrieval => "Retrait d'un titre",
        }
    }

    /// Whether each person must bring an ANTS pré-demande number.
    pub fn requires_pre_demande(self) -> bool {
        !matches!(self, Motif::Retrieval)
    }
}

impl fmt::Display for Motif {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The motif code was not one of the four known codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("motif inconnu : {0} (attendu : CNI, PASSPORT, CNI-PASSPORT ou RETRIEVAL)")]
pub struct UnknownMotif(pub String);

impl FromStr for Motif {
    type Err = UnknownMotif;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Motif::ALL
            .into_iter()
            .find(|m| m.code().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownMotif(s.to_string()))
    }
}

// Stored as text (with a CHECK) in `appointments.motif` and `site_motifs.motif`.
impl sqlx::Type<sqlx::Postgres> for Motif {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for Motif {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.code(), buf)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for Motif {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(<&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?.parse()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_is_refused() {
        for m in Motif::ALL {
            assert_eq!(m.code().parse::<Motif>().unwrap(), m);
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{}\"", m.code()));
        }
        assert_eq!("cni-passport".parse::<Motif>().unwrap(), Motif::CniPassport);
        assert!("VISA".parse::<Motif>().is_err());
        assert!(!Motif::Retrieval.requires_pre_demande());
        assert!(Motif::CniPassport.requires_pre_demande());
    }
}
