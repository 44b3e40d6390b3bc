//! CSV usage files: Stackbill's own header, and the column layout of Microsoft's
//! `Usagesummary.ps1` export.
//!
//! Stackbill's header (columns in any order, names case-insensitive):
//!
//! ```text
//! subscription_id,meter_id,usage_start,usage_end,quantity,resource_uri,location,tags,additional_info,reported_at
//! ```
//!
//! The first five and `resource_uri` are required; `reported_at` is optional. Times are
//! RFC 3339 (or ISO / US forms taken as UTC); quantities are read exactly from their text.
//!
//! `Usagesummary.ps1` writes `UsageStartTime, UsageEndTime, MeterName, Quantity,
//! resourceType, location, resourceGroup, resourceName, subowner, tags, MeterId,
//! additionalInfo, subscription, resourceUri`; its `subscription` column is the user
//! subscription and `MeterName` is informational.

use super::record::{Fields, Rejected};
use super::{DocumentError, Item, ReadError};
use std::io::Read;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Subscription,
    Meter,
    Start,
    End,
    Quantity,
    ResourceUri,
    Location,
    Tags,
    AdditionalInfo,
    Reported,
}

fn column_of(header: &str) -> Option<Column> {
    let key: String = header
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    Some(match key.as_str() {
        "subscriptionid" | "subscription" => Column::Subscription,
        "meterid" => Column::Meter,
        "usagestart" | "usagestarttime" => Column::Start,
        "usageend" | "usageendtime" => Column::End,
        "quantity" => Column::Quantity,
        "resourceuri" => Column::ResourceUri,
        "location" => Column::Location,
        "tags" => Column::Tags,
        "additionalinfo" => Column::AdditionalInfo,
        "reportedat" | "reportedtime" => Column::Reported,
        _ => return None,
    })
}

const REQUIRED: [(Column, &str); 6] = [
    (Column::Subscription, "subscription_id"),
    (Column::Meter, "meter_id"),
    (Column::Start, "usage_start"),
    (Column::End, "usage_end"),
    (Column::Quantity, "quantity"),
    (Column::ResourceUri, "resource_uri"),
];

fn position(e: &csv::Error) -> (u64, u64) {
    e.position().map(|p| (p.line(), 0)).unwrap_or((0, 0))
}

/// Reads a CSV document, calling `sink` for every row. A malformed document (no usable
/// header, a row with the wrong number of fields, invalid UTF-8) stops with its line.
pub fn read_csv<R, F, E>(reader: R, mut sink: F) -> Result<u64, ReadError<E>>
where
    R: Read,
    F: FnMut(Item) -> Result<(), E>,
{
    let doc = |line: u64, message: String| {
        ReadError::Document(DocumentError {
            line,
            column: 0,
            message,
        })
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::Headers)
        .from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|e| doc(position(&e).0.max(1), format!("invalid CSV: {e}")))?
        .clone();
    if headers.is_empty() || (headers.len() == 1 && headers[0].trim().is_empty()) {
        return Err(doc(1, "the document is empty".into()));
    }
    let columns: Vec<Option<Column>> = headers.iter().map(column_of).collect();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .filter(|(c, _)| !columns.contains(&Some(*c)))
        .map(|(_, name)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(doc(
            1,
            format!(
                "unrecognised CSV header: the columns {} are missing (expected Stackbill's header or the Usagesummary.ps1 layout)",
                missing.join(", ")
            ),
        ));
    }
    let mut header_line = String::new();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let _ = w.write_record(&headers);
        if let Ok(bytes) = w.into_inner() {
            header_line = String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    let mut index = 0u64;
    for row in csv.records() {
        let row = row.map_err(|e| {
            let (line, _) = position(&e);
            doc(
                line.max(1),
                format!(
                    "invalid CSV: {}",
                    e.to_string().split(" at line").next().unwrap_or_default()
                ),
            )
        })?;
        let mut fields = Fields::default();
        for (value, column) in row.iter().zip(&columns) {
            let v = Some(value.to_owned());
            match column {
                Some(Column::Subscription) => fields.subscription_id = v,
                Some(Column::Meter) => fields.meter_id = v,
                Some(Column::Start) => fields.usage_start = v,
                Some(Column::End) => fields.usage_end = v,
                Some(Column::Quantity) => fields.quantity = v,
                Some(Column::ResourceUri) => fields.resource_uri = v,
                Some(Column::Location) => fields.location = v,
                Some(Column::Tags) => fields.tags = v,
                Some(Column::AdditionalInfo) => fields.additional_info = v,
                Some(Column::Reported) => fields.reported_at = v,
                None => {}
            }
        }
        let item = match fields.validate() {
            Ok(record) => Item::Record { index, record },
            Err(reason) => {
                // Keep the row with its header: a one-row CSV that reads back the same way.
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::Any(b'\n'))
                    .from_writer(Vec::new());
                let _ = w.write_record(&row);
                let row_text = w
                    .into_inner()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                Item::Rejected(Rejected {
                    index,
                    raw: format!("{header_line}{row_text}"),
                    reason,
                })
            }
        };
        sink(item).map_err(ReadError::Sink)?;
        index += 1;
    }
    Ok(index)
}

/// Checks a CSV document's structure without interpreting the rows.
pub fn check_csv_syntax<R: Read>(reader: R) -> Result<(), DocumentError> {
    read_csv(reader, |_| Ok::<(), std::convert::Infallible>(()))
        .map(|_| ())
        .map_err(|e| match e {
            ReadError::Document(d) => d,
            ReadError::Sink(never) => match never {},
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn read(text: &str) -> Result<Vec<Item>, ReadError<&'static str>> {
        let mut items = Vec::new();
        read_csv(text.as_bytes(), |i| {
            items.push(i);
            Ok(())
        })?;
        Ok(items)
    }

    fn record(item: &Item) -> &crate::billing::UsageRecord {
        match item {
            Item::Record { record: r, .. } => r,
            Item::Rejected(r) => panic!("rejected: {}", r.reason),
        }
    }

    #[test]
    fn stackbills_own_header_reads_exactly() {
        let text = "subscription_id,meter_id,usage_start,usage_end,quantity,resource_uri,location,tags,additional_info\n\
            1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4,D5F7731B-F639-404A-89D0-E46186E22C8D,2024-12-01T00:00:00Z,2024-12-01T01:00:00Z,0.0013440860215053762,/subscriptions/x/disks/d1,northwest,,\n";
        let items = read(text).unwrap();
        let r = record(&items[0]);
        assert_eq!(r.quantity.value(), dec!(0.0013440860215053762));
        assert_eq!(r.meter_id.to_string(), "d5f7731b-f639-404a-89d0-e46186e22c8d");
    }

    #[test]
    fn the_usagesummary_ps1_layout_reads_in_its_own_column_order() {
        let text = "\"UsageStartTime\",\"UsageEndTime\",\"MeterName\",\"Quantity\",\"resourceType\",\"location\",\"resourceGroup\",\"resourceName\",\"subowner\",\"tags\",\"MeterId\",\"additionalInfo\",\"subscription\",\"resourceUri\"\n\
            \"12/10/2019 6:00:00 PM\",\"12/10/2019 7:00:00 PM\",\"Windows VM Size Hours\",\"8\",\"virtualMachines\",\"northwest\",\"vaasrgd47d\",\"VMClient0\",\"tenantadmin1@msazurestack.onmicrosoft.com\",\"\",\"9CD92D4C-BAFD-4492-B278-BEDC2DE8232A\",\"{\"\"ServiceType\"\":\"\"Standard_A4\"\"}\",\"1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4\",\"/subscriptions/1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4/resourceGroups/vaasrgd47d/providers/Microsoft.Compute/virtualMachines/VMClient0\"\n";
        let items = read(text).unwrap();
        let r = record(&items[0]);
        assert_eq!(r.usage_start.to_rfc3339(), "2019-12-10T18:00:00+00:00");
        assert_eq!(r.quantity.value(), dec!(8));
        assert_eq!(r.additional_info, "{\"ServiceType\":\"Standard_A4\"}");
        assert_eq!(r.subscription_id.to_string(), "1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4");
    }

    #[test]
    fn a_bad_row_is_rejected_with_its_header_and_reason_and_reads_back() {
        let text = "subscription_id,meter_id,usage_start,usage_end,quantity,resource_uri\n\
            1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4,9cd92d4c-bafd-4492-b278-bedc2de8232a,2024-12-01T00:00:00Z,2024-12-01T01:00:00Z,-3,/x\n";
        let items = read(text).unwrap();
        let Item::Rejected(r) = &items[0] else { panic!() };
        assert!(r.reason.contains("negative"), "{}", r.reason);
        assert!(r.raw.starts_with("subscription_id,meter_id"), "{}", r.raw);
        // The kept raw text is itself a CSV document that reads to the same rejection.
        let again = read(&r.raw).unwrap();
        assert!(matches!(&again[0], Item::Rejected(x) if x.reason == r.reason));
    }

    #[test]
    fn malformed_csv_documents_stop_with_their_line() {
        let err = read("foo,bar\n1,2\n").unwrap_err();
        assert!(err.to_string().contains("unrecognised CSV header"), "{err}");
        let text = "subscription_id,meter_id,usage_start,usage_end,quantity,resource_uri\na,b,c,d,e,f\na,b,c\n";
        let err = read(text).unwrap_err();
        match err {
            ReadError::Document(d) => assert_eq!(d.line, 3, "{d}"),
            ReadError::Sink(_) => panic!(),
        }
        assert!(read("").is_err());
        let invalid_utf8: &[u8] =
            b"subscription_id,meter_id,usage_start,usage_end,quantity,resource_uri\n\xff\xfe,b,c,d,e,f\n";
        let err = read_csv(invalid_utf8, |_| Ok::<(), &str>(())).unwrap_err();
        assert!(matches!(err, ReadError::Document(_)));
    }
}
