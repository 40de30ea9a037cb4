//! Credentials from the AWS default chain (environment, shared config and credentials files with
//! a profile, SSO, web identity, container and instance metadata), through aws-config.
//!
//! Outside the SDK the provider neither caches nor refreshes, so this keeps the current
//! credentials and fetches new ones when they are within `REFRESH_BEFORE` of expiring, or when the
//! service says they expired. One refresh at a time; everyone else waits for its result.
//!
//! A provider may hand back the same soon-to-expire credentials (a cached STS or SSO session, a
//! metadata endpoint that has not rotated yet): while they last, they are used, and asked for again
//! at most every `REFRESH_RETRY`. (Fetching before every request ran a slow `credential_process`
//! once per contact and held sending to its pace.) Only credentials about to expire (`LAST_USE`)
//! wait for a fetch.
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
/// Within `REFRESH_BEFORE`, ask the provider again at most this often.
const REFRESH_RETRY: Duration = Duration::from_secs(30);
/// Credentials this close to expiring are not used: a request signed now must still be valid when
/// it arrives, and retried.
const LAST_USE: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
#[error(
    "no AWS credentials: {0}. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, or run where a role is available"
)]
pub struct CredentialsError(String);

pub struct CredentialCache {
    provider: SharedCredentialsProvider,
    current: RwLock<Option<Held>>,
    refreshing: tokio::sync::Mutex<()>,
}

/// The credentials in use, and when the provider was last asked for them.
#[derive(Clone)]
struct Held {
    credentials: Arc<Credentials>,
    asked_at: SystemTime,
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
        match self.fetch(now).await {
            Ok(fetched) => Ok(fetched),
            // A failed refresh while the old credentials still last: use them, ask again later.
            Err(err) => match self.usable(now) {
                Some(usable) => {
                    tracing::warn!(
                        "cannot refresh the AWS credentials, using the current ones until they expire: {err}"
                    );
                    Ok(usable)
                }
                None => Err(err),
            },
        }
    }

    /// The service said `used` expired: fetch new ones unless someone already did.
    pub async fn refresh_after(&self, used: &Credentials) -> Result<Arc<Credentials>, CredentialsError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let current = self.held();
        match current {
            Some(current) if !same(&current.credentials, used) => Ok(current.credentials),
            _ => self.fetch(SystemTime::now()).await,
        }
    }

    fn held(&self) -> Option<Held> {
        self.current.read().ok()?.clone()
    }

    /// The current credentials, unless they expire soon and the provider may have new ones.
    fn fresh(&self, now: SystemTime) -> Option<Arc<Credentials>> {
        let held = self.held()?;
        let Some(expiry) = held.credentials.expiry() else { return Some(held.credentials) };
        let asked_lately = now < held.asked_at + REFRESH_RETRY;
        (expiry > now + REFRESH_BEFORE || (asked_lately && expiry > now + LAST_USE)).then_some(held.credentials)
    }

    /// The current credentials if they can still sign a request; they count as asked for now.
    fn usable(&self, now: SystemTime) -> Option<Arc<Credentials>> {
        let mut current = self.current.write().ok()?;
        let held = current.as_mut()?;
        held.asked_at = now;
        held.credentials.expiry().is_none_or(|expiry| expiry > now + LAST_USE).then(|| held.credentials.clone())
    }

    async fn fetch(&self, now: SystemTime) -> Result<Arc<Credentials>, CredentialsError> {
        let credentials = self.provider.provide_credentials().await.map_err(|e| CredentialsError(describe(&e)))?;
        let credentials = Arc::new(credentials);
        if let Ok(mut current) = self.current.write() {
            *current = Some(Held { credentials: credentials.clone(), asked_at: now });
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

    /// A provider that keeps handing back credentials expiring in 4 minutes: they are used, and
    /// asked for again every 30 s, not before every request.
    #[tokio::test]
    async fn credentials_that_stay_near_expiry_are_not_fetched_for_every_request() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let (cache, calls) = cache(Duration::from_secs(240), start);
        for second in 0..60 {
            cache.get(start + Duration::from_secs(second)).await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2, "at 0 s and 30 s");
        // Fifteen seconds before expiry they are no longer used: every get asks.
        cache.get(start + Duration::from_secs(230)).await.unwrap();
        cache.get(start + Duration::from_secs(231)).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[derive(Debug)]
    struct FailsAfterFirst {
        calls: Arc<AtomicU32>,
        expiry: SystemTime,
    }

    impl ProvideCredentials for FailsAfterFirst {
        fn provide_credentials<'a>(&'a self) -> Future<'a>
        where
            Self: 'a,
        {
            if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Future::ready(Ok(Credentials::new("AKID", "secret", None, Some(self.expiry), "t")))
            } else {
                Future::ready(Err(aws_credential_types::provider::error::CredentialsError::not_loaded("down")))
            }
        }
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_credentials_that_still_last() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let calls = Arc::new(AtomicU32::new(0));
        let provider = FailsAfterFirst { calls: calls.clone(), expiry: start + Duration::from_secs(120) };
        let cache = CredentialCache::new(SharedCredentialsProvider::new(provider));
        cache.get(start).await.unwrap();
        assert!(cache.get(start + Duration::from_secs(40)).await.is_ok(), "still valid for 80 s");
        assert!(cache.get(start + Duration::from_secs(50)).await.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 2, "one failed refresh, not one per request");
        assert!(cache.get(start + Duration::from_secs(110)).await.is_err(), "expiring in 10 s");
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
