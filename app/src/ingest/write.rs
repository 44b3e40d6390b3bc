//! Writing usage records back in the usage API's shape: `properties` with `instanceData`
//! as a JSON *string* holding `Microsoft.Resources` (itself holding `tags` and
//! `additionalInfo` as strings or `null`), and `quantity` as a JSON number with every
//! digit. What the readers in this module accept, so a written record reads back as the
//! same [`UsageRecord`].

use crate::billing::UsageRecord;

/// One record as the usage API would send it. With `with_reported_time`, the record's
/// reported time (if any) is added as `reportedTime`, which Stackbill's readers honour
/// (the quarantine keeps a record's report time this way).
pub fn usage_api_record(r: &UsageRecord, with_reported_time: bool) -> String {
    let mut out = String::with_capacity(record_capacity(r));
    out.push_str("{\"properties\":");
    properties(&mut out, r, with_reported_time, None);
    out.push('}');
    out
}

/// One record as Azure Stack's usage-aggregate endpoints serve it: `id`, `name` and `type`
/// around the same `properties` as [`usage_api_record`] (repeating `name`, as Azure Stack's
/// do). `caller_subscription` is the subscription in the request's path (the user
/// subscription for the tenant endpoint, the provider's for the admin one). Written
/// directly into one buffer: the endpoints write a thousand of these a page.
pub fn usage_aggregate(r: &UsageRecord, caller_subscription: &str) -> String {
    let name = format!("{}-{}", r.subscription_id, r.meter_id);
    let mut out = String::with_capacity(record_capacity(r) + 2 * name.len() + 160);
    out.push_str("{\"id\":\"/subscriptions/");
    out.push_str(caller_subscription);
    out.push_str("/providers/Microsoft.Commerce/UsageAggregate/");
    out.push_str(&name);
    out.push_str("\",\"name\":\"");
    out.push_str(&name);
    out.push_str("\",\"type\":\"Microsoft.Commerce/UsageAggregate\",\"properties\":");
    properties(&mut out, r, false, Some(&name));
    out.push('}');
    out
}

/// Room for a record, so that writing it does not grow the buffer: its texts written twice
/// (once inside `instanceData`, once escaped as that string) and the fixed keys.
fn record_capacity(r: &UsageRecord) -> usize {
    2 * (r.resource_uri.len() + r.location.len() + r.tags.len() + r.additional_info.len()) + 420
}

/// A JSON string.
fn text(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::from(s).to_string());
}

/// `tags` and `additionalInfo`: a string, or `null` when there is none.
fn text_or_null(out: &mut String, s: &str) {
    if s.is_empty() {
        out.push_str("null");
    } else {
        text(out, s);
    }
}

/// An instant as the usage API writes it.
fn instant(out: &mut String, t: chrono::DateTime<chrono::Utc>) {
    out.push_str(&t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string());
}

/// The `properties` object: `instanceData` a JSON string holding `Microsoft.Resources`,
/// `quantity` a JSON number with every digit (serde_json would go through f64).
fn properties(out: &mut String, r: &UsageRecord, with_reported_time: bool, name: Option<&str>) {
    let mut instance = String::with_capacity(r.resource_uri.len() + r.tags.len() + r.additional_info.len() + 96);
    instance.push_str("{\"Microsoft.Resources\":{\"resourceUri\":");
    text(&mut instance, &r.resource_uri);
    instance.push_str(",\"location\":");
    text(&mut instance, &r.location);
    instance.push_str(",\"tags\":");
    text_or_null(&mut instance, &r.tags);
    instance.push_str(",\"additionalInfo\":");
    text_or_null(&mut instance, &r.additional_info);
    instance.push_str("}}");
    out.push_str("{\"subscriptionId\":\"");
    out.push_str(&r.subscription_id.to_string());
    out.push_str("\",\"usageStartTime\":\"");
    instant(out, r.usage_start);
    out.push_str("\",\"usageEndTime\":\"");
    instant(out, r.usage_end);
    out.push_str("\",\"instanceData\":");
    text(out, &instance);
    out.push_str(",\"quantity\":");
    out.push_str(&r.quantity.canonical());
    out.push_str(",\"meterId\":\"");
    out.push_str(&r.meter_id.to_string());
    out.push('"');
    if let (true, Some(t)) = (with_reported_time, r.reported_at) {
        out.push_str(",\"reportedTime\":\"");
        instant(out, t);
        out.push('"');
    }
    if let Some(name) = name {
        out.push_str(",\"name\":");
        text(out, name);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::record::parse_json_record;

    #[test]
    fn a_written_record_reads_back_identically_with_every_digit() {
        let raw = r#"{"properties":{"subscriptionId":"1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4","usageStartTime":"2019-12-10T18:00:00+00:00","usageEndTime":"2019-12-10T19:00:00+00:00","instanceData":"{\"Microsoft.Resources\":{\"resourceUri\":\"/subscriptions/1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/台北-vm\",\"location\":\"northwest\",\"tags\":\"{\\\"env\\\":\\\"prod\\\"}\",\"additionalInfo\":\"{\\\"ServiceType\\\":\\\"Standard_F2s\\\"}\"}}","quantity":6.448477506637573e-06,"meterId":"9cd92d4c-bafd-4492-b278-bedc2de8232a","reportedTime":"2019-12-10T20:00:00+00:00"}}"#;
        let record = parse_json_record(raw).unwrap();
        let written = usage_api_record(&record, true);
        assert!(written.contains("\"quantity\":0.000006448477506637573"), "{written}");
        assert_eq!(parse_json_record(&written).unwrap(), record);
        let without = parse_json_record(&usage_api_record(&record, false)).unwrap();
        assert_eq!(without.reported_at, None);
        assert_eq!(without.tags, record.tags);
    }

    #[test]
    fn an_aggregate_is_shaped_as_azure_stack_serves_it_and_reads_back() {
        let raw = r#"{"properties":{"subscriptionId":"1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4","usageStartTime":"2019-12-10T18:00:00+00:00","usageEndTime":"2019-12-10T19:00:00+00:00","instanceData":"{\"Microsoft.Resources\":{\"resourceUri\":\"/subscriptions/1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm\",\"location\":\"northwest\",\"tags\":null,\"additionalInfo\":null}}","quantity":2.0,"meterId":"9cd92d4c-bafd-4492-b278-bedc2de8232a"}}"#;
        let record = parse_json_record(raw).unwrap();
        let written = usage_aggregate(&record, "39c82aed-0000-0000-0000-000000000000");
        let v: serde_json::Value = serde_json::from_str(&written).unwrap();
        let name = "1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4-9cd92d4c-bafd-4492-b278-bedc2de8232a";
        assert_eq!(
            v["id"],
            format!("/subscriptions/39c82aed-0000-0000-0000-000000000000/providers/Microsoft.Commerce/UsageAggregate/{name}")
        );
        assert_eq!(
            (v["name"].as_str(), v["properties"]["name"].as_str()),
            (Some(name), Some(name))
        );
        assert_eq!(v["type"], "Microsoft.Commerce/UsageAggregate");
        assert!(v["properties"]["instanceData"].is_string());
        assert_eq!(parse_json_record(&written).unwrap(), record);
    }
}
