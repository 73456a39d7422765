"""Provenance on every result and frame, CSV exports that start with it, and
verify() recomputing answer_sha256 (decisions: deterministic serialization
with provenance cleared)."""

import io

import pandas as pd
import pytest

from fake_answers import cost_benefit_by_year, network_size_overall, outcomes_by_year, seal, support_two_way
from kring_research import (CostBenefitResult, NetworkSizeResult, OutcomesResult, SupportResult, read_csv,
                            research_pb2 as pb)
from kring_research import provenance as prov

FIELDS = ["log_position", "min_cell_size", "disclosure_method", "filters_json", "definition_version",
          "cost_model_version", "answer_sha256", "server_version"]

RESULTS = [(SupportResult, support_two_way), (OutcomesResult, outcomes_by_year),
           (CostBenefitResult, cost_benefit_by_year), (NetworkSizeResult, network_size_overall)]


@pytest.mark.parametrize("cls, make", RESULTS)
def test_every_result_and_every_frame_carries_the_provenance(cls, make):
    response = make()
    res = cls.from_response(response)
    assert list(res.provenance) == FIELDS
    assert res.provenance["answer_sha256"] == response.provenance.answer_sha256
    assert res.provenance["log_position"] == 510 and res.provenance["min_cell_size"] == 10
    assert res.provenance["definition_version"].endswith("/2")
    for name, df in res.frames().items():
        assert df.attrs["provenance"] == res.provenance, name


def test_cost_model_version_is_in_the_cost_benefit_provenance():
    res = CostBenefitResult.from_response(cost_benefit_by_year())
    assert res.provenance["cost_model_version"] == "SYNTHETIC-model-1"


@pytest.mark.parametrize("cls, make", RESULTS)
def test_verify_accepts_the_servers_hash(cls, make):
    assert cls.from_response(make()).verify() is True


def test_verify_detects_a_changed_figure_a_wrong_hash_and_a_missing_one():
    changed = support_two_way()
    changed.groups[0].survival_12m = 0.85  # after the hash was taken
    assert SupportResult.from_response(changed).verify() is False
    wrong = support_two_way()
    wrong.provenance.answer_sha256 = "0" * 64
    assert SupportResult.from_response(wrong).verify() is False
    none = support_two_way()
    none.ClearField("provenance")
    assert SupportResult.from_response(none).verify() is False  # nothing to check against


def test_the_hash_covers_the_answer_not_the_provenance():
    a = support_two_way()
    b = seal(support_two_way(), log_position=999, server_version="other", filters_json="{}")
    assert a.provenance.answer_sha256 == b.provenance.answer_sha256
    assert prov.answer_sha256(b) == a.provenance.answer_sha256
    assert SupportResult.from_response(b).verify()


def test_csv_starts_with_one_comment_line_per_provenance_field(tmp_path):
    res = SupportResult.from_response(support_two_way())
    path = tmp_path / "support.csv"
    assert res.to_csv(path) is None
    lines = path.read_text().splitlines()
    assert lines[:len(FIELDS)] == [f"# {f}: {res.provenance[f]}" for f in FIELDS]
    assert lines[0] == "# log_position: 510"
    assert lines[3] == '# filters_json: {"group_by":"GROUPING_YEAR","then_by":"GROUPING_DOMAIN"}'
    assert lines[5] == "# cost_model_version: "
    assert lines[len(FIELDS)] == ",".join(res.table.columns)  # then the CSV header


def test_csv_reads_back_with_pandas_comment_and_keeps_the_figures(tmp_path):
    res = SupportResult.from_response(support_two_way())
    path = tmp_path / "curve.csv"
    res.to_csv(path, table="curve")
    back = pd.read_csv(path, comment="#")
    assert list(back.columns) == list(res.curve.columns)
    assert back["survival"].tolist() == res.curve["survival"].tolist()
    assert back["key2"].tolist() == res.curve["key2"].tolist()
    again = read_csv(path)
    assert again.attrs["provenance"] == res.provenance
    assert again["day"].tolist() == res.curve["day"].tolist()


def test_csv_to_text_or_an_open_file_and_of_the_comparisons():
    res = OutcomesResult.from_response(outcomes_by_year())
    text = res.to_csv(table="comparisons")
    assert text.startswith("# log_position: 510\n# min_cell_size: 10\n")
    assert "\ngroup,measure,item,estimate,ci_lower,ci_upper,method\n" in text
    buf = io.StringIO()
    res.to_csv(buf)
    assert buf.getvalue().splitlines()[len(FIELDS)].startswith("group,outcome,referred_cases")


def test_csv_of_an_unknown_frame_is_refused():
    res = OutcomesResult.from_response(outcomes_by_year())
    with pytest.raises(ValueError, match=r"^table: 'curve' is not a frame of OutcomesResult; expected one of table"):
        res.to_csv(table="curve")


def test_a_line_break_in_a_value_cannot_end_the_comment():
    r = seal(pb.FunnelResponse(), filters_json='{\n "group_by": "GROUPING_YEAR"\n}')
    lines = prov.header_lines(prov.to_dict(r))
    assert all(line.startswith("# ") for line in lines) and len(lines) == len(FIELDS)
    assert lines[3] == '# filters_json: {  "group_by": "GROUPING_YEAR" }'
