//! The hot loop over one input: open (plain, gzip by its magic bytes, or stdin), read the header,
//! then one reused `ByteRecord` per row, decoded only where the layout says a field is needed.

use super::columns::LongKeys;
use super::header::{self, Layout};
use super::{BadRow, InputError, InputInfo, InputSpec, Item, Location, ReadOptions, Row};
use csv::ByteRecord;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::ControlFlow;

const BUFFER: usize = 256 * 1024;

/// Opens an input, decompressing it when it starts with the gzip magic bytes (whatever its name).
pub fn open(spec: &InputSpec) -> Result<Box<dyn Read>, InputError> {
    let raw: Box<dyn Read> = match &spec.path {
        None => Box::new(io::stdin().lock()),
        Some(path) => {
            Box::new(File::open(path).map_err(|source| InputError::Open { name: spec.name.clone(), source })?)
        }
    };
    let mut buffered = BufReader::with_capacity(BUFFER, raw);
    let head = buffered.fill_buf().map_err(|source| InputError::Open { name: spec.name.clone(), source })?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(BUFFER, MultiGzDecoder::new(buffered))))
    } else {
        Ok(Box::new(buffered))
    }
}

/// Reads one input to its end, handing every row (good or bad) to `sink` in input order. The sink
/// can stop reading early (a signal, a spill error) by returning `ControlFlow::Break`: the counts
/// then cover the rows read so far.
pub fn read_input(
    index: u32,
    spec: &InputSpec,
    options: &ReadOptions,
    mut sink: impl FnMut(Item) -> ControlFlow<()>,
) -> Result<InputInfo, InputError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        // With the default CRLF terminator the csv crate reports the line of a record that
        // follows a CRLF one line early; split on LF alone and drop the CR in `field`.
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(BUFFER)
        .from_reader(open(spec)?);
    let mut record = ByteRecord::new();
    let header = match csv.read_byte_record(&mut record) {
        Ok(true) => header_names(&record),
        Ok(false) => {
            return Err(InputError::Empty { name: spec.name.clone() });
        }
        Err(err) => {
            return Err(InputError::Open { name: spec.name.clone(), source: io::Error::other(err) });
        }
    };
    let layout = header::layout(&spec.name, &header, options)?;
    let mut info = InputInfo { format: layout.format(), rows: 0, bad_rows: 0 };
    let mut keys = LongKeys::new(&options.columns);
    let mut deliver = |item: Item, info: &mut InputInfo| {
        info.rows += 1;
        if matches!(item, Item::Bad(_)) {
            info.bad_rows += 1;
        }
        sink(item)
    };
    if layout == Layout::BareIds {
        let location = Location { input: index, line: 1 };
        if deliver(to_item(&record, &layout, options, &mut keys, (&spec.name, location)), &mut info).is_break() {
            return Ok(info);
        }
    }
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let at = (spec.name.as_str(), Location { input: index, line });
                if deliver(to_item(&record, &layout, options, &mut keys, at), &mut info).is_break() {
                    break;
                }
            }
            Err(err) => {
                let line = err.position().map_or_else(|| csv.position().line(), |p| p.line());
                let location = Location { input: index, line };
                let fatal = matches!(err.kind(), csv::ErrorKind::Io(_));
                let reason = if fatal {
                    format!("cannot read past this line, the rest of the input is lost: {err}")
                } else {
                    format!("malformed CSV: {err}")
                };
                if deliver(Item::Bad(BadRow { location, reason }), &mut info).is_break() || fatal {
                    break;
                }
            }
        }
    }
    Ok(info)
}

fn header_names(record: &ByteRecord) -> Vec<String> {
    let mut names: Vec<String> = record.iter().map(|f| String::from_utf8_lossy(without_cr(f)).into_owned()).collect();
    if let Some(first) = names.first_mut()
        && let Some(stripped) = first.strip_prefix('\u{feff}')
    {
        *first = stripped.to_string();
    }
    names
}

/// Where a row is: the input's name (for messages) and its location.
type At<'a> = (&'a str, Location);

fn to_item(record: &ByteRecord, layout: &Layout, options: &ReadOptions, keys: &mut LongKeys, at: At) -> Item {
    let location = at.1;
    match to_row(record, layout, options, keys, at) {
        Ok(row) => Item::Row(row),
        Err(reason) => Item::Bad(BadRow { location, reason }),
    }
}

fn to_row(
    record: &ByteRecord,
    layout: &Layout,
    options: &ReadOptions,
    keys: &mut LongKeys,
    (name, location): At,
) -> Result<Row, String> {
    let (contact, instance, width) = match layout {
        Layout::Wide { contact, instance, width, .. } | Layout::Long { contact, instance, width, .. } => {
            (*contact, *instance, *width)
        }
        Layout::BareIds => (0, None, 1),
    };
    if record.len() != width {
        return Err(format!("has {} fields, the header has {width}", record.len()));
    }
    let contact_id = field(record, contact, "contact id")?.trim().to_string();
    let instance_id = match instance.map(|i| field(record, i, "InstanceId")).transpose()?.map(str::trim) {
        Some(id) if !id.is_empty() => {
            crate::arn::instance_id(id, options.region.as_deref()).map_err(|e| e.to_string())?.into_owned()
        }
        _ => options.default_instance.clone().unwrap_or_default(),
    };
    let mut attributes = Vec::new();
    match layout {
        Layout::Wide { attributes: columns, .. } => {
            for (i, name) in columns {
                let value = field(record, *i, name)?;
                if !value.is_empty() || options.send_empty {
                    attributes.push((name.clone(), value.to_string()));
                }
            }
        }
        Layout::Long { key, value, .. } => {
            let value = field(record, *value, "Value")?;
            if (!value.is_empty() || options.send_empty)
                && let Some(key) = keys.key(name, field(record, *key, "Key")?)?
            {
                attributes.push((key, value.to_string()));
            }
        }
        Layout::BareIds => {}
    }
    Ok(Row { location, instance_id, contact_id, attributes })
}

/// Drops the CR of a CRLF line end, left on the last field because records split on LF.
fn without_cr(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

fn field<'r>(record: &'r ByteRecord, index: usize, column: &str) -> Result<&'r str, String> {
    let bytes = record.get(index).unwrap_or_default();
    let bytes = if index + 1 == record.len() { without_cr(bytes) } else { bytes };
    std::str::from_utf8(bytes)
        .map_err(|err| format!("invalid UTF-8 in column {column:?} after {} bytes", err.valid_up_to()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::FormatChoice;
    use std::io::Write;

    fn read(text: &[u8], options: &ReadOptions) -> (Result<InputInfo, InputError>, Vec<Item>) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text).unwrap();
        let spec = InputSpec { name: "in.csv".into(), path: Some(file.path().to_path_buf()) };
        let mut items = Vec::new();
        let result = read_input(0, &spec, options, |item| {
            items.push(item);
            ControlFlow::Continue(())
        });
        (result, items)
    }

    type Seen = (u64, String, String, Vec<(String, String)>);

    fn rows(items: &[Item]) -> Vec<Seen> {
        items
            .iter()
            .filter_map(|item| match item {
                Item::Row(r) => Some((
                    r.location.line,
                    r.instance_id.clone(),
                    r.contact_id.clone(),
                    r.attributes.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
                )),
                Item::Bad(_) => None,
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn wide_rows_skip_empty_cells_and_keep_line_numbers() {
        let text = b"\xef\xbb\xbfInstanceId,InitialContactId,Tier,Status\r\ni1,c1,Gold,\r\n,c2,,\"Open\"\r\n";
        let options = ReadOptions { default_instance: Some("dflt".into()), ..Default::default() };
        let (info, items) = read(text, &options);
        let info = info.unwrap();
        assert_eq!((info.rows, info.bad_rows), (2, 0));
        assert_eq!(
            rows(&items),
            vec![
                (2, "i1".into(), "c1".into(), pairs(&[("Tier", "Gold")])),
                (3, "dflt".into(), "c2".into(), pairs(&[("Status", "Open")])),
            ]
        );
    }

    #[test]
    fn send_empty_keeps_empty_cells() {
        let options = ReadOptions { send_empty: true, default_instance: Some("i".into()), ..Default::default() };
        let (_, items) = read(b"ContactId,A,B\nc1,,x\n", &options);
        assert_eq!(rows(&items)[0].3, pairs(&[("A", ""), ("B", "x")]));
    }

    #[test]
    fn long_rows() {
        let (_, items) = read(b"contact_id,Key,Value\nc1,Tier,Gold\nc1,Empty,\n", &ReadOptions::default());
        assert_eq!(
            rows(&items),
            vec![(2, "".into(), "c1".into(), pairs(&[("Tier", "Gold")])), (3, "".into(), "c1".into(), vec![])]
        );
    }

    #[test]
    fn ragged_and_non_utf8_rows_are_bad_and_reading_goes_on() {
        let text = b"ContactId,A\nc1,x\nc2,x,extra\nc3,\xff\xfe\nc4,\"quoted, comma\"\n";
        let (info, items) = read(text, &ReadOptions::default());
        assert_eq!(info.unwrap().bad_rows, 2);
        let bad: Vec<(u64, &str)> = items
            .iter()
            .filter_map(|i| match i {
                Item::Bad(b) => Some((b.location.line, b.reason.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(bad[0], (3, "has 3 fields, the header has 2"));
        assert_eq!(bad[1].0, 4);
        assert!(bad[1].1.contains("invalid UTF-8 in column \"A\""), "{}", bad[1].1);
        let good: Vec<String> = rows(&items).into_iter().map(|r| r.2).collect();
        assert_eq!(good, ["c1", "c4"]);
    }

    #[test]
    fn gzip_is_detected_by_content() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"ContactId,A\nc1,x\n").unwrap();
        let (info, items) = read(&encoder.finish().unwrap(), &ReadOptions::default());
        assert_eq!(info.unwrap().rows, 1);
        assert_eq!(rows(&items)[0].2, "c1");
    }

    #[test]
    fn truncated_gzip_keeps_rows_before_the_cut() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for i in 0..20_000 {
            writeln!(encoder, "{}", if i == 0 { "ContactId,A".to_string() } else { format!("c{i},value{i}") }).unwrap();
        }
        let full = encoder.finish().unwrap();
        let (info, items) = read(&full[..full.len() / 2], &ReadOptions::default());
        let info = info.unwrap();
        assert_eq!(info.bad_rows, 1);
        assert!(info.rows > 100, "{info:?}");
        assert!(matches!(items.last(), Some(Item::Bad(b)) if b.reason.contains("rest of the input is lost")));
    }

    #[test]
    fn empty_file_is_an_error_header_only_is_not() {
        assert!(matches!(read(b"", &ReadOptions::default()).0, Err(InputError::Empty { .. })));
        assert_eq!(read(b"ContactId,A\n", &ReadOptions::default()).0.unwrap().rows, 0);
    }

    #[test]
    fn bare_id_list_reads_the_first_line_as_data() {
        let options = ReadOptions { allow_bare_ids: true, format: FormatChoice::Auto, ..Default::default() };
        let (_, items) = read(b"id-1\nid-2\n", &options);
        let ids: Vec<(u64, String)> = rows(&items).into_iter().map(|r| (r.0, r.2)).collect();
        assert_eq!(ids, [(1, "id-1".to_string()), (2, "id-2".to_string())]);
    }
}
