//! A site's statistics page for its administrators: appointments by week, each station's fill
//! rate, the no-show rate by week and the booking lead times, drawn as inline SVG charts each
//! followed by the table of its figures (what a screen reader reads). Same service function as
//! `GET /api/v1/staff/sites/{site_id}/statistics`.

use super::charts::{bar_chart, percent, Bar};
use super::components::{self as ui, Input};
use super::error_page;
use super::layout::page;
use super::staff::logout_button;
use crate::app::AppState;
use crate::error::ApiError;
use crate::request::extract::{Path, Query};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::site_stats::{self, SiteStats};
use crate::service::ServiceError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

/// The period, as the form sends it.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StatsQuery {
    /// First day (`YYYY-MM-DD`; default: the Monday eight weeks ago).
    du: Option<String>,
    /// Last day, included (default: the Sunday four weeks ahead).
    au: Option<String>,
}

/// Hours and minutes: "12 h 30".
fn hours(minutes: i64) -> String {
    format!("{} h {:02}", minutes / 60, minutes % 60)
}

/// One decimal, French style.
fn decimal(x: f64) -> String {
    format!("{x:.1}").replace('.', ",")
}

/// A scrollable table region (see the administration pages).
fn scroll_table(label: &str, table: Markup) -> Markup {
    html! {
        div.table-scroll role="region" aria-label=(label) tabindex="0" { (table) }
    }
}

fn period_form(site_id: uuid::Uuid, du: &str, au: &str, error: Option<(&str, &str)>) -> Markup {
    let err = |field: &str| error.filter(|(f, _)| *f == field).map(|(_, m)| m);
    html! {
        form method="get" action={ "/agents/lieux/" (site_id) "/statistiques" } aria-label="Période" {
            (ui::field_error("err-du", err("du")))
            (Input { id: "s-du", name: "du", label: "Du", kind: Some("date"), value: Some(du),
                     error_id: err("du").map(|_| "err-du"), ..Input::default() })
            (ui::field_error("err-au", err("au")))
            (Input { id: "s-au", name: "au", label: "Au (inclus)", kind: Some("date"), value: Some(au),
                     error_id: err("au").map(|_| "err-au"), ..Input::default() })
            button type="submit" { "Afficher" }
        }
    }
}

fn stats_body(s: &SiteStats) -> Markup {
    let week_label = |m: chrono::NaiveDate| format!("Sem. du {}", m.format("%d/%m"));
    let booked: Vec<Bar> = s
        .weeks
        .iter()
        .map(|w| Bar {
            label: week_label(w.monday),
            value: w.booked as f64,
            text: w.booked.to_string(),
        })
        .collect();
    let fill: Vec<Bar> = s
        .stations
        .iter()
        .map(|st| Bar {
            label: st.name.clone(),
            value: st.fill_rate,
            text: percent(st.fill_rate),
        })
        .collect();
    let week_rate = |w: &site_stats::WeekStats| {
        if w.attended_or_due == 0 {
            0.0
        } else {
            w.no_shows as f64 / w.attended_or_due as f64
        }
    };
    let no_shows: Vec<Bar> = s
        .weeks
        .iter()
        .map(|w| Bar {
            label: week_label(w.monday),
            value: week_rate(w),
            text: if w.attended_or_due == 0 {
                "—".into()
            } else {
                percent(week_rate(w))
            },
        })
        .collect();
    let leads: Vec<Bar> = s
        .lead_times
        .iter()
        .map(|b| Bar {
            label: b.label.to_string(),
            value: b.count as f64,
            text: b.count.to_string(),
        })
        .collect();
    html! {
        h2 #titre-resume { "En résumé" }
        (scroll_table("Résumé", html! {
            table aria-labelledby="titre-resume" {
                caption { "Du " (s.from.format("%d/%m/%Y")) " au " (s.to.format("%d/%m/%Y")) }
                tbody {
                    tr { th scope="row" { "Rendez-vous (annulés compris)" } td { (s.appointments) } }
                    tr { th scope="row" { "Annulés" } td { (s.cancelled) } }
                    tr { th scope="row" { "Rendez-vous passés (venus, absents ou non pointés)" } td { (s.attended_or_due) } }
                    tr { th scope="row" { "Absents" } td { (s.no_shows) } }
                    tr { th scope="row" { "Taux d'absence" } td { (percent(s.no_show_rate)) } }
                    tr { th scope="row" { "Délai moyen entre réservation et rendez-vous" } td { (decimal(s.mean_lead_days)) " jours" } }
                    tr { th scope="row" { "Inscrits sur la liste d'attente (aujourd'hui)" } td { (s.waitlist_open) } }
                }
            }
        }))

        h2 #titre-semaines { "Rendez-vous par semaine" }
        (bar_chart("titre-semaines", &booked, None))
        (scroll_table("Rendez-vous par semaine, tableau", html! {
            table {
                caption { "Rendez-vous par semaine (annulés exclus)" }
                thead { tr { th scope="col" { "Semaine du" } th scope="col" { "Rendez-vous" } } }
                tbody {
                    @for w in &s.weeks {
                        tr { th scope="row" { (w.monday.format("%d/%m/%Y")) } td { (w.booked) } }
                    }
                }
            }
        }))

        h2 #titre-postes { "Taux de remplissage par poste" }
        (bar_chart("titre-postes", &fill, Some(1.0)))
        (scroll_table("Remplissage par poste, tableau", html! {
            table {
                caption { "Temps réservé sur le temps d'ouverture (jours fériés et fermetures déduits)" }
                thead { tr {
                    th scope="col" { "Poste" } th scope="col" { "Ouverture" }
                    th scope="col" { "Réservé" } th scope="col" { "Remplissage" }
                } }
                tbody {
                    @for st in &s.stations {
                        tr {
                            th scope="row" { (st.name) }
                            td { (hours(st.open_minutes)) }
                            td { (hours(st.booked_minutes)) }
                            td { (percent(st.fill_rate)) }
                        }
                    }
                }
            }
        }))

        h2 #titre-absences { "Taux d'absence par semaine" }
        (bar_chart("titre-absences", &no_shows, Some(1.0)))
        (scroll_table("Absences par semaine, tableau", html! {
            table {
                caption { "Absents parmi les rendez-vous passés" }
                thead { tr {
                    th scope="col" { "Semaine du" } th scope="col" { "Rendez-vous passés" }
                    th scope="col" { "Absents" } th scope="col" { "Taux d'absence" }
                } }
                tbody {
                    @for w in &s.weeks {
                        tr {
                            th scope="row" { (w.monday.format("%d/%m/%Y")) }
                            td { (w.attended_or_due) }
                            td { (w.no_shows) }
                            td { @if w.attended_or_due == 0 { "—" } @else { (percent(week_rate(w))) } }
                        }
                    }
                }
            }
        }))

        h2 #titre-delais { "Délai entre la réservation et le rendez-vous" }
        (bar_chart("titre-delais", &leads, None))
        (scroll_table("Délais, tableau", html! {
            table {
                caption { "Rendez-vous selon leur délai de réservation (annulés exclus)" }
                thead { tr { th scope="col" { "Délai" } th scope="col" { "Rendez-vous" } } }
                tbody {
                    @for b in &s.lead_times {
                        tr { th scope="row" { (b.label) } td { (b.count) } }
                    }
                }
            }
        }))
    }
}

/// A site's statistics over a period (its administrators).
#[utoipa::path(get, path = "/agents/lieux/{site_id}/statistiques", tag = "pages", params(("site_id" = String, Path, description = "Lieu"), StatsQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 400, content_type = "text/html", body = String), (status = 403, description = "Réservé aux administrateurs"),
              (status = 404, description = "Lieu inconnu")))]
pub async fn stats_page(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Query(q): Query<StatsQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    let site_id = match params::uuid(&site_id, "site_id") {
        Ok(id) => id,
        Err(e) => return error_page(e),
    };
    let (du, au) = (q.du.as_deref().unwrap_or(""), q.au.as_deref().unwrap_or(""));
    let dates = super::staff_admin::date_range(du, au);
    let (error, (from, to)) = match dates {
        Ok(d) => (None, d),
        // The default period, with the error next to its field.
        Err(e) => (Some(e), (None, None)),
    };
    let (stats, error) = match site_stats::site_stats(&state, &staff.user, site_id, from, to).await {
        Ok(s) => (s, error),
        Err(ServiceError::Malformed { message, .. } | ServiceError::Invalid { message, .. }) => {
            match site_stats::site_stats(&state, &staff.user, site_id, None, None).await {
                Ok(s) => (s, Some(("au", message))),
                Err(e) => return error_page(e.into()),
            }
        }
        Err(e) => return error_page(e.into()),
    };
    let shown_from = if error.is_some() {
        du.to_string()
    } else {
        stats.from.to_string()
    };
    let shown_to = if error.is_some() {
        au.to_string()
    } else {
        stats.to.to_string()
    };
    let body = html! {
        (logout_button(&staff.token))
        p {
            a href={ "/agents/lieux/" (stats.site.id) } { "Retour à la journée" }
            " · "
            a href={ "/agents/lieux/" (stats.site.id) "/export" } { "Exporter les rendez-vous (CSV)" }
        }
        (period_form(stats.site.id, &shown_from, &shown_to, error.as_ref().map(|(f, m)| (*f, m.as_str()))))
        @if error.is_some() {
            (ui::info("Période par défaut affichée ci-dessous."))
        }
        (stats_body(&stats))
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, page(&format!("Statistiques – {}", stats.site.name), body)).into_response()
}
