//! Exercise 5: a service. The replicated stream database of the earlier exercises, offered
//! over HTTP with the routes of flaviodb and of the EUC workshop.
//!
//! - [`routes`]: the HTTP routes — what you write.
//! - [`app`]: starts the database and the HTTP server on each node; its console.
//! - [`resume`]: Going further: where a reconnecting listener resumes (`Last-Event-ID`).
//!
//! The database (`ringcore::streams::Streams`) and the HTTP building blocks
//! (`ringcore::http`: JSON errors, entry JSON, query parameters, the live feed) are given.

pub mod app;
pub mod resume;
pub mod routes;

pub use app::HttpApp;
