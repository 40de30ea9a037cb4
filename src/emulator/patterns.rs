//! Contact-id patterns (`*` matches any run of characters) for the contacts the emulator
//! pretends do not exist or predate 2018-09-12. Plain ids go in a set, so files of many
//! thousands of ids stay fast to check.

use std::collections::HashSet;

#[derive(Debug, Clone, Default)]
pub struct Patterns {
    exact: HashSet<String>,
    wildcards: Vec<String>,
}

impl Patterns {
    pub fn new<S: AsRef<str>>(patterns: impl IntoIterator<Item = S>) -> Patterns {
        let mut out = Patterns::default();
        for pattern in patterns {
            let pattern = pattern.as_ref().trim();
            if pattern.is_empty() {
                continue;
            }
            if pattern.contains('*') {
                out.wildcards.push(pattern.to_owned());
            } else {
                out.exact.insert(pattern.to_owned());
            }
        }
        out
    }

    pub fn matches(&self, id: &str) -> bool {
        self.exact.contains(id) || self.wildcards.iter().any(|p| wildcard_match(p, id))
    }
}

/// Glob matching with `*` only, in linear time: on a mismatch, retry from the last `*`.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((star_p, star_t)) = star {
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_match_any_run() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("old-*", "old-1234"));
        assert!(!wildcard_match("old-*", "new-1234"));
        assert!(wildcard_match("*-dead", "c-1-dead"));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
        assert!(wildcard_match("a**c", "ac"));
        assert!(!wildcard_match("abc", "abcd"));
        // Non-ASCII ids compare byte for byte, which is exact for UTF-8.
        assert!(wildcard_match("é*", "éte"));
    }

    #[test]
    fn sets_mix_exact_ids_and_patterns() {
        let patterns = Patterns::new(["11111111-aaaa", "  ", "2017-*"]);
        assert!(patterns.matches("11111111-aaaa"));
        assert!(!patterns.matches("11111111-aaab"));
        assert!(patterns.matches("2017-06-01-x"));
        assert!(!Patterns::default().matches("x"));
    }
}
