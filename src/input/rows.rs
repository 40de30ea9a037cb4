//! Records to rows: the fields a layout names, checked (UTF-8, no NUL, the right number of
//! fields) and put in one reused [`Row`], whose values are spans of the record rather than copies.

use super::columns::LongKeys;
use super::header::Layout;
use super::record::{Record, TextRecord};
use super::{BadRow, Field, Item, Location, ReadOptions, Row};
use std::sync::Arc;

/// Turns records into rows, reusing one `Row` for all of them.
pub struct RowMaker<'a> {
    name: &'a str,
    layout: &'a Layout,
    options: &'a ReadOptions,
    keys: LongKeys<'a>,
    row: Box<Row>,
    /// The last instance field read, and the instance id it names.
    last_instance: (String, String),
}

/// A record as the parsing thread hands it over: text when it is UTF-8 with no NUL (checked there,
/// once for the whole record, so its fields can be borrowed as they are), else its bytes, which
/// are taken field by field to say what is wrong.
pub enum Parsed {
    Text(TextRecord),
    Bytes(Record),
}

impl Parsed {
    pub fn of(record: Record) -> Parsed {
        if !clean(&record) {
            return Parsed::Bytes(record);
        }
        match TextRecord::from_record(record) {
            Ok(text) => Parsed::Text(text),
            Err(record) => Parsed::Bytes(record),
        }
    }

    fn len(&self) -> usize {
        match self {
            Parsed::Text(text) => text.len(),
            Parsed::Bytes(bytes) => bytes.len(),
        }
    }

    fn into_bytes(self) -> Record {
        match self {
            Parsed::Text(text) => text.into_record(),
            Parsed::Bytes(bytes) => bytes,
        }
    }
}

impl<'a> RowMaker<'a> {
    pub fn new(name: &'a str, layout: &'a Layout, options: &'a ReadOptions) -> RowMaker<'a> {
        let columns: Arc<[Arc<str>]> = match layout {
            Layout::Wide { attributes, .. } => attributes.iter().map(|(_, key)| key.clone()).collect(),
            Layout::Long { .. } | Layout::BareIds => Arc::from(Vec::new()),
        };
        let row = Box::new(Row { columns, ..Row::default() });
        RowMaker {
            name,
            layout,
            options,
            keys: LongKeys::new(&options.columns),
            row,
            last_instance: Default::default(),
        }
    }

    /// The row of `record`, or why it is bad; and a record to read the next one into.
    pub fn item(&mut self, record: Parsed, location: Location) -> (Item<'_>, Record) {
        let width = match self.layout {
            Layout::Wide { width, .. } | Layout::Long { width, .. } => *width,
            Layout::BareIds => 1,
        };
        let (result, spare) = match record {
            record if record.len() != width => {
                (Err(format!("has {} fields, the header has {width}", record.len())), record.into_bytes())
            }
            Parsed::Text(text) => {
                let (last, bytes) = (width - 1, text.as_str().as_bytes());
                let get = |i, _: &str| {
                    let (start, end) = text.span(i).unwrap_or_default();
                    let cr = i == last && end > start && bytes[end - 1] == b'\r';
                    Ok(Field::Span(start, end - usize::from(cr)))
                };
                let result = self.fill(location, text.as_str(), get);
                // The record becomes the row's (its values are spans of it); the row's old one
                // goes back for reading.
                let old = std::mem::replace(&mut self.row.record, text);
                (result, old.into_record())
            }
            Parsed::Bytes(bytes) => {
                // Its values are copied into the row: the row holds no record (not the last one's).
                self.row.record.clear();
                (self.fill(location, "", |i, column| Ok(Field::Text(field(&bytes, i, column)?))), bytes)
            }
        };
        let item = match result {
            Ok(()) => Item::Row(&self.row),
            Err(reason) => Item::Bad(BadRow { location, reason }),
        };
        (item, spare)
    }

    /// Fills the row from the fields `get` gives (by index; the column's name is for messages):
    /// spans of `record` (the text of the record the row will keep), or text of their own.
    fn fill<'r>(
        &mut self,
        location: Location,
        record: &'r str,
        get: impl Fn(usize, &str) -> Result<Field<'r>, String>,
    ) -> Result<(), String> {
        let (layout, options, row) = (self.layout, self.options, &mut *self.row);
        let text = |field: Field<'r>| match field {
            Field::Span(start, end) => &record[start..end],
            Field::Text(text) => text,
        };
        let (contact, instance) = match layout {
            Layout::Wide { contact, instance, .. } | Layout::Long { contact, instance, .. } => (*contact, *instance),
            Layout::BareIds => (0, None),
        };
        row.clear();
        row.location = location;
        row.contact_id.push_str(trim(text(get(contact, "contact id")?)));
        match instance.map(|i| get(i, "InstanceId")).transpose()?.map(|id| trim(text(id))) {
            Some(id) if !id.is_empty() => {
                // Rows of an export name a handful of instances: the last one is looked up once.
                let (raw, resolved) = &mut self.last_instance;
                if id != raw.as_str() {
                    let found = crate::arn::instance_id(id, options.region.as_deref()).map_err(|e| e.to_string())?;
                    resolved.clear();
                    resolved.push_str(&found);
                    raw.clear();
                    raw.push_str(id);
                }
                row.instance_id.push_str(resolved);
            }
            _ => row.instance_id.push_str(options.default_instance.as_deref().unwrap_or_default()),
        }
        let given = |value: &Field<'_>| options.send_empty || !value.is_empty();
        match layout {
            Layout::Wide { attributes: columns, .. } => {
                for (column, (i, name)) in columns.iter().enumerate() {
                    let value = get(*i, name)?;
                    if given(&value) {
                        row.push_column(column, value);
                    }
                }
            }
            Layout::Long { key, value, .. } => {
                let value = get(*value, "Value")?;
                if given(&value)
                    && let Some(key) = self.keys.key(self.name, text(get(*key, "Key")?))?
                {
                    row.push_named(&key, value);
                }
            }
            Layout::BareIds => {}
        }
        Ok(())
    }
}

/// `text` without the whitespace around it; at no cost when it starts and ends with a visible
/// ASCII character (whitespace is ASCII at most up to the space, or not ASCII at all).
fn trim(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// A record with no NUL byte: the common case (UTF-8 is checked once per record as it is
/// borrowed as text; a record that fails either check is taken field by field for the message).
fn clean(record: &Record) -> bool {
    memchr::memchr(0, record.as_bytes()).is_none()
}

/// Drops the CR of a CRLF line end, left on the last field because records split on LF.
pub fn without_cr(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

fn field<'r>(record: &'r Record, index: usize, column: &str) -> Result<&'r str, String> {
    let bytes = record.get(index).unwrap_or_default();
    let bytes = if index + 1 == record.len() { without_cr(bytes) } else { bytes };
    let text = std::str::from_utf8(bytes)
        .map_err(|err| format!("invalid UTF-8 in column {column:?} after {} bytes", err.valid_up_to()))?;
    match text.find('\0') {
        // A NUL is never data in an export: a UTF-16 or damaged file. Not passed on to Connect.
        Some(at) => Err(format!("a NUL byte in column {column:?} after {at} bytes")),
        None => Ok(text),
    }
}
