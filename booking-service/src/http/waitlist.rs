//! `/api/v1/waitlist`: subscribe when nothing suits, see the subscription and its offer, accept the
//! offered slot, unsubscribe.

use super::appointments::{AppointmentOut, CitizenIn};
use super::availability::rfc3339_local;
use crate::app::AppState;
use crate::domain::motif::Motif;
use crate::domain::party::PartySize;
use crate::domain::waitlist::WaitlistStatus;
use crate::error::{ApiError, ApiResult};
use crate::request::client::{check_write_rate, client_key, PeerAddr};
use crate::request::extract::{Json, Path};
use crate::request::params;
use crate::service::booking::CitizenInput;
use crate::service::waitlist::{self, AcceptInput, EntryView, SubscribeInput, Where};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A subscription: a site, or a commune and a radius.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WaitlistRequest {
    /// One site (UUID); or `commune_insee` with `radius_km`.
    pub site_id: Option<String>,
    /// Any equipped site within `radius_km` of this commune (INSEE code).
    pub commune_insee: Option<String>,
    pub radius_km: Option<i32>,
    /// Motif code.
    pub motif: String,
    pub persons: i64,
    pub email: String,
    /// First and last day the citizen can come (YYYY-MM-DD).
    pub from: String,
    pub to: String,
}

/// A new subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitlistCreated {
    /// The subscription's token (shown once; only its hash is stored).
    pub token: String,
    /// The citizen's page to see, accept or leave.
    pub manage_url: String,
}

/// A slot held for the subscriber.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfferOut {
    pub site_id: Uuid,
    pub start: String,
    pub end: String,
    /// Accept before this, or the slot goes to the next subscriber.
    pub expires_at: String,
}

/// A subscription as its token shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitlistOut {
    pub status: WaitlistStatus,
    /// Place in the list while waiting or offered.
    pub position: Option<i64>,
    pub motif: Motif,
    pub persons: PartySize,
    pub from: String,
    pub to: String,
    pub offer: Option<OfferOut>,
}

impl From<EntryView> for WaitlistOut {
    fn from(v: EntryView) -> Self {
        Self {
            status: v.status,
            position: v.position,
            motif: v.motif,
            persons: v.persons,
            from: v.from.to_string(),
            to: v.to.to_string(),
            offer: v.offer.map(|o| OfferOut {
                site_id: o.site_id,
                start: rfc3339_local(o.start.to_utc(), o.start.timezone()),
                end: rfc3339_local(o.end.to_utc(), o.end.timezone()),
                expires_at: rfc3339_local(o.expires_at.to_utc(), o.expires_at.timezone()),
            }),
        }
    }
}

fn subscribe_input(req: &WaitlistRequest) -> ApiResult<SubscribeInput> {
    let place =
        match (&req.site_id, &req.commune_insee, req.radius_km) {
            (Some(site), None, None) => Where::Site(params::uuid(site, "site_id")?),
            (None, Some(insee), Some(radius_km)) => Where::Near {
                commune_insee: insee.trim().to_string(),
                radius_km,
            },
            _ => return Err(ApiError::unprocessable(
                "waitlist_place",
                "Indiquez soit un lieu (site_id), soit une commune et un rayon (commune_insee et radius_km).",
            )
            .with_field("site_id")),
        };
    let date = |raw: &str, field| {
        params::date(Some(raw), field)?.ok_or_else(|| {
            ApiError::unprocessable("date_missing", "Date attendue (AAAA-MM-JJ).").with_field(field)
        })
    };
    Ok(SubscribeInput {
        place,
        motif: params::motif(Some(&req.motif), Motif::Cni)?,
        persons: req.persons,
        email: req.email.clone(),
        from: date(&req.from, "from")?,
        to: date(&req.to, "to")?,
    })
}

/// Join the waiting list.
#[utoipa::path(post, path = "/api/v1/waitlist", tag = "public", request_body = WaitlistRequest,
    responses((status = 201, body = WaitlistCreated), (status = 404, description = "Lieu ou commune inconnus"),
              (status = 422, description = "Champ invalide")))]
pub async fn subscribe(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Json(req): Json<WaitlistRequest>,
) -> ApiResult<(StatusCode, axum::Json<WaitlistCreated>)> {
    check_write_rate(&state, &client_key(&state, &headers, &peer)).await?;
    let s = waitlist::subscribe(&state, &subscribe_input(&req)?).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(WaitlistCreated {
            token: s.token,
            manage_url: s.manage_url,
        }),
    ))
}

/// A subscription, its place and its offer.
#[utoipa::path(get, path = "/api/v1/waitlist/{token}", tag = "public",
    params(("token" = String, Path, description = "Le jeton de l'inscription")),
    responses((status = 200, body = WaitlistOut), (status = 404, description = "Inscription introuvable")))]
pub async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<axum::Json<WaitlistOut>> {
    Ok(axum::Json(waitlist::view(&state, &token).await?.into()))
}

/// Accepting an offer: the citizen and numbers, as for a confirmation.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptRequest {
    pub citizen: CitizenIn,
    #[serde(default)]
    pub pre_demande_numbers: Vec<String>,
    #[serde(default)]
    pub confirm_other_appointments: bool,
    /// The reminder by SMS too, to `citizen.phone`.
    #[serde(default)]
    pub sms_reminder: bool,
}

/// Book the offered slot.
#[utoipa::path(post, path = "/api/v1/waitlist/{token}/accept", tag = "public", request_body = AcceptRequest,
    params(("token" = String, Path, description = "Le jeton de l'inscription")),
    responses((status = 201, body = AppointmentOut), (status = 404, description = "Inscription introuvable"),
              (status = 409, description = "Numéro déjà utilisé ou limite atteinte"),
              (status = 410, description = "Proposition expirée ou déjà utilisée"),
              (status = 422, description = "Champ invalide")))]
pub async fn accept(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
    Json(req): Json<AcceptRequest>,
) -> ApiResult<(StatusCode, axum::Json<AppointmentOut>)> {
    check_write_rate(&state, &client_key(&state, &headers, &peer)).await?;
    let input = AcceptInput {
        citizen: CitizenInput {
            first_name: req.citizen.first_name,
            last_name: req.citizen.last_name,
            email: Some(req.citizen.email),
            phone: req.citizen.phone,
        },
        pre_demande_numbers: req.pre_demande_numbers,
        confirm_other_appointments: req.confirm_other_appointments,
        sms_reminder: req.sms_reminder,
    };
    let booked = waitlist::accept(&state, &token, &input).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(AppointmentOut::new(&state, booked)),
    ))
}

/// Leave the waiting list (a live offer is withdrawn).
#[utoipa::path(delete, path = "/api/v1/waitlist/{token}", tag = "public",
    params(("token" = String, Path, description = "Le jeton de l'inscription")),
    responses((status = 204, description = "Désinscrit"), (status = 404, description = "Inscription introuvable")))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> ApiResult<StatusCode> {
    check_write_rate(&state, &client_key(&state, &headers, &peer)).await?;
    waitlist::unsubscribe(&state, &token).await?;
    Ok(StatusCode::NO_CONTENT)
}
