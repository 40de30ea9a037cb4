//! Quotes that swallow rows, through the real binary against the emulator: a stray quote is one
//! `MalformedRow` at the line it opened on and every other row is sent; a closed quote followed by
//! a blank at the end, and a CR inside quotes in the last column, reach Connect as written.

use crate::pipeline::support::*;
use connect_attrs::emulator::Config;

const INSTANCE: &str = "inst";

fn contacts(list: &[(&str, &[(&str, &str)])]) -> Contacts {
    let attributes = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    list.iter().map(|(id, pairs)| ((INSTANCE.to_string(), id.to_string()), attributes(pairs))).collect()
}

#[test]
fn a_stray_quote_is_one_malformed_row_and_every_good_row_is_sent() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let text = "InitialContactId,Product,Qty\nc1,\"27 inch monitor,1\nc2,desk,2\nc3,chair,3\nc4,\"lamp\",4\nc5,pen,5\n";
    scratch.write("stray.csv", text);
    let output = run(&scratch, &handle, &["--instance-id", INSTANCE], &["stray.csv"]);
    assert_exit(&scratch, &output, 1);
    let summary = assert_summary_file(&scratch, &output);
    let counts = ["rows", "bad_rows", "updated"].map(|key| count(&summary, key));
    assert_eq!(counts, [5, 1, 4], "{summary:#}");
    let errors = errors_csv(&scratch);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!((errors[0].lines.as_str(), errors[0].error_type.as_str()), ("stray.csv:2", "MalformedRow"));
    assert!(errors[0].message.contains("never closed properly: the quote that ends it, on line 5"), "{errors:#?}");
    let want = contacts(&[
        ("c2", &[("Product", "desk"), ("Qty", "2")]),
        ("c3", &[("Product", "chair"), ("Qty", "3")]),
        ("c4", &[("Product", "lamp"), ("Qty", "4")]),
        ("c5", &[("Product", "pen"), ("Qty", "5")]),
    ]);
    assert_contacts_eq(&stored(&handle.state()), &want);
}

#[test]
fn closed_quotes_with_a_blank_after_them_or_a_cr_inside_are_sent_as_written() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("notes.csv", "InitialContactId,Note\nc1,\"x\r\"\nc9,\"line1\nline2\" ");
    let output = run(&scratch, &handle, &["--instance-id", INSTANCE], &["notes.csv"]);
    assert_exit(&scratch, &output, 0);
    let want = contacts(&[("c1", &[("Note", "x\r")]), ("c9", &[("Note", "line1\nline2 ")])]);
    assert_contacts_eq(&stored(&handle.state()), &want);
}
