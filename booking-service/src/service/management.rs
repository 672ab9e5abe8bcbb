//! What the link in the citizen's email allows: see the appointment, cancel it, move it, until
//! the site's online deadline.

use super::booking::{refusal, refused, slot_of_hold};
use super::{holds, ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::appointments::{self, AppointmentView};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

/// An appointment seen through its management link, with what the citizen may still do.
#[derive(Debug, Clone)]
pub struct Managed {
    pub appointment: AppointmentView,
    pub tz: Tz,
    /// Until when it can be cancelled or moved online.
    pub deadline: DateTime<Utc>,
    /// Whether it can be cancelled or moved online now.
    pub can_change: bool,
    /// What the citizen must bring (the site's lists, else the domain's).
    pub what_to_bring: Vec<String>,
}

/// A management token has the shape we issue before any lookup.
fn check_token_shape(token: &str) -> ServiceResult<()> {
    if crate::tokens::has_token_shape(token) {
        Ok(())
    } else {
        Err(ServiceError::malformed(
            "invalid_token",
            "token",
            "Lien de gestion invalide.",
        ))
    }
}

/// The appointment behind a management token.
pub async fn find(state: &AppState, token: &str) -> ServiceResult<Managed> {
    check_token_shape(token)?;
    let hash = crate::tokens::hash_token(token);
    // An erased appointment keeps its link's hash so the link can say so rather than "unknown".
    if crate::db::citizen_data::erased_by_token_hash(&state.pool, &hash).await? {
        return Err(ServiceError::not_found(
            "data_erased",
            "Vos données ont été effacées à votre demande : ce lien ne donne plus accès à aucun rendez-vous.",
        ));
    }
    let a = appointments::find_by_token_hash(&state.pool, &hash)
        .await?
        .ok_or_else(|| {
            ServiceError::not_found(
                "appointment_not_found",
                "Aucun rendez-vous ne correspond à ce lien.",
            )
        })?;
    let tz: Tz = a
        .timezone
        .parse()
        .map_err(|_| ServiceError::Internal("bad site time zone".into()))?;
    let deadline = a.start - Duration::minutes(i64::from(a.cancel_deadline_minutes));
    let what_to_bring = super::calendar_admin::what_to_bring(state, a.site_id, a.motif).await?;
    Ok(Managed {
        can_change: a.status.citizen_may_change() && state.clock.now() <= deadline,
        deadline,
        tz,
        what_to_bring,
        appointment: a,
    })
}

/// Cancels before the deadline, freeing the slot and the numbers; answers the appointment as now.
pub async fn cancel(state: &AppState, token: &str) -> ServiceResult<Managed> {
    let m = find(state, token).await?;
    appointments::cancel_by_citizen(&state.pool, m.appointment.id, state.clock.now())
        .await
        .map_err(|e| refusal(e, m.tz))?;
    state.read_model.invalidate(m.appointment.site_id);
    super::waitlist::slot_freed(state);
    tracing::info!(appointment = %m.appointment.id, "appointment cancelled by citizen");
    find(state, token).await
}

/// The citizen confirms they will come ("je confirme", from the reminder): recorded while the
/// appointment is to come; answers the appointment as now.
pub async fn confirm_presence(state: &AppState, token: &str) -> ServiceResult<Managed> {
    let m = find(state, token).await?;
    if !appointments::confirm_presence(&state.pool, m.appointment.id, state.clock.now()).await? {
        return Err(ServiceError::NotModifiable {
            status: m.appointment.status,
        });
    }
    tracing::info!(appointment = %m.appointment.id, "presence confirmed by citizen");
    find(state, token).await
}

/// A citizen's reply to an SMS, forwarded by the provider: STOP (any case, any words after it)
/// ends the SMS reminders of every live appointment of that number. Returns how many stopped.
pub async fn sms_reply(state: &AppState, from: &str, text: &str) -> ServiceResult<u64> {
    let phone = crate::domain::citizen::Phone::parse(from)?;
    let stop = text
        .split_whitespace()
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("stop"));
    if !stop {
        return Ok(0);
    }
    let n = appointments::stop_sms(&state.pool, phone.as_str()).await?;
    tracing::info!(appointments = n, "SMS reminders stopped by a reply");
    Ok(n)
}

/// Releases the appointments whose required confirmation of presence did not come in time (the
/// no-show policy): each is cancelled by the service, its citizen told, its slot offered to the
/// waiting list. Returns how many.
pub async fn release_unconfirmed(state: &AppState) -> ServiceResult<usize> {
    let now = state.clock.now();
    let mut released = 0;
    for (id, site) in appointments::unconfirmed_due(&state.pool, now).await? {
        match appointments::release_unconfirmed(&state.pool, id, now).await {
            Ok(()) => {
                state.read_model.invalidate(site);
                released += 1;
                tracing::info!(appointment = %id, "unconfirmed appointment released");
            }
            // Cancelled, confirmed or changed meanwhile: nothing to release.
            Err(appointments::BookingError::WrongStatus(_) | appointments::BookingError::NotFound) => {}
            Err(e) => return Err(refusal(e, chrono_tz::Europe::Paris)),
        }
    }
    Ok(released)
}

/// Moves the appointment onto a slot the citizen holds (same row, token and calendar UID);
/// if the new slot is lost, nothing changes.
pub async fn reschedule(state: &AppState, token: &str, hold_token: &str) -> ServiceResult<Managed> {
    let m = find(state, token).await?;
    let claims = holds::verified(state, hold_token)?;
    let (site, slot) = slot_of_hold(state, &claims).await?;
    if let Err(e) = appointments::reschedule(&state.pool, m.appointment.id, &slot, state.clock.now()).await {
        return Err(refused(state, &site, &slot, e).await);
    }
    state.read_model.invalidate(m.appointment.site_id);
    holds::consumed(state, &claims).await;
    super::waitlist::slot_freed(state);
    tracing::info!(appointment = %m.appointment.id, site = %site.id, "appointment moved by citizen");
    find(state, token).await
}
