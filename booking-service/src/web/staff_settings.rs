//! A commune administrator's settings of a site, beyond the opening hours: closures (listed,
//! added after a preview, ended early, removed), the booking policy and the release events,
//! stations (added, renamed, turned on or off) and the motif settings (minutes per person,
//! maximum persons, what to bring). Each form calls the [`calendar_admin`] function its API
//! route calls; an error is shown next to its field, with what was typed.

use super::components::{self as ui, Input};
use super::error_page;
use super::layout::page;
use super::staff::{checked, csrf, local_input, logout_button};
use super::staff_hours::{date_fr, hits_table, site_links, tz_of};
use crate::app::AppState;
use crate::domain::motif::Motif;
use crate::error::ApiError;
use crate::request::extract::{Path, Query};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::calendar_admin::{self, AdminView, ClosureInput, MotifInput, PolicyInput, StationChange};
use crate::service::ServiceError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

/// A form that was refused: which one, the field at fault (`None`: the form as a whole), the
/// message, and what was typed (shown again).
#[derive(Debug, Default)]
struct Problem {
    form: String,
    field: Option<String>,
    message: String,
    typed: HashMap<String, String>,
}

impl Problem {
    /// The refusal of `form`, its field renamed from the service's name to the form's.
    fn from_service(
        form: &str,
        e: ServiceError,
        typed: HashMap<String, String>,
        rename: &[(&str, &str)],
    ) -> Result<Self, ApiError> {
        match e {
            ServiceError::Invalid { field, message, .. } | ServiceError::Malformed { field, message, .. } => {
                Ok(Self {
                    form: form.to_string(),
                    field: field.map(|f| {
                        rename
                            .iter()
                            .find(|(from, _)| *from == f)
                            .map_or(f, |(_, to)| to)
                            .to_string()
                    }),
                    message,
                    typed,
                })
            }
            other => Err(other.into()),
        }
    }

    /// The refusal of one field of `form`, found by the page (a value it could not read).
    fn field(form: &str, field: &str, message: impl Into<String>, typed: HashMap<String, String>) -> Self {
        Self {
            form: form.to_string(),
            field: Some(field.to_string()),
            message: message.into(),
            typed,
        }
    }
}

/// The forms of a page as rendered: each field's value and error, from the refusal if any.
struct Forms<'a> {
    problem: Option<&'a Problem>,
}

impl<'a> Forms<'a> {
    fn error(&self, form: &str, field: Option<&str>) -> Option<&'a str> {
        self.problem
            .filter(|p| p.form == form && p.field.as_deref() == field)
            .map(|p| p.message.as_str())
    }

    /// The value typed in `form`'s `field`, or `default` when that form was not the one refused.
    fn value(&self, form: &str, field: &str, default: String) -> String {
        match self.problem.filter(|p| p.form == form) {
            Some(p) => p.typed.get(field).cloned().unwrap_or_default(),
            None => default,
        }
    }

    /// A labelled field of `form`, its error next to it.
    fn input(
        &self,
        form: &str,
        field: &str,
        label: &str,
        kind: &str,
        default: String,
        required: bool,
    ) -> Markup {
        let id = format!("{form}-{field}");
        let err_id = format!("err-{id}");
        let error = self.error(form, Some(field));
        let value = self.value(form, field, default);
        html! {
            (ui::field_error(&err_id, error))
            (Input {
                id: &id,
                name: field,
                label,
                kind: Some(kind),
                value: Some(&value),
                required,
                error_id: error.map(|_| err_id.as_str()),
                ..Input::default()
            })
        }
    }

    /// The error of `form` as a whole (not tied to one of its fields).
    fn form_error(&self, form: &str) -> Markup {
        let known = |p: &&Problem| p.field.is_none();
        match self.problem.filter(|p| p.form == form).filter(known) {
            Some(p) => ui::error(&p.message),
            None => html! {},
        }
    }
}

/// What the member is told after a change that went through (a fixed list: nothing typed is echoed).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DoneQuery {
    fait: Option<String>,
}

fn done_notice(q: &DoneQuery) -> Markup {
    let text = match q.fait.as_deref() {
        Some("fermeture-avancee") => "Fin de la fermeture avancée : ses horaires sont de nouveau proposés.",
        Some("fermeture-supprimee") => "Fermeture supprimée : ses horaires sont de nouveau proposés.",
        Some("politique") => "Règles de réservation enregistrées.",
        Some("ouverture") => "Ouverture de créneaux programmée.",
        Some("poste-ajoute") => "Poste ajouté. Donnez-lui ses horaires d'ouverture pour qu'il soit proposé.",
        Some("poste") => "Poste enregistré.",
        Some("motif") => "Réglages du motif enregistrés.",
        _ => return html! {},
    };
    ui::success(text)
}

/// "mercredi 2 décembre 2026 à 08:00".
fn when(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    crate::domain::french::datetime(at, tz)
}

/// Loads what the page shows, or the page's error (a 403 page for an agent).
async fn view(state: &AppState, staff: &Staff, site_id: &str) -> Result<AdminView, Box<Response>> {
    let site = params::uuid(site_id, "site_id").map_err(|e| Box::new(error_page(e)))?;
    calendar_admin::admin_view(state, &staff.user, site)
        .await
        .map_err(|e| Box::new(error_page(e.into())))
}

/// The page again with the refused form's error next to its field (422).
async fn refused(
    state: &AppState,
    staff: &Staff,
    site_id: &str,
    problem: &Problem,
    render: fn(&AdminView, &str, &Forms, &DoneQuery) -> Markup,
) -> Response {
    match view(state, staff, site_id).await {
        Ok(v) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            render(
                &v,
                &staff.token,
                &Forms {
                    problem: Some(problem),
                },
                &DoneQuery { fait: None },
            ),
        )
            .into_response(),
        Err(r) => *r,
    }
}

fn back_to(site: Uuid, page: &str, done: &str) -> Response {
    Redirect::to(&format!("/agents/lieux/{site}/{page}?fait={done}")).into_response()
}

/// The form's fields as typed, for showing them again.
fn typed(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ----- Closures -----

fn closures_page(v: &AdminView, session: &str, forms: &Forms, q: &DoneQuery) -> Markup {
    let token = csrf(session);
    let tz = v.tz;
    let station_name = |id: Option<Uuid>| match id {
        None => "Tout le lieu".to_string(),
        Some(id) => v
            .calendar
            .stations
            .iter()
            .find(|s| s.id == id)
            .map_or_else(|| "Poste".to_string(), |s| s.name.clone()),
    };
    let site = v.site.id;
    let typed_station = forms.value("ajout", "station", String::new());
    let body = html! {
        (logout_button(session))
        (site_links(site))
        (done_notice(q))
        h2 { "Fermetures en cours et à venir" }
        @if v.calendar.closures.is_empty() {
            p { "Aucune fermeture en cours ni à venir." }
        } @else {
            // One block per closure rather than a table row: its two forms fit a phone's width.
            ul.closures {
                @for (n, c) in v.calendar.closures.iter().enumerate() {
                    @let what = format!("{} du {}", station_name(c.station_id), when(c.start, tz));
                    @let field_id = format!("fin-{n}");
                    @let err_id = format!("err-fin-{n}");
                    @let error = forms.problem.filter(|p| p.form == format!("fin-{}", c.id)).map(|p| p.message.as_str());
                    li {
                        h3 { (station_name(c.station_id)) " : " (c.reason) }
                        p {
                            "Du " (when(c.start, tz)) " au " (when(c.end, tz))
                            @if c.start <= v.now { " (en cours)" }
                        }
                        (ui::staff_form(Some(&format!("/agents/lieux/{site}/fermetures/{}/fin", c.id)), &token, false, html! {
                            (ui::field_error(&err_id, error))
                            label for=(field_id) { "Nouvelle fin (vide : maintenant)" }
                            input id=(field_id) name="fin" type="datetime-local"
                                aria-describedby=[error.map(|_| err_id.clone())] aria-invalid=[error.map(|_| "true")];
                            button type="submit" class="secondary" aria-label={ "Avancer la fin : " (what) } { "Avancer la fin" }
                        }))
                        (ui::staff_form(Some(&format!("/agents/lieux/{site}/fermetures/{}/supprimer", c.id)), &token, false, html! {
                            button type="submit" class="secondary" aria-label={ "Supprimer : " (what) } { "Supprimer" }
                        }))
                    }
                }
            }
        }
        h2 { "Ajouter une fermeture" }
        (ui::staff_form(Some(&format!("/agents/lieux/{site}/fermetures")), &token, false, html! {
            (forms.form_error("ajout"))
            label for="ajout-station" { "Poste" }
            select #ajout-station name="station" {
                option value="" { "Tout le lieu" }
                @for st in &v.calendar.stations {
                    option value=(st.id) selected[typed_station == st.id.to_string()] { (st.name) }
                }
            }
            (forms.input("ajout", "debut", "Début", "datetime-local", String::new(), true))
            (forms.input("ajout", "fin", "Fin", "datetime-local", String::new(), true))
            (forms.input("ajout", "motif", "Motif", "text", String::new(), true))
            button type="submit" { "Voir les rendez-vous concernés" }
        }))
    };
    page(&format!("Fermetures – {}", v.site.name), body)
}

/// The closures of a site, current and to come, with their actions, and the form to add one.
#[utoipa::path(get, path = "/agents/lieux/{site_id}/fermetures", tag = "pages", params(("site_id" = String, Path, description = "Lieu"), DoneQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs"), (status = 404, description = "Lieu inconnu")))]
pub async fn closures_get(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    match view(&state, &staff, &site_id).await {
        Ok(v) => closures_page(&v, &staff.token, &Forms { problem: None }, &q).into_response(),
        Err(r) => *r,
    }
}

/// A new closure (previewed, then confirmed).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewClosureForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    station: String,
    #[serde(default)]
    debut: String,
    #[serde(default)]
    fin: String,
    #[serde(default)]
    motif: String,
    confirmer: Option<String>,
}

/// Previews a closure (the appointments inside it), then, confirmed, adds it.
#[utoipa::path(post, path = "/agents/lieux/{site_id}/fermetures", tag = "pages", params(("site_id" = String, Path, description = "Lieu")),
    request_body(content = NewClosureForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", body = String), (status = 403, description = "Réservé aux administrateurs"),
              (status = 422, content_type = "text/html", body = String)))]
pub async fn closure_add_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Form(f): Form<NewClosureForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let v = match view(&state, &staff, &site_id).await {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let typed = typed(&[
        ("station", &f.station),
        ("debut", &f.debut),
        ("fin", &f.fin),
        ("motif", &f.motif),
    ]);
    let bad = |field: &str, message: &str| Problem::field("ajout", field, message, typed.clone());
    let start = local_input(&f.debut, v.tz, "debut").and_then(|s| params::instant(&s, "debut"));
    let end = local_input(&f.fin, v.tz, "fin").and_then(|s| params::instant(&s, "fin"));
    let (start, end) = match (start, end) {
        (Err(_), _) => {
            return refused(
                &state,
                &staff,
                &site_id,
                &bad("debut", "Date et heure de début invalides."),
                closures_page,
            )
            .await
        }
        (_, Err(_)) => {
            return refused(
                &state,
                &staff,
                &site_id,
                &bad("fin", "Date et heure de fin invalides."),
                closures_page,
            )
            .await
        }
        (Ok(a), Ok(b)) => (a, b),
    };
    if f.motif.trim().is_empty() {
        return refused(
            &state,
            &staff,
            &site_id,
            &bad("motif", "Indiquez le motif de la fermeture."),
            closures_page,
        )
        .await;
    }
    let station = match f.station.trim() {
        "" => None,
        s => match params::uuid(s, "station") {
            Ok(id) => Some(id),
            Err(e) => return error_page(e),
        },
    };
    let input = ClosureInput {
        station_id: station,
        start,
        end,
        reason: f.motif.clone(),
        confirm: f.confirmer.is_some(),
    };
    let out = match calendar_admin::close(&state, &staff.user, v.site.id, &input).await {
        Ok(o) => o,
        Err(e) => {
            return match Problem::from_service(
                "ajout",
                e,
                typed,
                &[("end", "fin"), ("start", "debut"), ("reason", "motif")],
            ) {
                Ok(p) => refused(&state, &staff, &site_id, &p, closures_page).await,
                Err(e) => error_page(e),
            }
        }
    };
    let tz = tz_of(&v.site);
    let body = html! {
        (logout_button(&staff.token))
        @if out.applied {
            (ui::success("Fermeture enregistrée."))
        } @else {
            p { "Fermeture du " (when(input.start, tz)) " au " (when(input.end, tz)) " : rien n'est encore enregistré." }
        }
        @if out.hits.is_empty() {
            p { "Aucun rendez-vous n'est pris pendant cette fermeture." }
        } @else {
            (ui::warning(html! {
                (out.hits.len()) " rendez-vous pris pendant cette fermeture "
                @if out.applied { "sont" } @else { "seront" }
                " maintenus : prévenez ces usagers, déplacez-les ou annulez-les."
            }))
            (hits_table("Rendez-vous pendant la fermeture", &out.hits, tz))
        }
        @if !out.applied {
            (ui::staff_form(None, &f.csrf, false, html! {
                (ui::hidden("station", &f.station))
                (ui::hidden("debut", &f.debut))
                (ui::hidden("fin", &f.fin))
                (ui::hidden("motif", &f.motif))
                (ui::hidden("confirmer", "1"))
                button type="submit" { "Confirmer la fermeture" }
            }))
        }
        p { a href={ "/agents/lieux/" (v.site.id) "/fermetures" } { "Retour aux fermetures" } }
    };
    let title = if out.applied {
        "Fermeture enregistrée"
    } else {
        "Fermeture : aperçu"
    };
    page(title, body).into_response()
}

/// A closure's new end.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ClosureEndForm {
    #[serde(default)]
    csrf: String,
    /// Local `AAAA-MM-JJTHH:MM`; empty: now.
    #[serde(default)]
    fin: String,
}

/// Ends a closure earlier than planned (at the time typed, or now).
#[utoipa::path(post, path = "/agents/lieux/{site_id}/fermetures/{closure_id}/fin", tag = "pages",
    params(("site_id" = String, Path, description = "Lieu"), ("closure_id" = String, Path, description = "Fermeture")),
    request_body(content = ClosureEndForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Retour aux fermetures"), (status = 403, description = "Réservé aux administrateurs"),
              (status = 422, content_type = "text/html", body = String)))]
pub async fn closure_end_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path((site_id, closure_id)): Path<(String, String)>,
    Form(f): Form<ClosureEndForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let v = match view(&state, &staff, &site_id).await {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let closure = match params::uuid(&closure_id, "closure_id") {
        Ok(c) => c,
        Err(e) => return error_page(e),
    };
    let form = format!("fin-{closure}");
    let end = match f.fin.trim() {
        "" => None,
        raw => match local_input(raw, v.tz, "fin").and_then(|s| params::instant(&s, "fin")) {
            Ok(at) => Some(at),
            Err(_) => {
                let p = Problem::field(&form, "fin", "Date et heure invalides.", HashMap::new());
                return refused(&state, &staff, &site_id, &p, closures_page).await;
            }
        },
    };
    match calendar_admin::end_closure(&state, &staff.user, v.site.id, closure, end).await {
        Ok(()) => back_to(v.site.id, "fermetures", "fermeture-avancee"),
        Err(e) => match Problem::from_service(&form, e, HashMap::new(), &[("end", "fin")]) {
            Ok(p) => refused(&state, &staff, &site_id, &p, closures_page).await,
            Err(e) => error_page(e),
        },
    }
}

/// Only the CSRF token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Removes a closure.
#[utoipa::path(post, path = "/agents/lieux/{site_id}/fermetures/{closure_id}/supprimer", tag = "pages",
    params(("site_id" = String, Path, description = "Lieu"), ("closure_id" = String, Path, description = "Fermeture")),
    request_body(content = CsrfForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Retour aux fermetures"), (status = 403, description = "Réservé aux administrateurs"),
              (status = 404, description = "Fermeture inconnue")))]
pub async fn closure_delete_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path((site_id, closure_id)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (site, closure) = match (
        params::uuid(&site_id, "site_id"),
        params::uuid(&closure_id, "closure_id"),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error_page(e),
    };
    match calendar_admin::delete_closure(&state, &staff.user, site, closure).await {
        Ok(()) => back_to(site, "fermetures", "fermeture-supprimee"),
        Err(e) => error_page(e.into()),
    }
}

// ----- Booking policy and release events -----

fn policy_page(v: &AdminView, session: &str, forms: &Forms, q: &DoneQuery) -> Markup {
    let token = csrf(session);
    let p = &v.calendar.policy;
    let site = v.site.id;
    let f = |field: &str, label: &str, kind: &str, value: String| {
        forms.input("politique", field, label, kind, value, true)
    };
    let body = html! {
        (logout_button(session))
        (site_links(site))
        (done_notice(q))
        h2 { "Règles de réservation" }
        (ui::staff_form(Some(&format!("/agents/lieux/{site}/politique")), &token, false, html! {
            (forms.form_error("politique"))
            (f("min_notice_minutes", "Délai minimum avant un rendez-vous (minutes)", "number", p.min_notice_minutes.to_string()))
            (f("horizon_days", "Horizon de réservation (jours)", "number", p.horizon_days.to_string()))
            (f("release_time", "Heure de mise en ligne des nouveaux jours", "time", p.release_time.format("%H:%M").to_string()))
            (f("cancel_deadline_minutes", "Annulation ou déplacement en ligne jusqu'à (minutes avant)", "number", p.cancel_deadline_minutes.to_string()))
            (f("slot_step_minutes", "Pas entre deux horaires proposés (minutes)", "number", p.slot_step_minutes.to_string()))
            (f("reminder_hours", "Rappel envoyé avant le rendez-vous (heures)", "number", p.reminder_hours.to_string()))
            h3 { "Absences répétées" }
            p.hint { "Après ce nombre d'absences (0 : jamais) sur la période, l'usager doit confirmer sa venue avant le délai indiqué ; sans confirmation, le créneau est proposé à la liste d'attente. Un agent peut lever cette exigence sur la fiche du rendez-vous." }
            (f("noshow_limit", "Nombre d'absences", "number", v.site.noshow_limit.to_string()))
            (f("noshow_months", "Sur les derniers (mois)", "number", v.site.noshow_months.to_string()))
            (f("confirm_hours", "Confirmation demandée avant le rendez-vous (heures)", "number", v.site.confirm_hours.to_string()))
            button type="submit" { "Enregistrer les règles" }
        }))
        h2 { "Ouvertures de créneaux programmées" }
        p.hint { "Pour ouvrir d'un coup un mois entier : les jours jusqu'à la date choisie deviennent réservables à l'heure dite." }
        @if v.calendar.release_events.is_empty() {
            p { "Aucune ouverture programmée." }
        } @else {
            table {
                caption { "Ouvertures programmées" }
                thead { tr { th scope="col" { "Jours jusqu'au" } th scope="col" { "Réservables à partir du" } } }
                tbody {
                    @for e in &v.calendar.release_events {
                        tr {
                            td { (date_fr(e.up_to)) }
                            td { (when(e.release_at, v.tz)) }
                        }
                    }
                }
            }
        }
        (ui::staff_form(Some(&format!("/agents/lieux/{site}/ouvertures")), &token, false, html! {
            (forms.form_error("ouverture"))
            (forms.input("ouverture", "up_to", "Jours jusqu'au", "date", String::new(), true))
            (forms.input("ouverture", "release_at", "Réservables à partir du", "datetime-local", String::new(), true))
            button type="submit" { "Programmer l'ouverture" }
        }))
    };
    page(&format!("Règles de réservation – {}", v.site.name), body)
}

/// The site's booking policy and its release events, with their forms.
#[utoipa::path(get, path = "/agents/lieux/{site_id}/politique", tag = "pages", params(("site_id" = String, Path, description = "Lieu"), DoneQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs"), (status = 404, description = "Lieu inconnu")))]
pub async fn policy_get(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    match view(&state, &staff, &site_id).await {
        Ok(v) => policy_page(&v, &staff.token, &Forms { problem: None }, &q).into_response(),
        Err(r) => *r,
    }
}

/// The booking policy as typed (numbers read here, so a non-number is shown next to its field).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PolicyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    min_notice_minutes: String,
    #[serde(default)]
    horizon_days: String,
    #[serde(default)]
    release_time: String,
    #[serde(default)]
    cancel_deadline_minutes: String,
    #[serde(default)]
    slot_step_minutes: String,
    #[serde(default)]
    reminder_hours: String,
    #[serde(default)]
    noshow_limit: String,
    #[serde(default)]
    noshow_months: String,
    #[serde(default)]
    confirm_hours: String,
}

/// Saves the booking policy.
#[utoipa::path(post, path = "/agents/lieux/{site_id}/politique", tag = "pages", params(("site_id" = String, Path, description = "Lieu")),
    request_body(content = PolicyForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Retour à la page"), (status = 403, description = "Réservé aux administrateurs"),
              (status = 422, content_type = "text/html", body = String)))]
pub async fn policy_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Form(f): Form<PolicyForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let site = match params::uuid(&site_id, "site_id") {
        Ok(s) => s,
        Err(e) => return error_page(e),
    };
    let typed = typed(&[
        ("min_notice_minutes", &f.min_notice_minutes),
        ("horizon_days", &f.horizon_days),
        ("release_time", &f.release_time),
        ("cancel_deadline_minutes", &f.cancel_deadline_minutes),
        ("slot_step_minutes", &f.slot_step_minutes),
        ("reminder_hours", &f.reminder_hours),
        ("noshow_limit", &f.noshow_limit),
        ("noshow_months", &f.noshow_months),
        ("confirm_hours", &f.confirm_hours),
    ]);
    let number = |field: &'static str, raw: &str| {
        raw.trim()
            .parse::<i32>()
            .map_err(|_| Problem::field("politique", field, "Nombre entier attendu.", typed.clone()))
    };
    let input = (|| {
        Ok::<_, Problem>(PolicyInput {
            min_notice_minutes: number("min_notice_minutes", &f.min_notice_minutes)?,
            horizon_days: number("horizon_days", &f.horizon_days)?,
            release_time: f.release_time.clone(),
            cancel_deadline_minutes: number("cancel_deadline_minutes", &f.cancel_deadline_minutes)?,
            slot_step_minutes: number("slot_step_minutes", &f.slot_step_minutes)?,
            reminder_hours: number("reminder_hours", &f.reminder_hours)?,
            no_shows: Some((
                number("noshow_limit", &f.noshow_limit)?,
                number("noshow_months", &f.noshow_months)?,
                number("confirm_hours", &f.confirm_hours)?,
            )),
        })
    })();
    let input = match input {
        Ok(i) => i,
        Err(p) => return refused(&state, &staff, &site_id, &p, policy_page).await,
    };
    match calendar_admin::set_policy(&state, &staff.user, site, &input).await {
        Ok(()) => back_to(site, "politique", "politique"),
        Err(e) => match Problem::from_service("politique", e, typed, &[]) {
            Ok(p) => refused(&state, &staff, &site_id, &p, policy_page).await,
            Err(e) => error_page(e),
        },
    }
}

/// A release event as typed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReleaseForm {
    #[serde(default)]
    csrf: String,
    /// `AAAA-MM-JJ`.
    #[serde(default)]
    up_to: String,
    /// Local `AAAA-MM-JJTHH:MM`.
    #[serde(default)]
    release_at: String,
}

/// Schedules a release event.
#[utoipa::path(post, path = "/agents/lieux/{site_id}/ouvertures", tag = "pages", params(("site_id" = String, Path, description = "Lieu")),
    request_body(content = ReleaseForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Retour à la page"), (status = 403, description = "Réservé aux administrateurs"),
              (status = 422, content_type = "text/html", body = String)))]
pub async fn release_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Form(f): Form<ReleaseForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let v = match view(&state, &staff, &site_id).await {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let typed = typed(&[("up_to", &f.up_to), ("release_at", &f.release_at)]);
    let up_to = match params::date(Some(&f.up_to), "up_to") {
        Ok(Some(d)) => d,
        _ => {
            let p = Problem::field("ouverture", "up_to", "Date invalide.", typed);
            return refused(&state, &staff, &site_id, &p, policy_page).await;
        }
    };
    let at = match local_input(&f.release_at, v.tz, "release_at")
        .and_then(|s| params::instant(&s, "release_at"))
    {
        Ok(at) => at,
        Err(_) => {
            let p = Problem::field("ouverture", "release_at", "Date et heure invalides.", typed);
            return refused(&state, &staff, &site_id, &p, policy_page).await;
        }
    };
    match calendar_admin::add_release(&state, &staff.user, v.site.id, up_to, at).await {
        Ok(_) => back_to(v.site.id, "politique", "ouverture"),
        Err(e) => match Problem::from_service("ouverture", e, typed, &[]) {
            Ok(p) => refused(&state, &staff, &site_id, &p, policy_page).await,
            Err(e) => error_page(e),
        },
    }
}

// ----- Stations and motifs -----

fn settings_page(v: &AdminView, session: &str, forms: &Forms, q: &DoneQuery) -> Markup {
    let token = csrf(session);
    let site = v.site.id;
    let body = html! {
        (logout_button(session))
        (site_links(site))
        (done_notice(q))
        h2 { "Postes" }
        @if !v.calendar.stations.is_empty() {
            div.table-scroll role="region" aria-label="Postes" tabindex="0" {
                table {
                    caption { "Postes du lieu" }
                    thead { tr { th scope="col" { "Poste" } th scope="col" { "État" } th scope="col" { "Actions" } } }
                    tbody {
                        @for (n, st) in v.calendar.stations.iter().enumerate() {
                            @let form = format!("poste-{}", st.id);
                            @let action = format!("/agents/lieux/{site}/postes/{}", st.id);
                            @let field_id = format!("poste-{n}-nom");
                            @let err_id = format!("err-poste-{n}");
                            @let error = forms.problem.filter(|p| p.form == form).map(|p| p.message.as_str());
                            tr.settings-row {
                                th scope="row" { (st.name) }
                                td { @if st.active { "Actif" } @else { "Inactif (aucun horaire proposé)" } }
                                td {
                                    (ui::staff_form(Some(&action), &token, false, html! {
                                        (ui::field_error(&err_id, error))
                                        label for=(field_id) { "Nouveau nom de " (st.name) }
                                        input id=(field_id) name="name" type="text" required maxlength="60"
                                            value=(forms.value(&form, "name", st.name.clone()))
                                            aria-describedby=[error.map(|_| err_id.clone())] aria-invalid=[error.map(|_| "true")];
                                        button type="submit" class="secondary" { "Renommer" }
                                    }))
                                    (ui::staff_form(Some(&action), &token, false, html! {
                                        @if st.active {
                                            (ui::hidden("active", "false"))
                                            button type="submit" class="secondary" aria-label={ "Désactiver " (st.name) } { "Désactiver" }
                                        } @else {
                                            (ui::hidden("active", "true"))
                                            button type="submit" class="secondary" aria-label={ "Activer " (st.name) } { "Activer" }
                                        }
                                    }))
                                }
                            }
                        }
                    }
                }
            }
        }
        (ui::staff_form(Some(&format!("/agents/lieux/{site}/postes")), &token, false, html! {
            (forms.form_error("nouveau-poste"))
            (forms.input("nouveau-poste", "name", "Nom du nouveau poste", "text", String::new(), true))
            button type="submit" { "Ajouter le poste" }
        }))
        h2 { "Motifs" }
        p.hint { "Durée par personne, nombre de personnes par rendez-vous, et ce que chacun doit apporter (montré aux usagers et sur la liste du jour)." }
        @for m in &v.motifs {
            @let form = format!("motif-{}", m.motif.code());
            h3 { (m.motif.label_fr()) }
            (ui::staff_form(Some(&format!("/agents/lieux/{site}/motifs/{}", m.motif.code())), &token, false, html! {
                (forms.form_error(&form))
                (forms.input(&form, "minutes_per_person", "Minutes par personne", "number", m.minutes_per_person.to_string(), true))
                (forms.input(&form, "max_persons", "Personnes au plus par rendez-vous", "number", m.max_persons.to_string(), true))
                @let id = format!("{form}-what_to_bring");
                @let hint_id = format!("{form}-defaut");
                @let err_id = format!("err-{id}");
                @let error = forms.error(&form, Some("what_to_bring"));
                (ui::field_error(&err_id, error))
                label for=(id) { "À apporter (une ligne par pièce ; vide : la liste par défaut)" }
                textarea id=(id) name="what_to_bring" rows="6"
                    aria-describedby=(error.map_or(hint_id.clone(), |_| err_id.clone())) aria-invalid=[error.map(|_| "true")] {
                    (forms.value(&form, "what_to_bring", m.what_to_bring.clone().unwrap_or_default()))
                }
                div id=(hint_id) .hint {
                    "Liste par défaut : "
                    (v.default_to_bring(m.motif).join(" ; "))
                }
                button type="submit" { "Enregistrer " (m.motif.label_fr()) }
            }))
        }
    };
    page(&format!("Postes et motifs – {}", v.site.name), body)
}

/// The site's stations and motif settings, with their forms.
#[utoipa::path(get, path = "/agents/lieux/{site_id}/reglages", tag = "pages", params(("site_id" = String, Path, description = "Lieu"), DoneQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs"), (status = 404, description = "Lieu inconnu")))]
pub async fn settings_get(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    match view(&state, &staff, &site_id).await {
        Ok(v) => settings_page(&v, &staff.token, &Forms { problem: None }, &q).into_response(),
        Err(r) => *r,
    }
}

/// A new station's name.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewStationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// Adds a station.
#[utoipa::path(post, path = "/agents/lieux/{site_id}/postes", tag = "pages", params(("site_id" = String, Path, description = "Lieu")),
    request_body(content = NewStationForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Retour aux réglages"), (status = 403, description = "Réservé aux administrateurs"),
              (status = 422, content_type = "text/html", body = String)))]
pub async fn station_add_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Form(f): Form<NewStationForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let site = match params::uuid(&site_id, "site_id") {
        Ok(s) => s,
        Err(e) => return error_page(e),
    };
    match calendar_admin::add_station(&state, &staff.user, site, &f.name).await {
        Ok(_) => back_to(site, "reglages", "poste-ajoute"),
        Err(e) => match Problem::from_service("nouveau-poste", e, typed(&[("name", &f.name)]), &[]) {
            Ok(p) => refused(&state, &staff, &site_id, &p, settings_page).await,
            Err(e) => error_page(e),
        },
    }
}

/// A station's new name, or its new state.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StationForm {
    #[serde(default)]
    csrf: String,
    name: Option<String>,
    /// `true` or `false`.
    active: Option<String>,
}

/// Renames a station or turns it on or off; the appointments kept on a station turned off are listed.
#[utoipa::path(post, path = "/agents/lieux/{site_id}/postes/{station_id}", tag = "pages",
    params(("site_id" = String, Path, description = "Lieu"), ("station_id" = String, Path, description = "Poste")),
    request_body(content = StationForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Retour aux réglages"),
              (status = 403, description = "Réservé aux administrateurs"), (status = 422, content_type = "text/html", body = String)))]
pub async fn station_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path((site_id, station_id)): Path<(String, String)>,
    Form(f): Form<StationForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
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
    let change = StationChange {
        name: f.name.clone(),
        active: f.active.as_deref().map(|a| a == "true"),
    };
    let out = match calendar_admin::change_station(&state, &staff.user, site, station, &change).await {
        Ok(o) => o,
        Err(e) => {
            let form = format!("poste-{station}");
            let typed = typed(&[("name", f.name.as_deref().unwrap_or_default())]);
            return match Problem::from_service(&form, e, typed, &[]) {
                Ok(p) => refused(&state, &staff, &site_id, &p, settings_page).await,
                Err(e) => error_page(e),
            };
        }
    };
    if out.hits.is_empty() {
        return back_to(site, "reglages", "poste");
    }
    // Turned off with appointments to come: they are kept; the administrator sees which.
    let v = match view(&state, &staff, &site_id).await {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let body = html! {
        (logout_button(&staff.token))
        (ui::success("Poste désactivé : il ne propose plus d'horaire."))
        (ui::warning(html! {
            (out.hits.len()) " rendez-vous à venir sur ce poste sont maintenus : déplacez-les sur un autre poste, ou prévenez ces usagers et annulez-les."
        }))
        (hits_table("Rendez-vous à venir sur le poste désactivé", &out.hits, v.tz))
        p { a href={ "/agents/lieux/" (site) "/reglages" } { "Retour aux postes et motifs" } }
    };
    page("Poste désactivé", body).into_response()
}

/// A motif's settings as typed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MotifForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    minutes_per_person: String,
    #[serde(default)]
    max_persons: String,
    #[serde(default)]
    what_to_bring: String,
}

/// Saves a motif's settings at the site.
#[utoipa::path(post, path = "/agents/lieux/{site_id}/motifs/{motif}", tag = "pages",
    params(("site_id" = String, Path, description = "Lieu"), ("motif" = String, Path, description = "CNI, PASSPORT, CNI-PASSPORT ou RETRIEVAL")),
    request_body(content = MotifForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Retour aux réglages"), (status = 403, description = "Réservé aux administrateurs"),
              (status = 422, content_type = "text/html", body = String)))]
pub async fn motif_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path((site_id, motif)): Path<(String, String)>,
    Form(f): Form<MotifForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (site, motif) = match (
        params::uuid(&site_id, "site_id"),
        params::motif(Some(&motif), Motif::Cni),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error_page(e),
    };
    let form = format!("motif-{}", motif.code());
    let typed = typed(&[
        ("minutes_per_person", &f.minutes_per_person),
        ("max_persons", &f.max_persons),
        ("what_to_bring", &f.what_to_bring),
    ]);
    let number = |field: &'static str, raw: &str| {
        raw.trim()
            .parse::<i32>()
            .map_err(|_| Problem::field(&form, field, "Nombre entier attendu.", typed.clone()))
    };
    let input = match (
        number("minutes_per_person", &f.minutes_per_person),
        number("max_persons", &f.max_persons),
    ) {
        (Ok(minutes_per_person), Ok(max_persons)) => MotifInput {
            minutes_per_person,
            max_persons,
            what_to_bring: f.what_to_bring.clone(),
        },
        (Err(p), _) | (_, Err(p)) => return refused(&state, &staff, &site_id, &p, settings_page).await,
    };
    match calendar_admin::set_motif(&state, &staff.user, site, motif, &input).await {
        Ok(()) => back_to(site, "reglages", "motif"),
        Err(e) => match Problem::from_service(&form, e, typed, &[]) {
            Ok(p) => refused(&state, &staff, &site_id, &p, settings_page).await,
            Err(e) => error_page(e),
        },
    }
}
