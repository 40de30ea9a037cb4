//! The plan `validate` prints: what the inputs hold (rows, contacts, instances, attributes per
//! contact, the largest contact), what is wrong with them (by rule, with the first places to look)
//! and how long sending them will take at the ceiling in force, against the night's `--window`.
//!
//! Text for people on stdout by default; `--json` prints the same [`Plan`] as JSON. Building and
//! rendering are pure: the command gathers the numbers and the ceiling and passes them in.

use super::summary::Summary;
use crate::merge::{Contact, ContactView};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

/// Places shown per rule.
const EXAMPLES: usize = 3;

/// What is wrong, gathered as invalid contacts and malformed rows are reported.
#[derive(Debug, Default)]
pub struct Findings {
    by_rule: BTreeMap<String, Problem>,
    instances: HashSet<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub count: u64,
    /// The first places (`file:line`) where it was found.
    pub first: Vec<String>,
}

impl Findings {
    /// One more contact or row breaking `rule`, found at `lines`.
    pub fn problem(&mut self, rule: &str, lines: impl FnOnce() -> String) {
        let problem = self.by_rule.entry(rule.to_string()).or_default();
        problem.count += 1;
        if problem.first.len() < EXAMPLES {
            problem.first.push(lines());
        }
    }

    pub fn instance(&mut self, instance: &str) {
        if !self.instances.contains(instance) {
            self.instances.insert(instance.to_string());
        }
    }
}

/// Where the plan's rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CeilingSource {
    /// `--rate N`.
    Flag,
    /// The account's quota, from Service Quotas.
    Quota,
    /// The quota could not be read: the run would send at the fallback.
    Fallback,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedCeiling {
    pub rate: f64,
    pub burst: u32,
    pub source: CeilingSource,
    /// Why the quota could not be read, for the fallback.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub min: usize,
    pub median: usize,
    pub max: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Largest {
    /// Keys and values in UTF-8 bytes, as the API's 32,768-byte limit counts them.
    pub bytes: usize,
    pub instance_id: String,
    pub contact_id: String,
}

impl Largest {
    /// Whether a contact of `bytes` is the larger one; among equals, the first by instance and
    /// contact id, so the plan names the same contact whatever order the merge yields them in.
    fn yields_to(&self, bytes: usize, instance_id: &str, contact_id: &str) -> bool {
        (bytes, std::cmp::Reverse((instance_id, contact_id)))
            > (self.bytes, std::cmp::Reverse((self.instance_id.as_str(), self.contact_id.as_str())))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub inputs: Vec<String>,
    pub rows: u64,
    pub bad_rows: u64,
    pub contacts: u64,
    pub to_send: u64,
    pub instances: usize,
    /// Over the contacts to send; `None` when there are none.
    pub attributes_per_contact: Option<Spread>,
    pub largest_contact: Option<Largest>,
    /// Invalid contacts by rule, and malformed rows (`MalformedRow`).
    pub problems: BTreeMap<String, Problem>,
    pub ceiling: PlannedCeiling,
    /// One request per contact to send at the ceiling, without retries or throttling.
    pub duration_s: f64,
    pub window_s: Option<f64>,
    pub warnings: Vec<String>,
    pub summary: Summary,
}

/// The plan of sending `to_send` (the valid contacts) at `ceiling`.
pub fn build(
    summary: Summary,
    to_send: &[Contact],
    findings: Findings,
    ceiling: PlannedCeiling,
    window: Option<Duration>,
) -> Plan {
    let mut stats = ToSend::default();
    for contact in to_send {
        stats.add(&ContactView::of(contact, &mut Vec::new()));
    }
    build_from(summary, stats, findings, ceiling, window)
}

/// What the plan needs of the contacts to send, gathered one contact at a time so `validate`
/// never holds them all (the merge hands them over as a stream).
#[derive(Debug)]
pub struct ToSend {
    count: u64,
    /// Attributes per contact -> contacts with that many: the exact median in bounded memory.
    /// Counts under 64 (nearly every contact) are tallied by index first.
    attributes: BTreeMap<usize, u64>,
    few_attributes: [u64; 64],
    largest: Option<Largest>,
    instances: HashSet<String>,
    /// The instance of the contact before: usually the next one's too, so it is not looked up.
    last_instance: String,
}

impl Default for ToSend {
    fn default() -> ToSend {
        ToSend {
            count: 0,
            attributes: BTreeMap::new(),
            few_attributes: [0; 64],
            largest: None,
            instances: HashSet::new(),
            last_instance: String::new(),
        }
    }
}

impl ToSend {
    pub fn add(&mut self, contact: &ContactView<'_>) {
        self.count += 1;
        match self.few_attributes.get_mut(contact.attributes.len()) {
            Some(contacts) => *contacts += 1,
            None => *self.attributes.entry(contact.attributes.len()).or_default() += 1,
        }
        if self.last_instance != contact.instance_id {
            if !self.instances.contains(contact.instance_id) {
                self.instances.insert(contact.instance_id.to_string());
            }
            contact.instance_id.clone_into(&mut self.last_instance);
        }
        let bytes = contact.attributes.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        if self.largest.as_ref().is_none_or(|l| l.yields_to(bytes, contact.instance_id, contact.contact_id)) {
            let (instance_id, contact_id) = (contact.instance_id.to_string(), contact.contact_id.to_string());
            self.largest = Some(Largest { bytes, instance_id, contact_id });
        }
    }

    /// Adds what `later` gathered from the contacts after these.
    pub fn absorb(&mut self, later: ToSend) {
        self.count += later.count;
        for (attributes, contacts) in later.attributes {
            *self.attributes.entry(attributes).or_default() += contacts;
        }
        for (mine, theirs) in self.few_attributes.iter_mut().zip(later.few_attributes) {
            *mine += theirs;
        }
        if let Some(largest) = later.largest
            && self
                .largest
                .as_ref()
                .is_none_or(|l| l.yields_to(largest.bytes, &largest.instance_id, &largest.contact_id))
        {
            self.largest = Some(largest);
        }
        self.instances.extend(later.instances);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Attributes per contact -> contacts with that many.
    fn histogram(&self) -> BTreeMap<usize, u64> {
        let few = self.few_attributes.iter().enumerate().filter(|(_, contacts)| **contacts > 0);
        let mut histogram: BTreeMap<usize, u64> = few.map(|(attributes, contacts)| (attributes, *contacts)).collect();
        histogram.extend(&self.attributes);
        histogram
    }
}

pub fn build_from(
    summary: Summary,
    to_send: ToSend,
    mut findings: Findings,
    ceiling: PlannedCeiling,
    window: Option<Duration>,
) -> Plan {
    for instance in &to_send.instances {
        findings.instance(instance);
    }
    let duration_s = to_send.count as f64 / ceiling.rate;
    let mut warnings = Vec::new();
    if let Some(note) = &ceiling.note {
        warnings.push(note.clone());
    }
    if let Some(window) = window.filter(|w| duration_s > w.as_secs_f64()) {
        warnings.push(format!(
            "at {}/s the run takes about {}, longer than the --window of {}: raise the quota, split the input, or let it resume the next night",
            ceiling.rate,
            format_duration(duration_s),
            format_duration(window.as_secs_f64())
        ));
    }
    Plan {
        inputs: summary.inputs.clone(),
        rows: summary.rows,
        bad_rows: summary.bad_rows,
        contacts: summary.tally.contacts,
        to_send: to_send.count,
        instances: findings.instances.len(),
        attributes_per_contact: spread(&to_send.histogram()),
        largest_contact: to_send.largest,
        problems: findings.by_rule,
        ceiling,
        duration_s: (duration_s * 10.0).round() / 10.0,
        window_s: window.map(|w| w.as_secs_f64()),
        warnings,
        summary,
    }
}

fn spread(histogram: &BTreeMap<usize, u64>) -> Option<Spread> {
    let (&min, &max) = (histogram.keys().next()?, histogram.keys().next_back()?);
    let middle = histogram.values().sum::<u64>() / 2;
    let mut seen = 0;
    let median = histogram.iter().find_map(|(&count, &contacts)| {
        seen += contacts;
        (seen > middle).then_some(count)
    })?;
    Some(Spread { min, median, max })
}

/// The plan for people.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let tally = &plan.summary.tally;
    let _ = writeln!(out, "inputs      {}", plan.inputs.join(", "));
    let _ = writeln!(out, "rows        {} ({} malformed)", plan.rows, plan.bad_rows);
    let _ = writeln!(
        out,
        "contacts    {} in {} instance(s): {} to send, {} invalid, {} with nothing to send",
        plan.contacts, plan.instances, plan.to_send, tally.invalid, tally.skipped_empty
    );
    if let Some(s) = plan.attributes_per_contact {
        let _ = writeln!(out, "attributes  per contact: min {}, median {}, max {}", s.min, s.median, s.max);
    }
    if let Some(l) = &plan.largest_contact {
        let _ =
            writeln!(out, "largest     {} bytes ({} in {}; the limit is 32768)", l.bytes, l.contact_id, l.instance_id);
    }
    for (rule, problem) in &plan.problems {
        let _ = writeln!(out, "problem     {rule}: {} (first: {})", problem.count, problem.first.join(", "));
    }
    let c = &plan.ceiling;
    let source = match c.source {
        CeilingSource::Flag => "--rate",
        CeilingSource::Quota => "the account's quota",
        CeilingSource::Fallback => "fallback: the quota could not be read",
    };
    let _ = writeln!(out, "ceiling     {}/s burst {} ({source})", c.rate, c.burst);
    let window = plan.window_s.map(|w| format!(", window {}", format_duration(w))).unwrap_or_default();
    let _ = writeln!(
        out,
        "duration    about {} for {} requests at {}/s{window}",
        format_duration(plan.duration_s),
        plan.to_send,
        c.rate
    );
    for warning in &plan.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    out
}

/// `8h`, `90m`, `1h30m`, `45s`, `2d`, or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("expected a duration like 8h, 90m, 1h30m or 45s; got {text:?}");
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let (mut total, mut number) = (0u64, String::new());
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n.checked_mul(unit).and_then(|s| total.checked_add(s)).ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// `9h30m`, `1m54s`, `12s`.
pub fn format_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).ceil() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m{sec:02}s"),
        (h, min, _) => format!("{h}h{min:02}m"),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
