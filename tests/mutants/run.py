#!/usr/bin/env python3
"""Do the tests notice a wrong bound in the SQL or the templates?

Applies each mutation of tests/mutants/mutations.json in turn (one small
change to a file under sql/ or report_templates/: `<` for `<=`, a weight on
the wrong column), runs the test files it names, and prints whether they
failed ("caught") or passed ("missed"). The file is put back after each, and
on Ctrl-C. A missed mutation is a rule no test pins down, or a change that
means the same (the list says which are known to be those).

    python3 tests/mutants/run.py              # every mutation (about 40 min on 2 cores)
    python3 tests/mutants/run.py churn-rule   # those whose id contains this

Stdlib only. Refuses to run where sql/ or report_templates/ has uncommitted
changes, since it rewrites their files. CARGO_TARGET_DIR is passed through.
"""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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
    missed = []
    for m in mutations:
        with open(m["file"]) as f:
            original = f.read()
        if original.count(m["old"]) != 1:
            sys.exit(f"{m['id']}: its text is not in {m['file']} exactly once; update mutations.json")
        try:
            with open(m["file"], "w") as f:
                f.write(original.replace(m["old"], m["new"]))
            args = ["cargo", "test", "-q"]
            for t in m["tests"]:
                args += ["--test", t]
            start = time.time()
            r = subprocess.run(args, capture_output=True, text=True)
        finally:
            with open(m["file"], "w") as f:
                f.write(original)
        caught = "test result: FAILED" in r.stdout + r.stderr
        if r.returncode != 0 and not caught:
            sys.exit(f"{m['id']}: the tests did not run:\n{r.stderr[-2000:]}")
        note = f" (known: {m['same']})" if not caught and "same" in m else ""
        print(f"{m['id']:<24} {'caught' if caught else 'MISSED'} in {time.time() - start:.0f} s{note}", flush=True)
        if not caught and "same" not in m:
            missed.append(m["id"])
    print(f"{len(mutations)} mutations, {len(missed)} missed" + (f": {', '.join(missed)}" if missed else ""))
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
