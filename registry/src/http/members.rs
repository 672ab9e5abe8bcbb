//! Members of the purchasing group: they may join at any time (Article 5) and none may leave
//! before the term (Article 6), so there is no route to remove one.

use super::{require_admin, RegistryState};
use crate::store::{self, MemberRow};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use booking_service::db::constraints::violated;
use booking_service::error::{ApiError, ApiResult};
use booking_service::http::extract::Json;
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Members, the EPCI first.
#[utoipa::path(get, path = "/api/v1/members", responses((status = 200, body = [MemberRow])))]
pub async fn list_members(State(state): State<RegistryState>) -> ApiResult<axum::Json<Vec<MemberRow>>> {
    Ok(axum::Json(store::members(&state.pool).await?))
}

/// A commune joining the group.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Joining {
    /// INSEE code of a commune known to the platform.
    insee_code: String,
    siren: String,
    adhesion_date: NaiveDate,
    /// Reference of the council deliberation.
    deliberation_ref: String,
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
    if j.siren.len() != 9 || !j.siren.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::unprocessable("invalid_siren", "SIREN : 9 chiffres.").with_field("siren"));
    }
    if j.deliberation_ref.trim().is_empty() {
        return Err(
            ApiError::unprocessable("invalid_field", "Référence de la délibération requise.")
                .with_field("deliberation_ref"),
        );
    }
    let commune: Option<(String, Option<i32>)> =
        sqlx::query_as("SELECT name, population FROM communes WHERE insee_code = $1")
            .bind(j.insee_code.trim())
            .fetch_optional(&state.pool)
            .await?;
    let Some((name, population)) = commune else {
        return Err(
            ApiError::unprocessable("unknown_commune", "Commune inconnue de la plateforme.")
                .with_field("insee_code"),
        );
    };
    let id = Uuid::new_v4();
    let mut tx = state.pool.begin().await?;
    let res = sqlx::query(
        "INSERT INTO registry_members (id, kind, insee_code, siren, name, adhesion_date, deliberation_ref)
         VALUES ($1, 'commune', $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(j.insee_code.trim())
    .bind(&j.siren)
    .bind(&name)
    .bind(j.adhesion_date)
    .bind(j.deliberation_ref.trim())
    .execute(&mut *tx)
    .await;
    match res {
        Ok(_) => {}
        // The same commune (its INSEE code) or the same SIREN: already a member.
        Err(e)
            if matches!(
                violated(&e),
                Some("registry_members_insee_code_key" | "registry_members_siren_key")
            ) =>
        {
            return Err(ApiError::conflict(
                "already_member",
                "Cette commune est déjà membre.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(p) = population {
        sqlx::query("INSERT INTO member_populations (member_id, source, municipale, totale) VALUES ($1, 'communes', $2, $2)")
            .bind(id)
            .bind(p)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::CREATED)
}
