//! Gzip input, member after member, as `gzip -d` reads it. flate2's `MultiGzDecoder` reads the
//! members but takes anything after the last one for the next member's header; this one also:
//! - ends at zero bytes after the last member (the padding tape and block tools add, which gzip
//!   ignores), where `MultiGzDecoder` failed on an "invalid gzip header";
//! - tells damaged data from data cut short. A member whose checksum or deflate stream is wrong
//!   gave bytes that cannot be trusted, all of them: it fails with [`Damaged`], which the reader
//!   turns into an error for the whole input, so nothing of it is sent. Data cut short (a
//!   truncated download) is an ordinary read error: the rows before the cut were read right.

use flate2::bufread::GzDecoder;
use std::io::{self, BufRead, Read};

/// The error a damaged member fails with (flate2's own message inside).
#[derive(Debug, thiserror::Error)]
#[error("the gzip data is damaged ({0})")]
pub struct Damaged(String);

/// Whether `err` is a damaged member's ([`Damaged`]).
pub fn is_damaged(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|inner| inner.is::<Damaged>())
}

/// Every member of a gzip stream, decompressed back to back.
pub struct Members<R> {
    /// The member being read; `None` once the stream is over.
    member: Option<GzDecoder<R>>,
}

impl<R: BufRead> Members<R> {
    pub fn new(raw: R) -> Members<R> {
        Members { member: Some(GzDecoder::new(raw)) }
    }
}

impl<R: BufRead> Read for Members<R> {
    fn read(&mut self, into: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(member) = self.member.as_mut() else { return Ok(0) };
            match member.read(into) {
                Ok(0) if !into.is_empty() => {
                    // The member is over, its checksum checked: what follows?
                    let Some(member) = self.member.take() else { return Ok(0) };
                    let mut rest = member.into_inner();
                    if another_member(&mut rest)? {
                        self.member = Some(GzDecoder::new(rest));
                    }
                }
                Ok(n) => return Ok(n),
                // flate2 says InvalidInput for a bad checksum, a bad deflate stream and a bad
                // header (the first member's, or one after a gzip magic number).
                Err(err) if err.kind() == io::ErrorKind::InvalidInput => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, Damaged(err.to_string())));
                }
                Err(err) => return Err(err),
            }
        }
    }
}

/// After a member: `true` when another one starts (the decoder checks its header), `false` at
/// the end of the input or of its zero padding, an error for anything else.
fn another_member(rest: &mut impl BufRead) -> io::Result<bool> {
    loop {
        let buffered = rest.fill_buf()?;
        let Some(&first) = buffered.first() else { return Ok(false) };
        if first == 0x1f {
            return Ok(true);
        }
        let zeros = buffered.iter().take_while(|&&b| b == 0).count();
        if zeros == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the data after the last gzip member is neither gzip nor zero padding",
            ));
        }
        rest.consume(zeros);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(text: &str) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    }

    fn read_all(bytes: &[u8]) -> (String, io::Result<()>) {
        let mut text = Vec::new();
        let result = Members::new(bytes).read_to_end(&mut text).map(|_| ());
        (String::from_utf8_lossy(&text).into_owned(), result)
    }

    #[test]
    fn every_member_is_read() {
        let bytes = [gzip("a,1\n"), gzip("b,2\n"), gzip("c,3\n")].concat();
        let (text, result) = read_all(&bytes);
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(text, "a,1\nb,2\nc,3\n");
    }

    #[test]
    fn zero_padding_after_the_last_member_ends_the_stream() {
        for padding in [1, 511, 512, 100_000] {
            let bytes = [gzip("a,1\n"), vec![0; padding]].concat();
            let (text, result) = read_all(&bytes);
            assert!(result.is_ok(), "{padding}: {result:?}");
            assert_eq!(text, "a,1\n");
        }
        // A member after padding is read too.
        let (text, result) = read_all(&[gzip("a\n"), vec![0; 10], gzip("b\n")].concat());
        assert!(result.is_ok());
        assert_eq!(text, "a\nb\n");
    }

    #[test]
    fn other_trailing_data_is_a_read_error_not_damage() {
        let (text, result) = read_all(&[gzip("a,1\n"), b"garbage".to_vec()].concat());
        assert_eq!(text, "a,1\n");
        let err = result.unwrap_err();
        assert!(!is_damaged(&err), "{err}");
        assert!(err.to_string().contains("neither gzip nor zero padding"), "{err}");
    }

    #[test]
    fn a_bad_checksum_is_damage() {
        let mut bytes = gzip("InitialContactId,Tier\nc1,Gold\n");
        let crc = bytes.len() - 8;
        bytes[crc] ^= 0xff;
        let err = read_all(&bytes).1.unwrap_err();
        assert!(is_damaged(&err), "{err}");
        assert!(err.to_string().starts_with("the gzip data is damaged"), "{err}");
    }

    #[test]
    fn a_damaged_deflate_stream_is_damage() {
        // A stored block (level 0) whose length check no longer matches its complement.
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
        encoder.write_all(b"c1,Gold\n").unwrap();
        let mut bytes = encoder.finish().unwrap();
        bytes[10 + 3] ^= 0xff;
        let err = read_all(&bytes).1.unwrap_err();
        assert!(is_damaged(&err), "{err}");
    }

    #[test]
    fn data_cut_short_is_a_read_error_not_damage() {
        let bytes = gzip(&"c1,Gold\n".repeat(1000));
        let (_, result) = read_all(&bytes[..bytes.len() / 2]);
        let err = result.unwrap_err();
        assert!(!is_damaged(&err), "{err}");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
