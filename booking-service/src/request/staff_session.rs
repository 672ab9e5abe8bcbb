//! The staff session: a logged-in member, from a Bearer token (API) or the session cookie (pages).

use crate::app::AppState;
use crate::error::ApiError;
use crate::staff::{accounts, StaffUser};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;

/// Name of the session cookie the web pages use over plain HTTP (the demo, the tests).
pub const COOKIE: &str = "rdv_staff";
/// Its name over HTTPS: browsers accept a `__Host-` cookie only when Secure, for `Path=/` and
/// without a `Domain`, so no sibling subdomain can set or shadow it.
pub const HOST_COOKIE: &str = "__Host-rdv_staff";

/// The session cookie's name for this deployment.
pub fn cookie_name(public_base_url: &str) -> &'static str {
    if public_base_url.starts_with("https://") {
        HOST_COOKIE
    } else {
        COOKIE
    }
}

/// The `Set-Cookie` value of a session token valid for `max_age_secs` (0 to clear it).
pub fn session_cookie(public_base_url: &str, token: &str, max_age_secs: i64) -> String {
    format!(
        "{}={token}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={}",
        cookie_name(public_base_url),
        max_age_secs.max(0)
    )
}

/// A logged-in staff member and the session token the request carried.
pub struct Staff {
    pub user: StaffUser,
    pub token: String,
}

/// The session token a request carries: its `Authorization: Bearer` token, else the cookie named
/// `cookie`. Public so that the registry's pages, behind the same gateway, read the same session.
pub fn bearer_or_cookie(parts: &Parts, cookie: &str) -> Option<String> {
    let headers = &parts.headers;
    if let Some(t) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(t.trim().to_string());
    }
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == cookie).then(|| v.to_string())
        })
}

/// The CSRF token of a session: a hash of the session token, so it needs no storage and a page
/// of another site cannot know it. Public so that the registry's pages, which share the session,
/// derive the same token rather than a second scheme.
pub fn csrf_token(session: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("csrf/{session}").as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let unauthenticated = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Connexion requise (session absente ou expirée).",
            )
        };
        let token = bearer_or_cookie(parts, cookie_name(&state.config.public_base_url()))
            .filter(|t| !t.is_empty() && t.len() <= 100)
            .ok_or_else(unauthenticated)?;
        let user = accounts::session_user(&state.pool, &token, state.clock.now())
            .await?
            .ok_or_else(unauthenticated)?;
        Ok(Staff { user, token })
    }
}
