"""The results' .plot() on the Agg backend: the artists hold the answer's
figures (KM steps from day 0 with their band, bar heights and error bars)."""

import math

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is the [plot] extra: pip install -e '.[plot]'")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402

from fake_answers import (cost_benefit_by_year, funnel_by_domain, network_size_overall,  # noqa: E402
                          outcomes_by_year, support_two_way)
from kring_research import (CostBenefitResult, FunnelResult, NetworkSizeResult, OutcomesResult,  # noqa: E402
                            SupportResult)
from kring_research.plot import BAND_SUFFIX  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _by_gid(artists, gid):
    found = [a for a in artists if a.get_gid() == gid]
    assert len(found) == 1, (gid, [a.get_gid() for a in artists])
    return found[0]


def _bars(ax, label):
    found = [c for c in ax.containers if isinstance(c, BarContainer) and c.get_label() == label]
    assert len(found) == 1, (label, [c.get_label() for c in ax.containers])
    return found[0]


def _same(a, b):
    """Equal element by element, NaN equal to NaN."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


# ---------------------------------------------------------------------------
# Support: Kaplan-Meier curves with their bands
# ---------------------------------------------------------------------------


def test_km_curve_of_a_group_starts_at_day_0_with_survival_1():
    res = SupportResult.from_response(support_two_way())
    ax = res.plot()
    line = _by_gid(ax.get_lines(), "2020/DOMAIN_HOUSING")  # its first published row is day 168
    assert list(line.get_xdata()) == [0, 168, 300]
    assert list(line.get_ydata()) == [1.0, 0.92, 0.85]
    assert line.get_drawstyle() == "steps-post"


def test_km_curve_that_has_a_day_0_row_is_not_given_a_second_one():
    res = SupportResult.from_response(support_two_way())
    ax = res.plot(groups=["all"])
    line = _by_gid(ax.get_lines(), "all")
    assert list(line.get_xdata()) == [0, 120, 400]
    assert list(line.get_ydata()) == [1.0, 0.93, 0.78]


def test_km_band_is_a_polycollection_through_the_published_bounds():
    res = SupportResult.from_response(support_two_way())
    ax = res.plot(groups=["2020/DOMAIN_HOUSING", "2020/DOMAIN_YOUTH_PROTECTION"])
    band = _by_gid(ax.collections, "2020/DOMAIN_HOUSING" + BAND_SUFFIX)
    assert isinstance(band, PolyCollection)
    vertices = {tuple(v) for p in band.get_paths() for v in np.round(p.vertices, 9)}
    # Every published row's lower and upper bound is a corner of the band, and day 0's 1..1.
    for day, lo, hi in ((0, 1.0, 1.0), (168, 0.8, 0.97), (300, 0.72, 0.92)):
        assert (day, lo) in vertices and (day, hi) in vertices, (day, lo, hi)
    ys = [y for _, y in vertices]
    assert min(ys) == 0.72 and max(ys) == 1.0
    # One line and one band per group asked; the suppressed group has no rows and is not drawn.
    assert sorted(a.get_gid() for a in ax.get_lines()) == ["2020/DOMAIN_HOUSING", "2020/DOMAIN_YOUTH_PROTECTION"]
    assert len(ax.collections) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["2020/DOMAIN_HOUSING",
                                                                   "2020/DOMAIN_YOUTH_PROTECTION"]


def test_km_plot_by_default_draws_every_listed_group_with_rows():
    ax = SupportResult.from_response(support_two_way()).plot(band=False)
    assert [a.get_gid() for a in ax.get_lines()] == ["2020/DOMAIN_HOUSING", "2020/DOMAIN_YOUTH_PROTECTION"]
    assert len(ax.collections) == 0


def test_plot_of_a_group_not_in_the_answer_is_refused():
    res = SupportResult.from_response(support_two_way())
    with pytest.raises(ValueError, match=r"^groups: '2020' not in the answer"):
        res.plot(groups=["2020"])


def test_plot_into_given_axes():
    fig, ax = plt.subplots()
    assert SupportResult.from_response(support_two_way()).plot(ax=ax) is ax


# ---------------------------------------------------------------------------
# Bars: outcomes, funnel, cost-benefit, network size
# ---------------------------------------------------------------------------


def _errorbar_bounds(container):
    """(lower, upper) of each bar's error bar, NaN for a bar without one."""
    segments = container.errorbar.lines[2][0].get_segments()
    assert len(segments) == len(container)
    return [(s[0][1], s[1][1]) if len(s) else (math.nan, math.nan) for s in segments]


def test_outcome_bars_are_the_rates_with_their_intervals_as_error_bars():
    res = OutcomesResult.from_response(outcomes_by_year())
    ax = res.plot()
    t = res.table
    for group in ("2020", "2021"):
        bars = _bars(ax, group)
        rows = t[t.group == group].set_index("outcome").loc[["ots_prevented", "ots_lifted"]]
        assert _same([b.get_height() for b in bars], rows["per_100_referrals"]), group
        lo, hi = rows["per_100_referrals_ci_lower"], rows["per_100_referrals_ci_upper"]
        drawn = _errorbar_bounds(bars)
        expected = [(a, b) for a, b in zip(lo, hi)]
        assert _same(np.ravel(drawn), np.ravel(expected)), (group, drawn, expected)
    # The suppressed rate (2021, ots_prevented) has no bar height.
    assert math.isnan(_bars(ax, "2021")[0].get_height())


def test_outcome_plot_of_per_100_conferences_and_a_bad_measure():
    res = OutcomesResult.from_response(outcomes_by_year())
    ax = res.plot(measure="per_100_conferences", groups=["all"])
    assert all(math.isnan(b.get_height()) for b in _bars(ax, "all"))  # none published here
    with pytest.raises(ValueError, match="^measure"):
        res.plot(measure="per_100_people")


def test_funnel_bars_are_the_cases_per_step_and_shares_carry_intervals():
    res = FunnelResult.from_response(funnel_by_domain())
    ax = res.plot()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["referred", "conference_held", "plan_adopted"]
    assert _same([b.get_height() for b in _bars(ax, "DOMAIN_HOUSING")], [60, 45, 30])
    assert _same([b.get_height() for b in _bars(ax, "DOMAIN_YOUTH_PROTECTION")], [40, 25, np.nan])
    ax = res.plot(value="share_of_referred", groups=["DOMAIN_HOUSING"])
    bars = _bars(ax, "DOMAIN_HOUSING")
    assert _same([b.get_height() for b in bars], [1.0, 0.75, 0.5])
    assert _same(np.ravel(_errorbar_bounds(bars)), [0.9, 1.0, 0.65, 0.83, 0.4, 0.58])


def test_cost_benefit_bars_are_net_savings_in_euros():
    res = CostBenefitResult.from_response(cost_benefit_by_year())
    ax = res.plot()
    bars = _bars(ax, "net_savings_cents")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2020", "2021", "2022"]
    assert _same([b.get_height() for b in bars], [12500.0, np.nan, -3000.5])
    ax = res.plot(groups=["all"])
    assert [b.get_height() for b in _bars(ax, "net_savings_cents")] == [17500.0]
    with pytest.raises(ValueError, match="^value"):
        res.plot(value="conferences")


def test_network_size_figure_has_the_histogram_and_the_composition():
    res = NetworkSizeResult.from_response(network_size_overall())
    fig = res.plot()
    hist_ax, comp_ax = fig.axes
    bars = _bars(hist_ax, "all")
    assert _same([b.get_x() + b.get_width() / 2 for b in bars], [8, 9, 10, 30])
    assert _same([b.get_height() for b in bars], [10, 12, np.nan, 6])
    comp = _bars(comp_ax, "all")
    assert [t.get_text() for t in comp_ax.get_xticklabels()] == ["family", "friend", "neighbour"]
    assert _same([b.get_height() for b in comp], [0.7, 0.21, np.nan])
    assert _same(np.ravel(_errorbar_bounds(comp)), [0.655, 0.742, 0.174, 0.251, np.nan, np.nan])
    fig = res.plot(group="2020")
    assert _same([b.get_height() for b in _bars(fig.axes[0], "2020")], [11])


def test_a_plot_renders_to_png(tmp_path):
    ax = SupportResult.from_response(support_two_way()).plot()
    path = tmp_path / "km.png"
    ax.figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
