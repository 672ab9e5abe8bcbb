//! Counter and phone bookings: the agent picks the motif and the party, then one of the free
//! times the citizens' engine offers (live citizen holds respected; notice and horizon waived),
//! then fills the form: names, optional email (the confirmation is sent to it), phone, how the
//! request came, and one pré-demande number per person, checked with ANTS as online. When ANTS
//! reports a number booked elsewhere, the form shows where and when and lets the agent go on
//! after checking with the citizen.

use super::components::{self as ui, Input};
use super::error_page;
use super::layout::page;
use super::staff::{checked, csrf, logout_button};
use crate::app::AppState;
use crate::domain::french::{datetime, day_label};
use crate::domain::motif::Motif;
use crate::domain::party::PartySize;
use crate::error::ApiError;
use crate::request::extract::{Path, Query};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::booking::CitizenInput;
use crate::service::staff_access;
use crate::service::staff_appointments::{self, CounterInput, CounterSource, ANTS_OVERRIDDEN};
use crate::service::ServiceError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::BTreeMap;

/// What the counter page lists.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CounterQuery {
    /// First day listed (`AAAA-MM-JJ`); today by default.
    jour: Option<String>,
    /// Motif code; identity card by default.
    motif: Option<String>,
    /// How many persons; 1 by default.
    personnes: Option<String>,
}

fn counter_path(site: &str) -> String {
    format!("/agents/lieux/{site}/guichet")
}

/// The motif and party chosen, with the error about them if any.
fn choice_form(
    site: &str,
    offered: &[(Motif, i32)],
    motif: Motif,
    persons: PartySize,
    day: &str,
    error: Option<&str>,
) -> Markup {
    let max = offered
        .iter()
        .map(|(_, m)| *m)
        .max()
        .unwrap_or(i32::from(PartySize::MAX))
        .clamp(1, i32::from(PartySize::MAX));
    html! {
        form method="get" action=(counter_path(site)) aria-labelledby="choix" {
            h2 #choix { "Motif, personnes et jour" }
            (ui::field_error("err-choix", error))
            label for="motif" { "Motif" }
            select #motif name="motif" aria-describedby=[error.map(|_| "err-choix")] {
                @for (m, _) in offered {
                    option value=(m.code()) selected[*m == motif] { (m.label_fr()) }
                }
            }
            label for="personnes" { "Nombre de personnes" }
            select #personnes name="personnes" aria-describedby=[error.map(|_| "err-choix")] {
                @for n in 1..=max {
                    option value=(n) selected[i32::from(persons.get()) == n] { (n) }
                }
            }
            label for="jour" { "À partir du" }
            input #jour name="jour" type="date" value=(day) required;
            button type="submit" { "Afficher les horaires libres" }
        }
    }
}

/// The counter page: free times to choose from.
#[utoipa::path(get, path = "/agents/lieux/{site_id}/guichet", tag = "pages",
    params(("site_id" = String, Path, description = "Lieu"), CounterQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 404, content_type = "text/html", body = String), (status = 422, content_type = "text/html", body = String)))]
pub async fn counter_page(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Query(q): Query<CounterQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    let parsed = (|| -> Result<_, ApiError> {
        Ok((
            params::uuid(&site_id, "site_id")?,
            params::motif(q.motif.as_deref(), Motif::Cni)?,
            params::persons(q.personnes.as_deref())?,
            params::date(q.jour.as_deref().filter(|d| !d.is_empty()), "jour")?,
        ))
    })();
    let (site, motif, persons, day) = match parsed {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let found = staff_appointments::counter_times(&state, &staff.user, site, motif, persons, day).await;
    let found = match found {
        Ok(f) => f,
        Err(ServiceError::Invalid { message, .. } | ServiceError::Malformed { message, .. }) => {
            // The motif is not offered, too many persons, or a day out of range: said next to the
            // choice, which stays editable.
            return match staff_access::visible_site(&state, &staff.user, site).await {
                Ok(row) => {
                    let body = html! {
                        (logout_button(&staff.token))
                        (choice_form(&site_id, &Motif::ALL.map(|m| (m, i32::from(PartySize::MAX))), motif, persons,
                                     q.jour.as_deref().unwrap_or_default(), Some(&message)))
                        p { a href={ "/agents/lieux/" (row.id) } { "Retour à la journée" } }
                    };
                    (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        page(&format!("Guichet – {}", row.name), body),
                    )
                        .into_response()
                }
                Err(e) => error_page(e.into()),
            };
        }
        Err(e) => return error_page(e.into()),
    };
    let tz = found.tz;
    let offered: Vec<(Motif, i32)> = found.offered.iter().map(|m| (m.motif, m.max_persons)).collect();
    let mut by_day: BTreeMap<chrono::NaiveDate, Vec<DateTime<Utc>>> = BTreeMap::new();
    for s in &found.slots {
        by_day
            .entry(s.start.date_naive())
            .or_default()
            .push(s.start.with_timezone(&Utc));
    }
    let site_id = found.site.id.to_string();
    let slot_path = format!("{}/creneau", counter_path(&site_id));
    let body = html! {
        (logout_button(&staff.token))
        p { a href={ "/agents/lieux/" (site_id) "?jour=" (found.from) } { "Retour à la journée" } }
        (choice_form(&site_id, &offered, motif, persons, &found.from.to_string(), None))
        h2 { "Horaires libres du " (date_label(found.from, tz)) " au " (date_label(found.to, tz)) }
        p.hint { (motif.label_fr()) ", " (persons_text(persons)) " : "
                 (found.duration.num_minutes()) " minutes. Les créneaux réservés en ce moment par un usager en ligne n'apparaissent pas." }
        @if by_day.is_empty() {
            (ui::info("Aucun horaire libre sur ces jours. Essayez à partir d'un autre jour."))
        }
        @for (day, starts) in &by_day {
            h3 { (date_label(*day, tz)) }
            ul.slots {
                @for start in starts {
                    li {
                        form method="get" action=(slot_path) {
                            (ui::hidden("motif", motif.code()))
                            (ui::hidden("personnes", persons))
                            (ui::hidden("debut", start.to_rfc3339()))
                            button type="submit" aria-label={ "Choisir le " (datetime(*start, tz)) } {
                                (start.with_timezone(&tz).format("%H:%M"))
                            }
                        }
                    }
                }
            }
        }
    };
    page(&format!("Guichet – {}", found.site.name), body).into_response()
}

/// A local date as people say it ("mercredi 2 décembre 2026"), through its local noon.
fn date_label(d: chrono::NaiveDate, tz: Tz) -> String {
    let noon = d.and_hms_opt(12, 0, 0).unwrap_or_default();
    day_label(crate::domain::tz::resolve_local(tz, noon), tz)
}

fn persons_text(p: PartySize) -> String {
    if p.get() > 1 {
        format!("{p} personnes")
    } else {
        format!("{p} personne")
    }
}

/// The time chosen on the counter page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SlotQuery {
    /// RFC 3339.
    debut: String,
    motif: Option<String>,
    personnes: Option<String>,
}

/// What the booking form shows again after a refusal.
#[derive(Debug, Default)]
struct Filled {
    first_name: String,
    last_name: String,
    email: String,
    phone: String,
    source: String,
    numbers: Vec<String>,
}

/// Where the refusal goes: next to its field, or above the form.
#[derive(Debug, Default)]
struct Refusal {
    field: Option<&'static str>,
    message: Option<String>,
    /// ANTS's "booked elsewhere": (number, where, when).
    elsewhere: Vec<(String, String, String)>,
}

/// The chosen time and the form's fixed fields.
struct Chosen<'a> {
    site_id: &'a str,
    site_name: &'a str,
    tz: Tz,
    motif: Motif,
    persons: PartySize,
    start: DateTime<Utc>,
}

fn booking_form(session: &str, c: &Chosen, f: &Filled, r: &Refusal) -> Markup {
    let err = |field: &str| r.message.as_deref().filter(|_| r.field == Some(field));
    let general = r.message.as_deref().filter(|_| {
        !matches!(
            r.field,
            Some("first_name" | "last_name" | "email" | "phone" | "pre_demande_numbers" | "override_ants")
        )
    });
    let id = |field: &str| {
        err(field).map(|_| match field {
            "first_name" => "err-prenom",
            "last_name" => "err-nom",
            "email" => "err-email",
            "phone" => "err-telephone",
            _ => "err-numeros",
        })
    };
    let n = usize::from(c.persons.get());
    let back = format!(
        "{}?motif={}&personnes={}&jour={}",
        counter_path(c.site_id),
        c.motif.code(),
        c.persons,
        c.start.with_timezone(&c.tz).date_naive()
    );
    let body = html! {
        (logout_button(session))
        p { a href=(back) { "Choisir un autre horaire" } }
        p.summary { strong { (datetime(c.start, c.tz)) } " – " (c.motif.label_fr()) ", " (persons_text(c.persons)) }
        (ui::field_error("err-general", general))
        (ui::staff_form(Some(&counter_path(c.site_id)), &csrf(session), false, html! {
            (ui::hidden("motif", c.motif.code()))
            (ui::hidden("personnes", c.persons))
            (ui::hidden("debut", c.start.to_rfc3339()))
            @if !r.elsewhere.is_empty() {
                section.elsewhere aria-labelledby="ailleurs" role="alert" {
                    h2 #ailleurs { "L'ANTS signale un autre rendez-vous" }
                    ul {
                        @for (number, place, when) in &r.elsewhere {
                            li { "Pré-demande " (number) " : " (place) ", " (when) }
                        }
                    }
                    p { "Vérifiez avec l'usager qu'il annulera l'autre rendez-vous, puis confirmez." }
                    label {
                        input #confirmer_ants type="checkbox" name="confirmer_ants" value="1";
                        "Je confirme après vérification avec l'usager"
                    }
                }
            }
            (ui::field_error("err-prenom", err("first_name")))
            (Input { id: "prenom", name: "first_name", label: "Prénom", autocomplete: Some("off"),
                     value: Some(&f.first_name), required: true, maxlength: Some(100),
                     error_id: id("first_name"), ..Input::default() })
            (ui::field_error("err-nom", err("last_name")))
            (Input { id: "nom", name: "last_name", label: "Nom", autocomplete: Some("off"),
                     value: Some(&f.last_name), required: true, maxlength: Some(100),
                     error_id: id("last_name"), ..Input::default() })
            (ui::field_error("err-email", err("email")))
            (Input { id: "email", name: "email", label: "Adresse e-mail (facultative : la confirmation y est envoyée)",
                     kind: Some("email"), autocomplete: Some("off"), value: Some(&f.email), maxlength: Some(254),
                     error_id: id("email"), ..Input::default() })
            (ui::field_error("err-telephone", err("phone")))
            (Input { id: "telephone", name: "phone", label: "Téléphone", kind: Some("tel"), autocomplete: Some("off"),
                     value: Some(&f.phone), maxlength: Some(30), error_id: id("phone"), ..Input::default() })
            fieldset {
                legend { "Demande reçue" }
                label {
                    input #source-guichet type="radio" name="source" value="counter" checked[f.source != "phone"];
                    "au guichet"
                }
                label {
                    input #source-telephone type="radio" name="source" value="phone" checked[f.source == "phone"];
                    "par téléphone"
                }
            }
            @if c.motif.requires_pre_demande() {
                fieldset aria-describedby=[id("pre_demande_numbers")] {
                    legend { "Numéros de pré-demande (un par personne, vérifiés auprès de l'ANTS)" }
                    (ui::field_error("err-numeros", err("pre_demande_numbers")))
                    @for i in 1..=n {
                        @let field_id = format!("numero_{i}");
                        @let label = format!("Pré-demande de la personne {i}");
                        (Input { id: &field_id, name: &field_id, label: &label, autocomplete: Some("off"),
                                 autocapitalize: Some("characters"), maxlength: Some(10),
                                 value: f.numbers.get(i - 1).map(String::as_str),
                                 error_id: id("pre_demande_numbers"), ..Input::default() })
                    }
                }
            }
            button type="submit" { "Enregistrer le rendez-vous" }
        }))
    };
    page(&format!("Nouveau rendez-vous – {}", c.site_name), body)
}

/// The booking form for a chosen time.
#[utoipa::path(get, path = "/agents/lieux/{site_id}/guichet/creneau", tag = "pages",
    params(("site_id" = String, Path, description = "Lieu"), SlotQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 404, content_type = "text/html", body = String)))]
pub async fn slot_form(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Query(q): Query<SlotQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    let parsed = (|| -> Result<_, ApiError> {
        Ok((
            params::uuid(&site_id, "site_id")?,
            params::motif(q.motif.as_deref(), Motif::Cni)?,
            params::persons(q.personnes.as_deref())?,
            params::instant(&q.debut, "debut")?,
        ))
    })();
    let (site, motif, persons, start) = match parsed {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let row = match staff_access::visible_site(&state, &staff.user, site).await {
        Ok(r) => r,
        Err(e) => return error_page(e.into()),
    };
    let chosen = Chosen {
        site_id: &site_id,
        site_name: &row.name,
        tz: row.timezone.parse().unwrap_or(chrono_tz::Europe::Paris),
        motif,
        persons,
        start,
    };
    booking_form(&staff.token, &chosen, &Filled::default(), &Refusal::default()).into_response()
}

/// The booking form as posted (numbers come as `numero_1` … `numero_n`, as many as persons, so
/// the handler reads the fields by name; this struct documents them in the OpenAPI).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CounterBookingForm {
    csrf: String,
    motif: String,
    personnes: String,
    /// RFC 3339.
    debut: String,
    first_name: String,
    last_name: String,
    email: Option<String>,
    phone: Option<String>,
    /// `counter` or `phone`.
    source: Option<String>,
    numero_1: Option<String>,
    /// Present when the agent confirms after ANTS reported the numbers booked elsewhere.
    confirmer_ants: Option<String>,
}

/// Books the chosen time; the form comes back with the answer next to its field when refused.
#[utoipa::path(post, path = "/agents/lieux/{site_id}/guichet", tag = "pages", params(("site_id" = String, Path, description = "Lieu")),
    request_body(content = CounterBookingForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 201, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Jeton CSRF invalide"), (status = 409, content_type = "text/html", body = String),
              (status = 422, content_type = "text/html", body = String)))]
pub async fn counter_booking_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let staff = match checked(staff, &get("csrf")) {
        Ok(s) => s,
        Err(resp) => return *resp,
    };
    let parsed = (|| -> Result<_, ApiError> {
        Ok((
            params::uuid(&site_id, "site_id")?,
            params::motif(Some(&get("motif")), Motif::Cni)?,
            params::persons(Some(&get("personnes")))?,
            params::instant(&get("debut"), "debut")?,
            CounterSource::parse(Some(&get("source")))?,
        ))
    })();
    let (site, motif, persons, start, source) = match parsed {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let filled = Filled {
        first_name: get("first_name"),
        last_name: get("last_name"),
        email: get("email"),
        phone: get("phone"),
        source: source.code().to_string(),
        numbers: (1..=usize::from(persons.get()))
            .map(|i| get(&format!("numero_{i}")).trim().to_uppercase())
            .collect(),
    };
    let optional = |s: &str| Some(s.to_string()).filter(|v| !v.trim().is_empty());
    let input = CounterInput {
        site_id: site,
        motif,
        persons,
        start,
        citizen: CitizenInput {
            first_name: filled.first_name.clone(),
            last_name: filled.last_name.clone(),
            email: optional(&filled.email),
            phone: optional(&filled.phone),
        },
        pre_demande_numbers: if motif.requires_pre_demande() {
            filled.numbers.clone()
        } else {
            Vec::new()
        },
        source,
    };
    let override_ants = !get("confirmer_ants").is_empty();
    let made = staff_appointments::book_at_counter_with(&state, &staff.user, &input, override_ants).await;
    let made = match made {
        Ok(m) => m,
        Err(e) => {
            // The form again, with the answer where it belongs; the site is re-read for its name.
            let row = match staff_access::visible_site(&state, &staff.user, site).await {
                Ok(r) => r,
                Err(e) => return error_page(e.into()),
            };
            let chosen = Chosen {
                site_id: &site_id,
                site_name: &row.name,
                tz: row.timezone.parse().unwrap_or(chrono_tz::Europe::Paris),
                motif,
                persons,
                start,
            };
            let (status, refusal) = refusal_of(e);
            return (status, booking_form(&staff.token, &chosen, &filled, &refusal)).into_response();
        }
    };
    let b = &made.booked;
    let ants = match made.ants_check {
        "validated" => "Pré-demandes vérifiées auprès de l'ANTS et déclarées.",
        ANTS_OVERRIDDEN => {
            "Pré-demandes signalées ailleurs par l'ANTS : rendez-vous confirmé après vérification avec l'usager, et déclaré."
        }
        "unchecked" => "L'ANTS n'a pas répondu : les pré-demandes seront vérifiées plus tard, et déclarées.",
        _ => "Aucune pré-demande vérifiée.",
    };
    let body = html! {
        (logout_button(&staff.token))
        (ui::success(html! { "Rendez-vous enregistré : " strong { (b.reference) } "." }))
        dl {
            dt { "Quand" } dd { (datetime(b.start, b.tz)) }
            dt { "Motif" } dd { (b.motif.label_fr()) ", " (persons_text(b.persons)) }
            dt { "Usager" } dd { (filled.first_name) " " (filled.last_name) }
            dt { "ANTS" } dd { (ants) }
            dt { "Confirmation" } dd {
                @if input.citizen.email.is_some() { "Envoyée par e-mail à " (filled.email.trim()) "." }
                @else { "Pas d'adresse e-mail : donnez la référence à l'usager." }
            }
        }
        p { a href={ "/agents/lieux/" (b.site_id) "?jour=" (b.start.with_timezone(&b.tz).date_naive()) } { "Voir la journée" } }
        p { a href=(counter_path(&b.site_id.to_string())) { "Nouveau rendez-vous au guichet" } }
    };
    (StatusCode::CREATED, page("Rendez-vous enregistré", body)).into_response()
}

/// A refusal placed on the form, with the page's status.
fn refusal_of(e: ServiceError) -> (StatusCode, Refusal) {
    let field = match &e {
        ServiceError::Invalid { field, .. } | ServiceError::Malformed { field, .. } => *field,
        ServiceError::Ants { field, .. } => Some(*field),
        ServiceError::PreDemandeInUse { .. } => Some("pre_demande_numbers"),
        _ => None,
    };
    let elsewhere = match &e {
        ServiceError::Ants {
            field: "override_ants",
            extra,
            ..
        } => extra["appointments"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|a| {
                        let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
                        (s("number"), s("meeting_point"), ants_date(&s("appointment_date")))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let api = ApiError::from(e);
    let message = if elsewhere.is_empty() {
        Some(api.message)
    } else {
        Some(
            "L'ANTS signale un autre rendez-vous pour ces pré-demandes : vérifiez avec l'usager.".to_string(),
        )
    };
    (
        api.status,
        Refusal {
            field,
            message,
            elsewhere,
        },
    )
}

/// ANTS's date as people read it (`le 10/12/2026 à 10:00`), its text otherwise.
fn ants_date(raw: &str) -> String {
    crate::ants::parse_ants_datetime(raw)
        .map(|d| d.format("le %d/%m/%Y à %H:%M").to_string())
        .unwrap_or_else(|| raw.to_string())
}
