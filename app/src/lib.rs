//! Stackbill: chargeback and billing for Cloud Solution Providers running Azure Stack Hub.
//!
//! This crate is the shared heart of the application:
//! - [`billing`]: the pure billing domain (no I/O), also compiled for the browser;
//! - [`i18n`]: locales, the formatters and the interface text;
//! - `ingest` (server builds): reading usage documents (JSON pages, CSV) record by record;
//! - [`types`] and [`error`]: what crosses the network;
//! - [`server_fns`], [`pages`], [`components`]: the Leptos UI (SSR + hydration);
//! - `ssr` (server builds only): state, auth, storage and services.

mod app;
pub mod billing;
pub mod components;
pub mod context;
pub mod error;
pub mod i18n;
#[cfg(feature = "ssr")]
pub mod ingest;
pub mod pages;
pub mod server_fns;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod types;

pub use app::{shell, App};
pub use context::{use_auth, Auth};

/// The browser entry point: attaches to the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
