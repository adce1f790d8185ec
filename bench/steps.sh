#!/usr/bin/env bash
# Where the time goes, step by step, against DuckDB: the bundled pipeline's
# steps run one at a time by loyalty (a copy of the bundle with
# `engine.max_parallel_steps: 1`; each step's seconds from run_results.json)
# and the same steps one by one in DuckDB (bench/duckdb/run.py
# --step-times: each step's CREATE TABLE), the two engines taking turns, on
# bench/run.sh's data. Prints each round and a Markdown table: every step
# that took 10 ms or more in either engine, with both medians and their
# ratio, slowest first, and the totals. A `view` step costs nothing itself
# in either engine: its readers compute it.
#
#   bench/steps.sh                3 rounds at M
#   ROUNDS=5 SIZE=S bench/steps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${ROUNDS:-3}"
size="${SIZE:-M}"

source bench/common.sh
check_size "$size" S M L
ensure_sample "$size" "$(customers_of "$size")"
ensure_duckdb
data="$work/data-$size"

# The bundle, its steps one at a time.
bundle="$work/steps-bundle"
one_at_a_time_bundle "$bundle"

times="$work/steps-times"
rm -rf "$times"
mkdir -p "$times"
for round in $(seq "$rounds"); do
  measured_run "$bundle/pipelines/customer_loyalty.yaml" "$data" "$work/steps-out" >/dev/null
  cp "$work/steps-out/run_results.json" "$times/loyalty-$round.json"
  "$py" bench/duckdb/run.py pipelines/customer_loyalty.yaml --data "$data" \
    --out "$work/steps-duckdb-out" --as-of "$as_of" \
    --step-times "$times/duckdb-$round.json" >/dev/null
  echo "round $round done" >&2
done

"$py" - "$times" "$rounds" "$size" <<'PY'
import json, statistics, sys
times, rounds, size = sys.argv[1], int(sys.argv[2]), sys.argv[3]
loyalty, duckdb = {}, {}
for r in range(1, rounds + 1):
    results = json.load(open(f"{times}/loyalty-{r}.json"))
    for step in results["steps"]:
        loyalty.setdefault(step["name"], []).append(step["elapsed_seconds"])
    for name, seconds in json.load(open(f"{times}/duckdb-{r}.json")).items():
        duckdb.setdefault(name, []).append(seconds)
med = {name: statistics.median(v) for name, v in loyalty.items()}
dmed = {name: statistics.median(v) for name, v in duckdb.items()}
steps = sorted(set(med) | set(dmed), key=lambda n: -max(med.get(n, 0), dmed.get(n, 0)))
print(f"\n{size}, steps one at a time, median of {rounds} rounds (seconds).\n")
print("| step | loyalty | DuckDB | loyalty/DuckDB |")
print("|---|---:|---:|---:|")
for name in steps:
    l, d = med.get(name, 0.0), dmed.get(name, 0.0)
    if max(l, d) < 0.01:
        continue
    ratio = f"{l / d:.2f}" if d > 0 else ""
    print(f"| `{name}` | {l:.3f} | {d:.3f} | {ratio} |")
total_l, total_d = sum(med.values()), sum(dmed.values())
print(f"| all {len(steps)} steps | {total_l:.2f} | {total_d:.2f} | {total_l / total_d:.2f} |")
PY
