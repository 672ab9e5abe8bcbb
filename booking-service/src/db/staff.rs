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

/// Counts a wrong password; the `max`-th in a row locks the account until `lock_until` (and
/// restarts the count). Returns the lock, if any.
pub async fn record_failed_login(
    pool: &PgPool,
    id: Uuid,
    max: i32,
    lock_until: DateTime<Utc>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "UPDATE staff_accounts SET failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
                locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END
         WHERE id = $1 RETURNING locked_until",
    )
    .bind(id)
    .bind(max)
    .bind(lock_until)
    .fetch_one(pool)
    .await
}

/// A right password: the count of wrong ones starts again.
pub async fn clear_failed_logins(pool: &PgPool, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE staff_accounts SET failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(id)
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
