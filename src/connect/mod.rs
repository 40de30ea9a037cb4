//! connect: UpdateContactAttributes as a client sees it: the request body, SigV4 signing, the
//! credential cache, the HTTP sender, and the pure classification of an answer.

pub mod classify;
pub mod credentials;
pub mod http;
pub mod pool;
pub mod quotas;
pub mod route;
pub mod scrub;
pub mod sign;

use crate::merge::Contact;
use crate::wire::UpdateContactAttributes;
use sha2::{Digest, Sha256};

/// The JSON body of one UpdateContactAttributes call for a merged contact.
pub fn request_body(contact: &Contact) -> Vec<u8> {
    let request = UpdateContactAttributes {
        instance_id: &contact.instance_id,
        initial_contact_id: &contact.contact_id,
        attributes: &contact.attributes,
    };
    // Serializing strings and a string map cannot fail.
    serde_json::to_vec(&request).unwrap_or_default()
}

/// What the journal records of a request body: the first 16 bytes of its SHA-256. Worked out
/// where the body is built, so the report does not build the body a second time to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestDigest([u8; 16]);

impl RequestDigest {
    pub fn of(body: &[u8]) -> RequestDigest {
        let hash = Sha256::digest(body);
        let mut first = [0u8; 16];
        first.copy_from_slice(&hash[..16]);
        RequestDigest(first)
    }

    /// Lowercase hex, as the journal writes it (`hex::encode` collects a `String` a char at a
    /// time; this writes the digits on the stack and copies them once).
    pub fn to_hex(self) -> String {
        let mut text = [0u8; 32];
        // 16 bytes always fit 32 hex digits, all ASCII.
        let _ = hex::encode_to_slice(self.0, &mut text);
        String::from_utf8_lossy(&text).into_owned()
    }
}

/// An error with its causes on one line ("error sending request: connection refused"), and never
/// the URL (reqwest puts it in its errors; it is in the logs already).
pub fn describe_error(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_written_as_lowercase_hex() {
        let digest = RequestDigest::of(b"x");
        assert_eq!(digest.to_hex(), hex::encode(digest.0));
        assert_eq!(digest.to_hex(), "2d711642b726b04401627ca9fbac32f5");
    }

    #[test]
    fn body_has_the_three_fields_and_escapes_values() {
        let mut contact = Contact { instance_id: "i-1".into(), contact_id: "c-1".into(), ..Contact::default() };
        contact.attributes.insert("Note".into(), "said \"hi\"\n".into());
        let body: serde_json::Value = serde_json::from_slice(&request_body(&contact)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"InstanceId": "i-1", "InitialContactId": "c-1", "Attributes": {"Note": "said \"hi\"\n"}})
        );
    }
}
