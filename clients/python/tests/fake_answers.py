"""Hand-built ResearchService answers with the issue-15 fields (then_by pairs,
confidence intervals, RMST, comparisons, log-rank tests, provenance), shared
by the unit tests of frames, provenance and plots. SYNTHETIC figures only."""

import hashlib

from kring_research import events_pb2 as ev
from kring_research import research_pb2 as pb

PRIMARY = pb.SUPPRESSION_PRIMARY


def seal(response, **provenance):
    """Sets the provenance as a server would: the given fields, then
    answer_sha256 over the response as it was before provenance was set
    (serialized deterministically), computed here without the client's code."""
    response.ClearField("provenance")
    digest = hashlib.sha256(response.SerializeToString(deterministic=True)).hexdigest()
    p = response.provenance
    p.log_position = provenance.get("log_position", 510)
    p.min_cell_size = provenance.get("min_cell_size", 10)
    p.disclosure_method = provenance.get("disclosure_method", "threshold suppression, cell key (kring-ptable-1)")
    p.filters_json = provenance.get("filters_json", '{"group_by":"GROUPING_YEAR","then_by":"GROUPING_DOMAIN"}')
    p.definition_version = provenance.get("definition_version", "support/2")
    p.cost_model_version = provenance.get("cost_model_version", "")
    p.server_version = provenance.get("server_version", "0.15.0")
    p.answer_sha256 = provenance.get("answer_sha256", digest)
    return response


def _ci(msg, field, lower, upper):
    ci = getattr(msg, field)
    ci.lower, ci.upper = lower, upper


def support_two_way():
    """Support by year then domain, compared with "2020/DOMAIN_HOUSING": the
    overall curve starts at day 0 (as the server does since issue 15), the
    groups' curves start later (an older server) or are suppressed."""
    r = pb.SupportResponse()
    o = r.overall
    o.cases, o.survival_12m, o.survival_24m = 90, 0.8, 0.6
    _ci(o, "survival_12m_ci", 0.7, 0.87)
    _ci(o, "survival_24m_ci", 0.48, 0.7)
    o.rmst_24m_days = 580.5
    _ci(o, "rmst_24m_ci", 540.25, 620.75)
    o.retention.add(months=6, cases=70, mean_retention=0.91)
    _ci(o.retention[0], "mean_retention_ci", 0.88, 0.94)
    o.curve.add(day=0, at_risk=90, survival=1.0, lower_95=1.0, upper_95=1.0)
    o.curve.add(day=120, at_risk=88, events=6, censored=1, survival=0.93, lower_95=0.86, upper_95=0.97)
    o.curve.add(day=400, at_risk=60, events=10, censored=8, survival=0.78, lower_95=0.68, upper_95=0.85)

    a = r.groups.add(key="2020", key2="DOMAIN_HOUSING", cases=50, survival_12m=0.84)
    _ci(a, "survival_12m_ci", 0.7, 0.92)
    a.rmst_24m_days = 600.0
    _ci(a, "rmst_24m_ci", 550.0, 650.0)
    a.curve.add(day=168, at_risk=50, events=4, censored=0, survival=0.92, lower_95=0.8, upper_95=0.97)
    a.curve.add(day=300, at_risk=40, events=3, censored=3, survival=0.85, lower_95=0.72, upper_95=0.92)

    b = r.groups.add(key="2020", key2="DOMAIN_YOUTH_PROTECTION", cases=40, survival_12m=0.75)
    _ci(b, "survival_12m_ci", 0.58, 0.86)
    b.curve.add(day=90, at_risk=40, events=5, censored=0, survival=0.875, lower_95=0.73, upper_95=0.95)
    b.curve_truncated = True

    c = r.groups.add(key="2021", key2="DOMAIN_HOUSING", suppression=PRIMARY)  # every figure absent
    del c

    r.comparison.reference = "2020/DOMAIN_HOUSING"
    gc = r.comparison.groups.add(group="2020/DOMAIN_YOUTH_PROTECTION")
    d = gc.differences.add(measure="survival_12m", estimate=-0.09, method="normal (Greenwood)")
    _ci(d, "ci", -0.25, 0.07)
    gc.differences.add(measure="rmst_24m_days", method="normal (RMST variance)")  # absent: no RMST for b
    gc.log_rank.groups.extend(["2020/DOMAIN_HOUSING", "2020/DOMAIN_YOUTH_PROTECTION"])
    gc.log_rank.chi_square, gc.log_rank.p_value, gc.log_rank.degrees_of_freedom = 1.25, 0.2635, 1
    gc2 = r.comparison.groups.add(group="2021/DOMAIN_HOUSING")
    gc2.differences.add(measure="survival_12m", method="normal (Greenwood)")
    gc2.log_rank.groups.extend(["2020/DOMAIN_HOUSING", "2021/DOMAIN_HOUSING"])
    gc2.log_rank.degrees_of_freedom = 1
    gc2.log_rank.absent_reason = "2021/DOMAIN_HOUSING: cases suppressed"
    r.comparison.log_rank_all.groups.extend(["2020/DOMAIN_HOUSING", "2020/DOMAIN_YOUTH_PROTECTION",
                                             "2021/DOMAIN_HOUSING"])
    r.comparison.log_rank_all.degrees_of_freedom = 2
    r.comparison.log_rank_all.absent_reason = "2021/DOMAIN_HOUSING: cases suppressed"

    r.watermark.events_applied, r.watermark.max_global_position = 500, 510
    r.disclosure.min_cell_size = 10
    return seal(r)


def outcomes_by_year():
    """Outcomes by year, compared with "2020"; items are full enum names."""
    r = pb.OutcomesResponse()
    figures = {"": (100, (20.0, 13.3, 28.9), None), "2020": (60, (25.0, 15.8, 37.1), 10.0),
               "2021": (40, None, (12.5, 5.5, 26.1))}
    for key, (referred, ots, lifted) in figures.items():
        g = r.overall if not key else r.groups.add(key=key)
        g.referred = referred
        f = g.outcomes.add(outcome=ev.OUTCOME_TYPE_OTS_PREVENTED)
        if ots is None:
            f.referred_suppression = PRIMARY
        else:
            f.referred_cases = round(ots[0] * referred / 100)
            f.per_100_referrals = ots[0]
            _ci(f, "per_100_referrals_ci", ots[1], ots[2])
        f = g.outcomes.add(outcome=ev.OUTCOME_TYPE_OTS_LIFTED)
        if isinstance(lifted, tuple):
            f.referred_cases = round(lifted[0] * referred / 100)
            f.per_100_referrals = lifted[0]
            _ci(f, "per_100_referrals_ci", lifted[1], lifted[2])
        elif lifted is not None:
            f.referred_cases = 6
            f.per_100_referrals = lifted  # a server without intervals
        else:
            f.referred_suppression = PRIMARY
    r.comparison.reference = "2020"
    gc = r.comparison.groups.add(group="2021")
    d = gc.differences.add(measure="per_100_referrals", item="OUTCOME_TYPE_OTS_LIFTED", estimate=2.5,
                           method="Newcombe hybrid score (Wilson)")
    _ci(d, "ci", -9.1, 17.0)
    gc.differences.add(measure="per_100_referrals", item="OUTCOME_TYPE_OTS_PREVENTED",
                       method="Newcombe hybrid score (Wilson)")
    return seal(r, definition_version="outcomes/2")


def funnel_by_domain():
    r = pb.FunnelResponse()
    for key, counts in (("", (100, 70, 50)), ("DOMAIN_HOUSING", (60, 45, 30)),
                        ("DOMAIN_YOUTH_PROTECTION", (40, 25, None))):
        g = r.overall if not key else r.groups.add(key=key)
        for step, n in zip((pb.FUNNEL_STEP_REFERRED, pb.FUNNEL_STEP_CONFERENCE_HELD, pb.FUNNEL_STEP_PLAN_ADOPTED),
                           counts):
            f = g.steps.add(step=step)
            if n is None:
                f.suppression = PRIMARY
                continue
            f.cases, f.share_of_referred = n, n / counts[0]
            _ci(f, "share_of_referred_ci", n / counts[0] - 0.1, min(1.0, n / counts[0] + 0.08))
    return seal(r, definition_version="funnel/2")


def cost_benefit_by_year():
    r = pb.CostBenefitResponse()
    for key, net in (("", 1750000), ("2020", 1250000), ("2021", None), ("2022", -300050)):
        g = r.overall if not key else r.groups.add(key=key)
        if net is None:
            g.conferences_suppression = PRIMARY
        else:
            g.conferences, g.net_savings_cents = 20, net
    r.cost_model.version = "SYNTHETIC-model-1"
    return seal(r, definition_version="cost-benefit/2", cost_model_version="SYNTHETIC-model-1")


def network_size_overall():
    r = pb.NetworkSizeResponse()
    o = r.overall
    o.conferences, o.mean = 40, 10.5
    _ci(o, "mean_ci", 9.7, 11.3)
    for size, n in ((8, 10), (9, 12), (10, None), (30, 6)):
        b = o.histogram.add(size=size)
        if n is None:
            b.suppression = PRIMARY
        else:
            b.conferences = n
    f = o.composition.add(relation=ev.RELATION_FAMILY, attendees=300, share=0.7, conferences=40)
    _ci(f, "share_ci", 0.655, 0.742)
    f = o.composition.add(relation=ev.RELATION_FRIEND, attendees=90, share=0.21, conferences=30)
    _ci(f, "share_ci", 0.174, 0.251)
    o.composition.add(relation=ev.RELATION_NEIGHBOUR, suppression=PRIMARY)
    g = r.groups.add(key="2020")
    g.stats.conferences = 25
    g.stats.histogram.add(size=9, conferences=11)
    return seal(r, definition_version="network-size/2")
