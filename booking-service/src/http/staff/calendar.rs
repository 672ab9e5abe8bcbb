//! Calendar management by a commune's administrators: opening rules, closures (previewed before
//! they apply), booking policy, release events, station breakdowns, and the month's numbers.
//! Each handler parses, calls one function of [`crate::service::calendar_admin`], renders JSON.

use crate::app::AppState;
use crate::db::calendar_admin::{BreakdownReport, Hit};
use crate::error::{ApiError, ApiResult};
use crate::request::extract::{Json, Path, Query};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::calendar_admin::{self as service, BreakdownInput, ClosureInput, PolicyInput, RuleDraft};
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleOut {
    id: Uuid,
    station_id: Uuid,
    weekday: i16,
    start_time: NaiveTime,
    end_time: NaiveTime,
    valid_from: NaiveDate,
    valid_until: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClosureOut {
    id: Uuid,
    station_id: Option<Uuid>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationOut {
    id: Uuid,
    name: String,
    active: bool,
}

/// A site's calendar as its staff manage it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarOut {
    stations: Vec<StationOut>,
    rules: Vec<RuleOut>,
    closures: Vec<ClosureOut>,
    #[schema(value_type = Object)]
    policy: serde_json::Value,
    #[schema(value_type = Object)]
    release_events: serde_json::Value,
}

/// The site's stations, rules, current and future closures, policy and release events.
#[utoipa::path(get, path = "/api/v1/staff/sites/{site_id}/calendar", tag = "staff", params(("site_id" = String, Path, description = "Lieu")),
    responses((status = 200, body = CalendarOut), (status = 401, description = "Non connecté"), (status = 404, description = "Lieu inconnu ou d'une autre commune")))]
pub async fn calendar(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_id): Path<String>,
) -> ApiResult<axum::Json<CalendarOut>> {
    let v = service::calendar(&state, &staff.user, params::uuid(&site_id, "site_id")?).await?;
    let p = v.policy;
    Ok(axum::Json(CalendarOut {
        stations: v
            .stations
            .into_iter()
            .map(|s| StationOut {
                id: s.id,
                name: s.name,
                active: s.active,
            })
            .collect(),
        rules: v
            .rules
            .into_iter()
            .map(|r| RuleOut {
                id: r.id,
                station_id: r.station_id,
                weekday: r.weekday,
                start_time: r.start_time,
                end_time: r.end_time,
                valid_from: r.valid_from,
                valid_until: r.valid_until,
            })
            .collect(),
        closures: v
            .closures
            .into_iter()
            .map(|c| ClosureOut {
                id: c.id,
                station_id: c.station_id,
                start: c.start,
                end: c.end,
                reason: c.reason,
            })
            .collect(),
        policy: json!({"min_notice_minutes": p.min_notice_minutes, "horizon_days": p.horizon_days, "release_time": p.release_time,
                       "cancel_deadline_minutes": p.cancel_deadline_minutes, "slot_step_minutes": p.slot_step_minutes, "reminder_hours": p.reminder_hours}),
        release_events: json!(v
            .release_events
            .iter()
            .map(|e| json!({"id": e.id, "up_to": e.up_to, "release_at": e.release_at}))
            .collect::<Vec<_>>()),
    }))
}

/// A new weekly opening range.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewRule {
    station_id: Uuid,
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    weekday: i16,
    /// `HH:MM`, local time.
    start_time: String,
    end_time: String,
    valid_from: NaiveDate,
    valid_until: Option<NaiveDate>,
}

impl NewRule {
    fn draft(self) -> RuleDraft {
        RuleDraft {
            station_id: self.station_id,
            weekday: self.weekday,
            start_time: self.start_time,
            end_time: self.end_time,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
        }
    }
}

/// Adds an opening range to a station (no overlap with its other ranges on that weekday).
#[utoipa::path(post, path = "/api/v1/staff/sites/{site_id}/rules", tag = "staff", request_body = NewRule, params(("site_id" = String, Path, description = "Lieu")),
    responses((status = 201, description = "Créée"), (status = 401, description = "Non connecté"), (status = 403, description = "Réservé aux administrateurs"),
              (status = 404, description = "Lieu ou poste inconnu"), (status = 422, description = "Plage invalide ou chevauchante")))]
pub async fn add_rule(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_id): Path<String>,
    Json(r): Json<NewRule>,
) -> ApiResult<(StatusCode, axum::Json<serde_json::Value>)> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let id = service::add_rule(&state, &staff.user, site_id, &r.draft()).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"id": id}))))
}

/// Preview or apply.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Confirm {
    /// `true` to apply; otherwise only the preview is answered.
    confirm: Option<bool>,
}

/// What a change would do (or did).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeOut {
    pub applied: bool,
    /// Live appointments left outside an opening (or inside a closure): they are kept, for the
    /// staff to move or cancel; nothing is dropped silently.
    pub hits: Vec<Hit>,
}

impl From<service::Change> for ChangeOut {
    fn from(c: service::Change) -> Self {
        Self {
            applied: c.applied,
            hits: c.hits,
        }
    }
}

/// Deletes an opening range: first a preview of the appointments it would leave outside any opening.
#[utoipa::path(delete, path = "/api/v1/staff/rules/{rule_id}", tag = "staff", params(("rule_id" = String, Path, description = "Plage"), Confirm),
    responses((status = 200, body = ChangeOut), (status = 401, description = "Non connecté"), (status = 403, description = "Réservé aux administrateurs"),
              (status = 404, description = "Plage inconnue ou d'une autre commune")))]
pub async fn delete_rule(
    State(state): State<AppState>,
    staff: Staff,
    Path(rule_id): Path<String>,
    Query(q): Query<Confirm>,
) -> ApiResult<axum::Json<ChangeOut>> {
    let id = params::uuid(&rule_id, "rule_id")?;
    let change = service::delete_rule(&state, &staff.user, id, q.confirm.unwrap_or(false)).await?;
    Ok(axum::Json(change.into()))
}

/// Changes an opening range: first a preview of the appointments the change would leave outside
/// any opening; `?confirm=true` applies it (those appointments are kept, and listed).
#[utoipa::path(put, path = "/api/v1/staff/rules/{rule_id}", tag = "staff", request_body = NewRule, params(("rule_id" = String, Path, description = "Plage"), Confirm),
    responses((status = 200, body = ChangeOut), (status = 401, description = "Non connecté"), (status = 403, description = "Réservé aux administrateurs"),
              (status = 404, description = "Plage inconnue ou d'une autre commune"), (status = 422, description = "Plage invalide ou chevauchante")))]
pub async fn change_rule(
    State(state): State<AppState>,
    staff: Staff,
    Path(rule_id): Path<String>,
    Query(q): Query<Confirm>,
    Json(r): Json<NewRule>,
) -> ApiResult<axum::Json<ChangeOut>> {
    let id = params::uuid(&rule_id, "rule_id")?;
    let confirm = q.confirm.unwrap_or(false);
    let change = service::change_rule(&state, &staff.user, id, &r.draft(), confirm).await?;
    Ok(axum::Json(change.into()))
}

/// A closure of a whole site or one station.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewClosure {
    pub station_id: Option<Uuid>,
    pub start: String,
    pub end: String,
    pub reason: String,
    /// `true` to apply; otherwise only the preview is answered.
    #[serde(default)]
    pub confirm: bool,
}

/// Closes a site or a station for a while: first a preview of the live appointments inside it.
#[utoipa::path(post, path = "/api/v1/staff/sites/{site_id}/closures", tag = "staff", request_body = NewClosure, params(("site_id" = String, Path, description = "Lieu")),
    responses((status = 200, body = ChangeOut), (status = 401, description = "Non connecté"), (status = 403, description = "Réservé aux administrateurs"),
              (status = 404, description = "Lieu ou poste inconnu"), (status = 422, description = "Dates invalides")))]
pub async fn add_closure(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_id): Path<String>,
    Json(c): Json<NewClosure>,
) -> ApiResult<axum::Json<ChangeOut>> {
    Ok(axum::Json(close(&state, &staff, &site_id, &c).await?))
}

/// Previews or applies a closure. Kept for the staff pages until they call
/// [`service::close`] themselves.
pub async fn close(state: &AppState, staff: &Staff, site_id: &str, c: &NewClosure) -> ApiResult<ChangeOut> {
    let site_id = params::uuid(site_id, "site_id")?;
    let input = ClosureInput {
        station_id: c.station_id,
        start: params::instant(&c.start, "start")?,
        end: params::instant(&c.end, "end")?,
        reason: c.reason.clone(),
        confirm: c.confirm,
    };
    Ok(service::close(state, &staff.user, site_id, &input).await?.into())
}

/// A booking policy.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PolicyIn {
    min_notice_minutes: i32,
    horizon_days: i32,
    /// `HH:MM`.
    release_time: String,
    cancel_deadline_minutes: i32,
    slot_step_minutes: i32,
    reminder_hours: i32,
    /// The no-show policy (all three, or none to leave it): after this many no-shows (0: no
    /// policy) within `noshow_months`, an address must confirm its presence `confirm_hours`
    /// before the start, or its appointment goes to the waiting list.
    #[serde(default)]
    noshow_limit: Option<i32>,
    #[serde(default)]
    noshow_months: Option<i32>,
    #[serde(default)]
    confirm_hours: Option<i32>,
}

/// Sets the site's booking policy.
#[utoipa::path(put, path = "/api/v1/staff/sites/{site_id}/policy", tag = "staff", request_body = PolicyIn, params(("site_id" = String, Path, description = "Lieu")),
    responses((status = 204, description = "Enregistrée"), (status = 401, description = "Non connecté"), (status = 403, description = "Réservé aux administrateurs"),
              (status = 404, description = "Lieu inconnu"), (status = 422, description = "Valeur hors limites")))]
pub async fn set_policy(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_id): Path<String>,
    Json(p): Json<PolicyIn>,
) -> ApiResult<StatusCode> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let input = PolicyInput {
        min_notice_minutes: p.min_notice_minutes,
        horizon_days: p.horizon_days,
        release_time: p.release_time,
        cancel_deadline_minutes: p.cancel_deadline_minutes,
        slot_step_minutes: p.slot_step_minutes,
        reminder_hours: p.reminder_hours,
        no_shows: match (p.noshow_limit, p.noshow_months, p.confirm_hours) {
            (Some(l), Some(m), Some(h)) => Some((l, m, h)),
            (None, None, None) => None,
            _ => {
                return Err(ApiError::unprocessable(
                    "noshow_policy_incomplete",
                    "La politique d'absences demande ses trois valeurs (noshow_limit, noshow_months, confirm_hours).",
                )
                .with_field("noshow_limit"))
            }
        },
    };
    service::set_policy(&state, &staff.user, site_id, &input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// "The openings up to `up_to` become bookable at `release_at`" (opening a new month at once).
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewRelease {
    up_to: NaiveDate,
    /// RFC 3339.
    release_at: String,
}

/// Schedules a release event.
#[utoipa::path(post, path = "/api/v1/staff/sites/{site_id}/release-events", tag = "staff", request_body = NewRelease, params(("site_id" = String, Path, description = "Lieu")),
    responses((status = 201, description = "Programmée"), (status = 401, description = "Non connecté"), (status = 403, description = "Réservé aux administrateurs"),
              (status = 404, description = "Lieu inconnu"), (status = 422, description = "Date invalide")))]
pub async fn add_release(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_id): Path<String>,
    Json(r): Json<NewRelease>,
) -> ApiResult<StatusCode> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let at = params::instant(&r.release_at, "release_at")?;
    service::add_release(&state, &staff.user, site_id, r.up_to, at).await?;
    Ok(StatusCode::CREATED)
}

/// A broken station.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Breakdown {
    pub start: String,
    pub end: String,
    pub reason: String,
}

/// Marks a station out of service: its appointments move to another free station at the same time
/// when possible, the rest are cancelled with an apology; one transaction; both lists answered.
#[utoipa::path(post, path = "/api/v1/staff/stations/{station_id}/breakdown", tag = "staff", request_body = Breakdown, params(("station_id" = String, Path, description = "Poste")),
    responses((status = 200, body = BreakdownReport), (status = 401, description = "Non connecté"),
              (status = 404, description = "Poste inconnu ou d'une autre commune"), (status = 422, description = "Dates ou motif invalides")))]
pub async fn breakdown(
    State(state): State<AppState>,
    staff: Staff,
    Path(station_id): Path<String>,
    Json(b): Json<Breakdown>,
) -> ApiResult<axum::Json<BreakdownReport>> {
    Ok(axum::Json(
        declare_breakdown(&state, &staff, &station_id, &b).await?,
    ))
}

/// Declares a breakdown. Kept for the staff pages until they call
/// [`service::declare_breakdown`] themselves.
pub async fn declare_breakdown(
    state: &AppState,
    staff: &Staff,
    station_id: &str,
    b: &Breakdown,
) -> ApiResult<BreakdownReport> {
    let station = params::uuid(station_id, "station_id")?;
    let input = BreakdownInput {
        start: params::instant(&b.start, "start")?,
        end: params::instant(&b.end, "end")?,
        reason: b.reason.clone(),
    };
    Ok(service::declare_breakdown(state, &staff.user, station, &input).await?)
}

/// Which month.
#[derive(Debug, Deserialize, IntoParams)]
pub struct StatsQuery {
    /// `YYYY-MM` (default: this month).
    month: Option<String>,
}

/// A month's numbers for managers.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsOut {
    booked: i64,
    cancelled_by_citizen: i64,
    cancelled_by_mairie: i64,
    no_shows: i64,
    /// No-shows among appointments that took place or should have (done, no-show, ended).
    no_show_rate: f64,
    /// Mean days between booking and appointment.
    mean_lead_days: f64,
}

/// Per site and month: appointments booked, cancelled (by citizen / by mairie), no-shows and their rate, mean lead time.
#[utoipa::path(get, path = "/api/v1/staff/sites/{site_id}/stats", tag = "staff", params(("site_id" = String, Path, description = "Lieu"), StatsQuery),
    responses((status = 200, body = StatsOut), (status = 400, description = "Mois invalide"), (status = 401, description = "Non connecté"),
              (status = 403, description = "Réservé aux administrateurs"), (status = 404, description = "Lieu inconnu ou d'une autre commune")))]
pub async fn stats(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_id): Path<String>,
    Query(q): Query<StatsQuery>,
) -> ApiResult<axum::Json<StatsOut>> {
    let site_id = params::uuid(&site_id, "site_id")?;
    let s = service::month_stats(&state, &staff.user, site_id, q.month.as_deref()).await?;
    Ok(axum::Json(StatsOut {
        booked: s.booked,
        cancelled_by_citizen: s.cancelled_by_citizen,
        cancelled_by_mairie: s.cancelled_by_mairie,
        no_shows: s.no_shows,
        no_show_rate: s.no_show_rate,
        mean_lead_days: s.mean_lead_days,
    }))
}
