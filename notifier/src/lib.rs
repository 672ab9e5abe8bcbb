//! The notifier: drains the outbox that booking-service fills in the same transaction as each
//! booking, move and cancellation, and sends the citizen's emails.

pub mod ants_worker;
pub mod config;
pub mod mail;
pub mod ops;
pub mod sms;
pub mod transport;
pub mod worker;
