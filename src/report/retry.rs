//! The retry file: the merged attributes of every contact that was not updated, in the input's
//! own format, fit to be passed straight back as INPUT.
//!
//! During the run each contact is appended (long format, flushed) as its outcome arrives, so a
//! crash loses nothing already decided. At the end a wide input gets a wide `retry.csv` built from
//! it in two streaming passes (the set of keys, then the rows). A contact with an empty value keeps
//! the long format: in a wide file an empty cell means "not given", which would lose it.

use super::files::{RunDirError, create_private};
use crate::input::Format;
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
    partial: Option<csv::Writer<File>>,
    contacts: u64,
    has_empty_value: bool,
}

impl RetryWriter {
    pub fn new(dir: &Path, contact_column: Option<&str>) -> RetryWriter {
        RetryWriter {
            dir: dir.to_path_buf(),
            contact_column: contact_column.unwrap_or(CONTACT_COLUMN).to_string(),
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
        if format == Format::Wide && !self.has_empty_value {
            widen(&partial, &target, &self.contact_column).map_err(error)?;
            fs::remove_file(&partial).map_err(error)?;
        } else {
            fs::rename(&partial, &target).map_err(error)?;
        }
        Ok(Some(target))
    }
}

/// Long rows (grouped by contact, as written) -> one wide row per contact.
fn widen(long: &Path, wide: &Path, contact_column: &str) -> io::Result<()> {
    let read = || -> io::Result<csv::Reader<BufReader<File>>> {
        Ok(csv::ReaderBuilder::new().has_headers(true).from_reader(BufReader::new(File::open(long)?)))
    };
    let mut keys = BTreeSet::new();
    let mut record = csv::StringRecord::new();
    let mut reader = read()?;
    while reader.read_record(&mut record)? {
        if !keys.contains(&record[2]) {
            keys.insert(record[2].to_string());
        }
    }
    let keys: Vec<String> = keys.into_iter().collect();
    let file = create_private(wide).map_err(|e| io::Error::other(e.to_string()))?;
    let mut writer = csv::Writer::from_writer(BufWriter::new(file));
    let header = ["InstanceId", contact_column].into_iter().chain(keys.iter().map(String::as_str));
    writer.write_record(header)?;
    let mut current: Option<(String, String)> = None;
    let mut row: Vec<String> = Vec::new();
    let mut reader = read()?;
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
        let mut retry = RetryWriter::new(dir.path(), None);
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
        let mut retry = RetryWriter::new(dir.path(), None);
        retry.add(&contact("c1", &[("Tier", "")])).unwrap();
        let text = fs::read_to_string(retry.finish(Format::Wide).unwrap().unwrap()).unwrap();
        // Read back with the same --send-empty that produced the empty value.
        assert_eq!(text, "InstanceId,InitialContactId,Key,Value\ninst,c1,Tier,\n");
    }

    #[test]
    fn the_contact_column_keeps_the_inputs_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut retry = RetryWriter::new(dir.path(), Some("CallId"));
        retry.add(&contact("c1", &[("Tier", "Gold")])).unwrap();
        let text = fs::read_to_string(retry.finish(Format::Wide).unwrap().unwrap()).unwrap();
        assert_eq!(text, "InstanceId,CallId,Tier\ninst,c1,Gold\n");
    }

    #[test]
    fn nothing_to_retry_writes_no_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(RetryWriter::new(dir.path(), None).finish(Format::Long).unwrap(), None);
        assert!(fs::read_dir(dir.path()).unwrap().next().is_none());
    }
}
