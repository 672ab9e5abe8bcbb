//! A site's statistics over a period (`GET /api/v1/staff/sites/{site_id}/statistics`): the
//! figures the statistics page draws, from the same service function.

use crate::app::AppState;
use crate::error::ApiResult;
use crate::request::extract::{Path, Query};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::site_stats;
use axum::extract::State;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Which period.
#[derive(Debug, Deserialize, IntoParams)]
pub struct StatisticsQuery {
    /// First local day (`YYYY-MM-DD`; default: the Monday eight weeks ago).
    from: Option<String>,
    /// Last local day, included (default: the Sunday four weeks ahead); 366 days at most.
    to: Option<String>,
}

/// One week, Monday to Sunday.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeekOut {
    monday: NaiveDate,
    /// Appointments that week, cancelled ones left out.
    booked: i64,
    /// Done, no-show, or past and unmarked.
    attended_or_due: i64,
    no_shows: i64,
}

/// How full a station was.
#[derive(Debug, Serialize, ToSchema)]
pub struct StationOut {
    station_id: Uuid,
    name: String,
    /// Opening time less holidays and closures.
    open_minutes: i64,
    /// Time taken by appointments not cancelled.
    booked_minutes: i64,
    /// `booked_minutes / open_minutes`.
    fill_rate: f64,
}

/// How many appointments were booked this long ahead.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadOut {
    label: String,
    count: i64,
}

/// A site's figures over a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatisticsOut {
    site_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    /// Every appointment starting in the period, cancelled ones included.
    appointments: i64,
    cancelled: i64,
    attended_or_due: i64,
    no_shows: i64,
    /// `no_shows / attended_or_due`.
    no_show_rate: f64,
    /// Mean days between booking and appointment.
    mean_lead_days: f64,
    weeks: Vec<WeekOut>,
    stations: Vec<StationOut>,
    lead_times: Vec<LeadOut>,
    /// Citizens on the waiting list who could be offered a slot here now.
    waitlist_open: i64,
}

/// Appointments and no-shows by week, each station's fill rate, the no-show rate and the
/// booking lead times of a site (its administrators).
#[utoipa::path(get, path = "/api/v1/staff/sites/{site_id}/statistics", tag = "staff",
    params(("site_id" = String, Path, description = "Lieu"), StatisticsQuery),
    responses((status = 200, body = StatisticsOut), (status = 400, description = "Période invalide"), (status = 401, description = "Non connecté"),
              (status = 403, description = "Réservé aux administrateurs"), (status = 404, description = "Lieu inconnu ou d'une autre commune")))]
pub async fn statistics(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_id): Path<String>,
    Query(q): Query<StatisticsQuery>,
) -> ApiResult<axum::Json<StatisticsOut>> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let from = params::date(q.from.as_deref(), "from")?;
    let to = params::date(q.to.as_deref(), "to")?;
    let s = site_stats::site_stats(&state, &staff.user, site_id, from, to).await?;
    Ok(axum::Json(StatisticsOut {
        site_id: s.site.id,
        from: s.from,
        to: s.to,
        appointments: s.appointments,
        cancelled: s.cancelled,
        attended_or_due: s.attended_or_due,
        no_shows: s.no_shows,
        no_show_rate: s.no_show_rate,
        mean_lead_days: s.mean_lead_days,
        waitlist_open: s.waitlist_open,
        weeks: s
            .weeks
            .into_iter()
            .map(|w| WeekOut {
                monday: w.monday,
                booked: w.booked,
                attended_or_due: w.attended_or_due,
                no_shows: w.no_shows,
            })
            .collect(),
        stations: s
            .stations
            .into_iter()
            .map(|st| StationOut {
                station_id: st.station_id,
                name: st.name,
                open_minutes: st.open_minutes,
                booked_minutes: st.booked_minutes,
                fill_rate: st.fill_rate,
            })
            .collect(),
        lead_times: s
            .lead_times
            .into_iter()
            .map(|b| LeadOut {
                label: b.label.to_string(),
                count: b.count,
            })
            .collect(),
    }))
}
