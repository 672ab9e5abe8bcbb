//! The registry: the platform's téléservices, the purchasing group's members and orders, and the
//! convention's cost allocation.

pub mod allocation;
pub mod config;
pub mod http;
pub mod ops;
pub mod seed;
pub mod state;
pub mod store;
pub mod store_admin;
pub mod web;
