//! `POST /api/v1/sms/replies`: the SMS provider forwards citizens' replies; STOP ends the SMS
//! reminders of that number.

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::request::extract::Json;
use crate::service::management;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A reply as the provider forwards it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SmsReply {
    /// The citizen's number, E.164 or national.
    pub from: String,
    pub text: String,
}

/// What the reply did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsReplyOut {
    /// Live appointments whose SMS reminders stopped.
    pub stopped: u64,
}

/// A citizen's reply to one of our SMS (header `X-SMS-Token`: the shared secret).
#[utoipa::path(post, path = "/api/v1/sms/replies", tag = "ops", request_body = SmsReply,
    params(("X-SMS-Token" = String, Header, description = "Secret partagé avec le fournisseur SMS")),
    responses((status = 200, body = SmsReplyOut), (status = 401, description = "Secret absent ou invalide"),
              (status = 422, description = "Numéro invalide")))]
pub async fn reply(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(r): Json<SmsReply>,
) -> ApiResult<axum::Json<SmsReplyOut>> {
    let given = headers
        .get("x-sms-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ok = state.config.sms_inbound_token.as_ref().is_some_and(|t| {
        !given.is_empty() && super::ants::constant_time_eq(t.expose().as_bytes(), given.as_bytes())
    });
    if !ok {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Secret du fournisseur SMS absent ou invalide.",
        ));
    }
    let stopped = management::sms_reply(&state, &r.from, &r.text).await?;
    Ok(axum::Json(SmsReplyOut { stopped }))
}
