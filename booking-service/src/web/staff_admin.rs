//! A commune administrator's pages: the commune's staff accounts (create, deactivate, re-enable,
//! change the role, send a password link), the audit log with its filters, the messages that
//! failed for good (sent again from here) and the CSV export of a site's appointments. Each
//! calls the same service function as its API route.

use super::components::{self as ui, Input};
use super::error_page;
use super::layout::page;
use super::staff::{checked, csrf, logout_button};
use crate::app::AppState;
use crate::db::outbox::OutboxKind;
use crate::db::staff_admin::{AccountListRow, AuditRow, FailureRow};
use crate::error::ApiError;
use crate::request::extract::{Path, Query};
use crate::request::params;
use crate::request::staff_session::Staff;
use crate::service::staff_accounts::{self, AccountChange};
use crate::service::staff_admin::{self, CommuneCode, Created, NewAccount};
use crate::service::ServiceError;
use crate::staff::{Role, StaffUser};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use maud::{html, Markup};
use serde::Deserialize;

/// Times on these pages are the mairies' (every commune served is in metropolitan France).
const TZ: chrono_tz::Tz = chrono_tz::Europe::Paris;

fn local(at: DateTime<Utc>) -> String {
    at.with_timezone(&TZ).format("%d/%m/%Y %H:%M").to_string()
}

/// The links between the administration pages, and the account's own links.
fn admin_nav(session: &str) -> Markup {
    html! {
        (logout_button(session))
        nav aria-label="Administration" {
            ul.links {
                li { a href="/agents/comptes" { "Comptes des agents" } }
                li { a href="/agents/journal" { "Journal des actions" } }
                li { a href="/agents/courriels-en-echec" { "Courriels en échec" } }
            }
        }
    }
}

/// A table that may be wider than a phone: it scrolls sideways inside a region the keyboard
/// can reach.
fn scroll_table(label: &str, table: Markup) -> Markup {
    html! {
        div.table-scroll.wide role="region" aria-label=(label) tabindex="0" { (table) }
    }
}

/// A stored role's French name (the code itself if the database ever held another one).
fn role_label(code: &str) -> &str {
    Role::parse(code).map_or(code, |r| r.label_fr())
}

// ---------------------------------------------------------------- accounts

/// What the accounts page was sent back with after a change (a fixed word, never shown as is).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AccountsQuery {
    /// `cree`, `desactive`, `reactive`, `role` or `lien`.
    fait: Option<String>,
}

fn done_notice(what: Option<&str>) -> Option<&'static str> {
    match what? {
        "cree" => Some("Compte créé."),
        "desactive" => Some("Compte désactivé : ses sessions en cours sont fermées."),
        "reactive" => Some("Compte réactivé."),
        "role" => Some("Rôle changé."),
        "lien" => Some("Lien de réinitialisation envoyé par courriel."),
        _ => None,
    }
}

/// The creation form as typed (the password is never shown again).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    commune_insee: String,
}

/// Where a creation error goes.
#[derive(Debug, Default)]
struct CreateErrors {
    email: Option<String>,
    password: Option<String>,
    role: Option<String>,
    commune: Option<String>,
}

fn accounts_view(
    staff: &Staff,
    rows: &[AccountListRow],
    notice: Option<&str>,
    typed: &CreateForm,
    errors: &CreateErrors,
) -> Markup {
    let token = csrf(&staff.token);
    let platform = staff.user.role == Role::PlatformAdmin;
    let body = html! {
        (admin_nav(&staff.token))
        @if let Some(n) = notice {
            (ui::success(n))
        }
        h2 { "Comptes (" (rows.len()) ")" }
        // One block per account rather than a table: its buttons stay within a phone's width.
        @for r in rows {
            section.account aria-labelledby={ "compte-" (r.id) } {
                h3 id={ "compte-" (r.id) } { @if r.display_name.is_empty() { (r.email) } @else { (r.display_name) } }
                dl {
                    dt { "Adresse" } dd { (r.email) }
                    dt { "Rôle" } dd { (role_label(&r.role)) }
                    dt { "État" } dd { @if r.active { "Actif" } @else { "Désactivé" } }
                    dt { "Dernière connexion" } dd { @match r.last_login { Some(t) => (local(t)), None => "Jamais" } }
                }
                (account_actions(&staff.user, r, &token))
            }
        }
        h2 { "Créer un compte" }
        (ui::staff_form(Some("/agents/comptes"), &token, false, html! {
            (Input { id: "c-nom", name: "display_name", label: "Nom affiché", value: Some(&typed.display_name), autocomplete: Some("off"), ..Input::default() })
            (ui::field_error("err-c-email", errors.email.as_deref()))
            (Input {
                id: "c-email", name: "email", label: "Adresse électronique", kind: Some("email"), required: true,
                value: Some(&typed.email), autocomplete: Some("off"),
                error_id: errors.email.as_ref().map(|_| "err-c-email"), ..Input::default()
            })
            (ui::field_error("err-c-password", errors.password.as_deref()))
            (Input {
                id: "c-password", name: "password", label: "Mot de passe provisoire (12 caractères au moins)",
                kind: Some("password"), required: true, minlength: Some(12), autocomplete: Some("new-password"),
                error_id: errors.password.as_ref().map(|_| "err-c-password"), ..Input::default()
            })
            (ui::field_error("err-c-role", errors.role.as_deref()))
            label for="c-role" { "Rôle" }
            select #c-role name="role" aria-describedby=[errors.role.as_ref().map(|_| "err-c-role")] {
                @for role in creatable_roles(&staff.user) {
                    option value=(role.as_str()) selected[typed.role == role.as_str()] { (role.label_fr()) }
                }
            }
            @if platform {
                (ui::field_error("err-c-commune", errors.commune.as_deref()))
                (Input {
                    id: "c-commune", name: "commune_insee", label: "Commune (code INSEE, sauf administrateur de la plateforme)",
                    value: Some(&typed.commune_insee), error_id: errors.commune.as_ref().map(|_| "err-c-commune"),
                    ..Input::default()
                })
            }
            button type="submit" { "Créer le compte" }
        }))
    };
    page("Comptes des agents", body)
}

/// The roles the caller may give.
fn creatable_roles(caller: &StaffUser) -> Vec<Role> {
    match caller.role {
        Role::PlatformAdmin => vec![Role::Agent, Role::CommuneAdmin, Role::PlatformAdmin],
        _ => vec![Role::Agent, Role::CommuneAdmin],
    }
}

/// A row's buttons: deactivate or re-enable, change the role, send a password link. None on
/// one's own account (the service refuses those changes to oneself).
fn account_actions(caller: &StaffUser, r: &AccountListRow, token: &str) -> Markup {
    if r.id == caller.id {
        return html! { p.hint { "Votre compte : ni désactivation ni changement de rôle." } };
    }
    let action = format!("/agents/comptes/{}", r.id);
    let who = if r.display_name.is_empty() {
        r.email.clone()
    } else {
        format!("{} ({})", r.display_name, r.email)
    };
    let role_id = format!("role-{}", r.id);
    html! {
        (ui::staff_form(Some(&action), token, true, html! {
            @if r.active {
                (ui::hidden("action", "desactiver"))
                button type="submit" class="secondary" aria-label={ "Désactiver le compte de " (who) } { "Désactiver" }
            } @else {
                (ui::hidden("action", "reactiver"))
                button type="submit" class="secondary" aria-label={ "Réactiver le compte de " (who) } { "Réactiver" }
            }
        }))
        " "
        @if r.active {
            (ui::staff_form(Some(&action), token, true, html! {
                (ui::hidden("action", "lien"))
                button type="submit" class="secondary" aria-label={ "Envoyer un lien de réinitialisation à " (who) } {
                    "Envoyer un lien de réinitialisation"
                }
            }))
        }
        // A platform administrator has no commune: its role is not one to switch from here.
        @if r.commune_insee.is_some() {
            (ui::staff_form(Some(&action), token, false, html! {
                (ui::hidden("action", "role"))
                label for=(role_id) { "Rôle de " (who) }
                select id=(role_id) name="role" {
                    @for role in [Role::Agent, Role::CommuneAdmin] {
                        option value=(role.as_str()) selected[r.role == role.as_str()] { (role.label_fr()) }
                    }
                }
                button type="submit" class="secondary" { "Changer le rôle" }
            }))
        }
    }
}

/// The commune's accounts, with their buttons and the creation form (administrators).
#[utoipa::path(get, path = "/agents/comptes", tag = "pages", params(AccountsQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs")))]
pub async fn accounts_page(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Query(q): Query<AccountsQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    match staff_admin::list_accounts(&state, &staff.user).await {
        Ok(rows) => accounts_view(
            &staff,
            &rows,
            done_notice(q.fait.as_deref()),
            &CreateForm::default(),
            &CreateErrors::default(),
        )
        .into_response(),
        Err(e) => error_page(e.into()),
    }
}

/// Creates an account from the form; errors come back next to their field.
#[utoipa::path(post, path = "/agents/comptes", tag = "pages",
    request_body(content = CreateForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers la liste des comptes"), (status = 403, description = "Jeton CSRF invalide ou rôle insuffisant"),
              (status = 422, content_type = "text/html", body = String)))]
pub async fn create_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Form(f): Form<CreateForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(resp) => return *resp,
    };
    let commune = match params::insee(Some(&f.commune_insee)) {
        Ok(Some(c)) => CommuneCode::Code(c),
        Ok(None) => CommuneCode::Absent,
        Err(_) => CommuneCode::Malformed,
    };
    let input = NewAccount {
        email: f.email.clone(),
        password: f.password.clone(),
        display_name: f.display_name.clone(),
        role: f.role.clone(),
        commune,
    };
    let errors = match staff_admin::create_account(&state, &staff.user, &input).await {
        Ok(Created::Account(_)) => return Redirect::to("/agents/comptes?fait=cree").into_response(),
        Ok(Created::EmailTaken) => CreateErrors {
            email: Some("Un compte existe déjà avec cette adresse.".into()),
            ..CreateErrors::default()
        },
        Err(
            ServiceError::Invalid { field, message, .. } | ServiceError::Malformed { field, message, .. },
        ) => match field {
            Some("password") => CreateErrors {
                password: Some(message),
                ..CreateErrors::default()
            },
            Some("role") => CreateErrors {
                role: Some(message),
                ..CreateErrors::default()
            },
            Some("commune" | "commune_insee") => CreateErrors {
                commune: Some(message),
                ..CreateErrors::default()
            },
            _ => CreateErrors {
                email: Some(message),
                ..CreateErrors::default()
            },
        },
        Err(e) => return error_page(e.into()),
    };
    match staff_admin::list_accounts(&state, &staff.user).await {
        Ok(rows) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            accounts_view(&staff, &rows, None, &f, &errors),
        )
            .into_response(),
        Err(e) => error_page(e.into()),
    }
}

/// One of a row's buttons.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AccountActionForm {
    #[serde(default)]
    csrf: String,
    /// `desactiver`, `reactiver`, `role` (with `role`) or `lien`.
    #[serde(default)]
    action: String,
    role: Option<String>,
}

/// Deactivates (every session of the account ends at once), re-enables, changes the role of an
/// account, or emails it a password link; then back to the list.
#[utoipa::path(post, path = "/agents/comptes/{account_id}", tag = "pages", params(("account_id" = String, Path, description = "Compte")),
    request_body(content = AccountActionForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers la liste des comptes"), (status = 400, description = "Action inconnue"),
              (status = 403, description = "Jeton CSRF invalide ou hors de vos droits"), (status = 404, description = "Compte inconnu"),
              (status = 422, description = "Votre propre compte, ou rôle invalide")))]
pub async fn account_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(id): Path<String>,
    Form(f): Form<AccountActionForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(resp) => return *resp,
    };
    let id = match params::uuid(&id, "account_id") {
        Ok(id) => id,
        Err(e) => return error_page(e),
    };
    let change = |active: Option<bool>, role: Option<String>| AccountChange { active, role };
    let (result, done) = match f.action.as_str() {
        "desactiver" => (
            staff_accounts::update(&state, &staff.user, id, &change(Some(false), None)).await,
            "desactive",
        ),
        "reactiver" => (
            staff_accounts::update(&state, &staff.user, id, &change(Some(true), None)).await,
            "reactive",
        ),
        "role" => (
            staff_accounts::update(&state, &staff.user, id, &change(None, f.role.clone())).await,
            "role",
        ),
        "lien" => (
            staff_accounts::send_reset_link(&state, &staff.user, id).await,
            "lien",
        ),
        _ => {
            return error_page(ApiError::bad_request(
                "invalid_action",
                "Action inconnue : rechargez la page.",
            ))
        }
    };
    match result {
        Ok(_) => Redirect::to(&format!("/agents/comptes?fait={done}")).into_response(),
        Err(e) => error_page(e.into()),
    }
}

// ---------------------------------------------------------------- audit log

/// The journal's filters, as the form sends them.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct JournalQuery {
    /// First day (`YYYY-MM-DD`).
    du: Option<String>,
    /// Last day, included.
    au: Option<String>,
    /// One action.
    action: Option<String>,
    /// One member (account id).
    membre: Option<String>,
}

/// An audit action as staff say it (the code itself for one added later and not named here).
fn action_label(code: &str) -> &str {
    match code {
        "login" => "Connexion",
        "logout" => "Déconnexion",
        "password_change" => "Mot de passe changé",
        "password_reset" => "Mot de passe réinitialisé par lien",
        "password_reset_sent" => "Lien de réinitialisation envoyé",
        "account_create" => "Compte créé",
        "account_update" => "Compte modifié (état ou rôle)",
        "export" => "Export CSV",
        "status_change" => "Statut d'un rendez-vous changé",
        "counter_booking" => "Rendez-vous pris au guichet",
        "staff_move" => "Rendez-vous déplacé par un agent",
        "contact_edit" => "Coordonnées d'un usager corrigées",
        "outbox_retry" => "Courriel renvoyé",
        "rule_add" => "Horaire ajouté",
        "rule_delete" => "Horaire supprimé",
        "week_replace" => "Semaine type remplacée",
        "closure_add" => "Fermeture ajoutée",
        "closure_end" => "Fermeture écourtée",
        "closure_delete" => "Fermeture supprimée",
        "policy_set" => "Règles de réservation changées",
        "release_add" => "Ouverture de créneaux programmée",
        "station_breakdown" => "Panne de poste déclarée",
        "station_add" => "Poste ajouté",
        "station_change" => "Poste modifié",
        "motif_set" => "Motif réglé",
        "site_created" => "Lieu créé",
        "feed_renewed" => "Lien d'agenda renouvelé",
        other => other,
    }
}

/// A detail's name as staff say it (the key itself for one not named here).
fn detail_key(key: &str) -> &str {
    match key {
        "role" => "rôle",
        "was_role" => "rôle avant",
        "active" => "actif",
        "was_active" => "actif avant",
        "from" => "de",
        "to" => "à",
        "rows" => "lignes",
        "reason" => "motif",
        "kind" => "message",
        "attempts" => "essais",
        "last_error" => "erreur",
        "start" => "début",
        "end" => "fin",
        "moved" => "déplacés",
        "cancelled" => "annulés",
        other => other,
    }
}

/// A detail's value in French: statuses, roles and message kinds by their labels, yes or no.
fn detail_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Bool(true) => "oui".into(),
        serde_json::Value::Bool(false) => "non".into(),
        serde_json::Value::Null => "—".into(),
        serde_json::Value::String(s) => {
            if let Ok(st) = s.parse::<crate::domain::status::AppointmentStatus>() {
                st.label_fr().into()
            } else if let Some(r) = Role::parse(s) {
                r.label_fr().into()
            } else {
                kind_label(s).into()
            }
        }
        other => other.to_string(),
    }
}

/// The details of an audit row as "name : value" text (never a secret: the log holds none).
fn details_text(details: &serde_json::Value) -> String {
    match details.as_object() {
        Some(map) if !map.is_empty() => map
            .iter()
            .map(|(k, v)| format!("{} : {}", detail_key(k), detail_value(v)))
            .collect::<Vec<_>>()
            .join(" ; "),
        _ => String::new(),
    }
}

/// Where a filter error goes.
#[derive(Debug, Default)]
struct JournalErrors {
    from: Option<String>,
    to: Option<String>,
    member: Option<String>,
}

/// The audit log with its filters: period, action, member (administrators).
#[utoipa::path(get, path = "/agents/journal", tag = "pages", params(JournalQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 400, content_type = "text/html", body = String), (status = 403, description = "Réservé aux administrateurs")))]
pub async fn journal_page(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Query(q): Query<JournalQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    let mut errors = JournalErrors::default();
    let from = params::date(q.du.as_deref(), "du").unwrap_or_else(|e| {
        errors.from = Some(e.message);
        None
    });
    let to = params::date(q.au.as_deref(), "au").unwrap_or_else(|e| {
        errors.to = Some(e.message);
        None
    });
    let member = match q.membre.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        None => None,
        Some(m) => match params::uuid(m, "membre") {
            Ok(id) => Some(id),
            Err(_) => {
                errors.member = Some("Membre inconnu.".into());
                None
            }
        },
    };
    let (accounts, actions) = match (
        staff_admin::list_accounts(&state, &staff.user).await,
        staff_admin::audit_actions(&state, &staff.user).await,
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error_page(e.into()),
    };
    let bad = errors.from.is_some() || errors.to.is_some() || errors.member.is_some();
    let rows = if bad {
        Vec::new()
    } else {
        let query = staff_admin::AuditQuery {
            from,
            to,
            action: q.action.clone(),
            account: member,
            limit: Some(500),
        };
        match staff_admin::audit_log(&state, &staff.user, &query).await {
            Ok(rows) => rows,
            Err(ServiceError::Malformed { message, .. } | ServiceError::Invalid { message, .. }) => {
                errors.to = Some(message);
                Vec::new()
            }
            Err(e) => return error_page(e.into()),
        }
    };
    let status = if errors.from.is_some() || errors.to.is_some() || errors.member.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let chosen_action = q.action.as_deref().unwrap_or("");
    let chosen_member = q.membre.as_deref().unwrap_or("");
    let body = html! {
        (admin_nav(&staff.token))
        form method="get" action="/agents/journal" role="search" aria-label="Filtrer le journal" {
            (ui::field_error("err-du", errors.from.as_deref()))
            (Input { id: "j-du", name: "du", label: "Du", kind: Some("date"), value: q.du.as_deref(),
                     error_id: errors.from.as_ref().map(|_| "err-du"), ..Input::default() })
            (ui::field_error("err-au", errors.to.as_deref()))
            (Input { id: "j-au", name: "au", label: "Au (inclus)", kind: Some("date"), value: q.au.as_deref(),
                     error_id: errors.to.as_ref().map(|_| "err-au"), ..Input::default() })
            label for="j-action" { "Action" }
            select #j-action name="action" {
                option value="" { "Toutes" }
                @for a in &actions {
                    option value=(a) selected[chosen_action == a] { (action_label(a)) }
                }
            }
            (ui::field_error("err-membre", errors.member.as_deref()))
            label for="j-membre" { "Membre" }
            select #j-membre name="membre" aria-describedby=[errors.member.as_ref().map(|_| "err-membre")] {
                option value="" { "Tous" }
                @for a in &accounts {
                    @let id = a.id.to_string();
                    option value=(id) selected[chosen_member == id] { (a.email) }
                }
            }
            button type="submit" { "Filtrer" }
        }
        (scroll_table("Journal, défilement horizontal", audit_table(&rows, &accounts)))
    };
    (status, page("Journal des actions", body)).into_response()
}

fn audit_table(rows: &[AuditRow], accounts: &[AccountListRow]) -> Markup {
    // An account named by its address rather than its id.
    let account = |t: &str| {
        accounts
            .iter()
            .find(|a| a.id.to_string() == t)
            .map(|a| a.email.as_str())
    };
    html! {
        table {
            caption {
                @if rows.is_empty() { "Aucune action pour ces filtres" } @else { "Actions trouvées : " (rows.len()) " (les plus récentes d'abord)" }
            }
            thead {
                tr {
                    th scope="col" { "Date" }
                    th scope="col" { "Membre" }
                    th scope="col" { "Action" }
                    th scope="col" { "Objet" }
                    th scope="col" { "Détails" }
                }
            }
            tbody {
                @for r in rows {
                    tr {
                        td { (local(r.at)) }
                        td { (r.account_email.as_deref().unwrap_or("—")) }
                        td { (action_label(&r.action)) }
                        td {
                            @if let Some(a) = r.appointment_id {
                                a href={ "/agents/rdv/" (a) } { "Rendez-vous " (a.simple().to_string()[..8]) }
                            } @else if let Some(t) = &r.target {
                                @match account(t) { Some(email) => (email), None => (t) }
                            }
                        }
                        td { (details_text(&r.details)) }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- failed messages

/// An outbox kind as staff say it.
fn kind_label(code: &str) -> &str {
    match code {
        "confirmation" => "Confirmation de rendez-vous",
        "reschedule" => "Rendez-vous déplacé",
        "cancellation" => "Annulation",
        "reminder" => "Rappel",
        "ants_declare" => "Déclaration à l'ANTS",
        "ants_delete" => "Retrait à l'ANTS",
        "ants_warning" => "Alerte ANTS",
        "staff_password_reset" => "Lien de mot de passe d'un agent",
        other => other,
    }
}

/// An address shown partly (the first letter and the domain): enough to recognise it, not to
/// copy a citizen's address from a screen.
fn masked(email: &str) -> String {
    match email.split_once('@') {
        Some((user, domain)) => {
            let first: String = user.chars().take(1).collect();
            format!("{first}…@{domain}")
        }
        None => "…".into(),
    }
}

/// Whether the list was sent back after a resend.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FailuresQuery {
    /// Set after a message was put back in the queue.
    renvoye: Option<String>,
}

/// The messages that failed for good, each with a "Renvoyer" button (administrators).
#[utoipa::path(get, path = "/agents/courriels-en-echec", tag = "pages", params(FailuresQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 403, description = "Réservé aux administrateurs")))]
pub async fn failures_page(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Query(q): Query<FailuresQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    let rows = match staff_admin::outbox_failures(&state, &staff.user).await {
        Ok(r) => r,
        Err(e) => return error_page(e.into()),
    };
    let token = csrf(&staff.token);
    let body = html! {
        (admin_nav(&staff.token))
        @if q.renvoye.is_some() {
            (ui::success("Message remis dans la file d'envoi : il part dans les prochaines secondes."))
        }
        p.hint { "Messages que le service n'a pas pu remettre malgré plusieurs essais. Corrigez la cause (adresse, serveur de messagerie) puis renvoyez-les." }
        (scroll_table("Courriels en échec, défilement horizontal", failures_table(&rows, &token)))
    };
    page("Courriels en échec", body).into_response()
}

fn failures_table(rows: &[FailureRow], token: &str) -> Markup {
    html! {
        table {
            caption { @if rows.is_empty() { "Aucun message en échec" } @else { "Messages en échec : " (rows.len()) } }
            thead {
                tr {
                    th scope="col" { "Créé le" }
                    th scope="col" { "Message" }
                    th scope="col" { "Destinataire" }
                    th scope="col" { "Rendez-vous" }
                    th scope="col" { "Essais" }
                    th scope="col" { "Erreur" }
                    th scope="col" { "Action" }
                }
            }
            tbody {
                @for r in rows {
                    tr {
                        td { (local(r.created_at)) }
                        td { (kind_label(&r.kind)) }
                        td { @match &r.recipient { Some(e) => (masked(e)), None => "—" } }
                        td { (r.reference.as_deref().unwrap_or("—")) }
                        td { (r.attempts) }
                        td { (r.last_error.as_deref().unwrap_or("")) }
                        td {
                            // A password link expires within the hour: a new one is sent instead.
                            @if r.kind == OutboxKind::StaffPasswordReset.code() {
                                a href="/agents/comptes" { "Envoyer un nouveau lien depuis les comptes" }
                            } @else {
                                (ui::staff_form(Some(&format!("/agents/courriels-en-echec/{}/renvoyer", r.id)), token, true, html! {
                                    button type="submit" aria-label={ "Renvoyer : " (kind_label(&r.kind)) " " (r.reference.as_deref().unwrap_or("")) } { "Renvoyer" }
                                }))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The resend button's field.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RetryForm {
    #[serde(default)]
    csrf: String,
}

/// Puts a failed message back in the queue (same service as the API), then back to the list.
#[utoipa::path(post, path = "/agents/courriels-en-echec/{id}/renvoyer", tag = "pages", params(("id" = String, Path, description = "Message")),
    request_body(content = RetryForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Vers la liste"), (status = 403, description = "Jeton CSRF invalide ou rôle insuffisant"),
              (status = 404, description = "Message inconnu ou déjà remis en file")))]
pub async fn retry_post(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(id): Path<String>,
    Form(f): Form<RetryForm>,
) -> Response {
    let staff = match checked(staff, &f.csrf) {
        Ok(s) => s,
        Err(resp) => return *resp,
    };
    let Some(id) = id.trim().parse::<i64>().ok().filter(|n| *n > 0) else {
        return error_page(ApiError::bad_request(
            "invalid_id",
            "Identifiant de message invalide.",
        ));
    };
    match staff_admin::retry_failed_message(&state, &staff.user, id).await {
        Ok(_) => Redirect::to("/agents/courriels-en-echec?renvoye=1").into_response(),
        Err(e) => error_page(e.into()),
    }
}

// ---------------------------------------------------------------- CSV export

/// The export's period, as the form sends it.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// First day (`YYYY-MM-DD`).
    du: Option<String>,
    /// Last day, included.
    au: Option<String>,
}

fn export_view(
    site: &crate::db::territory::SiteRow,
    session: &str,
    from: &str,
    to: &str,
    error: Option<(&str, &str)>,
) -> Markup {
    let err = |field: &str| error.filter(|(f, _)| *f == field).map(|(_, m)| m);
    let body = html! {
        (logout_button(session))
        p { "Les rendez-vous du lieu sur la période, dans un fichier CSV (séparateur point-virgule) que les tableurs ouvrent, avec les statuts et motifs en toutes lettres." }
        form method="get" action={ "/agents/lieux/" (site.id) "/export.csv" } {
            (ui::field_error("err-du", err("du")))
            (Input { id: "e-du", name: "du", label: "Du", kind: Some("date"), required: true, value: Some(from),
                     error_id: err("du").map(|_| "err-du"), ..Input::default() })
            (ui::field_error("err-au", err("au")))
            (Input { id: "e-au", name: "au", label: "Au (inclus)", kind: Some("date"), required: true, value: Some(to),
                     error_id: err("au").map(|_| "err-au"), ..Input::default() })
            button type="submit" { "Exporter (CSV)" }
        }
        p { a href={ "/agents/lieux/" (site.id) } { "Retour à la journée" } }
    };
    page(&format!("Exporter les rendez-vous – {}", site.name), body)
}

/// Two optional days from a period form.
pub(super) type DateRange = (Option<NaiveDate>, Option<NaiveDate>);

/// A period form's `du` and `au` fields read as days, or the field that is wrong and why.
pub(super) fn date_range(du: &str, au: &str) -> Result<DateRange, (&'static str, String)> {
    match (params::date(Some(du), "du"), params::date(Some(au), "au")) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(e), _) => Err(("du", e.message)),
        (_, Err(e)) => Err(("au", e.message)),
    }
}

/// The export form of a site (any staff member who sees it), this month by default.
#[utoipa::path(get, path = "/agents/lieux/{site_id}/export", tag = "pages", params(("site_id" = String, Path, description = "Lieu")),
    responses((status = 200, content_type = "text/html", body = String), (status = 303, description = "Vers la connexion"),
              (status = 404, description = "Lieu inconnu")))]
pub async fn export_page(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    let site = match params::uuid(&site_id, "site_id") {
        Ok(id) => match crate::service::staff_access::visible_site(&state, &staff.user, id).await {
            Ok(s) => s,
            Err(e) => return error_page(e.into()),
        },
        Err(e) => return error_page(e),
    };
    let today = state.clock.now().with_timezone(&TZ).date_naive();
    let first = today.with_day0(0).unwrap_or(today);
    let last = first
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(today);
    export_view(&site, &staff.token, &first.to_string(), &last.to_string(), None).into_response()
}

/// The CSV file itself (French headers and labels, formulas neutralised), downloaded with the
/// session cookie; audited by the service like the API's export. Bad dates: the form again,
/// with the error next to its field.
#[utoipa::path(get, path = "/agents/lieux/{site_id}/export.csv", tag = "pages", params(("site_id" = String, Path, description = "Lieu"), ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 303, description = "Vers la connexion"),
              (status = 400, content_type = "text/html", body = String), (status = 404, description = "Lieu inconnu")))]
pub async fn export_csv(
    State(state): State<AppState>,
    staff: Result<Staff, ApiError>,
    Path(site_id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Response {
    let Ok(staff) = staff else {
        return Redirect::to("/agents/connexion").into_response();
    };
    let site_id = match params::uuid(&site_id, "site_id") {
        Ok(id) => id,
        Err(e) => return error_page(e),
    };
    let (du, au) = (q.du.as_deref().unwrap_or(""), q.au.as_deref().unwrap_or(""));
    let refuse = |site: &crate::db::territory::SiteRow, field: &str, message: &str| {
        (
            StatusCode::BAD_REQUEST,
            export_view(site, &staff.token, du, au, Some((field, message))),
        )
            .into_response()
    };
    let dates = date_range(du, au);
    let (from, to) = match dates {
        Ok((Some(a), Some(b))) => (a, b),
        other => {
            let site = match crate::service::staff_access::visible_site(&state, &staff.user, site_id).await {
                Ok(s) => s,
                Err(e) => return error_page(e.into()),
            };
            return match other {
                Err((field, message)) => refuse(&site, field, &message),
                Ok((None, _)) => refuse(&site, "du", "Date de début requise."),
                _ => refuse(&site, "au", "Date de fin requise."),
            };
        }
    };
    match crate::service::agenda::export_rows(&state, &staff.user, site_id, Some(from), Some(to)).await {
        Ok(export) => {
            let csv = crate::formats::csv::appointments(&export.rows, export.tz);
            let disposition = format!(
                "attachment; filename=\"rendez-vous-{}-{}.csv\"",
                export.from, export.to
            );
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                csv,
            )
                .into_response()
        }
        Err(ServiceError::Malformed { message, .. } | ServiceError::Invalid { message, .. }) => {
            match crate::service::staff_access::visible_site(&state, &staff.user, site_id).await {
                Ok(site) => refuse(&site, "au", &message),
                Err(e) => error_page(e.into()),
            }
        }
        Err(e) => error_page(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked_and_codes_said_in_french() {
        assert_eq!(masked("camille.durand@example.fr"), "c…@example.fr");
        assert_eq!(masked("pas-une-adresse"), "…");
        assert_eq!(kind_label("confirmation"), "Confirmation de rendez-vous");
        assert_eq!(action_label("account_update"), "Compte modifié (état ou rôle)");
        assert_eq!(role_label("commune_admin"), "Administrateur de la commune");
        assert_eq!(done_notice(Some("<script>")), None);
        let details = serde_json::json!({"active": false, "role": "agent", "to": "no_show", "rows": 3});
        assert_eq!(
            details_text(&details),
            "actif : non ; rôle : Agent ; lignes : 3 ; à : absent"
        );
    }
}
