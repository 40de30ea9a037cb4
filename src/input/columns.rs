//! CRM columns as they really are: which columns become attributes (`--columns`,
//! `--exclude-columns`) and under which key (`--rename`, `--sanitize-keys`).
//!
//! Selection and renames name the column as it is in the export; sanitizing comes last and turns
//! every character an attribute key cannot hold into `_`. In a wide file this is decided once from
//! the header, and two columns that end up with the same key are an error naming both. In a long
//! file the same rules apply to each Key value as it is read (see [`LongKeys`]).

use super::InputError;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// The column rules from the command line; empty rules change nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnRules {
    /// `--rename FROM=TO`, in the order given.
    pub rename: Vec<(String, String)>,
    /// `--columns`: only these columns become attributes.
    pub only: Option<Vec<String>>,
    /// `--exclude-columns`: these never do.
    pub exclude: Vec<String>,
    /// `--sanitize-keys`: forbidden characters become `_`.
    pub sanitize: bool,
}

fn same(column: &str, name: &str) -> bool {
    column == name || column.trim() == name
}

/// A key the API accepts as it is: only `A-Z a-z 0-9 _ -`.
fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// `name` with every character an attribute key cannot hold replaced by `_`.
pub fn sanitize(name: &str) -> Cow<'_, str> {
    if name.chars().all(allowed) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.chars().map(|c| if allowed(c) { c } else { '_' }).collect())
    }
}

impl ColumnRules {
    pub fn is_empty(&self) -> bool {
        self.rename.is_empty() && self.only.is_none() && self.exclude.is_empty() && !self.sanitize
    }

    /// The key a column (or long Key value) becomes, or `None` when it is not an attribute.
    pub fn key<'a>(&'a self, column: &'a str) -> Option<Cow<'a, str>> {
        if let Some(only) = &self.only
            && !only.iter().any(|name| same(column, name))
        {
            return None;
        }
        if self.exclude.iter().any(|name| same(column, name)) {
            return None;
        }
        let renamed = self.rename.iter().rev().find(|(from, _)| same(column, from)).map_or(column, |(_, to)| to);
        Some(if self.sanitize { sanitize(renamed) } else { Cow::Borrowed(renamed) })
    }

    /// The attribute columns of a wide header: `(index, column)` pairs of every column that is not
    /// an id, to `(index, key)` pairs. Errors name the input and both columns of a collision.
    /// `ids` are the header's id columns, always read: `--columns` may name them.
    pub fn wide_attributes(
        &self,
        input: &str,
        columns: &[(usize, &str)],
        ids: &[&str],
    ) -> Result<Vec<(usize, Arc<str>)>, InputError> {
        let named = |name: &str| columns.iter().any(|(_, c)| same(c, name)) || ids.iter().any(|id| same(id, name));
        if let Some(only) = &self.only
            && let Some(missing) = only.iter().find(|name| !named(name))
        {
            let names: Vec<&str> = columns.iter().map(|(_, c)| *c).collect();
            return Err(InputError::UnknownColumn {
                name: input.into(),
                column: missing.clone(),
                header: names.join(", "),
            });
        }
        for (from, _) in &self.rename {
            if ids.iter().any(|id| same(id, from)) {
                tracing::warn!("{input}: --rename {from:?} is an id column, not an attribute: nothing renamed");
            } else if !columns.iter().any(|(_, c)| same(c, from)) {
                tracing::warn!("{input}: --rename {from:?}: there is no such column; nothing renamed");
            }
        }
        let mut keys: Vec<(usize, Arc<str>, &str)> = Vec::new();
        let mut sanitized = Vec::new();
        for &(index, column) in columns {
            let Some(key) = self.key(column) else { continue };
            if let Some((_, _, first)) = keys.iter().find(|(_, seen, _)| **seen == *key) {
                return Err(collision(input, first, column, &key));
            }
            if self.sanitize && !self.rename.iter().any(|(from, _)| same(column, from)) && key != column {
                sanitized.push(format!("{column:?} -> {key}"));
            }
            keys.push((index, Arc::from(&*key), column));
        }
        if !sanitized.is_empty() {
            tracing::warn!("{input}: --sanitize-keys renamed {} column(s): {}", sanitized.len(), sanitized.join(", "));
        }
        Ok(keys.into_iter().map(|(index, key, _)| (index, key)).collect())
    }
}

fn collision(input: &str, first: &str, second: &str, key: &str) -> InputError {
    if first == second {
        InputError::DuplicateColumn { name: input.into(), column: first.into() }
    } else {
        InputError::ColumnCollision { name: input.into(), first: first.into(), second: second.into(), key: key.into() }
    }
}

/// The rules applied to the Key values of a long file, one row at a time. Each distinct Key is
/// mapped once; a Key that would land on another Key's attribute makes its row a bad row.
#[derive(Debug)]
pub struct LongKeys<'r> {
    rules: &'r ColumnRules,
    /// Key as read -> attribute key (None: not an attribute).
    mapped: HashMap<String, Option<Arc<str>>>,
    /// Attribute key -> the Key it came from first.
    origin: HashMap<Arc<str>, String>,
}

impl<'r> LongKeys<'r> {
    pub fn new(rules: &'r ColumnRules) -> LongKeys<'r> {
        LongKeys { rules, mapped: HashMap::new(), origin: HashMap::new() }
    }

    /// The attribute key of `key` (`Ok(None)`: not an attribute), or why the row is bad.
    pub fn key(&mut self, input: &str, key: &str) -> Result<Option<Arc<str>>, String> {
        if self.rules.is_empty() {
            return Ok(Some(Arc::from(key)));
        }
        if let Some(known) = self.mapped.get(key) {
            return Ok(known.clone());
        }
        let mapped: Option<Arc<str>> = self.rules.key(key).map(|k| Arc::from(&*k));
        if let Some(target) = &mapped {
            match self.origin.get(target) {
                Some(first) if first != key => {
                    return Err(format!(
                        "Key {key:?} and Key {first:?} would both become attribute {target:?}: rename one of them with --rename"
                    ));
                }
                Some(_) => {}
                None => {
                    if self.rules.sanitize && **target != *key && !self.rules.rename.iter().any(|(f, _)| same(key, f)) {
                        tracing::warn!("{input}: --sanitize-keys renamed Key {key:?} -> {target}");
                    }
                    self.origin.insert(target.clone(), key.to_string());
                }
            }
        }
        self.mapped.insert(key.to_string(), mapped.clone());
        Ok(mapped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(rename: &[(&str, &str)], only: Option<&[&str]>, exclude: &[&str], sanitize: bool) -> ColumnRules {
        let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        ColumnRules {
            rename: rename.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            only: only.map(owned),
            exclude: owned(exclude),
            sanitize,
        }
    }

    fn keys(rules: &ColumnRules, header: &[&str]) -> Result<Vec<(usize, String)>, InputError> {
        let columns: Vec<(usize, &str)> = header.iter().copied().enumerate().collect();
        let keys = rules.wide_attributes("in.csv", &columns, &["InitialContactId"])?;
        Ok(keys.into_iter().map(|(i, k)| (i, k.to_string())).collect())
    }

    #[test]
    fn sanitize_replaces_every_forbidden_character() {
        assert_eq!(sanitize("Customer Tier"), "Customer_Tier");
        assert_eq!(sanitize("Account.Status"), "Account_Status");
        assert_eq!(sanitize("Größe (cm)"), "Gr__e__cm_");
        assert!(matches!(sanitize("Ok_Key-1"), Cow::Borrowed(_)));
    }

    #[test]
    fn no_rules_keep_every_column() {
        let got = keys(&ColumnRules::default(), &["Tier", "Account.Status"]).unwrap();
        assert_eq!(got, [(0, "Tier".into()), (1, "Account.Status".into())]);
    }

    #[test]
    fn rename_then_sanitize_the_rest() {
        let rules = rules(&[("Customer Tier", "CustomerTier")], None, &[], true);
        let got = keys(&rules, &["Customer Tier", "Account.Status", "Plan"]).unwrap();
        assert_eq!(got, [(0, "CustomerTier".into()), (1, "Account_Status".into()), (2, "Plan".into())]);
    }

    #[test]
    fn columns_selects_and_exclude_drops_by_the_exports_names() {
        let only = rules(&[], Some(&["Plan", "Customer Tier"]), &[], false);
        assert_eq!(
            keys(&only, &["Customer Tier", "Email", "Plan"]).unwrap(),
            [(0, "Customer Tier".into()), (2, "Plan".into())]
        );
        let exclude = rules(&[], None, &["Email"], false);
        assert_eq!(keys(&exclude, &["Tier", "Email"]).unwrap(), [(0, "Tier".into())]);
    }

    #[test]
    fn a_selected_column_that_is_not_there_is_an_error() {
        let only = rules(&[], Some(&["Tier", "Plna"]), &[], false);
        let err = keys(&only, &["Tier", "Plan"]).unwrap_err();
        assert!(matches!(&err, InputError::UnknownColumn { column, .. } if column == "Plna"), "{err}");
    }

    #[test]
    fn columns_that_collide_are_an_error_naming_both() {
        let rules = rules(&[], None, &[], true);
        let err = keys(&rules, &["Account.Status", "Account Status"]).unwrap_err().to_string();
        assert!(err.contains("\"Account.Status\"") && err.contains("\"Account Status\""), "{err}");
        assert!(err.contains("Account_Status"), "{err}");
        let renamed = self::rules(&[("A", "B")], None, &[], false);
        assert!(matches!(keys(&renamed, &["A", "B"]), Err(InputError::ColumnCollision { .. })));
        assert!(matches!(keys(&ColumnRules::default(), &["A", "A"]), Err(InputError::DuplicateColumn { .. })));
    }

    #[test]
    fn an_excluded_duplicate_is_no_collision() {
        let rules = rules(&[], None, &["Notes"], false);
        assert_eq!(keys(&rules, &["Notes", "Tier", "Notes"]).unwrap(), [(1, "Tier".into())]);
    }

    #[test]
    fn long_keys_follow_the_same_rules_and_collide_per_row() {
        let rules = rules(&[("Customer Tier", "Tier")], None, &["Email"], true);
        let mut long = LongKeys::new(&rules);
        assert_eq!(long.key("f", "Customer Tier").unwrap().as_deref(), Some("Tier"));
        assert_eq!(long.key("f", "Account.Status").unwrap().as_deref(), Some("Account_Status"));
        assert_eq!(long.key("f", "Email").unwrap(), None);
        assert_eq!(long.key("f", "Account.Status").unwrap().as_deref(), Some("Account_Status"));
        let err = long.key("f", "Account Status").unwrap_err();
        assert!(err.contains("\"Account Status\"") && err.contains("\"Account.Status\""), "{err}");
    }
}
