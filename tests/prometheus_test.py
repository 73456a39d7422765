"""kringd's metrics as a real Prometheus server sees them (issue 14).

Starts three kringd processes with --metrics-listen — one healthy (embedded
Kafka), one whose Kafka is unreachable (the relay falls behind), one whose disk
is "full" (--min-free-mib above the file system's size) — and a real Prometheus
server (Debian's `prometheus`) that scrapes all three every second and loads
deploy/prometheus/kring-rules.yml. Appends and a research query go through
kringctl; the test then asks Prometheus's HTTP API (/api/v1/query) for the
series and checks their values against what the test did and what kringd's
status says. Waits are bounded polls for a condition, never timing bounds.

Environment: KRING_KRINGD and KRING_KRINGCTL (set by ctest).
"""
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KRINGD = os.environ.get("KRING_KRINGD", str(ROOT / "build/services/kringd"))
KRINGCTL = os.environ.get("KRING_KRINGCTL", str(ROOT / "build/cli/kringctl"))
RULES = ROOT / "deploy/prometheus/kring-rules.yml"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout=120, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not reached within {timeout} s: {what}")


class Kringd:
    def __init__(self, base: Path, name: str, *args):
        self.dir = base / name
        self.dir.mkdir()
        ready = self.dir / "ready.json"
        self.log = open(self.dir / "kringd.log", "wb")
        self.proc = subprocess.Popen(
            [KRINGD, "--data-dir", str(self.dir / "data"), "--listen", "127.0.0.1:0", "--ready-file", str(ready),
             "--metrics-listen", "127.0.0.1:0", *args],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: ready.exists() or self.proc.poll() is not None, 120, f"{name} ready")
        assert self.proc.poll() is None, (self.dir / "kringd.log").read_text()
        info = json.loads(ready.read_text())
        self.grpc, self.metrics = info["grpc"], info["metrics"]

    def kringctl(self, *args):
        return subprocess.run([KRINGCTL, "--server", self.grpc, *args], capture_output=True, text=True, timeout=300)

    def status(self):
        r = self.kringctl("status", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)
        self.log.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("prometheus")
    total = shutil.disk_usage(base).total
    servers = {
        "healthy": Kringd(base, "healthy"),
        "no-kafka": Kringd(base, "no-kafka", "--kafka-bootstrap", "127.0.0.1:1", "--max-relay-lag-seconds", "1"),
        "disk-full": Kringd(base, "disk-full", "--min-free-mib", str(total // (1 << 20) + 1024)),
    }
    port = free_port()
    config = base / "prometheus.yml"
    shutil.copy(RULES, base / "kring-rules.yml")
    config.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["kring-rules.yml"],
        "scrape_configs": [{
            "job_name": "kring",
            "static_configs": [{"targets": [s.metrics], "labels": {"kringd": name}} for name, s in servers.items()],
        }],
    }))  # JSON is YAML
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={base / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, stdout=open(base / "prometheus.log", "wb"), stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api/v1"

    def ready():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2).status == 200
        except OSError:
            return False

    wait_for(ready, 120, "prometheus ready")
    yield servers, api
    prometheus.terminate()
    prometheus.wait(timeout=60)
    for s in servers.values():
        s.stop()


def query(api, promql):
    """The instant vector of `promql`: {kringd label (or ""): value}."""
    url = f"{api}/query?" + urllib.parse.urlencode({"query": promql})
    answer = json.load(urllib.request.urlopen(url, timeout=10))
    assert answer["status"] == "success", answer
    return {r["metric"].get("kringd", ""): float(r["value"][1]) for r in answer["data"]["result"]}


def eventually(api, promql, expected, timeout=120):
    """Waits until Prometheus answers `promql` with `expected` ({kringd: value})."""
    last = {}

    def check():
        nonlocal last
        last = query(api, promql)
        return all(last.get(k) == v for k, v in expected.items())

    try:
        wait_for(check, timeout, promql)
    except AssertionError:
        raise AssertionError(f"{promql}: expected {expected}, Prometheus says {last}")


def test_the_healthy_server_series_follow_what_was_appended_and_queried(setup):
    servers, api = setup
    healthy = servers["healthy"]
    r = healthy.kringctl("cohort", "--cases", "30", "--seed", "3")
    assert r.returncode == 0, r.stderr
    head = int(healthy.status()["head_position"])
    assert head > 0
    r = healthy.kringctl("research", "network-size")
    assert r.returncode == 0, r.stderr

    eventually(api, 'kring_head_position{kringd="healthy"}', {"healthy": head})
    eventually(api, 'sum by (kringd) (kring_append_events_total{kringd="healthy",result="ok"})', {"healthy": head})
    eventually(api, 'kring_relay_published_position{kringd="healthy"}', {"healthy": head})
    eventually(api, 'kring_relay_lag_events{kringd="healthy"}', {"healthy": 0})
    eventually(api, 'count by (kringd) (kring_read_model_applied_position{kringd="healthy"} == ' + str(head) + ")",
               {"healthy": 4})
    eventually(api, 'kring_store_writable{kringd="healthy"}', {"healthy": 1})
    eventually(api, 'kring_embedded_kafka{kringd="healthy"}', {"healthy": 1})
    eventually(api, 'kring_health_serving{kringd="healthy",service="kring.ready"}', {"healthy": 1})
    # 30 cases, one batch per case: 30 requests, each in some group commit.
    eventually(api, 'kring_store_group_commit_requests_total{kringd="healthy"}', {"healthy": 30})
    eventually(api, 'sum by (kringd) (kring_appends_total{kringd="healthy",result="ok"})', {"healthy": 30})
    eventually(api, 'kring_append_duration_seconds_count{kringd="healthy"}', {"healthy": 30})
    eventually(api, 'sum by (kringd) (kring_grpc_server_handled_total{kringd="healthy",'
                    'method="/kring.v1.ResearchService/GetNetworkSize",code="ok"})', {"healthy": 1})
    eventually(api, 'sum by (kringd) (kring_grpc_server_handling_seconds_count{kringd="healthy",'
                    'method="/kring.v1.ResearchService/GetNetworkSize"})', {"healthy": 1})
    # Prometheus loaded the shipped rules and evaluates them without error.
    rules = json.load(urllib.request.urlopen(f"{api}/rules", timeout=10))["data"]["groups"]
    names = {r["name"]: r["health"] for g in rules for r in g["rules"]}
    assert set(names) >= {"KringRelayStalled", "KringReadModelLagging", "KringStoreNotWritable", "KringDiskFilling"}
    wait_for(lambda: all(h == "ok" for h in {
        r["name"]: r["health"] for g in json.load(urllib.request.urlopen(f"{api}/rules", timeout=10))["data"]["groups"]
        for r in g["rules"]}.values()), 60, "every rule evaluated ok")


def test_an_unreachable_kafka_shows_as_relay_lag_and_a_relay_not_serving(setup):
    servers, api = setup
    stuck = servers["no-kafka"]
    r = stuck.kringctl("cohort", "--cases", "10", "--seed", "4")
    assert r.returncode == 0, r.stderr  # appends go on without Kafka
    head = int(stuck.status()["head_position"])
    eventually(api, 'kring_head_position{kringd="no-kafka"}', {"no-kafka": head})
    eventually(api, 'kring_relay_lag_events{kringd="no-kafka"}', {"no-kafka": head})
    eventually(api, 'kring_relay_published_position{kringd="no-kafka"}', {"no-kafka": 0})
    eventually(api, 'kring_health_serving{kringd="no-kafka",service="kring.relay"}', {"no-kafka": 0})
    eventually(api, 'kring_health_serving{kringd="no-kafka",service="kring.ready"}', {"no-kafka": 0})
    assert query(api, 'kring_relay_lag_seconds{kringd="no-kafka"}')["no-kafka"] > 1
    assert query(api, 'kring_store_writable{kringd="no-kafka"}')["no-kafka"] == 1


def test_a_full_disk_shows_as_a_store_not_writable_and_refused_appends(setup):
    servers, api = setup
    full = servers["disk-full"]
    r = full.kringctl("cohort", "--cases", "2", "--seed", "5")
    assert r.returncode != 0 or "refused" in r.stdout + r.stderr
    eventually(api, 'kring_store_writable{kringd="disk-full"}', {"disk-full": 0})
    eventually(api, 'kring_health_serving{kringd="disk-full",service="kring.v1.IngestService"}', {"disk-full": 0})
    eventually(api, 'kring_head_position{kringd="disk-full"}', {"disk-full": 0})
    refused = query(api, 'sum by (kringd) (kring_appends_total{kringd="disk-full",result="resource_exhausted"})')
    assert refused.get("disk-full", 0) >= 1, refused
    free = query(api, 'kring_disk_free_bytes{kringd="disk-full"}')["disk-full"]
    minimum = query(api, 'kring_disk_min_free_bytes{kringd="disk-full"}')["disk-full"]
    assert free < minimum
