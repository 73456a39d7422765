"""Unit tests without a server: arguments, enums, optional -> NA, frame shapes."""

import json
import math

import pandas as pd
import pytest

from kring_research import (
    CostBenefitResult,
    FunnelResult,
    NetworkSizeResult,
    OutcomesResult,
    SupportResult,
    events_pb2 as ev,
    research_pb2 as pb,
)
from kring_research import _convert as cv

PRIMARY, SECONDARY = pb.SUPPRESSION_PRIMARY, pb.SUPPRESSION_SECONDARY

# ---------------------------------------------------------------------------
# Enums and arguments
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["youth_protection", "YOUTH_PROTECTION", "DOMAIN_YOUTH_PROTECTION", "domain_youth_protection",
              "youth-protection", ev.DOMAIN_YOUTH_PROTECTION])
def test_domain_names(value):
    assert cv.parse_enum(ev.Domain.DESCRIPTOR, value, "domains") == ev.DOMAIN_YOUTH_PROTECTION


def test_unknown_enum_names_the_argument():
    with pytest.raises(ValueError, match=r"^domains\[1\]: unknown value 'youth'.*youth_protection"):
        cv.parse_enum_list(ev.Domain.DESCRIPTOR, ["housing", "youth"], "domains")
    with pytest.raises(ValueError, match=r"^legal_frameworks\[0\]: unknown value 'jeugd'"):
        cv.fill_selection(pb.OutcomesRequest(), legal_frameworks=["jeugd"])
    with pytest.raises(ValueError, match=r"^group_by: unknown value 'week'"):
        cv.parse_group_by("week")
    with pytest.raises(ValueError, match=r"^domains\[0\]: unknown value 99"):
        cv.parse_enum_list(ev.Domain.DESCRIPTOR, [99], "domains")
    with pytest.raises(ValueError, match=r"^domains\[0\]"):
        cv.parse_enum_list(ev.Domain.DESCRIPTOR, [True], "domains")


def test_group_by():
    assert cv.parse_group_by(None) == pb.GROUPING_UNSPECIFIED
    assert cv.parse_group_by("none") == pb.GROUPING_UNSPECIFIED
    assert cv.parse_group_by("year") == pb.GROUPING_YEAR
    assert cv.parse_group_by("GROUPING_QUARTER") == pb.GROUPING_QUARTER
    assert cv.parse_group_by("legal_framework") == pb.GROUPING_LEGAL_FRAMEWORK
    assert cv.parse_group_by("Municipality") == pb.GROUPING_MUNICIPALITY


def test_enum_labels():
    assert cv.enum_prefix(ev.PreparationStopReason.DESCRIPTOR) == "PREPARATION_STOP_REASON_"
    assert cv.enum_label(ev.OutcomeType.DESCRIPTOR, ev.OUTCOME_TYPE_OTS_PREVENTED) == "ots_prevented"
    assert cv.enum_label(pb.Suppression.DESCRIPTOR, pb.SUPPRESSION_NONE) == ""
    assert cv.enum_label(pb.Suppression.DESCRIPTOR, PRIMARY) == "primary"
    assert cv.enum_label(pb.Suppression.DESCRIPTOR, SECONDARY) == "secondary"
    assert cv.enum_label(ev.Relation.DESCRIPTOR, ev.RELATION_UNSPECIFIED) == "unspecified"
    assert cv.enum_label(ev.Relation.DESCRIPTOR, 77) == "77"  # a newer server's value


@pytest.mark.parametrize("cls", [pb.NetworkSizeRequest, pb.OutcomesRequest, pb.CostBenefitRequest,
                                 pb.SupportRequest, pb.FunnelRequest])
def test_selection_on_every_request(cls):
    import datetime

    r = cv.fill_selection(
        cls(), group_by="year", domains=["youth_protection", "HOUSING"], municipality_codes="GM0363",
        legal_frameworks=["jeugdwet"], referral_period=("2020-01-01", datetime.date(2021, 12, 31)),
        conference_period=(None, "2022-06-30"), min_cell_size=10, as_of_position=1234)
    assert list(r.domains) == [ev.DOMAIN_YOUTH_PROTECTION, ev.DOMAIN_HOUSING]
    assert list(r.municipality_codes) == ["GM0363"]
    assert list(r.legal_frameworks) == [ev.LEGAL_FRAMEWORK_JEUGDWET]
    assert getattr(r.referral_period, "from") == "2020-01-01" and r.referral_period.to == "2021-12-31"
    assert getattr(r.conference_period, "from") == "" and r.conference_period.to == "2022-06-30"
    assert r.group_by == pb.GROUPING_YEAR
    assert r.disclosure.min_cell_size == 10
    assert r.as_of_position == 1234
    # The selection is fields 1-8 on every request.
    numbers = {f.name: f.number for f in cls.DESCRIPTOR.fields}
    assert {k: numbers[k] for k in ("domains", "municipality_codes", "conference_period", "group_by",
                                    "as_of_position", "legal_frameworks", "referral_period",
                                    "disclosure")} == {
        "domains": 1, "municipality_codes": 2, "conference_period": 3, "group_by": 4,
        "as_of_position": 5, "legal_frameworks": 6, "referral_period": 7, "disclosure": 8}


def test_defaults_leave_the_request_empty():
    r = cv.fill_selection(pb.NetworkSizeRequest())
    assert r.SerializeToString() == b""


@pytest.mark.parametrize("kw, match", [
    (dict(referral_period="2020-01-01"), r"^referral_period: expected a pair"),
    (dict(referral_period=("2020-13-01", None)), r"^referral_period\[0\]: expected a date"),
    (dict(conference_period=("2021-01-01", "2020-01-01")), r"^conference_period: from 2021-01-01 lies after"),
    (dict(min_cell_size=-1), r"^min_cell_size: expected a whole number"),
    (dict(min_cell_size="10"), r"^min_cell_size: expected a whole number"),
    (dict(as_of_position=1.5), r"^as_of_position: expected a whole number"),
    (dict(municipality_codes=[363]), r"^municipality_codes\[0\]: expected a string"),
])
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        cv.fill_selection(pb.NetworkSizeRequest(), **kw)


def test_min_cell_size_is_passed_through_for_the_server_to_judge():
    # k in 1..4 is refused by the server (with the field path), not here.
    assert cv.fill_selection(pb.NetworkSizeRequest(), min_cell_size=3).disclosure.min_cell_size == 3


def test_pandas_timestamp_and_numpy_int():
    import numpy as np

    r = cv.fill_selection(pb.FunnelRequest(), referral_period=(pd.Timestamp("2020-02-03 10:00"), None),
                          as_of_position=np.int64(7))
    assert getattr(r.referral_period, "from") == "2020-02-03"
    assert r.as_of_position == 7


# ---------------------------------------------------------------------------
# Network size
# ---------------------------------------------------------------------------


def network_size_response():
    r = pb.NetworkSizeResponse()
    o = r.overall
    o.conferences, o.mean, o.median, o.p10, o.p25, o.p75, o.p90 = 40, 10.5, 10, 5, 7, 14, 17
    o.central_persons_mean = 1.2
    o.histogram.add(size=9, conferences=12)
    o.histogram.add(size=10, suppression=PRIMARY)  # conferences absent
    o.composition.add(relation=ev.RELATION_FAMILY, attendees=300, mean_per_conference=7.5, share=0.7,
                      conferences=40)
    o.composition.add(relation=ev.RELATION_NEIGHBOUR, suppression=PRIMARY)
    g = r.groups.add(key="2020")
    g.stats.conferences, g.stats.mean, g.stats.median = 33, 10.0, 10.0
    g.stats.histogram.add(size=9, conferences=11)
    g = r.groups.add(key="2021")
    g.stats.suppression = PRIMARY  # every figure absent
    r.watermark.events_applied, r.watermark.max_global_position = 500, 510
    r.definition = "distinct non-professional attendees"
    r.disclosure.min_cell_size, r.disclosure.primary_cells, r.disclosure.secondary_cells = 10, 3, 0
    r.disclosure.method, r.disclosure.ptable_version, r.disclosure.max_count_perturbation = \
        "cell key", "kring-ptable-1", 2
    r.disclosure.sum_rule = "X' = X + q * X / c"
    r.as_of_position = 510
    return r


def test_network_size_frames():
    res = NetworkSizeResult.from_response(network_size_response())
    t = res.table
    assert list(t.columns) == ["group", "conferences", "mean", "mean_ci_lower", "mean_ci_upper", "median", "p10",
                               "p25", "p75", "p90", "central_persons_mean", "central_persons_mean_ci_lower",
                               "central_persons_mean_ci_upper", "suppression"]
    assert list(t["group"]) == ["all", "2020", "2021"]
    assert str(t["conferences"].dtype) == "Int64" and str(t["mean"].dtype) == "float64"
    assert t.loc[0, "conferences"] == 40 and t.loc[0, "mean"] == 10.5
    assert t.loc[2, "conferences"] is pd.NA
    assert math.isnan(t.loc[2, "mean"]) and math.isnan(t.loc[1, "p10"])  # absent -> NaN
    assert list(t["suppression"]) == ["", "", "primary"]
    assert t["conferences"].sum() == 73  # NA skipped

    h = res.histogram
    assert list(h.columns) == ["group", "size", "conferences", "suppression"]
    assert list(h["group"]) == ["all", "all", "2020"]
    assert h.loc[1, "conferences"] is pd.NA and h.loc[1, "suppression"] == "primary"
    assert str(h["size"].dtype) == "int64"

    c = res.composition
    assert list(c.columns) == ["group", "relation", "attendees", "mean_per_conference",
                               "mean_per_conference_ci_lower", "mean_per_conference_ci_upper", "share",
                               "share_ci_lower", "share_ci_upper", "conferences", "suppression"]
    assert list(c["relation"]) == ["family", "neighbour"]
    assert c.loc[1, "attendees"] is pd.NA and math.isnan(c.loc[1, "share"])

    assert res.watermark == {"events_applied": 500, "max_global_position": 510}
    assert res.disclosure == {"min_cell_size": 10, "primary_cells": 3, "secondary_cells": 0,
                              "method": "cell key", "ptable_version": "kring-ptable-1",
                              "max_count_perturbation": 2, "sum_rule": "X' = X + q * X / c"}
    assert res.definition.startswith("distinct") and res.as_of_position == 510
    assert list(res.frames()) == ["table", "histogram", "composition", "comparisons"]
    assert repr(res) == ("NetworkSizeResult(table[3], histogram[3], composition[2]; events_applied=500, "
                         "as_of_position=510, k=10, perturbation=cell key kring-ptable-1 (counts within +-2))")


def test_empty_answer_is_typed():
    res = NetworkSizeResult.from_response(pb.NetworkSizeResponse())
    assert len(res.table) == 1 and res.table.loc[0, "group"] == "all"
    assert res.table.loc[0, "conferences"] is pd.NA  # an all-default overall: nothing present
    assert len(res.histogram) == 0 and list(res.histogram.columns) == ["group", "size", "conferences",
                                                                        "suppression"]
    assert str(res.histogram["conferences"].dtype) == "Int64"


# ---------------------------------------------------------------------------
# Outcomes, cost-benefit, support, funnel
# ---------------------------------------------------------------------------


def test_outcomes_frames():
    r = pb.OutcomesResponse()
    for key, group in (("", r.overall), ("2020", r.groups.add())):
        group.key = key
        group.referred, group.conferences = 100, 80
        group.outcomes.add(outcome=ev.OUTCOME_TYPE_OTS_PREVENTED, referred_cases=20, conference_cases=18,
                           per_100_referrals=20.0, per_100_conferences=22.5)
        group.outcomes.add(outcome=ev.OUTCOME_TYPE_OTS_LIFTED, referred_suppression=PRIMARY,
                           conference_suppression=SECONDARY)
    r.groups[0].ClearField("conferences")
    r.groups[0].conferences_suppression = SECONDARY
    res = OutcomesResult.from_response(r)
    t = res.table
    assert list(t.columns) == ["group", "outcome", "referred_cases", "referred_suppression", "conference_cases",
                               "conference_suppression", "per_100_referrals", "per_100_referrals_ci_lower",
                               "per_100_referrals_ci_upper", "per_100_conferences", "per_100_conferences_ci_lower",
                               "per_100_conferences_ci_upper"]
    assert t.shape == (4, 12)
    assert list(t["group"]) == ["all", "all", "2020", "2020"]
    assert list(t["outcome"]) == ["ots_prevented", "ots_lifted"] * 2
    assert t.loc[1, "referred_cases"] is pd.NA and t.loc[1, "referred_suppression"] == "primary"
    assert t.loc[1, "conference_suppression"] == "secondary" and math.isnan(t.loc[1, "per_100_conferences"])
    g = res.groups
    assert list(g.columns) == ["group", "referred", "referred_suppression", "conferences",
                               "conferences_suppression"]
    assert list(g["group"]) == ["all", "2020"]
    assert g.loc[1, "conferences"] is pd.NA and g.loc[1, "conferences_suppression"] == "secondary"
    # Pivot-friendly: one column per outcome.
    wide = t.pivot(index="group", columns="outcome", values="referred_cases")
    assert wide.loc["all", "ots_prevented"] == 20


def test_cost_benefit_frames():
    r = pb.CostBenefitResponse()
    o = r.overall
    o.conferences, o.conference_costs_cents, o.conferences_with_recorded_cost = 50, 50 * 250000, 4
    o.gross_savings_cents, o.net_savings_cents, o.net_savings_per_conference_cents = 30000000, 17500000, 350000
    o.lines.add(outcome=ev.OUTCOME_TYPE_EVICTION_PREVENTED, cases=12, units=12, savings_cents=12 * 700000)
    o.lines.add(outcome=ev.OUTCOME_TYPE_OTS_PREVENTED, suppression=PRIMARY)
    g = r.groups.add(key="2021", conferences_suppression=PRIMARY)
    r.cost_model.version, r.cost_model.currency = "2026-12-01", "EUR"
    r.cost_model.savings.add(outcome=ev.OUTCOME_TYPE_EVICTION_PREVENTED, amount_cents=700000, source="x")
    res = CostBenefitResult.from_response(r)
    # (Fields the proto adds later follow as further columns.)
    assert list(res.table.columns)[:8] == ["group", "conferences", "conferences_suppression",
                                           "conference_costs_cents", "conferences_with_recorded_cost",
                                           "gross_savings_cents", "net_savings_cents",
                                           "net_savings_per_conference_cents"]
    assert list(res.table["group"]) == ["all", "2021"]
    assert res.table.loc[1, "net_savings_cents"] is pd.NA and res.table.loc[1, "conferences_suppression"] == "primary"
    assert list(res.lines.columns) == ["group", "outcome", "cases", "suppression", "units", "savings_cents"]
    assert res.lines.loc[0, "savings_cents"] == 8400000 and res.lines.loc[1, "savings_cents"] is pd.NA
    assert res.cost_model["version"] == "2026-12-01"
    assert res.cost_model["savings"][0]["outcome"] == "eviction_prevented"
    assert res.cost_model["savings"][0]["amount_cents"] == 700000
    del g


def test_support_frames():
    r = pb.SupportResponse()
    o = r.overall
    o.cases, o.survival_12m, o.survival_24m = 60, 0.8, 0.6
    for m in (6, 12, 24):
        o.retention.add(months=m, cases=40, mean_retention=0.9)
    o.retention[2].ClearField("cases")
    o.retention[2].ClearField("mean_retention")
    o.retention[2].suppression = PRIMARY
    o.curve.add(day=0, at_risk=60, survival=1.0, lower_95=1.0, upper_95=1.0)
    o.curve.add(day=30, at_risk=60, events=3, censored=1, survival=0.95, lower_95=0.86, upper_95=0.98)
    r.groups.add(key="2020", suppression=PRIMARY, curve_truncated=True)
    res = SupportResult.from_response(r)
    assert list(res.table.columns) == ["group", "cases", "suppression", "survival_12m", "survival_12m_ci_lower",
                                       "survival_12m_ci_upper", "survival_24m", "survival_24m_ci_lower",
                                       "survival_24m_ci_upper", "curve_truncated", "rmst_24m_days",
                                       "rmst_24m_ci_lower", "rmst_24m_ci_upper"]
    assert list(res.table["group"]) == ["all", "2020"]
    assert res.table.loc[1, "cases"] is pd.NA and math.isnan(res.table.loc[1, "survival_12m"])
    assert bool(res.table.loc[1, "curve_truncated"]) is True
    assert list(res.retention.columns) == ["group", "months", "cases", "suppression", "mean_retention",
                                           "mean_retention_ci_lower", "mean_retention_ci_upper"]
    assert list(res.retention["months"]) == [6, 12, 24]
    assert res.retention.loc[2, "cases"] is pd.NA and res.retention.loc[2, "suppression"] == "primary"
    assert list(res.curve.columns) == ["group", "day", "at_risk", "events", "censored", "survival", "lower_95",
                                       "upper_95"]
    assert res.curve.shape == (2, 8) and list(res.curve["group"]) == ["all", "all"]
    assert str(res.curve["at_risk"].dtype) == "int64"


def test_funnel_frames():
    r = pb.FunnelResponse()
    for key, group in (("", r.overall), ("GM0363", r.groups.add())):
        group.key = key
        for step, n in ((pb.FUNNEL_STEP_REFERRED, 100), (pb.FUNNEL_STEP_CONFERENCE_HELD, 70)):
            group.steps.add(step=step, cases=n, share_of_referred=n / 100)
        group.stop_reasons.add(reason=ev.PREPARATION_STOP_REASON_FAMILY_DECLINED, cases=12)
        group.stop_reasons.add(reason=ev.PREPARATION_STOP_REASON_OTHER, suppression=PRIMARY)
        group.plan_right.protection_cases = 40
        group.plan_right.plan_offered = 30
        group.plan_right.made_suppression = SECONDARY
        group.plan_right.share_offered = 0.75
        group.plan_rejected = 11
    r.groups[0].ClearField("plan_rejected")
    r.groups[0].plan_rejected_suppression = PRIMARY
    res = FunnelResult.from_response(r)
    assert list(res.steps.columns) == ["group", "step", "cases", "suppression", "share_of_referred",
                                       "share_of_referred_ci_lower", "share_of_referred_ci_upper",
                                       "median_days_from_previous"]
    assert list(res.steps["step"]) == ["referred", "conference_held"] * 2
    assert list(res.stop_reasons["reason"]) == ["family_declined", "other"] * 2
    assert res.stop_reasons.loc[1, "cases"] is pd.NA
    pr = res.plan_right
    assert list(pr.columns) == ["group", "protection_cases", "protection_suppression", "plan_offered",
                                "offered_suppression", "plan_made", "made_suppression", "share_offered",
                                "share_offered_ci_lower", "share_offered_ci_upper", "share_made",
                                "share_made_ci_lower", "share_made_ci_upper"]
    assert list(pr["group"]) == ["all", "GM0363"]
    assert pr.loc[0, "plan_made"] is pd.NA and pr.loc[0, "made_suppression"] == "secondary"
    t = res.table
    assert list(t.columns)[:3] == ["group", "plan_rejected", "plan_rejected_suppression"]
    assert list(t.columns)[3:] == list(pr.columns)[1:]
    assert t.loc[0, "plan_rejected"] == 11 and t.loc[1, "plan_rejected"] is pd.NA
    assert t.loc[1, "plan_rejected_suppression"] == "primary"


# ---------------------------------------------------------------------------
# Cost models
# ---------------------------------------------------------------------------

MODEL = {
    "version": "test-1",
    "currency": "EUR",
    "conference_cost_cents": 250000,
    "conference_cost_source": "test",
    "savings": [
        {"outcome": "eviction_prevented", "amount_cents": 700000, "source": "a"},
        {"outcome": "OUTCOME_TYPE_OTS_PREVENTED", "amountCents": "1200000", "perChild": True, "source": "b"},
    ],
    "professional_input_reduction": 0.19,
}


def test_cost_model_from_dict_and_file(tmp_path):
    m = cv.load_cost_model(MODEL)
    assert m.conference_cost_cents == 250000
    assert m.savings[0].outcome == ev.OUTCOME_TYPE_EVICTION_PREVENTED
    assert m.savings[1].amount_cents == 1200000 and m.savings[1].per_child
    path = tmp_path / "model.json"
    path.write_text(json.dumps(MODEL))
    assert cv.load_cost_model(path) == m
    assert cv.load_cost_model(str(path)) == m
    # The dict an answer reports is accepted back.
    assert cv.load_cost_model(cv.message_to_dict(m)) == m


@pytest.mark.parametrize("model, match", [
    ({"versoin": "x"}, r"^cost_model\.versoin: unknown field of CostModel"),
    ({"savings": [{"outcome": "nope"}]}, r"^cost_model\.savings\[0\]\.outcome: unknown value 'nope'"),
    ({"savings": [{"amount_cents": "12.5"}]}, r"^cost_model\.savings\[0\]\.amount_cents: expected a whole"),
    ({"savings": {"outcome": "ots_prevented"}}, r"^cost_model\.savings: expected a list"),
    ({"currency": 978}, r"^cost_model\.currency: expected a string"),
])
def test_cost_model_errors(model, match):
    with pytest.raises(ValueError, match=match):
        cv.load_cost_model(model)


def test_notes_are_skipped():
    m = cv.load_cost_model({"version": "v", "note": "why", "_comment": 1,
                            "savings": [{"outcome": "ots_lifted", "$source": "x", "comment": "y"}]})
    assert m.version == "v" and m.savings[0].outcome == ev.OUTCOME_TYPE_OTS_LIFTED


def test_the_built_in_model_file_loads():
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "projections" / "cost_model.json"
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout")
    m = cv.load_cost_model(path)
    assert m.version and m.currency == "EUR" and len(m.savings) > 0


def test_cost_model_file_errors(tmp_path):
    with pytest.raises(ValueError, match=r"^cost_model: cannot read"):
        cv.load_cost_model(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ValueError, match=r"is not valid JSON"):
        cv.load_cost_model(bad)
