//! Accounts and sessions: argon2id password hashes, random session tokens stored as SHA-256,
//! lockout after repeated wrong passwords.

use super::{Role, StaffUser};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// Wrong passwords in a row before the account is locked.
pub const MAX_FAILED_LOGINS: i32 = 5;
/// How long a lock lasts.
pub const LOCK_MINUTES: i64 = 15;

/// An argon2id hash (PHC string) of `password`.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

/// Whether `password` matches the stored hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A password staff may choose: long enough to resist guessing.
pub fn check_password_strength(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < 12 {
        return Err("Le mot de passe doit comporter au moins 12 caractères.");
    }
    if password.chars().count() > 256 {
        return Err("Mot de passe trop long.");
    }
    Ok(())
}

/// Creates an account; the email is stored lowercased.
pub async fn create_account(
    pool: &PgPool,
    email: &str,
    password: &str,
    display_name: &str,
    role: Role,
    commune: Option<&str>,
) -> anyhow::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO staff_accounts (id, email, password_hash, display_name, role, commune_insee)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(email.trim().to_lowercase())
    .bind(hash_password(password)?)
    .bind(display_name)
    .bind(role.as_str())
    .bind(commune)
    .execute(pool)
    .await?;
    Ok(id)
}

#[derive(FromRow)]
struct AccountRow {
    id: Uuid,
    email: String,
    display_name: String,
    role: String,
    commune_insee: Option<String>,
    password_hash: String,
    active: bool,
    locked_until: Option<DateTime<Utc>>,
}

impl AccountRow {
    fn user(self) -> Option<StaffUser> {
        Some(StaffUser {
            id: self.id,
            email: self.email,
            display_name: self.display_name,
            role: Role::parse(&self.role)?,
            commune_insee: self.commune_insee,
        })
    }
}

/// The result of a login attempt.
pub enum Login {
    Ok {
        user: StaffUser,
        token: String,
        expires_at: DateTime<Utc>,
    },
    /// Wrong email or password (the same answer for both).
    Invalid,
    /// Too many wrong passwords: locked until then.
    Locked(DateTime<Utc>),
}

/// A hash to verify against when the email is unknown, so timing does not reveal accounts.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not a real password, never matches").unwrap_or_default())
}

/// Checks a password and opens a session of `session_hours`.
pub async fn login(
    pool: &PgPool,
    email: &str,
    password: &str,
    now: DateTime<Utc>,
    session_hours: i64,
) -> sqlx::Result<Login> {
    let row: Option<AccountRow> = sqlx::query_as(
        "SELECT id, email, display_name, role, commune_insee, password_hash, active, locked_until
         FROM staff_accounts WHERE email = $1",
    )
    .bind(email.trim().to_lowercase())
    .fetch_optional(pool)
    .await?;
    let Some(row) = row.filter(|r| r.active) else {
        // The same work as a real check (off the async threads), so timing reveals no account.
        let password = password.to_string();
        let _ = tokio::task::spawn_blocking(move || verify_password(&password, dummy_hash())).await;
        return Ok(Login::Invalid);
    };
    if let Some(until) = row.locked_until.filter(|u| *u > now) {
        return Ok(Login::Locked(until));
    }
    let hash = row.password_hash.clone();
    let ok = tokio::task::spawn_blocking({
        let password = password.to_string();
        move || verify_password(&password, &hash)
    })
    .await
    .unwrap_or(false);
    if !ok {
        let locked: Option<DateTime<Utc>> = sqlx::query_scalar(
            "UPDATE staff_accounts SET failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
                    locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END
             WHERE id = $1 RETURNING locked_until",
        )
        .bind(row.id)
        .bind(MAX_FAILED_LOGINS)
        .bind(now + Duration::minutes(LOCK_MINUTES))
        .fetch_one(pool)
        .await?;
        return Ok(match locked.filter(|u| *u > now) {
            Some(until) => Login::Locked(until),
            None => Login::Invalid,
        });
    }
    sqlx::query("UPDATE staff_accounts SET failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(row.id)
        .execute(pool)
        .await?;
    let (token, hash) = crate::db::appointments::new_manage_token();
    let expires_at = now + Duration::hours(session_hours);
    sqlx::query(
        "INSERT INTO staff_sessions (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&hash)
    .bind(row.id)
    .bind(now)
    .bind(expires_at)
    .execute(pool)
    .await?;
    match row.user() {
        Some(user) => Ok(Login::Ok {
            user,
            token,
            expires_at,
        }),
        None => Ok(Login::Invalid),
    }
}

/// The staff member behind a session token, if the session is open.
pub async fn session_user(pool: &PgPool, token: &str, now: DateTime<Utc>) -> sqlx::Result<Option<StaffUser>> {
    let row: Option<AccountRow> = sqlx::query_as(
        "SELECT a.id, a.email, a.display_name, a.role, a.commune_insee, a.password_hash, a.active, a.locked_until
         FROM staff_sessions s JOIN staff_accounts a ON a.id = s.account_id
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND a.active",
    )
    .bind(crate::db::appointments::hash_token(token))
    .bind(now)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(AccountRow::user))
}

/// Closes a session.
pub async fn logout(pool: &PgPool, token: &str, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query("UPDATE staff_sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL")
        .bind(crate::db::appointments::hash_token(token))
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// Changes a password after checking the current one; closes the member's other sessions.
pub async fn change_password(
    pool: &PgPool,
    id: Uuid,
    current: &str,
    new: &str,
    keep_token: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM staff_accounts WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await?;
    if !verify_password(current, &hash) {
        return Ok(false);
    }
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE staff_accounts SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(hash_password(new)?)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE staff_sessions SET revoked_at = $3 WHERE account_id = $1 AND token_hash <> $2 AND revoked_at IS NULL")
        .bind(id)
        .bind(crate::db::appointments::hash_token(keep_token))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}
