//! Unit tests of the plan: numbers, warnings, text and JSON.

use super::*;
use crate::report::Tally;

fn summary(contacts: u64, invalid: u64) -> Summary {
    Summary {
        command: "validate",
        inputs: vec!["a.csv".into(), "b.csv".into()],
        format: None,
        rows: 10,
        bad_rows: 1,
        tally: Tally { contacts, invalid, ..Tally::default() },
        valid: Some(contacts - invalid),
        requests: 0,
        throttled: 0,
        retries: 0,
        elapsed_s: 0.0,
        achieved_rate: 0.0,
        ceiling: None,
        exit_code: 1,
        stopped: None,
        run_dir: "run".into(),
        errors_file: "run/errors.csv".into(),
        retry_file: None,
        started_at: String::new(),
        finished_at: String::new(),
        resume_command: None,
    }
}

fn contact(instance: &str, id: &str, attributes: &[(&str, &str)]) -> Contact {
    Contact {
        instance_id: instance.into(),
        contact_id: id.into(),
        attributes: attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        lines: vec![],
    }
}

fn ceiling(rate: f64) -> PlannedCeiling {
    PlannedCeiling { rate, burst: 5, source: CeilingSource::Flag, note: None }
}

fn sample() -> (Vec<Contact>, Findings) {
    let contacts = vec![
        contact("i1", "c1", &[("A", "1")]),
        contact("i1", "c2", &[("A", "1"), ("B", "2"), ("C", "3")]),
        contact("i2", "c3", &[("A", "1"), ("LongKey", "a long value")]),
    ];
    let mut findings = Findings::default();
    for line in 2..7 {
        findings.problem("KeyCharacters", || format!("a.csv:{line}"));
    }
    findings.problem("MalformedRow", || "b.csv:9".into());
    findings.instance("i3");
    (contacts, findings)
}

#[test]
fn durations_parse_and_print() {
    assert_eq!(parse_duration("8h"), Ok(Duration::from_secs(8 * 3600)));
    assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
    assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
    assert_eq!(parse_duration("600"), Ok(Duration::from_secs(600)));
    for bad in ["", "h", "8x", "8h30", "0h", "-1h"] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
    assert_eq!(format_duration(12.0), "12s");
    assert_eq!(format_duration(114.2), "1m55s");
    assert_eq!(format_duration(34_200.0), "9h30m");
}

#[test]
fn the_plan_counts_attributes_sizes_instances_and_problems() {
    let (contacts, findings) = sample();
    let plan = build(summary(9, 5), &contacts, findings, ceiling(2.0), None);
    assert_eq!(plan.to_send, 3);
    assert_eq!(plan.instances, 3, "i1, i2 from the contacts to send and i3 from an invalid one");
    assert_eq!(plan.attributes_per_contact, Some(Spread { min: 1, median: 2, max: 3 }));
    let largest = plan.largest_contact.as_ref().unwrap();
    assert_eq!((largest.bytes, largest.contact_id.as_str()), (21, "c3"));
    let rule = &plan.problems["KeyCharacters"];
    assert_eq!(rule.count, 5);
    assert_eq!(rule.first, ["a.csv:2", "a.csv:3", "a.csv:4"]);
    assert_eq!(plan.problems["MalformedRow"].first, ["b.csv:9"]);
    assert_eq!(plan.duration_s, 1.5);
    assert!(plan.warnings.is_empty());
}

#[test]
fn a_run_longer_than_the_window_is_a_warning() {
    let contacts: Vec<Contact> = (0..100).map(|i| contact("i", &i.to_string(), &[("A", "1")])).collect();
    let plan = build(summary(100, 0), &contacts, Findings::default(), ceiling(0.002), parse_duration("8h").ok());
    assert_eq!(plan.window_s, Some(28_800.0));
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert!(
        plan.warnings[0].contains("13h53m") && plan.warnings[0].contains("--window of 8h00m"),
        "{:?}",
        plan.warnings
    );
    let fits = build(summary(100, 0), &contacts, Findings::default(), ceiling(2.0), parse_duration("8h").ok());
    assert!(fits.warnings.is_empty());
}

#[test]
fn the_text_plan_shows_every_part() {
    let (contacts, findings) = sample();
    let fallback = PlannedCeiling {
        rate: 2.0,
        burst: 5,
        source: CeilingSource::Fallback,
        note: Some("cannot read the account's quota (no AWS region): assuming 2/s".into()),
    };
    let text = render(&build(summary(9, 5), &contacts, findings, fallback, None));
    let expected = "\
inputs      a.csv, b.csv
rows        10 (1 malformed)
contacts    9 in 3 instance(s): 3 to send, 5 invalid, 0 with nothing to send
attributes  per contact: min 1, median 2, max 3
largest     21 bytes (c3 in i2; the limit is 32768)
problem     KeyCharacters: 5 (first: a.csv:2, a.csv:3, a.csv:4)
problem     MalformedRow: 1 (first: b.csv:9)
ceiling     2/s burst 5 (fallback: the quota could not be read)
duration    about 2s for 3 requests at 2/s
warning: cannot read the account's quota (no AWS region): assuming 2/s
";
    assert_eq!(text, expected);
}

#[test]
fn the_json_plan_holds_the_summary() {
    let (contacts, findings) = sample();
    let plan = build(summary(9, 5), &contacts, findings, ceiling(2.0), None);
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["summary"]["invalid"], 5);
    assert_eq!(json["summary"]["command"], "validate");
    assert_eq!(json["ceiling"]["source"], "flag");
    assert_eq!(json["problems"]["KeyCharacters"]["count"], 5);
    assert_eq!(json["attributes_per_contact"]["median"], 2);
}

/// Among contacts of the same size the plan names the first by instance and id, whatever order
/// they come in (pieces of a spilled merge are checked in parallel, in partition order).
#[test]
fn the_largest_contact_is_the_same_in_any_order() {
    let contacts = [
        contact("i2", "a", &[("K", "12345")]),
        contact("i1", "b", &[("K", "12345")]),
        contact("i1", "c", &[("K", "1")]),
        contact("i1", "a2", &[("K", "12345")]),
    ];
    let largest = |order: &[usize]| {
        let (mut first, mut second) = (ToSend::default(), ToSend::default());
        for (n, &i) in order.iter().enumerate() {
            let half = if n % 2 == 0 { &mut first } else { &mut second };
            half.add(&ContactView::of(&contacts[i], &mut Vec::new()));
        }
        first.absorb(second);
        let largest = first.largest.unwrap();
        (largest.bytes, largest.instance_id, largest.contact_id)
    };
    let expected = (6, "i1".to_string(), "a2".to_string());
    for order in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]] {
        assert_eq!(largest(&order), expected, "{order:?}");
    }
}
