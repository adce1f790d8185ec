#!/usr/bin/env bash
# How loyalty's time grows with the orders: S, M and L's data (no memory
# limit) and the scan floor, the sizes taking turns, so a host whose speed
# drifts from one minute to the next slows all sizes alike. Prints a Markdown
# table of time per million orders at each size, wall and CPU.
#
#   bench/growth.sh               3 rounds
#   RUNS=5 bench/growth.sh        rounds (each runs every size once)
#
# A round runs, one after the other: the bundled pipeline on S, M and L, the
# scan floor (bench/scan_floor.yaml) on each, and the pipeline on 1,000
# customers, whose time is the run's fixed cost (reading YAML, planning,
# rendering reports). Per size the table gives the median of the rounds:
# - wall seconds, and CPU seconds (user + system of the process, which a
#   virtual machine's stolen time does not inflate as it does the wall time);
# - per million orders, after the fixed cost is taken off (the 1,000-customer
#   run's median: it does not grow with the orders);
# - the same for the scan floor, which grows as the engine's reading and
#   grouping do, whatever the pipeline asks;
# - growth: each size's time per million orders against S's.
# The data is bench/run.sh's, generated the same way if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-3}"

source bench/common.sh
pipeline=pipelines/customer_loyalty.yaml
sizes=(S M L)
for size in "${sizes[@]}"; do ensure_sample "$size" "$(customers_of "$size")"; done
ensure_sample tiny 1000 quiet

# One run of loyalty with these arguments: prints "WALL CPU" in seconds.
timed() {
  python3 - "$@" <<'EOF'
import resource, subprocess, sys, time
t0 = time.monotonic()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
wall = time.monotonic() - t0
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{wall:.3f} {r.ru_utime + r.ru_stime:.3f}")
EOF
}

declare -A wall cpu fwall fcpu
for i in $(seq "$runs"); do
  for size in "${sizes[@]}" tiny; do
    data="$work/data-$size"
    read -r w c < <(timed "$bin" -q run "$pipeline" --as-of "$as_of" \
      --param data_root="$data" --param out_root="$work/growth-out-$size")
    wall[$size]+="$w "; cpu[$size]+="$c "
    line="round $i: $size loyalty ${w} s (CPU ${c} s)"
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
# Seconds per million orders of a median, the fixed cost taken off.
per_m() { calc "($1 - $2) / ($3 / 1e6)"; }

echo
echo "Time per million orders, RUNS=$runs rounds, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M') UTC."
printf 'Fixed cost (the pipeline on 1,000 customers): %.2f s wall, %.2f s CPU.\n' "$fixed_wall" "$fixed_cpu"
echo
echo "| size | orders | loyalty s | CPU s | wall s per M orders | CPU s per M orders | growth from S (wall, CPU) | scan floor s per M orders (wall, CPU) | floor growth from S (wall, CPU) |"
echo "|---|---:|---:|---:|---:|---:|---|---|---|"
for size in "${sizes[@]}"; do
  orders=$(orders_of "$size")
  w=$(med "${wall[$size]}"); c=$(med "${cpu[$size]}")
  fw=$(med "${fwall[$size]}"); fc=$(med "${fcpu[$size]}")
  wm=$(per_m "$w" "$fixed_wall" "$orders"); cm=$(per_m "$c" "$fixed_cpu" "$orders")
  # The floor is one query: its run's fixed cost is next to nothing.
  fwm=$(per_m "$fw" 0 "$orders"); fcm=$(per_m "$fc" 0 "$orders")
  if [ "$size" = S ]; then s_wm=$wm; s_cm=$cm; s_fwm=$fwm; s_fcm=$fcm; fi
  printf '| %s | %s | %.2f | %.2f | %.3f | %.3f | %+.0f%%, %+.0f%% | %.3f, %.3f | %+.0f%%, %+.0f%% |\n' \
    "$size" "$orders" "$w" "$c" "$wm" "$cm" \
    "$(calc "100 * ($wm / $s_wm - 1)")" "$(calc "100 * ($cm / $s_cm - 1)")" \
    "$fwm" "$fcm" \
    "$(calc "100 * ($fwm / $s_fwm - 1)")" "$(calc "100 * ($fcm / $s_fcm - 1)")"
done
