//! The retry file: the merged attributes of every contact that was not updated, in the input's
//! own format, fit to be passed straight back as INPUT.
//!
//! During the run each contact is appended (long format, flushed) as its outcome arrives, so a
//! crash loses nothing already decided. At the end a wide input gets a wide `retry.csv` built from
//! it in two streaming passes (the set of keys, then the rows), unless a wide file would not read
//! back as the same contacts; then it stays long:
//! - a contact with an empty value: in a wide file an empty cell means "not given";
//! - with `--send-empty`, a contact without some other contact's key: its empty cell in the
//!   union of columns would be sent as an empty value, overwriting what Connect holds;
//! - keys that would make the header mean something else: `Name` and `Value` alone read as a long
//!   file, and a key named `InstanceId` or `InitialContactId` as a second id column.

use super::files::{RunDirError, create_private};
use crate::input::{Format, reads_back_as_wide};
use crate::merge::Contact;
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter};
use std::path::{Path, PathBuf};

pub const RETRY_FILE: &str = "retry.csv";
pub const PARTIAL_FILE: &str = "retry.partial.csv";
/// The contact id column's name when the input did not choose one with `--contact-column`.
pub const CONTACT_COLUMN: &str = "InitialContactId";

pub struct RetryWriter {
    dir: PathBuf,
    /// Named as in the input, so the same command line reads the retry file back.
    contact_column: String,
    /// `--contact-column`, if given: how the retry file's header is read back.
    chosen_column: Option<String>,
    /// `--send-empty`: an empty cell would be read back as an empty value.
    send_empty: bool,
    partial: Option<csv::Writer<File>>,
    contacts: u64,
    has_empty_value: bool,
}

impl RetryWriter {
    /// A writer for the run in `dir`, whose inputs were read with `--contact-column
    /// contact_column` and `--send-empty` as `send_empty`.
    pub fn new(dir: &Path, contact_column: Option<&str>, send_empty: bool) -> RetryWriter {
        RetryWriter {
            dir: dir.to_path_buf(),
            contact_column: contact_column.unwrap_or(CONTACT_COLUMN).to_string(),
            chosen_column: contact_column.map(str::to_string),
            send_empty,
            partial: None,
            contacts: 0,
            has_empty_value: false,
        }
    }

    pub fn add(&mut self, contact: &Contact) -> Result<(), RunDirError> {
        let path = self.dir.join(PARTIAL_FILE);
        let error = |source: io::Error| RunDirError::File { path: path.clone(), source };
        if self.partial.is_none() {
            let mut writer = csv::Writer::from_writer(create_private(&path)?);
            let header = ["InstanceId", self.contact_column.as_str(), "Key", "Value"];
            writer.write_record(header).map_err(|e| error(e.into()))?;
            self.partial = Some(writer);
        }
        let Some(writer) = self.partial.as_mut() else {
            return Ok(());
        };
        for (key, value) in &contact.attributes {
            self.has_empty_value |= value.is_empty();
            let record = [contact.instance_id.as_str(), &contact.contact_id, key, value];
            writer.write_record(record).map_err(|e| error(e.into()))?;
        }
        writer.flush().map_err(error)?;
        self.contacts += 1;
        Ok(())
    }

    pub fn contacts(&self) -> u64 {
        self.contacts
    }

    /// Writes `retry.csv` in `format` and returns its path, or `None` when nothing needs retrying.
    pub fn finish(mut self, format: Format) -> Result<Option<PathBuf>, RunDirError> {
        let Some(mut writer) = self.partial.take() else {
            return Ok(None);
        };
        let partial = self.dir.join(PARTIAL_FILE);
        let target = self.dir.join(RETRY_FILE);
        let error = |source: io::Error| RunDirError::File { path: target.clone(), source };
        writer.flush().map_err(error)?;
        drop(writer);
        let header = match format {
            Format::Wide if !self.has_empty_value => self.wide_header(&partial).map_err(error)?,
            _ => None,
        };
        match header {
            Some(header) => {
                widen(&partial, &target, &header).map_err(error)?;
                fs::remove_file(&partial).map_err(error)?;
            }
            None => fs::rename(&partial, &target).map_err(error)?,
        }
        Ok(Some(target))
    }

    /// The wide header for the long rows in `long`, or `None` when a wide file would not read back
    /// as the same contacts.
    fn wide_header(&self, long: &Path) -> io::Result<Option<Vec<String>>> {
        let KeySet { keys, holes } = key_set(long)?;
        let ids = ["InstanceId", self.contact_column.as_str()].map(str::to_string);
        let header: Vec<String> = ids.into_iter().chain(keys).collect();
        let same = !(self.send_empty && holes) && reads_back_as_wide(&header, self.chosen_column.as_deref());
        Ok(same.then_some(header))
    }
}

fn read_long(long: &Path) -> io::Result<csv::Reader<BufReader<File>>> {
    Ok(csv::ReaderBuilder::new().has_headers(true).from_reader(BufReader::new(File::open(long)?)))
}

/// Every key of the long rows, sorted, and whether some contact lacks one of them.
struct KeySet {
    keys: BTreeSet<String>,
    holes: bool,
}

fn key_set(long: &Path) -> io::Result<KeySet> {
    let mut keys = BTreeSet::new();
    let (mut record, mut reader) = (csv::StringRecord::new(), read_long(long)?);
    // Each contact's rows are together, its keys distinct: the fewest keys of any contact says
    // whether one lacks a key of the union.
    let (mut current, mut count, mut fewest) = (None::<(String, String)>, 0, usize::MAX);
    while reader.read_record(&mut record)? {
        let same =
            |(instance, contact): &(String, String)| (instance.as_str(), contact.as_str()) == (&record[0], &record[1]);
        if !current.as_ref().is_some_and(same) {
            if current.is_some() {
                fewest = fewest.min(count);
            }
            current = Some((record[0].to_string(), record[1].to_string()));
            count = 0;
        }
        count += 1;
        if !keys.contains(&record[2]) {
            keys.insert(record[2].to_string());
        }
    }
    let holes = fewest.min(count) < keys.len();
    Ok(KeySet { keys, holes })
}

/// Long rows (grouped by contact, as written) -> one wide row per contact under `header` (the
/// two id columns, then the sorted keys).
fn widen(long: &Path, wide: &Path, header: &[String]) -> io::Result<()> {
    let keys = &header[2..];
    let file = create_private(wide).map_err(|e| io::Error::other(e.to_string()))?;
    let mut writer = csv::Writer::from_writer(BufWriter::new(file));
    writer.write_record(header)?;
    let mut current: Option<(String, String)> = None;
    let mut row: Vec<String> = Vec::new();
    let (mut record, mut reader) = (csv::StringRecord::new(), read_long(long)?);
    while reader.read_record(&mut record)? {
        let id = (record[0].to_string(), record[1].to_string());
        if current.as_ref() != Some(&id) {
            if let Some((instance, contact)) = current.take() {
                write_wide(&mut writer, &instance, &contact, &row)?;
            }
            row = vec![String::new(); keys.len()];
            current = Some(id);
        }
        if let Ok(slot) = keys.binary_search_by(|k| k.as_str().cmp(&record[2])) {
            row[slot] = record[3].to_string();
        }
    }
    if let Some((instance, contact)) = current {
        write_wide(&mut writer, &instance, &contact, &row)?;
    }
    writer.flush()?;
    writer.into_inner().map_err(|e| io::Error::other(e.to_string()))?.get_ref().sync_all()
}

fn write_wide<W: io::Write>(
    writer: &mut csv::Writer<W>,
    instance: &str,
    contact: &str,
    row: &[String],
) -> io::Result<()> {
    let record = [instance, contact].into_iter().chain(row.iter().map(String::as_str));
    writer.write_record(record).map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(id: &str, attrs: &[(&str, &str)]) -> Contact {
        Contact {
            instance_id: "inst".into(),
            contact_id: id.into(),
            attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            lines: vec![],
        }
    }

    #[test]
    fn wide_retry_file_has_the_union_of_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut retry = RetryWriter::new(dir.path(), None, false);
        retry.add(&contact("c1", &[("Tier", "Gold"), ("Note", "a, \"b\"")])).unwrap();
        retry.add(&contact("c2", &[("Status", "Open")])).unwrap();
        let path = retry.finish(Format::Wide).unwrap().unwrap();
        let text = fs::read_to_string(path).unwrap();
        assert_eq!(
            text,
            "InstanceId,InitialContactId,Note,Status,Tier\ninst,c1,\"a, \"\"b\"\"\",,Gold\ninst,c2,,Open,\n"
        );
        assert!(!dir.path().join(PARTIAL_FILE).exists());
    }

    #[test]
    fn empty_values_keep_the_long_format() {
        let dir = tempfile::tempdir().unwrap();
        let mut retry = RetryWriter::new(dir.path(), None, false);
        retry.add(&contact("c1", &[("Tier", "")])).unwrap();
        let text = fs::read_to_string(retry.finish(Format::Wide).unwrap().unwrap()).unwrap();
        // Read back with the same --send-empty that produced the empty value.
        assert_eq!(text, "InstanceId,InitialContactId,Key,Value\ninst,c1,Tier,\n");
    }

    fn written(contacts: &[Contact], contact_column: Option<&str>, send_empty: bool) -> String {
        let dir = tempfile::tempdir().unwrap();
        let mut retry = RetryWriter::new(dir.path(), contact_column, send_empty);
        for contact in contacts {
            retry.add(contact).unwrap();
        }
        fs::read_to_string(retry.finish(Format::Wide).unwrap().unwrap()).unwrap()
    }

    #[test]
    fn a_wide_header_that_would_read_back_otherwise_stays_long() {
        let long = "InstanceId,InitialContactId,Key,Value\n";
        for keys in
            [&["Name", "Value"][..], &["key", "VALUE"], &["Attribute", "Value"], &["InstanceId"], &["InitialContactId"]]
        {
            let attrs: Vec<(&str, &str)> = keys.iter().map(|k| (*k, "v")).collect();
            assert!(written(&[contact("c1", &attrs)], None, false).starts_with(long), "{keys:?}");
        }
        // The contact column named by --contact-column, as a key, is a second id column too.
        let text = written(&[contact("c1", &[("CallId", "v")])], Some("CallId"), false);
        assert!(text.starts_with("InstanceId,CallId,Key,Value\n"), "{text}");
        // One more key and the header is wide beyond doubt.
        let text = written(&[contact("c1", &[("Name", "n"), ("Value", "1"), ("Tier", "Gold")])], None, false);
        assert_eq!(text, "InstanceId,InitialContactId,Name,Tier,Value\ninst,c1,n,Gold,1\n");
    }

    #[test]
    fn with_send_empty_only_contacts_with_every_key_are_written_wide() {
        let (c1, c2) = (contact("c1", &[("A", "x")]), contact("c2", &[("B", "y")]));
        let text = written(&[c1.clone(), c2.clone()], None, true);
        assert!(text.starts_with("InstanceId,InitialContactId,Key,Value\n"), "{text}");
        assert!(written(&[c1.clone(), c2], None, false).starts_with("InstanceId,InitialContactId,A,B\n"));
        let same_keys = [c1.clone(), contact("c3", &[("A", "z")])];
        assert_eq!(written(&same_keys, None, true), "InstanceId,InitialContactId,A\ninst,c1,x\ninst,c3,z\n");
    }

    #[test]
    fn the_contact_column_keeps_the_inputs_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut retry = RetryWriter::new(dir.path(), Some("CallId"), false);
        retry.add(&contact("c1", &[("Tier", "Gold")])).unwrap();
        let text = fs::read_to_string(retry.finish(Format::Wide).unwrap().unwrap()).unwrap();
        assert_eq!(text, "InstanceId,CallId,Tier\ninst,c1,Gold\n");
    }

    #[test]
    fn nothing_to_retry_writes_no_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(RetryWriter::new(dir.path(), None, false).finish(Format::Long).unwrap(), None);
        assert!(fs::read_dir(dir.path()).unwrap().next().is_none());
    }
}
