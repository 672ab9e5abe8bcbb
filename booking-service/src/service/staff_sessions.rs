//! Staff login: the client's attempt budget, the length check in front of argon2 (a megabyte
//! password must not cost a megabyte of hashing), the lockout per account and client, the audit
//! row.

use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::staff::{accounts, audit, StaffUser};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Longest email address accepted (RFC 5321).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest password hashed; beyond, refused before argon2 runs.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// A session opened.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub user: StaffUser,
    /// The session token (only its hash is stored).
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Logs a member in (the API and the login page both come here). `client` keys the per-client
/// attempt budget.
pub async fn login(state: &AppState, client: &str, email: &str, password: &str) -> ServiceResult<LoggedIn> {
    if state.login_limiter.check(&state.kv, client).await.is_err() {
        return Err(ServiceError::TooManyAttempts { retry_after_secs: 60 });
    }
    if email.len() > MAX_EMAIL_LEN || password.len() > MAX_PASSWORD_LEN {
        return Err(ServiceError::Invalid {
            code: "invalid_field",
            field: None,
            message: "Identifiants trop longs.".into(),
        });
    }
    let now = state.clock.now();
    match accounts::login(
        &state.pool,
        client,
        email,
        password,
        now,
        state.config.staff_session_hours,
    )
    .await?
    {
        accounts::Login::Ok {
            user,
            token,
            expires_at,
        } => {
            audit::record(&state.pool, &user, None, "login", None, None, json!({}), now).await?;
            Ok(LoggedIn {
                user,
                token,
                expires_at,
            })
        }
        accounts::Login::Refused => Err(ServiceError::BadCredentials),
    }
}

/// The session cookie of a session opened at `now` (HttpOnly, Secure, SameSite=Strict; named
/// `__Host-…` over HTTPS).
pub fn session_cookie(state: &AppState, token: &str, expires_at: DateTime<Utc>) -> String {
    let max_age = (expires_at - state.clock.now()).num_seconds();
    crate::request::staff_session::session_cookie(&state.config.public_base_url(), token, max_age)
}

/// The cookie that ends the session in the browser.
pub fn cleared_cookie(state: &AppState) -> String {
    crate::request::staff_session::session_cookie(&state.config.public_base_url(), "", 0)
}

/// Ends a session (the API's logout and the pages' button), audited.
pub async fn logout(state: &AppState, user: &StaffUser, token: &str) -> ServiceResult<()> {
    let now = state.clock.now();
    accounts::logout(&state.pool, token, now).await?;
    audit::record(&state.pool, user, None, "logout", None, None, json!({}), now).await?;
    Ok(())
}
