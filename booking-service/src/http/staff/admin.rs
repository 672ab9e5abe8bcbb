//! Administration: staff accounts of one's commune, the audit log, undeliverable messages.

use super::{forbidden, Staff};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Query};
use crate::http::{params, AppState};
use crate::staff::{accounts, audit, Role};
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::FromRow;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A staff account as administrators see it (never its password hash).
#[derive(Debug, Serialize, FromRow, ToSchema)]
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
    if !staff.user.is_admin() {
        return Err(forbidden());
    }
    let rows = sqlx::query_as(
        "SELECT id, email, display_name, role, commune_insee, active FROM staff_accounts
         WHERE $1::text IS NULL OR commune_insee = $1 ORDER BY email",
    )
    .bind(staff.user.commune_insee.as_deref())
    .fetch_all(&state.pool)
    .await?;
    Ok(axum::Json(rows))
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
    let role = Role::parse(&req.role).ok_or_else(|| {
        ApiError::unprocessable("invalid_role", "Rôle : agent, commune_admin ou platform_admin.")
            .with_field("role")
    })?;
    let commune = match (staff.user.role, role) {
        (Role::Agent, _) => return Err(forbidden()),
        (Role::CommuneAdmin, Role::PlatformAdmin) => return Err(forbidden()),
        (Role::CommuneAdmin, _) => staff.user.commune_insee.clone(),
        (Role::PlatformAdmin, Role::PlatformAdmin) => None,
        (Role::PlatformAdmin, _) => Some(params::insee(req.commune_insee.as_deref())?.ok_or_else(|| {
            ApiError::unprocessable("commune_required", "Commune requise pour ce rôle.")
                .with_field("commune_insee")
        })?),
    };
    let email = crate::domain::citizen::Email::parse(&req.email)
        .map_err(|e| ApiError::unprocessable("invalid_field", e.message).with_field("email"))?;
    accounts::check_password_strength(&req.password)
        .map_err(|m| ApiError::unprocessable("weak_password", m).with_field("password"))?;
    let known: bool = match &commune {
        Some(c) => {
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM communes WHERE insee_code = $1)")
                .bind(c)
                .fetch_one(&state.pool)
                .await?
        }
        None => true,
    };
    if !known {
        return Err(
            ApiError::unprocessable("unknown_commune", "Commune inconnue.").with_field("commune_insee")
        );
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
            return Err(
                ApiError::conflict("email_taken", "Un compte existe déjà avec cette adresse.")
                    .with_field("email"),
            );
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        &state.pool,
        &staff.user,
        commune.as_deref(),
        "account_create",
        None,
        Some(&id.to_string()),
        json!({"role": role.as_str()}),
        state.clock.now(),
    )
    .await?;
    Ok(StatusCode::CREATED)
}

/// An audit row.
#[derive(Debug, Serialize, FromRow, ToSchema)]
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
    if !staff.user.is_admin() {
        return Err(forbidden());
    }
    let rows = sqlx::query_as(
        "SELECT l.id, l.at, a.email AS account_email, l.commune_insee, l.action, l.appointment_id, l.target, l.details
         FROM audit_log l LEFT JOIN staff_accounts a ON a.id = l.account_id
         WHERE $1::text IS NULL OR l.commune_insee = $1 ORDER BY l.id DESC LIMIT $2",
    )
    .bind(staff.user.commune_insee.as_deref())
    .bind(q.limit.unwrap_or(100).clamp(1, 500))
    .fetch_all(&state.pool)
    .await?;
    Ok(axum::Json(rows))
}

/// A message that will not be delivered without help.
#[derive(Debug, Serialize, FromRow, ToSchema)]
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
    if !staff.user.is_admin() {
        return Err(forbidden());
    }
    let rows = sqlx::query_as(
        "SELECT f.id, f.kind, f.appointment_id, f.reference, f.attempts, f.last_error
         FROM outbox_failures f LEFT JOIN sites s ON s.id = f.site_id
         WHERE $1::text IS NULL OR s.commune_insee = $1 ORDER BY f.id DESC LIMIT 200",
    )
    .bind(staff.user.commune_insee.as_deref())
    .fetch_all(&state.pool)
    .await?;
    Ok(axum::Json(rows))
}
