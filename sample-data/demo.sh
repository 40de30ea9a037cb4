#!/usr/bin/env bash
# Runs connect-attrs end to end on sample-data/ against the bundled local Connect emulator:
# no AWS account needed. The emulator plays an account with a 20/s quota, two deleted contacts
# (404) and one contact older than 2018-09-12 (400), so every kind of outcome shows up.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bins
bin="${CARGO_TARGET_DIR:-target}/debug"
work=$(mktemp -d)
"$bin/connect-emulator" --port 0 --instance demo-instance --rate 20 --burst 30 \
    --not-found-file sample-data/emulator-not-found.txt \
    --predates-file sample-data/emulator-predates.txt >"$work/emulator.out" 2>"$work/emulator.log" &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
    grep -q '^listening on ' "$work/emulator.out" 2>/dev/null && break
    sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$work/emulator.out" | head -1)
[ -n "$url" ] || { echo "the emulator did not start:" >&2; cat "$work/emulator.log" >&2; exit 2; }

# The emulator's default credentials: the AWS documentation's example pair.
export AWS_ENDPOINT_URL="$url" AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
    AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
run_dir="${RUN_DIR:-connect-attrs-runs/demo-$(date -u +%Y%m%dT%H%M%SZ)}"
status=0
"$bin/connect-attrs" run --instance-id demo-instance --run-dir "$run_dir" \
    sample-data/crm-export.csv sample-data/crm-export-long.csv || status=$?

echo "--- errors.csv (invalid contacts, malformed rows, contacts the service refused):" >&2
cat "$run_dir/errors.csv" >&2
echo "--- what the emulator holds now: curl -s $url/_emulator/stats" >&2
curl -fsS "$url/_emulator/stats" >&2 2>/dev/null || true
echo >&2
if [ "$status" -eq 1 ]; then
    echo "connect-attrs exited 1: some contacts were not updated, as the sample data intends; they are in $run_dir/retry.csv" >&2
    exit 0
fi
exit "$status"
