#!/usr/bin/env bash
# Benchmark of the bundled pipeline end to end (all analyses, outputs and
# reports) on generated data, with the scan floor for scale. Prints a table
# and writes bench/RESULTS.md.
#
#   bench/run.sh [S] [M] [L]      sizes to run (default: S M)
#   RUNS=5 bench/run.sh S         runs per size (default 3; the median counts)
#
# Sizes: S 100k customers (~2M orders), M 500k (~10M), L 2M (~40M).
# Data and outputs go to $BENCH_DIR (default ~/.cache/loyalty-bench) and are
# kept, so a second call does not generate them again.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-3}"
work="${BENCH_DIR:-${HOME:-/tmp}/.cache/loyalty-bench}"
mkdir -p "$work"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(S M)

cargo build --release --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/release/loyalty"

customers_of() {
  case "$1" in
    S) echo 100000 ;;
    M) echo 500000 ;;
    L) echo 2000000 ;;
    *) echo "unknown size $1: use S, M or L" >&2; exit 2 ;;
  esac
}

# Seconds since the epoch, with nanoseconds; arithmetic with python3.
now() { date +%s.%N; }
calc() { python3 -c "print($1)"; }

json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

rows=()
for size in "${sizes[@]}"; do
  n=$(customers_of "$size")
  data="$work/data-$size"
  if [ ! -f "$data/.complete" ]; then
    echo "== generating $size ($n customers)"
    rm -rf "$data"
    "$bin" -q sample --out "$data" --customers "$n" --end-date 2026-06-30 | tee "$work/sample-$size.txt"
    touch "$data/.complete"
  fi
  orders=$(grep -o '[0-9]* orders' "$work/sample-$size.txt" | grep -o '[0-9]*')

  times=(); rss=(); floors=()
  for i in $(seq "$runs"); do
    out="$work/out-$size"
    t0=$(now)
    "$bin" -q run pipelines/customer_loyalty.yaml --as-of 2026-06-30 \
      --param data_root="$data" --param out_root="$out" >/dev/null
    t1=$(now)
    times+=("$(calc "$t1 - $t0")")
    rss+=("$(json_field "$out/run_results.json" "['peak_rss_bytes']")")
    t0=$(now)
    "$bin" -q run bench/scan_floor.yaml --param data_root="$data" --param out_root="$work/floor-$size" >/dev/null
    t1=$(now)
    floors+=("$(calc "$t1 - $t0")")
    echo "$size run $i: pipeline ${times[-1]} s, scan floor ${floors[-1]} s"
  done
  t=$(printf '%s\n' "${times[@]}" | median)
  f=$(printf '%s\n' "${floors[@]}" | median)
  r=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
  rows+=("$(printf '| %s | %s | %s | %.2f | %.0f | %.3f | %.2f | %.1f× |' "$size" "$n" "$orders" "$t" "$(calc "$r / 1048576")" "$(calc "$t / ($orders / 1000000)")" "$f" "$(calc "$t / $f")")")
done

{
  echo "# Benchmark results"
  echo
  echo "Written by \`bench/run.sh ${sizes[*]}\` on $(nproc) cores, $(date -u +%Y-%m-%d); median of $runs runs."
  echo "The pipeline time is \`loyalty run\` end to end (all steps, 16 tables, 3 reports);"
  echo "the scan floor is one read of the order columns the pipeline needs, as a loyalty run."
  echo
  echo "| size | customers | orders | loyalty s | peak RSS MiB | s per M orders | scan floor s | × floor |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  # What each change bought is kept from the previous RESULTS.md.
  if [ -f bench/RESULTS.md ]; then
    echo
    sed -n '/^## Changes/,$p' bench/RESULTS.md
  fi
} > bench/RESULTS.md.new
mv bench/RESULTS.md.new bench/RESULTS.md
cat bench/RESULTS.md
