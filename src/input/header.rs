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

/// A column name as a message shows it: quoted, and cut short so a 1 MB "name" (a binary file, a
/// missing line end) does not flood the log.
fn shown_name(name: &str) -> String {
    format!("{:?}", cut_short(name))
}

fn cut_short(name: &str) -> String {
    const SHOWN_CHARS: usize = 40;
    let short: String = name.chars().take(SHOWN_CHARS).collect();
    if short.len() < name.len() { format!("{short}...") } else { short }
}

fn shown(header: &[String]) -> String {
    let names: Vec<String> = header.iter().take(12).map(|h| shown_name(h)).collect();
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
            None if header.len() == 1 && options.allow_bare_ids => {
                require_instance(name, None, options)?;
                return bare_ids(name, &header[0]);
            }
            None => {
                return Err(InputError::NoContactColumn { name: name.into(), header: shown(header) });
            }
        },
    };
    let instance = find(header, &INSTANCE_COLUMNS).filter(|&i| i != contact);
    require_instance(name, instance, options)?;
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
    let ids: Vec<&str> = [Some(contact), instance].into_iter().flatten().map(|i| header[i].trim()).collect();
    refuse_duplicates(name, header, &ids)?;
    if let Some((key, value)) = long {
        return Ok(Layout::Long { contact, instance, key, value, width });
    }
    // Spaces around a name are not part of it: ` Tier ` is the column `Tier` for every flag, and
    // its key too.
    let columns: Vec<(usize, &str)> =
        header.iter().enumerate().filter(|(i, _)| !is_id(*i)).map(|(i, c)| (i, c.trim())).collect();
    let attributes = options.columns.wide_attributes(name, &columns, &ids)?;
    Ok(Layout::Wide { contact, instance, attributes, width })
}

fn require_instance(name: &str, column: Option<usize>, options: &ReadOptions) -> Result<(), InputError> {
    match column.is_none() && options.default_instance.is_none() && options.instance_required {
        true => Err(InputError::NoInstance { name: name.into() }),
        false => Ok(()),
    }
}

/// A one-column file with `--set` whose first line, `first`, is not a known header: a list of ids,
/// unless that line cannot be an id. A file separated by `;` or tabs is one column to a comma
/// reader, and each of its lines (the header's too) would be sent as an id, with the rest of the
/// line glued to it; a header such as `Contact ID` would be sent as an id.
fn bare_ids(name: &str, first: &str) -> Result<Layout, InputError> {
    let first_trimmed = first.trim();
    let (what, hint) = if let Some(separator) = first_trimmed.chars().find(|c| matches!(c, ';' | '\t' | '|')) {
        let what = match separator {
            ';' => "a ';'",
            '\t' => "a tab",
            _ => "a '|'",
        };
        (what, "is the file separated by something other than commas? Save it as comma-separated CSV")
    } else if first_trimmed.contains(char::is_whitespace) {
        ("a space", "if it is a header, pass --contact-column with its name; contact ids have no spaces")
    } else {
        return Ok(Layout::BareIds);
    };
    Err(InputError::NotAnIdList { name: name.into(), first: shown_name(first), what, hint })
}

/// Whether a wide file with `header` is read back, with `--contact-column` as `contact_column`,
/// as wide with its instance in column 0, its contact in column 1, and every other column an
/// attribute of the same name. A retry file is written wide only then: keys such as `Name` and
/// `Value` alone would make it read as long, and a key named `InstanceId` would be a second
/// instance column.
pub fn reads_back_as_wide(header: &[String], contact_column: Option<&str>) -> bool {
    let options = ReadOptions { contact_column: contact_column.map(str::to_string), ..ReadOptions::default() };
    match layout("retry file", header, &options) {
        Ok(Layout::Wide { contact: 1, instance: Some(0), attributes, .. }) => {
            attributes.len() + 2 == header.len()
                && attributes.iter().all(|(column, key)| header.get(*column).is_some_and(|h| h.as_str() == &**key))
        }
        _ => false,
    }
}

/// Two columns of one name: which one is meant? The id columns too, whatever the case (they are
/// found whatever the case): a second `InitialContactId` or `initialcontactid` would otherwise be
/// sent as an attribute of that name.
fn refuse_duplicates(name: &str, header: &[String], ids: &[&str]) -> Result<(), InputError> {
    let mut seen = std::collections::HashSet::with_capacity(header.len());
    let twice = header.iter().find(|column| !seen.insert(column.trim())).map(|column| column.trim()).or_else(|| {
        let named_twice = |id: &str| header.iter().filter(|column| column.trim().eq_ignore_ascii_case(id)).count() > 1;
        ids.iter().copied().find(|id| named_twice(id))
    });
    match twice {
        Some(column) => Err(InputError::DuplicateColumn { name: name.into(), column: cut_short(column) }),
        None => Ok(()),
    }
}

/// The header row must be text: NUL bytes or invalid UTF-8 mean UTF-16 or a binary file, and a
/// CR inside a name means lines that end in CR alone, which would read as one endless header.
pub fn check_text(name: &str, header: &[&[u8]]) -> Result<(), InputError> {
    for (i, column) in header.iter().enumerate() {
        let problem = if column.contains(&0) {
            format!("a NUL byte in column {}", i + 1)
        } else if std::str::from_utf8(column).is_err() {
            format!("invalid UTF-8 in column {}", i + 1)
        } else if column.contains(&b'\r') {
            let shown = shown_name(&String::from_utf8_lossy(column));
            return Err(InputError::CarriageReturns { name: name.into(), column: shown });
        } else {
            continue;
        };
        return Err(InputError::NotText { name: name.into(), problem });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::ColumnRules;

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
    fn duplicate_id_columns_are_refused_too() {
        let err = layout("f", &header(&["InitialContactId", "Tier", "InitialContactId"]), &auto()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "f:1: column \"InitialContactId\" appears more than once in the header: rename one of them"
        );
        assert!(layout("f", &header(&["InstanceId", "ContactId", " InstanceId"]), &auto()).is_err());
    }

    #[test]
    fn id_columns_named_twice_in_another_case_are_refused() {
        for names in
            [&["InitialContactId", "Tier", "initialcontactid"][..], &["InstanceId", "ContactId", "Tier", "instanceid"]]
        {
            let err = layout("f", &header(names), &auto()).unwrap_err();
            assert!(matches!(err, InputError::DuplicateColumn { .. }), "{names:?}: {err}");
        }
        // Two of the contact column's names are two columns: the second is an attribute.
        assert!(layout("f", &header(&["InitialContactId", "contact_id"]), &auto()).is_ok());
    }

    #[test]
    fn long_files_with_a_column_named_twice_are_refused_too() {
        let long = ReadOptions { format: FormatChoice::Long, ..auto() };
        for names in
            [&["InitialContactId", "Key", "Value", "InitialContactId"][..], &["ContactId", "Key", "Value", "Value"]]
        {
            assert!(matches!(layout("f", &header(names), &long), Err(InputError::DuplicateColumn { .. })), "{names:?}");
            assert!(
                matches!(layout("f", &header(names), &auto()), Err(InputError::DuplicateColumn { .. })),
                "{names:?}"
            );
        }
    }

    #[test]
    fn spaces_around_a_column_name_are_not_part_of_its_key() {
        let layout = layout("f", &header(&["InitialContactId", " Tier ", "Note"]), &auto()).unwrap();
        let Layout::Wide { attributes, .. } = layout else { panic!("not wide") };
        let names: Vec<&str> = attributes.iter().map(|(_, n)| &**n).collect();
        assert_eq!(names, ["Tier", "Note"]);
    }

    #[test]
    fn columns_may_name_the_id_columns() {
        let columns =
            ColumnRules { only: Some(vec!["InitialContactId".into(), "Tier".into()]), ..ColumnRules::default() };
        let options = ReadOptions { columns, ..auto() };
        let layout = layout("f", &header(&["InitialContactId", "Tier", "Note"]), &options).unwrap();
        let Layout::Wide { contact: 0, attributes, .. } = layout else { panic!("not wide") };
        assert_eq!(attributes.iter().map(|(_, n)| &**n).collect::<Vec<_>>(), ["Tier"]);
    }

    #[test]
    fn a_first_line_that_cannot_be_an_id_is_no_list_of_ids() {
        let set = ReadOptions { allow_bare_ids: true, ..auto() };
        for first in ["InitialContactId;Reason", "6513270e-269e-0d37;fraud", "Contact\tReason", "Contact ID", "a|b"] {
            let err = layout("ids.txt", &header(&[first]), &set).unwrap_err();
            assert!(matches!(err, InputError::NotAnIdList { .. }), "{first}: {err}");
            assert!(err.to_string().starts_with("ids.txt:1: with --set"), "{err}");
        }
        for first in ["6513270e-269e-0d37-f2a7-4de452e6b438", " c-1 "] {
            assert_eq!(layout("ids.txt", &header(&[first]), &set).unwrap(), Layout::BareIds, "{first}");
        }
    }

    #[test]
    fn with_no_instance_column_and_no_instance_id_nothing_can_be_sent() {
        let required = ReadOptions { instance_required: true, ..auto() };
        for names in [&["InitialContactId", "Tier"][..], &["ContactId", "Key", "Value"]] {
            let err = layout("f", &header(names), &required).unwrap_err();
            assert!(matches!(err, InputError::NoInstance { .. }), "{names:?}: {err}");
        }
        let bare = ReadOptions { allow_bare_ids: true, ..required.clone() };
        assert!(matches!(layout("f", &header(&["c-1"]), &bare), Err(InputError::NoInstance { .. })));
        assert!(layout("f", &header(&["InstanceId", "ContactId", "Tier"]), &required).is_ok());
        let given = ReadOptions { default_instance: Some("i".into()), ..required };
        assert!(layout("f", &header(&["ContactId", "Tier"]), &given).is_ok());
    }

    #[test]
    fn long_column_names_are_cut_short_in_messages() {
        let err = layout("f", &header(&[&"x".repeat(1_000_000), "Tier"]), &auto()).unwrap_err().to_string();
        assert!(err.len() < 400, "{}", err.len());
        assert!(err.starts_with("f:1: no contact id column"), "{err}");
    }

    #[test]
    fn headers_that_are_not_text_are_refused() {
        let utf16: &[u8] = b"\xff\xfeC\0o\0n\0";
        let err = check_text("f", &[utf16]).unwrap_err().to_string();
        assert!(err.starts_with("f:1: the header is not CSV text (a NUL byte in column 1)"), "{err}");
        let latin1: &[u8] = b"Gr\xf6\xdfe";
        assert!(
            check_text("f", &[b"ContactId", latin1]).unwrap_err().to_string().contains("invalid UTF-8 in column 2")
        );
        let mac = check_text("f", &[b"ContactId", b"Tier\rc1"]).unwrap_err();
        assert!(matches!(mac, InputError::CarriageReturns { .. }), "{mac}");
        assert!(check_text("f", &[b"\xef\xbb\xbfContactId", "Gr\u{f6}\u{df}e".as_bytes()]).is_ok());
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
