//! The counter staff's pages: login, their sites, a site's day by station with check-in, done,
//! no-show and cancel buttons. Every form carries a CSRF token derived from the session.

use super::{error_page, esc, page};
use crate::db::appointments;
use crate::error::ApiError;
use crate::http::client::{client_key, PeerAddr};
use crate::http::extract::{Path, Query};
use crate::http::staff::agenda::visible_site;
use crate::http::staff::{Staff, COOKIE};
use crate::http::{params, AppState};
use crate::staff::{accounts, audit};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{Duration, NaiveTime};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The CSRF token of a session: a hash of the session token, so it needs no storage and a page
/// of another site cannot know it.
fn csrf(session: &str) -> String {
    let d = Sha256::digest(format!("csrf/{session}").as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The login form.
#[utoipa::path(get, path = "/agents/connexion", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn login_page() -> Html<String> {
    login_form(None)
}

fn login_form(error: Option<&str>) -> Html<String> {
    let err = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"err-login\">{}</p>",
                esc(e)
            )
        })
        .unwrap_or_default();
    page(
        "Connexion des agents",
        &format!(
            "{err}<form method=\"post\" action=\"/agents/connexion\"><label for=\"email\">Adresse électronique</label>\
             <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required>\
             <label for=\"password\">Mot de passe</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
             <button type=\"submit\">Se connecter</button></form>"
        ),
    )
}

/// Credentials from the form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginForm {
    email: String,
    password: String,
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
    if state
        .login_limiter
        .check_key(&client_key(&state, &headers, &peer))
        .is_err()
    {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            login_form(Some("Trop de tentatives : patientez une minute.")),
        )
            .into_response();
    }
    let now = state.clock.now();
    match accounts::login(
        &state.pool,
        &f.email,
        &f.password,
        now,
        state.config.staff_session_hours,
    )
    .await
    {
        Ok(accounts::Login::Ok {
            user,
            token,
            expires_at,
        }) => {
            let _ = audit::record(&state.pool, &user, None, "login", None, None, json!({}), now).await;
            let max_age = (expires_at - now).num_seconds().max(0);
            let cookie =
                format!("{COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={max_age}");
            let mut resp = Redirect::to("/agents").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            resp
        }
        Ok(accounts::Login::Locked(_)) => (
            StatusCode::TOO_MANY_REQUESTS,
            login_form(Some("Compte verrouillé quelques minutes après trop d'essais.")),
        )
            .into_response(),
        Ok(accounts::Login::Invalid) => (
            StatusCode::UNAUTHORIZED,
            login_form(Some("Adresse ou mot de passe incorrect.")),
        )
            .into_response(),
        Err(e) => error_page(e.into()),
    }
}

/// The member's sites.
#[utoipa::path(get, path = "/agents", tag = "pages", responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion")))]
pub async fn sites(State(state): State<AppState>, staff: Result<Staff, ApiError>) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    let filter = crate::db::territory::SiteFilter {
        commune: staff.user.commune_insee.clone(),
        ..Default::default()
    };
    let rows = match crate::db::territory::list_sites(&state.pool, &filter).await {
        Ok(r) => r,
        Err(e) => return error_page(e.into()),
    };
    let mut body = String::from("<ul>");
    for s in rows.iter().filter(|s| staff.user.sees(&s.commune_insee)) {
        body.push_str(&format!(
            "<li><a href=\"/agents/lieux/{}\">{} ({})</a></li>",
            s.id,
            esc(&s.name),
            esc(&s.commune_name)
        ));
    }
    body.push_str("</ul>");
    page("Vos lieux", &body).into_response()
}

/// Which day.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DayQuery {
    jour: Option<String>,
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
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    let site = match visible_site(&state, &staff, &site_id).await {
        Ok(s) => s,
        Err(e) => return error_page(e),
    };
    let tz: chrono_tz::Tz = site.timezone.parse().unwrap_or(chrono_tz::Europe::Paris);
    let day = match params::date(q.jour.as_deref(), "jour") {
        Ok(d) => d.unwrap_or_else(|| state.clock.now().with_timezone(&tz).date_naive()),
        Err(e) => return error_page(e),
    };
    let from = crate::domain::tz::resolve_local(tz, day.and_time(NaiveTime::MIN));
    let to = crate::domain::tz::resolve_local(tz, (day + Duration::days(1)).and_time(NaiveTime::MIN));
    let rows: Vec<DayRow> = match sqlx::query_as(
        "SELECT a.id, st.name AS station, lower(a.during) AS start, a.status, a.motif, a.persons, a.last_name, a.first_name
         FROM appointments a JOIN stations st ON st.id = a.station_id
         WHERE a.site_id = $1 AND a.during && tstzrange($2, $3) ORDER BY st.name, lower(a.during)",
    )
    .bind(site.id)
    .bind(from)
    .bind(to)
    .fetch_all(&state.pool)
    .await
    {
        Ok(r) => r,
        Err(e) => return error_page(e.into()),
    };
    let token = csrf(&staff.token);
    let mut body = format!(
        "<p><a href=\"/agents/lieux/{id}?jour={prev}\">Jour précédent</a> · <a href=\"/agents/lieux/{id}?jour={next}\">Jour suivant</a></p>\
         <table><caption>{d}</caption><thead><tr><th scope=\"col\">Poste</th><th scope=\"col\">Heure</th><th scope=\"col\">Usager</th><th scope=\"col\">Motif</th><th scope=\"col\">Statut</th><th scope=\"col\">Actions</th></tr></thead><tbody>",
        id = site.id,
        prev = day - Duration::days(1),
        next = day + Duration::days(1),
        d = esc(&day.format("%d/%m/%Y").to_string())
    );
    for DayRow {
        id,
        station,
        start,
        status,
        motif,
        persons,
        last_name: last,
        first_name: first,
    } in &rows
    {
        let mut actions = String::new();
        let next: &[(&str, &str)] = match status.as_str() {
            "booked" => &[("checked_in", "Arrivé"), ("no_show", "Absent")],
            "checked_in" => &[("done", "Terminé"), ("no_show", "Absent")],
            _ => &[],
        };
        for (value, label) in next {
            actions.push_str(&format!(
                "<form method=\"post\" action=\"/agents/rendez-vous/{id}/statut\" style=\"display:inline\"><input type=\"hidden\" name=\"csrf\" value=\"{token}\">\
                 <input type=\"hidden\" name=\"status\" value=\"{value}\"><input type=\"hidden\" name=\"site\" value=\"{}\"><input type=\"hidden\" name=\"jour\" value=\"{day}\">\
                 <button type=\"submit\" aria-label=\"{label} : {}\">{label}</button></form> ",
                site.id,
                esc(&format!("{first} {last}"))
            ));
        }
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{} ({persons})</td><td>{}</td><td>{actions}</td></tr>",
            esc(station),
            start.with_timezone(&tz).format("%H:%M"),
            esc(first),
            esc(last),
            esc(motif),
            esc(status)
        ));
    }
    body.push_str("</tbody></table>");
    page(&site.name, &body).into_response()
}

/// One line of the day.
#[derive(sqlx::FromRow)]
struct DayRow {
    id: uuid::Uuid,
    station: String,
    start: chrono::DateTime<chrono::Utc>,
    status: String,
    motif: String,
    persons: i16,
    last_name: String,
    first_name: String,
}

/// A status button.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusForm {
    csrf: String,
    status: String,
    site: String,
    jour: String,
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
    if f.csrf != csrf(&staff.token) {
        return error_page(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "Formulaire expiré ou invalide : rechargez la page.",
        ));
    }
    let id = match params::uuid(&id, "appointment_id") {
        Ok(i) => i,
        Err(e) => return error_page(e),
    };
    if !matches!(f.status.as_str(), "checked_in" | "done" | "no_show") {
        return error_page(ApiError::unprocessable("invalid_status", "Statut inconnu."));
    }
    let commune: Option<String> = sqlx::query_scalar(
        "SELECT s.commune_insee FROM appointments a JOIN sites s ON s.id = a.site_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await
    .ok()
    .flatten();
    let Some(commune) = commune.filter(|c| staff.user.sees(c)) else {
        return error_page(ApiError::not_found("appointment_not_found", "Introuvable."));
    };
    let now = state.clock.now();
    match appointments::staff_set_status(&state.pool, id, &f.status, None, now).await {
        Ok(old) => {
            let _ = audit::record(
                &state.pool,
                &staff.user,
                Some(&commune),
                "status_change",
                Some(id),
                None,
                json!({"from": old, "to": f.status}),
                now,
            )
            .await;
            Redirect::to(&format!("/agents/lieux/{}?jour={}", esc(&f.site), esc(&f.jour))).into_response()
        }
        Err(e) => error_page(crate::http::appointments::refusal(e, chrono_tz::Europe::Paris)),
    }
}
