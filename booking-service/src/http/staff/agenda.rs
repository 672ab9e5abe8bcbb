//! What staff see: their sites, a site's agenda by day or week, search, and the CSV export.

use super::{not_yours, Staff};
use crate::db::territory::{self, SiteFilter, SiteRow};
use crate::error::{ApiError, ApiResult};
use crate::http::availability::{rfc3339_local, site_tz};
use crate::http::extract::{Path, Query};
use crate::http::{params, AppState};
use crate::staff::audit;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::FromRow;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A site the member may see, or 404 (also for another commune's site: not revealed).
pub async fn visible_site(state: &AppState, staff: &Staff, raw: &str) -> ApiResult<SiteRow> {
    let id = params::uuid(raw, "site_id")?;
    let site = territory::list_sites(
        &state.pool,
        &SiteFilter {
            id: Some(id),
            ..SiteFilter::default()
        },
    )
    .await?
    .into_iter()
    .next()
    .ok_or_else(|| not_yours("site_not_found"))?;
    if staff.user.sees(&site.commune_insee) {
        Ok(site)
    } else {
        Err(not_yours("site_not_found"))
    }
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
    let filter = SiteFilter {
        commune: staff.user.commune_insee.clone(),
        ..SiteFilter::default()
    };
    let rows = territory::list_sites(&state.pool, &filter).await?;
    Ok(axum::Json(
        rows.into_iter()
            .filter(|s| staff.user.sees(&s.commune_insee))
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
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct AgendaEntry {
    pub id: Uuid,
    pub reference: String,
    pub site_id: Uuid,
    pub station_id: Uuid,
    pub station_name: String,
    #[serde(skip)]
    pub start_utc: DateTime<Utc>,
    #[serde(skip)]
    pub end_utc: DateTime<Utc>,
    #[sqlx(skip)]
    pub start: String,
    #[sqlx(skip)]
    pub end: String,
    pub status: String,
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

const ENTRY_SELECT: &str = "SELECT a.id, a.reference, a.site_id, a.station_id, st.name AS station_name,
        lower(a.during) AS start_utc, upper(a.during) AS end_utc, a.status, a.source, a.motif, a.persons,
        a.first_name, a.last_name, a.email, a.phone,
        array(SELECT number FROM appointment_pre_demandes d WHERE d.appointment_id = a.id ORDER BY number) AS pre_demande_numbers,
        array(SELECT number || ' : ' || coalesce(ants_note, '') FROM appointment_pre_demandes d
              WHERE d.appointment_id = a.id AND d.ants_check = 'flagged' ORDER BY number) AS ants_flags
    FROM appointments a JOIN stations st ON st.id = a.station_id JOIN sites s ON s.id = a.site_id";

fn localize(mut entries: Vec<AgendaEntry>, tz: chrono_tz::Tz) -> Vec<AgendaEntry> {
    for e in &mut entries {
        e.start = rfc3339_local(e.start_utc, tz);
        e.end = rfc3339_local(e.end_utc, tz);
    }
    entries
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
    let site = visible_site(&state, &staff, &site_id).await?;
    let tz = site_tz(&site)?;
    let day = params::date(q.date.as_deref(), "date")?
        .unwrap_or_else(|| state.clock.now().with_timezone(&tz).date_naive());
    let days: i64 =
        match q.days.as_deref() {
            None | Some("") => 1,
            Some(d) => d.parse().ok().filter(|n| (1..=7).contains(n)).ok_or_else(|| {
                ApiError::bad_request("invalid_days", "days : de 1 à 7.").with_field("days")
            })?,
        };
    let from = crate::domain::tz::resolve_local(tz, day.and_time(NaiveTime::MIN));
    let to = crate::domain::tz::resolve_local(tz, (day + Duration::days(days)).and_time(NaiveTime::MIN));
    let rows: Vec<AgendaEntry> = sqlx::query_as(&format!(
        "{ENTRY_SELECT} WHERE a.site_id = $1 AND a.during && tstzrange($2, $3) ORDER BY lower(a.during), st.name"
    ))
    .bind(site.id)
    .bind(from)
    .bind(to)
    .fetch_all(&state.pool)
    .await?;
    Ok(axum::Json(localize(rows, tz)))
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
    let text = q.q.as_deref().map(str::trim).unwrap_or("");
    if text.chars().count() < 3 || text.chars().count() > 100 {
        return Err(
            ApiError::bad_request("invalid_query", "Recherche : de 3 à 100 caractères.").with_field("q"),
        );
    }
    let pattern = format!("%{}%", text.replace(['%', '_', '\\'], ""));
    let mut rows: Vec<AgendaEntry> = sqlx::query_as(&format!(
        "{ENTRY_SELECT} WHERE ($1::text IS NULL OR s.commune_insee = $1)
           AND (a.last_name ILIKE $2 OR a.first_name ILIKE $2 OR a.email ILIKE $2 OR a.reference ILIKE $2
                OR (a.last_name || ' ' || a.first_name) ILIKE $2 OR (a.first_name || ' ' || a.last_name) ILIKE $2
                OR EXISTS (SELECT 1 FROM appointment_pre_demandes d WHERE d.appointment_id = a.id AND d.number = upper($3)))
         ORDER BY lower(a.during) DESC LIMIT 100"
    ))
    .bind(staff.user.commune_insee.as_deref())
    .bind(&pattern)
    .bind(text)
    .fetch_all(&state.pool)
    .await?;
    for r in &mut rows {
        r.start = r.start_utc.to_rfc3339();
        r.end = r.end_utc.to_rfc3339();
    }
    Ok(axum::Json(rows))
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

/// A period's appointments of a site as CSV (semicolons, UTF-8 with BOM, formulas neutralised).
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
    let site = visible_site(&state, &staff, &site_id).await?;
    let tz = site_tz(&site)?;
    let from = params::date(q.from.as_deref(), "from")?
        .ok_or_else(|| ApiError::bad_request("missing_date", "from requis.").with_field("from"))?;
    let to = params::date(q.to.as_deref(), "to")?
        .ok_or_else(|| ApiError::bad_request("missing_date", "to requis.").with_field("to"))?;
    if to < from || (to - from).num_days() > 366 {
        return Err(
            ApiError::bad_request("invalid_range", "Période invalide (366 jours au plus).").with_field("to"),
        );
    }
    let lo = crate::domain::tz::resolve_local(tz, from.and_time(NaiveTime::MIN));
    let hi = crate::domain::tz::resolve_local(tz, (to + Duration::days(1)).and_time(NaiveTime::MIN));
    let rows: Vec<AgendaEntry> = sqlx::query_as(&format!(
        "{ENTRY_SELECT} WHERE a.site_id = $1 AND a.during && tstzrange($2, $3) ORDER BY lower(a.during), st.name"
    ))
    .bind(site.id)
    .bind(lo)
    .bind(hi)
    .fetch_all(&state.pool)
    .await?;
    let mut out = String::from("\u{feff}Date;Heure;Poste;Référence;Statut;Origine;Motif;Personnes;Nom;Prénom;Courriel;Téléphone;Numéros de pré-demande\r\n");
    for r in &rows {
        let l = r.start_utc.with_timezone(&tz);
        let cells = [
            l.format("%d/%m/%Y").to_string(),
            l.format("%H:%M").to_string(),
            r.station_name.clone(),
            r.reference.clone(),
            r.status.clone(),
            r.source.clone(),
            r.motif.clone(),
            r.persons.to_string(),
            r.last_name.clone(),
            r.first_name.clone(),
            r.email.clone().unwrap_or_default(),
            r.phone.clone().unwrap_or_default(),
            r.pre_demande_numbers.join(" "),
        ];
        out.push_str(&cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(";"));
        out.push_str("\r\n");
    }
    audit::record(
        &state.pool,
        &staff.user,
        Some(&site.commune_insee),
        "export",
        None,
        Some(&site.id.to_string()),
        json!({"from": from, "to": to, "rows": rows.len()}),
        state.clock.now(),
    )
    .await?;
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
