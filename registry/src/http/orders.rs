//! Purchase orders (bons de commande) under the framework agreement: announced first, visible to
//! every member, then issued, or withdrawn; never past the agreement's maximum nor outside its
//! term. The rules are in [`crate::ops`], shared with the pages.

use super::{require_admin, RegistryState};
use crate::ops::{self, NewOrder, OrdersOut};
use crate::store::OrderRow;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use booking_service::error::ApiResult;
use booking_service::http::extract::{Json, Path};
use booking_service::http::params;

/// Every order, with totals per member and for the group against the agreement.
#[utoipa::path(get, path = "/api/v1/orders", responses((status = 200, body = OrdersOut)))]
pub async fn list_orders(State(state): State<RegistryState>) -> ApiResult<axum::Json<OrdersOut>> {
    Ok(axum::Json(ops::orders(&state.pool).await?))
}

/// Announces an order (platform administrator); refused past the maximum or outside the term.
#[utoipa::path(post, path = "/api/v1/orders", request_body = NewOrder,
    responses((status = 201, body = OrderRow), (status = 401, description = "Jeton requis"),
              (status = 409, description = "Dépasserait le maximum de l'accord-cadre"),
              (status = 422, description = "Hors de la durée de l'accord-cadre, ou champ invalide")))]
pub async fn announce(
    State(state): State<RegistryState>,
    headers: HeaderMap,
    Json(o): Json<NewOrder>,
) -> ApiResult<(StatusCode, axum::Json<OrderRow>)> {
    require_admin(&state, &headers)?;
    let row = ops::announce_order(&state.pool, &o, state.clock.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(row)))
}

/// Issues an announced order (platform administrator).
#[utoipa::path(post, path = "/api/v1/orders/{order_id}/issue", params(("order_id" = String, Path, description = "Identifiant du bon")),
    responses((status = 200, description = "Émis"), (status = 401, description = "Jeton requis"),
              (status = 404, description = "Bon inconnu"), (status = 409, description = "Pas à l'état annoncé")))]
pub async fn issue(
    State(state): State<RegistryState>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
) -> ApiResult<StatusCode> {
    require_admin(&state, &headers)?;
    let id = params::uuid(&order_id, "order_id")?;
    ops::issue_order(&state.pool, id, state.clock.now()).await?;
    Ok(StatusCode::OK)
}

/// Withdraws an announced or issued order (platform administrator): it stays listed as withdrawn
/// and no longer counts in the totals.
#[utoipa::path(post, path = "/api/v1/orders/{order_id}/withdraw", params(("order_id" = String, Path, description = "Identifiant du bon")),
    responses((status = 200, description = "Retiré"), (status = 401, description = "Jeton requis"),
              (status = 400, description = "Identifiant invalide"),
              (status = 404, description = "Bon inconnu"), (status = 409, description = "Déjà retiré")))]
pub async fn withdraw(
    State(state): State<RegistryState>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
) -> ApiResult<StatusCode> {
    require_admin(&state, &headers)?;
    let id = params::uuid(&order_id, "order_id")?;
    ops::withdraw_order(&state.pool, id).await?;
    Ok(StatusCode::OK)
}
