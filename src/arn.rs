//! Instance ARNs: `--instance-id` and the InstanceId column accept
//! `arn:aws:connect:REGION:ACCOUNT:instance/ID` as well as the bare id, since the console and
//! CloudFormation hand out the ARN. The id is what the API takes; the region must be the run's.

use std::borrow::Cow;

/// The parts of an Amazon Connect instance ARN that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceArn<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub id: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    #[error("{arn:?} is not an Amazon Connect instance ARN: expected arn:aws:connect:REGION:ACCOUNT:instance/ID")]
    Malformed { arn: String },
    #[error(
        "instance ARN {arn} is in region {arn_region} but this run uses region {run_region}: pass --region {arn_region}, or use an instance of {run_region}"
    )]
    RegionMismatch { arn: String, arn_region: String, run_region: String },
}

/// Parses an instance ARN; `None` when `text` is not an ARN at all (a bare instance id).
pub fn parse(text: &str) -> Result<Option<InstanceArn<'_>>, ArnError> {
    if !text.starts_with("arn:") {
        return Ok(None);
    }
    let malformed = || ArnError::Malformed { arn: text.to_string() };
    let mut parts = text.splitn(6, ':');
    let (_arn, partition, service) = (parts.next(), parts.next(), parts.next());
    let (region, account, resource) = (parts.next(), parts.next(), parts.next());
    let (Some(partition), Some("connect"), Some(region), Some(account), Some(resource)) =
        (partition, service, region, account, resource)
    else {
        return Err(malformed());
    };
    let id = resource.strip_prefix("instance/").ok_or_else(malformed)?;
    let fine = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !partition.starts_with("aws") || !fine(region) || !fine(account) || !fine(id) {
        return Err(malformed());
    }
    Ok(Some(InstanceArn { region, account, id }))
}

/// The instance id `text` names: itself, or the id of an instance ARN whose region is
/// `run_region` (not checked when the run's region is not known).
pub fn instance_id<'a>(text: &'a str, run_region: Option<&str>) -> Result<Cow<'a, str>, ArnError> {
    match parse(text)? {
        None => Ok(Cow::Borrowed(text)),
        Some(arn) => match run_region {
            Some(run) if run != arn.region => Err(ArnError::RegionMismatch {
                arn: text.to_string(),
                arn_region: arn.region.to_string(),
                run_region: run.to_string(),
            }),
            _ => Ok(Cow::Borrowed(arn.id)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:connect:eu-west-2:123456789012:instance/4b1c6f0e-1d2f-4a9b-9c1e-0123456789ab";

    #[test]
    fn an_instance_arn_gives_its_parts() {
        let arn = parse(ARN).unwrap().unwrap();
        assert_eq!(arn.region, "eu-west-2");
        assert_eq!(arn.account, "123456789012");
        assert_eq!(arn.id, "4b1c6f0e-1d2f-4a9b-9c1e-0123456789ab");
        assert!(parse("arn:aws-us-gov:connect:us-gov-west-1:123456789012:instance/abc").unwrap().is_some());
    }

    #[test]
    fn a_bare_id_is_not_an_arn() {
        assert_eq!(parse("4b1c6f0e-1d2f").unwrap(), None);
        assert_eq!(instance_id("4b1c6f0e-1d2f", Some("us-east-1")).unwrap(), "4b1c6f0e-1d2f");
    }

    #[test]
    fn other_arns_are_refused() {
        for text in [
            "arn:aws:s3:::bucket",
            "arn:aws:connect:eu-west-2:123456789012:instance/abc/contact-flow/def",
            "arn:aws:connect:eu-west-2:123456789012:instance/",
            "arn:aws:connect::123456789012:instance/abc",
            "arn:aws:connect:eu-west-2:123456789012:queue/abc",
            "arn:aws:connect:eu-west-2",
        ] {
            assert!(matches!(parse(text), Err(ArnError::Malformed { .. })), "{text}");
        }
    }

    #[test]
    fn region_must_be_the_runs() {
        assert_eq!(instance_id(ARN, Some("eu-west-2")).unwrap(), "4b1c6f0e-1d2f-4a9b-9c1e-0123456789ab");
        assert_eq!(instance_id(ARN, None).unwrap(), "4b1c6f0e-1d2f-4a9b-9c1e-0123456789ab");
        let err = instance_id(ARN, Some("us-east-1")).unwrap_err().to_string();
        assert!(err.contains("eu-west-2") && err.contains("us-east-1"), "{err}");
    }
}
