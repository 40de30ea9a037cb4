//! The header rules: which column holds the contact id and the instance id, and whether the
//! file is wide (one column per attribute) or long (Key/Value rows).

use super::{InputError, ReadOptions};
use std::sync::Arc;

const CONTACT_COLUMNS: [&str; 4] = ["InitialContactId", "initial_contact_id", "ContactId", "contact_id"];
const INSTANCE_COLUMNS: [&str; 2] = ["InstanceId", "instance_id"];
const KEY_COLUMNS: [&str; 3] = ["key", "attribute", "name"];
const VALUE_COLUMNS: [&str; 1] = ["value"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FormatChoice {
    /// Long when the header has Key and Value columns besides the ids, else wide.
    #[default]
    Auto,
    Wide,
    Long,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Wide,
    Long,
}

/// Where each part of a row is, decided once from the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    Wide {
        contact: usize,
        instance: Option<usize>,
        attributes: Vec<(usize, Arc<str>)>,
        width: usize,
    },
    Long {
        contact: usize,
        instance: Option<usize>,
        key: usize,
        value: usize,
        width: usize,
    },
    /// A headerless one-column list of contact ids (only with `--set`): the first line is data.
    BareIds,
}

impl Layout {
    pub fn format(&self) -> Format {
        match self {
            Layout::Long { .. } => Format::Long,
            Layout::Wide { .. } | Layout::BareIds => Format::Wide,
        }
    }
}

fn find(header: &[String], names: &[&str]) -> Option<usize> {
    names.iter().find_map(|name| header.iter().position(|h| h.trim().eq_ignore_ascii_case(name)))
}

fn shown(header: &[String]) -> String {
    let names: Vec<String> = header.iter().take(12).map(|h| format!("{h:?}")).collect();
    let more = if header.len() > 12 { format!(" and {} more", header.len() - 12) } else { String::new() };
    format!("columns {}{more}", names.join(", "))
}

/// Decides the layout of one input from its header row (BOM already removed).
pub fn layout(name: &str, header: &[String], options: &ReadOptions) -> Result<Layout, InputError> {
    let contact = match &options.contact_column {
        Some(column) => header.iter().position(|h| h.trim() == column.as_str()).ok_or_else(|| {
            InputError::MissingContactColumn { name: name.into(), column: column.clone(), header: shown(header) }
        })?,
        None => match find(header, &CONTACT_COLUMNS) {
            Some(index) => index,
            None if header.len() == 1 && options.allow_bare_ids => return Ok(Layout::BareIds),
            None => {
                return Err(InputError::NoContactColumn { name: name.into(), header: shown(header) });
            }
        },
    };
    let instance = find(header, &INSTANCE_COLUMNS).filter(|&i| i != contact);
    let is_id = |i: usize| i == contact || Some(i) == instance;
    let key = find(header, &KEY_COLUMNS).filter(|&i| !is_id(i));
    let value = find(header, &VALUE_COLUMNS).filter(|&i| !is_id(i));
    let width = header.len();
    let long = match (options.format, key, value) {
        (FormatChoice::Wide, _, _) => None,
        (_, Some(key), Some(value)) => {
            let only_ids_and_pair = (0..width).all(|i| is_id(i) || i == key || i == value);
            (options.format == FormatChoice::Long || only_ids_and_pair).then_some((key, value))
        }
        (FormatChoice::Long, _, _) => {
            return Err(InputError::NotLong { name: name.into(), header: shown(header) });
        }
        (FormatChoice::Auto, _, _) => None,
    };
    if let Some((key, value)) = long {
        return Ok(Layout::Long { contact, instance, key, value, width });
    }
    let columns: Vec<(usize, &str)> =
        header.iter().enumerate().filter(|(i, _)| !is_id(*i)).map(|(i, c)| (i, c.as_str())).collect();
    let attributes = options.columns.wide_attributes(name, &columns)?;
    Ok(Layout::Wide { contact, instance, attributes, width })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn auto() -> ReadOptions {
        ReadOptions::default()
    }

    #[test]
    fn wide_with_instance_column() {
        let layout = layout("f", &header(&["InstanceId", "InitialContactId", "Tier", "Status"]), &auto()).unwrap();
        let Layout::Wide { contact, instance, attributes, width } = layout else { panic!("not wide") };
        assert_eq!((contact, instance, width), (1, Some(0), 4));
        let names: Vec<&str> = attributes.iter().map(|(_, n)| &**n).collect();
        assert_eq!(names, ["Tier", "Status"]);
    }

    #[test]
    fn contact_column_aliases_are_case_insensitive() {
        for name in ["initial_contact_id", "ContactId", "contact_id", "INITIALCONTACTID"] {
            let layout = layout("f", &header(&[name, "A"]), &auto()).unwrap();
            assert!(matches!(layout, Layout::Wide { contact: 0, .. }), "{name}");
        }
    }

    #[test]
    fn long_is_detected_by_key_and_value_columns() {
        for (k, v) in [("Key", "Value"), ("attribute", "value"), ("name", "VALUE")] {
            let layout = layout("f", &header(&["ContactId", k, v]), &auto()).unwrap();
            assert!(matches!(layout, Layout::Long { contact: 0, key: 1, value: 2, .. }), "{k}/{v}");
        }
    }

    #[test]
    fn extra_columns_make_auto_wide_and_forced_long_ignores_them() {
        let cols = header(&["ContactId", "Name", "Value", "Tier"]);
        assert!(matches!(layout("f", &cols, &auto()).unwrap(), Layout::Wide { .. }));
        let long = ReadOptions { format: FormatChoice::Long, ..auto() };
        assert!(matches!(layout("f", &cols, &long).unwrap(), Layout::Long { .. }));
        let wide = ReadOptions { format: FormatChoice::Wide, ..auto() };
        assert!(matches!(layout("f", &header(&["ContactId", "Key", "Value"]), &wide).unwrap(), Layout::Wide { .. }));
    }

    #[test]
    fn missing_contact_column_names_the_header() {
        let err = layout("export.csv", &header(&["Id", "Tier"]), &auto()).unwrap_err().to_string();
        assert!(err.starts_with("export.csv:1: no contact id column"), "{err}");
        assert!(err.contains("\"Id\""), "{err}");
    }

    #[test]
    fn contact_column_flag() {
        let options = ReadOptions { contact_column: Some("CallId".into()), ..auto() };
        assert!(matches!(
            layout("f", &header(&["Tier", "CallId"]), &options).unwrap(),
            Layout::Wide { contact: 1, .. }
        ));
        assert!(layout("f", &header(&["ContactId"]), &options).is_err());
    }

    #[test]
    fn duplicate_attribute_columns_are_refused() {
        let err = layout("f", &header(&["ContactId", "Tier", "Tier"]), &auto()).unwrap_err();
        assert!(matches!(err, InputError::DuplicateColumn { .. }));
    }

    #[test]
    fn bare_ids_only_with_set() {
        assert!(layout("f", &header(&["11111111-2222"]), &auto()).is_err());
        let options = ReadOptions { allow_bare_ids: true, ..auto() };
        assert_eq!(layout("f", &header(&["11111111-2222"]), &options).unwrap(), Layout::BareIds);
        // A proper header is still a header.
        assert!(matches!(layout("f", &header(&["ContactId"]), &options).unwrap(), Layout::Wide { .. }));
    }
}
