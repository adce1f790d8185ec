#!/usr/bin/env bash
# Which steps' time grows faster than the orders: the bundled pipeline's
# steps run one at a time (a copy of the bundle with
# `engine.max_parallel_steps: 1`, as bench/steps.sh runs them) on S, M and
# L's data (no memory limit), the sizes taking turns in each round, so a
# host whose speed drifts slows every size alike. Each step's seconds come
# from run_results.json. Prints each run and a Markdown table: per step that
# took 0.1 s or more at L, its median seconds at each size, its seconds per
# million orders at M and L and their change, and what L took beyond M's
# rate (L's seconds less M's per-order rate times L's orders), most first;
# then all steps together.
#
#   bench/step_growth.sh            3 rounds
#   ROUNDS=5 bench/step_growth.sh
#
# bench/growth.sh measures whole runs with the steps side by side, as a
# nightly run goes; this script tells which steps make up what grows.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${ROUNDS:-3}"

source bench/common.sh
sizes=(S M L)
for size in "${sizes[@]}"; do ensure_sample "$size" "$(customers_of "$size")"; done
ensure_duckdb

bundle="$work/step-growth-bundle"
one_at_a_time_bundle "$bundle"
times="$work/step-growth-times"
rm -rf "$times"
mkdir -p "$times"
for round in $(seq "$rounds"); do
  for size in "${sizes[@]}"; do
    out="$work/step-growth-out-$size"
    read -r w c _ < <(measured_run "$bundle/pipelines/customer_loyalty.yaml" "$work/data-$size" "$out")
    cp "$out/run_results.json" "$times/$size-$round.json"
    echo "round $round: $size ${w} s (CPU ${c} s)" >&2
  done
done

"$py" - "$times" "$rounds" "$(orders_of S)" "$(orders_of M)" "$(orders_of L)" <<'PY'
import json, statistics, sys
times, rounds = sys.argv[1], int(sys.argv[2])
orders = dict(zip("SML", (int(n) / 1e6 for n in sys.argv[3:6])))
med = {}
for size in "SML":
    seconds = {}
    for r in range(1, rounds + 1):
        for step in json.load(open(f"{times}/{size}-{r}.json"))["steps"]:
            seconds.setdefault(step["name"], []).append(step["elapsed_seconds"])
    med[size] = {name: statistics.median(v) for name, v in seconds.items()}

def rate(size, name):
    return med[size].get(name, 0.0) / orders[size]

def beyond(name):
    return med["L"][name] - rate("M", name) * orders["L"]

print(f"\nSteps one at a time, median of {rounds} rounds: seconds, and seconds per million orders.\n")
print("| step | S s | M s | L s | per M orders at M | at L | change | L beyond M's rate s |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for name in sorted((n for n in med["L"] if med["L"][n] >= 0.1), key=beyond, reverse=True):
    change = f"{rate('L', name) / rate('M', name) - 1:+.0%}" if rate("M", name) > 0 else ""
    print(f"| `{name}` | {med['S'].get(name, 0):.2f} | {med['M'].get(name, 0):.2f} | {med['L'][name]:.2f} "
          f"| {rate('M', name):.3f} | {rate('L', name):.3f} | {change} | {beyond(name):+.2f} |")
total = {size: sum(med[size].values()) for size in "SML"}
per = {size: total[size] / orders[size] for size in "SML"}
print(f"| all {len(med['L'])} steps | {total['S']:.2f} | {total['M']:.2f} | {total['L']:.2f} "
      f"| {per['M']:.3f} | {per['L']:.3f} | {per['L'] / per['M'] - 1:+.0%} "
      f"| {total['L'] - per['M'] * orders['L']:+.2f} |")
print(f"\nS: {per['S']:.3f} s of steps per million orders ({total['S']:.2f} s for {orders['S']:.2f}M orders).")
PY
