//! What only platform administrators do: open a new site in a commune of the territory.

use super::error::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::{audit, platform};
use crate::staff::{Role, StaffUser};
use serde_json::json;
use uuid::Uuid;

/// A new site as typed.
#[derive(Debug, Clone, Default)]
pub struct NewSite {
    pub commune_insee: String,
    pub name: String,
    pub address_line: String,
    pub postcode: String,
    pub city: String,
    /// Defaults to the commune's coordinates.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// 1 to 20 stations, named "Poste 1"….
    pub stations: i64,
}

/// A text field, trimmed, required, at most `max` characters.
fn required(raw: &str, field: &'static str, label: &str, max: usize) -> ServiceResult<String> {
    let v = raw.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(ServiceError::invalid(
            "invalid_field",
            field,
            format!("{label} : obligatoire, {max} caractères au plus."),
        ));
    }
    Ok(v.to_string())
}

/// An optional text field, trimmed; empty is none.
fn optional(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|v| !v.is_empty())
}

/// Creates a site, its stations, the default policy and motifs (platform administrators only);
/// the commune's time zone comes from its département. Audited. Returns the new site's id.
pub async fn create_site(state: &AppState, staff: &StaffUser, input: &NewSite) -> ServiceResult<Uuid> {
    if staff.role != Role::PlatformAdmin {
        return Err(ServiceError::Forbidden);
    }
    let insee = input.commune_insee.trim().to_ascii_uppercase();
    let commune = platform::commune(&state.pool, &insee).await?.ok_or_else(|| {
        ServiceError::invalid(
            "unknown_commune",
            "commune_insee",
            "Commune inconnue : code INSEE d'une commune du territoire (ex. 68224).",
        )
    })?;
    let name = required(&input.name, "name", "Nom du lieu", 120)?;
    let address = required(&input.address_line, "address_line", "Adresse", 200)?;
    let postcode = input.postcode.trim();
    if postcode.len() != 5 || !postcode.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ServiceError::invalid(
            "invalid_postcode",
            "postcode",
            "Code postal : 5 chiffres.",
        ));
    }
    let city = required(&input.city, "city", "Ville", 120)?;
    if !(1..=20).contains(&input.stations) {
        return Err(ServiceError::invalid(
            "invalid_stations",
            "stations",
            "Nombre de postes : de 1 à 20.",
        ));
    }
    let (latitude, longitude) = match (
        input.latitude.or(commune.latitude),
        input.longitude.or(commune.longitude),
    ) {
        (Some(lat), Some(lon)) if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => {
            (lat, lon)
        }
        _ => {
            return Err(ServiceError::invalid(
                "invalid_coordinates",
                "latitude",
                "Coordonnées : latitude de -90 à 90, longitude de -180 à 180 (la commune n'en a pas).",
            ))
        }
    };
    let email = optional(input.email.as_deref());
    if let Some(e) = email {
        crate::domain::citizen::Email::parse(e)
            .map_err(|_| ServiceError::invalid("invalid_email", "email", "Adresse électronique invalide."))?;
    }
    let id = Uuid::new_v4();
    let row = platform::NewSiteRow {
        id,
        commune_insee: &insee,
        name: &name,
        address_line: &address,
        postcode,
        city: &city,
        latitude,
        longitude,
        timezone: crate::domain::departments::timezone(&commune.department_code),
        email,
        phone: optional(input.phone.as_deref()),
        stations: u8::try_from(input.stations).unwrap_or(1),
    };
    platform::insert_site(&state.pool, &row).await?;
    state.read_model.invalidate_territory();
    audit::record(
        &state.pool,
        staff,
        Some(&insee),
        "site_created",
        None,
        Some(&id.to_string()),
        json!({"name": name, "stations": input.stations, "commune": commune.name}),
        state.clock.now(),
    )
    .await?;
    Ok(id)
}
