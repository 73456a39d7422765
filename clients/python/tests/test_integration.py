"""Integration tests: the Client against a real kringd with a SYNTHETIC cohort
(fixture `kring` in conftest.py; skipped without $KRING_KRINGD/$KRING_KRINGCTL,
which ctest sets, and under ctest a skip fails: see conftest.py).

Every research RPC must be served: UNIMPLEMENTED fails the test."""

import grpc
import numpy as np
import pandas as pd
import pytest

from kring_research import ResearchError, events_pb2 as ev
from kring_research import _convert as cv

OUTCOME_LABELS = {cv.enum_label(ev.OutcomeType.DESCRIPTOR, v.number) for v in ev.OutcomeType.DESCRIPTOR.values}


def call(fn, **kwargs):
    """Calls a Client method; fails the test, saying so, if the server lacks
    the RPC."""
    try:
        return fn(**kwargs)
    except ResearchError as e:
        if e.code == grpc.StatusCode.UNIMPLEMENTED:
            pytest.fail(f"the server does not implement {e.method} (UNIMPLEMENTED: {e.details})")
        raise


def assert_same(a, b):
    """Two results are identical: every frame and the metadata."""
    for name, value in vars(a).items():
        if name == "response":
            assert a.response == b.response
        elif isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(value, getattr(b, name), obj=name)
        else:
            assert value == getattr(b, name), name


def head_position(kring):
    return kring.client.network_size().watermark["max_global_position"]


# ---------------------------------------------------------------------------
# Network size
# ---------------------------------------------------------------------------


def test_network_size_overall(kring):
    res = kring.client.network_size()
    t = res.table
    assert list(t["group"]) == ["all"]
    conferences, mean = t.loc[0, "conferences"], t.loc[0, "mean"]
    assert conferences > 0
    assert 5 <= mean <= 20
    assert t.loc[0, "p10"] <= t.loc[0, "median"] <= t.loc[0, "p90"]
    assert res.watermark["events_applied"] == kring.appended
    assert res.as_of_position == 0
    assert res.definition
    assert res.disclosure["min_cell_size"] == 10  # the server's default k
    assert res.disclosure["method"] == "cell key" and res.disclosure["ptable_version"] == "kring-ptable-1"
    assert res.disclosure["max_count_perturbation"] == 2
    assert len(res.histogram) > 0 and (res.histogram["group"] == "all").all()
    assert res.histogram["size"].max() <= 30
    shown = res.histogram["conferences"].dropna()
    # Each published count lies within 2 of its exact value (the cell key
    # method), so the shown bins add up to at most the total plus that slack.
    assert shown.sum() <= conferences + 2 * (len(shown) + 1)
    assert set(res.composition["relation"]) <= {"unspecified", "family", "friend", "neighbour", "community",
                                               "professional"}


def test_network_size_by_year(kring):
    overall = kring.client.network_size().table.loc[0, "conferences"]
    t = kring.client.network_size(group_by="year").table
    assert t.loc[0, "group"] == "all" and t.loc[0, "conferences"] == overall
    years = t["group"].iloc[1:]
    assert len(years) >= 3, t
    assert all(len(y) == 4 and y.isdigit() for y in years), list(years)
    assert list(years) == sorted(years)
    # Suppressed years are NA; the shown ones never add up past the total,
    # but for the perturbation of each count (at most 2).
    assert t["conferences"].iloc[1:].sum() <= overall + 2 * len(years) + 2
    for _, row in t.iterrows():
        assert (row["suppression"] == "") == (row["conferences"] is not pd.NA), row


def test_network_size_filters(kring):
    c = kring.client
    overall = c.network_size().table.loc[0, "conferences"]
    youth = c.network_size(domains=["youth_protection"], min_cell_size=5).table.loc[0]
    assert youth["conferences"] is pd.NA or 0 < youth["conferences"] <= overall
    by_domain = c.network_size(group_by="domain").table
    assert all(k.startswith("DOMAIN_") for k in by_domain["group"].iloc[1:]), list(by_domain["group"])
    early = c.network_size(conference_period=(None, "2020-12-31")).table.loc[0, "conferences"]
    assert early is pd.NA or early < overall


def test_min_cell_size_below_five_is_refused(kring):
    with pytest.raises(ResearchError) as info:
        kring.client.network_size(min_cell_size=3)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "disclosure.min_cell_size" in info.value.details


def test_larger_k_suppresses_more(kring):
    c = kring.client
    small = c.network_size(group_by="quarter", min_cell_size=5)
    large = c.network_size(group_by="quarter", min_cell_size=50)
    assert large.disclosure["min_cell_size"] == 50
    assert large.table["conferences"].isna().sum() >= small.table["conferences"].isna().sum()
    assert large.disclosure["primary_cells"] >= small.disclosure["primary_cells"]


def test_network_size_as_of_position_is_reproducible(kring):
    c = kring.client
    position = head_position(kring)
    first = c.network_size(group_by="year", as_of_position=position)
    second = c.network_size(group_by="year", as_of_position=position)
    assert first.as_of_position == position
    assert_same(first, second)
    # Every event is applied, so the replay equals the live read model.
    live = c.network_size(group_by="year")
    pd.testing.assert_frame_equal(first.table, live.table)
    # An earlier position is a smaller (or equal) world.
    earlier = c.network_size(as_of_position=position // 2)
    assert earlier.watermark["max_global_position"] <= position // 2
    e, w = earlier.table.loc[0, "conferences"], live.table.loc[0, "conferences"]
    assert e is pd.NA or e <= w


def test_as_of_beyond_the_head_is_refused(kring):
    with pytest.raises(ResearchError) as info:
        kring.client.network_size(as_of_position=head_position(kring) + 1000)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "as_of_position" in info.value.details


# ---------------------------------------------------------------------------
# Outcomes, cost-benefit, sustained support, funnel
# ---------------------------------------------------------------------------


def test_outcomes(kring):
    res = call(kring.client.outcomes)
    g = res.groups
    assert list(g["group"]) == ["all"]
    referred, conferences = g.loc[0, "referred"], g.loc[0, "conferences"]
    # Published counts are the exact ones within 2 (the cell key method), so
    # a count contained in another is at most 4 above it.
    slack = 2 * 2
    assert 0 < referred <= 300 + 2
    assert 0 < conferences <= referred + slack
    t = res.table
    assert len(t) > 0 and (t["group"] == "all").all()
    assert set(t["outcome"]) <= OUTCOME_LABELS
    shown = t.dropna(subset=["referred_cases", "conference_cases"])
    assert (shown["conference_cases"] <= shown["referred_cases"] + slack).all()
    assert (shown["referred_cases"] <= referred + slack).all()
    rates = t["per_100_referrals"].dropna()
    assert ((rates >= 0) & (rates <= 100 * (referred + slack) / referred)).all()


def test_outcomes_by_year(kring):
    res = call(kring.client.outcomes, group_by="year")
    groups = list(res.groups["group"])
    assert groups[0] == "all" and len(groups) >= 3
    assert list(res.table["group"].unique()) == groups


def test_cost_benefit(kring):
    res = call(kring.client.cost_benefit)
    t = res.table
    assert list(t["group"]) == ["all"]
    assert t.loc[0, "conferences"] > 0
    assert t.loc[0, "conference_costs_cents"] > 0
    gross, net, costs = t.loc[0, "gross_savings_cents"], t.loc[0, "net_savings_cents"], t.loc[0, "conference_costs_cents"]
    if gross is not pd.NA and net is not pd.NA:
        assert net == gross - costs
    assert res.cost_model["currency"] == "EUR" and res.cost_model["version"]
    assert set(res.lines["outcome"]) <= OUTCOME_LABELS

    # The applied model goes back in as a dict, with another version name.
    own = dict(res.cost_model, version="kring-research-test")
    mine = call(kring.client.cost_benefit, cost_model=own)
    assert mine.cost_model["version"] == "kring-research-test"
    pd.testing.assert_frame_equal(mine.table, res.table)


def test_sustained_support(kring):
    res = call(kring.client.sustained_support)
    t = res.table
    assert list(t["group"]) == ["all"]
    assert t.loc[0, "cases"] > 0
    assert set(res.retention["months"]) <= {6, 12, 24}
    shown = res.retention["mean_retention"].dropna()
    # A perturbed sum over a perturbed count (the cell key method) may pass 1
    # a little: at most (c + 2) / max(k, c - 2), 1.4 for k = 10.
    assert ((shown >= 0) & (shown <= 1.5)).all()
    curve = res.curve
    assert len(curve) > 0
    assert curve["day"].is_monotonic_increasing
    # Each published at-risk count lies within 2 of the exact, decreasing one.
    assert (curve["at_risk"].diff().dropna() <= 4).all()
    assert curve["survival"].is_monotonic_decreasing
    assert ((curve["survival"] >= 0) & (curve["survival"] <= 1)).all()
    eps = 1e-9
    assert (curve["lower_95"] <= curve["survival"] + eps).all()
    assert (curve["survival"] <= curve["upper_95"] + eps).all()
    assert (curve["at_risk"] >= res.disclosure["min_cell_size"]).all()  # rows only while k are at risk


def test_funnel(kring):
    res = call(kring.client.funnel)
    steps = res.steps[res.steps["group"] == "all"].set_index("step")
    assert {"referred", "conference_held"} <= set(steps.index)
    referred = steps.loc["referred", "cases"]
    # Published counts are the exact ones within 2 (the cell key method).
    assert 0 < referred <= 300 + 2
    held = steps.loc["conference_held", "cases"]
    assert held is pd.NA or held <= referred + 4
    shares = res.steps["share_of_referred"].dropna()
    assert ((shares >= 0) & (shares <= (referred + 4) / referred)).all()
    assert list(res.plan_right["group"]) == ["all"]
    assert list(res.table["group"]) == ["all"]
    stops = res.stop_reasons["cases"].dropna()
    assert stops.sum() <= referred + 2 + 2 * len(stops)


@pytest.mark.parametrize("method", ["outcomes", "cost_benefit", "sustained_support", "funnel"])
def test_as_of_position_and_k_on_every_read_model(kring, method):
    fn = getattr(kring.client, method)
    position = head_position(kring)
    first = call(fn, group_by="year", as_of_position=position)
    second = call(fn, group_by="year", as_of_position=position)
    assert first.as_of_position == position
    assert_same(first, second)
    with pytest.raises(ResearchError) as info:
        fn(min_cell_size=4)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "disclosure.min_cell_size" in info.value.details


def test_no_ids_in_answers(kring):
    """Answers never contain case, participant or coordinator ids (SYNTH-...)."""
    c = kring.client
    answers = [c.network_size(group_by="municipality").response]
    for method in ("outcomes", "cost_benefit", "sustained_support", "funnel"):
        answers.append(call(getattr(c, method), group_by="municipality").response)
    for a in answers:
        assert b"SYNTH-" not in a.SerializeToString()


def test_frames_are_numeric(kring):
    t = kring.client.network_size(group_by="year").table
    assert np.issubdtype(t["mean"].dtype, np.floating)
    assert str(t["conferences"].dtype) == "Int64"
