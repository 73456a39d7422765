"""An independent check of projections/intervals.h against outside libraries.

Runs stats_tool (tests/stats_tool.cc; its path in $KRING_STATS_TOOL, which
ctest sets) on deterministic random data and compares with:
- lifelines: logrank_test (two groups) and multivariate_logrank_test (k
  groups); restricted_mean_survival_time (the RMST itself);
- statsmodels: proportion_confint(method="wilson") and
  confint_proportions_2indep(method="newcomb", compare="diff");
- scipy: ttest_1samp(...).confidence_interval() (the t interval of a mean)
  and ttest_ind(equal_var=False).confidence_interval() (Welch).

The RMST variance: lifelines' return_variance gives Var(min(T, tau)) under the
fitted curve, not the variance of the RMST estimate that Kring publishes
(docs/research.md, "Restricted mean survival time"). Kring's is checked
against an independent numpy implementation of the documented formula, and,
on uncensored data, against the identity variance = Var(min(T, tau)) / N
(numpy's population variance; lifelines' own figure to 5e-3, since it
integrates a step function numerically).
"""

import io
import os
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test
from lifelines.utils import restricted_mean_survival_time
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

RTOL = 1e-9


def tool(args, text):
    path = os.environ.get("KRING_STATS_TOOL", "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("set KRING_STATS_TOOL to the stats_tool binary (ctest does: ctest -R stats_outside)")
    result = subprocess.run([path, *args], input=text, capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    return pd.read_csv(io.StringIO(result.stdout))


def survival_data(seed, groups, n):
    rng = np.random.RandomState(seed)
    g = rng.randint(0, groups, size=n)
    scale = 300.0 + 150.0 * g  # groups differ
    event_days = np.floor(rng.exponential(scale=scale)).astype(int)
    censor_days = rng.randint(0, 900, size=n)
    censor_days[rng.rand(n) < 0.1] = 730
    days = np.minimum(event_days, censor_days)
    events = (event_days <= censor_days).astype(int)
    return g, days, events


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_group_log_rank_equals_lifelines(seed):
    g, days, events = survival_data(seed, 2, 600)
    ours = tool(["logrank"], "".join(f"{a} {t} {e}\n" for a, t, e in zip(g, days, events)))
    theirs = logrank_test(days[g == 0], days[g == 1], event_observed_A=events[g == 0], event_observed_B=events[g == 1])
    assert ours["df"][0] == 1
    np.testing.assert_allclose(ours["chi_square"][0], theirs.test_statistic, rtol=RTOL)
    np.testing.assert_allclose(ours["p_value"][0], theirs.p_value, rtol=1e-8, atol=1e-300)


@pytest.mark.parametrize("groups", [3, 5])
def test_k_sample_log_rank_equals_lifelines_multivariate(groups):
    g, days, events = survival_data(10 + groups, groups, 1500)
    ours = tool(["logrank"], "".join(f"{a} {t} {e}\n" for a, t, e in zip(g, days, events)))
    theirs = multivariate_logrank_test(days, g, events)
    assert ours["df"][0] == groups - 1
    np.testing.assert_allclose(ours["chi_square"][0], theirs.test_statistic, rtol=RTOL)
    np.testing.assert_allclose(ours["p_value"][0], theirs.p_value, rtol=1e-8, atol=1e-300)


def rmst_variance_by_formula(days, events, tau):
    """Sum over event times t_i <= tau of A_i^2 d_i / (n_i (n_i - d_i)), A_i = area under S from t_i to tau."""
    times = np.unique(days)
    rows = []
    s = 1.0
    for t in times:
        n = int((days >= t).sum())
        d = int(((days == t) & (events == 1)).sum())
        s *= 1 - d / n
        rows.append((t, n, d, s))
    variance = 0.0
    for i, (t, n, d, _) in enumerate(rows):
        if t > tau or d == 0 or d == n:
            continue
        area = 0.0
        for j in range(i, len(rows)):
            start = rows[j][0]
            end = rows[j + 1][0] if j + 1 < len(rows) else np.inf
            if start >= tau:
                break
            area += rows[j][3] * (min(end, tau) - start)
        variance += area * area * d / (n * (n - d))
    return variance


@pytest.mark.parametrize("seed", [4, 5])
def test_rmst_equals_lifelines_and_its_variance_the_formula(seed):
    _, days, events = survival_data(seed, 1, 800)
    ours = tool(["rmst", "730"], "".join(f"{t} {e}\n" for t, e in zip(days, events)))
    kmf = KaplanMeierFitter().fit(days, event_observed=events)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean = restricted_mean_survival_time(kmf, t=730)
    np.testing.assert_allclose(ours["rmst"][0], mean, rtol=RTOL)
    np.testing.assert_allclose(ours["variance"][0], rmst_variance_by_formula(days, events, 730), rtol=RTOL)


def test_rmst_variance_without_censoring_is_the_variance_of_min_t_tau_over_n():
    rng = np.random.RandomState(6)
    days = rng.randint(1, 1200, size=300)
    events = np.ones_like(days)
    ours = tool(["rmst", "730"], "".join(f"{t} 1\n" for t in days))
    x = np.minimum(days, 730)
    np.testing.assert_allclose(ours["rmst"][0], x.mean(), rtol=RTOL)
    np.testing.assert_allclose(ours["variance"][0], x.var() / len(x), rtol=RTOL)
    kmf = KaplanMeierFitter().fit(days, event_observed=events)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, lifelines_variance = restricted_mean_survival_time(kmf, t=730, return_variance=True)
    np.testing.assert_allclose(ours["variance"][0], lifelines_variance / len(x), rtol=5e-3)


def proportion_cases():
    rng = np.random.RandomState(8)
    n = rng.randint(5, 5000, size=60)
    x = np.array([rng.randint(0, m + 1) for m in n])
    x[:3] = 0
    x[3:6] = n[3:6]
    return x, n


def test_wilson_equals_statsmodels():
    x, n = proportion_cases()
    ours = tool(["wilson"], "".join(f"{a} {b}\n" for a, b in zip(x, n)))
    lower, upper = proportion_confint(x, n, alpha=0.05, method="wilson")
    np.testing.assert_allclose(ours["lower"], lower, rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(ours["upper"], upper, rtol=RTOL, atol=1e-15)


def test_newcombe_equals_statsmodels():
    x, n = proportion_cases()
    x2, n2 = x[::-1], n[::-1]
    ours = tool(["newcombe"], "".join(f"{a} {b} {c} {d}\n" for a, b, c, d in zip(x, n, x2, n2)))
    for i in range(len(x)):
        lower, upper = confint_proportions_2indep(x[i], n[i], x2[i], n2[i], method="newcomb", compare="diff")
        np.testing.assert_allclose(ours["lower"][i], lower, rtol=RTOL, atol=1e-15)
        np.testing.assert_allclose(ours["upper"][i], upper, rtol=RTOL, atol=1e-15)


def samples(seed):
    rng = np.random.RandomState(seed)
    out = []
    for size in [2, 3, 5, 12, 40, 400]:
        out.append(np.round(rng.gamma(2.0, 3.0, size=size), 3))
    return out


def test_t_interval_of_a_mean_equals_scipy():
    data = samples(9)
    ours = tool(["tmean"], "".join(" ".join(str(v) for v in s) + "\n" for s in data))
    for i, s in enumerate(data):
        ci = stats.ttest_1samp(s, 0).confidence_interval(0.95)
        np.testing.assert_allclose(ours["mean"][i], s.mean(), rtol=RTOL)
        np.testing.assert_allclose([ours["lower"][i], ours["upper"][i]], [ci.low, ci.high], rtol=RTOL)


def test_welch_interval_equals_scipy():
    a, b = samples(10), samples(11)[::-1]
    text = "".join(" ".join(str(v) for v in s) + "\n" + " ".join(str(v) for v in r) + "\n" for s, r in zip(a, b))
    ours = tool(["welch"], text)
    for i, (s, r) in enumerate(zip(a, b)):
        ci = stats.ttest_ind(s, r, equal_var=False).confidence_interval(0.95)
        np.testing.assert_allclose([ours["lower"][i], ours["upper"][i]], [ci.low, ci.high], rtol=RTOL)
