//! Purchase orders (bons de commande) under the framework agreement: announced first, visible to
//! every member, then issued; never past the agreement's maximum nor outside its term.

use super::{require_admin, RegistryState};
use crate::store::{self, Agreement, OrderError, OrderRow};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use booking_service::error::{ApiError, ApiResult};
use booking_service::http::extract::{Json, Path};
use booking_service::http::params;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// A member's running total.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberTotal {
    member_id: Uuid,
    member_name: String,
    total_cents: i64,
}

/// Orders and totals against the agreement.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrdersOut {
    agreement: Option<Agreement>,
    /// Announced and issued orders.
    committed_cents: i64,
    remaining_cents: Option<i64>,
    /// The group has not yet reached the agreement's minimum.
    below_minimum: Option<bool>,
    per_member: Vec<MemberTotal>,
    orders: Vec<OrderRow>,
}

async fn agreement(state: &RegistryState) -> ApiResult<Option<Agreement>> {
    Ok(sqlx::query_as(
        "SELECT term_start, term_end, min_cents, max_cents FROM framework_agreement WHERE id = 1",
    )
    .fetch_optional(&state.pool)
    .await?)
}

/// Every order, with totals per member and for the group against the agreement.
#[utoipa::path(get, path = "/api/v1/orders", responses((status = 200, body = OrdersOut)))]
pub async fn list_orders(State(state): State<RegistryState>) -> ApiResult<axum::Json<OrdersOut>> {
    let orders = store::orders(&state.pool).await?;
    let agreement = agreement(&state).await?;
    let live = |o: &&OrderRow| o.status != "withdrawn";
    let committed: i64 = orders.iter().filter(live).map(|o| o.amount_cents).sum();
    let mut per: BTreeMap<(String, Uuid), i64> = BTreeMap::new();
    for o in orders.iter().filter(live) {
        *per.entry((o.member_name.clone(), o.member_id)).or_default() += o.amount_cents;
    }
    Ok(axum::Json(OrdersOut {
        remaining_cents: agreement.map(|a| a.max_cents - committed),
        below_minimum: agreement.map(|a| committed < a.min_cents),
        agreement,
        committed_cents: committed,
        per_member: per
            .into_iter()
            .map(|((member_name, member_id), total_cents)| MemberTotal {
                member_id,
                member_name,
                total_cents,
            })
            .collect(),
        orders,
    }))
}

/// A new order.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrder {
    member_id: Uuid,
    teleservice_code: Option<String>,
    /// Amount HT in euro cents.
    amount_cents: i64,
    order_date: NaiveDate,
    #[serde(default)]
    label: String,
}

fn euros(cents: i64) -> String {
    format!("{},{:02} €", cents / 100, (cents % 100).abs())
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
    if o.amount_cents <= 0 {
        return Err(
            ApiError::unprocessable("invalid_amount", "Le montant doit être positif.")
                .with_field("amount_cents"),
        );
    }
    let now = state.clock.now();
    match store::announce_order(&state.pool, o.member_id, o.teleservice_code.as_deref(), o.amount_cents, o.order_date, &o.label, now).await {
        Ok(row) => Ok((StatusCode::CREATED, axum::Json(row))),
        Err(OrderError::Ceiling { agreement, committed }) => Err(ApiError::conflict(
            "agreement_ceiling",
            format!(
                "Ce bon de commande dépasserait le maximum de l'accord-cadre ({} HT) : déjà engagé {}, reste {}.",
                euros(agreement.max_cents),
                euros(committed),
                euros(agreement.max_cents - committed)
            ),
        )
        .with_field("amount_cents")
        .with_extra(json!({"remaining_cents": agreement.max_cents - committed}))),
        Err(OrderError::OutsideTerm(a)) => Err(ApiError::unprocessable(
            "outside_term",
            format!("La date doit être dans la durée de l'accord-cadre (du {} au {}, exclu).", a.term_start, a.term_end),
        )
        .with_field("order_date")),
        Err(OrderError::NoAgreement) => Err(ApiError::conflict("no_agreement", "Aucun accord-cadre n'est enregistré.")),
        Err(OrderError::Unknown) => Err(ApiError::unprocessable("unknown_reference", "Membre ou téléservice inconnu.")),
        Err(OrderError::Db(e)) => Err(e.into()),
    }
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
    let status: Option<String> = sqlx::query_scalar(
        "UPDATE purchase_orders SET status = 'issued', issued_at = $2 WHERE id = $1 AND status = 'announced' RETURNING status",
    )
    .bind(id)
    .bind(state.clock.now())
    .fetch_optional(&state.pool)
    .await?;
    if status.is_some() {
        return Ok(StatusCode::OK);
    }
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM purchase_orders WHERE id = $1)")
        .bind(id)
        .fetch_one(&state.pool)
        .await?;
    if exists {
        Err(ApiError::conflict(
            "not_announced",
            "Ce bon n'est pas à l'état annoncé.",
        ))
    } else {
        Err(ApiError::not_found("order_not_found", "Bon de commande inconnu."))
    }
}
