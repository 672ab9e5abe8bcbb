//! CNI and passport appointment service for the mairies of an agglomeration.
//!
//! - [`domain`]: pure logic (slots, holidays, time zones), no I/O.
//! - [`db`]: PostgreSQL (the truth), migrations and demo data.
//! - [`kv`]: Redis (holds and shared counters), optional at run time.
//! - [`http`]: the axum application.

pub mod ants;
pub mod app;
pub mod calendar_cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod formats;
pub mod holds;
pub mod http;
pub mod kv;
pub mod lifecycle;
pub mod request;
pub mod secrets;
pub mod service;
pub mod signals;
pub mod staff;
pub mod web;
