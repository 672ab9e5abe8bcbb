//! The service's one error type and its JSON shape: `{"error": {"code", "message", "field"?}}`.
//!
//! Client errors carry a stable snake_case code; database and unexpected errors are logged and
//! answered with a generic 500 that leaks nothing.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human text (French for what citizens see).
    pub message: String,
    /// The offending input field, when there is one.
    pub field: Option<&'static str>,
    /// Extra members merged into the error object (e.g. `alternatives`).
    pub extra: Option<Value>,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            extra: None,
            retry_after: None,
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422: well-formed but not acceptable.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 404: no such thing.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 409: conflicts with the current state.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 500 with nothing of the cause shown; the cause is logged.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Erreur interne, veuillez réessayer.",
        )
    }

    /// Names the input field at fault.
    pub fn with_field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    /// Adds members to the error object.
    pub fn with_extra(mut self, extra: Value) -> Self {
        self.extra = Some(extra);
        self
    }

    /// Adds a `Retry-After` header.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut obj = serde_json::json!({"code": self.code, "message": self.message});
        if let Some(field) = self.field {
            obj["field"] = Value::from(field);
        }
        if let Some(Value::Object(extra)) = self.extra {
            for (k, v) in extra {
                obj[k] = v;
            }
        }
        let mut resp = (self.status, axum::Json(serde_json::json!({ "error": obj }))).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Whether PostgreSQL refused a text value it cannot store (a NUL byte, an invalid sequence):
/// the client's input, not our fault.
pub fn is_unstorable_text(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "22021" || c == "22P05")
}

/// Whether the error says the database cannot be reached right now rather than that the request
/// was wrong: the socket failed or closed (a restart, a failover, a cut), or the server refused
/// or ended the session while shutting down, starting up or recovering (SQLSTATE class 08
/// "connection exception", 57P01-57P03). The pool replaces such connections by itself.
pub fn is_database_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            true
        }
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        crate::service::ServiceError::from(e).into()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        crate::service::ServiceError::from(e).into()
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(
            "invalid_query",
            format!("Paramètres invalides : {}", r.body_text()),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request("invalid_path", format!("Chemin invalide : {}", r.body_text()))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = match r {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(
            status,
            "invalid_body",
            format!("Corps de requête invalide : {}", r.body_text()),
        )
    }
}

/// The JSON answer to a domain error: the status is chosen here, once, for the API and the pages.
impl From<crate::service::ServiceError> for ApiError {
    fn from(e: crate::service::ServiceError) -> Self {
        use crate::service::ServiceError as E;
        let with_field = |err: ApiError, field: Option<&'static str>| match field {
            Some(f) => err.with_field(f),
            None => err,
        };
        match e {
            E::Invalid { code, field, message } => with_field(ApiError::unprocessable(code, message), field),
            E::Malformed { code, field, message } => with_field(ApiError::bad_request(code, message), field),
            E::NotFound { code, message } => ApiError::not_found(code, message),
            E::Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Votre rôle ne permet pas cette action.",
            ),
            E::Unauthenticated => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Connexion requise (session absente ou expirée).",
            ),
            E::BadCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Adresse ou mot de passe incorrect. Après 5 essais, patientez 15 minutes.",
            ),
            E::TooManyAttempts { retry_after_secs } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "Trop de tentatives de connexion : patientez une minute.",
            )
            .with_retry_after(retry_after_secs),
            E::HoldInvalid => {
                ApiError::bad_request("invalid_hold", "Réservation temporaire invalide ou altérée.")
                    .with_field("hold_id")
            }
            E::HoldExpired => ApiError::new(
                StatusCode::GONE,
                "hold_expired",
                "Le délai de réservation est dépassé : choisissez à nouveau un créneau.",
            )
            .with_field("hold_id"),
            E::OfferGone => ApiError::new(
                StatusCode::GONE,
                "offer_gone",
                "Ce créneau ne vous est plus réservé : la proposition a expiré ou a déjà été utilisée.",
            ),
            E::HoldAlreadyUsed => ApiError::conflict(
                "hold_already_used",
                "Ce créneau a déjà été confirmé avec cette réservation.",
            )
            .with_field("hold_id"),
            E::SlotTaken { alternatives } => {
                let alts: Vec<Value> = alternatives
                    .iter()
                    .map(|a| {
                        serde_json::json!({
                            "start": a.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                            "end": a.end.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                        })
                    })
                    .collect();
                ApiError::conflict(
                    "slot_unavailable",
                    "Ce créneau vient d'être pris. Voici les prochains créneaux libres.",
                )
                .with_extra(serde_json::json!({ "alternatives": alts }))
            }
            E::SlotNotOffered => ApiError::unprocessable(
                "slot_not_offered",
                "Ce créneau n'est pas proposé (hors horaires, fermé, trop proche ou pas encore ouvert).",
            )
            .with_field("start"),
            E::TooManyHolds => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_holds",
                "Vous retenez déjà le nombre maximal de créneaux. Confirmez ou libérez-en un.",
            )
            .with_retry_after(60),
            E::PreDemandeInUse { number } => ApiError::conflict(
                "pre_demande_in_use",
                format!("Le numéro de pré-demande {number} est déjà utilisé pour un autre rendez-vous."),
            )
            .with_field("pre_demande_numbers")
            .with_extra(serde_json::json!({ "number": number })),
            E::EmailLimit { max } => ApiError::conflict(
                "email_limit_reached",
                format!(
                    "Cette adresse a déjà {max} rendez-vous à venir : annulez-en un avant d'en prendre un autre."
                ),
            )
            .with_field("citizen.email"),
            E::SiteDayLimit { max } => ApiError::conflict(
                "site_day_limit_reached",
                format!(
                    "Vous avez déjà {max} rendez-vous dans cette mairie ce jour-là. Un seul rendez-vous peut accueillir toute la famille : choisissez le nombre de personnes."
                ),
            )
            .with_field("citizen.email"),
            E::NotModifiable { status } => ApiError::conflict(
                "not_modifiable",
                format!("Ce rendez-vous ne peut plus être modifié (statut : {status})."),
            ),
            E::InvalidTransition { from, to } => ApiError::conflict(
                "invalid_transition",
                format!("Impossible de passer de « {from} » à « {to} »."),
            ),
            E::DeadlinePassed { at } => ApiError::conflict(
                "deadline_passed",
                format!(
                    "Le rendez-vous ne peut plus être modifié en ligne depuis le {} : contactez la mairie.",
                    at.format("%d/%m/%Y à %H:%M")
                ),
            ),
            E::HoldMismatch { field } => ApiError::unprocessable(
                "hold_mismatch",
                "Le nouveau créneau doit être pour le même motif et le même nombre de personnes.",
            )
            .with_field(field),
            E::Ants {
                code,
                message,
                field,
                extra,
            } => {
                let status = if code == "pre_demande_booked_elsewhere" {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                };
                ApiError::new(status, code, message)
                    .with_field(field)
                    .with_extra(extra)
            }
            E::AntsUnavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ants_unavailable",
                "Le service de l'ANTS ne répond pas : réessayez dans quelques minutes.",
            )
            .with_retry_after(60),
            E::Overloaded => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Service très sollicité, réessayez dans un instant.",
            )
            .with_retry_after(2),
            E::DatabaseUnavailable => {
                tracing::warn!("database unreachable; answered 503");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service momentanément indisponible : réessayez dans quelques secondes.",
                )
                .with_retry_after(5)
            }
            E::Internal(cause) => ApiError::internal(cause),
        }
    }
}
