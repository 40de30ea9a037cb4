//! The reader over gzip input: detected by content, cut short (rows before the cut kept), damaged
//! (the whole input fails), padded with zeros after the last member.

use super::*;

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

fn gzipped(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

/// A checksum that does not match: every row read may be wrong, so the input fails whole (the
/// rows handed over already are not sent: nothing is, before the last row is read).
#[test]
fn damaged_gzip_fails_the_whole_input() {
    let mut bytes = gzipped("ContactId,Tier\nc1,Gold\nc2,Silver\n");
    let crc = bytes.len() - 8;
    bytes[crc] ^= 0x55;
    let err = read(&bytes, &ReadOptions::default()).0.unwrap_err();
    assert!(matches!(err, InputError::Damaged { .. }), "{err}");
    let shown = err.to_string();
    assert!(shown.starts_with("in.csv:") && shown.contains("the gzip data is damaged"), "{shown}");
}

/// Zero bytes after the last member (tape and block tools pad so; gzip ignores them) end the
/// input: no malformed row.
#[test]
fn zero_padding_after_gzip_is_not_a_bad_row() {
    let bytes = [gzipped("ContactId,Tier\nc1,Gold\n"), vec![0; 512]].concat();
    let (info, items) = read(&bytes, &ReadOptions::default());
    let info = info.unwrap();
    assert_eq!((info.rows, info.bad_rows), (1, 0), "{items:?}");
}
