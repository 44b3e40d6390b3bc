//! Errors of the pure billing domain.
//!
//! Every variant names the offending input so that callers can turn it into a message
//! that says which field was wrong and what was expected.

use thiserror::Error;

/// Everything that can go wrong inside the billing domain.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BillingError {
    /// A text that should be a GUID is not one.
    #[error("`{raw}` is not a valid {what} (expected a GUID such as 6dab500f-a4fd-49c4-956d-229bb9c8c793)")]
    InvalidGuid {
        /// Which identifier was being parsed ("meter ID", "subscription ID", …).
        what: &'static str,
        /// The text as received.
        raw: String,
    },
    /// A currency code that is not ISO 4217 or not known to Stackbill.
    #[error("`{raw}` is not a supported ISO 4217 currency code")]
    UnknownCurrency {
        /// The text as received.
        raw: String,
    },
    /// Two amounts in different currencies were combined.
    #[error("cannot combine amounts in {left} and {right}")]
    CurrencyMismatch {
        /// Currency of the left operand.
        left: String,
        /// Currency of the right operand.
        right: String,
    },
    /// A text that should be a decimal number is not one, or cannot be held exactly.
    #[error("`{raw}` is not a valid {what}: {reason}")]
    InvalidDecimal {
        /// What was being parsed ("quantity", "unit price", …).
        what: &'static str,
        /// The text as received.
        raw: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// An arithmetic result left the range an exact decimal can hold.
    #[error("arithmetic overflow while computing {what}")]
    Overflow {
        /// What was being computed.
        what: &'static str,
    },
    /// A billing period text such as `2024-13`.
    #[error("`{raw}` is not a billing period (expected YYYY-MM)")]
    InvalidPeriod {
        /// The text as received.
        raw: String,
    },
    /// A date range whose end is not after its start.
    #[error("the range {from} .. {to} is empty or reversed")]
    EmptyRange {
        /// Start as text.
        from: String,
        /// End as text.
        to: String,
    },
    /// Two versions of one price sheet would be in effect at the same time.
    #[error("price sheet versions overlap: one starting {first} and one starting {second}")]
    OverlappingVersions {
        /// Start of the first version.
        first: String,
        /// Start of the second version.
        second: String,
    },
    /// Two effective-dated assignments of one key would be in effect at the same time.
    #[error("{what} for {key} overlap around {at}")]
    OverlappingAssignments {
        /// What kind of assignment ("mapping", "ownership").
        what: &'static str,
        /// The key that has two assignments.
        key: String,
        /// Where they overlap.
        at: String,
    },
    /// A pricing model whose parameters make no sense (no tiers, unsorted tiers, zero package).
    #[error("invalid pricing model: {reason}")]
    InvalidPricing {
        /// Why the model is refused.
        reason: String,
    },
    /// A percentage outside the accepted range.
    #[error("`{raw}` is not an accepted percentage ({reason})")]
    InvalidPercentage {
        /// The text or value as received.
        raw: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Rating was asked to use a price sheet it was not given.
    #[error("price sheet {id} is referenced but was not loaded")]
    UnknownPriceSheet {
        /// The sheet's id.
        id: i64,
    },
    /// An invoice number prefix with characters that cannot appear on a document.
    #[error("`{raw}` is not a valid invoice number prefix (1–12 letters, digits or inner dashes)")]
    InvalidInvoicePrefix {
        /// The prefix as received.
        raw: String,
    },
    /// An invoice number that is not `PREFIX-YYYY-NNNNNN` with a year from 1970 to 9999
    /// and a sequence from 1 to 999,999.
    #[error("`{raw}` is not a valid invoice number (PREFIX-YYYY-NNNNNN)")]
    InvalidInvoiceNumber {
        /// The number as received.
        raw: String,
    },
}

impl BillingError {
    /// A stable machine-readable code (API error bodies, logs, tests).
    pub fn code(&self) -> &'static str {
        match self {
            BillingError::InvalidGuid { .. } => "invalid_guid",
            BillingError::UnknownCurrency { .. } => "unknown_currency",
            BillingError::CurrencyMismatch { .. } => "currency_mismatch",
            BillingError::InvalidDecimal { .. } => "invalid_decimal",
            BillingError::Overflow { .. } => "overflow",
            BillingError::InvalidPeriod { .. } => "invalid_period",
            BillingError::EmptyRange { .. } => "empty_range",
            BillingError::OverlappingVersions { .. } => "overlapping_versions",
            BillingError::OverlappingAssignments { .. } => "overlapping_assignments",
            BillingError::InvalidPricing { .. } => "invalid_pricing",
            BillingError::InvalidPercentage { .. } => "invalid_percentage",
            BillingError::UnknownPriceSheet { .. } => "unknown_price_sheet",
            BillingError::InvalidInvoicePrefix { .. } => "invalid_invoice_prefix",
            BillingError::InvalidInvoiceNumber { .. } => "invalid_invoice_number",
        }
    }
}

/// Result alias for the billing domain.
pub type BillingResult<T> = Result<T, BillingError>;
