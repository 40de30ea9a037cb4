//! The limits of UpdateContactAttributes (botocore's service model, connect 2017-08-08), checked
//! before anything is sent. One rule, one function, one error variant; the emulator checks the
//! same rules with the same functions, so the client and the local service cannot disagree.

use std::collections::BTreeMap;

/// InstanceId: 1..=100 characters.
pub const INSTANCE_ID_MAX_CHARS: usize = 100;
/// InitialContactId: 1..=256 characters.
pub const CONTACT_ID_MAX_CHARS: usize = 256;
/// Attribute keys: 1..=32767 characters of `[A-Za-z0-9_-]`.
pub const KEY_MAX_CHARS: usize = 32_767;
/// Attribute values: 0..=32767 characters.
pub const VALUE_MAX_CHARS: usize = 32_767;
/// All keys and values of one contact together, in UTF-8 bytes.
pub const CONTACT_MAX_BYTES: usize = 32_768;

/// The rule a contact breaks. `rule()` is the stable name written to the error report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("InstanceId must be 1 to {INSTANCE_ID_MAX_CHARS} characters, it has {chars}")]
    InstanceIdLength { chars: usize },
    #[error("InitialContactId must be 1 to {CONTACT_ID_MAX_CHARS} characters, it has {chars}")]
    ContactIdLength { chars: usize },
    #[error("attribute key {key} must be 1 to {KEY_MAX_CHARS} characters, it has {chars}")]
    KeyLength { key: Shown, chars: usize },
    #[error("attribute key {key} has {bad:?}: keys may only hold A-Z, a-z, 0-9, '_' and '-'")]
    KeyCharacters { key: Shown, bad: char },
    #[error("value of attribute {key} must be at most {VALUE_MAX_CHARS} characters, it has {chars}")]
    ValueLength { key: Shown, chars: usize },
    #[error(
        "attributes total {bytes} bytes (keys and values, UTF-8): at most {CONTACT_MAX_BYTES} are allowed per contact"
    )]
    TotalSize { bytes: usize },
}

impl Invalid {
    /// The name of the broken rule, as written in the `error_type` column of `errors.csv`.
    pub fn rule(&self) -> &'static str {
        match self {
            Invalid::InstanceIdLength { .. } => "InstanceIdLength",
            Invalid::ContactIdLength { .. } => "ContactIdLength",
            Invalid::KeyLength { .. } => "KeyLength",
            Invalid::KeyCharacters { .. } => "KeyCharacters",
            Invalid::ValueLength { .. } => "ValueLength",
            Invalid::TotalSize { .. } => "TotalSize",
        }
    }
}

/// A key as shown in a message: quoted, and cut short so a 32 KB key does not flood the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown(String);

impl Shown {
    pub fn new(text: &str) -> Shown {
        const SHOWN_CHARS: usize = 40;
        let mut shown: String = text.chars().take(SHOWN_CHARS).collect();
        if shown.len() < text.len() {
            shown.push_str("...");
        }
        Shown(shown)
    }
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Whether a text of `bytes` UTF-8 bytes is surely 1..=`max` characters, without counting them:
/// it has at least one character when it has a byte, and no more characters than bytes.
fn surely_within(bytes: usize, max: usize) -> bool {
    (1..=max).contains(&bytes)
}

pub fn instance_id(id: &str) -> Result<(), Invalid> {
    if surely_within(id.len(), INSTANCE_ID_MAX_CHARS) {
        return Ok(());
    }
    let chars = id.chars().count();
    if (1..=INSTANCE_ID_MAX_CHARS).contains(&chars) { Ok(()) } else { Err(Invalid::InstanceIdLength { chars }) }
}

pub fn contact_id(id: &str) -> Result<(), Invalid> {
    if surely_within(id.len(), CONTACT_ID_MAX_CHARS) {
        return Ok(());
    }
    let chars = id.chars().count();
    if (1..=CONTACT_ID_MAX_CHARS).contains(&chars) { Ok(()) } else { Err(Invalid::ContactIdLength { chars }) }
}

pub fn key_length(key: &str) -> Result<(), Invalid> {
    // Every allowed character is ASCII, so a key that passes `key_characters` has chars == bytes;
    // count characters anyway so the message is right for keys that fail both rules.
    if surely_within(key.len(), KEY_MAX_CHARS) {
        return Ok(());
    }
    let chars = key.chars().count();
    if (1..=KEY_MAX_CHARS).contains(&chars) { Ok(()) } else { Err(Invalid::KeyLength { key: Shown::new(key), chars }) }
}

/// The bytes a key may hold: `[A-Za-z0-9_-]`.
const KEY_BYTES: [bool; 256] = {
    let mut allowed = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        allowed[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        b += 1;
    }
    allowed
};

pub fn key_characters(key: &str) -> Result<(), Invalid> {
    // Every allowed character is one byte, so bytes can be checked; a key that fails is looked at
    // again by character for the message.
    if key.bytes().all(|b| KEY_BYTES[b as usize]) {
        return Ok(());
    }
    match key.chars().find(|&c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
        None => Ok(()),
        Some(bad) => Err(Invalid::KeyCharacters { key: Shown::new(key), bad }),
    }
}

/// Inlined into the loop over a contact's values: the cheap test is all nearly every value needs.
#[inline]
pub fn value_length(key: &str, value: &str) -> Result<(), Invalid> {
    // Cheap test first: a value of at most VALUE_MAX_CHARS bytes has at most that many characters.
    if value.len() <= VALUE_MAX_CHARS {
        return Ok(());
    }
    value_characters(key, value)
}

/// [`value_length`] for a value longer in bytes than the limit in characters.
#[cold]
fn value_characters(key: &str, value: &str) -> Result<(), Invalid> {
    let chars = value.chars().count();
    if chars <= VALUE_MAX_CHARS { Ok(()) } else { Err(Invalid::ValueLength { key: Shown::new(key), chars }) }
}

pub fn total_size<'a>(attributes: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(), Invalid> {
    let bytes: usize = attributes.into_iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes <= CONTACT_MAX_BYTES { Ok(()) } else { Err(Invalid::TotalSize { bytes }) }
}

/// Every rule, in the order a person would fix them: ids, then each attribute, then the total.
pub fn contact<'a>(
    instance: &str,
    contact: &str,
    attributes: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
) -> Result<(), Invalid> {
    contact_with_keys_checked(instance, contact, attributes, false)
}

/// Both rules of a key: what [`contact_with_keys_checked`] may skip for keys that passed it.
pub fn key(key: &str) -> Result<(), Invalid> {
    key_length(key)?;
    key_characters(key)
}

/// [`contact`], without the key rules when `keys_checked` (every key passed [`key`] already: the
/// merge checks each distinct key once, not once per contact). The outcome is the same.
pub fn contact_with_keys_checked<'a>(
    instance: &str,
    contact: &str,
    attributes: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    keys_checked: bool,
) -> Result<(), Invalid> {
    instance_id(instance)?;
    contact_id(contact)?;
    for (key, value) in attributes.clone() {
        if !keys_checked {
            key_length(key)?;
            key_characters(key)?;
        }
        value_length(key, value)?;
    }
    total_size(attributes)
}

/// Convenience for the common map representation.
pub fn contact_map(instance: &str, contact_id: &str, attributes: &BTreeMap<String, String>) -> Result<(), Invalid> {
    contact(instance, contact_id, attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_id_bounds() {
        assert!(instance_id("a").is_ok());
        assert!(instance_id(&"i".repeat(100)).is_ok());
        assert_eq!(instance_id(""), Err(Invalid::InstanceIdLength { chars: 0 }));
        assert_eq!(instance_id(&"i".repeat(101)), Err(Invalid::InstanceIdLength { chars: 101 }));
        // Characters, not bytes: 100 two-byte characters are allowed.
        assert!(instance_id(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn contact_id_bounds() {
        assert!(contact_id(&"c".repeat(256)).is_ok());
        assert_eq!(contact_id(""), Err(Invalid::ContactIdLength { chars: 0 }));
        assert_eq!(contact_id(&"c".repeat(257)), Err(Invalid::ContactIdLength { chars: 257 }));
    }

    #[test]
    fn key_length_bounds() {
        assert!(key_length("k").is_ok());
        assert!(key_length(&"k".repeat(KEY_MAX_CHARS)).is_ok());
        assert!(matches!(key_length(""), Err(Invalid::KeyLength { chars: 0, .. })));
        assert!(matches!(key_length(&"k".repeat(KEY_MAX_CHARS + 1)), Err(Invalid::KeyLength { chars: 32_768, .. })));
    }

    #[test]
    fn key_characters_allowed_set() {
        assert!(key_characters("Customer_Tier-2").is_ok());
        assert!(matches!(key_characters("Account.Status"), Err(Invalid::KeyCharacters { bad: '.', .. })));
        assert!(matches!(key_characters("Customer Tier"), Err(Invalid::KeyCharacters { bad: ' ', .. })));
        assert!(matches!(key_characters("Größe"), Err(Invalid::KeyCharacters { bad: 'ö', .. })));
    }

    #[test]
    fn value_length_bounds() {
        assert!(value_length("k", "").is_ok());
        assert!(value_length("k", &"v".repeat(VALUE_MAX_CHARS)).is_ok());
        assert!(matches!(
            value_length("k", &"v".repeat(VALUE_MAX_CHARS + 1)),
            Err(Invalid::ValueLength { chars: 32_768, .. })
        ));
        // 32767 three-byte characters are 98,301 bytes but still within the character limit.
        assert!(value_length("k", &"€".repeat(VALUE_MAX_CHARS)).is_ok());
    }

    #[test]
    fn total_size_counts_utf8_bytes_of_keys_and_values() {
        let at_limit = "v".repeat(CONTACT_MAX_BYTES - 1);
        assert!(total_size([("k", at_limit.as_str())]).is_ok());
        let over = "v".repeat(CONTACT_MAX_BYTES);
        assert_eq!(total_size([("k", over.as_str())]), Err(Invalid::TotalSize { bytes: 32_769 }));
        let euros = "€".repeat(10_923); // 32,769 bytes in 10,923 characters
        assert_eq!(total_size([("", euros.as_str())]), Err(Invalid::TotalSize { bytes: 32_769 }));
    }

    #[test]
    fn contact_reports_the_first_rule_in_fixing_order() {
        let attrs = [("Bad Key", "x")];
        assert_eq!(contact("", "c", attrs).unwrap_err().rule(), "InstanceIdLength");
        assert_eq!(contact("i", "", attrs).unwrap_err().rule(), "ContactIdLength");
        assert_eq!(contact("i", "c", attrs).unwrap_err().rule(), "KeyCharacters");
        assert!(contact("i", "c", [("Good", "x")]).is_ok());
    }

    #[test]
    fn long_keys_are_shortened_in_messages() {
        let key = format!("{}.", "k".repeat(1000));
        let message = key_characters(&key).unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
    }
}
