//! The audit log: who did what, when, on which appointment. Never a password or a token.

use crate::staff::StaffUser;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

/// Records a staff action (one flat call per action keeps every call site a single readable line).
#[allow(clippy::too_many_arguments)]
pub async fn record<'e>(
    db: impl PgExecutor<'e>,
    who: &StaffUser,
    commune: Option<&str>,
    action: &str,
    appointment: Option<Uuid>,
    target: Option<&str>,
    details: Value,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, account_id, commune_insee, action, appointment_id, target, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(at)
    .bind(who.id)
    .bind(commune.or(who.commune_insee.as_deref()))
    .bind(action)
    .bind(appointment)
    .bind(target)
    .bind(details)
    .execute(db)
    .await?;
    Ok(())
}
