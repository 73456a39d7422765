"""deploy/ (issue 14): the compose file, the Kubernetes manifests, the systemd units and the
backup script with its retention. Run by ctest as `deploy` (tests/CMakeLists.txt), which sets
KRING_KRINGD and KRING_KRINGCTL to the built binaries.

- The Kubernetes manifests are checked against the Kubernetes JSON schemas shipped in the PyPI
  package kubernetes-validate, strictly (an unknown field is an error), offline.
- The systemd units are checked with `systemd-analyze verify`; a warning counts as a failure.
- The backup script runs against a real kringd and keeps the newest KRING_BACKUP_KEEP backups.
- The compose file's Prometheus configuration passes `promtool check config` with Kring's rules
  (deploy/prometheus/kring-rules.yml, from the metrics work).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
ROLES = {"ingest", "relay", "projections", "query"}


def kubernetes_validate(paths):
    """Runs kubernetes-validate --strict on `paths`; returns (exit code, output)."""
    r = subprocess.run(
        ["python3", "-m", "kubernetes_validate", "--strict", "--kubernetes-version", "1.30.0", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    return r.returncode, r.stdout + r.stderr


def k8s_documents():
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


# --------------------------------------------------------------------------------------------
# compose
# --------------------------------------------------------------------------------------------


def compose():
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_parses_and_every_file_it_mounts_exists_or_is_a_documented_secret():
    c = compose()
    readme = (DEPLOY / "README.md").read_text()
    for name, service in c["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).is_file(), f"{name} mounts {source}, which is not in deploy/"
    for name, secret in c["secrets"].items():
        # The secrets are made by the operator, as deploy/README.md says; never shipped.
        assert secret["file"].startswith("./secrets/"), name
        assert secret["file"][2:] in readme, f"deploy/README.md does not say how to make {secret['file']}"
    assert "secrets/" in (ROOT / ".gitignore").read_text() or "secrets" in (DEPLOY / ".gitignore").read_text()


def test_compose_runs_three_kraft_brokers_one_ingest_node_and_two_replicas_with_their_own_groups():
    c = compose()
    brokers = {n: s for n, s in c["services"].items() if s["image"].startswith("docker.io/apache/kafka")}
    assert sorted(brokers) == ["kafka-1", "kafka-2", "kafka-3"]
    voters = {s["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"] for s in brokers.values()}
    assert voters == {"1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"}
    assert sorted(s["environment"]["KAFKA_NODE_ID"] for s in brokers.values()) == ["1", "2", "3"]

    kring = {n: s for n, s in c["services"].items() if s["image"].startswith("localhost/kring")}
    roles = {n: set(s["environment"]["KRING_ROLES"].split(",")) for n, s in kring.items()}
    assert all(r and r <= ROLES for r in roles.values()), roles
    assert roles == {
        "kring-ingest": {"ingest", "relay"},
        "kring-replica-1": {"projections", "query"},
        "kring-replica-2": {"projections", "query"},
    }
    replicas = [s["environment"] for n, s in kring.items() if n != "kring-ingest"]
    assert {e["KRING_INGEST_NODE"] for e in replicas} == {"kring-ingest:50051"}
    prefixes = [e["KRING_CONSUMER_GROUP_PREFIX"] for e in replicas]
    assert len(set(prefixes)) == len(prefixes), "each replica consumes in a group of its own"
    for name, service in kring.items():
        env = service["environment"]
        assert env["KRING_KAFKA_BOOTSTRAP"] == "kafka-1:9092,kafka-2:9092,kafka-3:9092", name
        assert env["KRING_METRICS_LISTEN"].endswith(":9464"), name
        assert "identities" in service["secrets"], name
    # Only the ingest node holds the master key.
    assert [n for n, s in kring.items() if "KRING_MASTER_KEY_FILE" in s["environment"]] == ["kring-ingest"]

    # Prometheus scrapes every kringd's metrics port and loads Kring's alerting rules.
    scrape = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    targets = {t for job in scrape["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {f"{n}:9464" for n in kring}
    assert scrape["rule_files"] == ["/etc/prometheus/kring-rules.yml"]


def test_compose_prometheus_configuration_passes_promtool(tmp_path):
    # As mounted in the prometheus container: the rules beside the configuration.
    config = (DEPLOY / "compose" / "prometheus.yml").read_text()
    assert "/etc/prometheus/kring-rules.yml" in config
    (tmp_path / "prometheus.yml").write_text(config.replace("/etc/prometheus/kring-rules.yml", "kring-rules.yml"))
    shutil.copy(DEPLOY / "prometheus" / "kring-rules.yml", tmp_path / "kring-rules.yml")
    r = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


# --------------------------------------------------------------------------------------------
# Kubernetes
# --------------------------------------------------------------------------------------------


def test_kubernetes_manifests_validate_strictly_against_the_kubernetes_schemas():
    code, out = kubernetes_validate(sorted((DEPLOY / "k8s").glob("*.yaml")))
    assert code == 0, out
    kinds = sorted(d["kind"] for d in k8s_documents())
    assert kinds == ["ConfigMap", "Deployment", "NetworkPolicy", "Service", "Service", "StatefulSet"], kinds


@pytest.mark.parametrize(
    "original, typo",
    [("readinessProbe:", "readinesProbe:"), ("volumeClaimTemplates:", "volumeClaimTemplate:"), ("port: 50051", "port: fifty")],
)
def test_kubernetes_validation_rejects_a_manifest_with_a_typo(tmp_path, original, typo):
    broken = tmp_path / "ingest.yaml"
    text = (DEPLOY / "k8s" / "ingest.yaml").read_text()
    assert original in text
    broken.write_text(text.replace(original, typo, 1))
    code, out = kubernetes_validate([broken])
    assert code != 0, out


def test_kubernetes_probes_ask_kring_ready_for_readiness_and_the_empty_name_for_liveness():
    workloads = [d for d in k8s_documents() if d["kind"] in ("StatefulSet", "Deployment")]
    assert len(workloads) == 2
    for w in workloads:
        spec = w["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        assert container["readinessProbe"]["grpc"] == {"port": 50051, "service": "kring.ready"}
        assert container["livenessProbe"]["grpc"] == {"port": 50051, "service": ""}
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"grpc": 50051, "metrics": 9464}
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert set(env["KRING_ROLES"].split(",")) <= ROLES
    statefulset = next(w for w in workloads if w["kind"] == "StatefulSet")
    assert [t["metadata"]["name"] for t in statefulset["spec"]["volumeClaimTemplates"]] == ["data", "backups"]


# --------------------------------------------------------------------------------------------
# systemd
# --------------------------------------------------------------------------------------------

UNITS = ["kringd.service", "kring-backup.service", "kring-backup.timer"]


def verify_units(folder):
    r = subprocess.run(
        ["systemd-analyze", "verify", *[str(folder / u) for u in UNITS]], capture_output=True, text=True, check=False
    )
    return r.returncode, r.stdout + r.stderr


def installed_units(tmp_path, edit=None):
    """The units with their binaries pointed at the built ones (verify checks that ExecStart exists)."""
    folder = tmp_path / "units"
    folder.mkdir()
    for unit in UNITS:
        text = (DEPLOY / unit).read_text()
        text = text.replace("/usr/local/bin/kringd", os.environ["KRING_KRINGD"])
        text = text.replace("/usr/local/bin/kring-backup", str(DEPLOY / "kring-backup.sh"))
        if edit:
            text = edit(unit, text)
        (folder / unit).write_text(text)
    return folder


def test_systemd_units_verify_without_a_warning(tmp_path):
    code, out = verify_units(installed_units(tmp_path))
    assert code == 0 and out.strip() == "", out


def test_systemd_verify_reports_a_misspelt_key(tmp_path):
    folder = installed_units(
        tmp_path, lambda unit, text: text.replace("ReadWritePaths=", "ReadWritePath=") if unit == "kringd.service" else text
    )
    code, out = verify_units(folder)
    assert code != 0 or "Unknown key" in out, out


def test_the_units_let_kringd_and_the_backup_write_the_documented_backup_folder():
    env = dict(
        line.split("=", 1)
        for line in (DEPLOY / "kring-backup.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    target = env["KRING_BACKUP_DIR"]
    for unit in ("kringd.service", "kring-backup.service"):
        text = (DEPLOY / unit).read_text()
        assert "ProtectSystem=strict" in text, unit
        writable = [p.lstrip("-") for line in text.splitlines() if line.startswith("ReadWritePaths=")
                    for p in line.split("=", 1)[1].split()]
        assert target in writable, f"{unit}: ProtectSystem=strict makes {target} read-only"
    # The documented backup commands write under that folder.
    for doc in (DEPLOY / "README.md", ROOT / "docs" / "operations.md"):
        for m in re.finditer(r"kringctl backup --to (/\S+)", doc.read_text()):
            assert m.group(1).startswith(target + "/"), f"{doc}: {m.group(0)}"


# --------------------------------------------------------------------------------------------
# The backup script and its retention, against a real kringd
# --------------------------------------------------------------------------------------------


@pytest.fixture
def kringd(tmp_path):
    data = tmp_path / "data"
    ready = tmp_path / "ready.json"
    log = open(tmp_path / "kringd.log", "w")
    p = subprocess.Popen(
        [os.environ["KRING_KRINGD"], "--data-dir", str(data), "--listen", "127.0.0.1:0", "--ready-file", str(ready)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(600):
            if ready.exists():
                break
            assert p.poll() is None, (tmp_path / "kringd.log").read_text()
            time.sleep(0.1)
        assert ready.exists(), (tmp_path / "kringd.log").read_text()
        yield json.loads(ready.read_text())["grpc"]
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
        log.close()


def run_backup(address, folder, keep):
    env = dict(os.environ, KRING_SERVER=address, KRING_BACKUP_DIR=str(folder), KRING_BACKUP_KEEP=str(keep),
               KRINGCTL=os.environ["KRING_KRINGCTL"])
    return subprocess.run([str(DEPLOY / "kring-backup.sh")], env=env, capture_output=True, text=True, check=False)


def test_backup_script_writes_dated_backups_and_keeps_the_newest(kringd, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "notes").mkdir()  # not a backup: never removed
    (folder / "2000-01-01T000000.000Z").mkdir()  # named like one, the oldest, but holds no backup: kept
    made = []
    for _ in range(4):
        r = run_backup(kringd, folder, keep=2)
        assert r.returncode == 0, r.stdout + r.stderr
        path = re.search(r"msg=backup_written path=(\S+)", r.stdout).group(1)
        made.append(Path(path).name)
        answer = json.loads((Path(path) / "BACKUP.json").read_text())
        assert answer["path"] == path
        assert (Path(path) / "events" / "CURRENT").is_file()
    assert made == sorted(made) and len(set(made)) == 4, made
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted(made[-2:] + ["notes", "2000-01-01T000000.000Z"]), left


def test_backup_script_refuses_bad_settings_and_keeps_every_backup_when_the_backup_fails(kringd, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    for _ in range(2):
        assert run_backup(kringd, folder, keep=2).returncode == 0
    made = sorted(folder.iterdir())
    assert len(made) == 2
    for keep in ("0", "-1", "two", "1x"):
        r = run_backup(kringd, folder, keep=keep)
        assert r.returncode == 2 and "KRING_BACKUP_KEEP" in r.stderr, (keep, r.stderr)
    r = run_backup(kringd, tmp_path / "missing", keep=1)
    assert r.returncode == 2 and "KRING_BACKUP_DIR" in r.stderr, r.stderr
    # kringd unreachable: the backup fails, and retention (keep 1 of the 2) removes nothing.
    r = run_backup("127.0.0.1:1", folder, keep=1)
    assert r.returncode != 0
    assert sorted(folder.iterdir()) == made
