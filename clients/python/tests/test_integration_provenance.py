"""Provenance of real answers (fixture `kring` in conftest.py): verify()
recomputes the server's answer_sha256, the fields say what the answer is,
and the client's CSV starts with the same provenance lines as kringctl's."""

import json
import os
import subprocess

import pytest

METHODS = {
    "network_size": ("network-size", "network-size/2"),
    "outcomes": ("outcomes", "outcomes/2"),
    "cost_benefit": ("cost-benefit", "cost-benefit/2"),
    "sustained_support": ("support", "support/2"),
    "funnel": ("funnel", "funnel/2"),
}


@pytest.mark.parametrize("method", list(METHODS))
def test_every_answer_verifies_and_says_what_it_is(kring, method):
    res = getattr(kring.client, method)(group_by="year", then_by="domain", min_cell_size=11)
    p = res.provenance
    assert res.verify() is True
    assert len(p["answer_sha256"]) == 64 and p["answer_sha256"] == p["answer_sha256"].lower()
    assert p["log_position"] == res.watermark["max_global_position"] > 0
    assert p["min_cell_size"] == res.disclosure["min_cell_size"] == 11
    assert p["definition_version"] == METHODS[method][1]
    assert json.loads(p["filters_json"]) == {"group_by": "GROUPING_YEAR", "then_by": "GROUPING_DOMAIN"}
    assert p["disclosure_method"].startswith("threshold suppression")
    assert p["server_version"]
    assert p["cost_model_version"] == (res.cost_model["version"] if method == "cost_benefit" else "")
    for df in res.frames().values():
        assert df.attrs["provenance"] == p


def test_a_changed_answer_no_longer_verifies(kring):
    res = kring.client.sustained_support(group_by="year")
    assert res.verify()
    res.response.overall.cases += 1
    assert not res.verify()


def test_as_of_answer_names_its_position(kring):
    position = kring.client.network_size().watermark["max_global_position"] // 2
    res = kring.client.funnel(as_of_position=position)
    assert res.provenance["log_position"] == position and res.verify()
    assert json.loads(res.provenance["filters_json"]) == {"as_of_position": str(position)}


@pytest.mark.parametrize("method", ["sustained_support", "cost_benefit"])
def test_csv_provenance_lines_equal_kringctls(kring, tmp_path, method):
    position = kring.client.network_size().watermark["max_global_position"]
    res = getattr(kring.client, method)(group_by="domain", as_of_position=position)
    mine = res.to_csv(None).splitlines()[:8]
    out = subprocess.run(
        [os.environ["KRING_KRINGCTL"], "--server", kring.address, "research", METHODS[method][0], "--group-by",
         "domain", "--as-of", str(position), "--format", "csv"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    theirs = out.stdout.splitlines()[:8]
    assert mine == theirs
