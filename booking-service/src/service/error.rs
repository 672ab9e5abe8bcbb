//! What went wrong in an operation, in domain terms. Each variant carries what the citizen or the
//! agent needs to know (the alternatives to a taken slot, the number in use, the deadline); the
//! JSON API picks a status and a code from it ([`crate::error`]), the pages a page. Nobody reads
//! an HTTP code back to decide what to do.

use crate::domain::citizen::FieldError;
use crate::domain::status::AppointmentStatus;
use chrono::DateTime;
use chrono_tz::Tz;

/// A free start offered instead of a taken one, in the site's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    /// First instant.
    pub start: DateTime<Tz>,
    /// End (exclusive).
    pub end: DateTime<Tz>,
}

/// Why an operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// An input was refused by a rule (`code` is stable, `message` in French).
    #[error("invalid input ({code})")]
    Invalid {
        code: &'static str,
        field: Option<&'static str>,
        message: String,
    },
    /// An input could not even be read (malformed).
    #[error("malformed input ({code})")]
    Malformed {
        code: &'static str,
        field: Option<&'static str>,
        message: String,
    },
    /// No such thing, or one of another commune (its existence is not revealed).
    #[error("not found ({code})")]
    NotFound { code: &'static str, message: String },
    /// The member's role does not allow this.
    #[error("forbidden")]
    Forbidden,
    /// Not logged in, or the session is over.
    #[error("unauthenticated")]
    Unauthenticated,
    /// Wrong email or password, or this client is locked out for a while (never says which).
    #[error("bad credentials")]
    BadCredentials,
    /// Too many login attempts from one client.
    #[error("too many attempts")]
    TooManyAttempts { retry_after_secs: u64 },
    /// A hold token that was forged or altered.
    #[error("invalid hold")]
    HoldInvalid,
    /// A hold whose time is over.
    #[error("hold expired")]
    HoldExpired,
    /// The hold was already used to book.
    #[error("hold already used")]
    HoldAlreadyUsed,
    /// Someone else took the slot; here are the next free ones.
    #[error("slot taken")]
    SlotTaken { alternatives: Vec<Alternative> },
    /// The start is never offered (off grid, closed, holiday, too soon, not released).
    #[error("slot not offered")]
    SlotNotOffered,
    /// The waiting-list offer was accepted already, withdrawn, or has lapsed.
    #[error("offer gone")]
    OfferGone,
    /// This client already holds the most slots allowed.
    #[error("too many holds")]
    TooManyHolds,
    /// A pré-demande number is already in a live appointment.
    #[error("pré-demande number in use")]
    PreDemandeInUse { number: String },
    /// This email address has the most live appointments allowed.
    #[error("email limit reached")]
    EmailLimit { max: i64 },
    /// This person already has the most live appointments allowed at this site that day.
    #[error("site-day limit reached")]
    SiteDayLimit { max: i64 },
    /// The appointment's status does not allow this.
    #[error("not modifiable in status {status}")]
    NotModifiable { status: AppointmentStatus },
    /// Staff cannot move an appointment from this status to that one.
    #[error("invalid transition {from} → {to}")]
    InvalidTransition {
        from: AppointmentStatus,
        to: AppointmentStatus,
    },
    /// The online deadline for changes is over.
    #[error("deadline passed")]
    DeadlinePassed { at: DateTime<Tz> },
    /// A move must keep the motif and the party size.
    #[error("hold does not match the appointment ({field})")]
    HoldMismatch { field: &'static str },
    /// ANTS refused a pré-demande number or needs the citizen's confirmation.
    #[error("ANTS refusal ({code})")]
    Ants {
        code: &'static str,
        message: String,
        field: &'static str,
        extra: serde_json::Value,
    },
    /// ANTS could not be reached and the policy is to refuse.
    #[error("ANTS unavailable")]
    AntsUnavailable,
    /// The database pool is exhausted: try again in a moment.
    #[error("overloaded")]
    Overloaded,
    /// The database cannot be reached (restarting, failing over, network cut): nothing was
    /// done, or the transaction was rolled back with its connection; the same request succeeds
    /// once it is back, without restarting anything here.
    #[error("database unavailable")]
    DatabaseUnavailable,
    /// Anything else: logged, answered generically.
    #[error("internal: {0}")]
    Internal(String),
}

/// Result of a service operation.
pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    /// A refused input.
    pub fn invalid(code: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            field: Some(field),
            message: message.into(),
        }
    }

    /// A malformed input.
    pub fn malformed(code: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        Self::Malformed {
            code,
            field: Some(field),
            message: message.into(),
        }
    }

    /// Nothing there (or nothing of yours).
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }
}

impl From<FieldError> for ServiceError {
    fn from(e: FieldError) -> Self {
        Self::Invalid {
            code: "invalid_field",
            field: Some(e.field),
            message: e.message,
        }
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        if crate::error::is_unstorable_text(&e) {
            return Self::Malformed {
                code: "invalid_text",
                field: None,
                message: "Texte invalide (caractère nul ou non imprimable).".into(),
            };
        }
        if crate::error::is_database_unreachable(&e) {
            return Self::DatabaseUnavailable;
        }
        match e {
            sqlx::Error::PoolTimedOut => Self::Overloaded,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<anyhow::Error> for ServiceError {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<sqlx::Error>() {
            Ok(db) => db.into(),
            Err(e) => Self::Internal(format!("{e:#}")),
        }
    }
}
