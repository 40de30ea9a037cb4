//! Where and how fast a run sends: the region, the endpoint and the credentials from the plan and
//! the AWS default chain, and the rate ceiling (`--rate N`, or the account's quota for `--rate auto`,
//! else the fallback `validate` plans with too). Resolved once, before the first row is read.

use crate::ceiling::{FALLBACK_BURST, FALLBACK_RATE};
use crate::cli::RateArg;
use crate::connect::credentials::{self, CredentialCache};
use crate::connect::quotas;
use crate::error::Error;
use crate::plan::{self, SendPlan};
use crate::send::ratelimit::Ceiling;
use std::sync::Arc;

/// Where and how fast to send, resolved from the plan and the AWS default chain.
pub struct Target {
    pub region: String,
    pub endpoint: String,
    pub credentials: Arc<CredentialCache>,
    pub ceiling: Option<Ceiling>,
}

pub async fn resolve(plan: &SendPlan) -> Result<Target, Error> {
    let (region, provider) = credentials::default_chain(plan.profile.as_deref(), plan.region.as_deref()).await;
    let region = region.ok_or_else(|| {
        Error::Config("no AWS region: pass --region, set AWS_REGION, or give the profile a region".into())
    })?;
    let provider = provider.ok_or_else(|| Error::Config("no AWS credentials provider could be set up".into()))?;
    let credentials = Arc::new(CredentialCache::new(provider));
    // Fail before reading a million rows if there are no credentials at all.
    credentials.get(std::time::SystemTime::now()).await?;
    let endpoint = plan.endpoint.clone().unwrap_or_else(|| plan::regional_endpoint(&region));
    plan::check_endpoint(&endpoint, plan.allow_insecure_endpoint)?;
    let ceiling = match plan.rate {
        RateArg::PerSecond(rate) => plan::ceiling(rate, plan.burst),
        RateArg::Auto => quota_ceiling(&region, &credentials, plan.burst).await,
    };
    Ok(Target { region, endpoint, credentials, ceiling: Some(ceiling) })
}

/// `--rate auto`: the account's quota, or 2/s burst 5 with a warning when it cannot be read.
async fn quota_ceiling(region: &str, credentials: &CredentialCache, burst: Option<u32>) -> Ceiling {
    let endpoint = quotas::endpoint(region, &|name| std::env::var(name).ok());
    match quotas::update_contact_attributes_rate(&endpoint, region, credentials).await {
        Ok(rate) => {
            let ceiling = plan::ceiling(rate, burst);
            tracing::info!("the account's quota {:?} is {rate}/s: using burst {}", quotas::QUOTA_NAME, ceiling.burst);
            ceiling
        }
        Err(err) => {
            let ceiling = plan::ceiling(FALLBACK_RATE, Some(burst.unwrap_or(FALLBACK_BURST)));
            tracing::warn!(
                "cannot read the account's quota ({err}): sending at {}/s burst {}. Pass --rate N --burst B with your account's quota for UpdateContactAttributes to go faster",
                ceiling.rate,
                ceiling.burst
            );
            ceiling
        }
    }
}

pub fn describe_ceiling(ceiling: Option<Ceiling>) -> String {
    match ceiling {
        Some(c) => format!("at most {}/s, burst {}", c.rate, c.burst),
        None => "with no rate ceiling".to_string(),
    }
}
