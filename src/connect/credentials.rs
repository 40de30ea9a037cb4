//! Credentials from the AWS default chain (environment, shared config and credentials files with
//! a profile, SSO, web identity, container and instance metadata), through aws-config.
//!
//! Outside the SDK the provider neither caches nor refreshes, so this keeps the current
//! credentials and fetches new ones when they are within `REFRESH_BEFORE` of expiring, or when the
//! service says they expired. One refresh at a time; everyone else waits for its result.
//!
//! The cache hands out `Arc<Credentials>`: cloning `Credentials` itself copies its property map
//! (a new `HashMap` and its hasher's keys), and doing that for every request was 2% of the
//! client's CPU at full speed.

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// Refresh this long before the credentials expire (the SDKs use a few minutes too).
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, thiserror::Error)]
#[error(
    "no AWS credentials: {0}. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, or run where a role is available"
)]
pub struct CredentialsError(String);

pub struct CredentialCache {
    provider: SharedCredentialsProvider,
    current: RwLock<Option<Arc<Credentials>>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for CredentialCache {
    // Never print the credentials themselves.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache").finish_non_exhaustive()
    }
}

impl CredentialCache {
    pub fn new(provider: SharedCredentialsProvider) -> CredentialCache {
        CredentialCache { provider, current: RwLock::new(None), refreshing: tokio::sync::Mutex::new(()) }
    }

    /// Fixed credentials (tests, the emulator quick start).
    pub fn fixed(credentials: Credentials) -> CredentialCache {
        CredentialCache::new(SharedCredentialsProvider::new(credentials))
    }

    /// Current credentials, fetched first if there are none or they expire soon.
    pub async fn get(&self, now: SystemTime) -> Result<Arc<Credentials>, CredentialsError> {
        if let Some(fresh) = self.fresh(now) {
            return Ok(fresh);
        }
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(fresh) = self.fresh(now) {
            return Ok(fresh);
        }
        self.fetch().await
    }

    /// The service said `used` expired: fetch new ones unless someone already did.
    pub async fn refresh_after(&self, used: &Credentials) -> Result<Arc<Credentials>, CredentialsError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let current = self.current.read().ok().and_then(|c| c.clone());
        match current {
            Some(current) if !same(&current, used) => Ok(current),
            _ => self.fetch().await,
        }
    }

    fn fresh(&self, now: SystemTime) -> Option<Arc<Credentials>> {
        let current = self.current.read().ok()?.clone()?;
        match current.expiry() {
            Some(expiry) if expiry <= now + REFRESH_BEFORE => None,
            _ => Some(current),
        }
    }

    async fn fetch(&self) -> Result<Arc<Credentials>, CredentialsError> {
        let credentials = self.provider.provide_credentials().await.map_err(|e| CredentialsError(describe(&e)))?;
        let credentials = Arc::new(credentials);
        if let Ok(mut current) = self.current.write() {
            *current = Some(credentials.clone());
        }
        tracing::debug!(expiry = ?credentials.expiry(), "fetched AWS credentials");
        Ok(credentials)
    }
}

/// The region and credentials provider of the AWS default chain, as the SDKs resolve them:
/// `region` (from `--region`) wins over `AWS_REGION` and the profile's region.
pub async fn default_chain(
    profile: Option<&str>,
    region: Option<&str>,
) -> (Option<String>, Option<SharedCredentialsProvider>) {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    let config = loader.load().await;
    (config.region().map(|r| r.to_string()), config.credentials_provider())
}

fn same(a: &Credentials, b: &Credentials) -> bool {
    a.access_key_id() == b.access_key_id()
        && a.secret_access_key() == b.secret_access_key()
        && a.session_token() == b.session_token()
}

/// The error and its causes on one line (the provider errors nest the useful part).
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::future::ProvideCredentials as Future;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicU32>,
        lifetime: Duration,
        start: SystemTime,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> Future<'a>
        where
            Self: 'a,
        {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let expiry = self.start + self.lifetime;
            Future::ready(Ok(Credentials::new(format!("AKID{n}"), "secret", Some("token".into()), Some(expiry), "t")))
        }
    }

    fn cache(lifetime: Duration, start: SystemTime) -> (CredentialCache, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let provider = Counting { calls: calls.clone(), lifetime, start };
        (CredentialCache::new(SharedCredentialsProvider::new(provider)), calls)
    }

    #[tokio::test]
    async fn caches_until_near_expiry_then_refreshes() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let (cache, calls) = cache(Duration::from_secs(3600), start);
        cache.get(start).await.unwrap();
        cache.get(start + Duration::from_secs(60)).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Within five minutes of expiry: fetched again.
        cache.get(start + Duration::from_secs(3600 - 200)).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn refresh_after_expired_fetches_once() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let (cache, calls) = cache(Duration::from_secs(3600), start);
        let used = cache.get(start).await.unwrap();
        let fresh = cache.refresh_after(&used).await.unwrap();
        assert_ne!(fresh.access_key_id(), used.access_key_id());
        // A second task reporting the same stale credentials gets the fresh ones, no new fetch.
        let again = cache.refresh_after(&used).await.unwrap();
        assert_eq!(again.access_key_id(), fresh.access_key_id());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let cache = CredentialCache::fixed(Credentials::new("AKID", "very-secret", None, None, "t"));
        assert!(!format!("{cache:?}").contains("very-secret"));
    }
}
