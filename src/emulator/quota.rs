//! The account's quota as a token bucket: `rate` tokens a second, holding at most `burst`. Time is
//! a parameter so tests drive it without sleeping.

use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(rate: f64, burst: u32, now: Instant) -> TokenBucket {
        let burst = f64::from(burst.max(1));
        TokenBucket { rate: rate.max(0.0), burst, tokens: burst, last: now }
    }

    /// Takes a token if one is available at `now`.
    pub fn try_take(&mut self, now: Instant) -> bool {
        // A `now` older than `last` (callers race to the lock) adds nothing.
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = self.last.max(now);
        // Refills accumulate in small float steps; do not let rounding withhold a whole token.
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }
}

/// The bucket shared by all connections; `None` admits everything.
#[derive(Debug, Default)]
pub struct Quota(Option<Mutex<TokenBucket>>);

impl Quota {
    pub fn new(rate: Option<f64>, burst: Option<u32>, now: Instant) -> Quota {
        Quota(rate.map(|rate| Mutex::new(TokenBucket::new(rate, burst.unwrap_or(1), now))))
    }

    pub fn admit(&self, now: Instant) -> bool {
        match &self.0 {
            None => true,
            Some(bucket) => bucket.lock().unwrap_or_else(|p| p.into_inner()).try_take(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_full_bucket_admits_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 3, t0);
        assert!((0..3).all(|_| bucket.try_take(t0)));
        assert!(!bucket.try_take(t0));
        // 10/s: one token every 100 ms.
        assert!(!bucket.try_take(t0 + Duration::from_millis(99)));
        assert!(bucket.try_take(t0 + Duration::from_millis(100)));
        assert!(!bucket.try_take(t0 + Duration::from_millis(150)));
        assert!(bucket.try_take(t0 + Duration::from_millis(200)));
    }

    #[test]
    fn idle_time_refills_no_more_than_the_burst() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(100.0, 5, t0);
        assert!((0..5).all(|_| bucket.try_take(t0)));
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| bucket.try_take(later)).count(), 5);
    }

    #[test]
    fn over_one_second_it_admits_rate_plus_burst() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(50.0, 50, t0);
        let admitted = (0..=1000).filter(|ms| bucket.try_take(t0 + Duration::from_millis(*ms))).count();
        assert_eq!(admitted, 100);
    }

    #[test]
    fn no_quota_admits_everything() {
        let quota = Quota::new(None, None, Instant::now());
        assert!((0..10_000).all(|_| quota.admit(Instant::now())));
    }
}
