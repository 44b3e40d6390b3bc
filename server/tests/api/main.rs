//! HTTP tests against the real application: `spawn_app()` starts the same router as
//! `stackbill serve` on port 0 with a fresh database (SQLite, and PostgreSQL too when
//! STACKBILL_TEST_POSTGRES_URL is set).

mod access;
mod azure;
mod cli;
mod collector;
mod console;
mod cost;
mod health;
mod helpers;
mod import;
mod ingest;
mod invoices;
mod openapi;
mod prices;
mod security;
mod sign_in;
mod usage;
