//! read: turns each INPUT (a path, a `.gz` path, or `-` for stdin) into rows that remember their
//! file and line. Knows CSV and gzip, nothing of merging, validation or HTTP.
//!
//! Rows come out through a callback so the hot loop can reuse one record and the caller decides
//! what to keep. A malformed row becomes a [`BadRow`] and reading goes on; only problems that make
//! a whole input unusable (unreadable file, no contact column) are errors.

mod chunk;
pub mod columns;
mod gzip;
mod header;
mod reader;
mod record;
mod records;
mod rows;
mod scan;
mod stdin;
mod unclosed;

pub use columns::ColumnRules;
pub use header::{Format, FormatChoice, Layout, reads_back_as_wide};
pub use reader::{read_input, read_reader};
pub use stdin::Cancel;

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
    /// The bytes `inputs` hold at least: their files' sizes (a compressed file only grows; stdin,
    /// and a file that cannot be read, count for nothing here).
    pub fn known_bytes(inputs: &[InputSpec]) -> u64 {
        let sizes = inputs.iter().filter_map(|spec| std::fs::metadata(spec.path.as_ref()?).ok());
        sizes.map(|meta| meta.len()).sum()
    }

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
    /// An input with no InstanceId column needs `default_instance`: without either, every contact
    /// would be invalid, and that is a missing flag, not a bad export.
    pub instance_required: bool,
    /// `--send-empty`: an empty cell is an empty value, not "not given".
    pub send_empty: bool,
    /// With `--set`, a one-column file without a recognised header is a bare list of contact ids.
    pub allow_bare_ids: bool,
    /// `--columns`, `--exclude-columns`, `--rename`, `--sanitize-keys`.
    pub columns: ColumnRules,
    /// The run's region, when known: an instance ARN in another region is refused.
    pub region: Option<String>,
    /// Ends reading early, stdin included: set when the command is stopped.
    pub cancel: Cancel,
}

/// Where a row came from: the index of its input among all inputs, and its 1-based line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub input: u32,
    pub line: u64,
}

/// One good row: the contact it belongs to and the attributes it gives. The reader fills one
/// `Row` again for every record, so a row costs no allocation once its buffers have grown.
#[derive(Debug, Default)]
pub struct Row {
    pub location: Location,
    pub instance_id: String,
    pub contact_id: String,
    /// Wide: the keys of the attribute columns, shared by every row of the input.
    columns: Arc<[Arc<str>]>,
    /// The bytes of the names in `columns`, together.
    columns_len: usize,
    /// Values (and long-format keys) copied out of their record, back to back.
    text: String,
    /// The text of the records the row's record was read with (see [`chunk`]): most values are
    /// spans of it, not copies. The row's own record is `record[record_span.0..record_span.1]`.
    record: String,
    record_span: (usize, usize),
    attributes: Vec<Attribute>,
    /// A wide row read from text: its attributes are not listed in `attributes` but read off the
    /// record's fields when asked for (making the row then costs a copy of the field spans).
    wide: WideFields,
}

/// The fields of a wide text record, spans of the row's `record` (a line end's CR left out), and
/// for each attribute column the field it is. Empty when the row lists its attributes.
#[derive(Debug, Default, Clone)]
struct WideFields {
    fields: Vec<(u32, u32)>,
    /// Per attribute column (see [`RawKey::Column`]), its field; shared by the input's rows.
    field_of_column: Arc<[u32]>,
    /// `--send-empty`: an empty field is an attribute too.
    send_empty: bool,
}

/// A copy holds its own record's text alone, not the text of the records read with it.
impl Clone for Row {
    fn clone(&self) -> Row {
        let (start, end) = self.record_span;
        let rebase = |attribute: &Attribute| match attribute.value {
            Span::Record(s, e) => Attribute { value: Span::Record(s - start, e - start), ..*attribute },
            Span::Text(..) => *attribute,
        };
        let base = start as u32;
        let wide = WideFields {
            fields: self.wide.fields.iter().map(|&(s, e)| (s - base, e - base)).collect(),
            field_of_column: self.wide.field_of_column.clone(),
            send_empty: self.wide.send_empty,
        };
        Row {
            location: self.location,
            instance_id: self.instance_id.clone(),
            contact_id: self.contact_id.clone(),
            columns: self.columns.clone(),
            columns_len: self.columns_len,
            text: self.text.clone(),
            record: self.record[start..end].to_string(),
            record_span: (0, end - start),
            attributes: self.attributes.iter().map(rebase).collect(),
            wide,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Attribute {
    key: Key,
    value: Span,
}

/// Where a value is: a span of the row's own text, or of its record (see
/// [`Row::attribute_spans`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Text(usize, usize),
    Record(usize, usize),
}

/// Where an attribute's key is: a column of the header (wide) or a span of the row's text.
#[derive(Debug, Clone, Copy)]
enum Key {
    Column(u32),
    Text(usize, usize),
}

/// An attribute's key as [`Row::raw_attributes`] gives it: the number of a header column (the
/// same for every row of the input; [`Row::column_name`] names it), or the key itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawKey<'a> {
    Column(u32),
    Name(&'a str),
}

/// An attribute's key as the merge sees it: `column` is the index of the header's attribute
/// column it came from (stable for the whole input), `None` for a key read from the row (long).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeKey<'a> {
    pub column: Option<u32>,
    pub name: &'a str,
}

impl Row {
    /// A row with these attributes (tests, benches, fuzzing).
    pub fn new(location: Location, instance_id: &str, contact_id: &str, attributes: &[(&str, &str)]) -> Row {
        let mut row =
            Row { location, instance_id: instance_id.into(), contact_id: contact_id.into(), ..Row::default() };
        for (key, value) in attributes {
            row.push_named(key, Field::Text(value));
        }
        row
    }

    /// The attributes as (key, value), in the row's order.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.keyed_attributes().map(|(key, value)| (key.name, value))
    }

    /// The attributes with where their keys came from.
    pub fn keyed_attributes(&self) -> impl Iterator<Item = (AttributeKey<'_>, &str)> + '_ {
        self.entries().map(|attribute| {
            let key = match attribute.key {
                Key::Column(column) => AttributeKey { column: Some(column), name: &self.columns[column as usize] },
                Key::Text(start, end) => AttributeKey { column: None, name: &self.text[start..end] },
            };
            let value = match attribute.value {
                Span::Text(start, end) => &self.text[start..end],
                Span::Record(start, end) => &self.record[start..end],
            };
            (key, value)
        })
    }

    /// The attributes in the row's order with their keys as header columns (wide) or names
    /// (long), values as bytes: what the merge needs, without looking up each column's name.
    pub fn raw_attributes(&self) -> impl Iterator<Item = (RawKey<'_>, &[u8])> + '_ {
        let (record, text) = (self.record.as_bytes(), self.text.as_bytes());
        self.entries().map(move |attribute| {
            let key = match attribute.key {
                Key::Column(column) => RawKey::Column(column),
                Key::Text(start, end) => RawKey::Name(&self.text[start..end]),
            };
            let value = match attribute.value {
                Span::Text(start, end) => &text[start..end],
                Span::Record(start, end) => &record[start..end],
            };
            (key, value)
        })
    }

    /// [`Row::raw_attributes`] with each value's place rather than its bytes, and the two texts
    /// the places are in: the record's bytes, and the row's own. What lets a caller copy all of a
    /// row's values in one go (the record whole) instead of one by one.
    pub fn attribute_spans(&self) -> (&[u8], &[u8], impl Iterator<Item = (RawKey<'_>, Span)> + '_) {
        let (start, end) = self.record_span;
        let spans = self.entries().map(move |attribute| {
            let key = match attribute.key {
                Key::Column(column) => RawKey::Column(column),
                Key::Text(start, end) => RawKey::Name(&self.text[start..end]),
            };
            let value = match attribute.value {
                Span::Record(s, e) => Span::Record(s - start, e - start),
                text => text,
            };
            (key, value)
        });
        (&self.record.as_bytes()[start..end], self.text.as_bytes(), spans)
    }

    /// The row's record as [`Row::attribute_spans`] gives it, followed by whatever text comes
    /// after it among the records it was read with (nothing for a row made otherwise). The same
    /// spans index it; the text after lets a short value be copied as a block of fixed size that
    /// runs past its end (one move, not a call to copy a few bytes).
    pub fn record_and_after(&self) -> &[u8] {
        &self.record.as_bytes()[self.record_span.0..]
    }

    /// For a wide row read from text, its attributes as [`Row::attribute_spans`] gives them
    /// (each a span of the row's record), from the record's fields directly: the column and the
    /// value's span. `None` for a row that lists its attributes.
    pub fn wide_attribute_spans(&self) -> Option<impl Iterator<Item = (u32, (usize, usize))> + '_> {
        (!self.wide.fields.is_empty()).then(|| self.wide_spans(self.record_span.0))
    }

    /// A wide text row's attributes: each attribute column given a value, and the value's span
    /// less `base` (nothing for a row that lists its attributes).
    fn wide_spans(&self, base: usize) -> impl Iterator<Item = (u32, (usize, usize))> + '_ {
        let WideFields { fields, field_of_column, send_empty } = &self.wide;
        let columns: &[u32] = if fields.is_empty() { &[] } else { field_of_column };
        columns.iter().enumerate().filter_map(move |(column, &field)| {
            let (from, to) = fields[field as usize];
            (*send_empty || from != to).then(|| (column as u32, (from as usize - base, to as usize - base)))
        })
    }

    /// The key of the header's attribute column `column` (see [`RawKey::Column`]).
    pub fn column_name(&self, column: u32) -> &str {
        &self.columns[column as usize]
    }

    /// Bytes of text the row's values and keys are taken from (their sum at most): its own text,
    /// its record, and the names of the header's attribute columns (a wide row's keys).
    pub fn text_len(&self) -> usize {
        self.text.len() + self.record_span.1 - self.record_span.0 + self.columns_len
    }

    pub fn attribute_count(&self) -> usize {
        if self.wide.fields.is_empty() { self.attributes.len() } else { self.wide_spans(0).count() }
    }

    /// At least [`Row::attribute_count`], without walking the attributes.
    pub fn most_attributes(&self) -> usize {
        let wide = if self.wide.fields.is_empty() { 0 } else { self.wide.field_of_column.len() };
        self.attributes.len() + wide
    }

    /// The attributes, listed or read off the wide record's fields.
    fn entries(&self) -> impl Iterator<Item = Attribute> + '_ {
        let wide = self
            .wide_spans(0)
            .map(|(column, (start, end))| Attribute { key: Key::Column(column), value: Span::Record(start, end) });
        self.attributes.iter().copied().chain(wide)
    }

    /// Makes this a wide row of a text record: `fields` are the record's field spans in the
    /// row's `record`; `field_of_column` gives each attribute column's field.
    fn set_wide_fields(&mut self, fields: &[(u32, u32)], field_of_column: &Arc<[u32]>, send_empty: bool) {
        debug_assert!(self.attributes.is_empty(), "a row lists its attributes or reads them off its fields");
        self.wide.fields.extend_from_slice(fields);
        if !Arc::ptr_eq(&self.wide.field_of_column, field_of_column) {
            self.wide.field_of_column = field_of_column.clone();
        }
        self.wide.send_empty = send_empty;
    }

    /// Empties the row for the next record, keeping its buffers.
    fn clear(&mut self) {
        self.instance_id.clear();
        self.contact_id.clear();
        self.text.clear();
        self.attributes.clear();
        self.wide.fields.clear();
        self.record_span = (0, 0);
    }

    fn push_value(&mut self, value: &str) -> (usize, usize) {
        let start = self.text.len();
        self.text.push_str(value);
        (start, self.text.len())
    }

    /// The value, as a span of the record when it is one, else copied.
    fn push_span(&mut self, value: Field<'_>) -> Span {
        match value {
            Field::Span(start, end) => Span::Record(start, end),
            Field::Text(text) => {
                let (start, end) = self.push_value(text);
                Span::Text(start, end)
            }
        }
    }

    /// An attribute from the header's attribute column `column` (an index into `columns`).
    fn push_column(&mut self, column: usize, value: Field<'_>) {
        let value = self.push_span(value);
        self.attributes.push(Attribute { key: Key::Column(column as u32), value });
    }

    fn push_named(&mut self, key: &str, value: Field<'_>) {
        let (start, end) = self.push_value(key);
        let value = self.push_span(value);
        self.attributes.push(Attribute { key: Key::Text(start, end), value });
    }
}

/// A field as rows are filled from it: a span of the record the row keeps, or text from
/// elsewhere (copied into the row).
#[derive(Debug, Clone, Copy)]
enum Field<'a> {
    Span(usize, usize),
    Text(&'a str),
}

impl Field<'_> {
    fn is_empty(&self) -> bool {
        match self {
            Field::Span(start, end) => start == end,
            Field::Text(text) => text.is_empty(),
        }
    }
}

impl PartialEq for Row {
    fn eq(&self, other: &Row) -> bool {
        self.location == other.location
            && self.instance_id == other.instance_id
            && self.contact_id == other.contact_id
            && self.attributes().eq(other.attributes())
    }
}

impl Eq for Row {}

/// A row that could not be read; the rest of the input goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub location: Location,
    pub reason: String,
}

/// What the reader hands on for each record. A good row is lent: copy what you keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    Row(&'a Row),
    Bad(BadRow),
}

impl Item<'_> {
    /// A copy that outlives the reader's next record.
    pub fn owned(&self) -> OwnedItem {
        match self {
            Item::Row(row) => OwnedItem::Row((*row).clone()),
            Item::Bad(bad) => OwnedItem::Bad(bad.clone()),
        }
    }
}

/// An [`Item`] kept after reading went on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedItem {
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
    #[error("{name}:{line}: cannot read: {source}")]
    Unreadable { name: String, line: u64, source: std::io::Error },
    #[error("{name}: reading was stopped")]
    Stopped { name: String },
    #[error("{name}:1: the file is empty: expected a header row naming the contact id column")]
    Empty { name: String },
    #[error(
        "{name}:1: the header is not CSV text ({problem}): is this a CSV file? Exports in UTF-16 (\"Unicode text\") must be saved as UTF-8"
    )]
    NotText { name: String, problem: String },
    #[error(
        "{name}:1: the header holds a carriage return ({column}): the lines seem to end in CR alone (classic Mac); save the file with LF or CRLF line ends"
    )]
    CarriageReturns { name: String, column: String },
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
    #[error(
        "{name}:1: with --set, a one-column file is a list of contact ids, but its first line {first} holds {what}: {hint}"
    )]
    NotAnIdList { name: String, first: String, what: &'static str, hint: &'static str },
    #[error(
        "{name}:1: no instance for its contacts: the file has no InstanceId column and --instance-id is not given; pass --instance-id ID (or the instance's ARN)"
    )]
    NoInstance { name: String },
    #[error(
        "{name}:{line}: {source}: nothing read from this input can be trusted, so nothing is sent; fetch or compress the file again"
    )]
    Damaged { name: String, line: u64, source: std::io::Error },
}
