//! What staff read: the sites they see, a site's agenda by day or week, a search across their
//! commune, a period's rows to export (the audit log and the failed messages are in
//! [`super::staff_admin`]).

use super::availability::site_tz;
use super::staff_access::visible_site;
use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::agenda::{self as db, EntryRow};
use crate::db::territory::{self, SiteFilter, SiteRow};
use crate::domain::motif::Motif;
use crate::staff::{audit, StaffUser};
use chrono::{Duration, NaiveDate, NaiveTime};
use chrono_tz::Tz;
use serde_json::json;
use uuid::Uuid;

/// The sites of one's commune (every site for a platform administrator).
pub async fn sites(state: &AppState, staff: &StaffUser) -> ServiceResult<Vec<SiteRow>> {
    let filter = SiteFilter {
        commune: staff.commune_insee.clone(),
        ..SiteFilter::default()
    };
    let rows = territory::list_sites(&state.pool, &filter).await?;
    Ok(rows
        .into_iter()
        .filter(|s| staff.sees(&s.commune_insee))
        .collect())
}

/// A site's appointments over some days, with the site's time zone to show them in.
#[derive(Debug, Clone)]
pub struct Agenda {
    pub tz: Tz,
    pub entries: Vec<EntryRow>,
}

/// A site's agenda from `date` (default today, local) over `days` days (1, default, to 7), every
/// appointment whatever its status, by time then station.
pub async fn agenda(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    date: Option<NaiveDate>,
    days: Option<i64>,
) -> ServiceResult<Agenda> {
    let site = visible_site(state, staff, site_id).await?;
    site_entries(state, &site, date, days).await
}

/// The appointments of a site the caller may see, from `date` over `days` days.
async fn site_entries(
    state: &AppState,
    site: &SiteRow,
    date: Option<NaiveDate>,
    days: Option<i64>,
) -> ServiceResult<Agenda> {
    let tz = site_tz(site)?;
    let day = date.unwrap_or_else(|| state.clock.now().with_timezone(&tz).date_naive());
    let days = days.unwrap_or(1);
    if !(1..=7).contains(&days) {
        return Err(ServiceError::malformed(
            "invalid_days",
            "days",
            "days : de 1 à 7.",
        ));
    }
    let from = crate::domain::tz::resolve_local(tz, day.and_time(NaiveTime::MIN));
    let to = crate::domain::tz::resolve_local(tz, (day + Duration::days(days)).and_time(NaiveTime::MIN));
    Ok(Agenda {
        tz,
        entries: db::site_entries(&state.pool, site.id, from, to).await?,
    })
}

/// What the staff day page shows: the site, its day's appointments, and its working stations
/// (for the counter and breakdown forms).
#[derive(Debug, Clone)]
pub struct DaySheet {
    pub site: SiteRow,
    pub day: NaiveDate,
    pub agenda: Agenda,
    pub stations: Vec<crate::db::calendar_admin::StationRow>,
    /// What to bring for each motif of the day (as citizens are told: see
    /// [`super::calendar_admin::what_to_bring`]).
    pub what_to_bring: Vec<(Motif, Vec<String>)>,
}

impl DaySheet {
    /// What a person coming for `motif` (as stored) must bring.
    pub fn to_bring(&self, motif: &str) -> &[String] {
        let motif = motif.parse::<Motif>().ok();
        self.what_to_bring
            .iter()
            .find(|(m, _)| Some(*m) == motif)
            .map_or(&[], |(_, items)| items.as_slice())
    }
}

/// A site's day for its staff page (`date` default today, local).
pub async fn day_sheet(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    date: Option<NaiveDate>,
) -> ServiceResult<DaySheet> {
    let site = visible_site(state, staff, site_id).await?;
    let tz = site_tz(&site)?;
    let day = date.unwrap_or_else(|| state.clock.now().with_timezone(&tz).date_naive());
    let agenda = site_entries(state, &site, Some(day), Some(1)).await?;
    let stations = crate::db::calendar_admin::stations(&state.pool, site.id)
        .await?
        .into_iter()
        .filter(|s| s.active)
        .collect();
    let mut what_to_bring = Vec::new();
    for motif in Motif::ALL {
        if agenda.entries.iter().any(|e| e.motif == motif.code()) {
            what_to_bring.push((
                motif,
                super::calendar_admin::what_to_bring(state, site.id, motif).await?,
            ));
        }
    }
    Ok(DaySheet {
        site,
        day,
        agenda,
        stations,
        what_to_bring,
    })
}

/// Appointments of one's commune by name, email, pré-demande number or reference (3 to 100
/// characters), latest first.
pub async fn search(state: &AppState, staff: &StaffUser, text: Option<&str>) -> ServiceResult<Vec<EntryRow>> {
    let text = text.map(str::trim).unwrap_or("");
    if text.chars().count() < 3 || text.chars().count() > 100 {
        return Err(ServiceError::malformed(
            "invalid_query",
            "q",
            "Recherche : de 3 à 100 caractères.",
        ));
    }
    Ok(db::search(&state.pool, staff.commune_insee.as_deref(), text).await?)
}

/// A period's appointments of a site, to export.
#[derive(Debug, Clone)]
pub struct Export {
    pub site: SiteRow,
    pub tz: Tz,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub rows: Vec<EntryRow>,
}

/// The appointments of a site from `from` to `to` (local dates, both included, 366 days at most);
/// the export is audited.
pub async fn export_rows(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> ServiceResult<Export> {
    // Open to agents as the agenda and the search are (the same data, a longer period); audited.
    let site = visible_site(state, staff, site_id).await?;
    let tz = site_tz(&site)?;
    let from = from.ok_or_else(|| ServiceError::malformed("missing_date", "from", "from requis."))?;
    let to = to.ok_or_else(|| ServiceError::malformed("missing_date", "to", "to requis."))?;
    if to < from || (to - from).num_days() > 366 {
        return Err(ServiceError::malformed(
            "invalid_range",
            "to",
            "Période invalide (366 jours au plus).",
        ));
    }
    let lo = crate::domain::tz::resolve_local(tz, from.and_time(NaiveTime::MIN));
    let hi = crate::domain::tz::resolve_local(tz, (to + Duration::days(1)).and_time(NaiveTime::MIN));
    let rows = db::site_entries(&state.pool, site.id, lo, hi).await?;
    audit::record(
        &state.pool,
        staff,
        Some(&site.commune_insee),
        "export",
        None,
        Some(&site.id.to_string()),
        json!({"from": from, "to": to, "rows": rows.len()}),
        state.clock.now(),
    )
    .await?;
    Ok(Export {
        site,
        tz,
        from,
        to,
        rows,
    })
}
