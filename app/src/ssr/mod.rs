//! Server-only code: application state, authentication and authorisation, storage and
//! the use cases (services). Compiled with the `ssr` feature only.

pub mod api_schema;
pub mod auth;
pub mod clock;
pub mod csp;
pub mod db;
pub mod services;
pub mod state;

pub use clock::Clock;
pub use state::{AppState, Settings};
