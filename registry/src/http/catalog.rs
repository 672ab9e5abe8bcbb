//! The téléservices catalog and who offers what.

use super::{require_admin, RegistryState};
use crate::ops::{self, NewSubscription, NewTeleservice};
use crate::store::{self, SubscriptionRow, TeleserviceRow};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use booking_service::error::{ApiError, ApiResult};
use booking_service::http::extract::{Json, Query};
use booking_service::http::params;
use serde::Deserialize;
use utoipa::IntoParams;

/// Catalog filter.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CatalogQuery {
    /// INSEE code: what the portal shows a resident of this commune today.
    commune: Option<String>,
}

/// The catalog, or a commune's residents' view of it.
#[utoipa::path(get, path = "/api/v1/teleservices", params(CatalogQuery),
    responses((status = 200, body = [TeleserviceRow]), (status = 400, description = "Code INSEE invalide"),
              (status = 404, description = "Commune hors du groupement")))]
pub async fn list_teleservices(
    State(state): State<RegistryState>,
    Query(q): Query<CatalogQuery>,
) -> ApiResult<axum::Json<Vec<TeleserviceRow>>> {
    let commune = params::insee(q.commune.as_deref())?;
    if let Some(c) = &commune {
        let member: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM registry_members WHERE insee_code = $1)")
                .bind(c)
                .fetch_one(&state.pool)
                .await?;
        if !member {
            return Err(ApiError::not_found(
                "commune_not_member",
                "Cette commune n'est pas membre du groupement.",
            ));
        }
    }
    let today = state.clock.now().date_naive();
    Ok(axum::Json(
        store::teleservices(&state.pool, commune.as_deref(), today).await?,
    ))
}

/// Adds a téléservice to the catalog (platform administrator).
#[utoipa::path(post, path = "/api/v1/teleservices", request_body = NewTeleservice,
    responses((status = 201, description = "Créé"), (status = 401, description = "Jeton requis"),
              (status = 409, description = "Code déjà pris"), (status = 422, description = "Champ invalide")))]
pub async fn create_teleservice(
    State(state): State<RegistryState>,
    headers: HeaderMap,
    Json(t): Json<NewTeleservice>,
) -> ApiResult<StatusCode> {
    require_admin(&state, &headers)?;
    ops::create_teleservice(&state.pool, &t).await?;
    Ok(StatusCode::CREATED)
}

/// Who offers which téléservice, from when to when.
#[utoipa::path(get, path = "/api/v1/subscriptions", responses((status = 200, body = [SubscriptionRow])))]
pub async fn list_subscriptions(
    State(state): State<RegistryState>,
) -> ApiResult<axum::Json<Vec<SubscriptionRow>>> {
    Ok(axum::Json(store::subscriptions(&state.pool).await?))
}

/// Records that a member offers a téléservice (platform administrator).
#[utoipa::path(post, path = "/api/v1/subscriptions", request_body = NewSubscription,
    responses((status = 201, description = "Créé"), (status = 401, description = "Jeton requis"),
              (status = 422, description = "Dates ou références invalides")))]
pub async fn create_subscription(
    State(state): State<RegistryState>,
    headers: HeaderMap,
    Json(s): Json<NewSubscription>,
) -> ApiResult<StatusCode> {
    require_admin(&state, &headers)?;
    ops::create_subscription(&state.pool, &s).await?;
    Ok(StatusCode::CREATED)
}
