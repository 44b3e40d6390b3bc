//! One module per route.

pub mod api_reference;
pub mod audit;
pub mod customers;
pub mod finance;
pub mod home;
pub mod ingestion;
pub mod invoices;
pub mod mappings;
pub mod meters;
pub mod not_found;
pub mod operator;
pub mod people;
pub mod portal;
pub mod portal_usage;
pub mod price_sheets;
pub mod registrations;
pub mod sign_in;
pub mod user_subscriptions;
