//! Administration: staff accounts of one's commune, the audit log, undeliverable messages.

use crate::app::AppState;
use crate::db::staff_admin::{AccountListRow, AuditRow, FailureRow};
use crate::error::{ApiError, ApiResult};
use crate::request::extract::{Json, Path, Query};
use crate::request::params;
use crate::request::staff_session::Staff;
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
    /// When it last logged in (its latest session), if ever.
    last_login: Option<DateTime<Utc>>,
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
            last_login: r.last_login,
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

/// Which rows, newest first; each filter narrows the log.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// At most 500 (default 100).
    limit: Option<i64>,
    /// From this day (`YYYY-MM-DD`, Paris time, included).
    from: Option<String>,
    /// Up to this day (`YYYY-MM-DD`, included).
    to: Option<String>,
    /// One action (`login`, `export`, `account_update`, `outbox_retry`, …).
    action: Option<String>,
    /// One member's actions (account id).
    account_id: Option<String>,
}

/// The audit log of one's commune (administrators), filtered by period, action and member.
#[utoipa::path(get, path = "/api/v1/staff/audit", tag = "staff", params(AuditQuery),
    responses((status = 200, body = [AuditOut]), (status = 400, description = "Filtre invalide"), (status = 401, description = "Non connecté"), (status = 403, description = "Réservé aux administrateurs")))]
pub async fn audit_log(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<AuditQuery>,
) -> ApiResult<axum::Json<Vec<AuditOut>>> {
    let query = staff_admin::AuditQuery {
        from: params::date(q.from.as_deref(), "from")?,
        to: params::date(q.to.as_deref(), "to")?,
        action: q.action,
        account: match q.account_id.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            Some(a) => Some(params::uuid(a, "account_id")?),
            None => None,
        },
        limit: q.limit,
    };
    let rows = staff_admin::audit_log(&state, &staff.user, &query).await?;
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
    /// The address it was going to, for an appointment's email.
    recipient: Option<String>,
    created_at: DateTime<Utc>,
}

/// Emails and ANTS calls that failed for good, for one's commune (administrators).
#[utoipa::path(get, path = "/api/v1/staff/outbox/failures", tag = "staff",
    responses((status = 200, body = [FailureOut]), (status = 401, description = "Non connecté"), (status = 403, description = "Réservé aux administrateurs")))]
pub async fn outbox_failures(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<axum::Json<Vec<FailureOut>>> {
    let rows = staff_admin::outbox_failures(&state, &staff.user).await?;
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
            recipient: r.recipient,
            created_at: r.created_at,
        }
    }
}

/// Sends a failed message again: back in the notifier's queue, due now, with a fresh round of
/// attempts (administrators, their commune's messages; audited).
#[utoipa::path(post, path = "/api/v1/staff/outbox/{id}/retry", tag = "staff",
    params(("id" = String, Path, description = "Message en échec")),
    responses((status = 202, body = FailureOut, description = "Remis dans la file d'envoi"), (status = 400, description = "Identifiant invalide"),
              (status = 401, description = "Non connecté"), (status = 403, description = "Réservé aux administrateurs"),
              (status = 404, description = "Message inconnu, d'une autre commune ou déjà remis en file")))]
pub async fn retry_message(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, axum::Json<FailureOut>)> {
    let id = message_id(&id)?;
    let row = staff_admin::retry_failed_message(&state, &staff.user, id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(FailureOut::from(row))))
}

/// An outbox row's id from the path.
fn message_id(raw: &str) -> ApiResult<i64> {
    raw.trim().parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::bad_request("invalid_id", "Identifiant de message invalide.").with_field("id")
    })
}
