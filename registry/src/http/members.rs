//! Members of the purchasing group: they may join at any time (Article 5) and none may leave
//! before the term (Article 6), so there is no route to remove one.

use super::{require_admin, RegistryState};
use crate::ops::{self, Joining};
use crate::store::{self, MemberRow};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use booking_service::error::ApiResult;
use booking_service::http::extract::Json;

/// Members, the EPCI first.
#[utoipa::path(get, path = "/api/v1/members", responses((status = 200, body = [MemberRow])))]
pub async fn list_members(State(state): State<RegistryState>) -> ApiResult<axum::Json<Vec<MemberRow>>> {
    Ok(axum::Json(store::members(&state.pool).await?))
}

/// A commune joins (platform administrator); its population comes from the commune data.
#[utoipa::path(post, path = "/api/v1/members", request_body = Joining,
    responses((status = 201, description = "Adhésion enregistrée"), (status = 401, description = "Jeton requis"),
              (status = 409, description = "Déjà membre"), (status = 422, description = "Commune inconnue ou champ invalide")))]
pub async fn join(
    State(state): State<RegistryState>,
    headers: HeaderMap,
    Json(j): Json<Joining>,
) -> ApiResult<StatusCode> {
    require_admin(&state, &headers)?;
    ops::join(&state.pool, &j).await?;
    Ok(StatusCode::CREATED)
}
