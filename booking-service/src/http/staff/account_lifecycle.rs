//! A staff account's life: `PATCH /api/v1/staff/accounts/{account_id}` deactivates (every
//! session ends), re-enables or changes the role; a forgotten password is reset through a
//! one-time emailed link.

use crate::app::AppState;
use crate::db::staff::AccountSummary;
use crate::error::ApiResult;
use crate::request::client::{client_key, PeerAddr};
use crate::request::extract::{Json, Path};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::staff_accounts::{self, AccountChange};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
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

/// A forgotten password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequest {
    pub email: String,
}

/// Emails a one-time link to set a new password (valid one hour) when an active account has
/// this address; the answer is the same either way.
#[utoipa::path(post, path = "/api/v1/staff/password-reset", tag = "staff", request_body = ResetRequest,
    responses((status = 202, description = "Un lien est envoyé si l'adresse a un compte"),
              (status = 429, description = "Trop de demandes")))]
pub async fn request_password_reset(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Json(req): Json<ResetRequest>,
) -> ApiResult<StatusCode> {
    let client = client_key(&state, &headers, &peer);
    staff_accounts::request_password_reset(&state, &client, &req.email).await?;
    Ok(StatusCode::ACCEPTED)
}

/// A new password, with the emailed link's token.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetConfirm {
    pub token: String,
    /// At least 12 characters.
    pub password: String,
}

/// Sets a new password with the link's token (once); every session of the account ends.
#[utoipa::path(post, path = "/api/v1/staff/password-reset/confirm", tag = "staff", request_body = ResetConfirm,
    responses((status = 204, description = "Mot de passe changé"),
              (status = 422, description = "Lien expiré ou déjà utilisé, ou mot de passe trop court")))]
pub async fn confirm_password_reset(
    State(state): State<AppState>,
    Json(req): Json<ResetConfirm>,
) -> ApiResult<StatusCode> {
    staff_accounts::complete_password_reset(&state, req.token.trim(), &req.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An administrator sends a member of their commune the one-time link to set a new password
/// (the "forgotten password" email); audited.
#[utoipa::path(post, path = "/api/v1/staff/accounts/{account_id}/password-reset", tag = "staff",
    params(("account_id" = String, Path, description = "Compte")),
    responses((status = 202, description = "Lien envoyé"), (status = 401, description = "Non connecté"),
              (status = 403, description = "Hors de vos droits"), (status = 404, description = "Compte inconnu ou d'une autre commune"),
              (status = 422, description = "Compte désactivé")))]
pub async fn send_reset_link(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = params::uuid(&id, "account_id")?;
    staff_accounts::send_reset_link(&state, &staff.user, id).await?;
    Ok(StatusCode::ACCEPTED)
}
