//! Calendar management by a commune's administrators: opening rules, closures (previewed before
//! they apply), booking policy, release events, station breakdowns, and the month's numbers.

use super::agenda::visible_site;
use super::{forbidden, not_yours, Staff};
use crate::db::calendar::{load_calendar, policy, PolicyRow};
use crate::db::calendar_admin::{self, BreakdownReport, Hit, RuleInput};
use crate::db::territory::SiteRow;
use crate::error::{ApiError, ApiResult};
use crate::http::availability::site_tz;
use crate::http::extract::{Json, Path, Query};
use crate::http::holds::parse_instant;
use crate::http::{params, AppState};
use crate::staff::audit;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::FromRow;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

async fn administered_site(state: &AppState, staff: &Staff, raw: &str) -> ApiResult<SiteRow> {
    let site = visible_site(state, staff, raw).await?;
    if staff.user.administers(&site.commune_insee) {
        Ok(site)
    } else {
        Err(forbidden())
    }
}

#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct RuleOut {
    id: Uuid,
    station_id: Uuid,
    weekday: i16,
    start_time: NaiveTime,
    end_time: NaiveTime,
    valid_from: NaiveDate,
    valid_until: Option<NaiveDate>,
}

#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct ClosureOut {
    id: Uuid,
    station_id: Option<Uuid>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    reason: String,
}

#[derive(Debug, Serialize, FromRow, ToSchema)]
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
    let site = visible_site(&state, &staff, &site_id).await?;
    let now = state.clock.now();
    let stations = sqlx::query_as("SELECT id, name, active FROM stations WHERE site_id = $1 ORDER BY name")
        .bind(site.id)
        .fetch_all(&state.pool)
        .await?;
    let rules = sqlx::query_as(
        "SELECT r.id, r.station_id, r.weekday, r.start_time, r.end_time, r.valid_from, r.valid_until
         FROM opening_rules r JOIN stations st ON st.id = r.station_id WHERE st.site_id = $1
         ORDER BY st.name, r.weekday, r.start_time",
    )
    .bind(site.id)
    .fetch_all(&state.pool)
    .await?;
    let closures = sqlx::query_as(
        "SELECT id, station_id, lower(during) AS start, upper(during) AS \"end\", reason FROM closures
         WHERE site_id = $1 AND upper(during) > $2 ORDER BY lower(during)",
    )
    .bind(site.id)
    .bind(now)
    .fetch_all(&state.pool)
    .await?;
    let p: PolicyRow = policy(&state.pool, site.id).await?;
    let events: Vec<(Uuid, NaiveDate, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, up_to, release_at FROM release_events WHERE site_id = $1 ORDER BY release_at",
    )
    .bind(site.id)
    .fetch_all(&state.pool)
    .await?;
    Ok(axum::Json(CalendarOut {
        stations,
        rules,
        closures,
        policy: json!({"min_notice_minutes": p.min_notice_minutes, "horizon_days": p.horizon_days, "release_time": p.release_time,
                       "cancel_deadline_minutes": p.cancel_deadline_minutes, "slot_step_minutes": p.slot_step_minutes, "reminder_hours": p.reminder_hours}),
        release_events: json!(events
            .iter()
            .map(|(id, up_to, at)| json!({"id": id, "up_to": up_to, "release_at": at}))
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

fn time(raw: &str, field: &'static str) -> ApiResult<NaiveTime> {
    NaiveTime::parse_from_str(raw.trim(), "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(raw.trim(), "%H:%M:%S"))
        .map_err(|_| ApiError::unprocessable("invalid_time", "Heure invalide (HH:MM).").with_field(field))
}

/// 404 unless `station` belongs to `site` (a station of another site or commune is not revealed).
async fn station_of_site(tx: &mut sqlx::PgConnection, station: Uuid, site: Uuid) -> ApiResult<()> {
    let ours: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM stations WHERE id = $1 AND site_id = $2)")
            .bind(station)
            .bind(site)
            .fetch_one(tx)
            .await?;
    if ours {
        Ok(())
    } else {
        Err(not_yours("station_not_found"))
    }
}

/// A rule's id and its site, which the member must administer (another commune's rule is 404).
async fn rule_and_site(state: &AppState, staff: &Staff, raw: &str) -> ApiResult<(Uuid, SiteRow)> {
    let id = params::uuid(raw, "rule_id")?;
    let site_id: Option<Uuid> = sqlx::query_scalar(
        "SELECT st.site_id FROM opening_rules r JOIN stations st ON st.id = r.station_id WHERE r.id = $1",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    let site_id = site_id.ok_or_else(|| not_yours("rule_not_found"))?;
    Ok((id, administered_site(state, staff, &site_id.to_string()).await?))
}

/// A rule as typed, checked: weekday 1–7, end after start, validity in order.
fn validated_rule(r: &NewRule) -> ApiResult<RuleInput> {
    let rule = RuleInput {
        station_id: r.station_id,
        weekday: r.weekday,
        start_time: time(&r.start_time, "start_time")?,
        end_time: time(&r.end_time, "end_time")?,
        valid_from: r.valid_from,
        valid_until: r.valid_until,
    };
    if !(1..=7).contains(&rule.weekday) {
        return Err(
            ApiError::unprocessable("invalid_weekday", "Jour : 1 (lundi) à 7 (dimanche).")
                .with_field("weekday"),
        );
    }
    if rule.end_time <= rule.start_time {
        return Err(
            ApiError::unprocessable("invalid_range", "La fin doit suivre le début.").with_field("end_time"),
        );
    }
    if rule.valid_until.is_some_and(|u| u < rule.valid_from) {
        return Err(
            ApiError::unprocessable("invalid_range", "La fin de validité précède son début.")
                .with_field("valid_until"),
        );
    }
    Ok(rule)
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
    let site = administered_site(&state, &staff, &site_id).await?;
    let rule = validated_rule(&r)?;
    let mut tx = state.pool.begin().await?;
    calendar_admin::lock_site(&mut tx, site.id).await?;
    station_of_site(&mut tx, rule.station_id, site.id).await?;
    if calendar_admin::rule_overlaps(&mut tx, &rule, None).await? {
        return Err(ApiError::unprocessable(
            "overlapping_rule",
            "Cette plage chevauche une autre plage du poste ce jour-là.",
        )
        .with_field("start_time"));
    }
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO opening_rules (id, station_id, weekday, start_time, end_time, valid_from, valid_until) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(rule.station_id)
    .bind(rule.weekday)
    .bind(rule.start_time)
    .bind(rule.end_time)
    .bind(rule.valid_from)
    .bind(rule.valid_until)
    .execute(&mut *tx)
    .await?;
    audit::record(&mut *tx, &staff.user, Some(&site.commune_insee), "rule_add", None, Some(&id.to_string()),
        json!({"station_id": rule.station_id, "weekday": rule.weekday, "start": rule.start_time, "end": rule.end_time}), state.clock.now()).await?;
    tx.commit().await?;
    state.calendars.invalidate(site.id);
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

/// Live future appointments of `site` that no opening covers once the change (made in `tx`) applies.
async fn uncovered(tx: &mut sqlx::PgConnection, site: &SiteRow, now: DateTime<Utc>) -> ApiResult<Vec<Hit>> {
    let tz = site_tz(site)?;
    let live = calendar_admin::live_overlapping(tx, site.id, None, now, now + Duration::days(800)).await?;
    let (Some(first), Some(last)) = (live.first(), live.last()) else {
        return Ok(Vec::new());
    };
    let cal = load_calendar(
        tx,
        site.id,
        tz,
        &site.department_code,
        first.start.with_timezone(&tz).date_naive(),
        last.start.with_timezone(&tz).date_naive(),
    )
    .await?;
    Ok(live
        .into_iter()
        .filter(|h| {
            !cal.open_stations(h.start, h.end - h.start)
                .contains(&h.station_id)
        })
        .collect())
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
    let (id, site) = rule_and_site(&state, &staff, &rule_id).await?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    calendar_admin::lock_site(&mut tx, site.id).await?;
    sqlx::query("DELETE FROM opening_rules WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let hits = uncovered(&mut tx, &site, now).await?;
    let apply = q.confirm.unwrap_or(false);
    if apply {
        audit::record(
            &mut *tx,
            &staff.user,
            Some(&site.commune_insee),
            "rule_delete",
            None,
            Some(&id.to_string()),
            json!({"hits": hits.len()}),
            now,
        )
        .await?;
        tx.commit().await?;
        state.calendars.invalidate(site.id);
    } else {
        tx.rollback().await?;
    }
    Ok(axum::Json(ChangeOut { applied: apply, hits }))
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
    let (id, site) = rule_and_site(&state, &staff, &rule_id).await?;
    let rule = validated_rule(&r)?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    calendar_admin::lock_site(&mut tx, site.id).await?;
    station_of_site(&mut tx, rule.station_id, site.id).await?;
    if calendar_admin::rule_overlaps(&mut tx, &rule, Some(id)).await? {
        return Err(ApiError::unprocessable(
            "overlapping_rule",
            "Cette plage chevauche une autre plage du poste ce jour-là.",
        )
        .with_field("start_time"));
    }
    sqlx::query(
        "UPDATE opening_rules SET station_id = $2, weekday = $3, start_time = $4, end_time = $5, valid_from = $6, valid_until = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(rule.station_id)
    .bind(rule.weekday)
    .bind(rule.start_time)
    .bind(rule.end_time)
    .bind(rule.valid_from)
    .bind(rule.valid_until)
    .execute(&mut *tx)
    .await?;
    let hits = uncovered(&mut tx, &site, now).await?;
    let apply = q.confirm.unwrap_or(false);
    if apply {
        audit::record(&mut *tx, &staff.user, Some(&site.commune_insee), "rule_change", None, Some(&id.to_string()),
            json!({"weekday": rule.weekday, "start": rule.start_time, "end": rule.end_time, "hits": hits.len()}), now).await?;
        tx.commit().await?;
        state.calendars.invalidate(site.id);
    } else {
        tx.rollback().await?;
    }
    Ok(axum::Json(ChangeOut { applied: apply, hits }))
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

/// Previews or applies a closure (the API and the staff pages both come here).
pub async fn close(state: &AppState, staff: &Staff, site_id: &str, c: &NewClosure) -> ApiResult<ChangeOut> {
    let site = administered_site(state, staff, site_id).await?;
    let (start, end) = (parse_instant(&c.start, "start")?, parse_instant(&c.end, "end")?);
    if end <= start || end - start > Duration::days(400) {
        return Err(ApiError::unprocessable(
            "invalid_range",
            "La fin doit suivre le début (400 jours au plus).",
        )
        .with_field("end"));
    }
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    calendar_admin::lock_site(&mut tx, site.id).await?;
    if let Some(st) = c.station_id {
        station_of_site(&mut tx, st, site.id).await?;
    }
    let hits = calendar_admin::live_overlapping(&mut tx, site.id, c.station_id, start, end).await?;
    if c.confirm {
        let id = Uuid::new_v4();
        sqlx::query("INSERT INTO closures (id, site_id, station_id, during, reason, created_at) VALUES ($1, $2, $3, tstzrange($4, $5), $6, $7)")
            .bind(id)
            .bind(site.id)
            .bind(c.station_id)
            .bind(start)
            .bind(end)
            .bind(c.reason.trim())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut *tx,
            &staff.user,
            Some(&site.commune_insee),
            "closure_add",
            None,
            Some(&id.to_string()),
            json!({"station_id": c.station_id, "start": start, "end": end, "hits": hits.len()}),
            now,
        )
        .await?;
        tx.commit().await?;
        state.calendars.invalidate(site.id);
    }
    Ok(ChangeOut {
        applied: c.confirm,
        hits,
    })
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
    let site = administered_site(&state, &staff, &site_id).await?;
    let checks: [(&'static str, i32, std::ops::RangeInclusive<i32>); 5] = [
        ("min_notice_minutes", p.min_notice_minutes, 0..=43_200),
        ("horizon_days", p.horizon_days, 1..=366),
        ("cancel_deadline_minutes", p.cancel_deadline_minutes, 0..=43_200),
        ("slot_step_minutes", p.slot_step_minutes, 5..=240),
        ("reminder_hours", p.reminder_hours, 1..=336),
    ];
    for (field, v, range) in checks {
        if !range.contains(&v) {
            return Err(ApiError::unprocessable(
                "out_of_range",
                format!("{field} : entre {} et {}.", range.start(), range.end()),
            )
            .with_field(field));
        }
    }
    let release = time(&p.release_time, "release_time")?;
    let mut tx = state.pool.begin().await?;
    calendar_admin::lock_site(&mut tx, site.id).await?;
    sqlx::query(
        "INSERT INTO booking_policies (site_id, min_notice_minutes, horizon_days, release_time, cancel_deadline_minutes, slot_step_minutes, reminder_hours)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (site_id) DO UPDATE SET min_notice_minutes = $2, horizon_days = $3, release_time = $4,
             cancel_deadline_minutes = $5, slot_step_minutes = $6, reminder_hours = $7",
    )
    .bind(site.id)
    .bind(p.min_notice_minutes)
    .bind(p.horizon_days)
    .bind(release)
    .bind(p.cancel_deadline_minutes)
    .bind(p.slot_step_minutes)
    .bind(p.reminder_hours)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        &staff.user,
        Some(&site.commune_insee),
        "policy_set",
        None,
        Some(&site.id.to_string()),
        json!({"horizon_days": p.horizon_days, "min_notice_minutes": p.min_notice_minutes}),
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    state.calendars.invalidate(site.id);
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
    let site = administered_site(&state, &staff, &site_id).await?;
    let at = parse_instant(&r.release_at, "release_at")?;
    let now = state.clock.now();
    if r.up_to < now.date_naive() || r.up_to > now.date_naive() + Duration::days(400) {
        return Err(
            ApiError::unprocessable("invalid_date", "up_to : dans les 400 prochains jours.")
                .with_field("up_to"),
        );
    }
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO release_events (id, site_id, up_to, release_at, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(site.id)
    .bind(r.up_to)
    .bind(at)
    .bind(now)
    .execute(&state.pool)
    .await?;
    audit::record(
        &state.pool,
        &staff.user,
        Some(&site.commune_insee),
        "release_add",
        None,
        Some(&id.to_string()),
        json!({"up_to": r.up_to, "release_at": at}),
        now,
    )
    .await?;
    state.calendars.invalidate(site.id);
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

/// Declares a breakdown (the API and the staff pages both come here).
pub async fn declare_breakdown(
    state: &AppState,
    staff: &Staff,
    station_id: &str,
    b: &Breakdown,
) -> ApiResult<BreakdownReport> {
    let station = params::uuid(station_id, "station_id")?;
    let site_id: Option<Uuid> = sqlx::query_scalar("SELECT site_id FROM stations WHERE id = $1")
        .bind(station)
        .fetch_optional(&state.pool)
        .await?;
    let site = visible_site(
        state,
        staff,
        &site_id.ok_or_else(|| not_yours("station_not_found"))?.to_string(),
    )
    .await?;
    let (start, end) = (parse_instant(&b.start, "start")?, parse_instant(&b.end, "end")?);
    if end <= start || end - start > Duration::days(60) {
        return Err(ApiError::unprocessable(
            "invalid_range",
            "La fin doit suivre le début (60 jours au plus).",
        )
        .with_field("end"));
    }
    let reason = b.reason.trim();
    if reason.is_empty() || reason.chars().count() > 300 {
        return Err(ApiError::unprocessable(
            "reason_required",
            "Indiquez un motif (envoyé aux usagers dont le rendez-vous est annulé).",
        )
        .with_field("reason"));
    }
    let now = state.clock.now();
    let report = calendar_admin::breakdown(&state.pool, site.id, station, start, end, reason, now).await?;
    state.calendars.invalidate(site.id);
    audit::record(
        &state.pool,
        &staff.user,
        Some(&site.commune_insee),
        "station_breakdown",
        None,
        Some(&station.to_string()),
        json!({"start": start, "end": end, "moved": report.moved.len(), "cancelled": report.cancelled.len()}),
        now,
    )
    .await?;
    Ok(report)
}

/// Which month.
#[derive(Debug, Deserialize, IntoParams)]
pub struct StatsQuery {
    /// `YYYY-MM` (default: this month).
    month: Option<String>,
}

/// A month's numbers for managers.
#[derive(Debug, Serialize, FromRow, ToSchema)]
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
    let site = administered_site(&state, &staff, &site_id).await?;
    let tz = site_tz(&site)?;
    let month = match q.month.as_deref() {
        None => state
            .clock
            .now()
            .with_timezone(&tz)
            .date_naive()
            .format("%Y-%m")
            .to_string(),
        Some(m) => m.trim().to_string(),
    };
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").map_err(|_| {
        ApiError::bad_request("invalid_month", "Mois invalide (AAAA-MM).").with_field("month")
    })?;
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| ApiError::bad_request("invalid_month", "Mois invalide.").with_field("month"))?;
    let lo = crate::domain::tz::resolve_local(tz, first.and_time(NaiveTime::MIN));
    let hi = crate::domain::tz::resolve_local(tz, next.and_time(NaiveTime::MIN));
    let out: StatsOut = sqlx::query_as(
        "SELECT count(*) AS booked,
                count(*) FILTER (WHERE status = 'cancelled' AND cancelled_by = 'citizen') AS cancelled_by_citizen,
                count(*) FILTER (WHERE status = 'cancelled' AND cancelled_by = 'staff') AS cancelled_by_mairie,
                count(*) FILTER (WHERE status = 'no_show') AS no_shows,
                coalesce(count(*) FILTER (WHERE status = 'no_show')::float8
                         / nullif(count(*) FILTER (WHERE status IN ('done', 'no_show', 'ended')), 0), 0) AS no_show_rate,
                coalesce(avg(extract(epoch FROM lower(during) - created_at) / 86400.0), 0)::float8 AS mean_lead_days
         FROM appointments WHERE site_id = $1 AND lower(during) >= $2 AND lower(during) < $3",
    )
    .bind(site.id)
    .bind(lo)
    .bind(hi)
    .fetch_one(&state.pool)
    .await?;
    Ok(axum::Json(out))
}
