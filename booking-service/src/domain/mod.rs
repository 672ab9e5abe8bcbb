//! Pure domain logic: no I/O, no clock reads. Everything here is deterministic given its inputs,
//! which is what lets the slot engine be compared with a naive reference under proptest.

pub mod citizen;
pub mod departments;
pub mod french;
pub mod gazetteer;
pub mod geo;
pub mod holidays;
pub mod intervals;
pub mod motif;
pub mod party;
pub mod slots;
pub mod status;
pub mod text;
pub mod tz;
pub mod waitlist;
