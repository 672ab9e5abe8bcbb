//! Staff accounts and sessions as stored. Passwords arrive here already hashed (argon2id) and
//! session tokens as their SHA-256: this module never sees a secret in clear.

use crate::staff::{Role, StaffUser};
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// An account row, with what a login needs to decide.
#[derive(Debug, FromRow)]
pub struct AccountRow {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub commune_insee: Option<String>,
    pub password_hash: String,
    pub active: bool,
    pub locked_until: Option<DateTime<Utc>>,
}

impl AccountRow {
    /// The member, when the stored role is one we know.
    pub fn user(self) -> Option<StaffUser> {
        Some(StaffUser {
            id: self.id,
            email: self.email,
            display_name: self.display_name,
            role: Role::parse(&self.role)?,
            commune_insee: self.commune_insee,
        })
    }
}

/// A new account (email already normalised, password already hashed).
pub async fn insert_account(
    pool: &PgPool,
    id: Uuid,
    email: &str,
    password_hash: &str,
    display_name: &str,
    role: Role,
    commune: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO staff_accounts (id, email, password_hash, display_name, role, commune_insee)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(email)
    .bind(password_hash)
    .bind(display_name)
    .bind(role.as_str())
    .bind(commune)
    .execute(pool)
    .await?;
    Ok(())
}

/// The account of a (normalised) email address.
pub async fn account_by_email(pool: &PgPool, email: &str) -> sqlx::Result<Option<AccountRow>> {
    sqlx::query_as(
        "SELECT id, email, display_name, role, commune_insee, password_hash, active, locked_until
         FROM staff_accounts WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(pool)
    .await
}

/// Where a login attempt stands once counted.
#[derive(Debug, Clone, Copy)]
pub struct AttemptCount {
    /// Attempts of this client on this account in its current window, this one included.
    pub from_client: i32,
    /// This client is locked out of this account until then.
    pub locked_until: Option<DateTime<Utc>>,
    /// Attempts on this account from every client in the last `window`.
    pub from_everyone: i64,
}

/// Counts an attempt of `client` on `account` BEFORE its password is checked (the row lock of
/// the upsert serializes concurrent attempts of one client). A lock that has run out starts a
/// new count.
pub async fn count_attempt(
    pool: &PgPool,
    account: Uuid,
    client: &str,
    now: DateTime<Utc>,
    window: chrono::Duration,
) -> sqlx::Result<AttemptCount> {
    let (from_client, locked_until): (i32, Option<DateTime<Utc>>) = sqlx::query_as(
        "INSERT INTO staff_login_failures AS f (account_id, client_key, failures, updated_at) VALUES ($1, $2, 1, $3)
         ON CONFLICT (account_id, client_key) DO UPDATE SET
             failures = CASE WHEN f.locked_until <= $3 OR f.updated_at < $3 - $4 THEN 1 ELSE f.failures + 1 END,
             locked_until = CASE WHEN f.locked_until <= $3 THEN NULL ELSE f.locked_until END,
             updated_at = $3
         RETURNING failures, locked_until",
    )
    .bind(account)
    .bind(client)
    .bind(now)
    .bind(window)
    .fetch_one(pool)
    .await?;
    let from_everyone: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(failures), 0) FROM staff_login_failures WHERE account_id = $1 AND updated_at >= $2 - $3",
    )
    .bind(account)
    .bind(now)
    .bind(window)
    .fetch_one(pool)
    .await?;
    Ok(AttemptCount {
        from_client,
        locked_until,
        from_everyone,
    })
}

/// Locks `client` out of `account` until `until`.
pub async fn lock_client(
    pool: &PgPool,
    account: Uuid,
    client: &str,
    until: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE staff_login_failures SET locked_until = $3 WHERE account_id = $1 AND client_key = $2",
    )
    .bind(account)
    .bind(client)
    .bind(until)
    .execute(pool)
    .await?;
    Ok(())
}

/// A right password: this client's count on this account starts again.
pub async fn clear_attempts(pool: &PgPool, account: Uuid, client: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM staff_login_failures WHERE account_id = $1 AND client_key = $2")
        .bind(account)
        .bind(client)
        .execute(pool)
        .await?;
    Ok(())
}

/// Opens a session (its token's hash).
pub async fn insert_session(
    pool: &PgPool,
    token_hash: &[u8],
    account: Uuid,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO staff_sessions (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(account)
    .bind(now)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// The active member behind an open session.
pub async fn session_account(
    pool: &PgPool,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> sqlx::Result<Option<AccountRow>> {
    sqlx::query_as(
        "SELECT a.id, a.email, a.display_name, a.role, a.commune_insee, a.password_hash, a.active, a.locked_until
         FROM staff_sessions s JOIN staff_accounts a ON a.id = s.account_id
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND a.active",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// Closes a session.
pub async fn revoke_session(pool: &PgPool, token_hash: &[u8], now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query("UPDATE staff_sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL")
        .bind(token_hash)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// The stored password hash of an account.
pub async fn password_hash(pool: &PgPool, id: Uuid) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT password_hash FROM staff_accounts WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
}

/// Sets a new password hash and closes every other session of the account, in one transaction.
pub async fn set_password_closing_other_sessions(
    pool: &PgPool,
    id: Uuid,
    new_hash: &str,
    keep_token_hash: &[u8],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE staff_accounts SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(new_hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE staff_sessions SET revoked_at = $3 WHERE account_id = $1 AND token_hash <> $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(keep_token_hash)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// An account as its administrators see it.
#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct AccountSummary {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub commune_insee: Option<String>,
    pub active: bool,
}

/// One account, locked for the change about to be made.
pub async fn account_for_update(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<AccountSummary>> {
    sqlx::query_as(
        "SELECT id, email, display_name, role, commune_insee, active FROM staff_accounts WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Sets an account's active flag and role; a deactivation closes every session at once.
pub async fn set_account_state(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    active: bool,
    role: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<AccountSummary> {
    let row: AccountSummary = sqlx::query_as(
        "UPDATE staff_accounts SET active = $2, role = $3 WHERE id = $1
         RETURNING id, email, display_name, role, commune_insee, active",
    )
    .bind(id)
    .bind(active)
    .bind(role)
    .fetch_one(&mut *conn)
    .await?;
    if !active {
        sqlx::query("UPDATE staff_sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(row)
}

/// Records a password-reset token (its hash) and queues its email in one transaction.
pub async fn insert_password_reset(
    pool: &PgPool,
    token_hash: &[u8],
    account: Uuid,
    sealed_token: &[u8],
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    use base64::Engine;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO staff_password_resets (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(account)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    let payload = serde_json::json!({
        "account_id": account,
        "sealed": base64::engine::general_purpose::STANDARD.encode(sealed_token),
    });
    super::outbox::enqueue(
        &mut tx,
        super::outbox::OutboxKind::StaffPasswordReset,
        None,
        payload,
        now,
        now,
    )
    .await?;
    tx.commit().await
}

/// Uses a reset token once: sets the new password hash and closes every session of the account,
/// in one transaction. `None` when the token is unknown, used or expired.
pub async fn use_password_reset(
    pool: &PgPool,
    token_hash: &[u8],
    new_hash: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<AccountSummary>> {
    let mut tx = pool.begin().await?;
    let account: Option<Uuid> = sqlx::query_scalar(
        "UPDATE staff_password_resets SET used_at = $2
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING account_id",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(account) = account else {
        return Ok(None);
    };
    let row: Option<AccountSummary> = sqlx::query_as(
        "UPDATE staff_accounts SET password_hash = $2 WHERE id = $1 AND active
         RETURNING id, email, display_name, role, commune_insee, active",
    )
    .bind(account)
    .bind(new_hash)
    .fetch_optional(&mut *tx)
    .await?;
    if row.is_none() {
        return Ok(None);
    }
    sqlx::query("UPDATE staff_sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL")
        .bind(account)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM staff_login_failures WHERE account_id = $1")
        .bind(account)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(row)
}
