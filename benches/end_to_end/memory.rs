//! Reading and merging at scale (P1 and issue 5): `validate` over a generated wide export of 10M
//! rows (~1.3 GB), unsorted and sorted by contact, at the default `--memory-limit`, against the
//! parsing floor over the same file measured in the same run. Each side runs five times,
//! alternating. A time is judged on two ratios, and must meet the target on both: the ratio of the
//! medians, and the median of each round's ratio (a round is one floor run and the `validate` run
//! right after it, so a slow spell of the shared machine that covers both cancels out). Peak RSS:
//! the highest of the runs.

use crate::harness::{self, Export, Target, megabytes, print_row, seconds};

pub const SCENARIOS: [&str; 3] = ["p1", "unsorted", "sorted"];

/// Rows and contacts: the real size, or a smoke size for `cargo test`.
fn export(smoke: bool, sorted: bool) -> Export {
    let (rows, contacts) = if smoke { (20_000, 4_000) } else { (10_000_000, 2_000_000) };
    Export { rows, contacts, sorted, seed: 2026 }
}

/// `connect-attrs validate` on `path` with the default budget, its temp files under the data dir.
fn validate(name: &str, path: &std::path::Path) -> harness::Measured {
    let temp = harness::data_dir().join("tmp");
    std::fs::create_dir_all(&temp).expect("create the temp dir");
    let args = [
        "validate".to_string(),
        "-q".into(),
        "--run-dir".into(),
        harness::run_dir(name).display().to_string(),
        "--temp-dir".into(),
        temp.display().to_string(),
        path.display().to_string(),
    ];
    let measured = harness::run_measured(&args);
    assert_eq!(measured.exit_code, 0, "validate {} failed: {measured:?}", path.display());
    measured
}

/// Each scenario runs the floor and `validate` this many times, alternating, and is judged on
/// medians: the machines are shared, and one slow run of either side would decide a ratio alone.
const REPEATS: usize = 5;

/// What the runs over one file measured.
struct Measure {
    /// Median floor and median `validate` wall time.
    floor: std::time::Duration,
    wall: std::time::Duration,
    /// The median of the rounds' ratios (`validate` over the floor run just before it).
    paired: f64,
    max_rss: u64,
}

impl Measure {
    /// `validate`'s time over the floor's: the larger of the two ratios, so a target is met only
    /// when both meet it.
    fn ratio(&self) -> f64 {
        (self.wall.as_secs_f64() / self.floor.as_secs_f64()).max(self.paired)
    }

    fn reference(&self) -> String {
        let of_medians = self.wall.as_secs_f64() / self.floor.as_secs_f64();
        format!("floor {} ({of_medians:.2}/{:.2})", seconds(self.floor), self.paired)
    }
}

/// The floor and `validate` over `path`, alternately.
fn measure(name: &str, path: &std::path::Path, smoke: bool) -> Measure {
    let repeats = if smoke { 1 } else { REPEATS };
    let (mut floors, mut runs, mut rows) = (Vec::new(), Vec::<harness::Measured>::new(), 0);
    for _ in 0..repeats {
        let (floor, counted) = harness::parse_floor(path);
        floors.push(floor);
        rows = counted;
        runs.push(validate(name, path));
    }
    let shown = |d: &[std::time::Duration]| d.iter().map(|d| seconds(*d)).collect::<Vec<_>>().join(", ");
    let mut walls: Vec<_> = runs.iter().map(|m| m.wall).collect();
    let mut paired: Vec<f64> = floors.iter().zip(&walls).map(|(f, w)| w.as_secs_f64() / f.as_secs_f64()).collect();
    let ratios = paired.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ");
    println!("{name}: floor runs {}; validate runs {}; each round's ratio {ratios}", shown(&floors), shown(&walls));
    floors.sort();
    walls.sort();
    paired.sort_by(f64::total_cmp);
    let floor = floors[floors.len() / 2];
    println!(
        "{name} export: {rows} rows, {}, median parsing floor {} (ratios below: of the medians / median of the rounds)",
        megabytes(file_len(path)),
        seconds(floor)
    );
    Measure {
        floor,
        wall: walls[walls.len() / 2],
        paired: paired[paired.len() / 2],
        max_rss: runs.iter().map(|m| m.max_rss).max().unwrap_or(0),
    }
}

/// Runs the chosen scenarios; returns whether every target was met.
pub fn run(chosen: &[String], smoke: bool) -> bool {
    let wants = |name: &str| chosen.is_empty() || chosen.iter().any(|c| c == name);
    let mut all_met = true;
    if wants("p1") || wants("unsorted") {
        let path = export(smoke, false).generate();
        let measured = measure("unsorted", &path, smoke);
        if wants("p1") {
            all_met &= print_row(
                "P1 validate speed vs floor",
                &seconds(measured.wall),
                &measured.reference(),
                1.0 / measured.ratio(),
                Target::AtLeast(0.5),
                smoke,
            );
        }
        if wants("unsorted") {
            all_met &= print_row(
                "unsorted: time vs floor",
                &seconds(measured.wall),
                &measured.reference(),
                measured.ratio(),
                Target::AtMost(3.0),
                smoke,
            );
            let rss = measured.max_rss as f64 / 300e6;
            all_met &= print_row(
                "unsorted: peak RSS vs 300 MB",
                &megabytes(measured.max_rss),
                "300 MB",
                rss,
                Target::AtMost(1.0),
                smoke,
            );
        }
    }
    if wants("sorted") {
        let path = export(smoke, true).generate();
        let measured = measure("sorted", &path, smoke);
        all_met &= print_row(
            "sorted: time vs floor",
            &seconds(measured.wall),
            &measured.reference(),
            measured.ratio(),
            Target::AtMost(1.5),
            smoke,
        );
        let rss = measured.max_rss as f64 / 64e6;
        all_met &= print_row(
            "sorted: peak RSS vs 64 MB",
            &megabytes(measured.max_rss),
            "64 MB",
            rss,
            Target::AtMost(1.0),
            smoke,
        );
    }
    all_met
}

fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
