//! A waiting-list subscription's status and what it may become. The database keeps the same five
//! values (a CHECK constraint).

use serde::Serialize;
use std::str::FromStr;

/// Where a subscription is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitlistStatus {
    /// In the list, waiting for a slot.
    Waiting,
    /// A slot is held for the subscriber until the offer's deadline.
    Offered,
    /// An offer was accepted, or the subscriber booked by other means.
    Booked,
    /// An offer lapsed, or the days asked for are past.
    Expired,
    /// Unsubscribed.
    Cancelled,
}

impl WaitlistStatus {
    /// Every status.
    pub const ALL: [Self; 5] = [
        Self::Waiting,
        Self::Offered,
        Self::Booked,
        Self::Expired,
        Self::Cancelled,
    ];

    /// The code stored in the database and used in the API.
    pub fn code(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Offered => "offered",
            Self::Booked => "booked",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    /// French label shown to citizens and staff.
    pub fn label_fr(self) -> &'static str {
        match self {
            Self::Waiting => "en attente",
            Self::Offered => "créneau proposé",
            Self::Booked => "rendez-vous pris",
            Self::Expired => "expirée",
            Self::Cancelled => "désinscrit",
        }
    }

    /// Still in the list (an offer may be made or is live).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Waiting | Self::Offered)
    }
}

impl FromStr for WaitlistStatus {
    type Err = super::status::UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.code() == s)
            .ok_or_else(|| super::status::UnknownStatus(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_and_only_the_first_two_are_open() {
        for st in WaitlistStatus::ALL {
            assert_eq!(st.code().parse::<WaitlistStatus>(), Ok(st));
        }
        assert!("offert".parse::<WaitlistStatus>().is_err());
        let open: Vec<_> = WaitlistStatus::ALL.into_iter().filter(|s| s.is_open()).collect();
        assert_eq!(open, [WaitlistStatus::Waiting, WaitlistStatus::Offered]);
    }
}
