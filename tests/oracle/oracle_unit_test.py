"""The oracle's own definitions, checked by hand (no server): the worked
examples of the docs and the lead's decisions for issue 13."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import sys
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import oracle  # noqa: E402


def test_percentiles_follow_the_worked_example_of_read_models_md():
    sizes = [3, 5, 8, 12]
    assert [oracle.percentile(sizes, p) for p in (0.10, 0.25, 0.5, 0.75, 0.90)] == [3.6, 4.5, 6.5, 9.0, 10.8]
    assert oracle.percentile([7], 0.9) == 7


def test_the_perturbation_table_is_kring_ptable_1():
    table = [oracle.ptable(i) for i in range(256)]
    assert table[:16] == [-2] * 16 and table[16:64] == [-1] * 48 and table[64:192] == [0] * 128
    assert table[192:240] == [1] * 48 and table[240:] == [2] * 16
    assert sum(table) == 0 and sum(p * p for p in table) / 256 == 0.875


def test_record_keys_are_the_first_8_bytes_of_hmac_sha256_big_endian():
    secret = b"s" * 32
    ck = oracle.CellKey(secret, 5)
    digest = hmac.new(secret, b"case:ORC-1", hashlib.sha256).digest()
    assert ck.record_key("case:ORC-1") == int.from_bytes(digest[:8], "big")
    labels = [f"case:c{i}" for i in range(7)]
    assert ck.cell_key(labels) == sum(ck.record_key(x) for x in labels) % 2**64


def test_counts_under_k_are_suppressed_zero_is_published_and_the_rest_perturbed_at_least_k():
    ck = oracle.CellKey(b"k" * 32, 10)
    assert ck.count([]).published == 0
    assert ck.count([f"case:{i}" for i in range(9)]).published is None
    for n in range(10, 60):
        labels = [f"case:{i}" for i in range(n)]
        c = ck.count(labels)
        assert c.published == max(10, n + oracle.ptable(ck.cell_key(labels) >> 56))
        assert c.published >= 10 and abs(c.published - n) <= 2
    exact = oracle.CellKey(None, 10)
    assert exact.count([f"case:{i}" for i in range(12)]).published == 12


def test_sums_are_perturbed_by_q_times_the_mean_rounded_half_away_from_zero():
    ck = oracle.CellKey(b"q" * 32, 5)
    labels = [f"conference:{i}" for i in range(8)]
    q = oracle.ptable((ck.cell_key(labels) >> 48) & 0xFF)
    assert ck.integer_sum(labels, 37) == oracle.round_half_away(Fraction(37) + Fraction(q * 37, 8))
    assert oracle.round_half_away(Fraction(5, 2)) == 3 and oracle.round_half_away(Fraction(-5, 2)) == -3


def support_case(days_and_retention):
    facts = oracle.CaseFacts("c", "DOMAIN_HOUSING", "LEGAL_FRAMEWORK_WMO", "GM0363", dt.date(2023, 1, 1), False)
    return oracle.SupportCase(facts, [(t, i, r) for i, (t, r) in enumerate(days_and_retention)], 0, False)


def test_windows_are_exact_around_marks_of_30_44_day_months():
    assert oracle.DAYS_PER_MONTH * 24 == Fraction(73056, 100)
    # 700 is not within 30 days of 730.56, 701 is; 760 is, 761 is not.
    assert oracle.nearest_followup(support_case([(700, 0.5)]), 24, 30) is None
    assert oracle.nearest_followup(support_case([(701, 0.5)]), 24, 30)[0] == 701
    assert oracle.nearest_followup(support_case([(760, 0.5)]), 24, 30)[0] == 760
    assert oracle.nearest_followup(support_case([(761, 0.5)]), 24, 30) is None
    # Nearest: 183 (0.36 from 182.64) before 182 (0.64); 731 before 730; 365 before 366.
    assert oracle.nearest_followup(support_case([(182, 0.1), (183, 0.2)]), 6, 91)[0] == 183
    assert oracle.nearest_followup(support_case([(730, 0.1), (731, 0.2)]), 24, 91)[0] == 731
    assert oracle.nearest_followup(support_case([(366, 0.1), (365, 0.2)]), 12, 91)[0] == 365
    # The same day twice: the first in log order.
    assert oracle.nearest_followup(support_case([(365, 0.1), (365, 0.2)]), 12, 91)[2] == 0.1


def test_the_loglog_band_is_lifelines_formula():
    s, v = 0.8, 0.002
    lower, upper = oracle.loglog_band(s, v)
    import math
    theta = math.log(-math.log(s))
    se = math.sqrt(v) / abs(math.log(s))
    assert math.isclose(lower, math.exp(-math.exp(theta + oracle.Z95 * se)), rel_tol=1e-14)
    assert math.isclose(upper, math.exp(-math.exp(theta - oracle.Z95 * se)), rel_tol=1e-14)
    assert oracle.loglog_band(1.0, 0.0) == (1.0, 1.0)


def conference_case(i, domain):
    facts = oracle.CaseFacts(f"cb{i}", domain, "LEGAL_FRAMEWORK_WMO", "GM0363", dt.date(2023, 1, 1), False)
    facts.conferences.append(oracle.Conference(f"e{i}", dt.date(2023, 2, 1), 3, 1, {}))
    return facts


def test_domain_savings_are_each_priced_domains_published_count_times_its_price_d16():
    model = {"conference_cost_cents": 400000, "savings": [],
             "domain_savings": [{"domain": "DOMAIN_MULTI_PROBLEM", "amount_cents": 4800000}]}
    ck = oracle.CellKey(b"d" * 32, 5)
    cases = [conference_case(i, "DOMAIN_MULTI_PROBLEM") for i in range(12)] + \
            [conference_case(100 + i, "DOMAIN_HOUSING") for i in range(20)]
    g = oracle.cost_group(cases, ck, model)
    published = ck.count([f"case:cb{i}" for i in range(12)]).published
    assert g["domain_savings_cents"].value == published * 4800000
    assert not g["domain_savings_cents"].primary_ok
    # 3 multi-problem cases at k = 5: never published, PRIMARY allowed; so is 28 of 32 (4 short).
    few = oracle.cost_group(cases[9:], ck, model)["domain_savings_cents"]
    assert few.value is None and few.primary_ok
    short = oracle.cost_group([conference_case(i, "DOMAIN_MULTI_PROBLEM") for i in range(28)] + cases[12:16], ck,
                              model)["domain_savings_cents"]
    assert short.value is not None and short.primary_ok


def test_a_published_count_beside_a_published_outer_count_1_to_k_minus_1_larger_is_a_disagreement():
    outer = oracle.CountSpec(12, 12, "referred_suppression")
    inner = oracle.CountSpec(10, 10, "conferences_suppression", outer=[outer])
    expected = {"overall": {"referred": outer, "conferences": inner}}
    both = oracle.compare(expected, {"overall": {"referred": 12, "conferences": 10}}, 5)
    assert any("nested in" in item for item in both.items)
    inner_hidden = oracle.compare(expected, {"overall": {"referred": 12,
                                                         "conferences_suppression": "SUPPRESSION_PRIMARY"}}, 5)
    assert inner_hidden.items == []


def test_wilson_and_t_intervals_follow_the_docs():
    # statsmodels proportion_confint(7, 40, method="wilson"); scipy ttest_1samp([3, 5, 7, 2, 9, 4, 6], 0)
    lower, upper = oracle.wilson(7, 40)
    assert abs(lower - 0.0874541374603592) < 1e-15 and abs(upper - 0.3194999033178772) < 1e-15
    assert oracle.wilson(0, 12)[0] == 0.0 and oracle.wilson(12, 12)[1] == 1.0
    assert oracle.wilson(13, 12) == oracle.wilson(12, 12)  # a perturbed numerator above n counts as n
    assert oracle.wilson(None, 12) is None and oracle.wilson(3, 0) is None
    lower, upper = oracle.t_interval(36 / 7, [3, 5, 7, 2, 9, 4, 6], 7)
    assert abs(lower - 2.9137057102626516) < 1e-12 and abs(upper - 7.372008575451635) < 1e-12
    assert oracle.t_interval(3.0, [3], 5) is None and oracle.t_interval(3.0, [3, 4], 1) is None


def test_rmst_and_the_day_zero_row_follow_the_docs():
    # The hand example of tests/research_test.cc: rows 0 (12 at risk), 90 (12, 1), 183 (11, 2), 365 (8, 2).
    def row(day, n, d, s):
        return {"day": oracle.ValueSpec(day), "at_risk": oracle.ValueSpec(n), "events": oracle.ValueSpec(d),
                "survival": oracle.ValueSpec(s)}
    rows = [row(0, 12, 0, 1.0), row(90, 12, 1, 11 / 12), row(183, 11, 2, 0.75), row(365, 8, 2, 0.5625)]
    mean, variance = oracle.rmst_730(rows, truncated=False)
    assert abs(mean - 517.0625) < 1e-9
    a90, a183, a365 = 427.0625, 427.0625 - 93 * 11 / 12, 365 * 0.5625
    expected = a90 ** 2 / (12 * 11) + a183 ** 2 * 2 / (11 * 9) + a365 ** 2 * 2 / (8 * 6)
    assert abs(variance - expected) < 1e-9 * expected
    assert oracle.rmst_730(rows, truncated=True) is None  # cut before day 730
    assert oracle.band_at([], 365) == (1.0, 1.0)


def test_two_way_groups_are_pairs_in_key_order():
    r = oracle.Request(group_by="year", then_by="domain")
    CaseLike = type("CaseLike", (), {})
    units = []
    for year, domain in [(2023, "DOMAIN_HOUSING"), (2022, "DOMAIN_HOUSING"), (2022, "DOMAIN_YOUTH_PROTECTION"),
                         (2022, "DOMAIN_HOUSING"), (2023, "DOMAIN_YOUTH_PROTECTION")]:
        c = CaseLike()
        c.domain = domain
        units.append((c, dt.date(year, 5, 1)))
    groups = oracle.grouped(r, units, lambda u: u[1], lambda u: u[0])
    # By year, then by the Domain enum's number (YOUTH_PROTECTION 1 before HOUSING 4).
    assert [key for key, _ in groups] == ["", ("2022", "DOMAIN_YOUTH_PROTECTION"), ("2022", "DOMAIN_HOUSING"),
                                          ("2023", "DOMAIN_YOUTH_PROTECTION"), ("2023", "DOMAIN_HOUSING")]
    assert [len(us) for _, us in groups] == [5, 1, 2, 1, 1]
    assert oracle.key_specs(("2022", "DOMAIN_HOUSING"))["key2"].value == "DOMAIN_HOUSING"
