//! The booking-time check of pré-demande numbers with ANTS's `status`, free of HTTP types: it says
//! what to record for the numbers or why the booking is refused; the caller maps that to its answer.
//!
//! It runs before the booking transaction, never inside it (a slow ANTS must not hold locks).

use super::client::{AntsClient, AntsError, NumberStatus};
use super::status::AntsStatus;
use super::{is_our_link, parse_ants_datetime};
use crate::domain::citizen::PreDemandeNumber;
use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What to do when ANTS gives no usable answer.
#[derive(Debug, Clone)]
pub struct CheckPolicy {
    /// How long to keep retrying an unreachable ANTS before giving up.
    pub retry_for: Duration,
    /// Refuse the booking (instead of accepting it unchecked) when ANTS gives no usable answer.
    pub refuse_when_unavailable: bool,
}

/// A check that lets the booking go on, with what the numbers' rows record (`ants_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    /// No ANTS configured, or no number to check.
    NotChecked,
    /// ANTS validated every number.
    Validated,
    /// ANTS gave no usable answer (down, or refusing our token) and the policy accepts: the
    /// numbers are left for reconciliation to check, never recorded as checked.
    Unchecked,
}

impl CheckOutcome {
    /// The value of `appointment_pre_demandes.ants_check`.
    pub fn as_column(self) -> &'static str {
        match self {
            CheckOutcome::NotChecked => "not_checked",
            CheckOutcome::Validated => "validated",
            CheckOutcome::Unchecked => "unchecked",
        }
    }
}

/// An appointment another editor declared for one of the numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherAppointment {
    pub number: String,
    pub meeting_point: String,
    /// As ANTS returned it.
    pub appointment_date: String,
    /// Where the citizen can cancel it.
    pub management_url: String,
}

/// Why the booking may not go on. `Display` is the message for the citizen, in French.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckRefusal {
    /// The pré-demande was already used for a filed application.
    Consumed { number: String },
    /// The pré-demande expired.
    Expired { number: String },
    /// ANTS does not know the number (or did not answer for it).
    Unknown { number: String },
    /// ANTS's `declared`: the number is not officially recognised by ANTS.
    NotRecognised { number: String },
    /// A status ANTS did not publish; refused like the others.
    UnexpectedStatus { number: String, status: String },
    /// Validated, but other editors hold appointments for it: the citizen must confirm they cancel
    /// them (other editors keep stale data, so this is a warning, not a ban).
    BookedElsewhere { appointments: Vec<OtherAppointment> },
    /// No usable answer from ANTS and the policy refuses.
    AntsUnavailable,
}

impl fmt::Display for CheckRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckRefusal::Consumed { number } => f.write_str(&AntsStatus::Consumed.refusal_message(number)),
            CheckRefusal::Expired { number } => f.write_str(&AntsStatus::Expired.refusal_message(number)),
            CheckRefusal::Unknown { number } => f.write_str(&AntsStatus::Unknown.refusal_message(number)),
            CheckRefusal::NotRecognised { number } => {
                f.write_str(&AntsStatus::Declared.refusal_message(number))
            }
            CheckRefusal::UnexpectedStatus { number, status } => {
                f.write_str(&AntsStatus::Other(status.clone()).refusal_message(number))
            }
            CheckRefusal::BookedElsewhere { appointments } => {
                let first = appointments.first().cloned().unwrap_or(OtherAppointment {
                    number: String::new(),
                    meeting_point: String::new(),
                    appointment_date: String::new(),
                    management_url: String::new(),
                });
                write!(
                    f,
                    "La pré-demande {} a déjà un rendez-vous ({}, {}). Pour continuer, confirmez que vous \
                     annulez l'autre rendez-vous.",
                    first.number,
                    first.meeting_point,
                    french_date(&first.appointment_date)
                )
            }
            CheckRefusal::AntsUnavailable => {
                f.write_str("Le service de l'ANTS ne répond pas : réessayez dans quelques minutes.")
            }
        }
    }
}

/// `le 10/12/2026 à 10:00` when ANTS's date reads, ANTS's text otherwise.
fn french_date(s: &str) -> String {
    parse_ants_datetime(s)
        .map(|d| d.format("le %d/%m/%Y à %H:%M").to_string())
        .unwrap_or_else(|| s.to_string())
}

/// Asks ANTS about every number for a booking at `site`. `confirmed_elsewhere`: the citizen
/// confirmed they cancel their appointments at other editors. `our_base`: our public URL (our own
/// declarations, e.g. a move in flight, are not "elsewhere").
pub async fn check_numbers(
    ants: Option<&AntsClient>,
    numbers: &[PreDemandeNumber],
    site: Uuid,
    confirmed_elsewhere: bool,
    our_base: &str,
    policy: &CheckPolicy,
) -> Result<CheckOutcome, CheckRefusal> {
    let Some(ants) = ants else {
        return Ok(CheckOutcome::NotChecked);
    };
    if numbers.is_empty() {
        return Ok(CheckOutcome::NotChecked);
    }
    let ids: Vec<String> = numbers.iter().map(|n| n.as_str().to_string()).collect();
    let Some(answer) = status_with_retries(ants, &ids, site, policy.retry_for).await else {
        return if policy.refuse_when_unavailable {
            Err(CheckRefusal::AntsUnavailable)
        } else {
            Ok(CheckOutcome::Unchecked)
        };
    };
    judge(&ids, &answer, confirmed_elsewhere, our_base)
}

/// `status`, retried while ANTS is unreachable and time remains. A refused token is not retried:
/// it will not fix itself within seconds (the client has raised the alarm).
async fn status_with_retries(
    ants: &AntsClient,
    ids: &[String],
    site: Uuid,
    retry_for: Duration,
) -> Option<HashMap<String, NumberStatus>> {
    let deadline = Instant::now() + retry_for;
    loop {
        match ants.status(ids, &site.to_string()).await {
            Ok(map) => return Some(map),
            Err(AntsError::Unreachable(e)) if Instant::now() < deadline => {
                tracing::info!(error = %e, "ANTS status check failed; retrying");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(AntsError::Unauthorized(_)) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "ANTS status check unavailable");
                return None;
            }
        }
    }
}

/// The verdict on ANTS's answer.
fn judge(
    ids: &[String],
    answer: &HashMap<String, NumberStatus>,
    confirmed_elsewhere: bool,
    our_base: &str,
) -> Result<CheckOutcome, CheckRefusal> {
    let mut elsewhere = Vec::new();
    for n in ids {
        let Some(st) = answer.get(n) else {
            // ANTS said nothing of this number: as good as unknown.
            return Err(CheckRefusal::Unknown { number: n.clone() });
        };
        let number = n.clone();
        match st.kind() {
            AntsStatus::Validated => {}
            AntsStatus::Consumed => return Err(CheckRefusal::Consumed { number }),
            AntsStatus::Expired => return Err(CheckRefusal::Expired { number }),
            AntsStatus::Unknown => return Err(CheckRefusal::Unknown { number }),
            AntsStatus::Declared => return Err(CheckRefusal::NotRecognised { number }),
            AntsStatus::Other(status) => return Err(CheckRefusal::UnexpectedStatus { number, status }),
        }
        elsewhere.extend(
            st.appointments
                .iter()
                .filter(|a| !is_our_link(&a.management_url, our_base))
                .map(|a| OtherAppointment {
                    number: n.clone(),
                    meeting_point: a.meeting_point.clone(),
                    appointment_date: a.appointment_date.clone(),
                    management_url: a.management_url.clone(),
                }),
        );
    }
    if !elsewhere.is_empty() && !confirmed_elsewhere {
        return Err(CheckRefusal::BookedElsewhere {
            appointments: elsewhere,
        });
    }
    Ok(CheckOutcome::Validated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ants::client::AntsAppointment;

    fn answer(status: &str, urls: &[&str]) -> HashMap<String, NumberStatus> {
        let appointments = urls
            .iter()
            .map(|u| AntsAppointment {
                management_url: u.to_string(),
                meeting_point: "Mairie de Colmar".into(),
                meeting_point_id: None,
                appointment_date: "2026-12-10T10:00:00".into(),
            })
            .collect();
        HashMap::from([(
            "ABCDE12345".to_string(),
            NumberStatus {
                status: status.into(),
                appointments,
            },
        )])
    }

    #[test]
    fn each_status_gets_its_verdict() {
        let ids = ["ABCDE12345".to_string()];
        let base = "https://rdv.example";
        let n = || "ABCDE12345".to_string();
        assert_eq!(
            judge(&ids, &answer("validated", &[]), false, base),
            Ok(CheckOutcome::Validated)
        );
        assert_eq!(
            judge(&ids, &answer("declared", &[]), false, base),
            Err(CheckRefusal::NotRecognised { number: n() })
        );
        assert_eq!(
            judge(&ids, &answer("consumed", &[]), false, base),
            Err(CheckRefusal::Consumed { number: n() })
        );
        assert_eq!(
            judge(&ids, &HashMap::new(), false, base),
            Err(CheckRefusal::Unknown { number: n() })
        );
        // Our own declaration (a move in flight) is not elsewhere; another editor's is, until confirmed.
        let ours = answer(
            "validated",
            &["https://rdv.example/rdv/t?application_id=ABCDE12345"],
        );
        assert_eq!(judge(&ids, &ours, false, base), Ok(CheckOutcome::Validated));
        let other = answer("validated", &["https://autre.example/rdv/1"]);
        let refusal = judge(&ids, &other, false, base).unwrap_err();
        assert!(
            refusal
                .to_string()
                .contains("Mairie de Colmar, le 10/12/2026 à 10:00"),
            "{refusal}"
        );
        assert_eq!(judge(&ids, &other, true, base), Ok(CheckOutcome::Validated));
    }
}
