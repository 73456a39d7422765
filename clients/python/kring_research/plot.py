"""Plots of research answers with matplotlib (``pip install 'kring-research[plot]'``).

Each result's ``.plot()`` calls one of these. They draw the published
figures as they are in the result's frames: a suppressed figure (NaN) leaves
its bar out, intervals are the answer's own (nothing is recomputed here).
Every function takes ``ax=`` (or ``axes=`` for two panels) to draw into
existing axes and returns what it drew on: the ``Axes``, or the ``Figure``
for network size. Groups are named by their label: the key ("2023",
"DOMAIN_HOUSING"), "key/key2" with then_by, "all" for the overall row. By
default a plot shows every listed group, or the overall row when the answer
has no groups.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from kring_research import _convert as cv

# Artists say what they show, so a caller (and the tests) can find them: a
# KM line has the gid "<label>", its band "<label>:band"; a bar container
# (ax.containers) has the group's label as its label (cost-benefit: the
# column's name).
BAND_SUFFIX = ":band"


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # the optional dependency
        raise ImportError("plots need matplotlib: pip install 'kring-research[plot]'") from e
    return plt


def _axes(ax, **subplots_kwargs):
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(layout="constrained", **subplots_kwargs)
    return ax


def labels(frame: pd.DataFrame) -> pd.Series:
    """Each row's group label: ``group``, or ``group/key2`` with then_by
    ("all" for the overall row)."""
    if "key2" not in frame.columns:
        return frame["group"].astype(str)
    return pd.Series([cv.group_label("" if g == cv.OVERALL else g, "" if k == cv.OVERALL else k)
                      for g, k in zip(frame["group"], frame["key2"])], index=frame.index, dtype="object")


def _choose(frame: pd.DataFrame, groups: Optional[Sequence[str]]) -> list[str]:
    """The labels to draw, in the answer's order: ``groups`` as given (each
    must be in the answer), else every listed group, else "all"."""
    present = list(dict.fromkeys(labels(frame)))
    if groups is None:
        listed = [g for g in present if g != cv.OVERALL]
        return listed or [cv.OVERALL]
    if isinstance(groups, str):
        groups = [groups]
    missing = [g for g in groups if g not in present]
    if missing:
        raise ValueError(f"groups: {', '.join(map(repr, missing))} not in the answer; "
                         f"it has {', '.join(present) or 'no rows'}")
    return list(groups)


def _floats(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()


def _yerr(values: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """matplotlib's asymmetric error bars (2, n) from interval bounds; NaN
    (no bar) where the interval is absent."""
    return np.vstack([values - lower, upper - values])


def _grouped_bars(ax, frame: pd.DataFrame, category: str, value: str, groups: Sequence[str],
                  interval: Optional[str], scale: float = 1.0):
    """Bars of ``value`` per ``category`` (x) and group (one colour each),
    with error bars from ``<interval>_lower``/``_upper`` when given."""
    row_labels = labels(frame)
    categories = list(dict.fromkeys(frame[category]))
    width = 0.8 / max(len(groups), 1)
    x = np.arange(len(categories), dtype=float)
    for i, group in enumerate(groups):
        rows = frame[row_labels == group].set_index(category).reindex(categories)
        heights = _floats(rows[value]) * scale
        yerr = None
        if interval is not None:
            yerr = _yerr(heights, _floats(rows[f"{interval}_lower"]) * scale,
                         _floats(rows[f"{interval}_upper"]) * scale)
        ax.bar(x + (i - (len(groups) - 1) / 2) * width, heights, width, yerr=yerr,
               capsize=3 if yerr is not None else 0, label=group)
    ax.set_xticks(x)
    ax.set_xticklabels([str(c) for c in categories], rotation=30, ha="right")
    if len(groups) > 1 or groups[0] != cv.OVERALL:
        ax.legend(title="group")
    return ax


def support(result, groups: Optional[Sequence[str]] = None, ax=None, band: bool = True):
    """Kaplan-Meier curves of "support held" (``result.curve``), one step
    line per group with its 95% band (a filled area between lower_95 and
    upper_95), starting at day 0 with S = 1: when the first published row is
    later (a server before issue 15), the point (0, 1) with band 1..1 is put
    in front. The curve ends at its last published row. Returns the Axes."""
    ax = _axes(ax, figsize=(7, 4.5))
    curve = result.curve
    row_labels = labels(curve)
    for group in _choose(curve, groups):
        rows = curve[row_labels == group].sort_values("day")
        if rows.empty:
            continue  # no row published (fewer than k cases)
        days, surv = _floats(rows["day"]), _floats(rows["survival"])
        lower, upper = _floats(rows["lower_95"]), _floats(rows["upper_95"])
        if days[0] > 0:
            days, surv = np.r_[0.0, days], np.r_[1.0, surv]
            lower, upper = np.r_[1.0, lower], np.r_[1.0, upper]
        (line,) = ax.step(days, surv, where="post", label=group)
        line.set_gid(group)
        if band:
            area = ax.fill_between(days, lower, upper, step="post", alpha=0.2, color=line.get_color(),
                                   linewidth=0)
            area.set_gid(group + BAND_SUFFIX)
    ax.set_xlim(left=0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("days since the first conference")
    ax.set_ylabel("support held (Kaplan-Meier, 95% band)")
    ax.legend(title="group")
    return ax


def network_size(result, group: str = cv.OVERALL, axes: Optional[Sequence[Any]] = None):
    """Two panels for one group: the histogram of network sizes (bars of
    conferences per size; the bin 30 holds 30 and more) and the composition
    by relation (share of attendees, with its 95% interval). Returns the
    Figure."""
    if axes is None:
        fig, axes = _pyplot().subplots(1, 2, figsize=(11, 4), layout="constrained")
    else:
        fig = axes[0].figure
    hist_ax, comp_ax = axes
    group = _choose(result.table, [group])[0]  # refuses a group the answer does not list
    hist = result.histogram[labels(result.histogram) == group]
    hist_ax.bar(_floats(hist["size"]), _floats(hist["conferences"]), width=0.9, label=group)
    hist_ax.set_xlabel("network size (distinct non-professional attendees; 30: 30 or more)")
    hist_ax.set_ylabel("conferences")
    hist_ax.set_title(f"network size, {group}")
    comp = result.composition[labels(result.composition) == group]
    _grouped_bars(comp_ax, comp, "relation", "share", [group], "share_ci")
    comp_ax.set_ylabel("share of attendees (95% interval)")
    comp_ax.set_title(f"composition, {group}")
    return fig


def outcomes(result, measure: str = "per_100_referrals", groups: Optional[Sequence[str]] = None, ax=None):
    """Rates per 100 (``measure``: "per_100_referrals" or
    "per_100_conferences") per outcome type, one bar per group, with the 95%
    interval as error bars. Returns the Axes."""
    if measure not in ("per_100_referrals", "per_100_conferences"):
        raise ValueError(f"measure: expected per_100_referrals or per_100_conferences, got {measure!r}")
    ax = _axes(ax, figsize=(9, 4.5))
    _grouped_bars(ax, result.table, "outcome", measure, _choose(result.table, groups), f"{measure}_ci")
    ax.set_ylabel(f"{measure.replace('_', ' ')} (95% interval)")
    return ax


def funnel(result, value: str = "cases", groups: Optional[Sequence[str]] = None, ax=None):
    """Bars per funnel step (referred -> ... -> plan accepted), one per
    group: ``value`` "cases", or "share_of_referred" with its 95% interval.
    Returns the Axes."""
    if value not in ("cases", "share_of_referred"):
        raise ValueError(f"value: expected cases or share_of_referred, got {value!r}")
    ax = _axes(ax, figsize=(9, 4.5))
    interval = "share_of_referred_ci" if value == "share_of_referred" else None
    _grouped_bars(ax, result.steps, "step", value, _choose(result.steps, groups), interval)
    ax.set_ylabel("cases" if value == "cases" else "share of referred cases (95% interval)")
    return ax


def cost_benefit(result, value: str = "net_savings_cents", groups: Optional[Sequence[str]] = None, ax=None):
    """One bar per group of a ``*_cents`` column of ``result.table`` (default
    net savings), in EUR (cents / 100). Returns the Axes."""
    table = result.table
    if not value.endswith("_cents") or value not in table.columns:
        raise ValueError(f"value: expected a *_cents column of the table "
                         f"({', '.join(c for c in table.columns if c.endswith('_cents'))}), got {value!r}")
    ax = _axes(ax, figsize=(8, 4.5))
    chosen = _choose(table, groups)
    rows = table.assign(_label=labels(table)).set_index("_label").reindex(chosen)
    ax.bar(np.arange(len(chosen)), _floats(rows[value]) / 100.0, 0.6, label=value)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(np.arange(len(chosen)))
    ax.set_xticklabels(chosen, rotation=30, ha="right")
    ax.set_ylabel(value[: -len("_cents")].replace("_", " ") + " (EUR)")
    return ax
