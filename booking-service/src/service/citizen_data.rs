//! The citizen's rights through their management link: a copy of everything kept about them, and
//! erasure (the appointment cancelled if still live, the person removed, the statistics kept).

use super::booking::refusal;
use super::management;
use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::citizen_data as db;
use crate::domain::french::source_label;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// Everything kept about the holder of a management link.
#[derive(Debug, Serialize)]
pub struct CitizenData {
    /// When this copy was made.
    pub generated_at: DateTime<Utc>,
    /// What the copy covers, in French.
    pub about: &'static str,
    pub appointments: Vec<AppointmentData>,
    /// Waiting-list subscriptions made with the same address.
    pub waiting_list: Vec<SubscriptionData>,
}

/// One waiting-list subscription.
#[derive(Debug, Serialize)]
pub struct SubscriptionData {
    pub site: Option<String>,
    pub commune_insee: Option<String>,
    pub radius_km: Option<i32>,
    pub motif: &'static str,
    pub persons: i16,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// One appointment and what hangs off it.
#[derive(Debug, Serialize)]
pub struct AppointmentData {
    /// The appointment of the link used (the others share its email address).
    pub this_link: bool,
    pub reference: String,
    pub site: String,
    pub motif: &'static str,
    pub persons: i16,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: &'static str,
    pub taken: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub cancelled_by: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub pre_demande_numbers: Vec<NumberData>,
    /// What the national ANTS registry was told (their link included).
    pub ants_declarations: Vec<DeclarationData>,
    /// Emails and ANTS calls queued for this appointment.
    pub messages: Vec<MessageData>,
    /// What staff did on this appointment (agents are not named: their data is not the citizen's).
    pub history: Vec<HistoryData>,
}

#[derive(Debug, Serialize)]
pub struct NumberData {
    pub number: String,
    pub live: bool,
    pub ants_check: String,
}

#[derive(Debug, Serialize)]
pub struct DeclarationData {
    pub number: String,
    pub appointment_date: String,
    pub management_url: String,
    pub told_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct MessageData {
    pub kind: String,
    pub status: String,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct HistoryData {
    pub at: DateTime<Utc>,
    pub action: String,
    pub details: Value,
}

const ABOUT: &str = "Données conservées par le service de rendez-vous CNI et passeport pour les rendez-vous \
pris avec ce lien ou avec la même adresse électronique : rendez-vous, numéros de pré-demande, déclarations \
à l'ANTS, messages envoyés, actions des agents sur ces rendez-vous et inscriptions sur la liste d'attente.";

/// The copy of everything kept about the holder of `token`: the appointment behind it and every
/// other one booked with the same mailbox (the emails of those went to that mailbox already, so
/// the link's holder learns nothing they were not sent).
pub async fn export(state: &AppState, token: &str) -> ServiceResult<CitizenData> {
    let m = management::find(state, token).await?;
    let own = m.appointment.id;
    let rows = db::appointments_of_identity(&state.pool, own).await?;
    let ids: Vec<Uuid> = rows.iter().map(|a| a.id).collect();
    let numbers = db::numbers_of(&state.pool, &ids).await?;
    let all_numbers: Vec<String> = numbers.iter().map(|n| n.number.clone()).collect();
    let declarations = db::declarations_of(&state.pool, &all_numbers).await?;
    let messages = db::messages_of(&state.pool, &ids).await?;
    let audit = db::audit_of(&state.pool, &ids).await?;
    let address = rows.iter().find(|a| a.id == own).and_then(|a| a.email.clone());
    let waiting_list = match address {
        Some(a) => db::subscriptions_of(&state.pool, &a).await?,
        None => Vec::new(),
    }
    .into_iter()
    .map(|s| SubscriptionData {
        site: s.site,
        commune_insee: s.commune_insee,
        radius_km: s.radius_km,
        motif: s.motif.label_fr(),
        persons: s.persons,
        from: s.from_day,
        to: s.to_day,
        status: s.status,
        created_at: s.created_at,
    })
    .collect();
    let appointments = rows
        .into_iter()
        .map(|a| {
            let mine: Vec<&db::StoredNumber> = numbers.iter().filter(|n| n.appointment_id == a.id).collect();
            AppointmentData {
                this_link: a.id == own,
                pre_demande_numbers: mine
                    .iter()
                    .map(|n| NumberData {
                        number: n.number.clone(),
                        live: n.live,
                        ants_check: n.ants_check.clone(),
                    })
                    .collect(),
                // A number's declaration is theirs when its link is one of their appointments':
                // the numbers are theirs, and a declaration is per number.
                ants_declarations: declarations
                    .iter()
                    .filter(|d| mine.iter().any(|n| n.number == d.number))
                    .map(|d| DeclarationData {
                        number: d.number.clone(),
                        appointment_date: d.appointment_date.clone(),
                        management_url: d.management_url.clone(),
                        told_at: d.told_at,
                    })
                    .collect(),
                messages: messages
                    .iter()
                    .filter(|o| o.appointment_id == a.id)
                    .map(|o| MessageData {
                        kind: o.kind.clone(),
                        status: o.status.clone(),
                        payload: o.payload.clone(),
                        created_at: o.created_at,
                        sent_at: o.sent_at,
                    })
                    .collect(),
                history: audit
                    .iter()
                    .filter(|h| h.appointment_id == a.id)
                    .map(|h| HistoryData {
                        at: h.at,
                        action: h.action.clone(),
                        details: h.details.clone(),
                    })
                    .collect(),
                reference: a.reference,
                site: a.site_name,
                motif: a.motif.label_fr(),
                persons: a.persons,
                start: a.start,
                end: a.end,
                status: a.status.label_fr(),
                taken: source_label(&a.source).to_string(),
                first_name: a.first_name,
                last_name: a.last_name,
                email: a.email,
                phone: a.phone,
                cancelled_by: a.cancelled_by,
                cancel_reason: a.cancel_reason,
                created_at: a.created_at,
                updated_at: a.updated_at,
            }
        })
        .collect();
    Ok(CitizenData {
        generated_at: state.clock.now(),
        about: ABOUT,
        appointments,
        waiting_list,
    })
}

/// What an erasure did.
#[derive(Debug, Clone, Copy)]
pub struct Erased {
    /// The appointment was live and is now cancelled (its slot offered again).
    pub cancelled: bool,
}

/// Erases the person behind `token` from its appointment. A live appointment is first cancelled
/// through the citizen's cancellation (slot freed, ANTS withdrawals queued), so the online
/// deadline applies: past it, the appointment is kept and the mairie must be contacted. Other
/// appointments of the same mailbox have their own links and are left alone (one of them may be a
/// relative's live appointment).
pub async fn erase(state: &AppState, token: &str) -> ServiceResult<Erased> {
    let m = management::find(state, token).await?;
    let a = &m.appointment;
    let mut cancelled = false;
    if a.status.is_live() {
        crate::db::appointments::cancel_by_citizen(&state.pool, a.id, state.clock.now())
            .await
            .map_err(|e| refusal(e, m.tz))?;
        state.read_model.invalidate(a.site_id);
        cancelled = true;
    }
    if !db::erase(&state.pool, a.id, token, state.clock.now()).await? {
        // Made live again between the two steps (cannot happen today: no path revives a cancelled
        // appointment), said rather than claimed erased.
        return Err(ServiceError::NotModifiable { status: a.status });
    }
    tracing::info!(appointment = %a.id, cancelled, "citizen's data erased at their request");
    Ok(Erased { cancelled })
}
