//! What every end-to-end scenario needs: a deterministic CRM-like export written under the target
//! directory, the parsing floor over a file, the `connect-attrs` binary run as a child with its
//! wall time and peak RSS, and one printed row per figure with its reference and verdict.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary cargo built for this bench (release under `cargo bench`, debug under `cargo test`),
/// set aside once: a shared target directory lets another checkout's build replace it mid-run.
/// A hard link keeps the built file even when cargo replaces it, and takes no disk; the copy is for
/// a file system without links.
pub fn binary() -> PathBuf {
    static COPY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    COPY.get_or_init(|| {
        let built = PathBuf::from(env!("CARGO_BIN_EXE_connect-attrs"));
        let copy = data_dir().join(format!("connect-attrs-{}", std::process::id()));
        let _ = std::fs::remove_file(&copy);
        if std::fs::hard_link(&built, &copy).is_err() {
            std::fs::copy(&built, &copy).expect("copy the binary aside");
        }
        let help = Command::new(&copy).args(["validate", "--help"]).output().expect("the binary runs");
        assert!(
            String::from_utf8_lossy(&help.stdout).contains("--memory-limit"),
            "{} was built from another checkout (no --memory-limit): run the bench again",
            built.display()
        );
        copy
    })
    .clone()
}

/// Removes the copy of the binary.
pub fn cleanup() {
    let _ = std::fs::remove_file(data_dir().join(format!("connect-attrs-{}", std::process::id())));
}

/// `$CARGO_TARGET_DIR/bench-data` (else `target/bench-data`): generated data stays out of the repo.
pub fn data_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("bench-data");
    std::fs::create_dir_all(&dir).expect("create the bench data directory");
    dir
}

/// A wide export: InstanceId, InitialContactId and eight attribute columns, `rows` rows over
/// `contacts` contacts. Unsorted: each row's contact is drawn at random (so a contact's rows are
/// far apart); sorted: rows come contact by contact, ids in increasing order.
#[derive(Debug, Clone, Copy)]
pub struct Export {
    pub rows: u64,
    pub contacts: u64,
    pub sorted: bool,
    pub seed: u64,
}

pub const INSTANCE: &str = "7c5d1a2e-3b4f-4a6b-9c8d-0e1f2a3b4c5d";
const TIERS: [&str; 4] = ["Gold", "Silver", "Bronze", ""];
const STATUSES: [&str; 4] = ["Open", "Closed", "Pending", "Escalated"];
const REGIONS: [&str; 5] = ["EMEA", "NA-East", "NA-West", "APAC", ""];

/// A small, fast, deterministic generator (PCG-style LCG, high bits).
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407))
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 32) * n) >> 32
    }
}

impl Export {
    pub fn path(&self) -> PathBuf {
        let order = if self.sorted { "sorted" } else { "unsorted" };
        data_dir().join(format!("wide-{}-{}-{order}-{}.csv", self.rows, self.contacts, self.seed))
    }

    /// Writes the file unless an earlier run left a complete one (its size is recorded beside it).
    pub fn generate(&self) -> PathBuf {
        let path = self.path();
        let done = path.with_extension("size");
        let size = std::fs::metadata(&path).map(|m| m.len()).ok();
        if size.is_some() && std::fs::read_to_string(&done).ok() == size.map(|s| s.to_string()) {
            return path;
        }
        let started = Instant::now();
        self.write(&path).expect("write the export");
        let size = std::fs::metadata(&path).expect("the export exists").len();
        std::fs::write(&done, size.to_string()).expect("record the export's size");
        eprintln!("generated {} ({:.2} GB) in {:.1?}", path.display(), size as f64 / 1e9, started.elapsed());
        path
    }

    fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        writeln!(out, "InstanceId,InitialContactId,Tier,Status,Region,Score,LastOrder,Segment,Agent,Note")?;
        let mut lcg = Lcg::new(self.seed);
        for row in 0..self.rows {
            let contact = if self.sorted { row * self.contacts / self.rows } else { lcg.below(self.contacts) };
            let pick = |lcg: &mut Lcg, list: &[&'static str]| list[lcg.below(list.len() as u64) as usize];
            let (tier, status, region) = (pick(&mut lcg, &TIERS), pick(&mut lcg, &STATUSES), pick(&mut lcg, &REGIONS));
            let score = lcg.below(1000);
            let (month, day) = (1 + lcg.below(12), 1 + lcg.below(28));
            let segment = lcg.below(50);
            let agent = lcg.below(400);
            writeln!(
                out,
                "{INSTANCE},{contact:08x}-{:04x}-4{:03x}-a{:03x}-{:012x},{tier},{status},{region},{score},2026-{month:02}-{day:02},seg-{segment},agent{agent},r{}",
                contact % 0xffff,
                contact % 0xfff,
                (contact / 7) % 0xfff,
                contact.wrapping_mul(2654435761) % 0xffff_ffff_ffff,
                row % 100
            )?;
        }
        out.flush()
    }
}

/// The parsing floor: a plain csv-crate loop counting records with one reused `ByteRecord`.
pub fn parse_floor(path: &Path) -> (Duration, u64) {
    let started = Instant::now();
    let mut reader = csv::ReaderBuilder::new().from_path(path).expect("open the export");
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    while reader.read_byte_record(&mut record).expect("read a record") {
        rows += 1;
    }
    (started.elapsed(), rows)
}

/// What one run of the binary cost.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub wall: Duration,
    /// Peak resident set of the child, in bytes.
    pub max_rss: u64,
    pub exit_code: i32,
}

/// Runs `connect-attrs ARGS...` with stdout and stderr discarded; wall time and peak RSS from
/// `wait4`, which reports the child's own `ru_maxrss` (kilobytes on Linux).
pub fn run_measured(args: &[String]) -> Measured {
    let started = Instant::now();
    // Reaped by wait4 below, which std does not know about.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .spawn()
        .expect("connect-attrs starts");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child's pid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: `status` and `usage` are valid for writes; the child has not been reaped yet.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 failed: {}", std::io::Error::last_os_error());
    let wall = started.elapsed();
    let exit_code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    Measured { wall, max_rss: usage.ru_maxrss as u64 * 1024, exit_code }
}

/// A fresh run directory for one scenario (the binary refuses to reuse one).
pub fn run_dir(name: &str) -> PathBuf {
    let dir = data_dir().join("runs").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().expect("runs/ has a parent")).expect("create runs/");
    dir
}

/// How a figure compares with its target.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// The ratio must be at most this.
    AtMost(f64),
    /// The ratio must be at least this.
    AtLeast(f64),
}

/// Prints `name  figure  reference  ratio  target: met|not met`; `smoke` runs judge nothing.
pub fn print_row(name: &str, figure: &str, reference: &str, ratio: f64, target: Target, smoke: bool) -> bool {
    let (met, wanted) = match target {
        Target::AtMost(limit) => (ratio <= limit, format!("<= {limit}")),
        Target::AtLeast(limit) => (ratio >= limit, format!(">= {limit}")),
    };
    let verdict = if smoke {
        "smoke run, not judged"
    } else if met {
        "met"
    } else {
        "not met"
    };
    println!("{name:<34} {figure:>16}  vs {reference:<22} ratio {ratio:>6.2} (target {wanted}): {verdict}");
    met
}

pub fn seconds(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}

pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}
