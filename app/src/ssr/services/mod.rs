//! Use cases: load → billing domain → save, each in one transaction. Server functions,
//! API routes and the command line call these; none of them talks SQL directly.

pub mod accounts;
pub mod api_reference;
pub mod audit_log;
pub mod budgets;
pub mod cache;
pub mod catalogue;
pub mod collector;
pub mod costs;
pub mod csv_input;
pub mod customer_subscriptions;
pub mod customers;
pub mod import;
pub mod ingest;
pub mod invoice_detail;
pub mod invoice_pdf;
pub mod invoicing;
pub mod jobs;
pub mod lookup;
pub mod maintenance;
pub mod mapping_csv;
pub mod mappings;
pub mod meters;
pub mod overview;
pub mod ownership;
pub mod people;
pub mod periods;
pub mod price_csv;
pub mod price_sheets;
pub mod quarantine;
pub mod rating;
pub mod registrations;
pub mod terms;
pub mod usage;
pub mod usage_aggregates;
pub mod user_subscriptions;
