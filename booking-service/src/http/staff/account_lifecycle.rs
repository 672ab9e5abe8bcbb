//! `PATCH /api/v1/staff/accounts/{account_id}`: deactivate (every session ends), re-enable, or
//! change the role of a staff account.

use crate::app::AppState;
use crate::db::staff::AccountSummary;
use crate::error::ApiResult;
use crate::request::extract::{Json, Path};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::staff_accounts::{self, AccountChange};
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

/// What to change; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    /// `false` deactivates the account and closes its sessions at once.
    pub active: Option<bool>,
    /// `agent`, `commune_admin` or `platform_admin`, within the caller's rights.
    pub role: Option<String>,
}

/// Deactivates, re-enables or changes the role of an account.
#[utoipa::path(patch, path = "/api/v1/staff/accounts/{account_id}", tag = "staff", request_body = AccountPatch,
    params(("account_id" = String, Path, description = "Compte")),
    responses((status = 200, body = AccountSummary), (status = 401, description = "Non connecté"),
              (status = 403, description = "Hors de vos droits"), (status = 404, description = "Compte inconnu ou d'une autre commune"),
              (status = 422, description = "Rôle invalide, ou votre propre compte")))]
pub async fn update_account(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Json(patch): Json<AccountPatch>,
) -> ApiResult<axum::Json<AccountSummary>> {
    let id = params::uuid(&id, "account_id")?;
    let change = AccountChange {
        active: patch.active,
        role: patch.role,
    };
    Ok(axum::Json(
        staff_accounts::update(&state, &staff.user, id, &change).await?,
    ))
}
