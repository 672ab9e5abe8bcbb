//! Staff calendar feeds: the subscription file itself (`/agents/flux/{secret}.ics`, no session:
//! calendar applications send none, the secret in the URL is the credential) and the page where
//! the commune's staff read the URLs and renew them.

use super::components as ui;
use super::error_page;
use super::layout::page;
use super::staff::{checked, csrf, logout_button};
use crate::app::AppState;
use crate::domain::french::datetime;
use crate::error::ApiError;
use crate::request::extract::{Path, Query};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::staff_feed::{self, FeedOverview};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

/// The feed as iCalendar text. Unknown, renewed or malformed secrets are all "not found".
#[utoipa::path(get, path = "/agents/flux/{file}", tag = "pages",
    params(("file" = String, Path, description = "Le secret d'abonnement suivi de .ics")),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 404, description = "Lien inconnu ou renouvelé")))]
pub async fn feed_file(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let secret = file.strip_suffix(".ics").unwrap_or("");
    match staff_feed::feed(&state, secret).await {
        Ok(ics) => (
            [
                (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
                // Staff data: never kept by a shared cache.
                (header::CACHE_CONTROL, "private, no-store"),
            ],
            ics,
        )
            .into_response(),
        Err(e) => error_page(e.into()),
    }
}

fn feeds_page(session: &str, o: &FeedOverview, renewed: bool) -> Response {
    let site_id = o.site.id.to_string();
    let action = format!("/agents/lieux/{site_id}/flux");
    let tz = o.site.timezone.parse().unwrap_or(chrono_tz::Europe::Paris);
    let body = html! {
        (logout_button(session))
        p { a href={ "/agents/lieux/" (site_id) } { "Retour à la journée" } }
        @if renewed {
            (ui::success("Adresse renouvelée : l'ancienne ne fonctionne plus."))
        }
        p {
            "Abonnez votre agenda (Outlook, Thunderbird, téléphone) à l'une de ces adresses pour y voir les "
            "rendez-vous, de la semaine passée jusqu'au dernier jour ouvert à la réservation. "
            "Chaque adresse donne accès aux noms et téléphones des usagers : ne la partagez qu'entre agents. "
            "Si elle a circulé, renouvelez-la : l'ancienne cesse aussitôt de fonctionner."
        }
        @for l in &o.links {
            @let (label, station) = match &l.station {
                None => ("Tout le lieu".to_string(), String::new()),
                Some((id, name)) => (format!("Guichet {name}"), id.to_string()),
            };
            section.feed aria-labelledby={ "flux-" (if station.is_empty() { "lieu" } else { &station }) } {
                h2 id={ "flux-" (if station.is_empty() { "lieu" } else { &station }) } { (label) }
                @if let Some(url) = &l.url {
                    p { "Adresse : " code.feed-url { (url) } }
                    @if let Some(at) = l.created_at {
                        p.hint { "Créée le " (datetime(at, tz)) "." }
                    }
                } @else {
                    p { "Pas encore d'adresse." }
                }
                (ui::staff_form(Some(&action), &csrf(session), false, html! {
                    (ui::hidden("station", &station))
                    button type="submit" aria-label={
                        @if l.url.is_some() { "Renouveler l'adresse : " } @else { "Créer l'adresse : " } (label)
                    } {
                        @if l.url.is_some() { "Renouveler" } @else { "Créer l'adresse" }
                    }
                }))
            }
        }
    };
    page(&format!("Agendas à s'abonner – {}", o.site.name), body).into_response()
}

/// Set after a renewal: the page says it was done.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FeedsQuery {
    renouvele: Option<String>,
}

/// The site's subscription URLs, with a button to renew each.
#[utoipa::path(get, path = "/agents/lieux/{site_id}/flux", tag = "pages", params(("site_id" = String, Path, description = "Lieu"), FeedsQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 404, content_type = "text/html", body = String)))]
pub async fn feeds(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Query(q): Query<FeedsQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    let site = match params::uuid(&site_id, "site_id") {
        Ok(s) => s,
        Err(e) => return error_page(e),
    };
    match staff_feed::overview(&state, &staff.user, site).await {
        Ok(o) => feeds_page(&staff.token, &o, q.renouvele.is_some()),
        Err(e) => error_page(e.into()),
    }
}

/// Which feed to renew.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RenewForm {
    #[serde(default)]
    csrf: String,
    /// A station's id; empty for the whole site.
    #[serde(default)]
    station: String,
}

/// Renews a feed's URL (the old one stops at once), then shows the URLs again.
#[utoipa::path(post, path = "/agents/lieux/{site_id}/flux", tag = "pages", params(("site_id" = String, Path, description = "Lieu")),
    request_body(content = RenewForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers la page des adresses, ou vers la connexion"),
              (status = 403, description = "Jeton CSRF invalide"), (status = 404, content_type = "text/html", body = String)))]
pub async fn renew_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Form(f): Form<RenewForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(resp) => return *resp,
    };
    let parsed = (|| -> Result<_, ApiError> {
        let site = params::uuid(&site_id, "site_id")?;
        let station = match f.station.trim() {
            "" => None,
            s => Some(params::uuid(s, "station")?),
        };
        Ok((site, station))
    })();
    let (site, station) = match parsed {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    match staff_feed::renew(&state, &staff.user, site, station).await {
        // Back to the page (a reload does not renew again), which says it was done.
        Ok(_) => Redirect::to(&format!("/agents/lieux/{site}/flux?renouvele=1")).into_response(),
        Err(e) => error_page(e.into()),
    }
}
