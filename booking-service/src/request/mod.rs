//! What the JSON API and the pages both read from a request: the client's identity for quotas,
//! extractors whose rejections are JSON errors, parsed query and path values, the staff session.
//! `http/` and `web/` share these and never import each other.

pub mod client;
pub mod extract;
pub mod params;
pub mod staff_session;
