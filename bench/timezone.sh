#!/usr/bin/env bash
# What a pipeline `timezone` costs: the bundled pipeline on a copy of
# bench/run.sh's data whose timestamps are written as UTC instants (Parquet's
# "adjusted to UTC", as pandas or a database's TIMESTAMP WITH TIME ZONE write
# them), with no `timezone`, a zone that keeps one offset over the data and a
# zone with daylight saving, taking turns. Prints each run and a Markdown
# table: wall and CPU seconds (median and range), peak RSS.
#
#   bench/timezone.sh                       4 rounds at M
#   ROUNDS=2 SIZE=S ZONES="none Europe/Berlin" bench/timezone.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${ROUNDS:-4}"
size="${SIZE:-M}"
read -r -a zones <<<"${ZONES:-none Asia/Shanghai Europe/Berlin}"

source bench/common.sh
check_size "$size" S M L XL
ensure_sample "$size" "$(customers_of "$size")"
ensure_duckdb
src="$work/data-$size"
data="$work/data-$size-zoned"
if ! { [ -f "$data/$complete" ] && [ "$data/$complete" -nt "$src/$complete" ]; }; then
  echo "== writing $size's timestamps as UTC instants" >&2
  rm -rf "$data"
  "$py" - "$src" "$data" <<'PY'
import os, sys, duckdb
src, dst = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute("SET TimeZone = 'UTC'")
for table in sorted(os.listdir(src)):
    if not os.path.isdir(f"{src}/{table}"):
        continue
    rel = f"read_parquet('{src}/{table}/*.parquet')"
    cols = [
        f'CAST("{name}" AS TIMESTAMPTZ) AS "{name}"' if kind == "TIMESTAMP" else f'"{name}"'
        for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()
    ]
    os.makedirs(f"{dst}/{table}")
    con.execute(
        f"COPY (SELECT {', '.join(cols)} FROM {rel}) TO '{dst}/{table}/part-0.parquet' "
        "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 262144)"
    )
PY
  touch "$data/$complete"
fi

# The bundled pipeline with each zone, beside its SQL and templates.
tree="$work/timezone-tree"
rm -rf "$tree"
mkdir -p "$tree"
cp -r pipelines sql report_templates "$tree/"
pipeline_of() {
  local file="$tree/pipelines/zone-${1//\//_}.yaml"
  cp pipelines/customer_loyalty.yaml "$file"
  [ "$1" = none ] || printf '\ntimezone: %s\n' "$1" >>"$file"
  echo "$file"
}

declare -A walls cpus rss
for i in $(seq "$rounds"); do
  for zone in "${zones[@]}"; do
    read -r w c m < <(measured_run "$(pipeline_of "$zone")" "$data" "$work/timezone-out")
    walls[$zone]+="$w "; cpus[$zone]+="$c "; rss[$zone]+="$m "
    echo "round $i: $zone ${w} s (CPU ${c} s), ${m} MiB"
  done
done

echo
echo "$size with its timestamps as UTC instants, $rounds rounds, the zones taking turns, $(date -u '+%Y-%m-%d %H:%M') UTC."
echo
echo "| \`timezone\` | wall s, median (range) | CPU s, median (range) | peak RSS MiB |"
echo "|---|---|---|---|"
for zone in "${zones[@]}"; do
  echo "| $zone | $(med <<<"${walls[$zone]}") ($(range <<<"${walls[$zone]}")) | $(med <<<"${cpus[$zone]}") ($(range <<<"${cpus[$zone]}")) | $(range <<<"${rss[$zone]}") |"
done
