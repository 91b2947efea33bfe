//! The PgDumpLens HTTP API, and `dumplens serve`: the standalone server that runs it over a
//! PostgreSQL cluster of its own.

pub mod access;
pub mod catalog;
mod diff;
pub mod kubernetes;
pub mod openapi;
mod problem;
mod read;
mod routes;
pub mod standalone;
mod uploads;
mod web;

pub use axum::http::HeaderName;
pub use problem::Problem;
pub use routes::{AppState, router};
