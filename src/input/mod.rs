//! read: turns each INPUT (a path, a `.gz` path, or `-` for stdin) into rows that remember their
//! file and line. Knows CSV and gzip, nothing of merging, validation or HTTP.
//!
//! Rows come out through a callback so the hot loop can reuse one record and the caller decides
//! what to keep. A malformed row becomes a [`BadRow`] and reading goes on; only problems that make
//! a whole input unusable (unreadable file, no contact column) are errors.

pub mod columns;
mod header;
mod reader;

pub use columns::ColumnRules;
pub use header::{Format, FormatChoice, Layout};
pub use reader::read_input;

use std::path::PathBuf;
use std::sync::Arc;

/// One INPUT as the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    /// What messages call it: the path as typed, or `stdin`.
    pub name: String,
    /// `None` for stdin.
    pub path: Option<PathBuf>,
}

impl InputSpec {
    pub fn parse(arg: &str) -> InputSpec {
        if arg == "-" {
            InputSpec { name: "stdin".to_string(), path: None }
        } else {
            InputSpec { name: arg.to_string(), path: Some(PathBuf::from(arg)) }
        }
    }
}

/// How rows are read, resolved once from the command line.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub format: FormatChoice,
    /// `--contact-column`: overrides the built-in contact id column names.
    pub contact_column: Option<String>,
    /// `--instance-id`: used where a row has no InstanceId of its own.
    pub default_instance: Option<String>,
    /// `--send-empty`: an empty cell is an empty value, not "not given".
    pub send_empty: bool,
    /// With `--set`, a one-column file without a recognised header is a bare list of contact ids.
    pub allow_bare_ids: bool,
    /// `--columns`, `--exclude-columns`, `--rename`, `--sanitize-keys`.
    pub columns: ColumnRules,
    /// The run's region, when known: an instance ARN in another region is refused.
    pub region: Option<String>,
}

/// Where a row came from: the index of its input among all inputs, and its 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub input: u32,
    pub line: u64,
}

/// One good row: the contact it belongs to and the attributes it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub location: Location,
    pub instance_id: String,
    pub contact_id: String,
    /// Keys are shared with the header (wide) so a row costs one allocation per value.
    pub attributes: Vec<(Arc<str>, String)>,
}

/// A row that could not be read; the rest of the input goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub location: Location,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Row(Row),
    Bad(BadRow),
}

/// What reading one input found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputInfo {
    pub format: Format,
    pub rows: u64,
    pub bad_rows: u64,
}

/// An input that cannot be used at all. Each names the input and says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{name}: cannot open: {source}")]
    Open { name: String, source: std::io::Error },
    #[error("{name}: the file is empty: expected a header row naming the contact id column")]
    Empty { name: String },
    #[error(
        "{name}:1: no contact id column: the header has {header}; name it InitialContactId (or initial_contact_id, ContactId, contact_id) or pass --contact-column"
    )]
    NoContactColumn { name: String, header: String },
    #[error("{name}:1: the column {column:?} given by --contact-column is not in the header ({header})")]
    MissingContactColumn { name: String, column: String, header: String },
    #[error("{name}:1: column {column:?} appears more than once in the header: rename one of them")]
    DuplicateColumn { name: String, column: String },
    #[error("{name}:1: --columns names {column:?}, which is not in the header (columns {header})")]
    UnknownColumn { name: String, column: String, header: String },
    #[error(
        "{name}:1: columns {first:?} and {second:?} would both become attribute {key:?}: rename one with --rename, or leave one out with --exclude-columns"
    )]
    ColumnCollision { name: String, first: String, second: String, key: String },
    #[error(
        "{name}:1: --format long needs a Key (or Attribute, Name) column and a Value column; the header has {header}"
    )]
    NotLong { name: String, header: String },
}
