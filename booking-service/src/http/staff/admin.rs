//! Administration: staff accounts of one's commune, the audit log, undeliverable messages.

use crate::app::AppState;
use crate::db::staff_admin::{AccountListRow, AuditRow, FailureRow};
use crate::error::{ApiError, ApiResult};
use crate::request::extract::{Json, Query};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::agenda as service;
use crate::service::staff_admin::{self, CommuneCode, Created};
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A staff account as administrators see it (never its password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountOut {
    id: Uuid,
    email: String,
    display_name: String,
    role: String,
    commune_insee: Option<String>,
    active: bool,
}

/// The accounts of one's commune (all for a platform administrator).
#[utoipa::path(get, path = "/api/v1/staff/accounts", tag = "staff",
    responses((status = 200, body = [AccountOut]), (status = 401, description = "Non connecté"), (status = 403, description = "Réservé aux administrateurs")))]
pub async fn list_accounts(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<axum::Json<Vec<AccountOut>>> {
    let rows = staff_admin::list_accounts(&state, &staff.user).await?;
    Ok(axum::Json(rows.into_iter().map(AccountOut::from).collect()))
}

impl From<AccountListRow> for AccountOut {
    fn from(r: AccountListRow) -> Self {
        Self {
            id: r.id,
            email: r.email,
            display_name: r.display_name,
            role: r.role,
            commune_insee: r.commune_insee,
            active: r.active,
        }
    }
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAccount {
    email: String,
    password: String,
    #[serde(default)]
    display_name: String,
    /// `agent` or `commune_admin` (`platform_admin` by a platform administrator only).
    role: String,
    /// The commune (ignored for a commune administrator, who creates for its own).
    commune_insee: Option<String>,
}

/// Creates a staff account: commune administrators for their commune, platform administrators anywhere.
#[utoipa::path(post, path = "/api/v1/staff/accounts", tag = "staff", request_body = NewAccount,
    responses((status = 201, description = "Créé"), (status = 401, description = "Non connecté"),
              (status = 403, description = "Réservé aux administrateurs"), (status = 409, description = "Adresse déjà utilisée"),
              (status = 422, description = "Champ invalide")))]
pub async fn create_account(
    State(state): State<AppState>,
    staff: Staff,
    Json(req): Json<NewAccount>,
) -> ApiResult<StatusCode> {
    let commune = match params::insee(req.commune_insee.as_deref()) {
        Ok(Some(c)) => CommuneCode::Code(c),
        Ok(None) => CommuneCode::Absent,
        Err(_) => CommuneCode::Malformed,
    };
    let input = staff_admin::NewAccount {
        email: req.email,
        password: req.password,
        display_name: req.display_name,
        role: req.role,
        commune,
    };
    match staff_admin::create_account(&state, &staff.user, &input).await? {
        Created::Account(_) => Ok(StatusCode::CREATED),
        Created::EmailTaken => Err(ApiError::conflict(
            "email_taken",
            "Un compte existe déjà avec cette adresse.",
        )
        .with_field("email")),
    }
}

/// An audit row.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    id: i64,
    at: DateTime<Utc>,
    account_email: Option<String>,
    commune_insee: Option<String>,
    action: String,
    appointment_id: Option<Uuid>,
    target: Option<String>,
    #[schema(value_type = Object)]
    details: Value,
}

/// How many rows.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// At most 500 (default 100).
    limit: Option<i64>,
}

/// The audit log of one's commune (administrators).
#[utoipa::path(get, path = "/api/v1/staff/audit", tag = "staff", params(AuditQuery),
    responses((status = 200, body = [AuditOut]), (status = 401, description = "Non connecté"), (status = 403, description = "Réservé aux administrateurs")))]
pub async fn audit_log(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<AuditQuery>,
) -> ApiResult<axum::Json<Vec<AuditOut>>> {
    let rows = service::audit_log(&state, &staff.user, q.limit).await?;
    Ok(axum::Json(rows.into_iter().map(AuditOut::from).collect()))
}

impl From<AuditRow> for AuditOut {
    fn from(r: AuditRow) -> Self {
        Self {
            id: r.id,
            at: r.at,
            account_email: r.account_email,
            commune_insee: r.commune_insee,
            action: r.action,
            appointment_id: r.appointment_id,
            target: r.target,
            details: r.details,
        }
    }
}

/// A message that will not be delivered without help.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailureOut {
    id: i64,
    kind: String,
    appointment_id: Option<Uuid>,
    reference: Option<String>,
    attempts: i32,
    last_error: Option<String>,
}

/// Emails and ANTS calls that failed for good, for one's commune (administrators).
#[utoipa::path(get, path = "/api/v1/staff/outbox/failures", tag = "staff",
    responses((status = 200, body = [FailureOut]), (status = 401, description = "Non connecté"), (status = 403, description = "Réservé aux administrateurs")))]
pub async fn outbox_failures(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<axum::Json<Vec<FailureOut>>> {
    let rows = service::outbox_failures(&state, &staff.user).await?;
    Ok(axum::Json(rows.into_iter().map(FailureOut::from).collect()))
}

impl From<FailureRow> for FailureOut {
    fn from(r: FailureRow) -> Self {
        Self {
            id: r.id,
            kind: r.kind,
            appointment_id: r.appointment_id,
            reference: r.reference,
            attempts: r.attempts,
            last_error: r.last_error,
        }
    }
}
