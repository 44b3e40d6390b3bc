//! Plain axum routes next to the Leptos pages: health, the REST API, and the middleware
//! that gives server-function errors their real HTTP status.

pub mod api;
pub mod azure;
pub mod bodies;
pub mod console;
pub mod health;
pub mod ingest;
pub mod invoices;
pub mod openapi;
pub mod prices;
pub mod security;
pub mod server_fn_status;
pub mod usage;
