//! Streaming JSON: usage-API pages (`{"value":[…],"nextLink":…}`), arrays of records,
//! and several pages one after another (JSON Lines of pages), read record by record.
//!
//! A small scanner walks the document's outer structure (the page object and its `value`
//! array) over the buffered input, copying out one record at a time; each record is then
//! parsed from memory with serde_json. That keeps memory bounded by one record whatever the
//! size of the document, and runs at memory speed instead of serde_json's byte-at-a-time
//! reader. A syntax error anywhere — in the outer structure or inside a record — stops the
//! whole document with its line and column; a well-formed record that is not a valid usage
//! record is a [`Rejected`] item with its exact text.

use super::record::{parse_json_record_checked, Rejected};
use super::{DocumentError, Item, PageLinks, ReadError};
use std::io::BufRead;

struct Scanner<R> {
    input: R,
    line: u64,
    column: u64,
}

type Doc = DocumentError;

/// The longest single value (a record, a key, a page's other fields) a document may hold.
pub const MAX_VALUE_BYTES: usize = 1 << 20;

impl<R: BufRead> Scanner<R> {
    fn error(&self, message: impl Into<String>) -> Doc {
        DocumentError {
            line: self.line,
            column: self.column.max(1),
            message: message.into(),
        }
    }

    fn io(&self, e: std::io::Error) -> Doc {
        self.error(format!("cannot read the document: {e}"))
    }

    fn peek(&mut self) -> Result<Option<u8>, Doc> {
        match self.input.fill_buf() {
            Ok(buf) => Ok(buf.first().copied()),
            Err(e) => Err(self.io(e)),
        }
    }

    fn bump(&mut self, b: u8) {
        self.input.consume(1);
        if b == b'\n' {
            self.line += 1;
            self.column = 0;
        } else {
            self.column += 1;
        }
    }

    /// Skips whitespace and a UTF-8 byte order mark; `false` at the end of the input.
    fn skip_blank(&mut self) -> Result<bool, Doc> {
        loop {
            match self.peek()? {
                None => return Ok(false),
                Some(b) if b.is_ascii_whitespace() || matches!(b, 0xef | 0xbb | 0xbf) => self.bump(b),
                Some(_) => return Ok(true),
            }
        }
    }

    /// After a member of an array or object: consumes `,` (more follow: `true`) or the
    /// closing bracket (`false`).
    fn separator(&mut self, close: u8, inside: &str) -> Result<bool, Doc> {
        self.skip_blank()?;
        match self.peek()? {
            Some(b',') => {
                self.bump(b',');
                Ok(true)
            }
            Some(b) if b == close => {
                self.bump(b);
                Ok(false)
            }
            Some(b) => {
                self.column += 1;
                Err(self.error(format!(
                    "invalid JSON: expected `,` or `{}`, found `{}`",
                    char::from(close),
                    char::from(b)
                )))
            }
            None => Err(self.error(format!("invalid JSON: EOF while parsing {inside}"))),
        }
    }

    fn expect(&mut self, wanted: u8, what: &str) -> Result<(), Doc> {
        self.skip_blank()?;
        match self.peek()? {
            Some(b) if b == wanted => {
                self.bump(b);
                Ok(())
            }
            Some(b) => {
                self.column += 1;
                Err(self.error(format!("invalid JSON: expected {what}, found `{}`", char::from(b))))
            }
            None => Err(self.error(format!("invalid JSON: expected {what}, found the end of the document"))),
        }
    }

    /// Copies one complete JSON value (object, array, string or scalar; at most
    /// [`MAX_VALUE_BYTES`]) into `out`, tracking strings and nesting; returns where it
    /// started.
    fn capture(&mut self, out: &mut Vec<u8>) -> Result<(u64, u64), Doc> {
        out.clear();
        self.skip_blank()?;
        let start = (self.line, self.column + 1);
        let first = self
            .peek()?
            .ok_or_else(|| self.error("invalid JSON: unexpected end of the document"))?;
        let mut depth: i64 = 0;
        let mut in_string = false;
        let mut escaped = false;
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        loop {
            let buf = match self.input.fill_buf() {
                Ok(buf) => buf,
                Err(e) => return Err(self.io(e)),
            };
            if buf.is_empty() {
                if scalar && !out.is_empty() {
                    return Ok(start);
                }
                return Err(DocumentError {
                    line: self.line,
                    column: self.column.max(1),
                    message: "invalid JSON: EOF while parsing a value".into(),
                });
            }
            let (i, done) = if scalar {
                match buf
                    .iter()
                    .position(|&b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
                {
                    Some(i) => (i, true),
                    None => (buf.len(), false),
                }
            } else {
                scan_structure(buf, &mut depth, &mut in_string, &mut escaped)
            };
            // Positions are tracked per chunk, not per byte: count the newlines in what
            // was consumed and measure the column from the last one.
            let chunk = &buf[..i];
            let (mut line, mut column) = (self.line, self.column);
            match memchr::memrchr(b'\n', chunk) {
                Some(last) => {
                    line += memchr::memchr_iter(b'\n', chunk).count() as u64;
                    column = (i - last - 1) as u64;
                }
                None => column += i as u64,
            }
            out.extend_from_slice(&buf[..i]);
            self.input.consume(i);
            self.line = line;
            self.column = column;
            if done {
                return Ok(start);
            }
            // Memory must not grow with the document: an unterminated string or a runaway
            // value would otherwise be buffered whole.
            if out.len() > MAX_VALUE_BYTES {
                return Err(DocumentError {
                    line: start.0,
                    column: start.1,
                    message: format!(
                        "a single JSON value is longer than {} MiB (an unterminated string?); a usage record is a few KiB",
                        MAX_VALUE_BYTES >> 20
                    ),
                });
            }
        }
    }
}

/// Scans `buf` for the end of the value being captured, carrying the nesting `depth`,
/// whether the scan is inside a string and after a backslash across calls (a value may
/// span many buffer fills). Returns how many bytes belong to the value and whether it
/// ended. Strings — most of a usage record — are skipped with `memchr2` to the next quote
/// or backslash instead of byte by byte.
fn scan_structure(buf: &[u8], depth: &mut i64, in_string: &mut bool, escaped: &mut bool) -> (usize, bool) {
    let mut i = 0;
    while i < buf.len() {
        if *in_string {
            if *escaped {
                *escaped = false;
                i += 1;
                continue;
            }
            match memchr::memchr2(b'"', b'\\', &buf[i..]) {
                None => return (buf.len(), false),
                Some(at) => {
                    i += at;
                    if buf[i] == b'\\' {
                        *escaped = true;
                    } else {
                        *in_string = false;
                        if *depth == 0 {
                            return (i + 1, true);
                        }
                    }
                }
            }
        } else {
            match buf[i] {
                b'"' => *in_string = true,
                b'{' | b'[' => *depth += 1,
                b'}' | b']' => {
                    *depth -= 1;
                    if *depth == 0 {
                        return (i + 1, true);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    (buf.len(), false)
}

/// Turns a serde_json error inside a captured value into an absolute position.
fn position_of(start: (u64, u64), e: &serde_json::Error) -> DocumentError {
    let (line, column) = if e.line() <= 1 {
        (start.0, start.1 + e.column().saturating_sub(1) as u64)
    } else {
        (start.0 + e.line() as u64 - 1, e.column() as u64)
    };
    let message = e.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
    DocumentError {
        line,
        column,
        message: format!("invalid JSON: {message}"),
    }
}

fn as_text(bytes: &[u8], start: (u64, u64)) -> Result<&str, Doc> {
    std::str::from_utf8(bytes).map_err(|e| DocumentError {
        line: start.0,
        column: start.1,
        message: format!("the document is not UTF-8: {e}"),
    })
}

struct Reader<R, F> {
    scan: Scanner<R>,
    sink: F,
    index: u64,
    record: Vec<u8>,
    /// Only check well-formedness: records are validated as JSON, not interpreted.
    check_only: bool,
}

impl<R: BufRead, F: FnMut(Item) -> Result<(), E>, E> Reader<R, F> {
    fn records(&mut self) -> Result<(), ReadError<E>> {
        // `[` already consumed.
        self.scan.skip_blank().map_err(ReadError::Document)?;
        if self.scan.peek().map_err(ReadError::Document)? == Some(b']') {
            self.scan.bump(b']');
            return Ok(());
        }
        loop {
            let start = self.scan.capture(&mut self.record).map_err(ReadError::Document)?;
            let text = as_text(&self.record, start).map_err(ReadError::Document)?;
            let index = self.index;
            self.index += 1;
            if self.check_only {
                serde_json::from_str::<serde::de::IgnoredAny>(text)
                    .map_err(|e| ReadError::Document(position_of(start, &e)))?;
            } else {
                let item = match parse_json_record_checked(text) {
                    Ok(Ok(record)) => Item::Record { index, record },
                    Ok(Err(reason)) => Item::Rejected(Rejected {
                        index,
                        raw: text.to_owned(),
                        reason,
                    }),
                    Err(e) => return Err(ReadError::Document(position_of(start, &e))),
                };
                (self.sink)(item).map_err(ReadError::Sink)?;
            }
            if !self.scan.separator(b']', "a list").map_err(ReadError::Document)? {
                return Ok(());
            }
        }
    }

    fn page(&mut self) -> Result<PageLinks, ReadError<E>> {
        // `{` already consumed.
        let mut links = PageLinks::default();
        let mut saw_value = false;
        let mut key = Vec::new();
        let mut value = Vec::new();
        self.scan.skip_blank().map_err(ReadError::Document)?;
        if self.scan.peek().map_err(ReadError::Document)? == Some(b'}') {
            self.scan.bump(b'}');
        } else {
            loop {
                let key_start = self.scan.capture(&mut key).map_err(ReadError::Document)?;
                let name: String =
                    serde_json::from_slice(&key).map_err(|e| ReadError::Document(position_of(key_start, &e)))?;
                self.scan.expect(b':', "`:`").map_err(ReadError::Document)?;
                match name.as_str() {
                    "value" => {
                        saw_value = true;
                        self.scan.skip_blank().map_err(ReadError::Document)?;
                        if self.scan.peek().map_err(ReadError::Document)? != Some(b'[') {
                            return Err(ReadError::Document(
                                self.scan.error("a usage page's \"value\" must be an array"),
                            ));
                        }
                        self.scan.bump(b'[');
                        self.records()?;
                    }
                    other => {
                        let start = self.scan.capture(&mut value).map_err(ReadError::Document)?;
                        let v: serde_json::Value =
                            serde_json::from_slice(&value).map_err(|e| ReadError::Document(position_of(start, &e)))?;
                        match other {
                            "nextLink" => links.next_link = v.as_str().filter(|s| !s.is_empty()).map(str::to_owned),
                            "continuationToken" => {
                                links.continuation_token = v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
                            }
                            "error" => {
                                return Err(ReadError::Document(DocumentError {
                                    line: start.0,
                                    column: start.1,
                                    message: format!("the document is an error response: {v}"),
                                }))
                            }
                            _ => {}
                        }
                    }
                }
                if !self.scan.separator(b'}', "an object").map_err(ReadError::Document)? {
                    break;
                }
            }
        }
        if !saw_value {
            return Err(ReadError::Document(
                self.scan.error("a usage page needs a \"value\" array"),
            ));
        }
        Ok(links)
    }
}

/// Reads a JSON document, calling `sink` for every record in order and `on_page` after
/// each page with its links. Returns the number of records read.
pub fn read_json<R, F, P, E>(reader: R, sink: F, on_page: P) -> Result<u64, ReadError<E>>
where
    R: BufRead,
    F: FnMut(Item) -> Result<(), E>,
    P: FnMut(PageLinks),
{
    read(reader, sink, on_page, false)
}

fn read<R, F, P, E>(reader: R, sink: F, mut on_page: P, check_only: bool) -> Result<u64, ReadError<E>>
where
    R: BufRead,
    F: FnMut(Item) -> Result<(), E>,
    P: FnMut(PageLinks),
{
    let scan = Scanner {
        input: reader,
        line: 1,
        column: 0,
    };
    let mut r = Reader {
        scan,
        sink,
        index: 0,
        record: Vec::new(),
        check_only,
    };
    let mut documents = 0;
    loop {
        if !r.scan.skip_blank().map_err(ReadError::Document)? {
            break;
        }
        match r.scan.peek().map_err(ReadError::Document)? {
            Some(b'{') => {
                r.scan.bump(b'{');
                let links = r.page()?;
                on_page(links);
            }
            Some(b'[') => {
                r.scan.bump(b'[');
                r.records()?;
                on_page(PageLinks::default());
            }
            Some(b) => {
                r.scan.column += 1;
                return Err(ReadError::Document(r.scan.error(format!(
                    "expected a usage page {{\"value\": [...]}} or an array of usage records, found `{}`",
                    char::from(b)
                ))));
            }
            None => break,
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
    Ok(r.index)
}

/// Checks a JSON document without storing anything (the first pass of an import: a
/// malformed file must store nothing).
pub fn check_json_syntax<R: BufRead>(reader: R) -> Result<(), DocumentError> {
    read(reader, |_| Ok::<(), std::convert::Infallible>(()), |_| {}, true)
        .map(|_| ())
        .map_err(|e| match e {
            ReadError::Document(d) => d,
            ReadError::Sink(never) => match never {},
        })
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
    fn an_unterminated_string_stops_at_the_value_limit_instead_of_buffering_the_file() {
        // 3 MiB of one string that never ends: refused at its start, memory stays bounded.
        let mut text = String::from("{\"value\":[\n {\"a\": \"");
        text.push_str(&"x".repeat(3 << 20));
        let err = match read(&text) {
            Err(ReadError::Document(e)) => e,
            other => panic!("{:?}", other.map(|(i, _)| i.len())),
        };
        assert_eq!((err.line, err.column), (2, 2), "{}", err.message);
        assert!(err.message.contains("longer than 1 MiB"), "{}", err.message);
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
                Item::Record { record: r, .. } => r.quantity.canonical(),
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

    /// Everything `read_json` reports, as text, for comparing two reads.
    fn outcome<R: BufRead>(reader: R) -> String {
        let mut items = Vec::new();
        let mut pages = Vec::new();
        let result = read_json(
            reader,
            |i| {
                items.push(i);
                Ok::<(), &'static str>(())
            },
            |p| pages.push(p),
        );
        format!("{result:?}\n{items:?}\n{pages:?}")
    }

    #[test]
    fn buffer_boundaries_change_nothing_not_even_error_positions() {
        // The scanner works on whatever the reader's buffer holds; a value, an escape or
        // a multi-byte character may be split anywhere. One-byte buffers are the worst case.
        let rec = |q: &str, uri: &str| {
            format!(
                "{{\"subscriptionId\":\"1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4\",\n \"meterId\":\"9cd92d4c-bafd-4492-b278-bedc2de8232a\",\"usageStartTime\":\"2019-12-10T18:00:00Z\",\"usageEndTime\":\"2019-12-10T19:00:00Z\",\"quantity\":{q},\"resourceUri\":\"{uri}\",\"tags\":{{\"客戶\":\"a}}]\\\"b\\\\\"}}}}"
            )
        };
        let good = format!(
            "\u{feff}{{\"value\":[{}, {}],\"nextLink\":null}}\n{{\"value\":[\n{}\n]}}\n[{}]",
            rec("1.5", "/x/\\\"quoted\\\""),
            rec("2", "/y/{braces}[and]"),
            rec("3e2", "/z\\\\"),
            rec("\"4\"", "/w")
        );
        let mut docs = vec![good.clone()];
        for cut in [40, 200, good.len() - 3] {
            docs.push(good[..good.floor_char_boundary(cut)].to_owned());
        }
        docs.push(good.replacen("\"quantity\":2", "\"quantity\":2,,", 1));
        docs.push(good.replacen("[\n{", "[\n{]", 1));
        for doc in &docs {
            let whole = outcome(doc.as_bytes());
            for capacity in [1, 2, 3, 7, 64] {
                let split = outcome(std::io::BufReader::with_capacity(capacity, doc.as_bytes()));
                assert_eq!(whole, split, "capacity {capacity}, document {doc:?}");
            }
        }
        assert!(
            outcome(good.as_bytes()).starts_with("Ok(4)"),
            "{}",
            outcome(good.as_bytes())
        );
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
