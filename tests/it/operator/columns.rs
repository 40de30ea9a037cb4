//! CRM columns as they are: --rename, --columns, --exclude-columns, --sanitize-keys, and
//! instance ARNs in --instance-id and the InstanceId column.

use crate::pipeline::support::*;
use connect_attrs::emulator::Config;

const EXPORT: &str = "\
InitialContactId,Customer Tier,Account.Status,Email,Plan
c-1,Gold,open,a@example.com,Pro
c-2,Silver,closed,b@example.com,
";

fn attributes(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn rename_sanitize_and_exclude_turn_an_export_into_valid_keys() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("export.csv", EXPORT);
    let extra = [
        "--instance-id",
        "inst",
        "--rename",
        "Customer Tier=CustomerTier",
        "--sanitize-keys",
        "--exclude-columns",
        "Email",
    ];
    let output = run(&scratch, &handle, &extra, &["export.csv"]);
    output.assert_code(0);
    assert_summary_file(&scratch, &output);
    assert!(
        output.stderr.contains("--sanitize-keys renamed 1 column(s): \"Account.Status\" -> Account_Status"),
        "{}",
        output.stderr
    );
    let mut expected = Contacts::new();
    expected.insert(
        ("inst".into(), "c-1".into()),
        attributes(&[("CustomerTier", "Gold"), ("Account_Status", "open"), ("Plan", "Pro")]),
    );
    expected
        .insert(("inst".into(), "c-2".into()), attributes(&[("CustomerTier", "Silver"), ("Account_Status", "closed")]));
    assert_state(&handle, &expected);
}

#[test]
fn columns_keeps_only_the_named_columns() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("export.csv", EXPORT);
    let extra = ["--instance-id", "inst", "--columns", "Customer Tier,Plan", "--rename", "Customer Tier=Tier"];
    run(&scratch, &handle, &extra, &["export.csv"]).assert_code(0);
    let mut expected = Contacts::new();
    expected.insert(("inst".into(), "c-1".into()), attributes(&[("Tier", "Gold"), ("Plan", "Pro")]));
    expected.insert(("inst".into(), "c-2".into()), attributes(&[("Tier", "Silver")]));
    assert_state(&handle, &expected);
}

#[test]
fn columns_that_collide_after_sanitizing_are_a_usage_error_naming_both() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write("export.csv", "InitialContactId,Account.Status,Account Status\nc-1,a,b\n");
    let output = run(&scratch, &handle, &["--instance-id", "inst", "--sanitize-keys"], &["export.csv"]);
    output.assert_code(2);
    assert!(
        output.stderr.contains(
            "columns \"Account.Status\" and \"Account Status\" would both become attribute \"Account_Status\""
        ),
        "{}",
        output.stderr
    );
    assert_eq!(handle.stats().requests, 0);
}

#[test]
fn long_keys_are_renamed_and_sanitized_too() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    scratch.write(
        "long.csv",
        "InitialContactId,Key,Value\nc-1,Customer Tier,Gold\nc-1,Account.Status,open\nc-1,Email,x\n",
    );
    let extra =
        ["--instance-id", "inst", "--rename", "Customer Tier=Tier", "--sanitize-keys", "--exclude-columns", "Email"];
    run(&scratch, &handle, &extra, &["long.csv"]).assert_code(0);
    let mut expected = Contacts::new();
    expected.insert(("inst".into(), "c-1".into()), attributes(&[("Tier", "Gold"), ("Account_Status", "open")]));
    assert_state(&handle, &expected);
}

#[test]
fn instance_arns_are_accepted_in_the_flag_and_the_column() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let arn = |id: &str| format!("arn:aws:connect:us-east-1:123456789012:instance/{id}");
    let text = format!("InstanceId,InitialContactId,Tier\n{},c-1,Gold\n,c-2,Silver\n", arn("inst-a"));
    scratch.write("in.csv", text);
    run(&scratch, &handle, &["--instance-id", &arn("inst-b")], &["in.csv"]).assert_code(0);
    let mut expected = Contacts::new();
    expected.insert(("inst-a".into(), "c-1".into()), attributes(&[("Tier", "Gold")]));
    expected.insert(("inst-b".into(), "c-2".into()), attributes(&[("Tier", "Silver")]));
    assert_state(&handle, &expected);
}

#[test]
fn an_arn_of_another_region_is_refused_naming_both_regions() {
    let handle = emulator(Config::default());
    let scratch = Scratch::new();
    let arn = "arn:aws:connect:eu-west-2:123456789012:instance/inst-a";
    scratch.write("in.csv", "InitialContactId,Tier\nc-1,Gold\n");
    let output = run(&scratch, &handle, &["--instance-id", arn], &["in.csv"]);
    output.assert_code(2);
    assert!(output.stderr.contains("eu-west-2") && output.stderr.contains("us-east-1"), "{}", output.stderr);
    // In the InstanceId column, the row is refused with the same message and the rest goes on.
    let scratch = Scratch::new();
    scratch.write("in.csv", format!("InstanceId,InitialContactId,Tier\n{arn},c-1,Gold\ninst,c-2,Silver\n"));
    let output = run(&scratch, &handle, &[], &["in.csv"]);
    output.assert_code(1);
    let errors = errors_csv(&scratch);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].lines, "in.csv:2");
    assert!(errors[0].message.contains("eu-west-2") && errors[0].message.contains("us-east-1"), "{errors:#?}");
}
