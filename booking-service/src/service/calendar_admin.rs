//! Calendar administration by a commune's administrators: opening rules, closures (previewed
//! before they apply), booking policy, release events, station breakdowns, the month's numbers.
//! Every change is audited in its transaction and drops the site's cached calendar.

use super::availability::site_tz;
use super::staff_access::{administered_site, not_yours, visible_site};
use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::calendar::{load_calendar, policy, PolicyRow};
use crate::db::calendar_admin::{
    self as db, BreakdownReport, ClosureRow, Hit, MotifRow, PeriodStats, ReleaseEventRow, RuleInput, RuleRow,
    StationRow,
};
use crate::db::territory::SiteRow;
use crate::domain::motif::Motif;
use crate::staff::{audit, StaffUser};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

/// A site's calendar as its staff manage it.
#[derive(Debug, Clone)]
pub struct CalendarView {
    pub stations: Vec<StationRow>,
    pub rules: Vec<RuleRow>,
    /// Current and future closures.
    pub closures: Vec<ClosureRow>,
    pub policy: PolicyRow,
    pub release_events: Vec<ReleaseEventRow>,
}

/// The site's stations, rules, current and future closures, policy and release events.
pub async fn calendar(state: &AppState, staff: &StaffUser, site_id: Uuid) -> ServiceResult<CalendarView> {
    let site = visible_site(state, staff, site_id).await?;
    let now = state.clock.now();
    Ok(CalendarView {
        stations: db::stations(&state.pool, site.id).await?,
        rules: db::rules(&state.pool, site.id).await?,
        closures: db::closures_not_over(&state.pool, site.id, now).await?,
        policy: policy(&state.pool, site.id).await?,
        release_events: db::release_events(&state.pool, site.id).await?,
    })
}

/// A weekly opening range as typed (times `HH:MM`, local).
#[derive(Debug, Clone)]
pub struct RuleDraft {
    pub station_id: Uuid,
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    pub weekday: i16,
    pub start_time: String,
    pub end_time: String,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
}

/// A local time of day, `HH:MM` (or `HH:MM:SS`).
fn time(raw: &str, field: &'static str) -> ServiceResult<NaiveTime> {
    NaiveTime::parse_from_str(raw.trim(), "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(raw.trim(), "%H:%M:%S"))
        .map_err(|_| ServiceError::invalid("invalid_time", field, "Heure invalide (HH:MM)."))
}

/// A rule as typed, checked: weekday 1–7, end after start, validity in order.
fn validated_rule(r: &RuleDraft) -> ServiceResult<RuleInput> {
    let rule = RuleInput {
        station_id: r.station_id,
        weekday: r.weekday,
        start_time: time(&r.start_time, "start_time")?,
        end_time: time(&r.end_time, "end_time")?,
        valid_from: r.valid_from,
        valid_until: r.valid_until,
    };
    if !(1..=7).contains(&rule.weekday) {
        return Err(ServiceError::invalid(
            "invalid_weekday",
            "weekday",
            "Jour : 1 (lundi) à 7 (dimanche).",
        ));
    }
    if rule.end_time <= rule.start_time {
        return Err(ServiceError::invalid(
            "invalid_range",
            "end_time",
            "La fin doit suivre le début.",
        ));
    }
    if rule.valid_until.is_some_and(|u| u < rule.valid_from) {
        return Err(ServiceError::invalid(
            "invalid_range",
            "valid_until",
            "La fin de validité précède son début.",
        ));
    }
    Ok(rule)
}

/// "Not found" unless `station` belongs to `site` (a station of another site or commune is not revealed).
async fn station_of_site(conn: &mut PgConnection, station: Uuid, site: Uuid) -> ServiceResult<()> {
    if db::station_in_site(conn, station, site).await? {
        Ok(())
    } else {
        Err(not_yours("station_not_found"))
    }
}

/// Refused when another rule of the station overlaps `rule` on its weekday.
async fn no_overlap(conn: &mut PgConnection, rule: &RuleInput, except: Option<Uuid>) -> ServiceResult<()> {
    if db::rule_overlaps(conn, rule, except).await? {
        return Err(ServiceError::invalid(
            "overlapping_rule",
            "start_time",
            "Cette plage chevauche une autre plage du poste ce jour-là.",
        ));
    }
    Ok(())
}

/// The site of a rule, which the member must administer (another commune's rule is not found).
async fn site_of_rule(state: &AppState, staff: &StaffUser, rule: Uuid) -> ServiceResult<SiteRow> {
    let site_id = db::site_of_rule(&state.pool, rule)
        .await?
        .ok_or_else(|| not_yours("rule_not_found"))?;
    administered_site(state, staff, site_id).await
}

/// Adds an opening range to a station (no overlap with its other ranges on that weekday).
pub async fn add_rule(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    draft: &RuleDraft,
) -> ServiceResult<Uuid> {
    let site = administered_site(state, staff, site_id).await?;
    let rule = validated_rule(draft)?;
    let mut tx = state.pool.begin().await?;
    db::lock_site(&mut tx, site.id).await?;
    station_of_site(&mut tx, rule.station_id, site.id).await?;
    no_overlap(&mut tx, &rule, None).await?;
    let id = Uuid::new_v4();
    db::insert_rule(&mut tx, id, &rule).await?;
    audit::record(&mut *tx, staff, Some(&site.commune_insee), "rule_add", None, Some(&id.to_string()),
        json!({"station_id": rule.station_id, "weekday": rule.weekday, "start": rule.start_time, "end": rule.end_time}), state.clock.now()).await?;
    tx.commit().await?;
    state.read_model.invalidate(site.id);
    Ok(id)
}

/// What a change would do (or did).
#[derive(Debug, Clone)]
pub struct Change {
    pub applied: bool,
    /// Live appointments left outside an opening (or inside a closure): they are kept, for the
    /// staff to move or cancel; nothing is dropped silently.
    pub hits: Vec<Hit>,
}

/// Live future appointments of `site` that no opening covers once the change (made in `conn`) applies.
async fn uncovered(conn: &mut PgConnection, site: &SiteRow, now: DateTime<Utc>) -> ServiceResult<Vec<Hit>> {
    let tz = site_tz(site)?;
    let live = db::live_overlapping(conn, site.id, None, now, now + Duration::days(800)).await?;
    let (Some(first), Some(last)) = (live.first(), live.last()) else {
        return Ok(Vec::new());
    };
    let cal = load_calendar(
        conn,
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

/// Deletes an opening range; unless `confirm`, only previews the appointments it would leave
/// outside any opening.
pub async fn delete_rule(
    state: &AppState,
    staff: &StaffUser,
    rule: Uuid,
    confirm: bool,
) -> ServiceResult<Change> {
    let site = site_of_rule(state, staff, rule).await?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    db::lock_site(&mut tx, site.id).await?;
    db::delete_rule(&mut tx, rule).await?;
    let hits = uncovered(&mut tx, &site, now).await?;
    if confirm {
        audit::record(
            &mut *tx,
            staff,
            Some(&site.commune_insee),
            "rule_delete",
            None,
            Some(&rule.to_string()),
            json!({"hits": hits.len()}),
            now,
        )
        .await?;
        tx.commit().await?;
        state.read_model.invalidate(site.id);
    } else {
        tx.rollback().await?;
    }
    Ok(Change {
        applied: confirm,
        hits,
    })
}

/// Changes an opening range; unless `confirm`, only previews the appointments the change would
/// leave outside any opening (when applied, those are kept, and listed).
pub async fn change_rule(
    state: &AppState,
    staff: &StaffUser,
    rule_id: Uuid,
    draft: &RuleDraft,
    confirm: bool,
) -> ServiceResult<Change> {
    let site = site_of_rule(state, staff, rule_id).await?;
    let rule = validated_rule(draft)?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    db::lock_site(&mut tx, site.id).await?;
    station_of_site(&mut tx, rule.station_id, site.id).await?;
    no_overlap(&mut tx, &rule, Some(rule_id)).await?;
    db::update_rule(&mut tx, rule_id, &rule).await?;
    let hits = uncovered(&mut tx, &site, now).await?;
    if confirm {
        audit::record(&mut *tx, staff, Some(&site.commune_insee), "rule_change", None, Some(&rule_id.to_string()),
            json!({"weekday": rule.weekday, "start": rule.start_time, "end": rule.end_time, "hits": hits.len()}), now).await?;
        tx.commit().await?;
        state.read_model.invalidate(site.id);
    } else {
        tx.rollback().await?;
    }
    Ok(Change {
        applied: confirm,
        hits,
    })
}

/// A closure of a whole site or one station.
#[derive(Debug, Clone)]
pub struct ClosureInput {
    pub station_id: Option<Uuid>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: String,
    /// Apply; otherwise only preview.
    pub confirm: bool,
}

/// Previews or applies a closure: the live appointments inside it are listed, and kept.
pub async fn close(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    c: &ClosureInput,
) -> ServiceResult<Change> {
    let site = administered_site(state, staff, site_id).await?;
    let (start, end) = (c.start, c.end);
    if end <= start || end - start > Duration::days(400) {
        return Err(ServiceError::invalid(
            "invalid_range",
            "end",
            "La fin doit suivre le début (400 jours au plus).",
        ));
    }
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    db::lock_site(&mut tx, site.id).await?;
    if let Some(st) = c.station_id {
        station_of_site(&mut tx, st, site.id).await?;
    }
    let hits = db::live_overlapping(&mut tx, site.id, c.station_id, start, end).await?;
    if c.confirm {
        let id = Uuid::new_v4();
        db::insert_closure(
            &mut tx,
            id,
            site.id,
            c.station_id,
            start,
            end,
            c.reason.trim(),
            now,
        )
        .await?;
        audit::record(
            &mut *tx,
            staff,
            Some(&site.commune_insee),
            "closure_add",
            None,
            Some(&id.to_string()),
            json!({"station_id": c.station_id, "start": start, "end": end, "hits": hits.len()}),
            now,
        )
        .await?;
        tx.commit().await?;
        state.read_model.invalidate(site.id);
    }
    Ok(Change {
        applied: c.confirm,
        hits,
    })
}

/// A booking policy as typed (`release_time` is `HH:MM`).
#[derive(Debug, Clone)]
pub struct PolicyInput {
    pub min_notice_minutes: i32,
    pub horizon_days: i32,
    pub release_time: String,
    pub cancel_deadline_minutes: i32,
    pub slot_step_minutes: i32,
    pub reminder_hours: i32,
    /// The no-show policy, when given: `(no-shows, months, confirmation hours)`.
    pub no_shows: Option<(i32, i32, i32)>,
}

/// Sets the site's booking policy, each value within its bounds.
pub async fn set_policy(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    p: &PolicyInput,
) -> ServiceResult<()> {
    let site = administered_site(state, staff, site_id).await?;
    let checks: [(&'static str, i32, std::ops::RangeInclusive<i32>); 5] = [
        ("min_notice_minutes", p.min_notice_minutes, 0..=43_200),
        ("horizon_days", p.horizon_days, 1..=366),
        ("cancel_deadline_minutes", p.cancel_deadline_minutes, 0..=43_200),
        ("slot_step_minutes", p.slot_step_minutes, 5..=240),
        ("reminder_hours", p.reminder_hours, 1..=336),
    ];
    let no_show_checks: Vec<(&'static str, i32, std::ops::RangeInclusive<i32>)> = match p.no_shows {
        Some((limit, months, hours)) => vec![
            ("noshow_limit", limit, 0..=20),
            ("noshow_months", months, 1..=36),
            ("confirm_hours", hours, 1..=168),
        ],
        None => Vec::new(),
    };
    for (field, v, range) in checks.into_iter().chain(no_show_checks) {
        if !range.contains(&v) {
            return Err(ServiceError::invalid(
                "out_of_range",
                field,
                format!("{field} : entre {} et {}.", range.start(), range.end()),
            ));
        }
    }
    let row = PolicyRow {
        min_notice_minutes: p.min_notice_minutes,
        horizon_days: p.horizon_days,
        release_time: time(&p.release_time, "release_time")?,
        cancel_deadline_minutes: p.cancel_deadline_minutes,
        slot_step_minutes: p.slot_step_minutes,
        reminder_hours: p.reminder_hours,
    };
    let mut tx = state.pool.begin().await?;
    db::lock_site(&mut tx, site.id).await?;
    db::upsert_policy(&mut tx, site.id, &row).await?;
    if let Some(no_shows) = p.no_shows {
        db::set_no_show_policy(&mut tx, site.id, no_shows).await?;
    }
    audit::record(
        &mut *tx,
        staff,
        Some(&site.commune_insee),
        "policy_set",
        None,
        Some(&site.id.to_string()),
        json!({"horizon_days": p.horizon_days, "min_notice_minutes": p.min_notice_minutes,
               "no_shows": p.no_shows}),
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    state.read_model.invalidate(site.id);
    if p.no_shows.is_some() {
        state.read_model.invalidate_territory();
    }
    Ok(())
}

/// Schedules "the openings up to `up_to` become bookable at `release_at`" (`up_to` within the
/// next 400 days); the event and its audit row in one transaction.
pub async fn add_release(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    up_to: NaiveDate,
    release_at: DateTime<Utc>,
) -> ServiceResult<Uuid> {
    let site = administered_site(state, staff, site_id).await?;
    let now = state.clock.now();
    if up_to < now.date_naive() || up_to > now.date_naive() + Duration::days(400) {
        return Err(ServiceError::invalid(
            "invalid_date",
            "up_to",
            "up_to : dans les 400 prochains jours.",
        ));
    }
    let id = Uuid::new_v4();
    let mut tx = state.pool.begin().await?;
    db::insert_release(&mut tx, id, site.id, up_to, release_at, now).await?;
    audit::record(
        &mut *tx,
        staff,
        Some(&site.commune_insee),
        "release_add",
        None,
        Some(&id.to_string()),
        json!({"up_to": up_to, "release_at": release_at}),
        now,
    )
    .await?;
    tx.commit().await?;
    state.read_model.invalidate(site.id);
    Ok(id)
}

/// A broken station, for a while.
#[derive(Debug, Clone)]
pub struct BreakdownInput {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Sent to the citizens whose appointment is cancelled.
    pub reason: String,
}

/// Marks a station out of service: its appointments move to another free station at the same
/// time when possible, the rest are cancelled with an apology; one transaction with its audit row.
pub async fn declare_breakdown(
    state: &AppState,
    staff: &StaffUser,
    station: Uuid,
    b: &BreakdownInput,
) -> ServiceResult<BreakdownReport> {
    let site_id = db::site_of_station(&state.pool, station)
        .await?
        .ok_or_else(|| not_yours("station_not_found"))?;
    let site = visible_site(state, staff, site_id).await?;
    let (start, end) = (b.start, b.end);
    if end <= start || end - start > Duration::days(60) {
        return Err(ServiceError::invalid(
            "invalid_range",
            "end",
            "La fin doit suivre le début (60 jours au plus).",
        ));
    }
    let reason = b.reason.trim();
    if reason.is_empty() || reason.chars().count() > 300 {
        return Err(ServiceError::invalid(
            "reason_required",
            "reason",
            "Indiquez un motif (envoyé aux usagers dont le rendez-vous est annulé).",
        ));
    }
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let report = db::breakdown_in(&mut tx, site.id, station, start, end, reason, now).await?;
    audit::record(
        &mut *tx,
        staff,
        Some(&site.commune_insee),
        "station_breakdown",
        None,
        Some(&station.to_string()),
        json!({"start": start, "end": end, "moved": report.moved.len(), "cancelled": report.cancelled.len()}),
        now,
    )
    .await?;
    tx.commit().await?;
    state.read_model.invalidate(site.id);
    Ok(report)
}

/// A month's numbers of a site (`month` as `YYYY-MM`, default this month in the site's time zone).
pub async fn month_stats(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    month: Option<&str>,
) -> ServiceResult<PeriodStats> {
    let site = administered_site(state, staff, site_id).await?;
    let tz = site_tz(&site)?;
    let month = match month {
        None => state
            .clock
            .now()
            .with_timezone(&tz)
            .date_naive()
            .format("%Y-%m")
            .to_string(),
        Some(m) => m.trim().to_string(),
    };
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map_err(|_| ServiceError::malformed("invalid_month", "month", "Mois invalide (AAAA-MM)."))?;
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| ServiceError::malformed("invalid_month", "month", "Mois invalide."))?;
    let lo = crate::domain::tz::resolve_local(tz, first.and_time(NaiveTime::MIN));
    let hi = crate::domain::tz::resolve_local(tz, next.and_time(NaiveTime::MIN));
    Ok(db::period_stats(&state.pool, site.id, lo, hi).await?)
}

/// The days of the week, Monday first: the field an error about that day names (in the API and
/// the pages), and the day as staff read it.
pub const WEEK: [(&str, &str); 7] = [
    ("monday", "Lundi"),
    ("tuesday", "Mardi"),
    ("wednesday", "Mercredi"),
    ("thursday", "Jeudi"),
    ("friday", "Vendredi"),
    ("saturday", "Samedi"),
    ("sunday", "Dimanche"),
];

/// A site as its administrators set it up: the calendar, the motif settings, and the site's
/// time zone and local date (for the pages' defaults).
#[derive(Debug, Clone)]
pub struct AdminView {
    pub site: SiteRow,
    pub tz: Tz,
    pub today: NaiveDate,
    pub now: DateTime<Utc>,
    pub calendar: CalendarView,
    pub motifs: Vec<MotifRow>,
    /// The site's list of what to bring for every motif, used where a motif has none of its own.
    pub site_to_bring: Option<Vec<String>>,
}

impl AdminView {
    /// What a motif without a list of its own asks to bring: the site's list, or the domain's.
    pub fn default_to_bring(&self, motif: Motif) -> Vec<String> {
        match &self.site_to_bring {
            Some(items) => items.clone(),
            None => crate::domain::french::what_to_bring(motif)
                .into_iter()
                .map(str::to_string)
                .collect(),
        }
    }
}

/// Everything an administrator sets about a site (administrators only: an agent is refused).
pub async fn admin_view(state: &AppState, staff: &StaffUser, site_id: Uuid) -> ServiceResult<AdminView> {
    let site = administered_site(state, staff, site_id).await?;
    let tz = site_tz(&site)?;
    let now = state.clock.now();
    Ok(AdminView {
        tz,
        today: now.with_timezone(&tz).date_naive(),
        now,
        calendar: calendar(state, staff, site.id).await?,
        motifs: db::motif_rows(&state.pool, site.id).await?,
        site_to_bring: db::site_what_to_bring(&state.pool, site.id).await?,
        site,
    })
}

/// The opening hours of a site's stations in effect on one day.
#[derive(Debug, Clone)]
pub struct HoursView {
    pub site: SiteRow,
    /// The site's local date today.
    pub today: NaiveDate,
    /// The day whose week is shown.
    pub on: NaiveDate,
    pub stations: Vec<StationRow>,
    /// The rules in effect on `on`, by station, weekday and start.
    pub rules: Vec<RuleRow>,
    /// Rules starting after `on` (a week already planned): replacing the week from `on` ends them.
    pub later: Vec<RuleRow>,
}

/// The week of every station of the site in effect on `on` (default: today at the site).
pub async fn hours(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    on: Option<NaiveDate>,
) -> ServiceResult<HoursView> {
    let site = administered_site(state, staff, site_id).await?;
    let today = state.clock.now().with_timezone(&site_tz(&site)?).date_naive();
    let on = on.unwrap_or(today);
    let all = db::rules(&state.pool, site.id).await?;
    let (later, current): (Vec<RuleRow>, Vec<RuleRow>) = all
        .into_iter()
        .filter(|r| r.valid_until.is_none_or(|u| u >= on))
        .partition(|r| r.valid_from > on);
    Ok(HoursView {
        stations: db::stations(&state.pool, site.id).await?,
        rules: current,
        later,
        today,
        on,
        site,
    })
}

/// One opening range of a week as typed (times `HH:MM`, local).
#[derive(Debug, Clone)]
pub struct RangeDraft {
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    pub weekday: i16,
    pub start_time: String,
    pub end_time: String,
}

/// A station's whole week as typed, in effect from `valid_from` on (a day with no range is closed).
#[derive(Debug, Clone)]
pub struct WeekDraft {
    pub station_id: Uuid,
    pub valid_from: NaiveDate,
    pub ranges: Vec<RangeDraft>,
}

/// A rule's error said about its day: the field is the day, the message starts with it.
fn on_day(weekday: i16, e: ServiceError) -> ServiceError {
    let Some((field, label)) = usize::try_from(i32::from(weekday) - 1)
        .ok()
        .and_then(|i| WEEK.get(i))
    else {
        return e;
    };
    match e {
        ServiceError::Invalid { code, message, .. } => ServiceError::Invalid {
            code,
            field: Some(field),
            message: format!("{label} : {message}"),
        },
        other => other,
    }
}

/// Replaces a station's week from `valid_from` on, in one transaction: the rules still running
/// then end the day before (their past stays), those starting later are dropped, the new ranges
/// are written. Unless `confirm`, only previews: the station's live appointments the new week
/// leaves outside its hours are listed (when applied, they are kept, and listed).
pub async fn replace_week(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    week: &WeekDraft,
    confirm: bool,
) -> ServiceResult<Change> {
    let site = administered_site(state, staff, site_id).await?;
    let now = state.clock.now();
    let today = now.with_timezone(&site_tz(&site)?).date_naive();
    if week.valid_from < today || week.valid_from > today + Duration::days(800) {
        return Err(ServiceError::invalid(
            "invalid_date",
            "valid_from",
            "La date d'effet doit être aujourd'hui ou plus tard (800 jours au plus).",
        ));
    }
    if week.ranges.len() > 7 * 12 {
        return Err(ServiceError::invalid(
            "too_many_ranges",
            "ranges",
            "Douze plages par jour au plus.",
        ));
    }
    let rules = week
        .ranges
        .iter()
        .map(|r| {
            validated_rule(&RuleDraft {
                station_id: week.station_id,
                weekday: r.weekday,
                start_time: r.start_time.clone(),
                end_time: r.end_time.clone(),
                valid_from: week.valid_from,
                valid_until: None,
            })
            .map_err(|e| on_day(r.weekday, e))
        })
        .collect::<ServiceResult<Vec<RuleInput>>>()?;
    let mut tx = state.pool.begin().await?;
    db::lock_site(&mut tx, site.id).await?;
    station_of_site(&mut tx, week.station_id, site.id).await?;
    db::clear_week_from(&mut tx, week.station_id, week.valid_from).await?;
    // Written one by one, each checked against those before: two ranges of a day that overlap
    // are refused like any overlapping rule.
    for rule in &rules {
        no_overlap(&mut tx, rule, None)
            .await
            .map_err(|e| on_day(rule.weekday, e))?;
        db::insert_rule(&mut tx, Uuid::new_v4(), rule).await?;
    }
    let hits: Vec<Hit> = uncovered(&mut tx, &site, now)
        .await?
        .into_iter()
        .filter(|h| h.station_id == week.station_id)
        .collect();
    if confirm {
        let ranges: Vec<_> = rules
            .iter()
            .map(|r| json!({"weekday": r.weekday, "start": r.start_time, "end": r.end_time}))
            .collect();
        audit::record(
            &mut *tx,
            staff,
            Some(&site.commune_insee),
            "week_replace",
            None,
            Some(&week.station_id.to_string()),
            json!({"valid_from": week.valid_from, "ranges": ranges, "hits": hits.len()}),
            now,
        )
        .await?;
        tx.commit().await?;
        state.read_model.invalidate(site.id);
    } else {
        tx.rollback().await?;
    }
    Ok(Change {
        applied: confirm,
        hits,
    })
}

/// A closure of `site`, locked for a change (one of another site is not found).
async fn closure_of_site(conn: &mut PgConnection, site: Uuid, closure: Uuid) -> ServiceResult<ClosureRow> {
    match db::closure_for_update(conn, closure).await? {
        Some(found) if found.site_id == site => Ok(found.closure),
        _ => Err(not_yours("closure_not_found")),
    }
}

/// Ends a closure earlier than planned: at `end`, or now when `None`. The new end must follow
/// the start, precede the planned end and not be past; a closure already over stays as it was.
pub async fn end_closure(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    closure_id: Uuid,
    end: Option<DateTime<Utc>>,
) -> ServiceResult<()> {
    let site = administered_site(state, staff, site_id).await?;
    let now = state.clock.now();
    let end = end.unwrap_or(now);
    let mut tx = state.pool.begin().await?;
    db::lock_site(&mut tx, site.id).await?;
    let closure = closure_of_site(&mut tx, site.id, closure_id).await?;
    let refuse = |message: &str| Err(ServiceError::invalid("invalid_end", "end", message));
    if closure.end <= now {
        return refuse("Cette fermeture est déjà terminée.");
    }
    if end < now {
        return refuse("La nouvelle fin ne peut pas être passée.");
    }
    if end <= closure.start {
        return refuse("La nouvelle fin doit suivre le début de la fermeture (sinon, supprimez-la).");
    }
    if end >= closure.end {
        return refuse("La nouvelle fin doit précéder la fin prévue.");
    }
    db::set_closure_end(&mut tx, closure_id, end).await?;
    audit::record(
        &mut *tx,
        staff,
        Some(&site.commune_insee),
        "closure_end",
        None,
        Some(&closure_id.to_string()),
        json!({"planned_end": closure.end, "end": end}),
        now,
    )
    .await?;
    tx.commit().await?;
    state.read_model.invalidate(site.id);
    Ok(())
}

/// Removes a closure: its times are offered again.
pub async fn delete_closure(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    closure_id: Uuid,
) -> ServiceResult<()> {
    let site = administered_site(state, staff, site_id).await?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    db::lock_site(&mut tx, site.id).await?;
    let closure = closure_of_site(&mut tx, site.id, closure_id).await?;
    db::delete_closure(&mut tx, closure_id).await?;
    audit::record(
        &mut *tx,
        staff,
        Some(&site.commune_insee),
        "closure_delete",
        None,
        Some(&closure_id.to_string()),
        json!({"station_id": closure.station_id, "start": closure.start, "end": closure.end, "reason": closure.reason}),
        now,
    )
    .await?;
    tx.commit().await?;
    state.read_model.invalidate(site.id);
    Ok(())
}

/// A station's name: trimmed, 1 to 60 characters, unique in its site (case aside).
async fn station_name(
    conn: &mut PgConnection,
    site: Uuid,
    raw: &str,
    except: Option<Uuid>,
) -> ServiceResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(ServiceError::invalid(
            "invalid_name",
            "name",
            "Nom du poste : de 1 à 60 caractères.",
        ));
    }
    if db::station_name_taken(conn, site, name, except).await? {
        return Err(ServiceError::invalid(
            "station_name_taken",
            "name",
            "Un autre poste de ce lieu porte déjà ce nom.",
        ));
    }
    Ok(name.to_string())
}

/// Adds an (active, still closed: no opening hours yet) station to a site.
pub async fn add_station(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    name: &str,
) -> ServiceResult<Uuid> {
    let site = administered_site(state, staff, site_id).await?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    db::lock_site(&mut tx, site.id).await?;
    let name = station_name(&mut tx, site.id, name, None).await?;
    let id = Uuid::new_v4();
    db::insert_station(&mut tx, id, site.id, &name, now).await?;
    audit::record(
        &mut *tx,
        staff,
        Some(&site.commune_insee),
        "station_add",
        None,
        Some(&id.to_string()),
        json!({"name": name}),
        now,
    )
    .await?;
    tx.commit().await?;
    state.read_model.invalidate(site.id);
    state.read_model.invalidate_territory();
    Ok(id)
}

/// What to change about a station (`None`: as it is).
#[derive(Debug, Clone, Default)]
pub struct StationChange {
    pub name: Option<String>,
    pub active: Option<bool>,
}

/// Renames a station and/or turns it on or off. A station turned off offers no time any more;
/// its live appointments to come are kept (for the staff to move or cancel) and listed.
pub async fn change_station(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    station_id: Uuid,
    change: &StationChange,
) -> ServiceResult<Change> {
    let site = administered_site(state, staff, site_id).await?;
    if change.name.is_none() && change.active.is_none() {
        return Err(ServiceError::invalid(
            "nothing_to_change",
            "name",
            "Indiquez un nouveau nom ou l'état du poste.",
        ));
    }
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    db::lock_site(&mut tx, site.id).await?;
    station_of_site(&mut tx, station_id, site.id).await?;
    let name = match &change.name {
        Some(raw) => Some(station_name(&mut tx, site.id, raw, Some(station_id)).await?),
        None => None,
    };
    db::update_station(&mut tx, station_id, name.as_deref(), change.active).await?;
    let hits = if change.active == Some(false) {
        db::live_overlapping(&mut tx, site.id, Some(station_id), now, now + Duration::days(800)).await?
    } else {
        Vec::new()
    };
    audit::record(
        &mut *tx,
        staff,
        Some(&site.commune_insee),
        "station_change",
        None,
        Some(&station_id.to_string()),
        json!({"name": name, "active": change.active, "hits": hits.len()}),
        now,
    )
    .await?;
    tx.commit().await?;
    state.read_model.invalidate(site.id);
    state.read_model.invalidate_territory();
    Ok(Change { applied: true, hits })
}

/// A motif's settings at a site as typed.
#[derive(Debug, Clone)]
pub struct MotifInput {
    pub minutes_per_person: i32,
    pub max_persons: i32,
    /// One item per line; empty: the default list.
    pub what_to_bring: String,
}

/// Sets how long a motif takes per person, how many persons may come together, and what they
/// must bring (shown to citizens and on the day list); offers the motif if the site did not.
pub async fn set_motif(
    state: &AppState,
    staff: &StaffUser,
    site_id: Uuid,
    motif: Motif,
    m: &MotifInput,
) -> ServiceResult<()> {
    let site = administered_site(state, staff, site_id).await?;
    if !(5..=240).contains(&m.minutes_per_person) {
        return Err(ServiceError::invalid(
            "out_of_range",
            "minutes_per_person",
            "Durée par personne : entre 5 et 240 minutes.",
        ));
    }
    let most = crate::domain::party::PartySize::MAX;
    if !(1..=i32::from(most)).contains(&m.max_persons) {
        return Err(ServiceError::invalid(
            "out_of_range",
            "max_persons",
            format!("Nombre de personnes : entre 1 et {most}."),
        ));
    }
    let lines: Vec<&str> = m
        .what_to_bring
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let text = lines.join("\n");
    if lines.len() > 30 || text.chars().count() > 2000 {
        return Err(ServiceError::invalid(
            "too_long",
            "what_to_bring",
            "À apporter : 30 lignes et 2 000 caractères au plus.",
        ));
    }
    let row = MotifRow {
        motif,
        minutes_per_person: m.minutes_per_person,
        max_persons: m.max_persons,
        what_to_bring: (!text.is_empty()).then_some(text),
    };
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    db::lock_site(&mut tx, site.id).await?;
    db::upsert_motif(&mut tx, site.id, &row).await?;
    audit::record(
        &mut *tx,
        staff,
        Some(&site.commune_insee),
        "motif_set",
        None,
        Some(&site.id.to_string()),
        json!({"motif": motif, "minutes_per_person": row.minutes_per_person, "max_persons": row.max_persons,
               "what_to_bring": row.what_to_bring.is_some()}),
        now,
    )
    .await?;
    tx.commit().await?;
    state.read_model.invalidate(site.id);
    state.read_model.invalidate_territory();
    Ok(())
}

/// What a citizen coming for `motif` must bring to `site`: the site's list for that motif when
/// its administrators wrote one, else the site's list for every motif, else the default list of
/// the domain rules. For the citizen's pages, the emails and the printable day list alike.
pub async fn what_to_bring(state: &AppState, site_id: Uuid, motif: Motif) -> ServiceResult<Vec<String>> {
    Ok(match db::what_to_bring(&state.pool, site_id, motif).await? {
        Some(items) if !items.is_empty() => items,
        _ => crate::domain::french::what_to_bring(motif)
            .into_iter()
            .map(str::to_string)
            .collect(),
    })
}
