#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 60) with cargo-fuzz on a nightly toolchain.
#   fuzz/run.sh [SECONDS] [TARGET...]
# Needs: `cargo install cargo-fuzz`, `rustup toolchain install nightly`. A crash leaves its input
# in fuzz/artifacts/TARGET/; turn it into a regression test beside the code it broke, then delete
# it. Corpora grow in fuzz/corpus/TARGET/ (ignored by git), seeded from tests/data/bad-input/.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(read merge validate)
mkdir -p corpus/read
# The reader's corpus starts from the bad-input files (with a leading options byte of 0).
for file in ../tests/data/bad-input/*; do
    case "$file" in *.json|*.md) continue ;; esac
    seed="corpus/read/seed-$(basename "$file")"
    [ -e "$seed" ] || { printf '\0' > "$seed"; head -c 65536 "$file" >> "$seed"; }
done
for target in "${targets[@]}"; do
    echo "== $target: ${seconds}s"
    mkdir -p "corpus/$target"
    cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=262144
done
