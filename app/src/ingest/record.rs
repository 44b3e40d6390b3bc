//! One usage record: from its JSON or CSV fields to a validated [`UsageRecord`].

use crate::billing::usage::normalise_info;
use crate::billing::{MeterId, Quantity, SubscriptionId, UsageRecord};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

/// A record that could not be accepted: where it was, its text, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// 0-based position of the record in its document.
    pub index: u64,
    /// The record as received (JSON text, or a one-row CSV with its header).
    pub raw: String,
    /// What is wrong, naming the field.
    pub reason: String,
}

/// The largest quantity one record may carry. Hourly and daily meters stay many orders of
/// magnitude below; the bound keeps every rollup sum far inside 64-bit integers.
pub fn max_quantity() -> Decimal {
    Decimal::from(1_000_000_000_000_000_i64)
}

/// The longest usage bucket accepted: Azure Stack aggregates hourly or daily.
const MAX_BUCKET_SECS: i64 = 24 * 3600;

/// Parses a timestamp: RFC 3339 (`2019-12-10T18:00:00+00:00`, `…Z`, fractional seconds,
/// any offset — converted to UTC), ISO without offset (taken as UTC), and the US form
/// PowerShell's `Export-Csv` writes (`12/10/2019 6:00:00 PM`, taken as UTC).
pub fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
    }
    None
}

/// The fields of a record before validation, whatever shape it came in.
#[derive(Debug, Default, Clone)]
pub struct Fields {
    /// User subscription.
    pub subscription_id: Option<String>,
    /// Meter.
    pub meter_id: Option<String>,
    /// Usage start.
    pub usage_start: Option<String>,
    /// Usage end.
    pub usage_end: Option<String>,
    /// Quantity as text.
    pub quantity: Option<String>,
    /// Resource URI.
    pub resource_uri: Option<String>,
    /// Region.
    pub location: Option<String>,
    /// Tags text.
    pub tags: Option<String>,
    /// Additional info text.
    pub additional_info: Option<String>,
    /// Reported time, if the record carries one.
    pub reported_at: Option<String>,
}

impl Fields {
    /// Validates the fields into a record; the error names the field and what was expected.
    pub fn validate(self) -> Result<UsageRecord, String> {
        let required = |v: Option<String>, name: &str| {
            v.map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("`{name}` is missing"))
        };
        let subscription = required(self.subscription_id, "subscriptionId")?;
        let subscription_id = SubscriptionId::parse(&subscription).map_err(|e| format!("`subscriptionId`: {e}"))?;
        let meter = required(self.meter_id, "meterId")?;
        let meter_id = MeterId::parse(&meter).map_err(|e| format!("`meterId`: {e}"))?;
        let start_text = required(self.usage_start, "usageStartTime")?;
        let usage_start = parse_time(&start_text).ok_or_else(|| {
            format!("`usageStartTime`: `{start_text}` is not a date-time such as 2019-12-10T18:00:00+00:00")
        })?;
        let end_text = required(self.usage_end, "usageEndTime")?;
        let usage_end = parse_time(&end_text).ok_or_else(|| {
            format!("`usageEndTime`: `{end_text}` is not a date-time such as 2019-12-10T19:00:00+00:00")
        })?;
        if usage_end <= usage_start {
            return Err(format!(
                "`usageEndTime` ({end_text}) must be after `usageStartTime` ({start_text})"
            ));
        }
        if (usage_end - usage_start).num_seconds() > MAX_BUCKET_SECS {
            return Err("the usage period is longer than one day (Azure Stack reports hourly or daily)".into());
        }
        // Hourly and daily aggregates never cross midnight UTC; records are rolled up by
        // the day they start, so one that did would put part of its usage on the wrong day.
        let next_midnight = (usage_start.date_naive() + chrono::Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc());
        if next_midnight.is_some_and(|m| usage_end > m) {
            return Err(format!(
                "the usage period {start_text} – {end_text} crosses midnight UTC (Azure Stack's hourly and daily \
                 aggregates stay within one UTC day)"
            ));
        }
        let quantity_text = required(self.quantity, "quantity")?;
        let quantity = Quantity::parse(&quantity_text).map_err(|e| format!("`quantity`: {e}"))?;
        if quantity.value() > max_quantity() {
            return Err(format!(
                "`quantity`: {quantity_text} is implausibly large for one record"
            ));
        }
        let resource_uri = required(self.resource_uri, "instanceData.resourceUri")?;
        if resource_uri.len() > 2048 {
            return Err("`instanceData.resourceUri` is longer than 2,048 characters".into());
        }
        let reported_at = match self.reported_at.filter(|s| !s.trim().is_empty()) {
            Some(t) => Some(parse_time(&t).ok_or_else(|| format!("`reportedTime`: `{t}` is not a date-time"))?),
            None => None,
        };
        Ok(UsageRecord {
            subscription_id,
            meter_id,
            usage_start,
            usage_end,
            quantity,
            resource_uri,
            location: self.location.unwrap_or_default().trim().to_owned(),
            tags: normalise_info(self.tags.as_deref()),
            additional_info: normalise_info(self.additional_info.as_deref()),
            reported_at,
        })
    }
}

/// A JSON value that should be text: a string, `null`, or (for tags and additional info)
/// an object kept as its JSON text.
fn text_of(raw: &RawValue, field: &str, allow_json: bool) -> Result<Option<String>, String> {
    let t = raw.get().trim();
    if t == "null" {
        return Ok(None);
    }
    if t.starts_with('"') {
        return serde_json::from_str::<String>(t)
            .map(Some)
            .map_err(|e| format!("`{field}`: {e}"));
    }
    if allow_json && (t.starts_with('{') || t.starts_with('[')) {
        return Ok(Some(t.to_owned()));
    }
    Err(format!("`{field}` must be a string, found `{}`", truncate(t, 40)))
}

/// The quantity's text: a JSON number exactly as written, or a string holding one (the
/// 2015 admin spec typed it as a string).
fn quantity_of(raw: &RawValue) -> Result<Option<String>, String> {
    let t = raw.get().trim();
    if t == "null" {
        return Ok(None);
    }
    if t.starts_with('"') {
        return serde_json::from_str::<String>(t)
            .map(Some)
            .map_err(|e| format!("`quantity`: {e}"));
    }
    if t.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) {
        return Ok(Some(t.to_owned()));
    }
    Err(format!("`quantity` must be a number, found `{}`", truncate(t, 40)))
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonFields<'a> {
    #[serde(borrow)]
    properties: Option<&'a RawValue>,
    #[serde(borrow)]
    subscription_id: Option<&'a RawValue>,
    #[serde(borrow)]
    meter_id: Option<&'a RawValue>,
    #[serde(borrow)]
    usage_start_time: Option<&'a RawValue>,
    #[serde(borrow)]
    usage_end_time: Option<&'a RawValue>,
    #[serde(borrow)]
    quantity: Option<&'a RawValue>,
    #[serde(borrow)]
    instance_data: Option<&'a RawValue>,
    // The flat shape of our own API may carry these directly.
    #[serde(borrow)]
    resource_uri: Option<&'a RawValue>,
    #[serde(borrow)]
    location: Option<&'a RawValue>,
    #[serde(borrow)]
    tags: Option<&'a RawValue>,
    #[serde(borrow)]
    additional_info: Option<&'a RawValue>,
    #[serde(borrow, alias = "reportedAt")]
    reported_time: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct InstanceData<'a> {
    #[serde(borrow, rename = "Microsoft.Resources")]
    resources: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resources<'a> {
    #[serde(borrow)]
    resource_uri: Option<&'a RawValue>,
    #[serde(borrow)]
    location: Option<&'a RawValue>,
    #[serde(borrow)]
    tags: Option<&'a RawValue>,
    #[serde(borrow)]
    additional_info: Option<&'a RawValue>,
}

fn apply_instance_data(fields: &mut Fields, raw: &RawValue) -> Result<(), String> {
    // instanceData is a JSON *string* holding JSON (the documented shape); accept an
    // object too.
    let text = match text_of(raw, "instanceData", true)? {
        Some(t) => t,
        None => return Err("`instanceData` is missing".into()),
    };
    let data: InstanceData<'_> =
        serde_json::from_str(&text).map_err(|e| format!("`instanceData` is not valid JSON: {e}"))?;
    let Some(resources) = data.resources else {
        return Err("`instanceData` has no `Microsoft.Resources`".into());
    };
    let r: Resources<'_> = serde_json::from_str(resources.get())
        .map_err(|e| format!("`instanceData.Microsoft.Resources` is not an object: {e}"))?;
    if let Some(v) = r.resource_uri {
        fields.resource_uri = text_of(v, "instanceData.resourceUri", false)?;
    }
    if let Some(v) = r.location {
        fields.location = text_of(v, "instanceData.location", false)?;
    }
    if let Some(v) = r.tags {
        fields.tags = text_of(v, "instanceData.tags", true)?;
    }
    if let Some(v) = r.additional_info {
        fields.additional_info = text_of(v, "instanceData.additionalInfo", true)?;
    }
    Ok(())
}

/// Parses one JSON record: the usage API's shape (`properties` with `instanceData` as a
/// JSON string) or the flat shape of Stackbill's own push API. Unknown fields, `id`,
/// `name`, `type` and the undocumented `properties.name` are ignored.
pub fn parse_json_record(raw: &str) -> Result<UsageRecord, String> {
    match parse_json_record_checked(raw) {
        Ok(result) => result,
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

/// Like [`parse_json_record`], but a JSON *syntax* error (which makes the whole document
/// malformed) is returned apart from a record that is well-formed JSON but not a valid
/// usage record (which goes to the quarantine).
pub fn parse_json_record_checked(raw: &str) -> Result<Result<UsageRecord, String>, serde_json::Error> {
    let outer: JsonFields<'_> = match serde_json::from_str(raw) {
        Ok(f) => f,
        Err(e) if e.is_syntax() || e.is_eof() => return Err(e),
        Err(e) => return Ok(Err(format!("not a usage record: {e}"))),
    };
    Ok(parse_fields(outer))
}

fn parse_fields(outer: JsonFields<'_>) -> Result<UsageRecord, String> {
    let (props, flat) = match outer.properties {
        Some(p) => {
            let inner: JsonFields<'_> =
                serde_json::from_str(p.get()).map_err(|e| format!("`properties` is not an object: {e}"))?;
            (inner, false)
        }
        None => (outer, true),
    };
    let opt = |v: Option<&RawValue>, name: &str| v.map(|v| text_of(v, name, false)).transpose().map(Option::flatten);
    let mut fields = Fields {
        subscription_id: opt(props.subscription_id, "subscriptionId")?,
        meter_id: opt(props.meter_id, "meterId")?,
        usage_start: opt(props.usage_start_time, "usageStartTime")?,
        usage_end: opt(props.usage_end_time, "usageEndTime")?,
        quantity: props.quantity.map(quantity_of).transpose()?.flatten(),
        reported_at: opt(props.reported_time, "reportedTime")?,
        ..Fields::default()
    };
    match props.instance_data {
        Some(data) => apply_instance_data(&mut fields, data)?,
        None if flat => {
            fields.resource_uri = opt(props.resource_uri, "resourceUri")?;
            fields.location = opt(props.location, "location")?;
            fields.tags = props.tags.map(|v| text_of(v, "tags", true)).transpose()?.flatten();
            fields.additional_info = props
                .additional_info
                .map(|v| text_of(v, "additionalInfo", true))
                .transpose()?
                .flatten();
        }
        None => return Err("`instanceData` is missing".into()),
    }
    fields.validate()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    const RECORDED: &str = r#"{"id":"/subscriptions/39c82aed-0000-0000-0000-000000000000/providers/Microsoft.Commerce/UsageAggregate/1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4-9cd92d4c-bafd-4492-b278-bedc2de8232a","name":"1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4-9cd92d4c-bafd-4492-b278-bedc2de8232a","type":"Microsoft.Commerce/UsageAggregate","properties":{"subscriptionId":"1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4","usageStartTime":"2019-12-10T18:00:00+00:00","usageEndTime":"2019-12-10T19:00:00+00:00","instanceData":"{\"Microsoft.Resources\":{\"resourceUri\":\"/subscriptions/1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4/resourceGroups/vaasrgd47d/providers/Microsoft.Compute/virtualMachines/VMClient0\",\"location\":\"northwest\",\"tags\":\"null\",\"additionalInfo\":\"{\\\"ServiceType\\\":\\\"Standard_F2s\\\",\\\"ImageType\\\":null,\\\"Publisher\\\":\\\"MicrosoftWindowsServer\\\",\\\"Offer\\\":\\\"WindowsServer\\\",\\\"Sku\\\":\\\"2016-Datacenter\\\"}\"}}","quantity":2.0,"meterId":"9cd92d4c-bafd-4492-b278-bedc2de8232a","name":"1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4-9cd92d4c-bafd-4492-b278-bedc2de8232a"}}"#;

    #[test]
    fn the_recorded_windows_vm_record_parses_with_its_quirks() {
        let r = parse_json_record(RECORDED).unwrap();
        assert_eq!(r.subscription_id.to_string(), "1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4");
        assert_eq!(r.meter_id.to_string(), "9cd92d4c-bafd-4492-b278-bedc2de8232a");
        assert_eq!(r.usage_start.to_rfc3339(), "2019-12-10T18:00:00+00:00");
        assert_eq!(r.quantity.value(), dec!(2));
        assert!(r.resource_uri.ends_with("/virtualMachines/VMClient0"));
        assert_eq!(r.location, "northwest");
        assert_eq!(r.tags, "", "the string \"null\" means no tags");
        assert!(
            r.additional_info.starts_with("{\"ServiceType\":\"Standard_F2s\""),
            "{}",
            r.additional_info
        );
    }

    #[test]
    fn quantities_are_read_from_their_text_never_as_floats() {
        let rec = RECORDED.replace("\"quantity\":2.0", "\"quantity\":6.448477506637573e-06");
        assert_eq!(
            parse_json_record(&rec).unwrap().quantity.value(),
            dec!(0.000006448477506637573)
        );
        let rec = RECORDED.replace("\"quantity\":2.0", "\"quantity\":0.0013440860215053762");
        assert_eq!(
            parse_json_record(&rec).unwrap().quantity.value(),
            dec!(0.0013440860215053762)
        );
        let rec = RECORDED.replace("\"quantity\":2.0", "\"quantity\":\"2.4000000000\"");
        assert_eq!(parse_json_record(&rec).unwrap().quantity.value(), dec!(2.4));
    }

    #[test]
    fn meter_ids_in_any_case_and_z_times_are_accepted() {
        let rec = RECORDED
            .replace(
                "\"meterId\":\"9cd92d4c-bafd-4492-b278-bedc2de8232a\"",
                "\"meterId\":\"9CD92D4CBAFD4492B278BEDC2DE8232A\"",
            )
            .replace("2019-12-10T19:00:00+00:00", "2019-12-10T19:00:00Z");
        let r = parse_json_record(&rec).unwrap();
        assert_eq!(r.meter_id.to_string(), "9cd92d4c-bafd-4492-b278-bedc2de8232a");
        assert_eq!(r.usage_end.to_rfc3339(), "2019-12-10T19:00:00+00:00");
    }

    #[test]
    fn tags_and_additional_info_in_every_published_form() {
        let with = |tags: &str, info: &str| {
            let data = serde_json::json!({"Microsoft.Resources": {"resourceUri": "/x", "location": "l", "tags": serde_json::from_str::<serde_json::Value>(tags).unwrap(), "additionalInfo": serde_json::from_str::<serde_json::Value>(info).unwrap()}});
            let rec = serde_json::json!({"properties": {"subscriptionId": "1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4", "usageStartTime": "2019-12-10T18:00:00+00:00", "usageEndTime": "2019-12-10T19:00:00+00:00", "instanceData": data.to_string(), "quantity": 1, "meterId": "9cd92d4c-bafd-4492-b278-bedc2de8232a"}});
            parse_json_record(&rec.to_string()).unwrap()
        };
        assert_eq!(with("null", "null").tags, "");
        assert_eq!(with("\"\"", "\"\"").additional_info, "");
        assert_eq!(with("\"null\"", "\"null\"").tags, "");
        assert_eq!(
            with(r#""{\"RG\":\"rg\",\"testTag\":\"1\"}""#, "null").tags,
            r#"{"RG":"rg","testTag":"1"}"#
        );
        assert_eq!(with(r#"{"a":"b"}"#, "null").tags, r#"{"a":"b"}"#);
    }

    #[test]
    fn malformed_records_are_refused_naming_the_field() {
        let cases = [
            (
                RECORDED.replace(
                    "1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4\",\"usageStart",
                    "sub1.1\",\"usageStart",
                ),
                "subscriptionId",
            ),
            (
                RECORDED.replace("\"quantity\":2.0", "\"quantity\":-1"),
                "cannot be negative",
            ),
            (
                RECORDED.replace("\"quantity\":2.0", "\"quantity\":{}"),
                "`quantity` must be a number",
            ),
            (RECORDED.replace("\"quantity\":2.0,", ""), "`quantity` is missing"),
            (
                RECORDED.replace("2019-12-10T19:00:00+00:00", "2019-12-10T17:00:00+00:00"),
                "must be after",
            ),
            (
                RECORDED.replace("2019-12-10T19:00:00+00:00", "yesterday"),
                "usageEndTime",
            ),
            (
                RECORDED.replace("\"instanceData\":\"{", "\"instanceData\":\"{{"),
                "instanceData` is not valid JSON",
            ),
            (
                RECORDED.replace(
                    "\"meterId\":\"9cd92d4c-bafd-4492-b278-bedc2de8232a\"",
                    "\"meterId\":\"meterID1\"",
                ),
                "meterId",
            ),
            (
                RECORDED.replace(
                    "\"subscriptionId\":\"1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4\"",
                    "\"subscriptionId\":5",
                ),
                "must be a string",
            ),
            (
                RECORDED.replace("2019-12-10T19:00:00+00:00", "2019-12-12T19:00:00+00:00"),
                "longer than one day",
            ),
        ];
        for (rec, expected) in cases {
            let err = parse_json_record(&rec).unwrap_err();
            assert!(err.contains(expected), "expected `{expected}` in `{err}`");
        }
    }

    #[test]
    fn times_in_the_forms_seen_in_the_wild() {
        for (raw, expected) in [
            ("2019-12-10T18:00:00+00:00", "2019-12-10T18:00:00+00:00"),
            ("2019-12-10T18:00:00Z", "2019-12-10T18:00:00+00:00"),
            ("2017-08-01T00:00:00.00Z", "2017-08-01T00:00:00+00:00"),
            ("2019-12-10T19:00:00.0000000+00:00", "2019-12-10T19:00:00+00:00"),
            ("2017-06-07T17:00:00-07:00", "2017-06-08T00:00:00+00:00"),
            ("2019-12-10 18:00:00", "2019-12-10T18:00:00+00:00"),
            ("12/10/2019 6:00:00 PM", "2019-12-10T18:00:00+00:00"),
            ("2019-12-10", "2019-12-10T00:00:00+00:00"),
        ] {
            assert_eq!(
                parse_time(raw).map(|t| t.to_rfc3339()).as_deref(),
                Some(expected),
                "{raw}"
            );
        }
        assert!(parse_time("10 Dec").is_none());
    }
}

/// Writes a record in the usage API's shape (`properties` with `instanceData` as a JSON
/// string), as the Azure Stack provider API returns it. Used by Stackbill's own exports and
/// by tests; [`parse_json_record`] reads it back to the same record.
pub fn to_api_json(r: &UsageRecord) -> String {
    let mut resources = serde_json::Map::new();
    resources.insert("resourceUri".into(), r.resource_uri.clone().into());
    resources.insert("location".into(), r.location.clone().into());
    resources.insert("tags".into(), r.tags.clone().into());
    resources.insert("additionalInfo".into(), r.additional_info.clone().into());
    let instance = serde_json::json!({ "Microsoft.Resources": resources }).to_string();
    let mut props = serde_json::Map::new();
    props.insert("subscriptionId".into(), r.subscription_id.to_string().into());
    props.insert("usageStartTime".into(), r.usage_start.to_rfc3339().into());
    props.insert("usageEndTime".into(), r.usage_end.to_rfc3339().into());
    props.insert("instanceData".into(), instance.into());
    props.insert("meterId".into(), r.meter_id.to_string().into());
    if let Some(t) = r.reported_at {
        props.insert("reportedTime".into(), t.to_rfc3339().into());
    }
    // The quantity goes in as a JSON number written from its exact decimal text.
    let props_text = serde_json::Value::Object(props).to_string();
    let props_text = format!(
        "{},\"quantity\":{}}}",
        &props_text[..props_text.len() - 1],
        r.quantity.canonical()
    );
    format!(
        "{{\"id\":\"/subscriptions/{sub}/providers/Microsoft.Commerce/UsageAggregate/{sub}-{meter}\",\"name\":\"{sub}-{meter}\",\"type\":\"Microsoft.Commerce/UsageAggregate\",\"properties\":{props_text}}}",
        sub = r.subscription_id,
        meter = r.meter_id,
    )
}

#[cfg(test)]
mod round_trip {
    use super::*;
    use proptest::prelude::*;

    fn arb_record() -> impl Strategy<Value = UsageRecord> {
        (
            any::<u128>(),
            any::<u128>(),
            0i64..2_000_000,
            prop_oneof![Just(3600i64), Just(86_400i64)],
            (0i64..i64::MAX, 0u32..=20),
            "[a-zA-Z0-9/_.\\-]{1,80}",
            "[a-z]{0,12}",
            prop_oneof![
                Just(String::new()),
                "[a-zA-Z0-9 ]{1,10}".prop_map(|v| format!("{{\"k\":\"{v}\"}}"))
            ],
            prop_oneof![
                Just(String::new()),
                Just("{\"ServiceType\":\"Standard_F2s\",\"ImageType\":null}".to_owned())
            ],
            any::<bool>(),
        )
            .prop_map(
                |(sub, meter, hour, len, (mantissa, scale), uri, loc, tags, info, reported)| {
                    let start = DateTime::from_timestamp(1_500_000_000 + hour * 3600, 0).unwrap();
                    // Records stay within their UTC day.
                    let to_midnight = 86_400 - start.timestamp().rem_euclid(86_400);
                    UsageRecord {
                        subscription_id: SubscriptionId::from_u128(sub),
                        meter_id: MeterId::from_u128(meter),
                        usage_start: start,
                        usage_end: start + chrono::Duration::seconds(len.min(to_midnight)),
                        quantity: crate::billing::Quantity::try_from_decimal(Decimal::new(
                            mantissa % 1_000_000_000_000_000,
                            scale,
                        ))
                        .unwrap(),
                        resource_uri: format!("/{uri}"),
                        location: loc,
                        tags,
                        additional_info: info,
                        reported_at: reported.then_some(start),
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn any_record_written_in_the_api_shape_reads_back_equal(r in arb_record()) {
            let text = to_api_json(&r);
            prop_assert_eq!(parse_json_record(&text).unwrap(), r);
        }

        #[test]
        fn quantities_in_exponent_form_read_back_exactly(mantissa in 1u64..10_000_000_000_000_000, exp in 1u32..12) {
            let r = arb_record_fixed();
            let text = to_api_json(&r).replace("\"quantity\":1}", &format!("\"quantity\":{mantissa}e-{exp}}}"));
            let parsed = parse_json_record(&text).unwrap();
            prop_assert_eq!(parsed.quantity.value(), Decimal::new(mantissa as i64, exp).normalize());
        }
    }

    fn arb_record_fixed() -> UsageRecord {
        let start = DateTime::from_timestamp(1_575_997_200, 0).unwrap();
        UsageRecord {
            subscription_id: SubscriptionId::from_u128(1),
            meter_id: MeterId::from_u128(2),
            usage_start: start,
            usage_end: start + chrono::Duration::hours(1),
            quantity: crate::billing::Quantity::parse("1").unwrap(),
            resource_uri: "/x".into(),
            location: String::new(),
            tags: String::new(),
            additional_info: String::new(),
            reported_at: None,
        }
    }
}
