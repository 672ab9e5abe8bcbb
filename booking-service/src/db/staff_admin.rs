//! What administrators read: the staff accounts of a commune, its audit log, the messages that
//! failed for good.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// A staff account as administrators see it (never its password hash).
#[derive(Debug, Clone, FromRow)]
pub struct AccountListRow {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub commune_insee: Option<String>,
    pub active: bool,
}

/// The accounts of `commune` (all when `None`), by email.
pub async fn accounts(pool: &PgPool, commune: Option<&str>) -> sqlx::Result<Vec<AccountListRow>> {
    sqlx::query_as(
        "SELECT id, email, display_name, role, commune_insee, active FROM staff_accounts
         WHERE $1::text IS NULL OR commune_insee = $1 ORDER BY email",
    )
    .bind(commune)
    .fetch_all(pool)
    .await
}

/// Whether a commune of that INSEE code exists.
pub async fn commune_exists(pool: &PgPool, insee: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM communes WHERE insee_code = $1)")
        .bind(insee)
        .fetch_one(pool)
        .await
}

/// An audit row with the email of who did it.
#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub account_email: Option<String>,
    pub commune_insee: Option<String>,
    pub action: String,
    pub appointment_id: Option<Uuid>,
    pub target: Option<String>,
    pub details: Value,
}

/// The `limit` latest audit rows of `commune` (all when `None`), newest first.
pub async fn audit_log(pool: &PgPool, commune: Option<&str>, limit: i64) -> sqlx::Result<Vec<AuditRow>> {
    sqlx::query_as(
        "SELECT l.id, l.at, a.email AS account_email, l.commune_insee, l.action, l.appointment_id, l.target, l.details
         FROM audit_log l LEFT JOIN staff_accounts a ON a.id = l.account_id
         WHERE $1::text IS NULL OR l.commune_insee = $1 ORDER BY l.id DESC LIMIT $2",
    )
    .bind(commune)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A message that will not be delivered without help.
#[derive(Debug, Clone, FromRow)]
pub struct FailureRow {
    pub id: i64,
    pub kind: String,
    pub appointment_id: Option<Uuid>,
    pub reference: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

/// The 200 latest failed messages of `commune`'s sites (all when `None`), newest first.
pub async fn outbox_failures(pool: &PgPool, commune: Option<&str>) -> sqlx::Result<Vec<FailureRow>> {
    sqlx::query_as(
        "SELECT f.id, f.kind, f.appointment_id, f.reference, f.attempts, f.last_error
         FROM outbox_failures f LEFT JOIN sites s ON s.id = f.site_id
         WHERE $1::text IS NULL OR s.commune_insee = $1 ORDER BY f.id DESC LIMIT 200",
    )
    .bind(commune)
    .fetch_all(pool)
    .await
}
