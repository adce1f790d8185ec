# What the bench scripts share: sourced from the repository
# root. Builds the release binary (`$bin`) and sets `$work` (data, outputs and
# DuckDB's virtual environment, kept between calls) and the run date.
work="${BENCH_DIR:-${HOME:-/tmp}/.cache/loyalty-bench}"
mkdir -p "$work"
as_of=2026-06-30

cargo build --release --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/release/loyalty"

# Stops the script (exit 2) unless SIZE, the first argument, is one of the
# sizes after it: `check_size "$size" S M L`.
check_size() {
  local size=$1 s
  shift
  for s in "$@"; do [ "$size" = "$s" ] && return 0; done
  local last=${*: -1} rest=("${@:1:$#-1}")
  echo "unknown SIZE $size: use $(IFS=,; echo "${rest[*]}" | sed 's/,/, /g') or $last" >&2
  exit 2
}

customers_of() {
  case "$1" in
    S) echo 100000 ;;
    M) echo 500000 ;;
    L) echo 2000000 ;;
    XL) echo 2500000 ;;
    L-unlimited) echo 2000000 ;;
    *) echo "unknown size $1: use S, M, L, XL or L-unlimited, each also with -by-customer" >&2; exit 2 ;;
  esac
}

# Seconds since the epoch, with nanoseconds; arithmetic with python3.
now() { date +%s.%N; }
calc() { python3 -c "print($1)"; }

json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# One run of a command (loyalty, DuckDB's script): prints "WALL CPU" in
# seconds (CPU: user + system of the process and its children).
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

# One timed run of PIPELINE on DATA into OUT (emptied first), under memory
# limit LIMIT if given: prints "WALL CPU MIB" (seconds, and peak RSS from
# its run_results.json).
measured_run() {
  local pipeline=$1 data=$2 out=$3 limit=${4:-} w c
  rm -rf "$out"
  read -r w c < <(timed "$bin" -q run "$pipeline" --as-of "$as_of" ${limit:+--memory-limit "$limit"} \
    --param data_root="$data" --param out_root="$out")
  echo "$w $c $(json_field "$out/run_results.json" "['peak_rss_bytes'] >> 20")"
}

# The median and the range ("lo–hi") of space-separated numbers on stdin.
med() { tr ' ' '\n' | grep . | median; }
range() { tr ' ' '\n' | grep . | sort -g | sed -n '1p;$p' | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "–" hi}'; }

# Marks a data folder as fully generated, and names its layout: data from
# before the orders came in time order (December 2026) has a plain
# `.complete` and is generated again.
complete=.complete-time-ordered

# Sample data for NAME (`$work/data-NAME`, its summary in
# `$work/sample-NAME.txt`), generated unless already complete; `quiet` keeps
# the summary off the terminal.
ensure_sample() {
  local name=$1 customers=$2 quiet=${3:-}
  local data="$work/data-$name"
  [ ! -f "$data/$complete" ] || return 0
  [ -n "$quiet" ] || echo "== generating $name ($customers customers)"
  rm -rf "$data"
  if [ -n "$quiet" ]; then
    "$bin" -q sample --out "$data" --customers "$customers" --end-date "$as_of" >"$work/sample-$name.txt"
  else
    "$bin" -q sample --out "$data" --customers "$customers" --end-date "$as_of" | tee "$work/sample-$name.txt"
  fi
  touch "$data/$complete"
}

# The orders in sample data NAME, from its summary ("9,854,958 orders").
orders_of() {
  grep -o '[0-9,]* orders' "$work/sample-$1.txt" | tr -d , | grep -o '[0-9]*'
}

# DuckDB's Python package (and what bench/duckdb/run.py needs) in a virtual
# environment under $work, installed unless there; sets `$py`, its python.
ensure_duckdb() {
  local venv="$work/venv"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import duckdb, jinja2, yaml' 2>/dev/null; then
    echo "== installing DuckDB into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'duckdb==2.0.0' 'jinja2>=3' 'pyyaml>=6'
  fi
  py="$venv/bin/python"
}

# A copy of the bundled pipeline (its pipelines/, sql/ and report_templates/)
# in DIR, emptied first, with `engine.max_parallel_steps: 1`, so that each
# step's time in run_results.json is its own, not shared with the steps
# beside it. Needs `ensure_duckdb` first (its python reads the YAML).
one_at_a_time_bundle() {
  local dir=$1
  rm -rf "$dir"
  mkdir -p "$dir/pipelines"
  cp -r sql report_templates "$dir/"
  "$py" - pipelines/customer_loyalty.yaml "$dir/pipelines/customer_loyalty.yaml" <<'PY'
import sys, yaml
pipeline = yaml.safe_load(open(sys.argv[1]))
pipeline.setdefault("engine", {})["max_parallel_steps"] = 1
yaml.safe_dump(pipeline, open(sys.argv[2], "w"), sort_keys=False, allow_unicode=True)
PY
}

# A copy of sample data NAME whose orders are written customer by customer
# (sorted by customer_id, then order_ts, in row groups of 262,144 rows as the
# generator writes them; the other tables linked), as a warehouse table
# clustered on the customer is: `$work/data-NAME-by-customer`. Made with
# DuckDB (`ensure_duckdb` first) unless already there.
ensure_by_customer() {
  local name=$1
  local src="$work/data-$name" dst="$work/data-$name-by-customer"
  [ -f "$dst/$complete" ] && [ "$dst/$complete" -nt "$src/$complete" ] && return 0
  echo "== writing $name's orders customer by customer" >&2
  rm -rf "$dst"
  mkdir -p "$dst/orders"
  for table in "$src"/*/; do
    table=$(basename "$table")
    [ "$table" = orders ] || ln -s "$src/$table" "$dst/$table"
  done
  "$py" - "$src/orders" "$dst/orders/part-0.parquet" <<'PY'
import sys, duckdb
src, dst = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute(
    f"COPY (SELECT * FROM read_parquet('{src}/*.parquet') ORDER BY customer_id, order_ts) "
    f"TO '{dst}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 262144)"
)
PY
  touch "$dst/$complete"
}
