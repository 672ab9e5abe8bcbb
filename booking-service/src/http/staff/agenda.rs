//! What staff see: their sites, a site's agenda by day or week, search, and the CSV export.

use crate::app::AppState;
use crate::db::agenda::EntryRow;
use crate::db::territory::SiteRow;
use crate::error::ApiResult;
use crate::http::availability::rfc3339_local;
use crate::request::extract::{Path, Query};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::{agenda as service, staff_access};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A site the member may see, or 404 (also for another commune's site: not revealed). Kept for
/// the staff pages until they call [`staff_access::visible_site`] themselves.
pub async fn visible_site(state: &AppState, staff: &Staff, raw: &str) -> ApiResult<SiteRow> {
    let id = params::uuid(raw, "site_id")?;
    Ok(staff_access::visible_site(state, &staff.user, id).await?)
}

/// A site as staff list it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffSite {
    id: Uuid,
    name: String,
    commune_insee: String,
    commune_name: String,
    stations: i64,
}

/// The sites of one's commune (every site for a platform administrator).
#[utoipa::path(get, path = "/api/v1/staff/sites", tag = "staff",
    responses((status = 200, body = [StaffSite]), (status = 401, description = "Non connecté")))]
pub async fn sites(State(state): State<AppState>, staff: Staff) -> ApiResult<axum::Json<Vec<StaffSite>>> {
    let rows = service::sites(&state, &staff.user).await?;
    Ok(axum::Json(
        rows.into_iter()
            .map(|s| StaffSite {
                id: s.id,
                name: s.name,
                commune_insee: s.commune_insee,
                commune_name: s.commune_name,
                stations: s.stations,
            })
            .collect(),
    ))
}

/// One appointment on an agenda.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgendaEntry {
    pub id: Uuid,
    pub reference: String,
    pub site_id: Uuid,
    pub station_id: Uuid,
    pub station_name: String,
    pub start: String,
    pub end: String,
    pub status: crate::domain::status::AppointmentStatus,
    pub source: String,
    pub motif: String,
    pub persons: i16,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub pre_demande_numbers: Vec<String>,
    /// Numbers the ANTS reconciliation flagged, with why.
    pub ants_flags: Vec<String>,
}

impl AgendaEntry {
    /// The row with its times written by `time`.
    fn of(r: EntryRow, time: impl Fn(chrono::DateTime<chrono::Utc>) -> String) -> Self {
        Self {
            start: time(r.start_utc),
            end: time(r.end_utc),
            id: r.id,
            reference: r.reference,
            site_id: r.site_id,
            station_id: r.station_id,
            station_name: r.station_name,
            status: r.status,
            source: r.source,
            motif: r.motif,
            persons: r.persons,
            first_name: r.first_name,
            last_name: r.last_name,
            email: r.email,
            phone: r.phone,
            pre_demande_numbers: r.pre_demande_numbers,
            ants_flags: r.ants_flags,
        }
    }
}

/// Which days.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AgendaQuery {
    /// First local date (default today).
    date: Option<String>,
    /// 1 (a day, default) to 7 (a week).
    days: Option<String>,
}

/// A site's agenda, every appointment whatever its status, by time then station.
#[utoipa::path(get, path = "/api/v1/staff/sites/{site_id}/agenda", tag = "staff",
    params(("site_id" = String, Path, description = "Lieu"), AgendaQuery),
    responses((status = 200, body = [AgendaEntry]), (status = 401, description = "Non connecté"),
              (status = 404, description = "Lieu inconnu ou d'une autre commune")))]
pub async fn agenda(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_id): Path<String>,
    Query(q): Query<AgendaQuery>,
) -> ApiResult<axum::Json<Vec<AgendaEntry>>> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let date = params::date(q.date.as_deref(), "date")?;
    // An unreadable count is out of range like 0 or 8.
    let days = q
        .days
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(|d| d.parse().unwrap_or(0));
    let a = service::agenda(&state, &staff.user, site_id, date, days).await?;
    Ok(axum::Json(
        a.entries
            .into_iter()
            .map(|r| AgendaEntry::of(r, |t| rfc3339_local(t, a.tz)))
            .collect(),
    ))
}

/// A search.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchQuery {
    /// Name, email, pré-demande number or reference (3 characters at least).
    q: Option<String>,
}

/// Finds appointments of one's commune by name, email, pré-demande number or reference.
#[utoipa::path(get, path = "/api/v1/staff/appointments", tag = "staff", params(SearchQuery),
    responses((status = 200, body = [AgendaEntry]), (status = 400, description = "Recherche trop courte"),
              (status = 401, description = "Non connecté")))]
pub async fn search(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<SearchQuery>,
) -> ApiResult<axum::Json<Vec<AgendaEntry>>> {
    let rows = service::search(&state, &staff.user, q.q.as_deref()).await?;
    Ok(axum::Json(
        rows.into_iter()
            .map(|r| AgendaEntry::of(r, |t| t.to_rfc3339()))
            .collect(),
    ))
}

/// A period to export.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportQuery {
    from: Option<String>,
    to: Option<String>,
}

/// A cell safe from spreadsheet formula injection and from the separator (kept here for the
/// registry's current import; the rule lives in `formats::csv`).
pub use crate::formats::csv::cell as csv_cell;

/// A period's appointments of a site as CSV (semicolons, UTF-8 with BOM, French labels, formulas neutralised).
#[utoipa::path(get, path = "/api/v1/staff/sites/{site_id}/export", tag = "staff",
    params(("site_id" = String, Path, description = "Lieu"), ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, description = "Dates invalides"),
              (status = 401, description = "Non connecté"), (status = 404, description = "Lieu inconnu ou d'une autre commune")))]
pub async fn export(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let from = params::date(q.from.as_deref(), "from")?;
    let to = params::date(q.to.as_deref(), "to")?;
    let service::Export {
        tz, from, to, rows, ..
    } = service::export_rows(&state, &staff.user, site_id, from, to).await?;
    let out = crate::formats::csv::appointments(&rows, tz);
    let disposition = format!("attachment; filename=\"rendez-vous-{from}-{to}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        out,
    )
        .into_response())
}
