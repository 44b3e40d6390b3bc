//! Reading an uploaded CSV the same way everywhere: a size limit, UTF-8 (a byte-order mark
//! is dropped), one documented header whose columns come in any order and without regard
//! to case, and problems reported by row (1 is the header) and column. Every import
//! (mappings, price-sheet versions) checks its file whole and refuses it with every
//! problem at once, so nothing is half-applied.

use crate::error::{AppError, ErrorKind};
use crate::types::CsvRowError;
use std::collections::HashMap;

/// A CSV refused as a whole: 422 with every row's problem.
pub struct CsvRefused {
    /// The summary (boxed: the refusal travels in `Result`s).
    pub error: Box<AppError>,
    /// Each problem: row (1 is the header), column, reason.
    pub rows: Vec<CsvRowError>,
}

impl From<AppError> for CsvRefused {
    fn from(error: AppError) -> Self {
        CsvRefused {
            error: Box::new(error),
            rows: Vec::new(),
        }
    }
}

/// A refusal listing every problem.
pub fn refused(rows: Vec<CsvRowError>) -> CsvRefused {
    let n = rows.len();
    CsvRefused {
        error: Box::new(AppError::new(
            ErrorKind::Invalid,
            "invalid_csv",
            format!("The file has {n} problem(s); nothing was changed. Fix every row listed and send it again."),
        )),
        rows,
    }
}

/// One problem.
pub fn row_error(row: usize, column: &str, message: impl Into<String>) -> CsvRowError {
    CsvRowError {
        row: row as u64,
        column: column.to_owned(),
        message: message.into(),
    }
}

/// What a file must look like.
pub struct Layout<'a> {
    /// Every column the header may name, in the documented order.
    pub columns: &'a [&'a str],
    /// The columns it must name.
    pub required: &'a [&'a str],
    /// The largest file taken.
    pub max_bytes: usize,
    /// The most data rows taken.
    pub max_rows: usize,
}

/// One data row: its number in the file and its fields by column name (trimmed; a column
/// the header left out reads as empty).
pub struct Row {
    /// Row number (the first data row is 2).
    pub number: usize,
    fields: HashMap<&'static str, String>,
}

impl Row {
    /// A row from fields (the console's forms build rows too, to share the checks).
    pub fn new(number: usize, fields: impl IntoIterator<Item = (&'static str, String)>) -> Self {
        Row {
            number,
            fields: fields.into_iter().collect(),
        }
    }

    /// A field, trimmed; empty when absent.
    pub fn get(&self, column: &str) -> &str {
        self.fields.get(column).map(|s| s.trim()).unwrap_or("")
    }
}

/// Reads a file whole into rows, or refuses it with every problem of its shape (size,
/// encoding, header, unreadable rows, too many rows). Checking the values is the caller's.
pub fn read(bytes: &[u8], layout: &Layout<'static>) -> Result<Vec<Row>, CsvRefused> {
    if bytes.len() > layout.max_bytes {
        return Err(refused(vec![row_error(
            0,
            "",
            format!(
                "The file is larger than {} MiB; split it.",
                layout.max_bytes / 1024 / 1024
            ),
        )]));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        refused(vec![row_error(
            line,
            "",
            "The file is not UTF-8 text; save it as CSV UTF-8.",
        )])
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| refused(vec![row_error(1, "", format!("The header cannot be read: {e}."))]))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let expected = layout.columns.join(",");
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    let mut problems = Vec::new();
    for (i, h) in header.iter().enumerate() {
        match layout.columns.iter().find(|c| **c == h.as_str()) {
            None => problems.push(row_error(
                1,
                h,
                format!("Unknown column `{h}`; the header is {expected}."),
            )),
            Some(c) => {
                if index.insert(c, i).is_some() {
                    problems.push(row_error(1, h, format!("Column `{h}` appears twice.")));
                }
            }
        }
    }
    for required in layout.required {
        if !index.contains_key(required) {
            problems.push(row_error(
                1,
                required,
                format!("Column `{required}` is missing; the header is {expected}."),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(refused(problems));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let number = i + 2;
        if rows.len() + problems.len() >= layout.max_rows {
            return Err(refused(vec![row_error(
                number,
                "",
                format!("More than {} rows; split the file.", layout.max_rows),
            )]));
        }
        match record {
            Ok(r) => rows.push(Row::new(
                number,
                index.iter().map(|(c, i)| (*c, r.get(*i).unwrap_or("").to_owned())),
            )),
            Err(e) => problems.push(row_error(number, "", format!("This row cannot be read: {e}."))),
        }
    }
    if !problems.is_empty() {
        return Err(refused(problems));
    }
    if rows.is_empty() {
        return Err(refused(vec![row_error(2, "", "The file has a header and no rows.")]));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYOUT: Layout<'static> = Layout {
        columns: &["a", "b", "c"],
        required: &["a", "b"],
        max_bytes: 1024,
        max_rows: 3,
    };

    fn problems(r: Result<Vec<Row>, CsvRefused>) -> Vec<(u64, String)> {
        match r {
            Ok(_) => panic!("accepted"),
            Err(e) => e.rows.into_iter().map(|p| (p.row, p.column)).collect(),
        }
    }

    #[test]
    fn columns_come_in_any_order_and_case_and_a_bom_is_dropped() {
        let rows = read("\u{feff}B, A\n 2 ,1\n".as_bytes(), &LAYOUT).unwrap_or_else(|_| panic!("refused"));
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].number, rows[0].get("a"), rows[0].get("b"), rows[0].get("c")),
            (2, "1", "2", "")
        );
    }

    #[test]
    fn the_shape_of_a_bad_file_is_reported_by_row_and_column() {
        assert_eq!(
            problems(read(b"a,x\n1,2\n", &LAYOUT)),
            vec![(1, "x".into()), (1, "b".into())]
        );
        assert_eq!(problems(read(b"a,a,b\n1,2,3\n", &LAYOUT)), vec![(1, "a".into())]);
        assert_eq!(problems(read(b"a,b\n1,2\n\xff,3\n", &LAYOUT)), vec![(3, "".into())]);
        assert_eq!(problems(read(b"a,b\n1,2\n1,2,3\n", &LAYOUT)), vec![(3, "".into())]);
        assert_eq!(problems(read(b"a,b\n", &LAYOUT)), vec![(2, "".into())]);
        assert_eq!(
            problems(read(b"a,b\n1,2\n1,2\n1,2\n1,2\n", &LAYOUT)),
            vec![(5, "".into())]
        );
        assert_eq!(problems(read(&[b'a'; 2000], &LAYOUT)), vec![(0, "".into())]);
    }
}
