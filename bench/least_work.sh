#!/usr/bin/env bash
# The least work the bundled pipeline's analyses and checks ask of the
# orders, as a multiple of the scan floor: how far down tuning could bring
# the whole pipeline in this engine. The scan floor and two pipelines made
# from the bundled one run alternating on bench/run.sh's data:
#
#   floor       bench/scan_floor.yaml: one grouping of the orders per
#               customer (last order, count, revenue)
#   groupings   the floor's grouping, and one grouping of the orders per
#               customer and month joined with each customer's last order
#               (the cohorts count customers active per month; the
#               lifecycle's "won back" and churn's "revenue lost in their
#               last 12 months" measure from the last order, so need it per
#               order): the two passes over the orders that no analysis's
#               definition does without, with one aggregate each
#   + checks    the same, after the bundled pipeline's checks on `customers`
#               and `orders` (unique order ids, known statuses, customers
#               that exist, ...), as a run makes them
#
# Prints each run and a Markdown table of medians, each as a multiple of the
# floor's.
#
#   bench/least_work.sh                 5 rounds at M
#   ROUNDS=3 SIZE=L bench/least_work.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${ROUNDS:-5}"
size="${SIZE:-M}"

source bench/common.sh
check_size "$size" S M L
ensure_sample "$size" "$(customers_of "$size")"
ensure_duckdb # for its Python with PyYAML
data="$work/data-$size"
dir="$work/least-work"
rm -rf "$dir"
mkdir -p "$dir"

"$py" - pipelines/customer_loyalty.yaml "$dir" <<'PY'
import sys, yaml
bundled = yaml.safe_load(open(sys.argv[1]))
steps = {
    "per_customer": {
        "sql": "SELECT customer_id, max(order_ts) AS last_ts, count(*) AS orders, "
               "sum(amount) AS revenue FROM orders GROUP BY customer_id",
        "materialize": "memory",
    },
    "per_customer_month": {
        "sql": "SELECT o.customer_id, date_trunc('month', o.order_ts) AS month, "
               "max(o.order_ts) FILTER (WHERE o.order_ts < c.last_ts) AS before_last "
               "FROM orders o JOIN per_customer c ON c.customer_id = o.customer_id "
               "GROUP BY 1, 2",
        "materialize": "memory",
    },
}
for name, checked in (("groupings", False), ("checks", True)):
    sources = {}
    for source in ("customers", "orders"):
        s = dict(bundled["sources"][source])
        if not checked:
            s.pop("checks", None)
        sources[source] = s
    pipeline = {
        "name": f"least_work_{name}",
        "params": {k: bundled["params"][k] for k in ("as_of", "data_root", "out_root")},
        "sources": sources,
        "output_root": "{{ out_root }}",
        "steps": steps,
    }
    yaml.safe_dump(pipeline, open(f"{sys.argv[2]}/{name}.yaml", "w"), sort_keys=False)
PY

floor=(); groupings=(); checks=()
run() { timed "$bin" -q run "$1" --as-of "$as_of" --param data_root="$data" --param out_root="$dir/out" | cut -d' ' -f1; }
for round in $(seq "$rounds"); do
  floor+=("$(run bench/scan_floor.yaml)")
  groupings+=("$(run "$dir/groupings.yaml")")
  checks+=("$(run "$dir/checks.yaml")")
  echo "round $round: floor ${floor[-1]} s, groupings ${groupings[-1]} s, + checks ${checks[-1]} s"
done

f=$(echo "${floor[*]}" | med)
g=$(echo "${groupings[*]}" | med)
c=$(echo "${checks[*]}" | med)
echo
echo "$size ($(orders_of "$size") orders), whole runs, median of $rounds rounds."
echo
echo "| run | seconds | × floor |"
echo "|---|---:|---:|"
echo "| floor (one grouping per customer) | $f | 1.0 |"
echo "| + one grouping per customer and month, joined with the last order | $g | $(calc "round($g / $f, 1)") |"
echo "| + the bundled checks on customers and orders | $c | $(calc "round($c / $f, 1)") |"
