//! Reusable views.

pub mod feedback;
pub mod layout;
pub mod stat;
