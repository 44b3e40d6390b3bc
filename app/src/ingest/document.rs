//! Whole documents: their format from the first bytes, the well-formedness check (a
//! malformed document is refused whole, with its line and column, before anything is
//! stored), and reading a small document into memory (a pushed request body).

use super::csv_format::{check_csv_syntax, read_csv};
use super::json_format::{check_json_syntax, read_json};
use super::{DocumentError, Format, Item, ReadError};
use std::fs::File;
use std::io::{BufRead, Read};
use std::path::Path;

/// Detects the format of a file from its first bytes.
pub fn detect_file_format(path: &Path) -> std::io::Result<Format> {
    let mut head = [0u8; 64];
    let mut f = File::open(path)?;
    let n = f.read(&mut head)?;
    Ok(Format::detect(&head[..n]))
}

/// Checks that a document is well formed (first pass).
pub fn check_syntax<R: BufRead>(reader: R, format: Format) -> Result<(), DocumentError> {
    match format {
        Format::Json => check_json_syntax(reader),
        Format::Csv => check_csv_syntax(reader),
    }
}

/// Reads every item of a document into memory (small documents: a pushed request).
pub fn read_all(bytes: &[u8], format: Format) -> Result<Vec<Item>, DocumentError> {
    let mut items = Vec::new();
    let sink = |i: Item| {
        items.push(i);
        Ok::<(), std::convert::Infallible>(())
    };
    let result = match format {
        Format::Json => read_json(bytes, sink, |_| {}),
        Format::Csv => read_csv(bytes, sink),
    };
    match result {
        Ok(_) => Ok(items),
        Err(ReadError::Document(d)) => Err(d),
        Err(ReadError::Sink(never)) => match never {},
    }
}
