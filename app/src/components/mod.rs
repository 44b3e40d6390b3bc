//! Reusable views.

pub mod cost;
pub mod feedback;
pub mod layout;
pub mod page;
pub mod stat;
pub mod table;
