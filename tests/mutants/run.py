#!/usr/bin/env python3
"""Do the tests notice a wrong bound in the SQL or the templates?

Applies each mutation of tests/mutants/mutations.json in turn (one small
change to a file under sql/ or report_templates/: `<` for `<=`, a weight on
the wrong column), runs the test files it names, and prints whether they
failed ("caught", naming the first three tests that did) or passed
("missed"). The file is put back after each, also on Ctrl-C or SIGTERM. A
missed mutation is a rule no test pins down, or a change that means the
same (the list says which are known to be those).

    python3 tests/mutants/run.py              # every mutation
    python3 tests/mutants/run.py churn-rule   # those whose id contains this

The test binaries are built once, in release mode (sharing the dependencies
`cargo run --release` built; about 3 minutes), from the committed files, and
run as they are for each mutation: the tests read the pipeline, its SQL and
templates from the repository at run time, so a mutation reaches them
without a rebuild (10-25 s a mutation on 2 cores; debug builds and a
rebuild each time took 80). A test that edits a copy of the bundle compiled
into loyalty (`bundle_copy`) is told, by LOYALTY_TEST_BUNDLE_FROM_REPO, to
take that copy's SQL and templates from the repository too; the binary's
own `loyalty demo` and `init` still write the compiled copy, so a test that
checks their output does not see a mutation (no listed test relies on one). Before
the first mutation the tests are run unchanged: one that fails then would
have every mutation caught.

Stdlib only. Refuses to run where sql/ or report_templates/ has uncommitted
changes, since it rewrites their files. CARGO_TARGET_DIR is passed through;
do not share one between two checkouts: cargo can hand back test binaries
built in the other, which read that checkout's files (then the unchanged run
fails, or every change is missed).
"""
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build(tests):
    """Builds the named test files in release mode; returns {name: executable}."""
    args = ["cargo", "test", "--release", "--no-run", "--message-format=json-render-diagnostics"]
    for t in tests:
        args += ["--test", t]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"the tests do not build:\n{r.stderr[-2000:]}")
    exes = {}
    for line in r.stdout.splitlines():
        msg = json.loads(line)
        target = msg.get("target", {})
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and "test" in target.get("kind", []):
            exes[target["name"]] = msg["executable"]
    missing = set(tests) - set(exes)
    if missing:
        sys.exit(f"cargo built no test binary for {', '.join(sorted(missing))}")
    return exes


def run_built(exes, tests, label):
    """The tests that fail ("file::test"), running the built binaries of the
    named test files, whose copies of the bundle take sql/ and
    report_templates/ from the repository; exits if a binary did not run."""
    env = dict(os.environ, LOYALTY_TEST_BUNDLE_FROM_REPO="1")
    failed = []
    for t in tests:
        r = subprocess.run([exes[t], "-q"], capture_output=True, text=True, env=env)
        names = [line.split()[1] for line in r.stdout.splitlines() if line.startswith("---- ") and line.endswith(" stdout ----")]
        if r.returncode != 0 and not names:
            sys.exit(f"{label}: the tests of {t} did not run:\n{r.stderr[-2000:]}")
        failed += [f"{t}::{n}" for n in names]
    return failed


def interrupt(*_):
    """SIGTERM as Ctrl-C, so that main's `finally` puts the file back."""
    raise KeyboardInterrupt


def main():
    os.chdir(ROOT)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "sql", "report_templates"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    if dirty:
        sys.exit(f"sql/ or report_templates/ has uncommitted changes; commit or stash them first:\n{dirty}")
    with open("tests/mutants/mutations.json") as f:
        mutations = json.load(f)
    wanted = sys.argv[1:]
    if wanted:
        mutations = [m for m in mutations if any(w in m["id"] for w in wanted)]
    signal.signal(signal.SIGTERM, interrupt)
    tests = sorted({t for m in mutations for t in m["tests"]})
    exes = build(tests)
    # a test that fails unchanged would call every mutation caught
    failed = run_built(exes, tests, "unchanged")
    if failed:
        sys.exit(f"{', '.join(failed)} fail before any change; fix them first")
    missed = []
    started = time.time()
    for m in mutations:
        with open(m["file"]) as f:
            original = f.read()
        if original.count(m["old"]) != 1:
            sys.exit(f"{m['id']}: its text is not in {m['file']} exactly once; update mutations.json")
        start = time.time()
        try:
            with open(m["file"], "w") as f:
                f.write(original.replace(m["old"], m["new"]))
            failed = run_built(exes, m["tests"], m["id"])
        finally:
            with open(m["file"], "w") as f:
                f.write(original)
        seconds = f"in {time.time() - start:.0f} s"
        if failed:
            by = ", ".join(failed[:3]) + (f" and {len(failed) - 3} more" if len(failed) > 3 else "")
            print(f"{m['id']:<24} caught {seconds} by {by}", flush=True)
        else:
            note = f" (known: {m['same']})" if "same" in m else ""
            print(f"{m['id']:<24} MISSED {seconds}{note}", flush=True)
        if not failed and "same" not in m:
            missed.append(m["id"])
    minutes = (time.time() - started) / 60
    print(f"{len(mutations)} mutations, {len(missed)} missed" + (f": {', '.join(missed)}" if missed else "") + f" ({minutes:.0f} min)")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; the mutated file was put back")
