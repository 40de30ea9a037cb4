//! Progress for people: an indicatif bar on a terminal; without one (cron, Kubernetes) a log
//! line every ten seconds instead, since a hidden bar prints nothing. Both show contacts done of
//! total, the current request rate against the ceiling, throttled and failed counts, and the ETA.
//!
//! The clock comes in through [`Progress::update_at`], and the text is built by pure functions,
//! so tests check what a line says without waiting for it.

use super::summary::Tally;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

const LOG_EVERY: Duration = Duration::from_secs(10);
/// The current rate is measured over this trailing window.
const RATE_WINDOW: Duration = Duration::from_secs(10);

pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    started: Instant,
    last_log: Instant,
    log_every: Duration,
    quiet: bool,
    /// (time, requests so far), oldest first, spanning at most `RATE_WINDOW`.
    samples: VecDeque<(Instant, u64)>,
}

/// What the line or bar shows besides the tally.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rates {
    pub requests: u64,
    pub throttled: u64,
    /// The adaptive limit, when throttling has lowered it under the ceiling.
    pub current_rate: Option<f64>,
    pub ceiling: Option<f64>,
}

impl Progress {
    /// A bar only when stderr is a terminal and not `-q`.
    pub fn new(total: u64, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style =
                ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {pos}/{len} contacts  {msg}  ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style.progress_chars("=> "));
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress::with_bar(bar, total, quiet, LOG_EVERY, Instant::now())
    }

    fn with_bar(bar: Option<ProgressBar>, total: u64, quiet: bool, log_every: Duration, now: Instant) -> Progress {
        Progress { bar, total, started: now, last_log: now, log_every, quiet, samples: VecDeque::new() }
    }

    pub fn bar(&self) -> Option<&ProgressBar> {
        self.bar.as_ref()
    }

    pub fn update(&mut self, tally: &Tally, rates: Rates) {
        if let Some(line) = self.update_at(tally, rates, Instant::now()) {
            tracing::info!(
                done = tally.done(),
                total = self.total,
                requests = rates.requests,
                throttled = rates.throttled,
                failed = tally.failed,
                "{line}"
            );
        }
    }

    /// Updates the bar, or returns the log line when one is due at `now`.
    pub fn update_at(&mut self, tally: &Tally, rates: Rates, now: Instant) -> Option<String> {
        let per_second = self.current_rate(rates.requests, now);
        let message = status(per_second, tally, rates);
        if let Some(bar) = &self.bar {
            bar.set_position(tally.done());
            bar.set_message(message);
            return None;
        }
        if self.quiet || now.duration_since(self.last_log) < self.log_every {
            return None;
        }
        self.last_log = now;
        let elapsed = now.duration_since(self.started).as_secs_f64();
        Some(log_line(tally.done(), self.total, &message, &eta(tally.done(), self.total, elapsed)))
    }

    /// Requests per second over the trailing window (since the start, early on).
    fn current_rate(&mut self, requests: u64, now: Instant) -> f64 {
        self.samples.push_back((now, requests));
        while self.samples.len() > 2 && self.samples.get(1).is_some_and(|(t, _)| now.duration_since(*t) >= RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        let (since, base) = match self.samples.front() {
            Some(&(t, r)) if t < now => (t, r),
            _ => (self.started, 0),
        };
        let span = now.duration_since(since).as_secs_f64();
        if span < 1e-3 { 0.0 } else { requests.saturating_sub(base) as f64 / span }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `9.8 req/s of 10.0/s ceiling, 3 throttled, 1 failed, 0 invalid`; when throttling has lowered
/// the adaptive limit, it shows too.
fn status(per_second: f64, tally: &Tally, rates: Rates) -> String {
    let rate = match (rates.current_rate, rates.ceiling) {
        (Some(now), Some(ceiling)) if now < ceiling => {
            format!("{per_second:.1} req/s (limit {now:.1} of {ceiling:.1}/s ceiling)")
        }
        (_, Some(ceiling)) => format!("{per_second:.1} req/s of {ceiling:.1}/s ceiling"),
        _ => format!("{per_second:.1} req/s"),
    };
    format!("{rate}, {} throttled, {} failed, {} invalid", rates.throttled, tally.failed, tally.invalid)
}

/// The line logged every ten seconds without a terminal.
fn log_line(done: u64, total: u64, status: &str, eta: &str) -> String {
    let percent = (done * 100).checked_div(total).unwrap_or(100);
    format!("progress: {done}/{total} contacts ({percent}%), {status}, ETA {eta}")
}

fn eta(done: u64, total: u64, elapsed: f64) -> String {
    if done == 0 || done >= total {
        return "-".to_string();
    }
    let seconds = ((total - done) as f64 * elapsed / done as f64) as u64;
    format!("{}h{:02}m{:02}s", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_extrapolates_the_pace_so_far() {
        assert_eq!(eta(100, 400, 10.0), "0h00m30s");
        assert_eq!(eta(0, 400, 10.0), "-");
        assert_eq!(eta(1, 7201, 1.0), "2h00m00s");
    }

    fn tally(updated: u64, failed: u64) -> Tally {
        Tally { contacts: updated + failed, updated, failed, ..Tally::default() }
    }

    #[test]
    fn the_status_shows_rate_against_ceiling_throttled_and_failed() {
        let rates = Rates { requests: 0, throttled: 3, current_rate: None, ceiling: Some(10.0) };
        assert_eq!(status(9.84, &tally(5, 1), rates), "9.8 req/s of 10.0/s ceiling, 3 throttled, 1 failed, 0 invalid");
        let lowered = Rates { current_rate: Some(7.0), ..rates };
        assert_eq!(
            status(6.9, &tally(5, 1), lowered),
            "6.9 req/s (limit 7.0 of 10.0/s ceiling), 3 throttled, 1 failed, 0 invalid"
        );
        let unlimited = Rates { ceiling: None, ..rates };
        assert!(status(1.0, &tally(0, 0), unlimited).starts_with("1.0 req/s, "));
    }

    #[test]
    fn without_a_terminal_a_line_is_logged_once_per_interval() {
        let start = Instant::now();
        let mut progress = Progress::with_bar(None, 400, false, LOG_EVERY, start);
        let rates = |requests| Rates { requests, throttled: 2, current_rate: None, ceiling: Some(10.0) };
        assert_eq!(progress.update_at(&tally(10, 0), rates(10), start + Duration::from_secs(1)), None);
        let line = progress.update_at(&tally(100, 0), rates(100), start + Duration::from_secs(10));
        assert_eq!(
            line.as_deref(),
            Some(
                "progress: 100/400 contacts (25%), 10.0 req/s of 10.0/s ceiling, 2 throttled, 0 failed, 0 invalid, ETA 0h00m30s"
            )
        );
        assert_eq!(progress.update_at(&tally(150, 0), rates(150), start + Duration::from_secs(15)), None);
        let next = progress.update_at(&tally(200, 1), rates(201), start + Duration::from_secs(20)).unwrap();
        assert!(next.starts_with("progress: 201/400 contacts (50%), 10.1 req/s"), "{next}");
        let mut quiet = Progress::with_bar(None, 400, true, LOG_EVERY, start);
        assert_eq!(quiet.update_at(&tally(1, 0), rates(1), start + Duration::from_secs(60)), None);
    }

    #[test]
    fn the_current_rate_forgets_what_is_older_than_the_window() {
        let start = Instant::now();
        let mut progress = Progress::with_bar(None, 1000, true, LOG_EVERY, start);
        let at = |s: u64| start + Duration::from_secs(s);
        for s in 1..=10 {
            progress.current_rate(s * 10, at(s));
        }
        // Then the pace drops to 2/s: after a window of it, the rate reads 2/s, not the average.
        let mut rate = 0.0;
        for s in 11..=30 {
            rate = progress.current_rate(100 + (s - 10) * 2, at(s));
        }
        assert!((rate - 2.0).abs() < 0.01, "{rate}");
    }
}
