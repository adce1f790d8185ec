#!/usr/bin/env bash
# How loyalty's time grows with the orders: S, M and L's data (no memory
# limit), with DuckDB on the same analyses and the scan floor, the sizes
# taking turns, so a host whose speed drifts from one minute to the next
# slows all sizes alike. Prints a Markdown table of time per million orders
# at each size, wall and CPU.
#
#   bench/growth.sh               3 rounds
#   RUNS=5 bench/growth.sh        rounds (each runs every size once)
#   ORDERS=by-customer bench/growth.sh
#                                 the same orders written customer by
#                                 customer (a copy of each size's data), as a
#                                 table clustered on the customer is
#
# A round runs, one after the other: the bundled pipeline on S, M and L, the
# scan floor (bench/scan_floor.yaml) and DuckDB (bench/duckdb/run.py, as
# bench/run.sh runs it) on each, and both engines on 1,000 customers, whose
# time is each one's fixed cost (loyalty: reading YAML, planning, rendering
# reports; DuckDB: starting Python, rendering the SQL). Per size the table
# gives the median of the rounds:
# - wall seconds, and CPU seconds (user + system of the process, which a
#   virtual machine's stolen time does not inflate as it does the wall time);
# - per million orders, after the fixed cost is taken off (the 1,000-customer
#   run's median: it does not grow with the orders); the same for DuckDB;
# - the same for the scan floor, which grows as the engine's reading and
#   grouping do, whatever the pipeline asks;
# - growth: each size's time per million orders against S's.
# The data is bench/run.sh's, generated the same way if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-3}"
orders_layout="${ORDERS:-time}"
case "$orders_layout" in
  time | by-customer) ;;
  *) echo "ORDERS=$orders_layout: use time (the sample's order) or by-customer" >&2; exit 2 ;;
esac

source bench/common.sh
pipeline=pipelines/customer_loyalty.yaml
sizes=(S M L)
for size in "${sizes[@]}"; do ensure_sample "$size" "$(customers_of "$size")"; done
ensure_sample tiny 1000 quiet
ensure_duckdb
# Each size's data folder.
declare -A data_of=([tiny]="$work/data-tiny")
for size in "${sizes[@]}"; do
  data_of[$size]="$work/data-$size"
  if [ "$orders_layout" = by-customer ]; then
    ensure_by_customer "$size"
    data_of[$size]+=-by-customer
  fi
done

declare -A wall cpu dwall dcpu fwall fcpu
for i in $(seq "$runs"); do
  for size in "${sizes[@]}" tiny; do
    data="${data_of[$size]}"
    read -r w c < <(timed "$bin" -q run "$pipeline" --as-of "$as_of" \
      --param data_root="$data" --param out_root="$work/growth-out-$size")
    wall[$size]+="$w "; cpu[$size]+="$c "
    line="round $i: $size loyalty ${w} s (CPU ${c} s)"
    rm -rf "$work/growth-duckdb-$size"
    read -r w c < <(timed "$py" bench/duckdb/run.py "$pipeline" --data "$data" \
      --out "$work/growth-duckdb-$size" --as-of "$as_of")
    dwall[$size]+="$w "; dcpu[$size]+="$c "
    line+=", DuckDB ${w} s (CPU ${c} s)"
    if [ "$size" != tiny ]; then
      read -r w c < <(timed "$bin" -q run bench/scan_floor.yaml \
        --param data_root="$data" --param out_root="$work/growth-floor-$size")
      fwall[$size]+="$w "; fcpu[$size]+="$c "
      line+=", scan floor ${w} s (CPU ${c} s)"
    fi
    echo "$line" >&2
  done
done

med() { printf '%s\n' $1 | median; }
fixed_wall=$(med "${wall[tiny]}")
fixed_cpu=$(med "${cpu[tiny]}")
dfixed_wall=$(med "${dwall[tiny]}")
dfixed_cpu=$(med "${dcpu[tiny]}")
# Seconds per million orders of a median, the fixed cost taken off.
per_m() { calc "($1 - $2) / ($3 / 1e6)"; }

echo
echo "Time per million orders, RUNS=$runs rounds, orders in $orders_layout order, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M') UTC."
printf 'Fixed costs (1,000 customers): loyalty %.2f s wall, %.2f s CPU; DuckDB %.2f s wall, %.2f s CPU.\n' \
  "$fixed_wall" "$fixed_cpu" "$dfixed_wall" "$dfixed_cpu"
echo
echo "| size | orders | loyalty s | CPU s | s per M orders (wall, CPU) | growth from S (wall, CPU) | DuckDB s per M orders (wall, CPU) | DuckDB growth from S | scan floor s per M orders (wall, CPU) | floor growth from S |"
echo "|---|---:|---:|---:|---|---|---|---|---|---|"
# Seconds per million orders of each engine, size and measure (w: wall, c: CPU).
declare -A per
for size in "${sizes[@]}"; do
  orders=$(orders_of "$size")
  per[loyalty,$size,w]=$(per_m "$(med "${wall[$size]}")" "$fixed_wall" "$orders")
  per[loyalty,$size,c]=$(per_m "$(med "${cpu[$size]}")" "$fixed_cpu" "$orders")
  per[duckdb,$size,w]=$(per_m "$(med "${dwall[$size]}")" "$dfixed_wall" "$orders")
  per[duckdb,$size,c]=$(per_m "$(med "${dcpu[$size]}")" "$dfixed_cpu" "$orders")
  # The floor is one query: its run's fixed cost is next to nothing.
  per[floor,$size,w]=$(per_m "$(med "${fwall[$size]}")" 0 "$orders")
  per[floor,$size,c]=$(per_m "$(med "${fcpu[$size]}")" 0 "$orders")
done
# "wall, CPU | their growth from S" for one engine and size.
figures() {
  local key=$1 size=$2
  printf '%.3f, %.3f | %+.0f%%, %+.0f%%' "${per[$key,$size,w]}" "${per[$key,$size,c]}" \
    "$(calc "100 * (${per[$key,$size,w]} / ${per[$key,S,w]} - 1)")" \
    "$(calc "100 * (${per[$key,$size,c]} / ${per[$key,S,c]} - 1)")"
}
for size in "${sizes[@]}"; do
  printf '| %s | %s | %.2f | %.2f | %s | %s | %s |\n' "$size" "$(orders_of "$size")" \
    "$(med "${wall[$size]}")" "$(med "${cpu[$size]}")" \
    "$(figures loyalty "$size")" "$(figures duckdb "$size")" "$(figures floor "$size")"
done
