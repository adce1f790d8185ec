#!/usr/bin/env bash
# What a change to the pipeline's files costs: the bundled pipeline as it was
# at another revision (its pipelines/, sql/ and report_templates/) against
# the working tree's, run by the same binary, alternating, on bench/run.sh's
# data. Prints each run and a Markdown table of medians: wall and CPU
# seconds, peak RSS.
#
#   bench/compare.sh REV                     6 pairs at M, no memory limit
#   PAIRS=2 SIZE=L LIMIT=2GiB bench/compare.sh REV
#   BEFORE_BIN=/tmp/old/release/loyalty bench/compare.sh HEAD
#
# Both sides run this tree's binary, unless BEFORE_BIN names another for
# REV's side: a change to the Rust code is compared by building REV's binary
# first (`git worktree add /tmp/old-tree REV`, then `CARGO_TARGET_DIR=/tmp/old
# cargo build --release` in it). Session 25 measured its two analyses with
# this script, session 46 the allocator (bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: bench/compare.sh REV" >&2; exit 2; }
rev=$1
pairs="${PAIRS:-6}"
size="${SIZE:-M}"
limit="${LIMIT:-}"
git rev-parse --verify --quiet "$rev^{commit}" >/dev/null ||
  { echo "unknown revision $rev" >&2; exit 2; }

source bench/common.sh
check_size "$size" S M L XL
before_bin="${BEFORE_BIN:-$bin}"
[ -x "$before_bin" ] || { echo "BEFORE_BIN $before_bin is not a program" >&2; exit 2; }
ensure_sample "$size" "$(customers_of "$size")"
data="$work/data-$size"
before="$work/compare-before"
rm -rf "$before"
mkdir -p "$before"
git archive "$rev" pipelines sql report_templates | tar -x -C "$before"

declare -A walls cpus rss
for i in $(seq "$pairs"); do
  for side in before after; do
    if [ "$side" = before ]; then root="$before" side_bin="$before_bin"; else root=. side_bin="$bin"; fi
    read -r w c m < <(bin="$side_bin" measured_run "$root/pipelines/customer_loyalty.yaml" "$data" \
      "$work/compare-out-$side" "$limit")
    walls[$side]+="$w "; cpus[$side]+="$c "; rss[$side]+="$m "
    echo "pair $i: $side ${w} s (CPU ${c} s), ${m} MiB"
  done
done

change() { calc "f'{($2 / $1 - 1) * 100:+.0f}%'"; }
echo
if [ "$before_bin" = "$bin" ]; then binaries="one binary"; else binaries="$rev's side run by $before_bin, the working tree's by $bin"; fi
echo "$size, ${limit:-no memory limit}, $pairs alternating pairs, $(date -u '+%Y-%m-%d %H:%M') UTC: the pipeline files of $rev against the working tree's, $binaries."
echo
echo "| | $rev | working tree | change |"
echo "|---|---:|---:|---:|"
for what in wall cpu; do
  if [ "$what" = wall ]; then b=$(med <<<"${walls[before]}"); a=$(med <<<"${walls[after]}"); name="wall s, median";
  else b=$(med <<<"${cpus[before]}"); a=$(med <<<"${cpus[after]}"); name="CPU s, median"; fi
  echo "| $name | $b | $a | $(change "$b" "$a") |"
done
echo "| peak RSS MiB, range | $(range <<<"${rss[before]}") | $(range <<<"${rss[after]}") | |"
