#!/usr/bin/env python3
"""ctest side_by_side_quick: bench/side_by_side in quick mode, checked.

Usage: side_by_side_quick.py SIDE_BY_SIDE [more side_by_side flags …]

Runs `side_by_side --quick --json FILE [flags]` (every shape with both systems,
1 round of about 1 s each, unless the flags narrow it) and checks:
  - its exit code is 0;
  - the JSON line names every shape asked for, each with a run of every system
    asked for, and no append failed;
  - every run acknowledged events (events/s > 0);
  - every run shows durability evidence: its WAL sync counter rose during the
    measured part (Kring: kring_store_group_commits_total, one sync=true write
    per group; the peer: pg_stat_wal.wal_sync).
No timing bound is asserted. Every failed check is printed as
"CHECK FAILED: …"; the exit code is 1 when any failed.
"""
import json
import os
import subprocess
import sys
import tempfile

ALL_SHAPES = ["single", "batch10", "batch100x4", "batch100", "sealed"]
KRING_COUNTERS = {"kring_store_group_commits_total"}


def flag_value(args, name):
    """The value of --name VALUE or --name=VALUE in args, or None."""
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a[len(name) + 1:]
    return None


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    bench, extra = sys.argv[1], sys.argv[2:]
    shapes = (flag_value(extra, "--shapes") or ",".join(ALL_SHAPES)).split(",")
    only = flag_value(extra, "--only")
    systems = [only] if only else ["kring", "peer"]
    sync_metric = flag_value(extra, "--sync-metric")

    failed = []

    def check(ok, message):
        if not ok:
            failed.append(message)
            print("CHECK FAILED: " + message, flush=True)

    with tempfile.TemporaryDirectory(prefix="side-by-side-quick-") as tmp:
        os.chmod(tmp, 0o711)  # the peer's server (user postgres as root) must reach its folder inside
        result_file = os.path.join(tmp, "result.json")
        cmd = [bench, "--quick", "--json", result_file, "--data-dir", tmp] + extra
        print("running: " + " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, timeout=1200)
        check(proc.returncode == 0, "side_by_side exited with %d (0: every append OK, every run durable)"
              % proc.returncode)
        if not os.path.exists(result_file):
            check(False, "no JSON result written")
            return 1
        with open(result_file) as f:
            result = json.load(f)

    check(result.get("failures") == 0, "appends failed: %s" % result.get("failures"))
    got = result.get("shapes", {})
    for shape in shapes:
        check(shape in got, "shape %s missing from the result" % shape)
        if shape not in got:
            continue
        for system in systems:
            side = got[shape].get(system)
            check(side is not None, "%s %s: no runs" % (system, shape))
            if side is None:
                continue
            check(len(side["rounds"]) >= 1, "%s %s: no rounds" % (system, shape))
            for run in side["rounds"]:
                where = "%s %s round %s" % (system, shape, run.get("round"))
                check(run.get("events_per_s", 0) > 0, where + ": no events acknowledged")
                check(run.get("failures", 1) == 0 and run.get("warmup_failures", 1) == 0,
                      where + ": failed appends")
                counter = run.get("sync_counter", "")
                if system == "peer":
                    check(counter == "pg_stat_wal.wal_sync", where + ": sync counter is " + counter)
                elif sync_metric is None:
                    check(counter in KRING_COUNTERS, where + ": sync counter is " + counter)
                check(run.get("syncs", 0) > 0,
                      where + ": no syncs (%s rose by %s during the run)" % (counter, run.get("syncs")))
        if len(systems) == 2 and shape in got:
            check(got[shape].get("ratio", 0) > 0, shape + ": no Kring/peer ratio")

    print("side_by_side_quick: " + ("OK" if not failed else "%d checks failed" % len(failed)), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
