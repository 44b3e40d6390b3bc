//! Reading usage: the Azure Stack usage API's pages, arrays of records, and CSV (our own
//! header and the layout of Microsoft's `Usagesummary.ps1`), streamed so that memory does
//! not grow with the size of a file.
//!
//! Pure code (no database, no network): readers turn bytes into [`Item`]s — a valid
//! [`UsageRecord`] or a [`Rejected`] record with its raw text and the reason — and stop
//! with a [`DocumentError`] (line and column) when the document itself is malformed. What
//! to do with the items (batches, quarantine, storage) is the ingestion service's job.

pub mod csv_format;
pub mod document;
pub mod json_format;
pub mod record;
pub mod write;

pub use record::{parse_time, Rejected};

use crate::billing::UsageRecord;
use std::fmt;

/// One record read from a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A valid record and its 0-based position in the document.
    Record {
        /// Position in the document (quarantine rows and error reports name it).
        index: u64,
        /// The record.
        record: UsageRecord,
    },
    /// A record that cannot be accepted as it is (kept, with its raw text, in quarantine).
    Rejected(Rejected),
}

/// The format of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON: a usage-API page, an array of records, or several pages one after another.
    Json,
    /// CSV with a header line.
    Csv,
}

impl Format {
    /// Guesses the format from the first non-blank byte: `{` or `[` is JSON, anything
    /// else CSV.
    pub fn detect(head: &[u8]) -> Format {
        let first = head
            .iter()
            .copied()
            .find(|b| !b.is_ascii_whitespace() && *b != 0xef && *b != 0xbb && *b != 0xbf);
        match first {
            Some(b'{') | Some(b'[') => Format::Json,
            _ => Format::Csv,
        }
    }

    /// Storage code (quarantine rows remember how to read their raw text again).
    pub fn as_str(&self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }
}

/// A malformed document: nothing from it may be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError {
    /// 1-based line.
    pub line: u64,
    /// 1-based column (0 when unknown).
    pub column: u64,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column > 0 {
            write!(f, "{} at line {}, column {}", self.message, self.line, self.column)
        } else {
            write!(f, "{} at line {}", self.message, self.line)
        }
    }
}

impl std::error::Error for DocumentError {}

/// What a page said about the next one (the collector follows it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageLinks {
    /// `nextLink`: the URL of the next page.
    pub next_link: Option<String>,
    /// `continuationToken`: re-issue the query with it.
    pub continuation_token: Option<String>,
}

/// Why reading stopped: the document is malformed, or the consumer asked to stop.
#[derive(Debug)]
pub enum ReadError<E> {
    /// The document is malformed.
    Document(DocumentError),
    /// The item consumer failed (e.g. the database); its error.
    Sink(E),
}

impl<E: fmt::Display> fmt::Display for ReadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Document(d) => write!(f, "{d}"),
            ReadError::Sink(e) => write!(f, "{e}"),
        }
    }
}
