//! When a run stops before its end, other than for a systemic error: SIGINT or SIGTERM, `--deadline`
//! or `--max-duration`. Intake stops at once; requests in flight get `--grace` to finish; a second
//! signal (or the end of the grace period) abandons them. Everything is then flushed and the run
//! exits 3 with its resume command.

use crate::send::stop::{Stop, StopReason};
use std::sync::Arc;
use std::time::Duration;
use time::{OffsetDateTime, PrimitiveDateTime, Time};

#[derive(Debug, thiserror::Error)]
#[error("{flag} {value:?}: {why}")]
pub struct WhenError {
    flag: &'static str,
    value: String,
    why: &'static str,
}

/// `--deadline`: a time of day `HH:MM[:SS]` (UTC, its next occurrence) or an RFC 3339 moment.
/// Returns how long from `now` until then.
pub fn parse_deadline(value: &str, now: OffsetDateTime) -> Result<Duration, WhenError> {
    let error = |why| WhenError { flag: "--deadline", value: value.to_string(), why };
    if let Ok(at) = OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339) {
        let left = at - now;
        return if left.is_positive() {
            Ok(Duration::from_secs_f64(left.as_seconds_f64()))
        } else {
            Err(error("that moment has passed"))
        };
    }
    let formats = [
        time::macros::format_description!("[hour]:[minute]:[second]"),
        time::macros::format_description!("[hour]:[minute]"),
    ];
    let time_of_day = formats
        .iter()
        .find_map(|f| Time::parse(value, f).ok())
        .ok_or_else(|| error("expected HH:MM[:SS] (UTC) or an RFC 3339 time such as 2026-11-26T06:00:00+01:00"))?;
    let today = PrimitiveDateTime::new(now.date(), time_of_day).assume_utc();
    let at = if today > now { today } else { today + time::Duration::days(1) };
    Ok(Duration::from_secs_f64((at - now).as_seconds_f64()))
}

/// `--max-duration`: `6h`, `90m`, `1h30m`, `45s`, or a plain number of seconds.
pub fn parse_duration(value: &str) -> Result<Duration, WhenError> {
    let error = |why| WhenError { flag: "--max-duration", value: value.to_string(), why };
    if let Ok(seconds) = value.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in value.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' | 'm' | 's' | 'd' => {
                let n: u64 = number.parse().map_err(|_| error("expected a number before each unit"))?;
                total += n * match c {
                    'd' => 86_400,
                    'h' => 3_600,
                    'm' => 60,
                    _ => 1,
                };
                number.clear();
            }
            _ => return Err(error("expected a duration such as 6h, 90m, 1h30m or 45s")),
        }
    }
    if !number.is_empty() || total == 0 {
        return Err(error("expected a duration such as 6h, 90m, 1h30m or 45s"));
    }
    Ok(Duration::from_secs(total))
}

/// When a run stops of itself: after `after`, because of the flag named `flag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLimit {
    pub after: Duration,
    /// `--deadline` or `--max-duration`: what the stop message names.
    pub flag: &'static str,
}

/// The sooner of `--deadline` and `--max-duration`, from `started_at`, named by its flag.
pub fn time_limit(
    deadline: Option<&str>,
    max_duration: Option<&str>,
    started_at: time::OffsetDateTime,
) -> Result<Option<TimeLimit>, WhenError> {
    let deadline = deadline.map(|d| parse_deadline(d, started_at)).transpose()?;
    let max = max_duration.map(parse_duration).transpose()?;
    let limits = [(deadline, "--deadline"), (max, "--max-duration")];
    Ok(limits.into_iter().filter_map(|(after, flag)| Some(TimeLimit { after: after?, flag })).min_by_key(|l| l.after))
}

/// Watches for the signals and the time limit of a run; ends when the run is aborted.
pub async fn watch(stop: Arc<Stop>, limit: Option<TimeLimit>, grace: Duration) {
    let stopped = {
        let stop = stop.clone();
        async move {
            tokio::select! {
                reason = signal() => {
                    tracing::warn!("{reason}: finishing the requests in flight (up to {grace:?}), then stopping; a second signal stops at once");
                    stop.stop(StopReason::Requested(format!("{reason} received")));
                }
                _ = sleep_opt(limit.map(|l| l.after)) => {
                    let flag = limit.map_or("the time limit", |l| l.flag);
                    tracing::warn!("{flag} reached: finishing the requests in flight (up to {grace:?}), then stopping");
                    stop.stop(StopReason::Requested(format!("{flag} reached")));
                }
                _ = stop.stopped() => {}
            }
        }
    };
    stopped.await;
    tokio::select! {
        reason = signal() => tracing::warn!("{reason} again: stopping now"),
        _ = tokio::time::sleep(grace) => {
            if !stop.is_aborted() {
                tracing::warn!("grace period over: abandoning the requests still in flight");
            }
        }
        _ = stop.aborted() => {}
    }
    stop.abort();
}

/// Ends the reading of the inputs (`cancel`) once the run is stopped, or with `abort` only once
/// it is aborted (a second signal).
pub async fn cancel_reading(stop: Arc<Stop>, abort: bool, cancel: crate::input::Cancel) {
    if abort {
        stop.aborted().await;
    } else {
        stop.stopped().await;
    }
    cancel.cancel();
}

async fn sleep_opt(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}

/// The next SIGINT or SIGTERM, by name.
async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
            (Ok(mut interrupt), Ok(mut terminate)) => tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(_) => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn deadline_time_of_day_is_its_next_occurrence_in_utc() {
        let now = datetime!(2026-11-25 22:00 UTC);
        assert_eq!(parse_deadline("23:30", now).unwrap(), Duration::from_secs(90 * 60));
        assert_eq!(parse_deadline("06:00", now).unwrap(), Duration::from_secs(8 * 3600));
        assert_eq!(parse_deadline("22:00:30", now).unwrap(), Duration::from_secs(30));
        assert_eq!(parse_deadline("22:00", now).unwrap(), Duration::from_secs(24 * 3600));
    }

    #[test]
    fn deadline_rfc3339_with_offset() {
        let now = datetime!(2026-11-25 22:00 UTC);
        assert_eq!(parse_deadline("2026-11-26T06:00:00+01:00", now).unwrap(), Duration::from_secs(7 * 3600));
        assert!(parse_deadline("2026-11-25T21:00:00Z", now).is_err());
        assert!(parse_deadline("tomorrow", now).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("6h").unwrap(), Duration::from_secs(6 * 3600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("45s").unwrap(), Duration::from_secs(45));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("6").is_ok());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("1h30").is_err());
    }

    #[test]
    fn the_sooner_time_limit_is_kept_with_its_flag() {
        let now =
            OffsetDateTime::parse("2026-11-27T01:00:00Z", &time::format_description::well_known::Rfc3339).unwrap();
        let limit = time_limit(Some("2026-11-27T03:00:00Z"), Some("1h"), now).unwrap().unwrap();
        assert_eq!((limit.after, limit.flag), (Duration::from_secs(3600), "--max-duration"));
        let limit = time_limit(Some("2026-11-27T01:30:00Z"), Some("1h"), now).unwrap().unwrap();
        assert_eq!((limit.after, limit.flag), (Duration::from_secs(1800), "--deadline"));
        assert_eq!(time_limit(None, None, now).unwrap(), None);
        assert!(time_limit(None, Some("5x"), now).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_stops_then_grace_aborts() {
        let stop = Arc::new(Stop::default());
        let limit = TimeLimit { after: Duration::from_secs(60), flag: "--max-duration" };
        let watcher = tokio::spawn(watch(stop.clone(), Some(limit), Duration::from_secs(10)));
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert!(stop.is_stopped());
        assert!(!stop.is_aborted());
        assert_eq!(stop.reason(), Some(StopReason::Requested("--max-duration reached".into())));
        tokio::time::sleep(Duration::from_secs(10)).await;
        watcher.await.unwrap();
        assert!(stop.is_aborted());
    }
}
