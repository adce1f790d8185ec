"""The bundled pipeline's analyses in DuckDB, for bench/run.sh.

Reads the pipeline file for its params, sources, steps (in file order) and
outputs; renders each step's SQL with Jinja the way loyalty renders its own
(every value a SQL literal, `days` an interval): the pipeline's own
sql/<step>.sql, or a DuckDB-dialect copy beside this script
(bench/duckdb/<step>.sql) where the dialects would differ; none does now:
DuckDB's `integer_division` setting divides integers as DataFusion does, and
the casts of timestamps to BIGINT that DuckDB lacks are written epoch_ns()
(TIMESTAMP_NANOS). Runs them in one DuckDB
database (`view` steps as views, the rest as tables) and writes every output
as one Parquet file, where loyalty writes its own.

    python run.py PIPELINE --data DIR --out DIR --as-of YYYY-MM-DD
                  [--memory-limit 2GiB] [--threads N] [--checks LISTING]
                  [--step-times FILE]
    python run.py PIPELINE --compare LOYALTY_OUT DUCKDB_OUT

--step-times FILE writes each step's seconds (its CREATE TABLE or VIEW) as
JSON, for bench/steps.sh.

--checks also runs loyalty's data checks, for a comparison of the same work:
LISTING is what `loyalty validate --show-sql` printed for the same params.
Each check's failing rows are counted, as loyalty counts them: the source
checks before the steps, each step's checks after its step.

--compare checks that both engines produced the same numbers: every summary
table row by row (floats to a relative 1e-9), which includes the segment
counts, the top-20% revenue share and each cohort's retention rows.
It prints what differs and exits 1 if anything does.
"""

import argparse
import datetime
import json
import math
import os
import resource
import sys
import time

import duckdb
import jinja2
import yaml
from markupsafe import Markup

HERE = os.path.dirname(os.path.abspath(__file__))
SQL = os.path.join(HERE, "..", "..", "sql")

# The small tables compared in full; the per-customer tables are covered by
# the summaries made from them.
SUMMARIES = {
    "rfm_segment_summary": ["segment_order"],
    "rfm_migration": ["previous_order", "current_order"],
    "contribution_summary": [],
    "retention_priority": ["abc_class", "level_order"],
    "cohort_retention": ["cohort_month", "period"],
    "churn_summary": ["scope", "cohort_month"],
    "lifecycle_summary": ["stage_order"],
    "lifecycle_trend": ["period", "stage_order"],
    "satisfaction_funnel": ["stage_order"],
    "churn_by_satisfaction": ["csat"],
    "satisfaction_index": ["period"],
    "satisfaction_by_segment": ["segment_order"],
    "complaint_recovery": ["group_order"],
    "loyalty_programme": ["group_order"],
    "customer_lifetime_value": ["scope", "segment_order"],
    "headline": [],
    "monthly_buyers": ["month"],
}


def sql_literal(value):
    """A value as loyalty's formatter writes it: a typed SQL literal."""
    if isinstance(value, Markup):
        return value
    if isinstance(value, bool):
        return Markup("TRUE" if value else "FALSE")
    if isinstance(value, (int, float)):
        return Markup(repr(value))
    if isinstance(value, datetime.date):
        return Markup(f"DATE '{value.isoformat()}'")
    if value is None:
        return Markup("NULL")
    return Markup("'" + str(value).replace("'", "''") + "'")


def raise_error(message):
    raise SystemExit(f"template error: {message}")


def load_pipeline(path):
    with open(path) as f:
        return yaml.safe_load(f)


def params_of(pipeline, as_of, data):
    params = {}
    for name, spec in pipeline.get("params", {}).items():
        if "default" in spec and not str(spec["default"]).startswith("${"):
            params[name] = spec["default"]
    params["as_of"] = datetime.date.fromisoformat(as_of)
    params["data_root"] = data
    return params


def jinja_env():
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([HERE, SQL]),
        autoescape=True,
        finalize=sql_literal,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["days"] = lambda n: Markup(f"INTERVAL '{int(n)} days'")
    env.filters["sql"] = sql_literal
    # loyalty's seconds_between, without a pipeline `timezone` (the bench has none).
    env.globals["seconds_between"] = lambda a, b: Markup(f"date_part('epoch', ({b}) - ({a}))")
    env.globals["raise"] = raise_error
    return env


def read_checks(path):
    """The checks of a `loyalty validate --show-sql` listing: (table, name, sql)."""
    checks = []
    for block in open(path).read().split("\n;\n"):
        header, _, sql = block.strip().partition("\n")
        if header.startswith("-- check "):
            name, _, rest = header[len("-- check "):].rpartition(" on ")
            checks.append((rest.split(" ")[0], name, sql))
    return checks


def run_checks(con, checks):
    for _table, name, sql in checks:
        failing = con.execute(f"SELECT COUNT(*) FROM ({sql})").fetchone()[0]
        if failing:
            print(f"check {name}: {failing} failing rows", file=sys.stderr)


# DuckDB has no cast from a timestamp to BIGINT, the nanoseconds since the
# epoch in DataFusion: per step, the casts written so, each made DuckDB's
# epoch_ns(). A cast that is no longer in the step's SQL is an error, so the
# list cannot go stale unnoticed.
TIMESTAMP_NANOS = {
    "customer_months": [
        "CAST(last_order_date AS TIMESTAMP)",
        "CAST(prev_last_order_date AS TIMESTAMP)",
        "order_ts",
    ],
}


def duckdb_dialect(name, sql):
    for timestamp in TIMESTAMP_NANOS.get(name, []):
        cast = f"CAST({timestamp} AS BIGINT)"
        if cast not in sql:
            raise SystemExit(f"{name}.sql no longer has {cast}: update TIMESTAMP_NANOS in {__file__}")
        sql = sql.replace(cast, f"epoch_ns({timestamp})")
    return sql


def run(args):
    pipeline = load_pipeline(args.pipeline)
    params = params_of(pipeline, args.as_of, os.path.abspath(args.data))
    os.makedirs(args.out, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    if args.memory_limit:
        con.execute(f"SET memory_limit = '{args.memory_limit}'")
        con.execute(f"SET temp_directory = '{os.path.abspath(args.out)}/.duckdb_tmp'")
    con.execute("SET preserve_insertion_order = true")
    # An integer divided by an integer is an integer, as in DataFusion (the
    # RFM quintiles count on it).
    con.execute("SET integer_division = true")

    for name, source in pipeline["sources"].items():
        url = source["url"] if isinstance(source, dict) else source
        url = url.replace("{{ data_root }}", params["data_root"])
        if not os.path.exists(url):
            continue  # an optional source that is absent
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{url.rstrip('/')}/*.parquet')"
        )

    checks = read_checks(args.checks) if args.checks else []
    run_checks(con, [c for c in checks if c[0] in pipeline["sources"]])
    env = jinja_env()
    step_seconds = {}
    for name, step in pipeline["steps"].items():
        sql = duckdb_dialect(name, env.get_template(f"{name}.sql").render(**params))
        kind = "VIEW" if step.get("materialize", "view") == "view" else "TABLE"
        started = time.monotonic()
        con.execute(f"CREATE {kind} {name} AS {sql}")
        step_seconds[name] = time.monotonic() - started
        run_checks(con, [c for c in checks if c[0] == name])
    if args.step_times:
        with open(args.step_times, "w") as f:
            json.dump(step_seconds, f)

    out = os.path.abspath(args.out)
    for output in pipeline["outputs"]:
        folder = os.path.join(out, output["path"])
        os.makedirs(folder, exist_ok=True)
        target = os.path.join(folder, "part-0.parquet")
        order = ", ".join(order_by_key(k) for k in output.get("sort_by", []))
        query = f"SELECT * FROM {output['step']}" + (f" ORDER BY {order}" if order else "")
        con.execute(f"COPY ({query}) TO '{target}' (FORMAT parquet)")
    con.close()
    # For bench/run.sh: this process's peak resident memory (KiB on Linux).
    print(f"peak_rss_bytes {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}")


def order_by_key(key):
    """An output's `sort_by` key (`name`, `name asc`, `name desc`) as loyalty
    sorts by it: ascending with NULLs last, descending with NULLs first."""
    name, _, direction = key.strip().rpartition(" ")
    if direction.lower() == "desc" and name.strip():
        return f'"{name.strip()}" DESC NULLS FIRST'
    if direction.lower() == "asc" and name.strip():
        return f'"{name.strip()}" ASC NULLS LAST'
    return f'"{key.strip()}" ASC NULLS LAST'


def rows_of(con, path, order):
    rel = con.sql(f"SELECT * FROM read_parquet('{path}/*.parquet')")
    if order:
        rel = rel.order(", ".join(order))
    return rel.columns, rel.fetchall()


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is None and b is None
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, datetime.datetime) and isinstance(b, datetime.date):
        return a.date() == b and a.time() == datetime.time()
    return a == b


def compare(args):
    pipeline = load_pipeline(args.pipeline)
    paths = {o["step"]: o["path"] for o in pipeline["outputs"]}
    con = duckdb.connect()
    problems = 0
    for table, order in SUMMARIES.items():
        ours = os.path.join(args.compare[0], paths[table])
        theirs = os.path.join(args.compare[1], paths[table])
        cols_a, rows_a = rows_of(con, ours, order)
        cols_b, rows_b = rows_of(con, theirs, order)
        if cols_a != cols_b:
            print(f"{table}: columns differ: {cols_a} vs {cols_b}")
            problems += 1
            continue
        if len(rows_a) != len(rows_b):
            print(f"{table}: {len(rows_a)} rows vs {len(rows_b)}")
            problems += 1
            continue
        for i, (ra, rb) in enumerate(zip(rows_a, rows_b)):
            diffs = [
                f"{c}: {a!r} vs {b!r}" for c, a, b in zip(cols_a, ra, rb) if not same(a, b)
            ]
            if diffs:
                print(f"{table} row {i}: " + "; ".join(diffs))
                problems += 1
                break
    key = con.execute(
        f"SELECT top_20pct_share FROM read_parquet('{args.compare[0]}/{paths['contribution_summary']}/*.parquet')"
    ).fetchall()[0][0]
    print(
        f"compared {len(SUMMARIES)} summary tables: "
        + ("the same" if problems == 0 else f"{problems} differ")
        + f" (top-20% revenue share {key:.4f})"
    )
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipeline")
    parser.add_argument("--data")
    parser.add_argument("--out")
    parser.add_argument("--as-of")
    parser.add_argument("--memory-limit")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--checks", metavar="LISTING")
    parser.add_argument("--step-times", metavar="FILE")
    parser.add_argument("--compare", nargs=2, metavar=("LOYALTY_OUT", "DUCKDB_OUT"))
    args = parser.parse_args()
    if args.compare:
        sys.exit(compare(args))
    if not (args.data and args.out and args.as_of):
        parser.error("--data, --out and --as-of are required to run")
    run(args)


if __name__ == "__main__":
    main()
