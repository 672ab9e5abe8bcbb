//! What the staff pages need beyond the API's operations: a logged-in member changing their own
//! password (the same rules and audit row as `POST /api/v1/staff/password`).

use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::staff::{accounts, audit, StaffUser};
use serde_json::json;

/// Changes `user`'s password after checking the current one; every other session of the member
/// ends, the one carrying `token` stays open. Audited.
pub async fn change_password(
    state: &AppState,
    user: &StaffUser,
    token: &str,
    current: &str,
    new: &str,
) -> ServiceResult<()> {
    if current.len() > super::staff_sessions::MAX_PASSWORD_LEN {
        return Err(wrong_password());
    }
    accounts::check_password_strength(new)
        .map_err(|m| ServiceError::invalid("weak_password", "new_password", m))?;
    let now = state.clock.now();
    if !accounts::change_password(&state.pool, user.id, current, new, token, now).await? {
        return Err(wrong_password());
    }
    audit::record(
        &state.pool,
        user,
        None,
        "password_change",
        None,
        None,
        json!({}),
        now,
    )
    .await?;
    Ok(())
}

fn wrong_password() -> ServiceError {
    ServiceError::invalid(
        "wrong_password",
        "current_password",
        "Mot de passe actuel incorrect.",
    )
}
