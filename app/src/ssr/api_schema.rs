//! OpenAPI schemas of the billing domain's value types. They are written by hand here,
//! beside the server, so that `billing` stays free of anything but its own rules; each
//! one states what the type's own `Serialize` writes.

use crate::billing::{BillingPeriod, Currency, MeterBilling};
use std::borrow::Cow;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

fn string(description: &str, pattern: Option<&str>, example: &str) -> RefOr<Schema> {
    let mut b = ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .examples([serde_json::Value::from(example)]);
    if let Some(p) = pattern {
        b = b.pattern(Some(p));
    }
    b.build().into()
}

impl PartialSchema for Currency {
    fn schema() -> RefOr<Schema> {
        string("An ISO 4217 currency code.", Some("^[A-Z]{3}$"), "EUR")
    }
}
impl ToSchema for Currency {
    fn name() -> Cow<'static, str> {
        "Currency".into()
    }
}

impl PartialSchema for BillingPeriod {
    fn schema() -> RefOr<Schema> {
        string(
            "A calendar month in UTC, `YYYY-MM`.",
            Some("^[0-9]{4}-[0-9]{2}$"),
            "2026-10",
        )
    }
}
impl ToSchema for BillingPeriod {
    fn name() -> Cow<'static, str> {
        "BillingPeriod".into()
    }
}

impl PartialSchema for MeterBilling {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Whether usage on the meter is charged (`billable`) or only reported (`report_only`).",
            ))
            .enum_values(Some([
                MeterBilling::Billable.as_str(),
                MeterBilling::ReportOnly.as_str(),
            ]))
            .build()
            .into()
    }
}
impl ToSchema for MeterBilling {
    fn name() -> Cow<'static, str> {
        "MeterBilling".into()
    }
}
