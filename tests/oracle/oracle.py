"""An independent reference computation of every research figure (issue 13).

Reads the raw events (`kringctl export` NDJSON, docs/audit.md) and computes
every figure of GetNetworkSize, GetOutcomes, GetCostBenefit, GetFunnel and
GetSustainedSupport from the written definitions alone: docs/read-models.md,
docs/research.md, docs/case-rules.md (retractions), projections/cost_model.json
and the lead's decisions for issue 13 (month = 30.44 days, windows in exact
arithmetic, erasure ends observation by log position, the cell key method).
It never calls or reads the project's C++.

Disclosure control: the oracle computes each count's exact value and, given
the cell-key secret, its published value (decisions D11-D18: record key =
first 8 bytes of HMAC-SHA256(secret, label) big-endian; cell key = sum mod
2^64; perturbation table kring-ptable-1). Secondary suppression is decided by
the server's audit; `compare` checks that every published figure equals the
oracle's, that every count of 1..k-1 cases is suppressed as primary, that a
figure is suppressed only where the rules allow it, and that derived figures
(means, shares, rates, amounts) follow their counts. Without a secret
(`secret=None`, the "exact" mode) no figure is perturbed.

Usage as a library: see tests/oracle/oracle_test.py. From the command line:
    python3 oracle.py EXPORT.ndjson MODEL REQUEST.json [--secret-file F]
prints the expected answer (exact and published values) as JSON.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import statistics
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

# ---------------------------------------------------------------------------
# Definitions' constants
# ---------------------------------------------------------------------------

DAYS_PER_MONTH = Fraction(3044, 100)  # decisions A1: a month is 30.44 days exactly
MARKS = (6, 12, 24)
DEFAULT_WINDOW = 91
DEFAULT_THRESHOLD = 0.8
DEFAULT_K = 10
Z95 = 1.959963984540054  # as lifelines (alpha 0.05)
HIST_TOP = 30  # bin 30 = "30 or more"
PTABLE_VERSION = "kring-ptable-1"
MAX_PERTURBATION = 2

RELATIONS = ["RELATION_UNSPECIFIED", "RELATION_FAMILY", "RELATION_FRIEND", "RELATION_NEIGHBOUR",
             "RELATION_COMMUNITY", "RELATION_PROFESSIONAL"]
OUTCOME_TYPES = [
    "OUTCOME_TYPE_OTS_PREVENTED", "OUTCOME_TYPE_OTS_LIFTED", "OUTCOME_TYPE_PLACEMENT_PREVENTED",
    "OUTCOME_TYPE_PLACEMENT_ENDED", "OUTCOME_TYPE_PLACED_WITH_KIN", "OUTCOME_TYPE_PLACED_OUTSIDE_NETWORK",
    "OUTCOME_TYPE_EVICTION_PREVENTED", "OUTCOME_TYPE_RENT_PAID_ON_TIME_12M",
    "OUTCOME_TYPE_PARENTING_ARRANGEMENT_REACHED", "OUTCOME_TYPE_HOUSEHOLD_TAKEN_OVER_BY_NETWORK",
    "OUTCOME_TYPE_PROFESSIONAL_HELP_REDUCED", "OUTCOME_TYPE_RE_REFERRAL",
]
DOMAIN_ORDER = ["DOMAIN_UNSPECIFIED", "DOMAIN_YOUTH_PROTECTION", "DOMAIN_YOUTH_CARE", "DOMAIN_DOMESTIC_VIOLENCE",
                "DOMAIN_HOUSING", "DOMAIN_MENTAL_HEALTH", "DOMAIN_MULTI_PROBLEM", "DOMAIN_DIVORCE",
                "DOMAIN_ELDERLY_CARE", "DOMAIN_DEBT", "DOMAIN_DETENTION_RETURN", "DOMAIN_OTHER"]
FRAMEWORK_ORDER = ["LEGAL_FRAMEWORK_UNSPECIFIED", "LEGAL_FRAMEWORK_JEUGDWET", "LEGAL_FRAMEWORK_WMO",
                   "LEGAL_FRAMEWORK_WVGGZ", "LEGAL_FRAMEWORK_NONE"]
FUNNEL_STEPS = ["FUNNEL_STEP_REFERRED", "FUNNEL_STEP_COORDINATOR_ASSIGNED", "FUNNEL_STEP_CONFERENCE_HELD",
                "FUNNEL_STEP_PLAN_ADOPTED", "FUNNEL_STEP_PLAN_ACCEPTED"]
STOP_REASONS = ["PREPARATION_STOP_REASON_FAMILY_DECLINED", "PREPARATION_STOP_REASON_REFERRER_WITHDREW",
                "PREPARATION_STOP_REASON_SITUATION_RESOLVED", "PREPARATION_STOP_REASON_SITUATION_ESCALATED",
                "PREPARATION_STOP_REASON_NO_NETWORK_REACHED", "PREPARATION_STOP_REASON_OTHER"]
RECORDED_COST_KINDS = {"COST_KIND_CONFERENCE", "COST_KIND_COORDINATOR_HOURS", "COST_KIND_INTERPRETER"}
GROUPINGS = {"": None, "year": "year", "quarter": "quarter", "domain": "domain", "municipality": "municipality",
             "legal-framework": "legal_framework"}


def utc_date(text: str) -> dt.date:
    """The UTC calendar date of an RFC 3339 timestamp."""
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc).date()


def percentile(sorted_values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy 'linear', R type 7), as documented."""
    n = len(sorted_values)
    rank = p * (n - 1)
    lo = math.floor(rank)
    hi = min(lo + 1, n - 1)
    return sorted_values[lo] + (rank - lo) * (sorted_values[hi] - sorted_values[lo])


def round_half_away(x: Fraction | float) -> int:
    if x >= 0:
        return int(math.floor(Fraction(x) + Fraction(1, 2)))
    return -int(math.floor(-Fraction(x) + Fraction(1, 2)))


# ---------------------------------------------------------------------------
# The cell key method (decisions D11-D18)
# ---------------------------------------------------------------------------


def ptable(i: int) -> int:
    """kring-ptable-1, indexed 0..255."""
    if i < 16:
        return -2
    if i < 64:
        return -1
    if i < 192:
        return 0
    if i < 240:
        return 1
    return 2


class CellKey:
    """Record keys, cell keys and the perturbation of counts and sums."""

    def __init__(self, secret: bytes | None, k: int):
        self.secret = secret
        self.k = k
        self._cache: dict[str, int] = {}

    def record_key(self, label: str) -> int:
        if self.secret is None:
            return 0
        key = self._cache.get(label)
        if key is None:
            digest = hmac.new(self.secret, label.encode("utf-8"), hashlib.sha256).digest()
            key = int.from_bytes(digest[:8], "big")
            self._cache[label] = key
        return key

    def cell_key(self, labels: Iterable[str]) -> int:
        return sum(self.record_key(label) for label in labels) % (1 << 64)

    def count_p(self, labels: Iterable[str]) -> int:
        if self.secret is None:
            return 0
        return ptable(self.cell_key(labels) >> 56)

    def sum_q(self, labels: Iterable[str]) -> int:
        if self.secret is None:
            return 0
        return ptable((self.cell_key(labels) >> 48) & 0xFF)

    def count(self, labels: list[str]) -> "Count":
        """D15: 0 -> 0; 1..k-1 -> suppressed (primary); else max(k, c + p)."""
        c = len(labels)
        if c == 0:
            return Count(0, 0)
        if c < self.k:
            return Count(c, None)
        return Count(c, max(self.k, c + self.count_p(labels)))

    def km_count(self, labels: list[str]) -> int:
        """A Kaplan-Meier row's events or censored (D17): perturbed by the
        table, not suppressed (the row's at-risk decides whether it is
        published); 0 stays 0 and a non-zero count stays at least 1. (D17
        leaves the rule for counts under k open; this is the reading the
        cell-key branch implements, and what docs/research.md must state.)"""
        c = len(labels)
        if c == 0:
            return 0
        return max(1, c + self.count_p(labels))

    def integer_sum(self, labels: list[str], exact: int) -> int:
        """D16 for people, children, cents: X + (q X) / c in IEEE double, in
        that order, rounded half away from zero (llround)."""
        c = len(labels)
        if c == 0:
            return exact
        q = self.sum_q(labels)
        return round_half_away(float(exact) + float(q * exact) / c)

    def double_sum(self, labels: list[str], exact: float) -> float:
        """D16 for a double quantity (retention sums)."""
        c = len(labels)
        if c == 0:
            return exact
        q = self.sum_q(labels)
        return exact + (q * exact) / c


@dataclass
class Count:
    exact: int
    published: int | None  # None: must be suppressed as primary (1..k-1)


# ---------------------------------------------------------------------------
# Expected-answer specs, compared field by field with the server's JSON
# ---------------------------------------------------------------------------


@dataclass
class CountSpec:
    """An optional count with its suppression field."""
    exact: int
    published: int | None
    suppression_field: str
    # The counts this one is nested in: a primary suppression is allowed when
    # a difference is 1..k-1. An int is an exact outer count (primary allowed
    # only); a CountSpec is a nesting docs/research.md "Nested counts" lists,
    # and then the two must not both be published with a difference of 1..k-1.
    outer: list = field(default_factory=list)
    server: Any = None  # filled by compare: the server's value or None
    server_published: bool | None = None


@dataclass
class DerivedSpec:
    """An optional figure computed from counts: published iff they all are."""
    value: Any  # int (exact) or float (1e-12 relative); None: undefined (must be absent)
    deps: list  # CountSpec or DerivedSpec: absent when one of them is
    # Counts without a field of their own (e.g. a domain's conference cases
    # behind domain savings): the figure may be absent when one is 1..k-1.
    hidden: list[Count] = field(default_factory=list)
    integer: bool = False
    # A suppression field of the figure's own (domain_savings_suppression):
    # when the figure is absent it must be marked; PRIMARY only where
    # primary_ok (a hidden count of 1..k-1, or nested 1..k-1 below its outer
    # count); a hidden count of 1..k-1 forbids publication.
    own_mark: str = ""
    primary_ok: bool = False
    # (outer count, exact inner count) pairs: publishing the figure beside a
    # published outer count that exceeds the inner one by 1..k-1 discloses
    # the difference (docs "Nested counts").
    nested: list = field(default_factory=list)
    # A double the docs define to the last bit: compared with ==, not to 1e-12.
    bitwise: bool = False
    server_published: bool | None = None  # filled by compare


@dataclass
class IntervalSpec:
    """A ConfidenceInterval (docs/research.md "Confidence intervals"): present
    exactly when its figure is; `value` (lower, upper), or None where the
    interval is undefined (n < 2 for a mean) and must be absent."""
    value: tuple | None
    deps: list  # the figure (and counts) it accompanies
    server_published: bool | None = None


def wilson(x: int | None, n: int | None, scale: float = 1.0) -> tuple | None:
    """The Wilson score interval of the published x / n (p = min(x, n) / n),
    times scale; bounds 0 at x = 0 and 1 at x = n exactly."""
    if x is None or not n:
        return None
    p = min(x, n) / n
    z2 = Z95 * Z95
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    lower = 0.0 if p == 0 else centre - half
    upper = 1.0 if p == 1 else centre + half
    return (lower * scale, upper * scale)


def t_interval(mean: float | None, values: list, n: int | None) -> tuple | None:
    """published mean +- t(0.975, n - 1) s / sqrt(n): s the sample SD of the
    exact values, n the published count; None when n < 2 or fewer than two values."""
    if mean is None or n is None or n < 2 or len(values) < 2:
        return None
    s = statistics.stdev(values)  # exact rational arithmetic, rounded once
    half = float(scipy_stats.t.ppf(0.975, n - 1)) * s / math.sqrt(n)
    return (mean - half, mean + half)


@dataclass
class ValueSpec:
    """A non-optional field (absent in JSON means its default)."""
    value: Any


FLOAT_RTOL = 1e-12


def floats_equal(a: float, b: float) -> bool:
    if a == b:
        return True
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= FLOAT_RTOL * max(abs(a), abs(b))


# ---------------------------------------------------------------------------
# Reading the log
# ---------------------------------------------------------------------------


def payload_of(event: dict) -> tuple[str, dict]:
    for key, value in event.items():
        if key in ("event_id", "occurred_at", "correlation_id", "causation_id", "personal", "payload_version"):
            continue
        return key, value if isinstance(value, dict) else {}
    raise ValueError(f"event {event.get('event_id')} has no payload")


def load_export(path: str | Path) -> pd.DataFrame:
    """One row per event of an export: position, case, type, payload, dates."""
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            rec = json.loads(line)
            ev = rec["event"]
            ptype, payload = payload_of(ev)
            rows.append({
                "position": int(rec["global_position"]),
                "case_id": rec["case_id"],
                "version": int(rec["stream_version"]),
                "event_id": ev["event_id"],
                "type": ptype,
                "payload": payload,
                "occurred_at": ev.get("occurred_at", ""),
                "day": utc_date(ev["occurred_at"]) if ev.get("occurred_at") else None,
            })
    frame = pd.DataFrame(rows)
    if frame.empty:
        raise ValueError(f"{path}: no events")
    return frame.sort_values("position", kind="stable").reset_index(drop=True)


def live_events(log: pd.DataFrame, as_of: int = 0) -> pd.DataFrame:
    """The events as of position P (0: all), without retracted events and
    without the retractions themselves: a retracted event counts as never
    recorded (docs/case-rules.md). PersonalDataErased cannot be retracted."""
    if as_of:
        log = log[log["position"] <= as_of]
    retractions = log[log["type"] == "event_retracted"]
    retracted = {p["retracted_event_id"] for p in retractions["payload"]}
    live = log[(log["type"] != "event_retracted") & (~log["event_id"].isin(retracted))]
    return live


# ---------------------------------------------------------------------------
# Per-case facts
# ---------------------------------------------------------------------------


@dataclass
class Conference:
    event_id: str
    day: dt.date
    size: int
    central: int
    by_relation: dict[str, int]


@dataclass
class FollowUp:
    position: int
    day: dt.date
    active: set


@dataclass
class CaseFacts:
    case_id: str
    domain: str
    framework: str
    municipality: str
    referral_day: dt.date
    protection: bool
    conferences: list[Conference] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)  # type -> children (sum of records)
    recorded_cost: int = 0
    has_recorded_cost: bool = False
    first_day: dict[str, dt.date] = field(default_factory=dict)  # funnel step -> first day
    stop_reason: str | None = None
    plan_offered: bool = False
    plan_rejected: bool = False
    network: set = field(default_factory=set)
    followups: list[FollowUp] = field(default_factory=list)
    erased_at: int | None = None

    @property
    def first_conference_day(self) -> dt.date | None:
        """The UTC day of the case's first ConferenceHeld in log order (time
        zero of support; what conference_period filters on)."""
        return self.conferences[0].day if self.conferences else None


def fold_case(events: pd.DataFrame) -> CaseFacts | None:
    """Folds one case's live events (in log order) into its facts."""
    facts: CaseFacts | None = None
    coordinators: set = set()
    invitations: dict[str, tuple[str, bool]] = {}  # id -> (relation, central) of the latest invitation
    plan_members: set = set()
    fallback_members: set = set()
    central_named: set = set()

    def own_network(pid: str) -> bool:
        """Judged now: not a coordinator, not invited (latest) as PROFESSIONAL."""
        if pid in coordinators:
            return False
        relation = invitations.get(pid, ("RELATION_UNSPECIFIED", False))[0]
        return relation != "RELATION_PROFESSIONAL"

    def first(step: str, day: dt.date) -> None:
        """A funnel step's day: the UTC day of its first event in log order
        ("cases that reached step s (at its first event)"), like the first
        ConferenceHeld of support and conference_period; not the earliest date."""
        if step not in facts.first_day:
            facts.first_day[step] = day

    for row in events.itertuples(index=False):
        t, p = row.type, row.payload
        if t == "personal_data_erased":
            if facts is not None and facts.erased_at is None:
                facts.erased_at = row.position
            continue
        if t == "case_referred":
            if facts is not None:
                continue  # the case rules allow one live referral
            facts = CaseFacts(
                case_id=row.case_id, domain=p.get("domain", "DOMAIN_UNSPECIFIED"),
                framework=p.get("legal_framework", "LEGAL_FRAMEWORK_UNSPECIFIED"),
                municipality=p.get("municipality_code", ""), referral_day=row.day,
                protection=bool(p.get("threatened_measures")))
            central_named = set(p.get("central_person_ids", []))
            first("FUNNEL_STEP_REFERRED", row.day)
            continue
        if facts is None:
            continue  # only referred cases count
        if t == "coordinator_assigned":
            coordinators.add(p["coordinator_id"])
            first("FUNNEL_STEP_COORDINATOR_ASSIGNED", row.day)
        elif t == "participant_invited":
            invitations[p["participant_id"]] = (p.get("relation", "RELATION_UNSPECIFIED"),
                                                bool(p.get("central_person", False)))
        elif t == "plan_right_offered":
            facts.plan_offered = True
        elif t == "preparation_stopped":
            if facts.stop_reason is None:
                facts.stop_reason = p["reason"]
        elif t == "conference_held":
            seen: set = set()
            size = central = 0
            by_relation: dict[str, int] = {}
            for pid in p.get("attendee_ids", []):
                if pid in coordinators or pid in seen:
                    continue
                seen.add(pid)
                relation, invited_central = invitations.get(pid, ("RELATION_UNSPECIFIED", False))
                if relation == "RELATION_PROFESSIONAL":
                    continue
                size += 1
                by_relation[relation] = by_relation.get(relation, 0) + 1
                if pid in central_named or invited_central:
                    central += 1
                fallback_members.add(pid)
            facts.conferences.append(Conference(row.event_id, row.day, size, central, by_relation))
            first("FUNNEL_STEP_CONFERENCE_HELD", row.day)
        elif t == "plan_adopted":
            for action in p.get("actions", []):
                if action.get("owner_kind") == "ACTION_OWNER_KIND_PROFESSIONAL":
                    continue
                if own_network(action["owner_id"]):
                    plan_members.add(action["owner_id"])
            first("FUNNEL_STEP_PLAN_ADOPTED", row.day)
        elif t == "plan_decided":
            if p.get("decision") == "PLAN_DECISION_ACCEPTED":
                first("FUNNEL_STEP_PLAN_ACCEPTED", row.day)
            elif p.get("decision") == "PLAN_DECISION_REJECTED":
                facts.plan_rejected = True
        elif t == "follow_up_recorded":
            facts.followups.append(FollowUp(row.position, row.day, set(p.get("active_supporter_ids", []))))
        elif t == "outcome_recorded":
            o = p["outcome"]
            facts.outcomes[o] = facts.outcomes.get(o, 0) + int(p.get("children_affected", 0))
        elif t == "cost_recorded":
            if p.get("kind") in RECORDED_COST_KINDS:
                facts.recorded_cost += int(p["amount_cents"])
                facts.has_recorded_cost = True
    if facts is None:
        return None
    facts.network = plan_members if plan_members else fallback_members
    return facts


def fold(log: pd.DataFrame, as_of: int = 0) -> list[CaseFacts]:
    live = live_events(log, as_of)
    cases = []
    for _, events in live.groupby("case_id", sort=True):
        facts = fold_case(events)
        if facts is not None:
            cases.append(facts)
    return cases


# ---------------------------------------------------------------------------
# Selection and grouping
# ---------------------------------------------------------------------------


@dataclass
class Request:
    domains: list[str] = field(default_factory=list)
    legal_frameworks: list[str] = field(default_factory=list)
    municipality_codes: list[str] = field(default_factory=list)
    referral_from: str = ""
    referral_to: str = ""
    conference_from: str = ""
    conference_to: str = ""
    group_by: str = ""  # "", year, quarter, domain, municipality, legal-framework
    then_by: str = ""  # a second grouping (docs/research.md "Two-way grouping"), as group_by
    k: int = DEFAULT_K
    as_of: int = 0
    window_days: int = DEFAULT_WINDOW
    lapse_threshold: float = DEFAULT_THRESHOLD
    data_cutoff: str = ""

    def kringctl_args(self, model: str) -> list[str]:
        args = []
        for d in self.domains:
            args += ["--domain", d]
        for f in self.legal_frameworks:
            args += ["--legal-framework", f]
        for m in self.municipality_codes:
            args += ["--municipality", m]
        for flag, value in (("--referred-from", self.referral_from), ("--referred-to", self.referral_to),
                            ("--conference-from", self.conference_from), ("--conference-to", self.conference_to)):
            if value:
                args += [flag, value]
        if self.group_by:
            args += ["--group-by", self.group_by]
        if self.then_by:
            args += ["--then-by", self.then_by]
        args += ["--min-cell-size", str(self.k)]
        if self.as_of:
            args += ["--as-of", str(self.as_of)]
        if model == "support":
            if self.window_days != DEFAULT_WINDOW:
                args += ["--window-days", str(self.window_days)]
            if self.lapse_threshold != DEFAULT_THRESHOLD:
                args += ["--lapse-threshold", repr(self.lapse_threshold)]
            if self.data_cutoff:
                args += ["--data-cutoff", self.data_cutoff]
        return args


def in_period(day: dt.date | None, lo: str, hi: str) -> bool:
    if day is None:
        return False
    if lo and day < dt.date.fromisoformat(lo):
        return False
    if hi and day > dt.date.fromisoformat(hi):
        return False
    return True


def case_selected(c: CaseFacts, r: Request, conference_filter: bool = True) -> bool:
    if r.domains and c.domain not in r.domains:
        return False
    if r.legal_frameworks and c.framework not in r.legal_frameworks:
        return False
    if r.municipality_codes and c.municipality not in r.municipality_codes:
        return False
    if (r.referral_from or r.referral_to) and not in_period(c.referral_day, r.referral_from, r.referral_to):
        return False
    if conference_filter and (r.conference_from or r.conference_to):
        if not in_period(c.first_conference_day, r.conference_from, r.conference_to):
            return False
    return True


def group_key(r: Request, c: CaseFacts, day: dt.date, g: str | None = None) -> tuple[tuple, str]:
    """(sort key, published key) of a unit by grouping g (default r.group_by); day is the referral's (or the
    conference's for network size)."""
    g = r.group_by if g is None else g
    if g == "year":
        return (day.year,), str(day.year)
    if g == "quarter":
        q = (day.month - 1) // 3 + 1
        return (day.year, q), f"{day.year}-Q{q}"
    if g == "domain":
        return (DOMAIN_ORDER.index(c.domain),), c.domain
    if g == "municipality":
        return (c.municipality,), c.municipality
    if g == "legal-framework":
        return (FRAMEWORK_ORDER.index(c.framework),), c.framework
    raise ValueError(f"unknown grouping {g!r}")


def grouped(r: Request, units: list, day_of: Callable, case_of: Callable) -> list[tuple[str, list]]:
    """[("", all units)] + one (key, units) per group with at least one unit, in key order (decisions C10)."""
    out = [("", units)]
    if not r.group_by:
        return out
    groups: dict[tuple, tuple[str, list]] = {}
    for u in units:
        sort_key, key = group_key(r, case_of(u), day_of(u))
        if r.then_by:
            # Two-way: a pair (key, key2), sorted by key, then key2.
            sort_key2, key2 = group_key(r, case_of(u), day_of(u), r.then_by)
            sort_key, key = sort_key + sort_key2, (key, key2)
        groups.setdefault(sort_key, (key, []))[1].append(u)
    for sort_key in sorted(groups):
        out.append(groups[sort_key])
    return out


def key_specs(key: str | tuple) -> dict:
    """A group's key fields: key, and key2 with then_by."""
    if isinstance(key, tuple):
        return {"key": ValueSpec(key[0]), "key2": ValueSpec(key[1])}
    return {"key": ValueSpec(key)}


def case_label(c: CaseFacts) -> str:
    return "case:" + c.case_id


# ---------------------------------------------------------------------------
# The five answers
# ---------------------------------------------------------------------------


def network_size(cases: list[CaseFacts], r: Request, ck: CellKey) -> dict:
    units = []  # (case, conference)
    for c in cases:
        if not case_selected(c, r, conference_filter=False):
            continue
        for conf in c.conferences:
            if in_period(conf.day, r.conference_from, r.conference_to) or not (r.conference_from or r.conference_to):
                units.append((c, conf))
    out = {"groups": []}
    for key, us in grouped(r, units, lambda u: u[1].day, lambda u: u[0]):
        stats = network_stats(us, ck)
        if key == "":
            out["overall"] = stats
        else:
            out["groups"].append({**key_specs(key), "stats": stats})
    return out


def network_stats(units: list, ck: CellKey) -> dict:
    labels = ["conference:" + conf.event_id for _, conf in units]
    n = ck.count(labels)
    conferences = CountSpec(n.exact, n.published, "suppression")
    stats: dict[str, Any] = {"conferences": conferences}
    if n.exact == 0:
        stats.update(histogram=[], composition=[])
        return stats
    sizes = sorted(conf.size for _, conf in units)
    size_sum = ck.integer_sum(labels, sum(sizes))
    central_sum = ck.integer_sum(labels, sum(conf.central for _, conf in units))
    np_ = n.published
    stats["mean"] = DerivedSpec(size_sum / np_ if np_ else None, [conferences])
    stats["mean_ci"] = IntervalSpec(t_interval(stats["mean"].value, sizes, np_), [stats["mean"]])
    for name, p in (("median", 0.5), ("p10", 0.10), ("p25", 0.25), ("p75", 0.75), ("p90", 0.90)):
        stats[name] = DerivedSpec(float(percentile(sizes, p)), [conferences])
    stats["central_persons_mean"] = DerivedSpec(central_sum / np_ if np_ else None, [conferences])
    stats["central_persons_mean_ci"] = IntervalSpec(
        t_interval(stats["central_persons_mean"].value, [conf.central for _, conf in units], np_),
        [stats["central_persons_mean"]])
    hist = []
    for size in range(HIST_TOP + 1):
        bin_labels = [lab for lab, (_, conf) in zip(labels, units)
                      if (conf.size == size if size < HIST_TOP else conf.size >= HIST_TOP)]
        if not bin_labels:
            continue
        b = ck.count(bin_labels)
        hist.append({"size": ValueSpec(size), "conferences": CountSpec(b.exact, b.published, "suppression",
                                                                        outer=[n.exact])})
    stats["histogram"] = hist
    comp = []
    for relation in RELATIONS:
        rel_units = [(lab, conf) for lab, (_, conf) in zip(labels, units) if conf.by_relation.get(relation, 0) > 0]
        if not rel_units:
            continue
        rel_labels = [lab for lab, _ in rel_units]
        rc = ck.count(rel_labels)
        attendees_exact = sum(conf.by_relation[relation] for _, conf in rel_units)
        attendees = ck.integer_sum(rel_labels, attendees_exact)
        spec = CountSpec(rc.exact, rc.published, "suppression", outer=[conferences])
        mean_per_conference = DerivedSpec(attendees / np_ if np_ else None, [spec, conferences])
        share = DerivedSpec(attendees / size_sum if size_sum else 0.0, [spec, conferences])
        per_conference = [conf.by_relation.get(relation, 0) for _, conf in units]  # 0 where none attended
        comp.append({
            "relation": ValueSpec(relation),
            "conferences": spec,
            "attendees": DerivedSpec(attendees, [spec], integer=True),
            "mean_per_conference": mean_per_conference,
            "share": share,
            "mean_per_conference_ci": IntervalSpec(t_interval(mean_per_conference.value, per_conference, np_),
                                                   [mean_per_conference]),
            "share_ci": IntervalSpec(wilson(attendees, size_sum) if size_sum > 0 else None, [share]),
        })
    stats["composition"] = comp
    return stats


def outcomes(cases: list[CaseFacts], r: Request, ck: CellKey) -> dict:
    units = [c for c in cases if case_selected(c, r)]
    out = {"groups": []}
    for key, cs in grouped(r, units, lambda c: c.referral_day, lambda c: c):
        g = outcome_group(cs, ck)
        g.update(key_specs(key))
        if key == "":
            out["overall"] = g
        else:
            out["groups"].append(g)
    return out


def outcome_group(cs: list[CaseFacts], ck: CellKey) -> dict:
    referred = ck.count([case_label(c) for c in cs])
    conf_cases = [c for c in cs if c.conferences]
    conferences = ck.count([case_label(c) for c in conf_cases])
    ref_spec = CountSpec(referred.exact, referred.published, "referred_suppression")
    conf_spec = CountSpec(conferences.exact, conferences.published, "conferences_suppression", outer=[referred.exact])
    figures = []
    for o in OUTCOME_TYPES:
        rc = ck.count([case_label(c) for c in cs if o in c.outcomes])
        cc = ck.count([case_label(c) for c in conf_cases if o in c.outcomes])
        rs = CountSpec(rc.exact, rc.published, "referred_suppression", outer=[referred.exact])
        cspec = CountSpec(cc.exact, cc.published, "conference_suppression",
                          outer=[rs, conf_spec, referred.exact])
        per_referrals = DerivedSpec(100.0 * rc.published / referred.published
                                    if rc.published is not None and referred.published else None, [rs, ref_spec])
        per_conferences = DerivedSpec(100.0 * cc.published / conferences.published
                                      if cc.published is not None and conferences.published else None,
                                      [cspec, conf_spec])
        figures.append({
            "outcome": ValueSpec(o),
            "referred_cases": rs,
            "conference_cases": cspec,
            "per_100_referrals": per_referrals,
            "per_100_conferences": per_conferences,
            "per_100_referrals_ci": IntervalSpec(wilson(rc.published, referred.published, 100.0), [per_referrals]),
            "per_100_conferences_ci": IntervalSpec(wilson(cc.published, conferences.published, 100.0),
                                                   [per_conferences]),
        })
    return {"referred": ref_spec, "conferences": conf_spec, "outcomes": figures}


def load_cost_model(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def cost_benefit(cases: list[CaseFacts], r: Request, ck: CellKey, model: dict) -> dict:
    units = [c for c in cases if case_selected(c, r) and c.conferences]
    out = {"groups": []}
    for key, cs in grouped(r, units, lambda c: c.referral_day, lambda c: c):
        g = cost_group(cs, ck, model)
        g.update(key_specs(key))
        if key == "":
            out["overall"] = g
        else:
            out["groups"].append(g)
    return out


def cost_group(cs: list[CaseFacts], ck: CellKey, model: dict) -> dict:
    labels = [case_label(c) for c in cs]
    n = ck.count(labels)
    conf_spec = CountSpec(n.exact, n.published, "conferences_suppression")
    default = int(model["conference_cost_cents"])
    costs_exact = sum(c.recorded_cost if c.has_recorded_cost else default for c in cs)
    costs = ck.integer_sum(labels, costs_exact)
    recorded = ck.count([case_label(c) for c in cs if c.has_recorded_cost])
    lines = []
    line_specs = []
    line_savings = 0
    line_ok = True
    for saving in model["savings"]:
        o = saving["outcome"]
        with_o = [c for c in cs if o in c.outcomes]
        lc = ck.count([case_label(c) for c in with_o])
        spec = CountSpec(lc.exact, lc.published, "suppression", outer=[conf_spec])
        line_specs.append(spec)
        amount = int(saving["amount_cents"])
        if saving.get("per_child"):
            children = sum(max(1, c.outcomes[o]) for c in with_o)
            units = ck.integer_sum([case_label(c) for c in with_o], children)
        else:
            units = lc.published
        if lc.published is None:
            units = None
        savings = units * amount if units is not None else None
        if savings is None:
            line_ok = False
        else:
            line_savings += savings
        lines.append({"outcome": ValueSpec(o), "cases": spec, "units": DerivedSpec(units, [spec], integer=True),
                      "savings_cents": DerivedSpec(savings, [spec], integer=True)})
    # Domain savings (docs "Cost-benefit", D16): the published count of the
    # conference cases of each priced domain x its price, summed. The counts
    # are hidden (no field of their own) but under the rules of any count:
    # primary 1..k-1, nested in the conference cases; the figure is published
    # only when every one of them is (domain_savings_suppression).
    domain_total = 0
    hidden = []
    primary_ok = False
    for ds in model.get("domain_savings", []):
        dc = ck.count([case_label(c) for c in cs if c.domain == ds["domain"]])
        hidden.append(dc)
        if dc.published is None or 1 <= n.exact - dc.exact < ck.k:
            primary_ok = True
        if dc.published is None:
            domain_total = None
        elif domain_total is not None:
            domain_total += dc.published * int(ds["amount_cents"])
    domain_spec = DerivedSpec(domain_total, [], hidden=hidden, integer=True,
                              own_mark="domain_savings_suppression", primary_ok=primary_ok,
                              nested=[(conf_spec, h.exact) for h in hidden])
    gross = line_savings + domain_total if (line_ok and domain_total is not None) else None
    net = gross - costs if gross is not None else None
    gross_spec = DerivedSpec(gross, line_specs + [domain_spec], integer=True)
    # Nested in `conferences` (docs "Nested counts"): primary when 1..k-1, or
    # when the conference cases without a recorded cost are 1..k-1.
    rc_spec = CountSpec(recorded.exact, recorded.published, "conferences_with_recorded_cost_suppression",
                        outer=[conf_spec])
    g = {
        "conferences": conf_spec,
        "conference_costs_cents": DerivedSpec(costs, [conf_spec], integer=True),
        "conferences_with_recorded_cost": rc_spec,
        "domain_savings_cents": domain_spec,
        # Gross: when every line and the domain savings are published; net and
        # net per conference: when gross and the conference cases are.
        "gross_savings_cents": gross_spec,
        "net_savings_cents": DerivedSpec(net, [gross_spec, conf_spec], integer=True),
        "net_savings_per_conference_cents": DerivedSpec(
            net_per_conference(net, n.published) if net is not None and n.published else None,
            [gross_spec, conf_spec], integer=True),
        "lines": lines,
    }
    return g


def net_per_conference(net: int, conferences: int) -> int:
    """Net savings / conferences in whole cents, truncated toward zero. The
    docs do not say how this is rounded; truncation (C++ integer division) is
    what the server does, and what the docs should state."""
    q = abs(net) // conferences
    return q if net >= 0 else -q


def funnel(cases: list[CaseFacts], r: Request, ck: CellKey) -> dict:
    units = [c for c in cases if case_selected(c, r)]
    out = {"groups": []}
    for key, cs in grouped(r, units, lambda c: c.referral_day, lambda c: c):
        g = funnel_group(cs, ck)
        g.update(key_specs(key))
        if key == "":
            out["overall"] = g
        else:
            out["groups"].append(g)
    return out


def funnel_group(cs: list[CaseFacts], ck: CellKey) -> dict:
    steps = []
    previous: CountSpec | None = None
    referred_spec: CountSpec | None = None
    outers: list[int] = []
    for i, step in enumerate(FUNNEL_STEPS):
        reached = [c for c in cs if step in c.first_day]
        sc = ck.count([case_label(c) for c in reached])
        spec = CountSpec(sc.exact, sc.published, "suppression", outer=list(outers))
        outers.append(spec)
        if referred_spec is None:
            referred_spec = spec
        share = (sc.published / referred_spec.published
                 if sc.published is not None and referred_spec.published else None)
        share_spec = DerivedSpec(share, [spec, referred_spec])
        fig = {"step": ValueSpec(step), "cases": spec, "share_of_referred": share_spec,
               "share_of_referred_ci": IntervalSpec(wilson(sc.published, referred_spec.published), [share_spec])}
        if i > 0:
            prev = FUNNEL_STEPS[i - 1]
            diffs = sorted(float((c.first_day[step] - c.first_day[prev]).days) for c in reached
                           if prev in c.first_day)
            fig["median_days_from_previous"] = DerivedSpec(percentile(diffs, 0.5) if diffs else None, [spec])
        steps.append(fig)
    stops = []
    for reason in STOP_REASONS:
        with_r = [c for c in cs if c.stop_reason == reason]  # every reason is listed, in enum order
        rc = ck.count([case_label(c) for c in with_r])
        stops.append({"reason": ValueSpec(reason),
                      "cases": CountSpec(rc.exact, rc.published, "suppression", outer=[len(cs)])})
    prot = [c for c in cs if c.protection]
    pc = ck.count([case_label(c) for c in prot])
    oc = ck.count([case_label(c) for c in prot if c.plan_offered])
    mc = ck.count([case_label(c) for c in prot if "FUNNEL_STEP_PLAN_ADOPTED" in c.first_day])
    p_spec = CountSpec(pc.exact, pc.published, "protection_suppression", outer=[len(cs)])
    o_spec = CountSpec(oc.exact, oc.published, "offered_suppression", outer=[p_spec])
    m_spec = CountSpec(mc.exact, mc.published, "made_suppression", outer=[p_spec])
    share_offered = DerivedSpec(oc.published / pc.published if oc.published is not None and pc.published
                                else None, [o_spec, p_spec])
    share_made = DerivedSpec(mc.published / pc.published if mc.published is not None and pc.published
                             else None, [m_spec, p_spec])
    plan_right = {
        "protection_cases": p_spec, "plan_offered": o_spec, "plan_made": m_spec,
        "share_offered": share_offered, "share_made": share_made,
        "share_offered_ci": IntervalSpec(wilson(oc.published, pc.published), [share_offered]),
        "share_made_ci": IntervalSpec(wilson(mc.published, pc.published), [share_made]),
    }
    adopted = [c for c in cs if "FUNNEL_STEP_PLAN_ADOPTED" in c.first_day]
    rj = ck.count([case_label(c) for c in cs if c.plan_rejected])
    return {"steps": steps, "stop_reasons": stops, "plan_right": plan_right,
            "plan_rejected": CountSpec(rj.exact, rj.published, "plan_rejected_suppression",
                                       outer=[steps[FUNNEL_STEPS.index("FUNNEL_STEP_PLAN_ADOPTED")]["cases"]])}


@dataclass
class SupportCase:
    facts: CaseFacts
    retention: list[tuple[int, int, float]]  # (t, log index, retention) per observed follow-up
    time: int
    lapsed: bool


def support_cases(cases: list[CaseFacts], r: Request) -> list[SupportCase]:
    cutoff = dt.date.fromisoformat(r.data_cutoff) if r.data_cutoff else None
    out = []
    for c in cases:
        if not case_selected(c, r) or not c.conferences or not c.network:
            continue
        first_conf = c.first_conference_day
        observed = []
        for idx, fu in enumerate(c.followups):
            if c.erased_at is not None and fu.position > c.erased_at:
                continue  # recorded after the erasure: not processed (D5)
            if cutoff is not None and fu.day > cutoff:
                continue  # after the data cut-off (D6)
            t = max(0, (fu.day - first_conf).days)
            retention = len(fu.active & c.network) / len(c.network)  # one IEEE division (D4)
            observed.append((t, idx, retention))
        if not observed:
            continue
        lapses = [t for t, _, ret in observed if ret < r.lapse_threshold]
        if lapses:
            out.append(SupportCase(c, observed, min(lapses), True))
        else:
            out.append(SupportCase(c, observed, max(t for t, _, _ in observed), False))
    return out


def sustained_support(cases: list[CaseFacts], r: Request, ck: CellKey) -> dict:
    units = support_cases(cases, r)
    out = {"groups": []}
    for key, us in grouped(r, units, lambda u: u.facts.referral_day, lambda u: u.facts):
        g = support_group(us, r, ck)
        g.update(key_specs(key))
        if key == "":
            out["overall"] = g
        else:
            out["groups"].append(g)
    return out


def nearest_followup(sc: SupportCase, months: int, window: int) -> tuple[int, int, float] | None:
    mark = DAYS_PER_MONTH * months
    best = None
    for t, idx, ret in sc.retention:
        distance = abs(Fraction(t) - mark)
        if distance > window:
            continue
        if best is None or distance < best[0] or (distance == best[0] and idx < best[1][1]):
            best = (distance, (t, idx, ret))
    return best[1] if best else None


def support_group(us: list[SupportCase], r: Request, ck: CellKey) -> dict:
    labels = [case_label(u.facts) for u in us]
    n = ck.count(labels)
    spec = CountSpec(n.exact, n.published, "suppression")
    retention = []
    for months in MARKS:
        chosen = [(u, nearest_followup(u, months, r.window_days)) for u in us]
        chosen = [(u, f) for u, f in chosen if f is not None]
        mc = ck.count([case_label(u.facts) for u, _ in chosen])
        mspec = CountSpec(mc.exact, mc.published, "suppression", outer=[spec])
        total = math.fsum(f[2] for _, f in chosen)  # the exact sum rounded once (docs/research.md)
        total = ck.double_sum([case_label(u.facts) for u, _ in chosen], total)
        mean = total / mc.published if mc.published else None
        mean_spec = DerivedSpec(mean, [mspec, spec], bitwise=True)
        retention.append({"months": ValueSpec(months), "cases": mspec,
                          # Defined to the last bit (fsum rounded once, one division): compared exactly.
                          "mean_retention": mean_spec,
                          "mean_retention_ci": IntervalSpec(t_interval(mean, [f[2] for _, f in chosen], mc.published),
                                                            [mean_spec])})
    curve, s12, s24, truncated = km_rows(us, r.k, ck, n.published)
    s12_spec, s24_spec = DerivedSpec(s12, [spec]), DerivedSpec(s24, [spec])
    rmst = rmst_730(curve, truncated)
    rmst_spec = DerivedSpec(rmst[0] if rmst else None, [spec])
    return {"cases": spec, "retention": retention, "curve": curve,
            "survival_12m": s12_spec, "survival_24m": s24_spec,
            "survival_12m_ci": IntervalSpec(band_at(curve, 365) if s12 is not None else None, [s12_spec]),
            "survival_24m_ci": IntervalSpec(band_at(curve, 730) if s24 is not None else None, [s24_spec]),
            "rmst_24m_days": rmst_spec,
            "rmst_24m_ci": IntervalSpec((rmst[0] - Z95 * math.sqrt(rmst[1]), rmst[0] + Z95 * math.sqrt(rmst[1]))
                                        if rmst else None, [rmst_spec]),
            "curve_truncated": ValueSpec(truncated), "_curve_deps": [spec]}


def band_at(rows: list, day: int) -> tuple:
    """The published band of the row in effect at `day` (1 to 1 before the first)."""
    band = (1.0, 1.0)
    for row in rows:
        if row["day"].value <= day:
            band = (row["lower_95"].value, row["upper_95"].value)
    return band


def rmst_730(rows: list, truncated: bool) -> tuple | None:
    """docs/research.md "Restricted mean survival time": the area under the
    published step function from day 0 to 730 and its variance
    sum A_i^2 d_i / (n_i (n_i - d_i)) (d_i = n_i adds nothing); None when the
    curve is truncated before day 730."""
    if not rows or (truncated and rows[-1]["day"].value < 730):
        return None
    steps = [(row["day"].value, row["at_risk"].value, row["events"].value, row["survival"].value)
             for row in rows if row["day"].value <= 730]
    def area_from(i: int) -> float:
        total = 0.0
        for j in range(i, len(steps)):
            end = steps[j + 1][0] if j + 1 < len(steps) else 730
            total += steps[j][3] * (end - steps[j][0])
        return total
    mean = steps[0][0] + area_from(0)  # S = 1 before the first row
    variance = 0.0
    for i, (_, n, d, _) in enumerate(steps):
        if 0 < d < n:
            a = area_from(i)
            variance += a * a * d / (n * (n - d))
    return mean, variance


def km_rows(us: list[SupportCase], k: int, ck: CellKey, published_cases: int | None = None):
    """The Kaplan-Meier table of "support held" (events before censorings at
    a time), with the counts of each row perturbed (D17: at-risk as a count
    under D15, events and censored by km_count), survival and the Greenwood
    log(-log) band from the perturbed counts, rows while the at-risk is
    published (at least k)."""
    times = sorted({u.time for u in us})
    rows = []
    s = 1.0
    greenwood = 0.0
    s12 = s24 = 1.0
    truncated = False
    for t in times:
        at_risk = [case_label(u.facts) for u in us if u.time >= t]
        events = [case_label(u.facts) for u in us if u.time == t and u.lapsed]
        censored = [case_label(u.facts) for u in us if u.time == t and not u.lapsed]
        n = ck.count(at_risk).published  # D15: None (suppressed) when fewer than k are at risk
        d = ck.km_count(events)
        c = ck.km_count(censored)
        if n is None or n < k:
            truncated = True
            break
        # Perturbed events cannot exceed those at risk (S stays in [0, 1]);
        # censorings are not clamped.
        d = min(d, n)
        if d > 0:
            s = s * ((n - d) / n)
            greenwood += d / (n * (n - d)) if n > d else math.inf
        lower, upper = loglog_band(s, greenwood)
        rows.append({"day": ValueSpec(t), "at_risk": ValueSpec(n), "events": ValueSpec(d), "censored": ValueSpec(c),
                     "survival": ValueSpec(s), "lower_95": ValueSpec(lower), "upper_95": ValueSpec(upper)})
        if t <= 365:
            s12 = s
        if t <= 730:
            s24 = s
    if truncated:
        cut = rows[-1]["day"].value if rows else -1
        # S(365) and S(730) are determined by the published rows only when
        # the curve reaches past them: the first row left off lies after the mark.
        first_left_off = next(t for t in times if t > cut)
        if first_left_off <= 365:
            s12 = None
        if first_left_off <= 730:
            s24 = None
    if published_cases is not None and (not rows or rows[0]["day"].value > 0):
        # The table starts at day 0: S = 1 with the published cases at risk.
        rows.insert(0, {"day": ValueSpec(0), "at_risk": ValueSpec(published_cases), "events": ValueSpec(0),
                        "censored": ValueSpec(0), "survival": ValueSpec(1.0), "lower_95": ValueSpec(1.0),
                        "upper_95": ValueSpec(1.0)})
    return rows, s12, s24, truncated


def loglog_band(s: float, greenwood_sum: float) -> tuple[float, float]:
    """lifelines' exponential Greenwood band: exp(-exp(log(-log S) -+ z sqrt(V)/log S)), NaN -> 1;
    (0, 0) once S is 0, as lifelines gives."""
    if s == 0.0:
        return 0.0, 0.0
    with np.errstate(all="ignore"):
        v = np.log(np.float64(s))
        root = np.sqrt(np.float64(greenwood_sum))
        upper = np.exp(-np.exp(np.log(-v) + Z95 * root / v))
        lower = np.exp(-np.exp(np.log(-v) - Z95 * root / v))
    lower = 1.0 if np.isnan(lower) else float(lower)
    upper = 1.0 if np.isnan(upper) else float(upper)
    return lower, upper


# ---------------------------------------------------------------------------
# Comparison with the server's JSON
# ---------------------------------------------------------------------------

LIST_KEYS = {"groups": "key", "histogram": "size", "composition": "relation", "outcomes": "outcome",
             "lines": "outcome", "steps": "step", "stop_reasons": "reason", "retention": "months", "curve": "day"}
DEFAULTS = {"key": "", "size": 0, "relation": "RELATION_UNSPECIFIED", "months": 0, "day": 0}


class Mismatches:
    def __init__(self):
        self.items: list[str] = []
        self.checked = 0
        self.primary_marks = 0
        self.secondary_marks = 0

    def add(self, path: str, text: str) -> None:
        self.items.append(f"{path}: {text}")


def _num(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    return value


def compare(expected: dict, server: dict, k: int) -> Mismatches:
    """Compares an expected answer (specs) with the server's JSON answer."""
    m = Mismatches()
    derived: list[tuple[str, DerivedSpec, dict, str]] = []
    _walk(expected.get("overall", {}), server.get("overall", {}), "overall", k, m, derived)
    _walk_list("groups", expected.get("groups", []), server.get("groups", []), "", k, m, derived)
    for path, spec, sdict, name in derived:
        if isinstance(spec, DerivedSpec):
            _check_derived(path, spec, sdict, name, k, m)
        elif isinstance(spec, IntervalSpec):
            _check_interval(path, spec, sdict, name, m)
        else:
            _check_nesting(path, spec, k, m)
    return m


def _exact(outer: Any) -> int:
    return outer.exact if isinstance(outer, CountSpec) else outer


def _check_nesting(path: str, spec: CountSpec, k: int, m: Mismatches) -> None:
    """docs "Nested counts": a published count and a published count it is
    nested in never differ by 1..k-1 (on the exact counts)."""
    if not spec.server_published:
        return
    for outer in spec.outer:
        if isinstance(outer, CountSpec) and outer.server_published and 1 <= outer.exact - spec.exact < k:
            m.add(path, f"published (exact {spec.exact}) beside a published count it is nested in (exact "
                        f"{outer.exact}): the difference {outer.exact - spec.exact} is 1..k-1 (k={k})")


def _walk(exp: dict, srv: dict, path: str, k: int, m: Mismatches, derived: list) -> None:
    if not isinstance(srv, dict):
        m.add(path, f"expected an object, server has {srv!r}")
        return
    known = set()
    for name, spec in exp.items():
        if name.startswith("_"):
            continue
        known.add(name)
        here = f"{path}.{name}"
        if isinstance(spec, CountSpec):
            known.add(spec.suppression_field)
            _check_count(here, spec, srv.get(name), srv.get(spec.suppression_field, "SUPPRESSION_NONE"), k, m)
            derived.append((here, spec, srv, name))  # nesting checked once every count is read
        elif isinstance(spec, (DerivedSpec, IntervalSpec)):
            derived.append((here, spec, srv, name))
        elif isinstance(spec, ValueSpec):
            if name == "curve_truncated" and any(d.server_published is False for d in exp.get("_curve_deps", [])):
                continue
            m.checked += 1
            default = _default_like(spec.value)
            if isinstance(spec.value, str) and spec.value.endswith("_UNSPECIFIED"):
                default = spec.value  # an enum's zero value is omitted in JSON
            value = srv.get(name, default) if name in ("key", "key2") else _num(srv.get(name, default))
            if isinstance(spec.value, float) or isinstance(value, float):
                if not isinstance(value, (int, float)) or not floats_equal(float(spec.value), float(value)):
                    m.add(here, f"expected {spec.value!r}, server {value!r}")
            elif value != spec.value:
                m.add(here, f"expected {spec.value!r}, server {value!r}")
        elif isinstance(spec, dict):
            _walk(spec, srv.get(name, {}), here, k, m, derived)
        elif isinstance(spec, list):
            if name == "curve" and any(d.server_published is False for d in exp.get("_curve_deps", [])):
                # A curve is published only while its population count is.
                if srv.get("curve"):
                    m.add(here, "rows published although the group's count is suppressed")
                continue
            _walk_list(name, spec, srv.get(name, []), path, k, m, derived)
    for name in srv:
        if name not in known and not name.endswith("suppression"):
            m.add(f"{path}.{name}", f"the server publishes a field the oracle does not expect: {srv[name]!r}")


def _default_like(value: Any) -> Any:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return 0.0
    if isinstance(value, int):
        return 0
    return ""


def _walk_list(name: str, exp: list, srv: list, path: str, k: int, m: Mismatches, derived: list) -> None:
    key_field = LIST_KEYS[name]
    exp_keys = [e[key_field].value for e in exp]
    srv_keys = [s.get(key_field, DEFAULTS.get(key_field, 0)) for s in srv]
    if key_field != "key":
        srv_keys = [_num(k_) for k_ in srv_keys]
    elif any("key2" in e for e in exp) or any("key2" in s for s in srv):
        # Two-way groups: matched by (key, key2).
        exp_keys = [(e["key"].value, e["key2"].value if "key2" in e else "") for e in exp]
        srv_keys = [(s.get("key", ""), s.get("key2", "")) for s in srv]
    if exp_keys != srv_keys:
        m.add(f"{path}.{name}", f"rows differ: oracle {exp_keys}, server {srv_keys}")
    by_key = {k_: s for k_, s in zip(srv_keys, srv)}
    for e, key in zip(exp, exp_keys):
        if key in by_key:
            _walk(e, by_key[key], f"{path}.{name}[{key}]", k, m, derived)


def _check_count(path: str, spec: CountSpec, value: Any, suppression: str, k: int, m: Mismatches) -> None:
    m.checked += 1
    value = _num(value)
    if value is None:
        spec.server_published = False
        if suppression == "SUPPRESSION_NONE":
            if spec.exact == 0:
                m.add(path, "absent and not suppressed: a zero count must be published as 0")
            else:
                m.add(path, f"absent without a suppression (exact {spec.exact})")
        elif 1 <= spec.exact < k:
            if suppression != "SUPPRESSION_PRIMARY":
                m.add(path, f"exact {spec.exact} < k={k} must be suppressed as PRIMARY, server says {suppression}")
        elif suppression == "SUPPRESSION_PRIMARY":
            if not any(1 <= _exact(outer) - spec.exact < k for outer in spec.outer):
                m.add(path, f"PRIMARY suppression of a count of {spec.exact} (k={k}) with no nesting difference "
                            f"1..k-1 (outer counts {[_exact(o) for o in spec.outer]})")
        elif spec.exact == 0:
            m.add(path, "a zero count suppressed (zero is not disclosive and is published)")
        return
    spec.server_published = True
    spec.server = value
    if 1 <= value < k:
        m.add(path, f"publishes {value}, a count of 1..k-1 (k={k})")
    if suppression != "SUPPRESSION_NONE":
        m.add(path, f"published {value} but marked {suppression}")
    if spec.published is None:
        m.add(path, f"exact count {spec.exact} is under k={k} but the server publishes {value}")
    elif value != spec.published:
        m.add(path, f"expected {spec.published} (exact {spec.exact}), server {value}")


def _check_derived(path: str, spec: DerivedSpec, srv: dict, name: str, k: int, m: Mismatches) -> None:
    m.checked += 1
    present = name in srv
    spec.server_published = present
    value = _num(srv.get(name))
    deps_suppressed = any(d.server_published is False for d in spec.deps)
    hidden_small = any(h.published is None for h in spec.hidden)
    if spec.own_mark:
        mark = srv.get(spec.own_mark, "SUPPRESSION_NONE")
        if not present:
            if mark == "SUPPRESSION_NONE":
                m.add(path, f"absent without {spec.own_mark}; the oracle expects {spec.value!r}")
            elif mark == "SUPPRESSION_PRIMARY" and not spec.primary_ok:
                m.add(path, f"{spec.own_mark} PRIMARY but no count behind it is 1..k-1 or nested 1..k-1 "
                            f"(hidden counts {[h.exact for h in spec.hidden]})")
            return
        if mark != "SUPPRESSION_NONE":
            m.add(path, f"published {value!r} but {spec.own_mark} is {mark}")
        for outer, inner in spec.nested:
            if outer.server_published and 1 <= outer.exact - inner < k:
                m.add(path, f"published beside its outer count {outer.exact}, which exceeds a count behind it "
                            f"({inner}) by 1..k-1")
    if deps_suppressed:
        if present:
            m.add(path, f"published ({value!r}) although a figure it is derived from is suppressed")
        return
    if not present:
        if hidden_small or spec.value is None:
            return
        own_mark = srv.get(f"{name}_suppression", "SUPPRESSION_NONE")
        if own_mark == "SUPPRESSION_SECONDARY":
            return  # a figure with a suppression field of its own, protected by the audit
        m.add(path, f"absent ({own_mark}); the oracle expects {spec.value!r}")
        return
    if spec.value is None:
        if hidden_small:
            m.add(path, f"published {value!r}, which multiplies or divides back to a count of 1..k-1")
        else:
            m.add(path, f"published {value!r} where the oracle has no value")
        return
    if spec.integer or isinstance(spec.value, int) and not isinstance(spec.value, bool):
        if value != spec.value:
            m.add(path, f"expected {spec.value}, server {value}")
    elif spec.bitwise:
        if not isinstance(value, (int, float)) or float(spec.value) != float(value):
            m.add(path, f"expected exactly {spec.value!r}, server {value!r}")
    else:
        if not isinstance(value, (int, float)) or not floats_equal(float(spec.value), float(value)):
            m.add(path, f"expected {spec.value!r}, server {value!r}")


def _check_interval(path: str, spec: IntervalSpec, srv: dict, name: str, m: Mismatches) -> None:
    m.checked += 1
    present = name in srv
    if any(d.server_published is False for d in spec.deps) or spec.value is None:
        if present:
            m.add(path, f"an interval {srv[name]!r} where its figure is absent or the interval undefined")
        return
    if not present:
        m.add(path, f"absent; the oracle expects {spec.value!r}")
        return
    got = (float(srv[name].get("lower", 0.0)), float(srv[name].get("upper", 0.0)))
    if not all(floats_equal(a, b) for a, b in zip(spec.value, got)):
        m.add(path, f"expected {spec.value!r}, server {got!r}")


def _count_marks(node: Any, m: Mismatches) -> None:
    """Counts every *suppression field of the answer (all figures, whatever their name)."""
    if isinstance(node, dict):
        for name, value in node.items():
            if name.endswith("suppression") and value == "SUPPRESSION_PRIMARY":
                m.primary_marks += 1
            elif name.endswith("suppression") and value == "SUPPRESSION_SECONDARY":
                m.secondary_marks += 1
            else:
                _count_marks(value, m)
    elif isinstance(node, list):
        for item in node:
            _count_marks(item, m)


def check_report(server: dict, m: Mismatches, k: int, perturbed: bool) -> None:
    """The DisclosureReport: k, and the suppressions the answer contains."""
    _count_marks({"overall": server.get("overall", {}), "groups": server.get("groups", [])}, m)
    rep = server.get("disclosure", {})
    if _num(rep.get("min_cell_size", 0)) != k:
        m.add("disclosure.min_cell_size", f"expected {k}, server {rep.get('min_cell_size')}")
    if _num(rep.get("primary_cells", 0)) != m.primary_marks:
        m.add("disclosure.primary_cells", f"the answer marks {m.primary_marks} primary, the report says "
                                          f"{rep.get('primary_cells', 0)}")
    if _num(rep.get("secondary_cells", 0)) != m.secondary_marks:
        m.add("disclosure.secondary_cells", f"the answer marks {m.secondary_marks} secondary, the report says "
                                            f"{rep.get('secondary_cells', 0)}")
    if perturbed:
        # D18: the method, the table's version, the maximum count perturbation and the sum rule.
        for name, want in (("method", "cell key"), ("ptable_version", PTABLE_VERSION),
                           ("max_count_perturbation", MAX_PERTURBATION)):
            if _num(rep.get(name)) != want:
                m.add(f"disclosure.{name}", f"expected {want!r}, server {rep.get(name)!r}")
        if not rep.get("sum_rule"):
            m.add("disclosure.sum_rule", "the report does not state the sum rule (D18)")


MODELS = {
    "network-size": lambda cases, r, ck, cm: network_size(cases, r, ck),
    "outcomes": lambda cases, r, ck, cm: outcomes(cases, r, ck),
    "cost-benefit": lambda cases, r, ck, cm: cost_benefit(cases, r, ck, cm),
    "funnel": lambda cases, r, ck, cm: funnel(cases, r, ck),
    "support": lambda cases, r, ck, cm: sustained_support(cases, r, ck),
}


def expected_answer(log: pd.DataFrame, model: str, r: Request, secret: bytes | None, cost_model: dict) -> dict:
    cases = fold(log, r.as_of)
    return MODELS[model](cases, r, CellKey(secret, r.k), cost_model)


def _plain(spec: Any) -> Any:
    if isinstance(spec, CountSpec):
        return {"exact": spec.exact, "published": spec.published}
    if isinstance(spec, DerivedSpec):
        return spec.value
    if isinstance(spec, ValueSpec):
        return spec.value
    if isinstance(spec, dict):
        return {k: _plain(v) for k, v in spec.items() if not k.startswith("_")}
    if isinstance(spec, list):
        return [_plain(v) for v in spec]
    return spec


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("export")
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("request", help="JSON object with the fields of Request")
    ap.add_argument("--secret-file")
    ap.add_argument("--cost-model", default=str(Path(__file__).resolve().parents[2] / "projections/cost_model.json"))
    a = ap.parse_args()
    secret = Path(a.secret_file).read_bytes() if a.secret_file else None
    req = Request(**json.loads(a.request))
    answer = expected_answer(load_export(a.export), a.model, req, secret, load_cost_model(a.cost_model))
    json.dump(_plain(answer), sys.stdout, indent=1, default=str)
    print()
