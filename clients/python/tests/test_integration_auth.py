"""Integration: the Client's token against a real kringd with an identities
file (skipped without $KRING_KRINGD): a researcher's token is answered, a
partner's is PERMISSION_DENIED, none is UNAUTHENTICATED."""

import hashlib
import json
import secrets
import signal
import subprocess
import time

import grpc
import pytest

from conftest import _binary, _tail
from kring_research import Client, ResearchError


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    kringd = _binary("KRING_KRINGD")
    base = tmp_path_factory.mktemp("kringd-auth")
    tokens = {role: "krt_" + secrets.token_urlsafe(32) for role in ("researcher", "partner")}
    identities = base / "identities"
    identities.write_text("".join(f"{role} test-{role} sha256:{hashlib.sha256(t.encode()).hexdigest()}\n"
                                  for role, t in tokens.items()))
    ready, log = base / "ready.json", base / "kringd.log"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen([kringd, "--data-dir", str(base / "data"), "--listen", "127.0.0.1:0",
                                 "--ready-file", str(ready), "--identities", str(identities),
                                 "--embedded-kafka-in-production"],
                                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"kringd did not start:\n{_tail(log)}")
            time.sleep(0.05)
        yield json.loads(ready.read_text())["grpc"], tokens
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_a_researchers_token_is_answered(secured):
    address, tokens = secured
    with Client(address, token=tokens["researcher"], timeout=30) as client:
        assert list(client.network_size().table["group"]) == ["all"]


def test_a_partners_token_is_permission_denied(secured):
    address, tokens = secured
    with Client(address, token=tokens["partner"], timeout=30) as client, pytest.raises(ResearchError) as e:
        client.network_size()
    assert e.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "researcher role" in e.value.details


def test_no_token_is_unauthenticated(secured, monkeypatch):
    address, _ = secured
    monkeypatch.delenv("KRING_TOKEN", raising=False)
    with Client(address, token="", timeout=30) as client, pytest.raises(ResearchError) as e:
        client.network_size()
    assert e.value.code == grpc.StatusCode.UNAUTHENTICATED
