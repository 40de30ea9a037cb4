//! Micro-benchmarks of the hot paths, per row or per contact: CSV parse, merge, validate, and
//! building + signing one request (through aws-sigv4's `sign`, and through the sender's cached
//! [`PostSigner`]). `cargo bench --bench hot_paths`.

use aws_credential_types::Credentials;
use connect_attrs::connect::request_body;
use connect_attrs::connect::sign::{PostSigner, signature_headers};
use connect_attrs::input::{InputSpec, Item, ReadOptions, read_input};
use connect_attrs::merge::{Contact, MergeOptions, Merger};
use connect_attrs::validate;
use std::io::Write;
use std::time::{Duration, SystemTime};

fn main() {
    divan::main();
}

const ROWS: usize = 20_000;

/// A wide export of `ROWS` rows over `ROWS / 4` contacts, unsorted.
fn export() -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    let mut text = String::from("InstanceId,InitialContactId,CustomerTier,OpenCases,LastOrderId,CallbackReason\n");
    for i in 0..ROWS {
        let contact = (i * 7919) % (ROWS / 4);
        text.push_str(&format!("inst-1,{contact:08x}-aaaa-bbbb-cccc-dddddddddddd,Gold,{},ORD-{i},billing\n", i % 5));
    }
    file.write_all(text.as_bytes()).expect("write");
    file
}

fn spec(file: &tempfile::NamedTempFile) -> InputSpec {
    InputSpec::parse(file.path().to_str().expect("utf-8 path"))
}

#[divan::bench(sample_count = 20)]
fn parse_rows(bencher: divan::Bencher) {
    let file = export();
    let spec = spec(&file);
    bencher.counter(divan::counter::ItemsCount::new(ROWS)).bench(|| {
        let mut rows = 0;
        read_input(0, &spec, &ReadOptions::default(), |item| {
            rows += matches!(item, Item::Row(_)) as usize;
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        rows
    });
}

#[divan::bench(sample_count = 20)]
fn parse_and_merge_rows(bencher: divan::Bencher) {
    let file = export();
    let spec = spec(&file);
    bencher.counter(divan::counter::ItemsCount::new(ROWS)).bench(|| {
        let mut merger = Merger::new(MergeOptions::unlimited());
        read_input(0, &spec, &ReadOptions::default(), |item| {
            if let Item::Row(row) = item {
                merger.add(row).expect("in memory")
            }
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        merger.finish(&[]).expect("in memory").count()
    });
}

fn contact() -> Contact {
    let mut contact = Contact {
        instance_id: "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111".into(),
        contact_id: "11111111-2222-3333-4444-555555555555".into(),
        ..Contact::default()
    };
    for (key, value) in
        [("CustomerTier", "Gold"), ("OpenCases", "2"), ("LastOrderId", "ORD-123456"), ("Note", "said hi")]
    {
        contact.attributes.insert(key.into(), value.into());
    }
    contact
}

#[divan::bench]
fn validate_contact(bencher: divan::Bencher) {
    let contact = contact();
    bencher.bench(|| validate::contact(&contact.instance_id, &contact.contact_id, contact.attribute_pairs()).is_ok());
}

#[divan::bench]
fn build_and_sign_request(bencher: divan::Bencher) {
    let contact = contact();
    let credentials = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None, "bench");
    let url = "https://connect.us-east-1.amazonaws.com/contact/attributes";
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    bencher.bench(|| {
        let body = request_body(&contact);
        signature_headers(
            &credentials,
            "us-east-1",
            "connect",
            url,
            &[("content-type", "application/json")],
            &body,
            time,
        )
        .map(|headers| headers.len())
    });
}

/// The sender's signer: the key derived once per day, the canonical request from a template.
#[divan::bench]
fn build_and_sign_request_cached(bencher: divan::Bencher) {
    let contact = contact();
    let credentials = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None, "bench");
    let url = "https://connect.us-east-1.amazonaws.com/contact/attributes";
    let signer = PostSigner::new(url, "us-east-1", "connect", "application/json");
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    bencher.bench(|| {
        let body = request_body(&contact);
        signer.sign(&credentials, &body, time).map(|headers| headers.len())
    });
}
