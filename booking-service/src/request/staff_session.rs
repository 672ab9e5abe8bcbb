//! The staff session: a logged-in member, from a Bearer token (API) or the session cookie (pages).

use crate::app::AppState;
use crate::error::ApiError;
use crate::staff::{accounts, StaffUser};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;

/// Name of the session cookie the web pages use.
pub const COOKIE: &str = "rdv_staff";

/// A logged-in staff member and the session token the request carried.
pub struct Staff {
    pub user: StaffUser,
    pub token: String,
}

fn bearer_or_cookie(parts: &Parts) -> Option<String> {
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
            (k == COOKIE).then(|| v.to_string())
        })
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
        let token = bearer_or_cookie(parts)
            .filter(|t| !t.is_empty() && t.len() <= 100)
            .ok_or_else(unauthenticated)?;
        let user = accounts::session_user(&state.pool, &token, state.clock.now())
            .await?
            .ok_or_else(unauthenticated)?;
        Ok(Staff { user, token })
    }
}
