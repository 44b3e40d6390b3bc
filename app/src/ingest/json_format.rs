//! Streaming JSON: usage-API pages (`{"value":[…],"nextLink":…}`), arrays of records,
//! and several pages one after another (JSON Lines of pages), read record by record.
//!
//! Each record is first captured as raw JSON (so a rejected record keeps its exact text)
//! and then parsed; a syntax error anywhere stops the whole document with its line and
//! column. Memory is bounded by one record, whatever the size of the document.

use super::record::{parse_json_record, Rejected};
use super::{DocumentError, Item, PageLinks, ReadError};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::cell::RefCell;
use std::fmt;
use std::io::{BufRead, Read};

/// Counts lines and columns of what has been read, so that errors in the second or later
/// page of a multi-page document still report absolute positions.
struct Counting<R> {
    inner: R,
    line: u64,
    column: u64,
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for b in &buf[..n] {
            if *b == b'\n' {
                self.line += 1;
                self.column = 0;
            } else {
                self.column += 1;
            }
        }
        Ok(n)
    }
}

impl<R: BufRead> Counting<R> {
    /// Skips whitespace (and a UTF-8 byte order mark); `false` at the end of input.
    fn skip_blank(&mut self) -> std::io::Result<bool> {
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            let mut n = 0;
            for b in buf {
                if b.is_ascii_whitespace() || matches!(*b, 0xef | 0xbb | 0xbf) {
                    n += 1;
                    if *b == b'\n' {
                        self.line += 1;
                        self.column = 0;
                    } else {
                        self.column += 1;
                    }
                } else {
                    break;
                }
            }
            let done = n < buf.len();
            self.inner.consume(n);
            if done {
                return Ok(true);
            }
        }
    }
}

struct State<'s, F, E> {
    index: u64,
    sink: &'s mut F,
    failure: Option<E>,
}

type Shared<'c, 's, F, E> = &'c RefCell<State<'s, F, E>>;

/// Reads a JSON document, calling `sink` for every record in order and `on_page` after
/// each page with its links. Returns the number of records read.
pub fn read_json<R, F, P, E>(reader: R, mut sink: F, mut on_page: P) -> Result<u64, ReadError<E>>
where
    R: BufRead,
    F: FnMut(Item) -> Result<(), E>,
    P: FnMut(PageLinks),
{
    let mut input = Counting {
        inner: reader,
        line: 1,
        column: 0,
    };
    let state = RefCell::new(State {
        index: 0,
        sink: &mut sink,
        failure: None,
    });
    let mut documents = 0;
    loop {
        let more = input.skip_blank().map_err(|e| {
            ReadError::Document(DocumentError {
                line: input.line,
                column: input.column,
                message: e.to_string(),
            })
        })?;
        if !more {
            break;
        }
        let (line0, col0) = (input.line, input.column);
        let mut de = serde_json::Deserializer::from_reader(&mut input);
        let result = DocumentSeed { state: &state }.deserialize(&mut de);
        drop(de);
        match result {
            Ok(links) => on_page(links),
            Err(e) => {
                if let Some(f) = state.borrow_mut().failure.take() {
                    return Err(ReadError::Sink(f));
                }
                let (line, column) = if e.line() <= 1 {
                    (line0, col0 + e.column() as u64)
                } else {
                    (line0 + e.line() as u64 - 1, e.column() as u64)
                };
                let message = e.to_string();
                let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
                return Err(ReadError::Document(DocumentError {
                    line,
                    column,
                    message: format!("invalid JSON: {message}"),
                }));
            }
        }
        documents += 1;
    }
    if documents == 0 {
        return Err(ReadError::Document(DocumentError {
            line: 1,
            column: 0,
            message: "the document is empty".into(),
        }));
    }
    let n = state.borrow().index;
    Ok(n)
}

/// Checks a JSON document's syntax without interpreting it (the first pass of an import:
/// a malformed file must store nothing).
pub fn check_json_syntax<R: BufRead>(reader: R) -> Result<(), DocumentError> {
    read_json(reader, |_| Ok::<(), std::convert::Infallible>(()), |_| {})
        .map(|_| ())
        .map_err(|e| match e {
            ReadError::Document(d) => d,
            ReadError::Sink(never) => match never {},
        })
}

struct DocumentSeed<'c, 's, F, E> {
    state: Shared<'c, 's, F, E>,
}

impl<'de, F, E> DeserializeSeed<'de> for DocumentSeed<'_, '_, F, E>
where
    F: FnMut(Item) -> Result<(), E>,
{
    type Value = PageLinks;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<PageLinks, D::Error> {
        d.deserialize_any(DocumentVisitor { state: self.state })
    }
}

struct DocumentVisitor<'c, 's, F, E> {
    state: Shared<'c, 's, F, E>,
}

impl<'de, F, E> Visitor<'de> for DocumentVisitor<'_, '_, F, E>
where
    F: FnMut(Item) -> Result<(), E>,
{
    type Value = PageLinks;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a usage page {\"value\": [...]} or an array of usage records")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PageLinks, A::Error> {
        let mut links = PageLinks::default();
        let mut saw_value = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "value" => {
                    saw_value = true;
                    map.next_value_seed(RecordsSeed { state: self.state })?;
                }
                "nextLink" => links.next_link = map.next_value::<Option<String>>()?.filter(|s| !s.is_empty()),
                "continuationToken" => {
                    links.continuation_token = map.next_value::<Option<String>>()?.filter(|s| !s.is_empty())
                }
                "error" => {
                    let error: serde_json::Value = map.next_value()?;
                    return Err(de::Error::custom(format!("the document is an error response: {error}")));
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !saw_value {
            return Err(de::Error::custom("a usage page needs a \"value\" array"));
        }
        Ok(links)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<PageLinks, A::Error> {
        RecordsVisitor { state: self.state }.visit_seq(seq)?;
        Ok(PageLinks::default())
    }
}

struct RecordsSeed<'c, 's, F, E> {
    state: Shared<'c, 's, F, E>,
}

impl<'de, F, E> DeserializeSeed<'de> for RecordsSeed<'_, '_, F, E>
where
    F: FnMut(Item) -> Result<(), E>,
{
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(RecordsVisitor { state: self.state })
    }
}

struct RecordsVisitor<'c, 's, F, E> {
    state: Shared<'c, 's, F, E>,
}

impl<'de, F, E> Visitor<'de> for RecordsVisitor<'_, '_, F, E>
where
    F: FnMut(Item) -> Result<(), E>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of usage records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            let mut state = self.state.borrow_mut();
            let index = state.index;
            state.index += 1;
            let item = match parse_json_record(raw.get()) {
                Ok(record) => Item::Record(record),
                Err(reason) => Item::Rejected(Rejected {
                    index,
                    raw: raw.get().to_owned(),
                    reason,
                }),
            };
            if let Err(e) = (state.sink)(item) {
                state.failure = Some(e);
                return Err(de::Error::custom("stopped by the consumer"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// The published samples, copied from the Azure Stack reference into the test fixtures.
    fn sample(name: &str) -> String {
        let path = format!("{}/tests/fixtures/azure-stack/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn the_published_docs_samples_are_read_and_their_placeholder_ids_rejected() {
        for name in [
            "provider-usage-aggregates.docs-sample.json",
            "tenant-usage-aggregates.docs-sample.json",
        ] {
            let text = sample(name);
            let (items, pages) = read(&text).unwrap();
            assert_eq!(pages.len(), 1, "{name}");
            assert_eq!(items.len(), 1, "{name}");
            // The docs use placeholders such as "sub1.1" and "meterID1": kept, rejected, explained.
            match &items[0] {
                Item::Rejected(r) => {
                    assert!(r.reason.contains("subscriptionId"), "{}", r.reason);
                    assert!(r.raw.contains("Alaska"));
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_empty_spec_example_page_has_no_records() {
        let page = r#"{"value": []}"#;
        let (items, pages) = read(page).unwrap();
        assert!(items.is_empty());
        assert_eq!(pages, vec![PageLinks::default()]);
    }

    #[test]
    fn next_link_and_continuation_token_are_reported() {
        let (_, pages) = read(r#"{"value":[],"nextLink":"https://x/next?continuationToken=abc"}"#).unwrap();
        assert_eq!(
            pages[0].next_link.as_deref(),
            Some("https://x/next?continuationToken=abc")
        );
        let (_, pages) = read(r#"{"continuationToken":"t1","value":[]}"#).unwrap();
        assert_eq!(pages[0].continuation_token.as_deref(), Some("t1"));
        let (_, pages) = read(r#"{"value":[],"nextLink":null}"#).unwrap();
        assert_eq!(pages[0].next_link, None);
    }

    #[test]
    fn several_pages_and_bare_arrays_are_read_in_order() {
        let rec = |q: u32| {
            format!(
                r#"{{"subscriptionId":"1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4","meterId":"9cd92d4c-bafd-4492-b278-bedc2de8232a","usageStartTime":"2019-12-10T18:00:00Z","usageEndTime":"2019-12-10T19:00:00Z","quantity":{q},"resourceUri":"/x"}}"#
            )
        };
        let text = format!("{{\"value\":[{}]}}\n{{\"value\":[{}, {}]}}\n", rec(1), rec(2), rec(3));
        let (items, pages) = read(&text).unwrap();
        assert_eq!(pages.len(), 2);
        let q: Vec<String> = items
            .iter()
            .map(|i| match i {
                Item::Record(r) => r.quantity.canonical(),
                Item::Rejected(r) => panic!("{}", r.reason),
            })
            .collect();
        assert_eq!(q, ["1", "2", "3"]);
        let (items, _) = read(&format!("[{}, {}]", rec(4), rec(5))).unwrap();
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn malformed_json_stops_with_the_line_and_column() {
        let err = read("{\"value\": [\n  {\"a\": 1},\n  {\"b\": }\n]}").unwrap_err();
        match err {
            ReadError::Document(d) => {
                assert_eq!((d.line, d.column), (3, 9), "{d}");
                assert!(d.message.starts_with("invalid JSON"), "{d}");
            }
            ReadError::Sink(_) => panic!(),
        }
        // In the second page of a multi-page file, positions are absolute.
        let err = read("{\"value\": []}\n{\"value\": [}").unwrap_err();
        assert!(
            matches!(err, ReadError::Document(DocumentError { line: 2, .. })),
            "{err}"
        );
        for bad in [
            "",
            "   ",
            "{\"value\": 5}",
            "{\"nextLink\": null}",
            "42",
            "{\"error\":{\"code\":\"GatewayTimeout\"}}",
        ] {
            assert!(matches!(read(bad), Err(ReadError::Document(_))), "{bad:?}");
        }
    }

    #[test]
    fn the_recorded_504_body_is_a_document_error_not_records() {
        let text = sample("provider-usage-aggregates.recorded-error-504.json");
        let err = read(&text).unwrap_err();
        assert!(err.to_string().contains("GatewayTimeout"), "{err}");
    }

    #[test]
    fn a_consumer_failure_stops_reading_and_is_returned() {
        let text = r#"[{"a":1},{"a":2},{"a":3}]"#;
        let mut seen = 0;
        let err = read_json(
            text.as_bytes(),
            |_| {
                seen += 1;
                if seen == 2 {
                    Err("disk full")
                } else {
                    Ok(())
                }
            },
            |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, ReadError::Sink("disk full")));
        assert_eq!(seen, 2);
    }
}
