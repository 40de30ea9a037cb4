//! Progress for people: an indicatif bar on a terminal; without one (cron, Kubernetes) a log
//! line every ten seconds instead, since a hidden bar prints nothing.

use super::summary::Tally;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

const LOG_EVERY: Duration = Duration::from_secs(10);

pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    started: Instant,
    last_log: Instant,
    quiet: bool,
}

/// What the line or bar shows besides the tally.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rates {
    pub requests: u64,
    pub throttled: u64,
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
        let now = Instant::now();
        Progress { bar, total, started: now, last_log: now, quiet }
    }

    pub fn bar(&self) -> Option<&ProgressBar> {
        self.bar.as_ref()
    }

    pub fn update(&mut self, tally: &Tally, rates: Rates) {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let per_second = rates.requests as f64 / elapsed;
        let rate = match (rates.current_rate, rates.ceiling) {
            (Some(now), Some(ceiling)) if now < ceiling => {
                format!("{per_second:.1} req/s (limit {now:.1} of {ceiling:.1}/s)")
            }
            (_, Some(ceiling)) => format!("{per_second:.1} req/s (ceiling {ceiling:.1}/s)"),
            _ => format!("{per_second:.1} req/s"),
        };
        let message =
            format!("{rate}, {} throttled, {} failed, {} invalid", rates.throttled, tally.failed, tally.invalid);
        if let Some(bar) = &self.bar {
            bar.set_position(tally.done());
            bar.set_message(message);
        } else if !self.quiet && self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            let eta = eta(tally.done(), self.total, elapsed);
            tracing::info!("progress: {}/{} contacts, {message}, ETA {eta}", tally.done(), self.total);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
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
    #[test]
    fn eta_extrapolates_the_pace_so_far() {
        assert_eq!(super::eta(100, 400, 10.0), "0h00m30s");
        assert_eq!(super::eta(0, 400, 10.0), "-");
        assert_eq!(super::eta(1, 7201, 1.0), "2h00m00s");
    }
}
