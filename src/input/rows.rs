//! Records to rows: the fields a layout names, checked (UTF-8, no NUL, the right number of
//! fields) and put in one reused [`Row`], whose values are spans of the record rather than copies.

use super::chunk::{self, Chunk, Kind};
use super::columns::LongKeys;
use super::header::Layout;
use super::{BadRow, Field, Item, Location, ReadOptions, Row};
use std::sync::Arc;

/// Turns records into rows, reusing one `Row` for all of them.
pub struct RowMaker<'a> {
    /// The input's index among all inputs, and its name.
    input: u32,
    name: &'a str,
    layout: &'a Layout,
    options: &'a ReadOptions,
    keys: LongKeys<'a>,
    row: Box<Row>,
    /// Wide: each attribute column's field, for rows that read their attributes off the record.
    field_of_column: Arc<[u32]>,
    /// The last instance field read, and the instance id it names.
    last_instance: (String, String),
}

impl<'a> RowMaker<'a> {
    pub fn new(input: u32, name: &'a str, layout: &'a Layout, options: &'a ReadOptions) -> RowMaker<'a> {
        let columns: Arc<[Arc<str>]> = match layout {
            Layout::Wide { attributes, .. } => attributes.iter().map(|(_, key)| key.clone()).collect(),
            Layout::Long { .. } | Layout::BareIds => Arc::from(Vec::new()),
        };
        let field_of_column: Arc<[u32]> = match layout {
            Layout::Wide { attributes, .. } => attributes.iter().map(|&(field, _)| field as u32).collect(),
            Layout::Long { .. } | Layout::BareIds => Arc::from(Vec::new()),
        };
        let columns_len = columns.iter().map(|name| name.len()).sum();
        let row = Box::new(Row { columns, columns_len, ..Row::default() });
        RowMaker {
            input,
            name,
            layout,
            options,
            keys: LongKeys::new(&options.columns),
            row,
            field_of_column,
            last_instance: Default::default(),
        }
    }

    /// Takes the text of `chunk`'s records, for the rows made of them to borrow their values from;
    /// [`RowMaker::end_chunk`] gives it back.
    pub fn start_chunk(&mut self, chunk: &mut Chunk) {
        chunk.swap_text(&mut self.row.record);
    }

    pub fn end_chunk(&mut self, chunk: &mut Chunk) {
        chunk.swap_text(&mut self.row.record);
        self.row.record_span = (0, 0);
    }

    /// The row of record `at` of the chunk (between [`RowMaker::start_chunk`] and
    /// [`RowMaker::end_chunk`]), or why it is bad.
    pub fn item(&mut self, chunk: &Chunk, at: usize) -> Item<'_> {
        let entry = chunk.entry(at);
        let location = Location { input: self.input, line: entry.line };
        let width = match self.layout {
            Layout::Wide { width, .. } | Layout::Long { width, .. } => *width,
            Layout::BareIds => 1,
        };
        let fields = chunk.fields(entry);
        let result = match entry.kind {
            Kind::Bad => return Item::Bad(chunk.bad(entry).clone()),
            _ if fields.len() != width => Err(format!("has {} fields, the header has {width}", fields.len())),
            Kind::Text => {
                // The text is the row's while the chunk's rows are made; it is taken out for the
                // row to be filled, and put back.
                let text = std::mem::take(&mut self.row.record);
                // (A CRLF line end's CR is off the last field already: the reader drops it, and
                // only it, keeping a CR that was inside quotes.)
                let get = |i: usize, _: &str| {
                    let (start, end) = fields[i];
                    Ok(Field::Span(start as usize, end as usize))
                };
                let wide = matches!(self.layout, Layout::Wide { .. });
                let result = self.fill(location, &text, get, !wide);
                if wide && result.is_ok() {
                    // Its attributes are read off the fields when asked for: no list to make.
                    self.row.set_wide_fields(fields, &self.field_of_column, self.options.send_empty);
                }
                self.row.record = text;
                self.row.record_span = chunk::extent(fields).unwrap_or_default();
                result
            }
            Kind::Raw => {
                // Its values are copied into the row, which borrows none of the chunk's text.
                let raw = RawRecord { bytes: chunk.raw(), fields };
                self.fill(location, "", |i, column| Ok(Field::Text(raw.field(i, column)?)), true)
            }
        };
        match result {
            Ok(()) => Item::Row(&self.row),
            Err(reason) => Item::Bad(BadRow { location, reason }),
        }
    }

    /// Fills the row from the fields `get` gives (by index; the column's name is for messages):
    /// spans of `record` (the text of the record the row will keep), or text of their own. A wide
    /// row's attributes are listed only with `list_wide`.
    fn fill<'r>(
        &mut self,
        location: Location,
        record: &'r str,
        get: impl Fn(usize, &str) -> Result<Field<'r>, String>,
        list_wide: bool,
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
            Layout::Wide { attributes: columns, .. } if list_wide => {
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
            Layout::Wide { .. } | Layout::BareIds => {}
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

/// A record that is not text: its bytes, taken field by field to say what is wrong.
struct RawRecord<'c> {
    bytes: &'c [u8],
    fields: &'c [(u32, u32)],
}

impl<'c> RawRecord<'c> {
    fn field(&self, index: usize, column: &str) -> Result<&'c str, String> {
        let (start, end) = self.fields.get(index).copied().unwrap_or_default();
        let bytes = &self.bytes[start as usize..end as usize];
        let text = std::str::from_utf8(bytes)
            .map_err(|err| format!("invalid UTF-8 in column {column:?} after {} bytes", err.valid_up_to()))?;
        match text.find('\0') {
            // A NUL is never data in an export: a UTF-16 or damaged file. Not passed on to Connect.
            Some(at) => Err(format!("a NUL byte in column {column:?} after {at} bytes")),
            None => Ok(text),
        }
    }
}
