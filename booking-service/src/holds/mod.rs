//! Holds: a slot kept for a citizen while they fill the form.
//!
//! The hold itself is a signed token ([`token`]), so confirmation never depends on Redis remembering
//! it; Redis ([`store`]) only keeps the reservation that spares the slot from other citizens and
//! limits how many slots one client holds; each instance mirrors the live holds in memory ([`mirror`]). Correctness never depends on Redis: the database's
//! exclusion constraint decides at confirmation.

pub mod mirror;
pub mod store;
pub mod token;
