//! The operations of the service, one module per capability. Each takes typed inputs and returns
//! a [`ServiceError`] in domain terms; `http/` (JSON) and `web/` (pages) parse, call one of these,
//! and render. Rules live here or in `domain/`; SQL lives in `db/`.

pub mod agenda;
pub mod availability;
pub mod booking;
pub mod calendar_admin;
pub mod citizen_data;
pub mod error;
pub mod holds;
pub mod management;
pub mod platform;
pub mod site_stats;
pub mod staff_access;
pub mod staff_accounts;
pub mod staff_admin;
pub mod staff_appointments;
pub mod staff_feed;
pub mod staff_moves;
pub mod staff_pages;
pub mod staff_sessions;
pub mod waitlist;

pub use error::{Alternative, ServiceError, ServiceResult};
