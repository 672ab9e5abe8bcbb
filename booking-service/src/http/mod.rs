//! The JSON API: one module per resource. Each handler parses, calls one `service` function and
//! answers JSON; the router that mounts them (with the pages) is in [`crate::app`].

pub mod ants;
pub mod appointments;
pub mod availability;
pub mod communes;
pub mod holds;
pub mod manage;
pub mod metrics;
pub mod ops;
pub mod sites;
pub mod sms;
pub mod staff;
pub mod waitlist;

pub use crate::app::{app, method_not_allowed, not_found, openapi, run, AppState};
// The shared request parsing moved to `crate::request`; these names keep old paths working.
pub use crate::request::{client, extract, params};
