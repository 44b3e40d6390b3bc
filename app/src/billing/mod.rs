//! The billing domain: *who pays how much for what*.
//!
//! Pure code — no database, HTTP, clock or logging — so that every rule can be tested to
//! the last cent and the same code runs on the server and in the browser. Inputs are
//! parsed into the newtypes here at the edge (parse, don't validate); after that every
//! function takes the newtype.

#![warn(missing_docs)]

pub mod allocate;
pub mod dated;
pub mod error;
pub mod estimate;
mod fasthash;
pub mod ids;
pub mod invoice;
pub mod meter;
pub mod money;
pub mod period;
pub mod price_sheet;
pub mod pricing;
pub mod quantity;
pub mod rating;
pub mod resolution;
pub mod usage;

pub use allocate::allocate;
pub use dated::Dated;
pub use error::{BillingError, BillingResult};
pub use estimate::{estimate, forecast, CostEstimate};
pub use ids::{CloudTenantId, MeterId, SubscriptionId};
pub use invoice::{
    adjustments, build_invoice, credit_note, with_adjustments, Invoice, InvoiceLine, InvoiceNumber, InvoiceTerms,
    IssuedUsage, LineKind, TaxRate,
};
pub use meter::{Meter, MeterBilling};
pub use money::{Currency, Money};
pub use period::BillingPeriod;
pub use price_sheet::{Adjustment, CustomerPricing, Percent, PriceEntry, PriceSheet, PriceSheetVersion, SheetId};
pub use pricing::{PricingModel, Tier, UnitConversion, UnitPrice};
pub use quantity::Quantity;
pub use rating::{
    rate, rate_with_shares, AccountRating, RatedLine, Rating, RatingInput, SectionRating, Share, UnratedLine, UsageLine,
};
pub use resolution::{mappings, ownerships, BillingAccount, Mappings, Ownerships, Resolver, Section};
pub use usage::{resource_group, Identity, UsageRecord};
