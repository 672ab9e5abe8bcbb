//! A site's settings by its administrators, beyond single rules: a station's whole week (previewed
//! before it applies), closures ended early or removed, stations added, renamed, turned on or off,
//! and the motif settings (minutes per person, maximum persons, what to bring). Each handler
//! parses, calls one function of [`crate::service::calendar_admin`], renders JSON.

use super::calendar::ChangeOut;
use crate::app::AppState;
use crate::domain::motif::Motif;
use crate::error::ApiResult;
use crate::request::extract::{Json, Path, Query};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::calendar_admin::{self as service, MotifInput, RangeDraft, StationChange, WeekDraft};
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

/// One opening range of a week.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RangeIn {
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    weekday: i16,
    /// `HH:MM`, local time.
    start_time: String,
    end_time: String,
}

/// A station's whole week from a date on; a day without a range is closed.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WeekIn {
    /// First day the new week applies (today or later).
    valid_from: NaiveDate,
    ranges: Vec<RangeIn>,
}

/// Preview or apply.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Confirm {
    /// `true` to apply; otherwise only the preview is answered.
    confirm: Option<bool>,
}

/// Replaces a station's week from `valid_from` on: first a preview of the station's appointments
/// the new hours would leave outside any opening; `?confirm=true` applies it (those appointments
/// are kept, and listed). An error about a day names it in `field` (`monday` … `sunday`).
#[utoipa::path(put, path = "/api/v1/staff/sites/{site_id}/stations/{station_id}/week", tag = "staff", request_body = WeekIn,
    params(("site_id" = String, Path, description = "Lieu"), ("station_id" = String, Path, description = "Poste"), Confirm),
    responses((status = 200, body = ChangeOut), (status = 400, description = "Corps illisible"), (status = 401, description = "Non connecté"),
              (status = 403, description = "Réservé aux administrateurs"), (status = 404, description = "Lieu ou poste inconnu ou d'une autre commune"),
              (status = 422, description = "Plage invalide ou chevauchante, date d'effet passée")))]
pub async fn replace_week(
    State(state): State<AppState>,
    staff: Staff,
    Path((site_id, station_id)): Path<(String, String)>,
    Query(q): Query<Confirm>,
    Json(w): Json<WeekIn>,
) -> ApiResult<axum::Json<ChangeOut>> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let week = WeekDraft {
        station_id: params::uuid(&station_id, "station_id")?,
        valid_from: w.valid_from,
        ranges: w
            .ranges
            .into_iter()
            .map(|r| RangeDraft {
                weekday: r.weekday,
                start_time: r.start_time,
                end_time: r.end_time,
            })
            .collect(),
    };
    let change =
        service::replace_week(&state, &staff.user, site_id, &week, q.confirm.unwrap_or(false)).await?;
    Ok(axum::Json(change.into()))
}

/// A closure's new end.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ClosureEndIn {
    /// RFC 3339; absent: now.
    end: Option<String>,
}

/// Ends a closure earlier than planned (at `end`, or now).
#[utoipa::path(patch, path = "/api/v1/staff/sites/{site_id}/closures/{closure_id}", tag = "staff", request_body = ClosureEndIn,
    params(("site_id" = String, Path, description = "Lieu"), ("closure_id" = String, Path, description = "Fermeture")),
    responses((status = 204, description = "Fin avancée"), (status = 400, description = "Corps illisible"), (status = 401, description = "Non connecté"),
              (status = 403, description = "Réservé aux administrateurs"), (status = 404, description = "Fermeture inconnue ou d'une autre commune"),
              (status = 422, description = "Nouvelle fin invalide (passée, avant le début, après la fin prévue) ou fermeture terminée")))]
pub async fn end_closure(
    State(state): State<AppState>,
    staff: Staff,
    Path((site_id, closure_id)): Path<(String, String)>,
    Json(b): Json<ClosureEndIn>,
) -> ApiResult<StatusCode> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let closure = params::uuid(&closure_id, "closure_id")?;
    let end = b.end.as_deref().map(|e| params::instant(e, "end")).transpose()?;
    service::end_closure(&state, &staff.user, site_id, closure, end).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a closure: its times are offered again.
#[utoipa::path(delete, path = "/api/v1/staff/sites/{site_id}/closures/{closure_id}", tag = "staff",
    params(("site_id" = String, Path, description = "Lieu"), ("closure_id" = String, Path, description = "Fermeture")),
    responses((status = 204, description = "Supprimée"), (status = 401, description = "Non connecté"),
              (status = 403, description = "Réservé aux administrateurs"), (status = 404, description = "Fermeture inconnue ou d'une autre commune")))]
pub async fn delete_closure(
    State(state): State<AppState>,
    staff: Staff,
    Path((site_id, closure_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let closure = params::uuid(&closure_id, "closure_id")?;
    service::delete_closure(&state, &staff.user, site_id, closure).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new station.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewStation {
    /// 1 to 60 characters, unique in the site.
    name: String,
}

/// Adds a station (active, without opening hours until its week is set).
#[utoipa::path(post, path = "/api/v1/staff/sites/{site_id}/stations", tag = "staff", request_body = NewStation,
    params(("site_id" = String, Path, description = "Lieu")),
    responses((status = 201, description = "Créé"), (status = 400, description = "Corps illisible"), (status = 401, description = "Non connecté"),
              (status = 403, description = "Réservé aux administrateurs"), (status = 404, description = "Lieu inconnu ou d'une autre commune"),
              (status = 422, description = "Nom vide, trop long ou déjà pris")))]
pub async fn add_station(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_id): Path<String>,
    Json(b): Json<NewStation>,
) -> ApiResult<(StatusCode, axum::Json<serde_json::Value>)> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let id = service::add_station(&state, &staff.user, site_id, &b.name).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"id": id}))))
}

/// What to change about a station.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StationPatch {
    name: Option<String>,
    /// `false`: no time is offered on it any more (its appointments are kept, and listed).
    active: Option<bool>,
}

/// Renames a station and/or turns it on or off; answers the live appointments to come kept on a
/// station turned off.
#[utoipa::path(patch, path = "/api/v1/staff/sites/{site_id}/stations/{station_id}", tag = "staff", request_body = StationPatch,
    params(("site_id" = String, Path, description = "Lieu"), ("station_id" = String, Path, description = "Poste")),
    responses((status = 200, body = ChangeOut), (status = 400, description = "Corps illisible"), (status = 401, description = "Non connecté"),
              (status = 403, description = "Réservé aux administrateurs"), (status = 404, description = "Poste inconnu ou d'une autre commune"),
              (status = 422, description = "Nom vide, trop long ou déjà pris, ou rien à changer")))]
pub async fn change_station(
    State(state): State<AppState>,
    staff: Staff,
    Path((site_id, station_id)): Path<(String, String)>,
    Json(b): Json<StationPatch>,
) -> ApiResult<axum::Json<ChangeOut>> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let station = params::uuid(&station_id, "station_id")?;
    let change = StationChange {
        name: b.name,
        active: b.active,
    };
    let out = service::change_station(&state, &staff.user, site_id, station, &change).await?;
    Ok(axum::Json(out.into()))
}

/// A motif's settings at a site.
#[derive(Debug, Serialize, ToSchema)]
pub struct MotifOut {
    motif: Motif,
    /// In French.
    label: &'static str,
    minutes_per_person: i32,
    max_persons: i32,
    /// The site's own list, one item per line (`null`: the default list).
    what_to_bring: Option<String>,
}

/// The motifs the site offers, with their settings.
#[utoipa::path(get, path = "/api/v1/staff/sites/{site_id}/motifs", tag = "staff", params(("site_id" = String, Path, description = "Lieu")),
    responses((status = 200, body = [MotifOut]), (status = 401, description = "Non connecté"),
              (status = 403, description = "Réservé aux administrateurs"), (status = 404, description = "Lieu inconnu ou d'une autre commune")))]
pub async fn motifs(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_id): Path<String>,
) -> ApiResult<axum::Json<Vec<MotifOut>>> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let view = service::admin_view(&state, &staff.user, site_id).await?;
    Ok(axum::Json(
        view.motifs
            .into_iter()
            .map(|m| MotifOut {
                motif: m.motif,
                label: m.motif.label_fr(),
                minutes_per_person: m.minutes_per_person,
                max_persons: m.max_persons,
                what_to_bring: m.what_to_bring,
            })
            .collect(),
    ))
}

/// A motif's settings.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MotifIn {
    /// 5 to 240.
    minutes_per_person: i32,
    /// 1 to 10.
    max_persons: i32,
    /// One item per line; absent or empty: the default list.
    #[serde(default)]
    what_to_bring: String,
}

/// Sets a motif's settings at the site (offering it if it was not).
#[utoipa::path(put, path = "/api/v1/staff/sites/{site_id}/motifs/{motif}", tag = "staff", request_body = MotifIn,
    params(("site_id" = String, Path, description = "Lieu"), ("motif" = String, Path, description = "CNI, PASSPORT, CNI-PASSPORT ou RETRIEVAL")),
    responses((status = 204, description = "Enregistré"), (status = 400, description = "Motif inconnu ou corps illisible"), (status = 401, description = "Non connecté"),
              (status = 403, description = "Réservé aux administrateurs"), (status = 404, description = "Lieu inconnu ou d'une autre commune"),
              (status = 422, description = "Valeur hors limites")))]
pub async fn set_motif(
    State(state): State<AppState>,
    staff: Staff,
    Path((site_id, motif)): Path<(String, String)>,
    Json(b): Json<MotifIn>,
) -> ApiResult<StatusCode> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let motif = params::motif(Some(&motif), Motif::Cni)?;
    let input = MotifInput {
        minutes_per_person: b.minutes_per_person,
        max_persons: b.max_persons,
        what_to_bring: b.what_to_bring,
    };
    service::set_motif(&state, &staff.user, site_id, motif, &input).await?;
    Ok(StatusCode::NO_CONTENT)
}
