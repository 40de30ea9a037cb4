//! The journal: an append-only record of finished contacts (updated, or failed for good) with a
//! digest of what was sent, so `--resume` can skip them and resend almost nothing.
//!
//! One JSON object per line. The first line describes the inputs and where the run sends; each
//! later line is one finished contact. Lines are buffered and made durable (flush + fsync) at least every second and at the
//! end; a crash loses at most the last second, and those contacts are simply sent again. A torn
//! last line (the crash came mid-write) is ignored on load, and cut off before a resume appends.

use super::files::{RunDirError, create_private_append};
use crate::connect::RequestDigest;
use crate::send::Failure;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const JOURNAL_FILE: &str = "journal.jsonl";
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// What the journal's first line records about one input, to tell whether a resume reads the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFingerprint {
    pub name: String,
    pub size: Option<u64>,
    pub modified_ns: Option<u128>,
    /// SHA-256 of the first 64 KiB: the header and first block.
    pub head_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub version: u32,
    pub inputs: Vec<InputFingerprint>,
    /// Where the run sends; `None` in a journal written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetFingerprint>,
}

/// Where a run sends, as its journal records it to tell whether a resume sends to the same place
/// (never credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetFingerprint {
    /// The endpoint URL, normalized, with no user or password.
    pub endpoint: String,
    pub region: String,
    /// `--instance-id`: the instance of rows without an InstanceId.
    pub instance: Option<String>,
}

/// A contact finished in an earlier session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub digest: String,
    /// `None`: updated; `Some`: failed for good, with why.
    pub failure: Option<Failure>,
    pub attempts: u32,
}

/// One finished contact's line. Written from borrowed strings (`Entry<&str>`, nothing copied),
/// read back owned.
#[derive(Debug, Serialize, Deserialize)]
struct Entry<S = String> {
    /// "updated" or "failed"
    s: S,
    d: S,
    i: S,
    c: S,
    #[serde(default)]
    a: u32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    e: Option<StoredFailure<S>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredFailure<S = String> {
    t: S,
    h: Option<u16>,
    m: S,
    r: Option<S>,
}

/// The digest of one request body: what was (or would be) sent for a contact.
pub fn digest(body: &[u8]) -> String {
    RequestDigest::of(body).to_hex()
}

pub struct Journal {
    path: PathBuf,
    writer: BufWriter<File>,
    last_sync: Instant,
    dirty: bool,
}

impl Journal {
    /// Starts a new journal with its header. It is opened for append, as a resumed one is: should
    /// a second session of the run write to it at the same time, its lines are added, not written
    /// over.
    pub fn create(dir: &Path, header: &Header) -> Result<Journal, RunDirError> {
        let path = dir.join(JOURNAL_FILE);
        let file = create_private_append(&path)?;
        let mut journal = Journal { path, writer: BufWriter::new(file), last_sync: Instant::now(), dirty: true };
        let line = serde_json::to_string(header).unwrap_or_default();
        journal.line(&line)?;
        journal.sync()?;
        Ok(journal)
    }

    /// Reopens an existing journal to append to it, once it ends at the end of a line.
    pub fn append(dir: &Path) -> Result<Journal, RunDirError> {
        let path = dir.join(JOURNAL_FILE);
        let error = |source| RunDirError::File { path: path.clone(), source };
        let mut file = OpenOptions::new().read(true).append(true).open(&path).map_err(error)?;
        end_at_a_line(&mut file).map_err(error)?;
        Ok(Journal { path, writer: BufWriter::new(file), last_sync: Instant::now(), dirty: false })
    }

    pub fn updated(&mut self, instance: &str, contact: &str, digest: &str, attempts: u32) -> Result<(), RunDirError> {
        self.entry(Entry { s: "updated", d: digest, i: instance, c: contact, a: attempts, e: None })
    }

    pub fn failed(
        &mut self,
        instance: &str,
        contact: &str,
        digest: &str,
        attempts: u32,
        failure: &Failure,
    ) -> Result<(), RunDirError> {
        let e = StoredFailure {
            t: failure.error_type.as_str(),
            h: failure.http_status,
            m: failure.message.as_str(),
            r: failure.request_id.as_deref(),
        };
        self.entry(Entry { s: "failed", d: digest, i: instance, c: contact, a: attempts, e: Some(e) })
    }

    /// Makes everything written so far durable if a second has passed since the last time.
    pub fn sync_if_due(&mut self) -> Result<(), RunDirError> {
        if self.dirty && self.last_sync.elapsed() >= SYNC_EVERY { self.sync() } else { Ok(()) }
    }

    pub fn sync(&mut self) -> Result<(), RunDirError> {
        let path = self.path.clone();
        let error = |source: io::Error| RunDirError::File { path: path.clone(), source };
        self.writer.flush().map_err(error)?;
        self.writer.get_ref().sync_data().map_err(error)?;
        self.last_sync = Instant::now();
        self.dirty = false;
        Ok(())
    }

    /// Writes one entry's line straight into the buffer (the bytes `serde_json::to_string`
    /// would give).
    fn entry(&mut self, entry: Entry<&str>) -> Result<(), RunDirError> {
        self.write_line(|writer| serde_json::to_writer(writer, &entry).map_err(io::Error::from))?;
        self.sync_if_due()
    }

    fn line(&mut self, line: &str) -> Result<(), RunDirError> {
        self.write_line(|writer| writer.write_all(line.as_bytes()))
    }

    /// Writes what `write` writes, then a newline.
    fn write_line(&mut self, write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>) -> Result<(), RunDirError> {
        self.dirty = true;
        let result = write(&mut self.writer).and_then(|()| self.writer.write_all(b"\n"));
        result.map_err(|source| RunDirError::File { path: self.path.clone(), source })
    }
}

/// Makes the journal end at the end of a line. A crash mid-write (a `kill -9` as the buffer was
/// written out) leaves half a line; a line appended straight after it would be glued to it, fail
/// to parse with it and be forgotten, and the next resume would send its contact again. The
/// fragment was never a finished entry: it is cut off. A last line that lacks only its newline is
/// whole: it is ended.
fn end_at_a_line(file: &mut File) -> io::Result<()> {
    let len = file.metadata()?.len();
    let start = last_line_start(file, len)?;
    if start == len {
        return Ok(());
    }
    let mut tail = Vec::new();
    file.seek(SeekFrom::Start(start))?;
    Read::take(&mut *file, len - start).read_to_end(&mut tail)?;
    if serde_json::from_slice::<serde::de::IgnoredAny>(&tail).is_ok() {
        file.write_all(b"\n")
    } else {
        tracing::debug!("the journal ends in a torn line ({} bytes), cut off", tail.len());
        file.set_len(start)
    }
}

/// Where the last line of the file starts: just after its last newline (`len` when it ends in
/// one, 0 when it has none).
fn last_line_start(file: &mut File, len: u64) -> io::Result<u64> {
    const CHUNK: u64 = 8 * 1024;
    let mut buffer = vec![0; CHUNK as usize];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let chunk = &mut buffer[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(at) = memchr::memrchr(b'\n', chunk) {
            return Ok(start + at as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// A journal read back: its header and the finished contacts by (instance, contact).
#[derive(Debug, Default)]
pub struct Loaded {
    pub header: Option<Header>,
    pub finished: HashMap<(String, String), Finished>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot read the journal: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: no journal header: this run directory was not written by `connect-attrs run`")]
    NoHeader { path: PathBuf },
}

/// Whether `dir` holds a journal that can be opened (the error [`load`] would give if not).
pub fn check_exists(dir: &Path) -> Result<(), LoadError> {
    let path = dir.join(JOURNAL_FILE);
    File::open(&path).map(drop).map_err(|source| LoadError::Read { path, source })
}

pub fn load(dir: &Path) -> Result<Loaded, LoadError> {
    let path = dir.join(JOURNAL_FILE);
    let file = File::open(&path).map_err(|source| LoadError::Read { path: path.clone(), source })?;
    let mut lines = BufReader::new(file).lines();
    let header: Header = match lines.next() {
        Some(Ok(line)) => serde_json::from_str(&line).map_err(|_| LoadError::NoHeader { path: path.clone() })?,
        Some(Err(source)) => return Err(LoadError::Read { path, source }),
        None => return Err(LoadError::NoHeader { path }),
    };
    let mut loaded = Loaded { header: Some(header), finished: HashMap::new() };
    for line in lines {
        let line = line.map_err(|source| LoadError::Read { path: path.clone(), source })?;
        // A line that does not parse can only be the torn last one: ignore it.
        let Ok(entry) = serde_json::from_str::<Entry>(&line) else { continue };
        let failure = entry.e.map(|e| Failure {
            error_type: e.t,
            http_status: e.h,
            message: e.m,
            request_id: e.r,
            permanent: true,
        });
        let finished =
            Finished { digest: entry.d, failure: if entry.s == "failed" { failure } else { None }, attempts: entry.a };
        loaded.finished.insert((entry.i, entry.c), finished);
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            version: 1,
            inputs: vec![InputFingerprint {
                name: "in.csv".into(),
                size: Some(10),
                modified_ns: Some(5),
                head_sha256: None,
            }],
            target: Some(TargetFingerprint {
                endpoint: "https://connect.eu-west-2.amazonaws.com/".into(),
                region: "eu-west-2".into(),
                instance: None,
            }),
        }
    }

    /// A journal written before the target was recorded still loads (and resumes: see
    /// `resume::mismatch`).
    #[test]
    fn a_header_without_a_target_loads() {
        let dir = tempfile::tempdir().unwrap();
        let old = r#"{"version":1,"inputs":[{"name":"in.csv","size":10,"modified_ns":5,"head_sha256":null}]}"#;
        std::fs::write(dir.path().join(JOURNAL_FILE), format!("{old}\n")).unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(loaded.header, Some(Header { target: None, ..header() }));
    }

    #[test]
    fn entries_round_trip_and_a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), &header()).unwrap();
        journal.updated("i", "c1", &digest(b"one"), 1).unwrap();
        let failure = Failure {
            error_type: "ResourceNotFoundException".into(),
            http_status: Some(404),
            message: "Contact not found".into(),
            request_id: Some("r".into()),
            permanent: true,
        };
        journal.failed("i", "c2", &digest(b"two"), 2, &failure).unwrap();
        journal.sync().unwrap();
        drop(journal);
        let mut file = OpenOptions::new().append(true).open(dir.path().join(JOURNAL_FILE)).unwrap();
        file.write_all(b"{\"s\":\"updated\",\"d\":\"ab").unwrap();

        let loaded = load(dir.path()).unwrap();
        assert_eq!(loaded.header, Some(header()));
        assert_eq!(loaded.finished.len(), 2);
        let c1 = &loaded.finished[&("i".to_string(), "c1".to_string())];
        assert_eq!((c1.digest.as_str(), &c1.failure, c1.attempts), (digest(b"one").as_str(), &None, 1));
        let c2 = &loaded.finished[&("i".to_string(), "c2".to_string())];
        assert_eq!(c2.failure.as_ref(), Some(&failure));
    }

    /// The lines as `--resume` and people read them: field names, order and layout.
    #[test]
    fn entries_are_written_as_one_compact_json_object_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), &header()).unwrap();
        journal.updated("i-1", "c-1", "0123abcd", 1).unwrap();
        let failure = Failure {
            error_type: "ResourceNotFoundException".into(),
            http_status: Some(404),
            message: "Contact \"c-2\" not found".into(),
            request_id: None,
            permanent: true,
        };
        journal.failed("i-1", "c-2", "4567ef01", 3, &failure).unwrap();
        journal.sync().unwrap();
        let text = std::fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        let entries: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            entries,
            [
                r#"{"s":"updated","d":"0123abcd","i":"i-1","c":"c-1","a":1}"#,
                r#"{"s":"failed","d":"4567ef01","i":"i-1","c":"c-2","a":3,"e":{"t":"ResourceNotFoundException","h":404,"m":"Contact \"c-2\" not found","r":null}}"#,
            ]
        );
    }

    /// A `kill -9` mid-write left half a line: the resumed session's entries come after it, not
    /// glued to it, and every one of them reads back.
    #[test]
    fn append_after_a_torn_last_line_starts_on_a_line_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), &header()).unwrap();
        journal.updated("i", "c1", "d1", 1).unwrap();
        journal.sync().unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        OpenOptions::new().append(true).open(&path).unwrap().write_all(br#"{"s":"updated","d":"#).unwrap();

        let mut resumed = Journal::append(dir.path()).unwrap();
        resumed.updated("i", "c2", "d2", 1).unwrap();
        resumed.sync().unwrap();
        let loaded = load(dir.path()).unwrap();
        assert!(loaded.finished.contains_key(&("i".to_string(), "c2".to_string())), "{:?}", loaded.finished);
        assert_eq!(loaded.finished.len(), 2);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().all(|line| serde_json::from_str::<serde_json::Value>(line).is_ok()), "{text}");
    }

    /// The crash came between an entry and its newline: the entry is whole and kept.
    #[test]
    fn append_keeps_a_last_entry_that_lacks_only_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        Journal::create(dir.path(), &header()).unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        let whole = br#"{"s":"updated","d":"d1","i":"i","c":"c1","a":1}"#;
        OpenOptions::new().append(true).open(&path).unwrap().write_all(whole).unwrap();

        let mut resumed = Journal::append(dir.path()).unwrap();
        resumed.updated("i", "c2", "d2", 1).unwrap();
        resumed.sync().unwrap();
        assert_eq!(load(dir.path()).unwrap().finished.len(), 2);
    }

    #[test]
    fn append_continues_an_existing_journal() {
        let dir = tempfile::tempdir().unwrap();
        Journal::create(dir.path(), &header()).unwrap();
        let mut journal = Journal::append(dir.path()).unwrap();
        journal.updated("i", "c9", "d", 1).unwrap();
        journal.sync().unwrap();
        assert_eq!(load(dir.path()).unwrap().finished.len(), 1);
    }

    /// Two writers of one journal (two sessions at once, as before the run directory was locked):
    /// the lines of both are kept, none written over.
    #[test]
    fn a_new_journal_writes_at_the_end_of_what_another_writer_added() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), &header()).unwrap();
        let mut other = Journal::append(dir.path()).unwrap();
        other.updated("i", "by-the-other", "d", 1).unwrap();
        other.sync().unwrap();
        journal.updated("i", "by-the-first", "d", 1).unwrap();
        journal.sync().unwrap();
        let loaded = load(dir.path()).unwrap();
        let mut contacts: Vec<&str> = loaded.finished.keys().map(|(_, c)| c.as_str()).collect();
        contacts.sort_unstable();
        assert_eq!(contacts, ["by-the-first", "by-the-other"]);
    }

    #[test]
    fn a_directory_without_a_journal_header_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(JOURNAL_FILE), "").unwrap();
        assert!(matches!(load(dir.path()), Err(LoadError::NoHeader { .. })));
    }

    /// The journal's digest is what it always was: the first 16 bytes of the body's SHA-256 in
    /// hex (journals written before keep resuming).
    #[test]
    fn the_digest_is_the_first_half_of_the_bodys_sha256() {
        let body = br#"{"InstanceId":"i","InitialContactId":"c","Attributes":{"A":"1"}}"#;
        let full = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body));
        assert_eq!(digest(body), full[..32]);
    }

    #[test]
    fn digests_differ_when_the_body_does() {
        assert_eq!(digest(b"x"), digest(b"x"));
        assert_ne!(digest(b"x"), digest(b"y"));
        assert_eq!(digest(b"x").len(), 32);
    }
}
