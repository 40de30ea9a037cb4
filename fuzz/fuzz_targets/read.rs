//! The reader on arbitrary bytes (plain or gzip, any options): it never panics, every row comes
//! out as a Row or a BadRow, the counts agree with what came out, and lines never go backwards.
#![no_main]

use connect_attrs::input::{FormatChoice, OwnedItem as Item, ReadOptions, read_reader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, bytes)) = data.split_first() else { return };
    let options = ReadOptions {
        format: [FormatChoice::Auto, FormatChoice::Wide, FormatChoice::Long][usize::from(flags % 3)],
        contact_column: (flags & 0x04 != 0).then(|| "id".to_string()),
        default_instance: (flags & 0x08 != 0).then(|| "inst".to_string()),
        send_empty: flags & 0x10 != 0,
        allow_bare_ids: flags & 0x20 != 0,
        ..ReadOptions::default()
    };
    let mut items = Vec::new();
    let cursor = std::io::Cursor::new(bytes.to_vec());
    if let Ok(info) = read_reader(0, "fuzz.csv", cursor, &options, |item| {
        items.push(item.owned());
        std::ops::ControlFlow::Continue(())
    }) {
        let bad = items.iter().filter(|i| matches!(i, Item::Bad(_))).count() as u64;
        assert_eq!((info.rows, info.bad_rows), (items.len() as u64, bad));
        let lines: Vec<u64> = items
            .iter()
            .map(|i| match i {
                Item::Row(row) => row.location.line,
                Item::Bad(bad) => bad.location.line,
            })
            .collect();
        assert!(lines.iter().all(|&l| l >= 1), "{lines:?}");
        assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
    }
});
