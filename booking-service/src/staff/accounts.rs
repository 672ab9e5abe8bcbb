//! Accounts and sessions: argon2id password hashes, random session tokens stored as SHA-256,
//! lockout after repeated wrong passwords. The rows are in [`crate::db::staff`].

use super::{Role, StaffUser};
use crate::db::staff as db;
use crate::tokens::{hash_token, new_token};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// Attempts one client may make on one account before it is locked out of it.
pub const MAX_FAILED_LOGINS: i32 = 5;
/// How long a lock lasts, and the window attempts are counted in.
pub const LOCK_MINUTES: i64 = 15;
/// Attempts on one account from all clients together, per window, before every client waits.
pub const MAX_ATTEMPTS_PER_ACCOUNT: i64 = 50;

/// Argon2 checks running at once: each takes tens of milliseconds of a core and 19 MiB; a login
/// flood must queue here rather than starve the booking requests or exhaust memory.
static ARGON2_PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Passwords checked against a real account's hash since start, for `/metrics` and the test that
/// proves a burst of guesses cannot get past the count (the decoy checks are not counted).
static PASSWORD_CHECKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many passwords were checked since the process started.
pub fn password_checks() -> u64 {
    PASSWORD_CHECKS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Checks a password against a hash off the async threads, at most two at once.
async fn verify_bounded(password: &str, hash: &str) -> bool {
    let Ok(_permit) = ARGON2_PERMITS.acquire().await else {
        return false;
    };
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

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
    let email = email.trim().to_lowercase();
    db::insert_account(
        pool,
        id,
        &email,
        &hash_password(password)?,
        display_name,
        role,
        commune,
    )
    .await?;
    Ok(id)
}

/// The result of a login attempt.
pub enum Login {
    Ok {
        user: StaffUser,
        token: String,
        expires_at: DateTime<Utc>,
    },
    /// Wrong email or password, or this client is locked out of the account for a while: one
    /// answer for all three, so it tells nobody which addresses exist.
    Refused,
}

/// A hash to verify against when the email is unknown, so timing does not reveal accounts.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not a real password, never matches").unwrap_or_default())
}

/// Checks a password from `client` (an opaque key of its address) and opens a session of
/// `session_hours`.
pub async fn login(
    pool: &PgPool,
    client: &str,
    email: &str,
    password: &str,
    now: DateTime<Utc>,
    session_hours: i64,
) -> sqlx::Result<Login> {
    let row = db::account_by_email(pool, &email.trim().to_lowercase()).await?;
    let Some(row) = row.filter(|r| r.active) else {
        // The same work as a real check, so timing reveals no account.
        verify_bounded(password, dummy_hash()).await;
        return Ok(Login::Refused);
    };
    let window = Duration::minutes(LOCK_MINUTES);
    let count = db::count_attempt(pool, row.id, client, now, window).await?;
    let locked = count.locked_until.is_some_and(|u| u > now);
    if locked || count.from_client > MAX_FAILED_LOGINS || count.from_everyone > MAX_ATTEMPTS_PER_ACCOUNT {
        if !locked && count.from_client > MAX_FAILED_LOGINS {
            db::lock_client(pool, row.id, client, now + window).await?;
        }
        // Refused without looking at the password, after the same wait as a real check.
        verify_bounded(password, dummy_hash()).await;
        return Ok(Login::Refused);
    }
    PASSWORD_CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if !verify_bounded(password, &row.password_hash).await {
        return Ok(Login::Refused);
    }
    db::clear_attempts(pool, row.id, client).await?;
    let (token, hash) = new_token();
    let expires_at = now + Duration::hours(session_hours);
    db::insert_session(pool, &hash, row.id, now, expires_at).await?;
    match row.user() {
        Some(user) => Ok(Login::Ok {
            user,
            token,
            expires_at,
        }),
        None => Ok(Login::Refused),
    }
}

/// The staff member behind a session token, if the session is open.
pub async fn session_user(pool: &PgPool, token: &str, now: DateTime<Utc>) -> sqlx::Result<Option<StaffUser>> {
    Ok(db::session_account(pool, &hash_token(token), now)
        .await?
        .and_then(db::AccountRow::user))
}

/// Closes a session.
pub async fn logout(pool: &PgPool, token: &str, now: DateTime<Utc>) -> sqlx::Result<()> {
    db::revoke_session(pool, &hash_token(token), now).await
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
    let hash = db::password_hash(pool, id).await?;
    if !verify_bounded(current, &hash).await {
        return Ok(false);
    }
    db::set_password_closing_other_sessions(pool, id, &hash_password(new)?, &hash_token(keep_token), now)
        .await?;
    Ok(true)
}

/// How long a password-reset link works.
pub const RESET_LINK_MINUTES: i64 = 60;

/// Starts a password reset for `email`: when an active account has it, a one-time token is
/// stored (hashed) and its email queued with the token sealed for the notifier. Says nothing of
/// whether the address exists.
pub async fn request_password_reset(
    pool: &PgPool,
    sealer: &crate::secrets::Sealer,
    email: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let Some(row) = db::account_by_email(pool, &email.trim().to_lowercase())
        .await?
        .filter(|r| r.active)
    else {
        return Ok(());
    };
    let (token, hash) = new_token();
    let expires_at = now + Duration::minutes(RESET_LINK_MINUTES);
    db::insert_password_reset(pool, &hash, row.id, &sealer.seal(&token), now, expires_at).await
}

/// Sets a new password with a reset token, once; every session of the account is closed.
pub async fn complete_password_reset(
    pool: &PgPool,
    token: &str,
    new_password: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<db::AccountSummary>> {
    let new_hash = {
        let _permit = ARGON2_PERMITS.acquire().await?;
        let password = new_password.to_string();
        tokio::task::spawn_blocking(move || hash_password(&password)).await??
    };
    Ok(db::use_password_reset(pool, &hash_token(token), &new_hash, now).await?)
}
