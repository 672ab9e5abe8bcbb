//! Staff accounts as administrators list and create them: commune administrators for their
//! commune, platform administrators anywhere. Also what administrators read and repair: the
//! audit log (filtered) and the messages that failed for good (sent again on demand).

use super::staff_access::not_yours;
use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::staff_admin::{self as db, AccountListRow, AuditFilter, AuditRow, FailureRow};
use crate::staff::{accounts, audit, Role, StaffUser};
use serde_json::json;
use uuid::Uuid;

/// The accounts of one's commune (all for a platform administrator); administrators only.
pub async fn list_accounts(state: &AppState, staff: &StaffUser) -> ServiceResult<Vec<AccountListRow>> {
    if !staff.is_admin() {
        return Err(ServiceError::Forbidden);
    }
    Ok(db::accounts(&state.pool, staff.commune_insee.as_deref()).await?)
}

/// The commune of a new account, as read from the request.
#[derive(Debug, Clone)]
pub enum CommuneCode {
    /// None given.
    Absent,
    /// A well-formed INSEE code.
    Code(String),
    /// Given but not an INSEE code (refused only when the commune is needed).
    Malformed,
}

/// A new account as typed.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: String,
    pub password: String,
    pub display_name: String,
    /// `agent`, `commune_admin` or `platform_admin`.
    pub role: String,
    /// Ignored for a commune administrator, who creates for its own commune.
    pub commune: CommuneCode,
}

/// What creating an account did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The new account's id.
    Account(Uuid),
    /// An account already has that address; nothing created.
    EmailTaken,
}

/// Creates a staff account within the caller's rights; audited.
pub async fn create_account(state: &AppState, staff: &StaffUser, req: &NewAccount) -> ServiceResult<Created> {
    let role = Role::parse(&req.role).ok_or_else(|| {
        ServiceError::invalid(
            "invalid_role",
            "role",
            "Rôle : agent, commune_admin ou platform_admin.",
        )
    })?;
    let commune = match (staff.role, role) {
        (Role::Agent, _) | (Role::CommuneAdmin, Role::PlatformAdmin) => return Err(ServiceError::Forbidden),
        (Role::CommuneAdmin, _) => staff.commune_insee.clone(),
        (Role::PlatformAdmin, Role::PlatformAdmin) => None,
        (Role::PlatformAdmin, _) => match &req.commune {
            CommuneCode::Code(c) => Some(c.clone()),
            CommuneCode::Malformed => {
                return Err(ServiceError::malformed(
                    "invalid_commune",
                    "commune",
                    "Code INSEE invalide (5 caractères, ex. 68224).",
                ))
            }
            CommuneCode::Absent => {
                return Err(ServiceError::invalid(
                    "commune_required",
                    "commune_insee",
                    "Commune requise pour ce rôle.",
                ))
            }
        },
    };
    let email = crate::domain::citizen::Email::parse(&req.email)
        .map_err(|e| ServiceError::invalid("invalid_field", "email", e.message))?;
    accounts::check_password_strength(&req.password)
        .map_err(|m| ServiceError::invalid("weak_password", "password", m))?;
    if let Some(c) = &commune {
        if !db::commune_exists(&state.pool, c).await? {
            return Err(ServiceError::invalid(
                "unknown_commune",
                "commune_insee",
                "Commune inconnue.",
            ));
        }
    }
    let id = match accounts::create_account(
        &state.pool,
        email.as_str(),
        &req.password,
        req.display_name.trim(),
        role,
        commune.as_deref(),
    )
    .await
    {
        Ok(id) => id,
        Err(e)
            if e.downcast_ref::<sqlx::Error>()
                .and_then(|e| e.as_database_error())
                .is_some_and(|d| d.is_unique_violation()) =>
        {
            return Ok(Created::EmailTaken);
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        &state.pool,
        staff,
        commune.as_deref(),
        "account_create",
        None,
        Some(&id.to_string()),
        json!({"role": role.as_str()}),
        state.clock.now(),
    )
    .await?;
    Ok(Created::Account(id))
}

/// Which audit rows, as asked: local days (at the service's time zone, Paris), an action, a member.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// From this local day (included).
    pub from: Option<chrono::NaiveDate>,
    /// Up to this local day (included).
    pub to: Option<chrono::NaiveDate>,
    /// One action (`login`, `export`, `account_update`, …).
    pub action: Option<String>,
    /// One member's actions.
    pub account: Option<Uuid>,
    /// How many rows at most (100 by default, 500 at most).
    pub limit: Option<i64>,
}

/// The latest rows of one's commune's audit log that `q` keeps, newest first (administrators).
pub async fn audit_log(state: &AppState, staff: &StaffUser, q: &AuditQuery) -> ServiceResult<Vec<AuditRow>> {
    if !staff.is_admin() {
        return Err(ServiceError::Forbidden);
    }
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if to < from {
            return Err(ServiceError::malformed(
                "invalid_range",
                "to",
                "La fin de la période précède son début.",
            ));
        }
    }
    let tz = chrono_tz::Europe::Paris;
    let day_start =
        |d: chrono::NaiveDate| crate::domain::tz::resolve_local(tz, d.and_time(chrono::NaiveTime::MIN));
    let filter = AuditFilter {
        from: q.from.map(day_start),
        to: q.to.and_then(|d| d.succ_opt()).map(day_start),
        action: q
            .action
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from),
        account: q.account,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    Ok(db::audit_log(&state.pool, staff.commune_insee.as_deref(), &filter, limit).await?)
}

/// The actions present in one's commune's audit log, for the log's filter (administrators).
pub async fn audit_actions(state: &AppState, staff: &StaffUser) -> ServiceResult<Vec<String>> {
    if !staff.is_admin() {
        return Err(ServiceError::Forbidden);
    }
    Ok(db::audit_actions(&state.pool, staff.commune_insee.as_deref()).await?)
}

/// Emails and ANTS calls of one's commune that failed for good (administrators).
pub async fn outbox_failures(state: &AppState, staff: &StaffUser) -> ServiceResult<Vec<FailureRow>> {
    if !staff.is_admin() {
        return Err(ServiceError::Forbidden);
    }
    Ok(db::outbox_failures(&state.pool, staff.commune_insee.as_deref()).await?)
}

/// Sends a failed message again: it goes back to the notifier's queue, due now, with a fresh
/// round of attempts. Administrators, for their commune's messages (another commune's, or one
/// already back in the queue, is not found); audited with the error it had.
pub async fn retry_failed_message(state: &AppState, staff: &StaffUser, id: i64) -> ServiceResult<FailureRow> {
    if !staff.is_admin() {
        return Err(ServiceError::Forbidden);
    }
    let mut tx = state.pool.begin().await?;
    let row = db::failure_for_update(&mut tx, id, staff.commune_insee.as_deref())
        .await?
        .ok_or_else(|| not_yours("message_not_found"))?;
    // A password link lives one hour: sent again later it would be dead on arrival.
    if row.kind == crate::db::outbox::OutboxKind::StaffPasswordReset.code() {
        return Err(ServiceError::invalid(
            "link_expired",
            "id",
            "Un lien de mot de passe ne se renvoie pas : envoyez-en un nouveau depuis la page des comptes.",
        ));
    }
    if db::ants_call_superseded(&mut tx, id).await? {
        return Err(ServiceError::invalid(
            "superseded",
            "id",
            "Un appel plus récent à l'ANTS a été fait pour ce rendez-vous : renvoyer celui-ci le déferait.",
        ));
    }
    let now = state.clock.now();
    if !db::retry_failure(&mut tx, id, now).await? {
        return Err(not_yours("message_not_found"));
    }
    audit::record(
        &mut *tx,
        staff,
        row.commune_insee.as_deref(),
        "outbox_retry",
        row.appointment_id,
        Some(&id.to_string()),
        json!({"kind": row.kind, "attempts": row.attempts, "last_error": row.last_error}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}
