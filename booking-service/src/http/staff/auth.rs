//! Login, logout, who am I, password change.

use super::Staff;
use crate::error::{ApiError, ApiResult};
use crate::http::client::{client_key, PeerAddr};
use crate::http::extract::Json;
use crate::http::AppState;
use crate::service::staff_sessions;
use crate::staff::{accounts, audit, StaffUser};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

/// Credentials.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    email: String,
    password: String,
}

/// An open session.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginOut {
    /// Send as `Authorization: Bearer …` (also set as an HttpOnly cookie for the web pages).
    token: String,
    expires_at: String,
    account: StaffUser,
}

/// Opens a session (rate-limited per client address; an account locks after 5 wrong passwords).
#[utoipa::path(post, path = "/api/v1/staff/login", tag = "staff", request_body = LoginRequest,
    responses((status = 200, body = LoginOut), (status = 401, description = "Identifiants invalides"),
              (status = 429, description = "Trop de tentatives (compte verrouillé ou adresse limitée)")))]
pub async fn login(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Response> {
    let client = client_key(&state, &headers, &peer);
    let done = staff_sessions::login(&state, &client, &req.email, &req.password).await?;
    let cookie = staff_sessions::session_cookie(&state, &done.token, done.expires_at);
    let body = LoginOut {
        token: done.token,
        expires_at: done.expires_at.to_rfc3339(),
        account: done.user,
    };
    let mut resp = axum::Json(body).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(resp)
}

/// Closes the session.
#[utoipa::path(post, path = "/api/v1/staff/logout", tag = "staff",
    responses((status = 204, description = "Déconnecté"), (status = 401, description = "Non connecté")))]
pub async fn logout(State(state): State<AppState>, staff: Staff) -> ApiResult<Response> {
    staff_sessions::logout(&state, &staff.user, &staff.token).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&staff_sessions::cleared_cookie(&state)).map_err(ApiError::internal)?,
    );
    Ok(resp)
}

/// The logged-in member.
#[utoipa::path(get, path = "/api/v1/staff/me", tag = "staff",
    responses((status = 200, body = StaffUser), (status = 401, description = "Non connecté")))]
pub async fn me(staff: Staff) -> axum::Json<StaffUser> {
    axum::Json(staff.user)
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes one's password; other sessions are closed.
#[utoipa::path(post, path = "/api/v1/staff/password", tag = "staff", request_body = PasswordChange,
    responses((status = 204, description = "Changé"), (status = 401, description = "Non connecté"),
              (status = 422, description = "Mot de passe actuel faux ou nouveau trop faible")))]
pub async fn change_password(
    State(state): State<AppState>,
    staff: Staff,
    Json(req): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    accounts::check_password_strength(&req.new_password)
        .map_err(|m| ApiError::unprocessable("weak_password", m).with_field("new_password"))?;
    let now = state.clock.now();
    if !accounts::change_password(
        &state.pool,
        staff.user.id,
        &req.current_password,
        &req.new_password,
        &staff.token,
        now,
    )
    .await?
    {
        return Err(
            ApiError::unprocessable("wrong_password", "Mot de passe actuel incorrect.")
                .with_field("current_password"),
        );
    }
    audit::record(
        &state.pool,
        &staff.user,
        None,
        "password_change",
        None,
        None,
        json!({}),
        now,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
