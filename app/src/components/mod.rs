//! Reusable views.

pub mod chart;
pub mod cost;
pub mod feedback;
pub mod form;
pub mod layout;
pub mod page;
pub mod stat;
pub mod table;
