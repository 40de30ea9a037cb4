//! How long to wait before trying again, and how much retrying a run may do at all. As the AWS
//! SDKs do: full jitter over an exponential step capped at 20 s, and a run-wide retry budget so a
//! failing service is not hammered by a million contacts each retrying on their own.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per contact, counting the first (`--max-attempts`). Throttled attempts do not count.
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy { max_attempts: 5, base: Duration::from_secs(1), cap: Duration::from_secs(20) }
    }
}

impl RetryPolicy {
    /// The wait after `attempts` attempts have failed: `unit * min(base * 2^(attempts-1), cap)`,
    /// `unit` drawn uniformly from [0, 1).
    pub fn delay(&self, attempts: u32, unit: f64) -> Duration {
        let exponent = attempts.saturating_sub(1).min(30);
        let step = self.base.saturating_mul(1 << exponent).min(self.cap);
        step.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// The SDKs' retry quota: retries spend tokens, successes earn some back.
#[derive(Debug)]
pub struct RetryBudget {
    tokens: AtomicI64,
    /// Whether a retry was ever refused (the run says so once).
    ran_out: AtomicBool,
}

const INITIAL_TOKENS: i64 = 500;
const RETRY_COST: i64 = 5;
const TIMEOUT_COST: i64 = 10;
const SUCCESS_REFUND: i64 = 1;
/// Successes that earn back one retry, for messages.
pub const SUCCESSES_PER_RETRY: i64 = RETRY_COST / SUCCESS_REFUND;

impl Default for RetryBudget {
    fn default() -> RetryBudget {
        RetryBudget { tokens: AtomicI64::new(INITIAL_TOKENS), ran_out: AtomicBool::new(false) }
    }
}

impl RetryBudget {
    /// A budget of `tokens` (for tests that need more retries than the default allows).
    #[cfg(test)]
    pub fn with_tokens(tokens: i64) -> RetryBudget {
        RetryBudget { tokens: AtomicI64::new(tokens), ran_out: AtomicBool::new(false) }
    }

    /// Takes the cost of one retry; `false` when the budget is spent (do not retry).
    pub fn try_spend(&self, timeout: bool) -> bool {
        let cost = if timeout { TIMEOUT_COST } else { RETRY_COST };
        self.tokens.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| (t >= cost).then_some(t - cost)).is_ok()
    }

    /// After a refused retry: `true` the first time in the run only.
    pub fn first_time_out(&self) -> bool {
        !self.ran_out.swap(true, Ordering::AcqRel)
    }

    /// A success: earn back a little, up to the initial budget.
    pub fn on_success(&self) {
        let _ = self.tokens.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
            (t < INITIAL_TOKENS).then_some((t + SUCCESS_REFUND).min(INITIAL_TOKENS))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_with_full_jitter_and_a_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(policy.delay(2, 1.0), Duration::from_secs(2));
        assert_eq!(policy.delay(3, 0.5), Duration::from_secs(2));
        assert_eq!(policy.delay(10, 1.0), Duration::from_secs(20));
        assert_eq!(policy.delay(1, 0.0), Duration::ZERO);
        assert_eq!(policy.delay(40, 1.0), Duration::from_secs(20));
    }

    #[test]
    fn budget_runs_out_and_successes_refill_it() {
        let budget = RetryBudget::default();
        let retries = std::iter::from_fn(|| budget.try_spend(false).then_some(())).count();
        assert_eq!(retries, 100);
        assert!(!budget.try_spend(false));
        for _ in 0..5 {
            budget.on_success();
        }
        assert!(budget.try_spend(false));
        assert!(!budget.try_spend(false));
    }

    #[test]
    fn running_out_is_news_once() {
        let budget = RetryBudget::default();
        assert!(budget.first_time_out());
        assert!(!budget.first_time_out());
    }

    #[test]
    fn timeouts_cost_more() {
        let budget = RetryBudget::default();
        let retries = std::iter::from_fn(|| budget.try_spend(true).then_some(())).count();
        assert_eq!(retries, 50);
    }
}
