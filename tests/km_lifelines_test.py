"""An independent check of Kring's Kaplan-Meier table against lifelines.

Runs km_tool (tests/km_tool.cc, the C++ of projections/statistics.h; its path
in $KRING_KM_TOOL, which ctest sets) on deterministic synthetic cohorts, fits
lifelines' KaplanMeierFitter on the same data, and compares row by row: the
times, numbers at risk, events and censored (exactly), and the survival, the
Greenwood standard error and the 95% bands to 1e-9 absolute.

Why 1e-9 and not exact: lifelines computes S as exp(cumsum(log(n - d) -
log(n))) and Kring as the product of (n - d) / n, so the two differ by
rounding (at most 5e-15 on the 2,000 observations here); 1e-9 leaves a wide margin and is
still far below any figure a research answer reports (3-4 decimals).

lifelines has no standard error attribute; the expected SE is Greenwood's,
S_lifelines(t) * sqrt(sum d / (n (n - d))), from lifelines' own event table
(at_risk, observed). The log(-log) bands are lifelines' confidence_interval_;
the linear band (km_tool --band=linear) is checked against S +/- z SE clipped
to [0, 1] from the same figures.
"""

import io
import os
import subprocess

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

TOLERANCE = 1e-9
Z95 = 1.959963984540054  # scipy.stats.norm.ppf(0.975), what lifelines uses for alpha=0.05


def km_tool_path():
    path = os.environ.get("KRING_KM_TOOL", "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("set KRING_KM_TOOL to the km_tool binary (ctest does: ctest -R km_lifelines)")
    return path


def run_km_tool(days, events, band="loglog"):
    text = "".join(f"{int(t)} {int(e)}\n" for t, e in zip(days, events))
    result = subprocess.run(
        [km_tool_path(), f"--band={band}"], input=text, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout))
    assert list(table.columns) == ["time", "at_risk", "events", "censored", "survival", "se", "lower", "upper"]
    return table


def synthetic_cohort():
    """2,000 subjects, integer days (many ties, some at day 0), about 30% censored."""
    rng = np.random.RandomState(7)
    n = 2000
    event_days = np.floor(rng.exponential(scale=400.0, size=n)).astype(int)
    censor_days = rng.randint(0, 1200, size=n)
    # A block of administrative censoring at the data cut-off (day 730), as
    # the two-year follow-up has.
    censor_days[rng.rand(n) < 0.1] = 730
    days = np.minimum(event_days, censor_days)
    events = (event_days <= censor_days).astype(int)
    return days, events


COHORTS = {
    "synthetic_2000": synthetic_cohort(),
    # Ends with everyone at risk having the event (S = 0), with ties.
    "ends_at_zero": (np.array([0, 2, 2, 3, 5, 5, 5, 8, 8]), np.array([1, 1, 0, 0, 1, 0, 1, 1, 1])),
    # Censorings before the first event (S = 1 rows), then events.
    "censored_first": (np.array([1, 1, 2, 4, 4, 4, 9, 12]), np.array([0, 0, 0, 1, 1, 0, 1, 0])),
}


def lifelines_expected(days, events):
    kmf = KaplanMeierFitter()
    kmf.fit(days, event_observed=events)
    table = kmf.event_table
    table = table[table["removed"] > 0]  # lifelines adds a row for day 0 with nobody removed
    n = table["at_risk"].to_numpy(dtype=float)
    d = table["observed"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(d < n, d / (n * (n - d)), 0.0)  # d = n adds nothing (lifelines does the same)
    survival = kmf.survival_function_.loc[table.index].iloc[:, 0].to_numpy()
    se = survival * np.sqrt(np.cumsum(terms))
    ci = kmf.confidence_interval_.loc[table.index]
    lower_col = [c for c in ci.columns if "_lower_" in c]
    upper_col = [c for c in ci.columns if "_upper_" in c]
    assert len(lower_col) == 1 and len(upper_col) == 1
    return pd.DataFrame(
        {
            "time": table.index.to_numpy(),
            "at_risk": table["at_risk"].to_numpy(),
            "events": table["observed"].to_numpy(),
            "censored": table["censored"].to_numpy(),
            "survival": survival,
            "se": se,
            "lower": ci[lower_col[0]].to_numpy(),
            "upper": ci[upper_col[0]].to_numpy(),
        }
    )


def test_synthetic_cohort_has_ties_and_about_thirty_percent_censored():
    days, events = COHORTS["synthetic_2000"]
    assert len(days) == 2000
    assert 0.25 <= 1 - events.mean() <= 0.35
    assert len(np.unique(days)) < 1000  # plenty of ties
    assert (days == 0).any()


@pytest.mark.parametrize("name", sorted(COHORTS))
def test_table_and_loglog_bands_agree_with_lifelines(name):
    days, events = COHORTS[name]
    ours = run_km_tool(days, events)
    theirs = lifelines_expected(days, events)
    assert len(ours) == len(theirs)
    for column in ["time", "at_risk", "events", "censored"]:
        np.testing.assert_array_equal(ours[column].to_numpy(), theirs[column].to_numpy(), err_msg=column)
    for column in ["survival", "se", "lower", "upper"]:
        np.testing.assert_allclose(
            ours[column].to_numpy(), theirs[column].to_numpy(), rtol=0, atol=TOLERANCE, err_msg=column
        )


@pytest.mark.parametrize("name", sorted(COHORTS))
def test_linear_band_is_survival_plus_minus_z_se_clipped(name):
    days, events = COHORTS[name]
    ours = run_km_tool(days, events, band="linear")
    theirs = lifelines_expected(days, events)
    s, se = theirs["survival"].to_numpy(), theirs["se"].to_numpy()
    np.testing.assert_allclose(ours["lower"].to_numpy(), np.clip(s - Z95 * se, 0, 1), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(ours["upper"].to_numpy(), np.clip(s + Z95 * se, 0, 1), rtol=0, atol=TOLERANCE)


def test_median_and_survival_at_one_and_two_years_follow_from_the_table():
    """The C++ median and SurvivalAt are unit-tested; here the table they read agrees with lifelines'."""
    days, events = COHORTS["synthetic_2000"]
    ours = run_km_tool(days, events)
    kmf = KaplanMeierFitter().fit(days, event_observed=events)
    median = ours.loc[ours["survival"] <= 0.5, "time"].iloc[0]
    assert median == kmf.median_survival_time_
    for t in [365, 730]:
        at_or_before = ours[ours["time"] <= t]
        expected = float(kmf.survival_function_at_times([t]).iloc[0])
        assert abs(at_or_before["survival"].iloc[-1] - expected) <= TOLERANCE


def test_bad_input_is_rejected():
    result = subprocess.run([km_tool_path()], input="5 1\n-3 0\n", capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "days" in result.stderr
    result = subprocess.run([km_tool_path()], input="5 2\n", capture_output=True, text=True, check=False)
    assert result.returncode == 2
