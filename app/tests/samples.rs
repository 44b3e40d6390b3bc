//! Every published Azure Stack sample (tests/fixtures/azure-stack/, copied from the
//! reference) through the readers: what is usage is read, what is not is refused clearly.
#![cfg(feature = "ssr")]

use app::ingest::json_format::read_json;
use app::ingest::{Item, PageLinks, ReadError};
use serde_json::Value;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/azure-stack/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The response body of a REST spec `x-ms-examples` file.
fn spec_body(name: &str, status: &str) -> String {
    let v: Value = serde_json::from_str(&fixture(name)).unwrap();
    v["responses"][status]["body"].to_string()
}

fn read(text: &str) -> Result<(Vec<Item>, Vec<PageLinks>), ReadError<&'static str>> {
    let mut items = Vec::new();
    let mut pages = Vec::new();
    read_json(
        text.as_bytes(),
        |i| {
            items.push(i);
            Ok(())
        },
        |p| pages.push(p),
    )?;
    Ok((items, pages))
}

#[test]
fn the_provider_and_tenant_docs_samples_keep_their_placeholder_records_in_quarantine() {
    for name in [
        "provider-usage-aggregates.docs-sample.json",
        "tenant-usage-aggregates.docs-sample.json",
    ] {
        let (items, pages) = read(&fixture(name)).unwrap();
        assert_eq!((items.len(), pages.len()), (1, 1), "{name}");
        let Item::Rejected(r) = &items[0] else {
            panic!("{name}: placeholders must not be accepted")
        };
        assert_eq!(r.index, 0);
        // "sub1.1"/"sub1" and "meterID1" are documentation placeholders, not GUIDs.
        assert!(
            r.reason.contains("`subscriptionId`") && r.reason.contains("not a valid subscription ID"),
            "{}",
            r.reason
        );
        assert!(
            r.raw.contains("\"quantity\": 2.4000000000"),
            "the raw text is kept exactly"
        );
    }
}

#[test]
fn the_docs_sample_with_real_guids_is_accepted_with_its_exact_quantity() {
    // The same document with the placeholders replaced by GUIDs: everything else as
    // published (instanceData with JSON nulls, quantity 2.4000000000, +00:00 offsets).
    let text = fixture("provider-usage-aggregates.docs-sample.json")
        .replace("\"sub1.1\"", "\"5144634d-7e4d-443b-a304-d27e44220fc6\"")
        .replace("\"meterID1\"", "\"FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5\"");
    let (items, _) = read(&text).unwrap();
    let Item::Record { record: r, .. } = &items[0] else {
        panic!("{items:?}")
    };
    assert_eq!(r.quantity.canonical(), "2.4");
    assert_eq!(r.resource_uri, "resourceUri1");
    assert_eq!(r.location, "Alaska");
    assert_eq!((r.tags.as_str(), r.additional_info.as_str()), ("", ""));
    assert_eq!(r.usage_start.to_rfc3339(), "2015-03-03T00:00:00+00:00");
    assert_eq!((r.usage_end - r.usage_start).num_hours(), 24, "a Daily record");
}

#[test]
fn the_subscriber_usage_spec_example_is_an_empty_page() {
    let (items, pages) = read(&spec_body("subscriber-usage-aggregates.spec-example.json", "200")).unwrap();
    assert!(items.is_empty());
    assert_eq!(pages, vec![PageLinks::default()]);
}

#[test]
fn the_public_azure_usage_example_is_read_but_has_no_instance_data_to_bill() {
    // Public Azure's usageAggregates carry meterName/infoFields instead of instanceData:
    // the page is readable, the record is kept in quarantine with the reason.
    let (items, _) = read(&spec_body("azure-public-usage-aggregates.spec-example.json", "200")).unwrap();
    let Item::Rejected(r) = &items[0] else {
        panic!("{items:?}")
    };
    assert!(r.reason.contains("instanceData"), "{}", r.reason);
}

#[test]
fn the_recorded_504_gateway_timeout_is_an_error_document() {
    let err = read(&fixture("provider-usage-aggregates.recorded-error-504.json")).unwrap_err();
    match err {
        ReadError::Document(d) => assert!(d.message.contains("GatewayTimeout"), "{d}"),
        ReadError::Sink(_) => panic!(),
    }
}

#[test]
fn partner_center_utilization_is_not_a_usage_page() {
    // Partner Center's Azure-side records of Azure Stack usage use another shape (items,
    // resource, azureStack.* fields): refused as a document, with the reason.
    let err = read(&fixture("partner-center-azure-utilization.docs-sample.json")).unwrap_err();
    assert!(
        matches!(err, ReadError::Document(ref d) if d.message.contains("\"value\" array")),
        "{err:?}"
    );
}

#[test]
fn the_admin_subscriptions_list_names_the_owning_tenant_of_each_subscription() {
    let body: Value =
        serde_json::from_str(&spec_body("local-user-subscriptions-list.spec-example.json", "200")).unwrap();
    let subs = body["value"].as_array().unwrap();
    assert_eq!(subs.len(), 4);
    for s in subs {
        assert!(app::billing::SubscriptionId::parse(s["subscriptionId"].as_str().unwrap()).is_ok());
        assert_eq!(s["tenantId"], "d9b782d5-d098-4374-8f2c-3907cc34611c");
    }
}

#[test]
fn customer_subscription_mapping_samples_carry_tenant_guids() {
    // Read by the mapping features: the spec examples hold real GUIDs, the docs sample
    // placeholders ("tId1") that must be refused.
    let put: Value = serde_json::from_str(&fixture("customer-subscription-put.spec-example-2017-06-01.json")).unwrap();
    let tenant = put["parameters"]["customerCreationParameters"]["properties"]["tenantId"]
        .as_str()
        .unwrap();
    assert!(app::billing::CloudTenantId::parse(tenant).is_ok());
    let get: Value = serde_json::from_str(&fixture("customer-subscription-get.spec-example-2017-06-01.json")).unwrap();
    let name = get["parameters"]["customerSubscriptionName"].as_str().unwrap();
    assert!(
        app::billing::SubscriptionId::parse(name).is_ok(),
        "upper-case customer subscription ids parse too"
    );
    let list: Value = serde_json::from_str(&fixture("customer-subscriptions-list.docs-sample.json")).unwrap();
    assert!(app::billing::CloudTenantId::parse(list["value"][0]["properties"]["tenantId"].as_str().unwrap()).is_err());
    let list: Value =
        serde_json::from_str(&fixture("customer-subscriptions-list.spec-example-2022-06-01.json")).unwrap();
    assert_eq!(list["responses"]["200"]["body"]["value"].as_array().unwrap().len(), 1);
    let delete: Value =
        serde_json::from_str(&fixture("customer-subscription-delete.spec-example-2017-06-01.json")).unwrap();
    assert!(delete["responses"]["204"].is_object());
    let reg: Value = serde_json::from_str(&fixture("registration-put.spec-example-2017-06-01.json")).unwrap();
    assert_eq!(
        reg["responses"]["200"]["body"]["properties"]["billingModel"],
        "Development"
    );
}
