//! What administrators read: the staff accounts of a commune, its audit log, the messages that
//! failed for good.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};
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
    /// When its latest session began (a login), if it ever logged in.
    pub last_login: Option<DateTime<Utc>>,
}

/// The accounts of `commune` (all when `None`), by email.
pub async fn accounts(pool: &PgPool, commune: Option<&str>) -> sqlx::Result<Vec<AccountListRow>> {
    sqlx::query_as(
        "SELECT a.id, a.email, a.display_name, a.role, a.commune_insee, a.active,
                (SELECT max(s.created_at) FROM staff_sessions s WHERE s.account_id = a.id) AS last_login
         FROM staff_accounts a
         WHERE $1::text IS NULL OR a.commune_insee = $1 ORDER BY a.email",
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

/// Which audit rows: each part narrows the log when set.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// From this instant (included).
    pub from: Option<DateTime<Utc>>,
    /// Before this instant.
    pub to: Option<DateTime<Utc>>,
    /// This action only (`login`, `export`, …).
    pub action: Option<String>,
    /// This member's actions only.
    pub account: Option<Uuid>,
}

/// The `limit` latest audit rows of `commune` (all when `None`) that `filter` keeps, newest first.
pub async fn audit_log(
    pool: &PgPool,
    commune: Option<&str>,
    filter: &AuditFilter,
    limit: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    sqlx::query_as(
        "SELECT l.id, l.at, a.email AS account_email, l.commune_insee, l.action, l.appointment_id, l.target, l.details
         FROM audit_log l LEFT JOIN staff_accounts a ON a.id = l.account_id
         WHERE ($1::text IS NULL OR l.commune_insee = $1)
           AND ($3::timestamptz IS NULL OR l.at >= $3) AND ($4::timestamptz IS NULL OR l.at < $4)
           AND ($5::text IS NULL OR l.action = $5) AND ($6::uuid IS NULL OR l.account_id = $6)
         ORDER BY l.id DESC LIMIT $2",
    )
    .bind(commune)
    .bind(limit)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.action.as_deref())
    .bind(filter.account)
    .fetch_all(pool)
    .await
}

/// The actions found in `commune`'s audit log (all when `None`), for the log's filter.
pub async fn audit_actions(pool: &PgPool, commune: Option<&str>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT action FROM audit_log WHERE $1::text IS NULL OR commune_insee = $1 ORDER BY action",
    )
    .bind(commune)
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
    /// The appointment's email address, where the message was going (none for ANTS calls or a
    /// message without appointment).
    pub recipient: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// The commune it belongs to (its site's, or its staff member's).
    pub commune_insee: Option<String>,
}

/// A failed message with where it was going: an appointment's email for the citizen's messages;
/// for a staff member's password link, the member's address and commune (from the row's payload).
const FAILURE_SELECT: &str = "SELECT f.id, f.kind, f.appointment_id, f.reference, f.attempts, f.last_error,
        coalesce(ap.email, sa.email) AS recipient, f.created_at, coalesce(s.commune_insee, sa.commune_insee) AS commune_insee
    FROM outbox_failures f JOIN outbox o ON o.id = f.id
    LEFT JOIN sites s ON s.id = f.site_id LEFT JOIN appointments ap ON ap.id = f.appointment_id
    LEFT JOIN staff_accounts sa ON f.kind = 'staff_password_reset' AND sa.id::text = o.payload ->> 'account_id'";

/// The 200 latest failed messages of `commune` (its sites' and its staff's; all when `None`), newest first.
pub async fn outbox_failures(pool: &PgPool, commune: Option<&str>) -> sqlx::Result<Vec<FailureRow>> {
    sqlx::query_as(&format!(
        "{FAILURE_SELECT} WHERE $1::text IS NULL OR coalesce(s.commune_insee, sa.commune_insee) = $1
         ORDER BY f.id DESC LIMIT 200"
    ))
    .bind(commune)
    .fetch_all(pool)
    .await
}

/// Failed message `id` when `commune` may see it (any when `None`), locked for the change that
/// follows.
pub async fn failure_for_update(
    conn: &mut PgConnection,
    id: i64,
    commune: Option<&str>,
) -> sqlx::Result<Option<FailureRow>> {
    // The view cannot be locked: lock the outbox row itself, still failed.
    let locked: Option<i64> =
        sqlx::query_scalar("SELECT id FROM outbox WHERE id = $1 AND status = 'failed' FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    if locked.is_none() {
        return Ok(None);
    }
    sqlx::query_as(&format!(
        "{FAILURE_SELECT} WHERE f.id = $1 AND ($2::text IS NULL OR coalesce(s.commune_insee, sa.commune_insee) = $2)"
    ))
    .bind(id)
    .bind(commune)
    .fetch_optional(&mut *conn)
    .await
}

/// Whether a later ANTS call of the same appointment was queued after ANTS call `id`: sending
/// the older one again would undo it (a stale withdrawal removes the live declaration, a stale
/// declaration brings back an old time). Never for other kinds.
pub async fn ants_call_superseded(conn: &mut PgConnection, id: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM outbox o JOIN outbox later ON later.appointment_id = o.appointment_id
                        WHERE o.id = $1 AND o.kind IN ('ants_declare', 'ants_delete')
                          AND later.kind IN ('ants_declare', 'ants_delete') AND later.id > o.id)",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await
}

/// Puts failed message `id` back in the queue for a fresh round of attempts, due `now`: the
/// notifier claims pending rows that are due and unclaimed, and gives up after its maximum of
/// attempts, so the count starts again from zero. The notifier is woken as for a new row.
pub async fn retry_failure(conn: &mut PgConnection, id: i64, now: DateTime<Utc>) -> sqlx::Result<bool> {
    let kind: Option<String> = sqlx::query_scalar(
        "UPDATE outbox SET status = 'pending', attempts = 0, due_at = $2, claimed_until = NULL, last_error = NULL
         WHERE id = $1 AND status = 'failed' RETURNING kind",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(kind) = &kind {
        sqlx::query("SELECT pg_notify('outbox', $1)")
            .bind(kind)
            .execute(&mut *conn)
            .await?;
    }
    Ok(kind.is_some())
}
