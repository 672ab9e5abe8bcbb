//! A staff account's life after its creation: deactivated when someone leaves (every session
//! ends at once), re-enabled, its role changed, always within the caller's rights and audited.

use super::staff_access::not_yours;
use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::staff::{self as db, AccountSummary};
use crate::staff::{accounts, audit, Role, StaffUser};
use serde_json::json;
use uuid::Uuid;

/// A change to an account; what is `None` stays as it is.
#[derive(Debug, Clone, Default)]
pub struct AccountChange {
    pub active: Option<bool>,
    /// As typed: `agent`, `commune_admin` or `platform_admin`.
    pub role: Option<String>,
}

/// Whether `caller` may manage `target` and give it `role`. Accounts of another commune (and
/// platform administrators, for commune staff) are not found; among the visible ones, a platform
/// administrator manages anyone, a commune administrator its commune's agents and administrators
/// (never making a platform administrator), an agent nobody.
fn may_manage(caller: &StaffUser, target: &AccountSummary, role: Role) -> Result<(), ServiceError> {
    let visible = match target.commune_insee.as_deref() {
        Some(c) => caller.sees(c),
        None => caller.role == Role::PlatformAdmin,
    };
    if !visible {
        return Err(not_yours("account_not_found"));
    }
    match caller.role {
        Role::PlatformAdmin => Ok(()),
        Role::CommuneAdmin if role != Role::PlatformAdmin => Ok(()),
        Role::CommuneAdmin | Role::Agent => Err(ServiceError::Forbidden),
    }
}

/// Applies `change` to account `id` (the API's `PATCH /api/v1/staff/accounts/{id}`).
pub async fn update(
    state: &AppState,
    caller: &StaffUser,
    id: Uuid,
    change: &AccountChange,
) -> ServiceResult<AccountSummary> {
    let mut tx = state.pool.begin().await?;
    let target = db::account_for_update(&mut tx, id)
        .await?
        .ok_or_else(|| not_yours("account_not_found"))?;
    let role = match change.role.as_deref() {
        None => {
            Role::parse(&target.role).ok_or_else(|| ServiceError::Internal("unknown stored role".into()))?
        }
        Some(raw) => Role::parse(raw.trim()).ok_or_else(|| {
            ServiceError::invalid(
                "invalid_role",
                "role",
                "Rôle : agent, commune_admin ou platform_admin.",
            )
        })?,
    };
    may_manage(caller, &target, role)?;
    // The schema ties a commune to every role but the platform administrator's.
    if (role == Role::PlatformAdmin) != target.commune_insee.is_none() {
        return Err(ServiceError::invalid(
            "invalid_role",
            "role",
            "Ce rôle ne convient pas à un compte rattaché (ou non) à une commune : créez un autre compte.",
        ));
    }
    let active = change.active.unwrap_or(target.active);
    if caller.id == id && (!active || role != caller.role) {
        return Err(ServiceError::invalid(
            "own_account",
            "active",
            "Vous ne pouvez ni désactiver votre propre compte ni changer votre rôle.",
        ));
    }
    let now = state.clock.now();
    let updated = db::set_account_state(&mut tx, id, active, role.as_str(), now).await?;
    // A member leaving may have copied the calendar feed URLs of their commune's sites: those
    // stop working with the account (colleagues draw new ones from the feed page).
    let feeds_revoked = if target.active && !active {
        crate::db::staff_feed::revoke_commune(&mut tx, target.commune_insee.as_deref()).await?
    } else {
        0
    };
    audit::record(
        &mut *tx,
        caller,
        updated.commune_insee.as_deref(),
        "account_update",
        None,
        Some(&id.to_string()),
        json!({"active": active, "role": role.as_str(), "was_active": target.active, "was_role": target.role,
               "feeds_revoked": feeds_revoked}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(updated)
}

/// An administrator sends a member of their commune the one-time link to set a new password
/// (the same email as "forgotten password"); only for an active account, audited.
pub async fn send_reset_link(
    state: &AppState,
    caller: &StaffUser,
    id: Uuid,
) -> ServiceResult<AccountSummary> {
    let target = {
        let mut conn = state.pool.acquire().await?;
        db::account_for_update(&mut conn, id)
            .await?
            .ok_or_else(|| not_yours("account_not_found"))?
    };
    let role =
        Role::parse(&target.role).ok_or_else(|| ServiceError::Internal("unknown stored role".into()))?;
    may_manage(caller, &target, role)?;
    if !target.active {
        return Err(ServiceError::invalid(
            "account_inactive",
            "account",
            "Ce compte est désactivé : réactivez-le avant d'envoyer un lien.",
        ));
    }
    let now = state.clock.now();
    accounts::request_password_reset(&state.pool, &state.sealer, &target.email, now).await?;
    audit::record(
        &state.pool,
        caller,
        target.commune_insee.as_deref(),
        "password_reset_sent",
        None,
        Some(&id.to_string()),
        json!({}),
        now,
    )
    .await?;
    Ok(target)
}

/// "Forgotten password" for `email`: a one-time link is emailed when an active account has the
/// address. The answer never says whether it does. `client` keys the attempt budget.
pub async fn request_password_reset(state: &AppState, client: &str, email: &str) -> ServiceResult<()> {
    if state.login_limiter.check(&state.kv, client).await.is_err() {
        return Err(ServiceError::TooManyAttempts { retry_after_secs: 60 });
    }
    if email.len() > super::staff_sessions::MAX_EMAIL_LEN {
        return Err(ServiceError::invalid(
            "invalid_field",
            "email",
            "Adresse trop longue.",
        ));
    }
    accounts::request_password_reset(&state.pool, &state.sealer, email, state.clock.now()).await?;
    Ok(())
}

/// Sets a new password with the link's token: once, before it expires; every session ends.
pub async fn complete_password_reset(state: &AppState, token: &str, new_password: &str) -> ServiceResult<()> {
    if let Err(message) = accounts::check_password_strength(new_password) {
        return Err(ServiceError::invalid("weak_password", "password", message));
    }
    if !crate::tokens::has_token_shape(token) {
        return Err(invalid_link());
    }
    let now = state.clock.now();
    let account = accounts::complete_password_reset(&state.pool, token, new_password, now)
        .await?
        .ok_or_else(invalid_link)?;
    let user = StaffUser {
        id: account.id,
        email: account.email,
        display_name: account.display_name,
        role: Role::parse(&account.role)
            .ok_or_else(|| ServiceError::Internal("unknown stored role".into()))?,
        commune_insee: account.commune_insee,
    };
    audit::record(
        &state.pool,
        &user,
        user.commune_insee.as_deref(),
        "password_reset",
        None,
        None,
        json!({}),
        now,
    )
    .await?;
    Ok(())
}

fn invalid_link() -> ServiceError {
    ServiceError::invalid(
        "invalid_reset_link",
        "token",
        "Ce lien n'est plus valable (déjà utilisé ou expiré) : demandez-en un nouveau.",
    )
}
