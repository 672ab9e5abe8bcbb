//! Staff accounts as administrators list and create them: commune administrators for their
//! commune, platform administrators anywhere.

use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::staff_admin::{self as db, AccountListRow};
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
