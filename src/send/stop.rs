//! Why and when a run stops early. Whoever notices (a systemic error, later a signal or the
//! deadline) records one reason; intake stops, waiting tasks wake up, and `lib` maps the reason to
//! the exit code.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Nothing will work until a person fixes something (credentials, instance, region): exit 2.
    Fatal(String),
    /// Asked to stop (signal, deadline): exit 3, resumable.
    Requested(String),
}

#[derive(Debug, Default)]
pub struct Stop {
    stopped: AtomicBool,
    /// Past the grace period (or a second signal): requests in flight are abandoned too.
    aborted: AtomicBool,
    reason: Mutex<Option<StopReason>>,
    notify: Notify,
}

impl Stop {
    /// Records the reason unless one is already recorded (the first one explains the stop).
    pub fn stop(&self, reason: StopReason) {
        if let Ok(mut slot) = self.reason.lock()
            && slot.is_none()
        {
            *slot = Some(reason);
        }
        self.stopped.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    pub fn reason(&self) -> Option<StopReason> {
        self.reason.lock().ok().and_then(|r| r.clone())
    }

    /// Stops at once: requests in flight are abandoned (their contacts go to the retry file).
    pub fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
        self.stopped.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// Resolves once the run is aborted.
    pub async fn aborted(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_aborted() {
                return;
            }
            notified.await;
        }
    }

    /// Resolves once the run is stopped.
    pub async fn stopped(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_reason_wins() {
        let stop = Stop::default();
        assert!(!stop.is_stopped());
        stop.stop(StopReason::Fatal("bad key".into()));
        stop.stop(StopReason::Requested("SIGTERM".into()));
        assert!(stop.is_stopped());
        assert_eq!(stop.reason(), Some(StopReason::Fatal("bad key".into())));
    }

    #[tokio::test]
    async fn waiters_wake_on_stop() {
        let stop = std::sync::Arc::new(Stop::default());
        let waiter = tokio::spawn({
            let stop = stop.clone();
            async move { stop.stopped().await }
        });
        tokio::task::yield_now().await;
        stop.stop(StopReason::Requested("test".into()));
        waiter.await.unwrap();
    }
}
