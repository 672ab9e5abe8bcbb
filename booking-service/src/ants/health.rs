//! What our calls to ANTS last showed, for `/readyz` and `/metrics`.
//!
//! A wrong or expired token must not pass for an outage: ANTS answers it at once with a 401, and
//! under the default `accept` policy bookings would quietly go through unchecked for as long as
//! nobody looked. So the client records it, `/readyz` shows it and a counter counts it.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// ANTS answers 401 or 403 since the process started (all clients of the process).
static REFUSED_TOKEN_ANSWERS: AtomicU64 = AtomicU64::new(0);

/// How many times ANTS refused our token since the process started (`ants_unauthorized_total`).
pub fn refused_token_answers() -> u64 {
    REFUSED_TOKEN_ANSWERS.load(Ordering::Relaxed)
}

/// What the last calls showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AntsHealth {
    /// Not called yet since the process started.
    Unknown,
    /// The last call got an answer with our token accepted.
    Ok,
    /// ANTS refused our token (401/403): `ANTS_API_TOKEN` must be fixed.
    Unauthorized,
    /// The last call found ANTS down, slow or failing (5xx, 429, network).
    Unreachable,
}

impl AntsHealth {
    /// The value shown in `/readyz`.
    pub fn as_str(self) -> &'static str {
        match self {
            AntsHealth::Unknown => "unknown",
            AntsHealth::Ok => "ok",
            AntsHealth::Unauthorized => "unauthorized",
            AntsHealth::Unreachable => "unreachable",
        }
    }
}

/// The health of one client, updated by each call.
#[derive(Debug, Default)]
pub struct HealthCell(AtomicU8);

impl HealthCell {
    /// The current value.
    pub fn get(&self) -> AntsHealth {
        match self.0.load(Ordering::Relaxed) {
            1 => AntsHealth::Ok,
            2 => AntsHealth::Unauthorized,
            3 => AntsHealth::Unreachable,
            _ => AntsHealth::Unknown,
        }
    }

    /// An answer with our token accepted.
    pub fn answered(&self) {
        self.0.store(1, Ordering::Relaxed);
    }

    /// A 401/403: counted, and logged as an error when it starts (each later one is a warning, so a
    /// booking rush does not flood the log with the same alarm).
    pub fn token_refused(&self, http_status: u16) {
        REFUSED_TOKEN_ANSWERS.fetch_add(1, Ordering::Relaxed);
        if self.0.swap(2, Ordering::Relaxed) != 2 {
            tracing::error!(
                http_status,
                "ANTS refuses our token (x-rdv-opt-auth-token): fix ANTS_API_TOKEN; meanwhile numbers are \
                 not checked and declarations wait"
            );
        } else {
            tracing::warn!(http_status, "ANTS still refuses our token");
        }
    }

    /// No usable answer. A refused token stays shown until ANTS accepts it again: an outage must
    /// not hide a configuration fault that will still be there when ANTS comes back.
    pub fn unreachable(&self) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| (v != 2).then_some(3));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_token_stays_shown_through_an_outage_until_an_answer() {
        let h = HealthCell::default();
        assert_eq!(h.get(), AntsHealth::Unknown);
        h.unreachable();
        assert_eq!(h.get(), AntsHealth::Unreachable);
        let before = refused_token_answers();
        h.token_refused(401);
        h.unreachable();
        assert_eq!(h.get(), AntsHealth::Unauthorized);
        assert!(refused_token_answers() > before);
        h.answered();
        assert_eq!(h.get().as_str(), "ok");
    }
}
