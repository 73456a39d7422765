"""The research oracle against a real kringd (issue 13).

Starts the built kringd (fresh data dir, a known cell-key secret), appends the
edge cohort of cohort.py with `kringctl append --file` (phase 1), erases some
cases (`kringctl erase`), appends phase 2 (follow-ups after the erasures),
exports the log (`kringctl export`), then asks every research RPC in many
shapes through `kringctl research MODEL --format json` and compares every
figure with oracle.py's independent computation from the exported events.

Binaries: $KRING_KRINGD and $KRING_KRINGCTL (ctest sets them). Nothing is
skipped: a missing binary, flag or figure fails the test.

kringd runs with a known cell key secret (--cell-key-file), and the oracle
perturbs its exact figures with it (docs/research.md, the cell key method).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cohort  # noqa: E402
import oracle  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SECRET = bytes(range(1, 33)) + b"kring-oracle-test-secret"  # 56 bytes, SYNTHETIC


def binary(env: str) -> str:
    path = os.environ.get(env, "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"${env} must name the built binary (ctest sets it; scripts/build.sh kringd kringctl)")
    return path


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Server:
    def __init__(self, base: Path):
        self.base = base
        self.kringd = binary("KRING_KRINGD")
        self.kringctl = binary("KRING_KRINGCTL")
        self.log = base / "kringd.log"
        self.proc = None
        self.address = ""

    def start(self) -> None:
        ready = self.base / "ready.json"
        args = [self.kringd, "--data-dir", str(self.base / "data"), "--listen", "127.0.0.1:0",
                "--ready-file", str(ready), "--log-level", "info"]
        master = self.base / "master.key"
        master.write_bytes(bytes(range(100, 132)))
        master.chmod(0o600)
        args += ["--master-key-file", str(master)]
        key = self.base / "cell-key"
        key.write_bytes(SECRET)
        key.chmod(0o600)
        args += ["--cell-key-file", str(key)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not ready.exists():
            if self.proc.poll() is not None:
                pytest.fail(f"kringd exited with {self.proc.returncode}:\n{tail(self.log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"kringd wrote no ready file within 60 s:\n{tail(self.log)}")
            time.sleep(0.05)
        self.address = json.loads(ready.read_text())["grpc"]

    def ctl(self, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        result = subprocess.run([self.kringctl, "--server", self.address, "--purpose", "oracle test", *args],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            pytest.fail(f"kringctl {' '.join(args)} exited with {result.returncode}:\n{result.stdout[-3000:]}\n"
                        f"{result.stderr[-3000:]}\nkringd log:\n{tail(self.log)}")
        return result

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def append(server: Server, path: Path) -> dict:
    summary = json.loads(server.ctl("append", "--file", str(path), "--json", "--no-progress").stdout)
    lines = sum(1 for line in path.read_text().splitlines() if line and not line.startswith("#"))
    assert summary["events_appended"] == lines and summary["refused"] == 0, summary
    return summary


def head(server: Server) -> int:
    out = json.loads(server.ctl("verify", "--json").stdout)
    return int(out["last_position"])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("oracle")
    server = Server(base)
    server.start()
    try:
        p1, p2, erase = cohort.write(base / "cohort", SECRET)
        append(server, p1)
        p1_head = head(server)
        for case_id in erase:
            server.ctl("erase", "--case", case_id, "--json")
        append(server, p2)
        last = head(server)
        export = base / "export.ndjson"
        server.ctl("export", "--output", str(export))
        log = oracle.load_export(export)
        assert int(log["position"].max()) == last
        assert (log["type"] == "personal_data_erased").sum() == len(erase)
        # Every read model has applied every event before the live queries.
        for model in ("network-size", "outcomes", "funnel", "support"):
            server.ctl("research", model, "--format", "json", "--wait-events", str(last), "--timeout", "120")
        yield {"server": server, "log": log, "p1_head": p1_head, "head": last,
               "cost_model": oracle.load_cost_model(ROOT / "projections/cost_model.json")}
    finally:
        server.stop()


def shapes(p1_head: int) -> list[oracle.Request]:
    R = oracle.Request
    return [
        R(),
        R(k=5),
        R(group_by="year", k=5),
        R(group_by="quarter"),
        R(group_by="domain", k=5),
        R(group_by="municipality"),
        R(group_by="legal-framework", k=5),
        R(domains=["DOMAIN_HOUSING", "DOMAIN_YOUTH_PROTECTION"], municipality_codes=["GM0363", "GM0518"], k=5),
        R(referral_from="2023-01-01", referral_to="2023-12-31", group_by="quarter", k=5),
        R(conference_from="2023-01-01", conference_to="2023-06-30", k=5, group_by="domain"),
        R(legal_frameworks=["LEGAL_FRAMEWORK_WMO", "LEGAL_FRAMEWORK_NONE"], group_by="municipality", k=5),
        R(as_of=p1_head, group_by="year", k=5),
        R(as_of=p1_head // 2, k=5),
    ]


SUPPORT_SHAPES = [
    oracle.Request(window_days=30, k=5),
    oracle.Request(window_days=30, lapse_threshold=0.75, data_cutoff="2024-12-31", group_by="domain", k=5),
    oracle.Request(window_days=180, lapse_threshold=1.0, group_by="year", k=5),
    oracle.Request(data_cutoff="2024-06-30", k=10),
]

MODELS = ["network-size", "outcomes", "cost-benefit", "funnel", "support"]


def ask(world, model: str, r: oracle.Request) -> tuple[dict, oracle.Mismatches]:
    server: Server = world["server"]
    out = server.ctl("research", model, *r.kringctl_args(model), "--format", "json")
    answer = json.loads(out.stdout)
    expected = oracle.expected_answer(world["log"], model, r, SECRET, world["cost_model"])
    m = oracle.compare(expected, answer, r.k)
    oracle.check_report(answer, m, r.k, perturbed=True)
    if r.as_of:
        if oracle._num(answer.get("as_of_position", 0)) != r.as_of:
            m.add("as_of_position", f"expected {r.as_of}, server {answer.get('as_of_position')}")
    return answer, m


def run_all(world, cases: list[tuple[str, oracle.Request]]) -> None:
    failures = []
    checked = 0
    for model, r in cases:
        _, m = ask(world, model, r)
        checked += m.checked
        for item in m.items:
            failures.append(f"{model} {r.kringctl_args(model)}: {item}")
    print(f"oracle: {len(cases)} answers, {checked} figures checked, {len(failures)} disagreements")
    if failures:
        shown = "\n".join(failures[:80])
        pytest.fail(f"{len(failures)} of {checked} figures disagree with the oracle:\n{shown}")


@pytest.mark.parametrize("model", MODELS)
def test_every_figure_of_every_shape_matches_the_oracle(world, model):
    run_all(world, [(model, r) for r in shapes(world["p1_head"])])


def test_support_with_other_windows_thresholds_and_cutoffs_matches_the_oracle(world):
    run_all(world, [("support", r) for r in SUPPORT_SHAPES])


def test_an_answer_as_of_a_position_is_the_same_when_asked_again(world):
    r = oracle.Request(as_of=world["p1_head"], k=5, group_by="domain")
    first, _ = ask(world, "support", r)
    again, _ = ask(world, "support", r)
    assert first == again


def test_the_cohort_reaches_the_edges_it_is_built_for(world):
    """Guards the cohort itself: each edge the oracle is meant to test is present."""
    cases = oracle.fold(world["log"])
    r = oracle.Request()
    sc = oracle.support_cases(cases, r)
    times = [t for u in sc for t, _, _ in u.retention]
    for day in (182, 183, 365, 366, 700, 701, 730, 731):
        assert day in times, f"no follow-up at day {day}"
    assert any(u.facts.erased_at for u in sc), "no erased case in the support population"
    erased_ignored = [fu for c in cases if c.erased_at for fu in c.followups if fu.position > c.erased_at]
    assert erased_ignored, "no follow-up recorded after an erasure"
    assert any(len(c.conferences) > 1 for c in cases), "no case with two conferences"
    assert any(min(x.day for x in c.conferences) < c.conferences[0].day for c in cases), \
        "no conference recorded after the first but dated before it"
    assert any(conf.size == 0 for c in cases for conf in c.conferences), "no conference of size 0"
    assert any(c.referral_day.year != c.first_conference_day.year for c in cases if c.conferences)
    ties = {}
    for u in sc:
        ties.setdefault((u.time, u.lapsed), 0)
        ties[(u.time, u.lapsed)] += 1
    assert max(ties.values()) >= 5, "no ties in Kaplan-Meier times"
    # A Kaplan-Meier row whose perturbed events exceed its perturbed at-risk (clamped, D17).
    ck = oracle.CellKey(SECRET, 10)
    cluster = [u for u in sc if u.facts.municipality == "GM0200"]
    at_risk = ck.count([oracle.case_label(u.facts) for u in cluster if u.time >= 183]).published
    events = ck.km_count([oracle.case_label(u.facts) for u in cluster if u.time == 183 and u.lapsed])
    assert at_risk is not None and events > at_risk, "no Kaplan-Meier row with events clamped to the at-risk"
    retracted = world["log"][world["log"]["type"] == "event_retracted"]
    ids = {p["retracted_event_id"] for p in retracted["payload"]}
    types = set(world["log"][world["log"]["event_id"].isin(ids)]["type"])
    for t in ("outcome_recorded", "follow_up_recorded", "conference_held", "participant_invited",
              "cost_recorded", "coordinator_assigned", "case_referred"):
        assert t in types, f"no retraction of {t}"


def test_the_server_log_names_no_case_of_the_cohort(world):
    """Case ids are personal data: never in a log line (CONVENTIONS), whatever
    the research RPCs, erasures and exports the test asked for."""
    text = world["server"].log.read_text(errors="replace")
    assert "msg=serving" in text, "kringd logged nothing at info level"
    ids = set(world["log"]["case_id"])
    leaked = sorted(i for i in ids if i in text)
    assert not leaked, f"{len(leaked)} case ids in kringd's log, e.g. {leaked[:3]}"
