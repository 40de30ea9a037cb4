//! The end-to-end benchmark: the real `connect-attrs` binary over generated data, each figure
//! printed beside its reference measured in the same run, the ratio, and whether the target is met.
//!
//! cargo bench --bench end_to_end -- [SCENARIO...] [--quick]
//!
//! Scenarios: `memory::SCENARIOS` (p1, unsorted, sorted) and `sending::SCENARIOS` (p2-p5); all by
//! default. Under `cargo test` (no `--bench`
//! argument) or with `--quick`, a tiny smoke size runs in seconds and nothing is judged. Data is
//! generated once under `$CARGO_TARGET_DIR/bench-data` and reused. Figures go in BENCHMARKS.md.

mod floor;
mod harness;
mod memory;
mod sending;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = floor::main_if_asked(&args) {
        return code;
    }
    let bench = args.iter().any(|a| a == "--bench");
    let smoke = !bench || args.iter().any(|a| a == "--quick");
    let chosen: Vec<String> = args.iter().filter(|a| !a.starts_with("--")).cloned().collect();
    let known = |c: &str| memory::SCENARIOS.contains(&c) || sending::SCENARIOS.contains(&c);
    if let Some(unknown) = chosen.iter().find(|c| !known(c.as_str())) {
        eprintln!("unknown scenario {unknown:?}: choose from {:?} and {:?}", memory::SCENARIOS, sending::SCENARIOS);
        return std::process::ExitCode::from(2);
    }
    let memory_chosen: Vec<String> =
        chosen.iter().filter(|c| memory::SCENARIOS.contains(&c.as_str())).cloned().collect();
    let sending_chosen: Vec<String> =
        chosen.iter().filter(|c| sending::SCENARIOS.contains(&c.as_str())).cloned().collect();
    println!("binary: {}{}", harness::binary().display(), if smoke { " (smoke size)" } else { "" });
    let mut met = true;
    if chosen.is_empty() || !memory_chosen.is_empty() {
        met &= memory::run(&memory_chosen, smoke);
    }
    if chosen.is_empty() || !sending_chosen.is_empty() {
        met &= sending::run(&sending_chosen, smoke);
    }
    harness::cleanup();
    if !smoke {
        println!("{}", if met { "all targets met" } else { "some targets not met" });
    }
    std::process::ExitCode::SUCCESS
}
