//! The validation rules on arbitrary text: never a panic, a short message whatever the input, and
//! a contact that passes really is within every limit the rules name.
#![no_main]

use connect_attrs::validate::{self, CONTACT_ID_MAX_CHARS, CONTACT_MAX_BYTES, INSTANCE_ID_MAX_CHARS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (String, String, Vec<(String, String)>, u16)| {
    let (instance, contact, mut attributes, grow) = input;
    // Now and then one value big enough to reach the size limits.
    if let Some((_, value)) = attributes.first_mut() {
        value.push_str(&"v".repeat(usize::from(grow) % 40_000));
    }
    let pairs = attributes.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    match validate::contact(&instance, &contact, pairs.clone()) {
        Ok(()) => {
            assert!((1..=INSTANCE_ID_MAX_CHARS).contains(&instance.chars().count()));
            assert!((1..=CONTACT_ID_MAX_CHARS).contains(&contact.chars().count()));
            let bytes: usize = attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
            assert!(bytes <= CONTACT_MAX_BYTES);
            for (k, _) in &attributes {
                assert!(!k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
            }
        }
        Err(invalid) => {
            let message = invalid.to_string();
            assert!(message.len() < 400, "{} bytes: {message}", message.len());
            assert!(!invalid.rule().is_empty());
        }
    }
});
