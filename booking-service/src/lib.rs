//! CNI and passport appointment service for the mairies of an agglomeration, open to citizens
//! from all of France.
//!
//! # Layout
//!
//! A request comes in through [`app`], which composes the state, the one route list (the JSON
//! API and the pages; the OpenAPI document comes from the same list) and the middleware. Then:
//!
//! - [`http`]: the JSON adapters, one module per resource (`http::staff` for the back office,
//!   `http::ants` for the national hub). Each parses, calls one [`service`] function, answers JSON.
//! - [`web`]: the page adapters (citizen journey, staff day), the same shape with HTML templates.
//!   `http` and `web` never import each other; what both read from a request is in [`request`]
//!   (client identity, extractors, parsed parameters, the staff session).
//! - [`service`]: the operations (availability, holds, booking, management, staff statuses,
//!   counter bookings, logins, calendar administration). Rules live here or in `domain`; errors are
//!   [`service::ServiceError`] in domain terms, mapped to JSON once in [`error`].
//! - [`db`]: every SQL statement, one module per thing stored; the constraints that settle races
//!   ([`db::constraints`]) and the outbox ([`db::outbox`]).
//! - [`domain`]: pure logic, no I/O: the slot engine, holidays, time zones, citizen input, motifs,
//!   party sizes, appointment statuses.
//! - [`holds`] and [`kv`]: Redis (held slots, shared counters), optional at run time.
//! - [`ants`]: the ANTS coordination API client.
//! - [`formats`]: the calendar file, CSV cells and escaping, shared with the notifier and registry.
//! - [`staff`]: staff accounts (argon2id), sessions; [`tokens`]: random tokens and references.
//! - [`read_model`], [`clock`], [`config`], [`secrets`], [`signals`], [`lifecycle`]: the
//!   in-memory calendars, the injectable clock, configuration, derived keys, shutdown, and the
//!   background jobs (ending past appointments, retention).

pub mod ants;
pub mod app;
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
pub mod limits;
pub mod read_model;
pub mod request;
pub mod secrets;
pub mod service;
pub mod signals;
pub mod staff;
pub mod telemetry;
pub mod tokens;
pub mod web;
