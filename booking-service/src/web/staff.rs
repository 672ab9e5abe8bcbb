//! The counter staff's pages: login, their sites, a site's day by station with check-in, done,
//! no-show and cancel buttons. Every form carries a CSRF token derived from the session.

use super::components::{self as ui, DayLine, DayTable, Input};
use super::error_page;
use super::page;
use crate::app::AppState;
use crate::error::ApiError;
use crate::request::client::{client_key, PeerAddr};
use crate::request::extract::{Path, Query};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::staff_appointments::{self, StatusChange};
use crate::service::staff_sessions;
use crate::service::ServiceError;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{Duration, NaiveDate};
use maud::{html, Markup};
use serde::Deserialize;

/// A site the member may see, from a path segment.
async fn visible_site(
    state: &AppState,
    staff: &Staff,
    raw: &str,
) -> Result<crate::db::territory::SiteRow, ApiError> {
    let id = params::uuid(raw, "site_id")?;
    Ok(crate::service::staff_access::visible_site(state, &staff.user, id).await?)
}

/// The CSRF token of a session (see [`crate::request::staff_session::csrf_token`]).
pub(super) fn csrf(session: &str) -> String {
    crate::request::staff_session::csrf_token(session)
}

/// Whether a form's CSRF field is the session's, compared in constant time (a comparison that
/// stops at the first difference would tell, byte by byte, how much of a guess is right).
fn csrf_ok(session: &str, field: &str) -> bool {
    let expected = csrf(session);
    expected.len() == field.len()
        && expected
            .bytes()
            .zip(field.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// What every logged-in staff page carries: the way home, the search, the member's account (the
/// link to change the password) and the logout button.
pub(super) fn logout_button(session: &str) -> Markup {
    html! {
        nav.staff-nav aria-label="Navigation des agents" {
            a href="/agents" { "Accueil agents" }
            a href="/agents/recherche" { "Rechercher un rendez-vous" }
            a href="/agents/mot-de-passe" { "Changer de mot de passe" }
            (ui::staff_form(
                Some("/agents/deconnexion"),
                &csrf(session),
                true,
                html! { button type="submit" class="secondary" { "Se déconnecter" } },
            ))
        }
    }
}

/// The pages of one site, as (label, path after `/agents/lieux/{id}`, administrators only).
pub const SITE_PAGES: [(&str, &str, bool); 11] = [
    ("Journée", "", false),
    ("Semaine", "/semaine", false),
    ("Rendez-vous au guichet ou par téléphone", "/guichet", false),
    ("Liste imprimable du jour", "/imprimer", false),
    (
        "Abonnement d'agenda (Outlook, Thunderbird, téléphone)",
        "/flux",
        false,
    ),
    ("Horaires d'ouverture", "/horaires", true),
    ("Fermetures", "/fermetures", true),
    (
        "Règles de réservation et ouvertures de créneaux",
        "/politique",
        true,
    ),
    ("Postes et motifs", "/reglages", true),
    ("Statistiques", "/statistiques", true),
    ("Export des rendez-vous (CSV)", "/export", false),
];

/// The platform administrators' pages, as (label, path).
pub const PLATFORM_PAGES: [(&str, &str); 1] = [(
    "Lieux de la plateforme et ouverture d'un lieu",
    "/agents/plateforme/lieux",
)];

/// The commune's pages, as (label, path, administrators only).
pub const COMMUNE_PAGES: [(&str, &str, bool); 4] = [
    ("Rechercher un rendez-vous", "/agents/recherche", false),
    ("Comptes des agents", "/agents/comptes", true),
    ("Journal des actions", "/agents/journal", true),
    ("Courriels en échec", "/agents/courriels-en-echec", true),
];

/// The logout form's field.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// Ends the session (server side, then the cookie) and goes back to the login page.
#[utoipa::path(post, path = "/agents/deconnexion", tag = "pages", request_body(content = LogoutForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers la connexion"), (status = 403, description = "Jeton CSRF invalide")))]
pub async fn logout_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Form(f): Form<LogoutForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(resp) => return *resp,
    };
    if let Err(e) = staff_sessions::logout(&state, &staff.user, &staff.token).await {
        return error_page(e.into());
    }
    let mut resp = Redirect::to("/agents/connexion").into_response();
    if let Ok(v) = HeaderValue::from_str(&staff_sessions::cleared_cookie(&state)) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// What the login page was sent here after.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LoginQuery {
    /// Set after a password was reset from an emailed link: the page says it worked.
    #[serde(rename = "nouveau-mot-de-passe")]
    new_password: Option<String>,
}

/// The login form.
#[utoipa::path(get, path = "/agents/connexion", tag = "pages", params(LoginQuery),
    responses((status = 200, content_type = "text/html", body = String)))]
pub async fn login_page(Query(q): Query<LoginQuery>) -> Response {
    let notice = q
        .new_password
        .is_some()
        .then_some("Mot de passe enregistré : connectez-vous avec le nouveau.");
    login_page_full(StatusCode::OK, None, notice)
}

/// Name of the login form's anti-forgery cookie (double submit: the same random value in a
/// cookie that only this site can set and in the form's field; another site can post the form
/// but cannot know the value).
const LOGIN_CSRF_COOKIE: &str = "rdv_login_csrf";

/// The login page with a fresh anti-forgery value, in the form and in its cookie.
fn login_page_with(status: StatusCode, error: Option<&str>) -> Response {
    login_page_full(status, error, None)
}

/// The login page, with an error or a notice of what just worked.
fn login_page_full(status: StatusCode, error: Option<&str>, notice: Option<&str>) -> Response {
    let (value, _) = crate::tokens::new_token();
    let mut resp = (status, login_form(error, notice, &value)).into_response();
    let cookie =
        format!("{LOGIN_CSRF_COOKIE}={value}; HttpOnly; Secure; SameSite=Strict; Path=/agents; Max-Age=3600");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// Whether the login form's field matches its cookie (constant time).
fn login_csrf_ok(headers: &HeaderMap, field: &str) -> bool {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == LOGIN_CSRF_COOKIE).then(|| v.to_string())
        });
    cookie.is_some_and(|c| {
        !c.is_empty()
            && c.len() == field.len()
            && c.bytes()
                .zip(field.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    })
}

fn login_form(error: Option<&str>, notice: Option<&str>, csrf_value: &str) -> Markup {
    let body = html! {
        @if let Some(notice) = notice {
            (ui::success(notice))
        }
        (ui::field_error("err-login", error))
        form method="post" action="/agents/connexion" {
            (ui::hidden("csrf", csrf_value))
            (Input {
                id: "email",
                name: "email",
                label: "Adresse électronique",
                kind: Some("email"),
                autocomplete: Some("username"),
                required: true,
                ..Input::default()
            })
            (Input {
                id: "password",
                name: "password",
                label: "Mot de passe",
                kind: Some("password"),
                autocomplete: Some("current-password"),
                required: true,
                ..Input::default()
            })
            button type="submit" { "Se connecter" }
        }
        p { a href="/agents/mot-de-passe-oublie" { "Mot de passe oublié ?" } }
    };
    page("Connexion des agents", body)
}

/// Credentials from the form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

/// Logs in and sets the session cookie.
#[utoipa::path(post, path = "/agents/connexion", tag = "pages", request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers les lieux"), (status = 401, content_type = "text/html", body = String)))]
pub async fn login_post(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if !login_csrf_ok(&headers, &f.csrf) {
        return login_page_with(
            StatusCode::FORBIDDEN,
            Some("Formulaire expiré ou venu d'ailleurs : saisissez à nouveau vos identifiants."),
        );
    }
    let client = client_key(&state, &headers, &peer);
    match staff_sessions::login(&state, &client, &f.email, &f.password).await {
        Ok(done) => {
            let cookie = staff_sessions::session_cookie(&state, &done.token, done.expires_at);
            let mut resp = Redirect::to("/agents").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            resp
        }
        Err(ServiceError::TooManyAttempts { .. }) => login_page_with(
            StatusCode::TOO_MANY_REQUESTS,
            Some("Trop de tentatives : patientez une minute."),
        ),
        Err(ServiceError::BadCredentials) => login_page_with(
            StatusCode::UNAUTHORIZED,
            Some("Adresse ou mot de passe incorrect. Après 5 essais, patientez 15 minutes."),
        ),
        Err(e @ ServiceError::Invalid { .. }) => {
            let message = ApiError::from(e).message;
            login_page_with(StatusCode::UNPROCESSABLE_ENTITY, Some(&message))
        }
        Err(e) => error_page(e.into()),
    }
}

/// The staff home: every page the member may use, per site and for the commune.
#[utoipa::path(get, path = "/agents", tag = "pages", responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion")))]
pub async fn sites(State(state): State<AppState>, staff: Result<Staff, ApiError>) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    let rows = match crate::service::agenda::sites(&state, &staff.user).await {
        Ok(r) => r,
        Err(e) => return error_page(e.into()),
    };
    let admin = staff.user.is_admin();
    let body = html! {
        (logout_button(&staff.token))
        p { "Bonjour " (staff.user.display_name) "." }
        h2 { "Vos lieux" }
        @if rows.is_empty() {
            p { "Aucun lieu de rendez-vous pour votre commune." }
        }
        @for s in &rows {
            section aria-labelledby={ "lieu-" (s.id) } {
                h3 id={ "lieu-" (s.id) } { (s.name) " (" (s.commune_name) ")" }
                ul.links {
                    @for (label, tail, admin_only) in SITE_PAGES {
                        @if !admin_only || staff.user.administers(&s.commune_insee) {
                            li { a href={ "/agents/lieux/" (s.id) (tail) } { (label) } }
                        }
                    }
                }
            }
        }
        h2 { "Votre commune" }
        ul.links {
            @for (label, path, admin_only) in COMMUNE_PAGES {
                @if !admin_only || admin {
                    li { a href=(path) { (label) } }
                }
            }
        }
        @if staff.user.role == crate::staff::Role::PlatformAdmin {
            h2 { "Plateforme" }
            ul.links {
                @for (label, path) in PLATFORM_PAGES {
                    li { a href=(path) { (label) } }
                }
                // The registry's pages, served by the registry behind the same gateway.
                li { a href="/registre" { "Registre des téléservices : catalogue, populations, coûts, bons de commande, répartition" } }
            }
        }
    };
    page("Accueil agents", body).into_response()
}

/// Which day.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DayQuery {
    jour: Option<String>,
}

/// The member and the site's day a page shows (the day page and its printable list): the login
/// page without a session, an error page for a bad site or day.
async fn day_sheet(
    state: &AppState,
    staff: Result<Staff, ApiError>,
    site_id: &str,
    q: &DayQuery,
) -> Result<(Staff, crate::service::agenda::DaySheet), Box<Response>> {
    let Ok(staff) = staff else {
        return Err(Box::new(Redirect::to("/agents/connexion").into_response()));
    };
    let date = params::date(q.jour.as_deref(), "jour").map_err(|e| Box::new(error_page(e)))?;
    let site = params::uuid(site_id, "site_id").map_err(|e| Box::new(error_page(e)))?;
    let sheet = crate::service::agenda::day_sheet(state, &staff.user, site, date)
        .await
        .map_err(|e| Box::new(error_page(e.into())))?;
    Ok((staff, sheet))
}

/// A site's day by station, with the status buttons.
#[utoipa::path(get, path = "/agents/lieux/{site_id}", tag = "pages", params(("site_id" = String, Path, description = "Lieu"), DayQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"), (status = 404, description = "Lieu inconnu")))]
pub async fn day(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Query(q): Query<DayQuery>,
) -> Response {
    let (staff, sheet) = match day_sheet(&state, staff, &site_id, &q).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let (site, day, tz) = (&sheet.site, sheet.day, sheet.agenda.tz);
    // The grid's columns: the working stations, then any other one that still has appointments.
    let mut columns: Vec<&str> = sheet.stations.iter().map(|s| s.name.as_str()).collect();
    for e in &sheet.agenda.entries {
        if !columns.contains(&e.station_name.as_str()) {
            columns.push(&e.station_name);
        }
    }
    // By station, then time, as the counter reads its day.
    let mut rows: Vec<&crate::db::agenda::EntryRow> = sheet.agenda.entries.iter().collect();
    rows.sort_by(|a, b| (&a.station_name, a.start_utc).cmp(&(&b.station_name, b.start_utc)));
    let token = csrf(&staff.token);
    let lines: Vec<DayLine> = rows
        .iter()
        .map(|r| DayLine {
            id: r.id,
            station: &r.station_name,
            time: r.start_utc.with_timezone(&tz).format("%H:%M").to_string(),
            first_name: &r.first_name,
            last_name: &r.last_name,
            motif: &r.motif,
            persons: r.persons,
            status: r.status,
        })
        .collect();
    let table = DayTable {
        caption: day.format("%d/%m/%Y").to_string(),
        csrf: &token,
        site_id: site.id,
        day,
    };
    let station_options = html! {
        @for st in &sheet.stations {
            option value=(st.id) { (st.name) }
        }
    };
    let day_link = |d: NaiveDate| format!("/agents/lieux/{}?jour={d}", site.id);
    let action = |what: &str| format!("/agents/lieux/{}/{what}", site.id);
    let body = html! {
        (logout_button(&staff.token))
        p {
            a href=(day_link(day - Duration::days(1))) { "Jour précédent" }
            " · "
            a href=(day_link(day + Duration::days(1))) { "Jour suivant" }
            " · "
            a href={ "/agents/lieux/" (site.id) "/semaine?debut=" (day) } { "Semaine" }
            " · "
            a href={ "/agents/lieux/" (site.id) "/imprimer?jour=" (day) } { "Liste imprimable" }
            " · "
            a href={ "/agents/lieux/" (site.id) "/guichet?jour=" (day) } { "Rendez-vous au guichet" }
        }
        @if lines.is_empty() {
            p { "Aucun rendez-vous ce jour." }
        } @else {
            // The list first: phones (and the keyboard order) read it; desktops see the grid.
            div.day-list { (ui::day_table(&table, &lines)) }
            div.day-grid-wrap { (ui::day_grid(&table, &columns, &lines)) }
        }
        h2 { "Fermeture" }
        (ui::staff_form(Some(&action("fermeture")), &token, false, html! {
            label for="f-poste" { "Poste" }
            select #f-poste name="station" {
                option value="" { "Tout le lieu" }
                (station_options)
            }
            (period("f"))
            (Input { id: "f-motif", name: "motif", label: "Motif", required: true, ..Input::default() })
            button type="submit" class="secondary" { "Voir les rendez-vous concernés" }
        }))
        h2 { "Poste en panne" }
        (ui::staff_form(Some(&action("panne")), &token, false, html! {
            label for="p-poste" { "Poste" }
            select #p-poste name="station" { (station_options) }
            (period("p"))
            (Input {
                id: "p-motif",
                name: "motif",
                label: "Motif (envoyé aux usagers dont le rendez-vous est annulé)",
                required: true,
                ..Input::default()
            })
            button type="submit" class="secondary" { "Déclarer la panne" }
        }))
    };
    page(&site.name, body).into_response()
}

/// The day's list to print for the counter: who comes when, at which station, with what they
/// must bring (cancelled appointments left out).
#[utoipa::path(get, path = "/agents/lieux/{site_id}/imprimer", tag = "pages", params(("site_id" = String, Path, description = "Lieu"), DayQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"), (status = 404, description = "Lieu inconnu")))]
pub async fn print_day(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Query(q): Query<DayQuery>,
) -> Response {
    let (staff, sheet) = match day_sheet(&state, staff, &site_id, &q).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let tz = sheet.agenda.tz;
    let rows: Vec<&crate::db::agenda::EntryRow> = sheet
        .agenda
        .entries
        .iter()
        .filter(|e| e.status != crate::domain::status::AppointmentStatus::Cancelled)
        .collect();
    let title = format!(
        "{} – {}",
        sheet.site.name,
        crate::domain::french::date_label(sheet.day)
    );
    let body = html! {
        div.no-print {
            (logout_button(&staff.token))
            p.hint { "Pour imprimer : commande Imprimer du navigateur (Ctrl+P). Les menus et boutons ne sont pas imprimés." }
            p { a href={ "/agents/lieux/" (sheet.site.id) "?jour=" (sheet.day) } { "Retour à la journée" } }
        }
        @if rows.is_empty() {
            p { "Aucun rendez-vous ce jour." }
        } @else {
            table.wide {
                caption { (rows.len()) " rendez-vous" }
                thead {
                    tr {
                        th scope="col" { "Heure" }
                        th scope="col" { "Poste" }
                        th scope="col" { "Usager" }
                        th scope="col" { "Motif" }
                        th scope="col" { "Numéros de pré-demande" }
                        th scope="col" { "À apporter" }
                        th scope="col" { "Statut" }
                    }
                }
                tbody {
                    @for r in &rows {
                        tr {
                            td { (r.start_utc.with_timezone(&tz).format("%H:%M")) }
                            td { (r.station_name) }
                            td {
                                (r.first_name) " " (r.last_name)
                                @if let Some(phone) = &r.phone { br; (phone) }
                            }
                            td { (ui::motif_label(&r.motif)) ", " (ui::persons(r.persons)) }
                            td { (r.pre_demande_numbers.join(", ")) }
                            td {
                                ul { @for item in sheet.to_bring(&r.motif) { li { (item) } } }
                            }
                            td { (r.status.label_fr()) }
                        }
                    }
                }
            }
        }
    };
    page(&title, body).into_response()
}

/// The start and end fields of a closure or a breakdown (`prefix` keeps the ids apart).
fn period(prefix: &str) -> Markup {
    let (start, end) = (format!("{prefix}-debut"), format!("{prefix}-fin"));
    html! {
        (Input { id: &start, name: "debut", label: "Début", kind: Some("datetime-local"), required: true, ..Input::default() })
        (Input { id: &end, name: "fin", label: "Fin", kind: Some("datetime-local"), required: true, ..Input::default() })
    }
}

/// A local `YYYY-MM-DDTHH:MM` (a `datetime-local` field) as an RFC 3339 instant at the site.
pub(super) fn local_input(raw: &str, tz: chrono_tz::Tz, field: &'static str) -> Result<String, ApiError> {
    chrono::NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M")
        .map(|t| crate::domain::tz::resolve_local(tz, t).to_rfc3339())
        .map_err(|_| ApiError::unprocessable("invalid_date", "Date et heure invalides.").with_field(field))
}

/// Loads the member and checks the form's CSRF token.
pub(super) fn checked(staff: Result<Staff, ApiError>, csrf_field: &str) -> Result<Staff, Box<Response>> {
    let Ok(staff) = staff else {
        return Err(Box::new(Redirect::to("/agents/connexion").into_response()));
    };
    if !csrf_ok(&staff.token, csrf_field) {
        return Err(Box::new(error_page(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "Formulaire expiré ou invalide : rechargez la page.",
        ))));
    }
    Ok(staff)
}

/// Back to a site's day. Both come from the form: only a well-formed id and date go into the
/// `Location` header (anything else, even a line break, would not be a valid header).
fn back_to_day(site: &str, day: &str) -> Response {
    match (
        uuid::Uuid::parse_str(site.trim()),
        chrono::NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d"),
    ) {
        (Ok(site), Ok(day)) => Redirect::to(&format!("/agents/lieux/{site}?jour={day}")).into_response(),
        (Ok(site), Err(_)) => Redirect::to(&format!("/agents/lieux/{site}")).into_response(),
        _ => Redirect::to("/agents").into_response(),
    }
}

/// A staff form's common checks: logged in, CSRF token, a site the member may see; and its time zone.
async fn form_site(
    state: &AppState,
    staff: Result<Staff, ApiError>,
    csrf_field: &str,
    site_id: &str,
) -> Result<(Staff, crate::db::territory::SiteRow, chrono_tz::Tz), Box<Response>> {
    let staff = checked(staff, csrf_field)?;
    let site = visible_site(state, &staff, site_id)
        .await
        .map_err(|e| Box::new(error_page(e)))?;
    let tz = site.timezone.parse().unwrap_or(chrono_tz::Europe::Paris);
    Ok((staff, site, tz))
}

/// The closure form (previewed, then confirmed).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ClosureForm {
    csrf: String,
    #[serde(default)]
    station: String,
    debut: String,
    fin: String,
    motif: String,
    confirmer: Option<String>,
}

/// Previews a closure (the appointments it would hit), then applies it on confirmation.
#[utoipa::path(post, path = "/agents/lieux/{site_id}/fermeture", tag = "pages", params(("site_id" = String, Path, description = "Lieu")),
    request_body(content = ClosureForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", body = String), (status = 403, description = "Réservé aux administrateurs")))]
pub async fn closure_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Form(f): Form<ClosureForm>,
) -> Response {
    let (staff, site, tz) = match form_site(&state, staff, &f.csrf, &site_id).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let (start, end) = match (local_input(&f.debut, tz, "debut"), local_input(&f.fin, tz, "fin")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error_page(e),
    };
    let station = if f.station.is_empty() {
        None
    } else {
        uuid::Uuid::parse_str(&f.station).ok()
    };
    let confirm = f.confirmer.is_some();
    let input = match (
        params::uuid(&site_id, "site_id"),
        params::instant(&start, "debut"),
        params::instant(&end, "fin"),
    ) {
        (Ok(site), Ok(start), Ok(end)) => (
            site,
            crate::service::calendar_admin::ClosureInput {
                station_id: station,
                start,
                end,
                reason: f.motif.clone(),
                confirm,
            },
        ),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return error_page(e),
    };
    let out = match crate::service::calendar_admin::close(&state, &staff.user, input.0, &input.1).await {
        Ok(o) => o,
        Err(e) => return error_page(e.into()),
    };
    let body = html! {
        @if out.applied {
            (ui::success("Fermeture enregistrée."))
        }
        p {
            (out.hits.len()) " rendez-vous pris pendant cette fermeture"
            @if out.applied { " sont maintenus : prévenez ces usagers ou annulez-les" }
            "."
        }
        @if !out.hits.is_empty() {
            ul {
                @for h in &out.hits {
                    li { (h.start.with_timezone(&tz).format("%d/%m %H:%M")) " – " (h.last_name) " (" (h.reference) ")" }
                }
            }
        }
        @if !out.applied {
            // Posted back to this address with the same fields, confirmed.
            (ui::staff_form(None, &f.csrf, false, html! {
                (ui::hidden("station", &f.station))
                (ui::hidden("debut", &f.debut))
                (ui::hidden("fin", &f.fin))
                (ui::hidden("motif", &f.motif))
                (ui::hidden("confirmer", "1"))
                button type="submit" { "Confirmer la fermeture" }
            }))
        }
        p { a href={ "/agents/lieux/" (site.id) } { "Retour à la journée" } }
    };
    let title = if out.applied {
        "Fermeture enregistrée"
    } else {
        "Fermeture : aperçu"
    };
    page(title, body).into_response()
}

/// The breakdown form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BreakdownForm {
    csrf: String,
    station: String,
    debut: String,
    fin: String,
    motif: String,
}

/// Declares a broken station and shows who was moved and who was cancelled.
#[utoipa::path(post, path = "/agents/lieux/{site_id}/panne", tag = "pages", params(("site_id" = String, Path, description = "Lieu")),
    request_body(content = BreakdownForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", body = String)))]
pub async fn breakdown_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Form(f): Form<BreakdownForm>,
) -> Response {
    let (staff, site, tz) = match form_site(&state, staff, &f.csrf, &site_id).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let (start, end) = match (local_input(&f.debut, tz, "debut"), local_input(&f.fin, tz, "fin")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error_page(e),
    };
    let (station, input) = match (
        params::uuid(&f.station, "station_id"),
        params::instant(&start, "debut"),
        params::instant(&end, "fin"),
    ) {
        (Ok(station), Ok(start), Ok(end)) => (
            station,
            crate::service::calendar_admin::BreakdownInput {
                start,
                end,
                reason: f.motif.clone(),
            },
        ),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return error_page(e),
    };
    match crate::service::calendar_admin::declare_breakdown(&state, &staff.user, station, &input).await {
        Ok(r) => {
            let body = html! {
                (ui::success(html! {
                    (r.moved.len()) " rendez-vous déplacés sur un autre poste au même horaire, "
                    (r.cancelled.len()) " annulés avec vos excuses et un lien pour reprendre rendez-vous."
                }))
                p { a href={ "/agents/lieux/" (site.id) } { "Retour à la journée" } }
            };
            page("Panne déclarée", body).into_response()
        }
        Err(e) => error_page(e.into()),
    }
}

/// A status button.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusForm {
    csrf: String,
    status: String,
    site: String,
    jour: String,
    /// Required to cancel: told to the citizen.
    reason: Option<String>,
}

/// Applies a status button (checked CSRF token), then back to the day.
#[utoipa::path(post, path = "/agents/rendez-vous/{appointment_id}/statut", tag = "pages", params(("appointment_id" = String, Path, description = "Rendez-vous")),
    request_body(content = StatusForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Retour à la journée"), (status = 403, description = "Jeton CSRF invalide")))]
pub async fn set_status(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    if !csrf_ok(&staff.token, &f.csrf) {
        return error_page(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "Formulaire expiré ou invalide : rechargez la page.",
        ));
    }
    let appointment = match params::uuid(&id, "appointment_id") {
        Ok(i) => i,
        Err(e) => return error_page(e),
    };
    let change = StatusChange {
        appointment,
        status: f.status.clone(),
        reason: f.reason.clone(),
    };
    match staff_appointments::set_status(&state, &staff.user, &change).await {
        Ok(_) => back_to_day(&f.site, &f.jour),
        Err(e) => error_page(e.into()),
    }
}
