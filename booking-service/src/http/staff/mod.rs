//! The staff API under `/api/v1/staff/`: login, agendas, statuses, counter bookings, export, audit.
//! Every route checks the role and the commune; another commune's resources answer 404.

pub mod account_lifecycle;
pub mod admin;
pub mod agenda;
pub mod appointment_edit;
pub mod appointments;
pub mod auth;
pub mod calendar;
pub mod calendar_settings;
pub mod feed;
pub mod platform;
pub mod stats;

use crate::error::ApiError;
use axum::http::StatusCode;

pub use crate::request::staff_session::{Staff, COOKIE};

/// 403: the member's role does not allow this.
pub fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "Votre rôle ne permet pas cette action.",
    )
}

/// 404 for anything of another commune: its existence is not revealed.
pub fn not_yours(what: &'static str) -> ApiError {
    ApiError::not_found(what, "Introuvable.")
}
