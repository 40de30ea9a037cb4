//! UpdateContactAttributes as the service answers it, after the signature, quota and faults have
//! had their say: body checks (400), unknown instance (404), unknown or too-old contact (404/400),
//! then the merge and the size check over the merged attributes (400), then the store.
//!
//! Error types: rule failures (lengths, key characters, missing members, merged size) are
//! InvalidParameterException; a body that is not the operation's JSON and contacts that predate
//! 2018-09-12 are InvalidRequestException.

use http::StatusCode;
use std::collections::{BTreeMap, HashSet};

use super::patterns::Patterns;
use super::response::Failure;
use super::store::Store;
use crate::validate::{self, Invalid};
use crate::wire::{UpdateContactAttributesInput, error_type};

/// Which instances and contacts exist, as configured.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Empty accepts any instance.
    pub instances: HashSet<String>,
    pub not_found: Patterns,
    pub predates: Patterns,
}

/// A request that passed the body checks.
#[derive(Debug, PartialEq, Eq)]
pub struct Update {
    pub instance: String,
    pub contact: String,
    pub attributes: BTreeMap<String, String>,
}

/// Serves one call: `Ok` means answer 200 `{}`.
pub fn update_contact_attributes(body: &[u8], directory: &Directory, store: &Store) -> Result<(), Failure> {
    let update = parse(body)?;
    if !directory.instances.is_empty() && !directory.instances.contains(&update.instance) {
        return Err(not_found(format!("Instance not found: {}", update.instance)));
    }
    if directory.not_found.matches(&update.contact) {
        return Err(not_found(format!("Contact not found: {}", update.contact)));
    }
    if directory.predates.matches(&update.contact) {
        let message = format!(
            "Contact {} was created before 2018-09-12: attributes of contacts that old cannot be updated",
            update.contact
        );
        return Err(Failure::new(StatusCode::BAD_REQUEST, error_type::INVALID_REQUEST, message));
    }
    store.merge(&update.instance, &update.contact, update.attributes, |merged| {
        validate::total_size(merged.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(invalid)
    })
}

/// The body checks, in the order the service applies them.
pub fn parse(body: &[u8]) -> Result<Update, Failure> {
    let input: UpdateContactAttributesInput = serde_json::from_slice(body).map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            error_type::INVALID_REQUEST,
            format!("The request body is not valid JSON for UpdateContactAttributes: {e}"),
        )
    })?;
    let instance = input.instance_id.ok_or_else(|| missing("instanceId"))?;
    let contact = input.initial_contact_id.ok_or_else(|| missing("initialContactId"))?;
    let attributes = input.attributes.ok_or_else(|| missing("attributes"))?;
    validate::instance_id(&instance).map_err(invalid)?;
    validate::contact_id(&contact).map_err(invalid)?;
    for (key, value) in &attributes {
        validate::key_length(key).map_err(invalid)?;
        validate::key_characters(key).map_err(invalid)?;
        validate::value_length(key, value).map_err(invalid)?;
    }
    Ok(Update { instance, contact, attributes })
}

fn missing(member: &str) -> Failure {
    let message = format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    );
    Failure::new(StatusCode::BAD_REQUEST, error_type::INVALID_PARAMETER, message)
}

fn invalid(rule: Invalid) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, error_type::INVALID_PARAMETER, rule.to_string())
}

fn not_found(message: String) -> Failure {
    Failure::new(StatusCode::NOT_FOUND, error_type::RESOURCE_NOT_FOUND, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(body: serde_json::Value, directory: &Directory, store: &Store) -> Result<(), Failure> {
        update_contact_attributes(body.to_string().as_bytes(), directory, store)
    }

    fn body(contact: &str, attributes: serde_json::Value) -> serde_json::Value {
        json!({"InstanceId": "inst", "InitialContactId": contact, "Attributes": attributes})
    }

    fn kind(result: Result<(), Failure>) -> (u16, &'static str) {
        let failure = result.unwrap_err();
        (failure.status.as_u16(), failure.error_type)
    }

    #[test]
    fn success_merges_into_the_stored_contact() {
        let (directory, store) = (Directory::default(), Store::default());
        call(body("c1", json!({"a": "1", "b": "2"})), &directory, &store).unwrap();
        call(body("c1", json!({"b": "3"})), &directory, &store).unwrap();
        let state = store.snapshot();
        let contact = state.contact("inst", "c1").unwrap();
        assert_eq!(contact.attributes["a"], "1");
        assert_eq!(contact.attributes["b"], "3");
        assert_eq!(contact.updates, 2);
    }

    #[test]
    fn a_body_that_is_not_json_is_an_invalid_request() {
        let result = update_contact_attributes(b"{not json", &Directory::default(), &Store::default());
        assert_eq!(kind(result), (400, "InvalidRequestException"));
    }

    #[test]
    fn each_missing_member_is_an_invalid_parameter() {
        let store = Store::default();
        for absent in ["InstanceId", "InitialContactId", "Attributes"] {
            let mut request = body("c", json!({}));
            request.as_object_mut().unwrap().remove(absent);
            assert_eq!(
                kind(call(request, &Directory::default(), &store)),
                (400, "InvalidParameterException"),
                "{absent}"
            );
        }
    }

    #[test]
    fn each_rule_of_validate_is_an_invalid_parameter() {
        let store = Store::default();
        let long_value = "v".repeat(validate::VALUE_MAX_CHARS + 1);
        let cases = [
            json!({"InstanceId": "", "InitialContactId": "c", "Attributes": {}}),
            json!({"InstanceId": "i", "InitialContactId": "c".repeat(257), "Attributes": {}}),
            body("c", json!({"": "x"})),
            body("c", json!({"bad key": "x"})),
            body("c", json!({"k": long_value})),
        ];
        for case in cases {
            assert_eq!(kind(call(case, &Directory::default(), &store)), (400, "InvalidParameterException"));
        }
        assert!(store.is_empty());
    }

    #[test]
    fn the_size_limit_applies_to_the_merged_attributes() {
        let (directory, store) = (Directory::default(), Store::default());
        let half = "v".repeat(validate::CONTACT_MAX_BYTES / 2);
        call(body("c", json!({"a": half})), &directory, &store).unwrap();
        // Alone this fits; merged with the stored "a" it is over by a few bytes.
        let result = call(body("c", json!({"b": half})), &directory, &store);
        assert_eq!(kind(result), (400, "InvalidParameterException"));
        // Overwriting "a" keeps the total within the limit.
        call(body("c", json!({"a": half})), &directory, &store).unwrap();
        assert_eq!(store.snapshot().contact("inst", "c").unwrap().updates, 2);
    }

    #[test]
    fn unknown_instances_and_contacts_are_not_found_and_old_ones_invalid() {
        let directory = Directory {
            instances: ["inst".to_owned()].into(),
            not_found: Patterns::new(["gone-*"]),
            predates: Patterns::new(["2017-*"]),
        };
        let store = Store::default();
        let other = json!({"InstanceId": "other", "InitialContactId": "c", "Attributes": {}});
        assert_eq!(kind(call(other, &directory, &store)), (404, "ResourceNotFoundException"));
        assert_eq!(kind(call(body("gone-1", json!({})), &directory, &store)), (404, "ResourceNotFoundException"));
        assert_eq!(kind(call(body("2017-1", json!({})), &directory, &store)), (400, "InvalidRequestException"));
        // Body checks come before the directory: a bad key on an unknown contact is a 400.
        assert_eq!(kind(call(body("gone-1", json!({"a b": "x"})), &directory, &store)).0, 400);
        assert!(call(body("c", json!({})), &directory, &store).is_ok());
    }
}
