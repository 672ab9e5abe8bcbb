//! A commune administrator's opening hours of a site: the week of every station as a grid, and a
//! station's week edited as up to a few ranges per day ("08:30-12:00", empty: closed), posted to
//! a preview of the appointments the new hours would leave outside, then saved. Both steps call
//! [`calendar_admin::replace_week`], the function behind the API's
//! `PUT /api/v1/staff/sites/{site_id}/stations/{station_id}/week`.

use super::components::{self as ui, Input};
use super::error_page;
use super::layout::page;
use super::staff::{checked, csrf, logout_button};
use crate::app::AppState;
use crate::db::calendar_admin::{Hit, RuleRow, StationRow};
use crate::error::ApiError;
use crate::request::extract::{Path, Query};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::calendar_admin::{self, HoursView, RangeDraft, WeekDraft, WEEK};
use crate::service::ServiceError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;
use chrono_tz::Tz;
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

/// Fewest range fields offered per day (a morning and an afternoon).
const RANGES_SHOWN: usize = 2;

/// The site's time zone, for showing appointments' times.
pub(super) fn tz_of(site: &crate::db::territory::SiteRow) -> Tz {
    site.timezone.parse().unwrap_or(chrono_tz::Europe::Paris)
}

/// The links every administrator page of a site carries: back to the site, and its other settings.
pub(super) fn site_links(site: Uuid) -> Markup {
    let pages = [
        ("", "Journée du lieu"),
        ("/horaires", "Horaires d'ouverture"),
        ("/fermetures", "Fermetures"),
        ("/politique", "Règles de réservation"),
        ("/reglages", "Postes et motifs"),
    ];
    html! {
        nav aria-label="Réglages du lieu" {
            ul.links {
                @for (path, label) in pages {
                    li { a href={ "/agents/lieux/" (site) (path) } { (label) } }
                }
            }
        }
    }
}

/// The appointments a change leaves outside the hours (or inside a closure), as a table.
pub(super) fn hits_table(caption: &str, hits: &[Hit], tz: Tz) -> Markup {
    html! {
        table {
            caption { (caption) }
            thead {
                tr {
                    th scope="col" { "Date" }
                    th scope="col" { "Heure" }
                    th scope="col" { "Usager" }
                    th scope="col" { "Référence" }
                }
            }
            tbody {
                @for h in hits {
                    tr {
                        td { (crate::domain::french::day_label(h.start, tz)) }
                        td { (h.start.with_timezone(&tz).format("%H:%M")) "–" (h.end.with_timezone(&tz).format("%H:%M")) }
                        td { (h.last_name) " (" (ui::persons(h.persons)) ")" }
                        td { (h.reference) }
                    }
                }
            }
        }
    }
}

/// A date as people say it ("mercredi 2 décembre 2026"): the wording of
/// [`crate::domain::french::day_label`], read at midnight UTC so that no time zone moves the day.
pub(super) fn date_fr(d: NaiveDate) -> String {
    crate::domain::french::day_label(d.and_time(chrono::NaiveTime::MIN).and_utc(), chrono_tz::UTC)
}

/// "08:30-12:00".
fn range_text(start: chrono::NaiveTime, end: chrono::NaiveTime) -> String {
    format!("{}-{}", start.format("%H:%M"), end.format("%H:%M"))
}

/// A station's week as the form's texts, per weekday (index 0 = Monday).
fn week_texts(rules: &[RuleRow], station: Uuid) -> [Vec<String>; 7] {
    let mut days: [Vec<String>; 7] = Default::default();
    for r in rules.iter().filter(|r| r.station_id == station) {
        if let Some(day) = usize::try_from(r.weekday - 1).ok().and_then(|i| days.get_mut(i)) {
            day.push(range_text(r.start_time, r.end_time));
        }
    }
    days
}

/// What was typed in one station's form, and what was wrong with it.
#[derive(Debug, Default)]
struct Typed {
    station: Uuid,
    valid_from: String,
    days: [Vec<String>; 7],
    /// Per weekday (index 0 = Monday).
    day_errors: [Option<String>; 7],
    date_error: Option<String>,
    other_error: Option<String>,
}

/// The week of every station in effect on the day shown: rows are days, columns stations.
fn overview(v: &HoursView) -> Markup {
    html! {
        div.table-scroll role="region" aria-label="Horaires par poste" tabindex="0" {
            table.wide {
                caption { "Semaine en vigueur le " (date_fr(v.on)) }
                thead {
                    tr {
                        th scope="col" { "Jour" }
                        @for st in &v.stations {
                            th scope="col" { (st.name) @if !st.active { " (inactif)" } }
                        }
                    }
                }
                tbody {
                    @for (i, (_, day)) in WEEK.iter().enumerate() {
                        tr {
                            th scope="row" { (day) }
                            @for st in &v.stations {
                                @let ranges = &week_texts(&v.rules, st.id)[i];
                                td {
                                    @if ranges.is_empty() { "Fermé" } @else { (ranges.join(", ").replace('-', "–")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One station's week as a form: a row per day, a field per range.
fn week_form(site: Uuid, st: &StationRow, n: usize, token: &str, typed: &Typed) -> Markup {
    let id = |what: &str| format!("s{n}-{what}");
    let date_err = id("err-date");
    let other_err = id("err");
    let shown = typed
        .days
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .max(RANGES_SHOWN);
    html! {
        h2 #(id("titre")) { "Semaine de " (st.name) }
        (ui::staff_form(Some(&format!("/agents/lieux/{site}/horaires/{}", st.id)), token, false, html! {
            p.hint #(id("aide")) { "Une plage par case, par exemple 08:30-12:00 ; laissez vide un jour fermé." }
            (ui::field_error(&other_err, typed.other_error.as_deref()))
            (ui::field_error(&date_err, typed.date_error.as_deref()))
            (Input {
                id: &id("a-partir-du"),
                name: "a_partir_du",
                label: "À partir du",
                kind: Some("date"),
                value: Some(&typed.valid_from),
                required: true,
                error_id: typed.date_error.as_ref().map(|_| date_err.as_str()),
                ..Input::default()
            })
            div.table-scroll role="region" aria-labelledby=(id("titre")) tabindex="0" {
                table.week-grid {
                    caption { "Plages d'ouverture de " (st.name) }
                    thead {
                        tr {
                            th scope="col" { "Jour" }
                            @for k in 1..=shown { th scope="col" { "Plage " (k) } }
                        }
                    }
                    tbody {
                        @for (i, (_, day)) in WEEK.iter().enumerate() {
                            @let err = id(&format!("err-j{}", i + 1));
                            @let error = typed.day_errors[i].as_deref();
                            tr {
                                th scope="row" { (day) }
                                @for k in 0..shown {
                                    @let field = format!("j{}_{}", i + 1, k + 1);
                                    @let input_id = id(&field);
                                    td {
                                        label.visually-hidden for=(input_id) { (day) ", plage " (k + 1) }
                                        input id=(input_id) name=(field) type="text"
                                            size="11" maxlength="20"
                                            value=[typed.days[i].get(k)]
                                            aria-describedby=(error.map_or(id("aide"), |_| err.clone()))
                                            aria-invalid=[error.map(|_| "true")];
                                        @if k + 1 == shown {
                                            (ui::field_error(&err, error))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            button type="submit" { "Voir les rendez-vous concernés" }
        }))
    }
}

/// The whole page: the grid of every station, then each station's form (`typed`: what was
/// posted to one of them, shown again with its errors).
fn hours_page(v: &HoursView, session: &str, typed: Option<&Typed>) -> Markup {
    let token = csrf(session);
    let default_from = v.on.max(v.today).to_string();
    let body = html! {
        (logout_button(session))
        (site_links(v.site.id))
        form method="get" {
            (Input {
                id: "date",
                name: "date",
                label: "Horaires en vigueur le",
                kind: Some("date"),
                value: Some(&v.on.to_string()),
                ..Input::default()
            })
            button type="submit" class="secondary" { "Afficher" }
        }
        (overview(v))
        @if !v.later.is_empty() {
            (ui::info(html! {
                "Des horaires sont déjà prévus plus tard (à partir du "
                (v.later.iter().map(|r| r.valid_from).min().map(date_fr).unwrap_or_default())
                ") : enregistrer une semaine à une date antérieure les remplace."
            }))
        }
        @for (n, st) in v.stations.iter().enumerate() {
            @let mine = typed.filter(|t| t.station == st.id);
            @let fresh = Typed {
                station: st.id,
                valid_from: default_from.clone(),
                days: week_texts(&v.rules, st.id),
                ..Typed::default()
            };
            (week_form(v.site.id, st, n, &token, mine.unwrap_or(&fresh)))
        }
        @if v.stations.is_empty() {
            p { "Ce lieu n'a pas encore de poste : ajoutez-en un dans " a href={ "/agents/lieux/" (v.site.id) "/reglages" } { "Postes et motifs" } "." }
        }
    };
    page(&format!("Horaires d'ouverture – {}", v.site.name), body)
}

/// Which week to show.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HoursQuery {
    /// `YYYY-MM-DD` (default: today).
    date: Option<String>,
}

/// The opening hours of every station of a site, and a form per station to change its week.
#[utoipa::path(get, path = "/agents/lieux/{site_id}/horaires", tag = "pages", params(("site_id" = String, Path, description = "Lieu"), HoursQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs"), (status = 404, description = "Lieu inconnu")))]
pub async fn hours_page_get(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Query(q): Query<HoursQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    let (site, on) = match (
        params::uuid(&site_id, "site_id"),
        params::date(q.date.as_deref(), "date"),
    ) {
        (Ok(s), Ok(d)) => (s, d),
        (Err(e), _) | (_, Err(e)) => return error_page(e),
    };
    match calendar_admin::hours(&state, &staff.user, site, on).await {
        Ok(v) => hours_page(&v, &staff.token, None).into_response(),
        Err(e) => error_page(e.into()),
    }
}

/// "08:30", "8h30", "8h", "8" as `HH:MM` (the service checks the time itself).
fn clock_text(raw: &str) -> String {
    let t = raw.trim().to_lowercase().replace('h', ":");
    match t.split_once(':') {
        Some((h, "")) => format!("{h}:00"),
        Some(_) => t,
        None => format!("{t}:00"),
    }
}

/// One typed range ("08:30-12:00", any dash) as start and end.
fn split_range(raw: &str) -> Option<(String, String)> {
    let (a, b) = raw.split_once(['-', '–', '—'])?;
    (!a.trim().is_empty() && !b.trim().is_empty()).then(|| (clock_text(a), clock_text(b)))
}

/// The week form's fields: `a_partir_du`, `j{day}_{n}` for each range, `confirmer` to save.
fn read_week(station: Uuid, fields: &[(String, String)]) -> (Typed, Option<WeekDraft>, bool) {
    let mut typed = Typed {
        station,
        ..Typed::default()
    };
    let mut confirm = false;
    let mut slots: Vec<(usize, usize, String)> = Vec::new();
    for (k, v) in fields {
        match k.as_str() {
            "a_partir_du" => typed.valid_from = v.trim().to_string(),
            "confirmer" => confirm = true,
            _ => {
                let pos = k
                    .strip_prefix('j')
                    .and_then(|rest| rest.split_once('_'))
                    .and_then(|(d, n)| Some((d.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
                if let Some((d @ 1..=7, n @ 1..=20)) = pos {
                    slots.push((d, n, v.trim().to_string()));
                }
            }
        }
    }
    slots.sort();
    let mut ranges = Vec::new();
    for (d, _, text) in slots.into_iter().filter(|(_, _, t)| !t.is_empty()) {
        match split_range(&text) {
            Some((start, end)) => ranges.push(RangeDraft {
                weekday: d as i16,
                start_time: start,
                end_time: end,
            }),
            None if typed.day_errors[d - 1].is_none() => {
                typed.day_errors[d - 1] = Some(format!(
                    "{} : plage illisible « {text} » ; écrivez par exemple 08:30-12:00.",
                    WEEK[d - 1].1
                ));
            }
            None => {}
        }
        typed.days[d - 1].push(text);
    }
    let valid_from = NaiveDate::parse_from_str(&typed.valid_from, "%Y-%m-%d").ok();
    if valid_from.is_none() {
        typed.date_error = Some("Date d'effet invalide (JJ/MM/AAAA).".into());
    }
    let draft = match valid_from {
        Some(valid_from) if typed.day_errors.iter().all(Option::is_none) => Some(WeekDraft {
            station_id: station,
            valid_from,
            ranges,
        }),
        _ => None,
    };
    (typed, draft, confirm)
}

/// A week's ranges by weekday (index 0 = Monday), as they will read.
fn draft_days(draft: Option<&WeekDraft>) -> [Vec<String>; 7] {
    let mut days: [Vec<String>; 7] = Default::default();
    for r in draft.map_or(&[][..], |d| &d.ranges) {
        if let Some(day) = usize::try_from(r.weekday - 1).ok().and_then(|i| days.get_mut(i)) {
            day.push(format!("{}–{}", r.start_time, r.end_time));
        }
    }
    days
}

/// The new week, as it will read.
fn week_summary(station: &str, days: &[Vec<String>; 7]) -> Markup {
    html! {
        table {
            caption { "Nouvelle semaine de " (station) }
            thead { tr { th scope="col" { "Jour" } th scope="col" { "Plages" } } }
            tbody {
                @for (i, (_, day)) in WEEK.iter().enumerate() {
                    tr {
                        th scope="row" { (day) }
                        td { @if days[i].is_empty() { "Fermé" } @else { (days[i].join(", ")) } }
                    }
                }
            }
        }
    }
}

/// Previews a station's new week (the appointments it would leave outside), then, confirmed,
/// saves it.
#[utoipa::path(post, path = "/agents/lieux/{site_id}/horaires/{station_id}", tag = "pages",
    params(("site_id" = String, Path, description = "Lieu"), ("station_id" = String, Path, description = "Poste")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
                 description = "csrf, a_partir_du (AAAA-MM-JJ), j{jour}_{n} (plages « 08:30-12:00 », jour 1 = lundi), confirmer pour enregistrer"),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs ou jeton CSRF invalide"),
              (status = 422, content_type = "text/html", body = String)))]
pub async fn week_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path((site_id, station_id)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let csrf_field = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let staff = match checked(staff, csrf_field) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (site, station) = match (
        params::uuid(&site_id, "site_id"),
        params::uuid(&station_id, "station_id"),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error_page(e),
    };
    let (mut typed, draft, confirm) = read_week(station, &fields);
    let result = match &draft {
        Some(week) => calendar_admin::replace_week(&state, &staff.user, site, week, confirm).await,
        None => Err(ServiceError::invalid("invalid_week", "ranges", String::new())),
    };
    let change = match result {
        Ok(c) => c,
        Err(ServiceError::Invalid { field, message, .. }) => {
            if draft.is_some() {
                match field {
                    Some("valid_from") => typed.date_error = Some(message),
                    Some(f) => match WEEK.iter().position(|(name, _)| *name == f) {
                        Some(i) => typed.day_errors[i] = Some(message),
                        None => typed.other_error = Some(message),
                    },
                    None => typed.other_error = Some(message),
                }
            }
            // The page again, what was typed in its place and the error next to its day.
            return match calendar_admin::hours(&state, &staff.user, site, None).await {
                Ok(v) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    hours_page(&v, &staff.token, Some(&typed)),
                )
                    .into_response(),
                Err(e) => error_page(e.into()),
            };
        }
        Err(e) => return error_page(e.into()),
    };
    // The names and time zone for the answer (the change itself is done or previewed above).
    let v = match calendar_admin::hours(&state, &staff.user, site, None).await {
        Ok(v) => v,
        Err(e) => return error_page(e.into()),
    };
    let tz = tz_of(&v.site);
    let name = v
        .stations
        .iter()
        .find(|s| s.id == station)
        .map_or(String::new(), |s| s.name.clone());
    let from = date_fr(draft.as_ref().map_or(v.today, |d| d.valid_from));
    let body = html! {
        (logout_button(&staff.token))
        @if change.applied {
            (ui::success(html! { "Horaires de " (name) " enregistrés à partir du " (from) "." }))
        } @else {
            p { "Cette semaine s'appliquera à partir du " (from) ". Rien n'est encore enregistré." }
        }
        (week_summary(&name, &draft_days(draft.as_ref())))
        @if change.hits.is_empty() {
            p { "Aucun rendez-vous à venir de ce poste ne serait hors des nouveaux horaires." }
        } @else {
            (ui::warning(html! {
                (change.hits.len()) " rendez-vous à venir de ce poste "
                @if change.applied { "sont" } @else { "seraient" }
                " hors des nouveaux horaires. Ils sont maintenus : prévenez ces usagers, déplacez-les ou annulez-les."
            }))
            (hits_table("Rendez-vous hors des nouveaux horaires", &change.hits, tz))
        }
        @if !change.applied {
            // Posted back to this address with the same fields, confirmed.
            (ui::staff_form(None, csrf_field, false, html! {
                @for (k, val) in fields.iter().filter(|(k, _)| k != "csrf" && k != "confirmer") {
                    (ui::hidden(k, val))
                }
                (ui::hidden("confirmer", "1"))
                button type="submit" { "Enregistrer" }
            }))
        }
        p { a href={ "/agents/lieux/" (site) "/horaires" } { "Retour aux horaires" } }
    };
    let title = if change.applied {
        format!("Horaires de {name} enregistrés")
    } else {
        format!("Horaires de {name} : aperçu")
    };
    page(&title, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ranges_are_read_with_any_dash_and_french_hours() {
        assert_eq!(split_range("08:30-12:00"), Some(("08:30".into(), "12:00".into())));
        assert_eq!(
            split_range(" 13h30 – 17h "),
            Some(("13:30".into(), "17:00".into()))
        );
        assert_eq!(split_range("9—12"), Some(("9:00".into(), "12:00".into())));
        assert_eq!(split_range("midi"), None);
        assert_eq!(split_range("08:30-"), None);
    }

    #[test]
    fn the_week_form_is_read_by_day_and_its_errors_kept_per_day() {
        let station = Uuid::nil();
        let (typed, draft, confirm) = read_week(
            station,
            &fields(&[
                ("csrf", "x"),
                ("a_partir_du", "2026-12-07"),
                ("j1_2", "13:30-17:00"),
                ("j1_1", "08:30-12:00"),
                ("j3_1", ""),
                ("j9_1", "08:00-09:00"),
                ("confirmer", "1"),
            ]),
        );
        let draft = draft.expect("a readable week");
        assert!(confirm);
        assert_eq!(draft.valid_from, NaiveDate::from_ymd_opt(2026, 12, 7).unwrap());
        let read: Vec<(i16, &str, &str)> = draft
            .ranges
            .iter()
            .map(|r| (r.weekday, r.start_time.as_str(), r.end_time.as_str()))
            .collect();
        assert_eq!(read, vec![(1, "08:30", "12:00"), (1, "13:30", "17:00")]);
        assert_eq!(typed.days[0], vec!["08:30-12:00", "13:30-17:00"]);
        assert!(typed.days[2].is_empty());

        let (typed, draft, confirm) = read_week(
            station,
            &fields(&[
                ("a_partir_du", "lundi"),
                ("j2_1", "matin"),
                ("j4_1", "08:00-12:00"),
            ]),
        );
        assert!(draft.is_none() && !confirm);
        assert!(typed.date_error.is_some());
        assert!(typed.day_errors[1]
            .as_deref()
            .is_some_and(|e| e.starts_with("Mardi")));
        assert!(typed.day_errors[3].is_none());
        assert_eq!(typed.days[1], vec!["matin"]);
    }
}
