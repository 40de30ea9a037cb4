//! Injected trouble: latency with jitter, and a fraction of requests answered 500, answered 503,
//! or dropped without an answer. Draws come from seeded generators so a sequential run repeats.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Mutex;
use std::time::Duration;

/// What to do to one request instead of serving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without writing an answer.
    Drop,
    /// 500 InternalServiceException.
    Internal,
    /// 503 ServiceUnavailableException.
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fractions {
    pub drop: f64,
    pub fail_500: f64,
    pub fail_503: f64,
}

impl Fractions {
    fn any(&self) -> bool {
        self.drop > 0.0 || self.fail_500 > 0.0 || self.fail_503 > 0.0
    }
}

/// Maps a uniform draw in [0, 1) to a fault: the fractions are laid end to end.
pub fn pick(draw: f64, fractions: &Fractions) -> Option<Fault> {
    let mut edge = fractions.drop;
    if draw < edge {
        return Some(Fault::Drop);
    }
    edge += fractions.fail_500;
    if draw < edge {
        return Some(Fault::Internal);
    }
    edge += fractions.fail_503;
    (draw < edge).then_some(Fault::Unavailable)
}

pub struct Faults {
    fractions: Fractions,
    latency: Duration,
    jitter: Duration,
    /// Separate generators, so whether latency is configured does not change which requests fail.
    fault_rng: Mutex<StdRng>,
    jitter_rng: Mutex<StdRng>,
}

impl Faults {
    pub fn new(fractions: Fractions, latency: Duration, jitter: Duration, seed: u64) -> Faults {
        Faults {
            fractions,
            latency,
            jitter,
            fault_rng: Mutex::new(StdRng::seed_from_u64(seed)),
            jitter_rng: Mutex::new(StdRng::seed_from_u64(seed.wrapping_add(0x9E37_79B9_7F4A_7C15))),
        }
    }

    /// The delay before answering: latency plus a uniform draw in `0..=jitter`.
    pub fn delay(&self) -> Duration {
        if self.jitter.is_zero() {
            return self.latency;
        }
        let mut rng = self.jitter_rng.lock().unwrap_or_else(|p| p.into_inner());
        let extra = rng.random_range(0..=self.jitter.as_micros() as u64);
        self.latency + Duration::from_micros(extra)
    }

    pub fn draw(&self) -> Option<Fault> {
        if !self.fractions.any() {
            return None;
        }
        let draw: f64 = self.fault_rng.lock().unwrap_or_else(|p| p.into_inner()).random();
        pick(draw, &self.fractions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOME: Fractions = Fractions { drop: 0.1, fail_500: 0.2, fail_503: 0.3 };

    #[test]
    fn fractions_are_laid_end_to_end() {
        assert_eq!(pick(0.05, &SOME), Some(Fault::Drop));
        assert_eq!(pick(0.1, &SOME), Some(Fault::Internal));
        assert_eq!(pick(0.29, &SOME), Some(Fault::Internal));
        assert_eq!(pick(0.31, &SOME), Some(Fault::Unavailable));
        assert_eq!(pick(0.59, &SOME), Some(Fault::Unavailable));
        assert_eq!(pick(0.61, &SOME), None);
    }

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let run = |seed| {
            let faults = Faults::new(SOME, Duration::ZERO, Duration::ZERO, seed);
            (0..200).map(|_| faults.draw()).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn observed_fractions_are_close_to_the_configured_ones() {
        let faults = Faults::new(SOME, Duration::ZERO, Duration::ZERO, 1);
        let draws: Vec<_> = (0..20_000).map(|_| faults.draw()).collect();
        let share = |f| draws.iter().filter(|d| **d == Some(f)).count() as f64 / 20_000.0;
        assert!((share(Fault::Drop) - 0.1).abs() < 0.02);
        assert!((share(Fault::Internal) - 0.2).abs() < 0.02);
        assert!((share(Fault::Unavailable) - 0.3).abs() < 0.02);
    }

    #[test]
    fn delay_stays_within_latency_plus_jitter() {
        let faults = Faults::new(SOME, Duration::from_millis(10), Duration::from_millis(5), 3);
        for _ in 0..100 {
            let delay = faults.delay();
            assert!(delay >= Duration::from_millis(10) && delay <= Duration::from_millis(15), "{delay:?}");
        }
    }
}
