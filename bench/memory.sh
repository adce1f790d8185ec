#!/usr/bin/env bash
# Whole runs of the bundled pipeline under memory limits: time and peak RSS,
# as README's memory section gives them. Prints a Markdown table.
#
#   bench/memory.sh [LIMIT ...]   limits (default: none 2GiB 1GiB 512MiB 256MiB 128MiB)
#   RUNS=3 SIZE=L bench/memory.sh runs per limit and variant (default 3), data size
#                                 (S, M, L or XL as in bench/run.sh; default L)
#
# Each limit runs two variants, alternating: the bundled pipeline, and the same
# with its per-customer `materialize: memory` steps made `parquet` (written to
# scratch and read back, outside the process's memory). A run that fails is
# counted and its first error line printed; the table gives the median time of
# the runs that completed and the range of their peak RSS (`peak_rss_bytes`
# from run_results.json). The data is bench/run.sh's, generated the same way
# if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-3}"
size="${SIZE:-L}"
limits=("$@")
[ ${#limits[@]} -gt 0 ] || limits=(none 2GiB 1GiB 512MiB 256MiB 128MiB)

source bench/common.sh
check_size "$size" S M L XL
n=$(customers_of "$size")
data="$work/data-$size"
ensure_sample "$size" "$n"

# The variant: a copy of the bundled pipeline, its SQL and templates, with the
# per-customer tables the other steps read written as Parquet.
per_customer=(customer_orders customer_status customer_months customer_history
  rfm_scores_all contribution_ranking lifecycle_stages latest_survey)
variant="$work/memory-variant"
rm -rf "$variant"
mkdir -p "$variant"
cp -r pipelines sql report_templates "$variant/"
for step in "${per_customer[@]}"; do
  sed -i "/^  $step:\$/,/materialize:/ s/materialize: memory/materialize: parquet/" \
    "$variant/pipelines/customer_loyalty.yaml"
done
made=$(grep -c 'materialize: parquet' "$variant/pipelines/customer_loyalty.yaml")
[ "$made" -eq "${#per_customer[@]}" ] || {
  echo "the variant made $made steps parquet, not ${#per_customer[@]}: has the pipeline changed?" >&2
  exit 1
}

# One run: prints "SECONDS RSS_BYTES" or "failed".
run_one() {
  local pipeline=$1 limit=$2 out="$work/memory-out"
  rm -rf "$out"
  local t0 t1
  t0=$(now)
  if "$bin" -q run "$pipeline" --as-of "$as_of" ${limit:+--memory-limit "$limit"} \
    --param data_root="$data" --param out_root="$out" >/dev/null 2>"$out.err"; then
    t1=$(now)
    echo "$(calc "$t1 - $t0") $(json_field "$out/run_results.json" "['peak_rss_bytes']")"
  else
    echo "failed: $(grep -m1 -i error "$out.err" | cut -c1-160)" >&2
    echo failed
  fi
}

# "median s, lo–hi GiB" of a variant's runs, and how many failed.
cell() {
  local ok=() rss=() failed=0 r
  for r in "$@"; do
    if [ "$r" = failed ]; then failed=$((failed + 1)); else
      ok+=("${r% *}")
      rss+=("${r#* }")
    fi
  done
  if [ ${#ok[@]} -eq 0 ]; then echo "fails ($failed of $#)"; return; fi
  local t lo hi
  t=$(printf '%s\n' "${ok[@]}" | median)
  lo=$(printf '%s\n' "${rss[@]}" | sort -g | head -1)
  hi=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
  lo=$(printf '%.2f' "$(calc "$lo / 2**30")")
  hi=$(printf '%.2f' "$(calc "$hi / 2**30")")
  [ "$lo" = "$hi" ] || lo="$lo–$hi"
  printf '%.1f s, %s GiB' "$t" "$lo"
  [ "$failed" -eq 0 ] || printf '; failed %s of %s' "$failed" "$#"
}

rows=()
for limit in "${limits[@]}"; do
  l="$limit"
  [ "$l" != none ] || l=""
  bundled=(); parquet=()
  for i in $(seq "$runs"); do
    bundled+=("$(run_one pipelines/customer_loyalty.yaml "$l")")
    parquet+=("$(run_one "$variant/pipelines/customer_loyalty.yaml" "$l")")
    echo "$limit run $i: bundled ${bundled[-1]}; parquet ${parquet[-1]}"
  done
  rows+=("| $limit | $(cell "${bundled[@]}") | $(cell "${parquet[@]}") |")
done

echo
echo "Size $size ($n customers), runs of each: $runs; $(nproc) cores, $(date -u +%Y-%m-%d):"
echo
echo "| \`memory_limit\` | bundled pipeline | per-customer \`memory\` steps made \`parquet\` |"
echo "|---|---:|---:|"
printf '%s\n' "${rows[@]}"
