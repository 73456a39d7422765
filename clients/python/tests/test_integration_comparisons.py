"""Integration tests of issue 15 against a real kringd (fixture `kring` in
conftest.py, the SYNTHETIC cohort of 300 cases): two-way grouping, intervals,
RMST, comparisons with log-rank tests, the KM table from day 0, CSV exports
and plots of real answers."""

import math

import numpy as np
import pandas as pd
import pytest

from kring_research import read_csv

EPS = 1e-9


def labels(frame):
    return [f"{g}/{k}" if "key2" in frame.columns and g != "all" else g
            for g, k in zip(frame["group"], frame["key2"] if "key2" in frame.columns else frame["group"])]


def test_two_way_support_lists_year_domain_pairs_in_key_order(kring):
    res = kring.client.sustained_support(group_by="year", then_by="domain")
    t = res.table
    assert list(t.columns[:2]) == ["group", "key2"]
    assert (t.loc[0, "group"], t.loc[0, "key2"]) == ("all", "all")
    pairs = list(zip(t["group"].iloc[1:], t["key2"].iloc[1:]))
    assert len(pairs) >= 4, pairs
    assert all(y.isdigit() and len(y) == 4 and d.startswith("DOMAIN_") for y, d in pairs), pairs
    assert [y for y, _ in pairs] == sorted(y for y, _ in pairs)
    # Every pair's curve and retention rows carry the same two keys.
    assert set(zip(res.curve["group"], res.curve["key2"])) <= set(zip(t["group"], t["key2"]))


def test_intervals_contain_their_figures_and_are_absent_with_them(kring):
    t = kring.client.outcomes(group_by="year").table
    for measure in ("per_100_referrals", "per_100_conferences"):
        shown = t[t[measure].notna()]
        assert len(shown) > 0
        assert (shown[f"{measure}_ci_lower"] <= shown[measure] + EPS).all()
        assert (shown[measure] <= shown[f"{measure}_ci_upper"] + EPS).all()
        assert (shown[f"{measure}_ci_lower"] >= -EPS).all() and (shown[f"{measure}_ci_upper"] <= 100 + EPS).all()
        hidden = t[t[measure].isna()]
        assert hidden[f"{measure}_ci_lower"].isna().all() and hidden[f"{measure}_ci_upper"].isna().all()
    n = kring.client.network_size().table.loc[0]
    assert n["mean_ci_lower"] < n["mean"] < n["mean_ci_upper"]


def test_support_table_gives_rmst_and_the_curve_starts_at_day_0(kring):
    res = kring.client.sustained_support(group_by="year")
    overall = res.table.loc[0]
    assert 0 < overall["rmst_24m_days"] <= 730
    assert overall["rmst_24m_ci_lower"] <= overall["rmst_24m_days"] <= overall["rmst_24m_ci_upper"]
    assert overall["survival_12m_ci_lower"] <= overall["survival_12m"] <= overall["survival_12m_ci_upper"]
    for group, rows in res.curve.groupby("group", sort=False):
        first = rows.iloc[0]
        assert first["day"] == 0, group
        if first["events"] == 0:
            assert (first["survival"], first["lower_95"], first["upper_95"]) == (1.0, 1.0, 1.0), group


def test_outcome_comparisons_are_group_minus_reference_of_the_published_rates(kring):
    res = kring.client.outcomes(group_by="year", compare_with=None)
    years = list(res.groups["group"].iloc[1:])
    # The year with the most referred cases: its rates are published.
    reference = res.groups.iloc[1:].sort_values("referred", ascending=False)["group"].iloc[0]
    res = kring.client.outcomes(group_by="year", compare_with=reference)
    c = res.comparisons
    assert res.reference == reference
    assert set(c["group"]) == set(years) - {reference}
    assert set(c["measure"]) == {"per_100_referrals", "per_100_conferences"}
    assert set(c["item"]) <= set(res.table["outcome"])  # short names, as in the table
    rates = res.table.set_index(["group", "outcome"])
    checked = 0
    for _, d in c.iterrows():
        mine, ref = rates.loc[(d["group"], d["item"]), d["measure"]], rates.loc[(reference, d["item"]), d["measure"]]
        if math.isnan(mine) or math.isnan(ref):
            assert math.isnan(d["estimate"]) and math.isnan(d["ci_lower"]), d
            continue
        assert d["estimate"] == pytest.approx(mine - ref, abs=1e-9), d
        assert d["ci_lower"] - EPS <= d["estimate"] <= d["ci_upper"] + EPS, d
        assert d["method"].startswith("Newcombe")
        checked += 1
    assert checked > 0


def test_two_way_support_comparison_with_log_rank_tests(kring):
    first = kring.client.sustained_support(group_by="year", then_by="domain")
    published = first.table[(first.table["group"] != "all") & first.table["cases"].notna()]
    reference = f"{published.iloc[0]['group']}/{published.iloc[0]['key2']}"
    res = kring.client.sustained_support(group_by="year", then_by="domain", compare_with=reference)
    assert res.reference == reference
    compared = [lab for lab in labels(res.table)[1:] if lab != reference]
    assert list(dict.fromkeys(res.comparisons["group"])) == compared
    assert {"survival_12m", "survival_24m", "rmst_24m_days", "mean_retention"} <= set(res.comparisons["measure"])
    lr = res.log_rank
    assert list(lr["test"]) == ["pairwise"] * len(compared) + ["k-sample"]
    assert list(lr["group"].iloc[:-1]) == compared
    cases = dict(zip(labels(res.table), res.table["cases"]))
    for _, row in lr.iloc[:-1].iterrows():
        tested = row["groups"].split(", ")
        assert set(tested) == {reference, row["group"]}
        if all(cases[g] is not pd.NA for g in tested) and not row["absent_reason"]:
            assert row["chi_square"] >= 0 and 0 <= row["p_value"] <= 1 and row["degrees_of_freedom"] == 1
        else:
            assert math.isnan(row["p_value"]) and row["absent_reason"], row
    k_sample = lr.iloc[-1]
    assert k_sample["group"] == "" and k_sample["degrees_of_freedom"] == len(compared)


def test_compare_with_a_group_that_is_not_listed_is_refused_by_the_server(kring):
    from kring_research import ResearchError

    with pytest.raises(ResearchError) as info:
        kring.client.outcomes(group_by="year", compare_with="1999")
    assert info.value.code.name == "INVALID_ARGUMENT" and info.value.details.startswith("compare_with")


def test_csv_export_of_a_real_answer_reads_back(kring, tmp_path):
    res = kring.client.sustained_support(group_by="year", then_by="domain")
    path = tmp_path / "curve.csv"
    res.to_csv(path, table="curve")
    lines = path.read_text().splitlines()
    assert [line.split(":")[0] for line in lines[:8]] == [
        "# log_position", "# min_cell_size", "# disclosure_method", "# filters_json", "# definition_version",
        "# cost_model_version", "# answer_sha256", "# server_version"]
    back = pd.read_csv(path, comment="#", keep_default_na=False)
    assert len(back) == len(res.curve) and list(back.columns) == list(res.curve.columns)
    np.testing.assert_allclose(back["survival"], res.curve["survival"])
    assert read_csv(path).attrs["provenance"] == res.provenance


def test_plots_of_real_answers_hold_their_figures(kring):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        res = kring.client.sustained_support()
        ax = res.plot()
        (line,) = ax.get_lines()
        assert line.get_xdata()[0] == 0 and line.get_ydata()[0] == 1.0
        np.testing.assert_array_equal(line.get_ydata(), res.curve["survival"])
        out = kring.client.outcomes(group_by="year")
        ax = out.plot()
        for container in ax.containers:
            if not hasattr(container, "patches"):
                continue
            rows = out.table[out.table["group"] == container.get_label()]
            np.testing.assert_array_equal([b.get_height() for b in container], rows["per_100_referrals"])
    finally:
        plt.close("all")


def test_compare_with_a_short_domain_name(kring):
    domains = kring.client.outcomes(group_by="domain").groups["group"].iloc[1:]
    full = domains.iloc[0]
    short = full[len("DOMAIN_"):].lower()
    res = kring.client.outcomes(group_by="domain", compare_with=short)
    assert res.reference == full
    assert set(res.comparisons["group"]) == set(domains) - {full}
