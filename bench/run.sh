#!/usr/bin/env bash
# Benchmark of the bundled pipeline end to end (all analyses, outputs and
# reports) against DuckDB running the same analyses on the same Parquet, with
# the scan floor for scale. Prints a table and writes bench/RESULTS.md.
#
#   bench/run.sh [S] [M] [L] [XL] [L-unlimited]   sizes to run (default: S M)
#   RUNS=5 bench/run.sh S         runs per size (default 3; the median counts)
#   bench/run.sh M-by-customer    any size with -by-customer: the same orders
#                                 written customer by customer (a copy of the
#                                 data), as a table clustered on the customer is
#
# Sizes: S 100k customers (~2M orders), M 500k (~10M), L 2M (~40M), and XL
# 2.5M (~50M orders: the sample data has about 20 orders per customer, so
# L's 2M customers give 40M). L and XL run both engines under a memory limit
# ($LIMIT_L, default 2GiB). L-unlimited is L's data without a limit, as S and
# M run: its time per million orders is the one to compare with theirs.
# Data, outputs and the Python virtual environment with DuckDB go to
# $BENCH_DIR (default ~/.cache/loyalty-bench) and are kept, so a second call
# neither generates the data nor installs DuckDB again.
#
# Before any figure is written, the outputs of the two engines are compared
# (bench/duckdb/run.py --compare): speed with different numbers does not count.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-3}"
limit_l="${LIMIT_L:-2GiB}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(S M)

source bench/common.sh
pipeline=pipelines/customer_loyalty.yaml

ensure_duckdb
duckdb_version=$("$py" -c 'import duckdb; print(duckdb.__version__)')

rows=()
for size in "${sizes[@]}"; do
  base="${size%-by-customer}"
  n=$(customers_of "$base")
  data_size="${base%-unlimited}"
  data="$work/data-$data_size"
  ensure_sample "$data_size" "$n"
  if [ "$base" != "$size" ]; then
    ensure_by_customer "$data_size"
    data+=-by-customer
  fi
  orders=$(orders_of "$data_size")
  limit=""
  case "$base" in L | XL) limit="$limit_l" ;; esac

  # The same checks in DuckDB, for the same-work comparison: the queries
  # loyalty makes for them, as `loyalty validate --show-sql` lists them.
  checks="$work/checks-$size.sql"
  "$bin" -q validate "$pipeline" --as-of "$as_of" --param data_root="$data" --show-sql >"$checks"
  n_checks=$(grep -c '^-- check ' "$checks")
  n_steps=$(grep -c '^-- step ' "$checks")
  n_outputs=$(grep -c '^  - step: ' "$pipeline")

  times=(); rss=(); dtimes=(); drss=(); ctimes=(); floors=(); pairs=()
  for i in $(seq "$runs"); do
    out="$work/out-$size"
    dout="$work/duckdb-out-$size"
    t0=$(now)
    "$bin" -q run "$pipeline" --as-of "$as_of" ${limit:+--memory-limit "$limit"} \
      --param data_root="$data" --param out_root="$out" >/dev/null
    t1=$(now)
    times+=("$(calc "$t1 - $t0")")
    rss+=("$(json_field "$out/run_results.json" "['peak_rss_bytes']")")

    rm -rf "$dout"
    t0=$(now)
    r=$("$py" bench/duckdb/run.py "$pipeline" --data "$data" --out "$dout" --as-of "$as_of" \
      ${limit:+--memory-limit "$limit"} | awk '/^peak_rss_bytes/ {print $2}')
    t1=$(now)
    dtimes+=("$(calc "$t1 - $t0")")
    drss+=("$r")
    # Each run of loyalty and the DuckDB run right after it: a pair, whose
    # ratio a host's drift from minute to minute moves less than the medians.
    pairs+=("$(calc "${times[-1]} / ${dtimes[-1]}")")

    rm -rf "$dout-checks"
    t0=$(now)
    "$py" bench/duckdb/run.py "$pipeline" --data "$data" --out "$dout-checks" --as-of "$as_of" \
      ${limit:+--memory-limit "$limit"} --checks "$checks" >/dev/null
    t1=$(now)
    ctimes+=("$(calc "$t1 - $t0")")

    t0=$(now)
    "$bin" -q run bench/scan_floor.yaml --param data_root="$data" --param out_root="$work/floor-$size" >/dev/null
    t1=$(now)
    floors+=("$(calc "$t1 - $t0")")
    echo "$size run $i: loyalty ${times[-1]} s, DuckDB ${dtimes[-1]} s, DuckDB with checks ${ctimes[-1]} s, scan floor ${floors[-1]} s"
  done
  echo "== $size: comparing the outputs of loyalty and DuckDB"
  same=$("$py" bench/duckdb/run.py "$pipeline" --compare "$out" "$dout") || {
    echo "$same"
    echo "$size: loyalty and DuckDB disagree; no figures written" >&2
    exit 1
  }
  echo "$same"
  n_compared=$(grep -o 'compared [0-9]* summary tables' <<<"$same" | grep -o '[0-9]*')
  t=$(printf '%s\n' "${times[@]}" | median)
  d=$(printf '%s\n' "${dtimes[@]}" | median)
  c=$(printf '%s\n' "${ctimes[@]}" | median)
  f=$(printf '%s\n' "${floors[@]}" | median)
  p_lo=$(printf '%s\n' "${pairs[@]}" | sort -g | head -1)
  p_hi=$(printf '%s\n' "${pairs[@]}" | sort -g | tail -1)
  r=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
  dr=$(printf '%s\n' "${drss[@]}" | sort -g | tail -1)
  per_m() { calc "$1 / ($orders / 1000000)"; }
  mib() { calc "$1 / 1048576"; }
  rows+=("$(printf '| %s | %s | %s | %s | %.2f | %.0f | %.2f | %.0f | **%.2f** (pairs %.2f–%.2f) | %.2f | %.2f | %.3f | %.3f | %.2f | %.1f× | %s | %s |' \
    "$size" "$n" "$orders" "${limit:-none}" "$t" "$(mib "$r")" "$d" "$(mib "$dr")" "$(calc "$t / $d")" "$p_lo" "$p_hi" \
    "$c" "$(calc "$t / $c")" "$(per_m "$t")" "$(per_m "$d")" "$f" "$(calc "$t / $f")" \
    "$runs" "$(date -u +%Y-%m-%d)")")
done

# The run's own overhead (YAML, templating, planning, checks, writing outputs,
# rendering reports): the whole pipeline on 1,000 customers, where the queries
# have next to nothing to do. Measured on every call, like the header.
tiny="$work/data-tiny"
ensure_sample tiny 1000 quiet
tiny_orders=$(orders_of tiny)
otimes=()
for i in 1 2 3 4 5; do
  t0=$(now)
  "$bin" -q run "$pipeline" --as-of "$as_of" --param data_root="$tiny" --param out_root="$work/out-tiny" >/dev/null
  t1=$(now)
  otimes+=("$(calc "$t1 - $t0")")
done
overhead=$(printf '%s\n' "${otimes[@]}" | median)
echo "== run overhead (the whole pipeline on 1,000 customers): $overhead s"

{
  echo "# Benchmark results"
  echo
  echo "Last written by \`RUNS=$runs bench/run.sh ${sizes[*]}\` on $(nproc) cores; sizes not run then keep"
  echo "their earlier rows, and each row gives the number of runs and the day. Medians of the"
  echo "runs, loyalty and DuckDB $duckdb_version alternating, on the same Parquet files."
  echo
  echo "- **loyalty**: \`loyalty run\` end to end: $n_checks data checks, $n_steps steps, $n_outputs output tables, 3 reports"
  echo "  (as of this call: rows measured earlier ran the pipeline of their day)."
  echo "- **DuckDB**: the same $n_steps steps (the same \`sql/\` files, DuckDB dividing integers as DataFusion"
  echo "  does), the same $n_outputs tables written as Parquet; no checks, no reports."
  echo "- **DuckDB + checks**: the same, plus loyalty's $n_checks data checks run as loyalty runs them"
  echo "  (their queries from \`loyalty validate --show-sql\`, failing rows counted): the same work"
  echo "  but for the reports. The target compares loyalty with plain DuckDB (**loyalty/DuckDB**,"
  echo "  the ratio of the medians; \"pairs\": the lowest and highest ratio of a loyalty run to the"
  echo "  DuckDB run right after it, which shows how far this host's noise moves it)."
  echo "- Both engines' $n_compared summary tables were compared row by row before the figures were"
  echo "  written (\`bench/duckdb/run.py --compare\`), and agreed."
  echo "- **scan floor**: one read of the order columns the pipeline needs, as a loyalty run"
  echo "  (\`bench/scan_floor.yaml\`)."
  echo "- Peak RSS: loyalty's \`peak_rss_bytes\` from run_results.json; DuckDB's Python process."
  echo "- **L-unlimited**: L's data with no memory limit, as S and M run, so its time per"
  echo "  million orders compares with theirs. Under the limit (L, XL) loyalty runs one step at a"
  echo "  time and DuckDB spills: those rows show what the memory target costs."
  echo "- **-by-customer**: the same orders written customer by customer (sorted by customer_id,"
  echo "  then order_ts), as a warehouse table clustered on the customer is; the other rows read"
  echo "  the sample's orders in time order, as an order system appends them."
  printf -- "- **Run overhead**: %.2f s, the median of 5 whole runs on 1,000 customers (%s orders),\n" "$overhead" "$tiny_orders"
  echo "  where the queries have next to nothing to do: reading the YAML, rendering the SQL,"
  echo "  planning $n_steps steps and $n_checks checks, writing $n_outputs tables and rendering 3 reports."
  echo
  echo "| size | customers | orders | memory limit | loyalty s | loyalty MiB | DuckDB s | DuckDB MiB | loyalty/DuckDB | DuckDB + checks s | loyalty/(DuckDB + checks) | loyalty s per M orders | DuckDB s per M orders | scan floor s | loyalty × floor | runs | measured |"
  echo "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  # A size not run this time keeps its row from the previous RESULTS.md's
  # table: the part before its first heading (the sessions' own tables below
  # it have rows that start with a size too).
  for size in S M L XL L-unlimited S-by-customer M-by-customer L-by-customer XL-by-customer \
    L-unlimited-by-customer; do
    row=$(printf '%s\n' "${rows[@]}" | grep "^| $size |" || true)
    [ -n "$row" ] || row=$(sed '/^## /q' bench/RESULTS.md 2>/dev/null | grep "^| $size |" || true)
    [ -z "$row" ] || echo "$row"
  done
  # Everything after the table (the targets, what each change bought) is kept
  # from the previous RESULTS.md.
  if [ -f bench/RESULTS.md ]; then
    echo
    sed -n '/^## /,$p' bench/RESULTS.md
  fi
} > bench/RESULTS.md.new
mv bench/RESULTS.md.new bench/RESULTS.md
cat bench/RESULTS.md
