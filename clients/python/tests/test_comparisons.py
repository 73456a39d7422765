"""Issue 15 in the frames: two-way grouping (key2), confidence-interval
columns, RMST, the comparisons and log-rank frames, and the then_by /
compare_with arguments (checked here and sent to the server as given)."""

import math
from concurrent import futures

import grpc
import pandas as pd
import pytest

from fake_answers import funnel_by_domain, outcomes_by_year, support_two_way
from kring_research import Client, FunnelResult, OutcomesResult, ResearchError, SupportResult
from kring_research import _convert as cv
from kring_research import research_pb2 as pb
from kring_research import research_pb2_grpc

# ---------------------------------------------------------------------------
# then_by: a key2 column
# ---------------------------------------------------------------------------


def test_then_by_answer_has_a_key2_column_after_group_in_every_frame():
    res = SupportResult.from_response(support_two_way())
    for name in ("table", "retention", "curve"):
        df = getattr(res, name)
        assert list(df.columns[:2]) == ["group", "key2"], name
    t = res.table
    assert list(zip(t["group"], t["key2"])) == [("all", "all"), ("2020", "DOMAIN_HOUSING"),
                                                ("2020", "DOMAIN_YOUTH_PROTECTION"), ("2021", "DOMAIN_HOUSING")]
    assert list(res.curve["key2"]) == ["all"] * 3 + ["DOMAIN_HOUSING"] * 2 + ["DOMAIN_YOUTH_PROTECTION"]
    # key2 is not repeated among the figures' columns.
    assert list(t.columns).count("key2") == 1


def test_one_way_answer_has_no_key2_column_and_then_by_keeps_it_when_no_group_is_listed():
    res = OutcomesResult.from_response(outcomes_by_year())
    assert "key2" not in res.table.columns and "key2" not in res.groups.columns
    empty = SupportResult.from_response(pb.SupportResponse(), two_way=True)  # then_by asked, nothing listed
    assert list(empty.table.columns[:2]) == ["group", "key2"] and list(empty.table["key2"]) == ["all"]
    assert list(empty.curve.columns[:2]) == ["group", "key2"] and len(empty.curve) == 0


def test_funnel_table_with_then_by_keeps_one_group_and_key2_column():
    r = funnel_by_domain()
    for g in r.groups:
        g.key2 = "2020"
    res = FunnelResult.from_response(r)
    assert list(res.table.columns[:2]) == ["group", "key2"]
    assert list(res.table.columns).count("group") == 1 and list(res.table.columns).count("key2") == 1
    assert list(res.plan_right.columns[:2]) == ["group", "key2"]


# ---------------------------------------------------------------------------
# Confidence intervals and RMST
# ---------------------------------------------------------------------------


def test_interval_columns_follow_their_figure_and_are_nan_when_absent():
    res = SupportResult.from_response(support_two_way())
    t = res.table
    cols = list(t.columns)
    assert cols[cols.index("survival_12m") + 1:cols.index("survival_12m") + 3] == [
        "survival_12m_ci_lower", "survival_12m_ci_upper"]
    assert cols[cols.index("rmst_24m_days") + 1:] == ["rmst_24m_ci_lower", "rmst_24m_ci_upper"]
    assert (t.loc[0, "survival_12m_ci_lower"], t.loc[0, "survival_12m_ci_upper"]) == (0.7, 0.87)
    assert (t.loc[0, "rmst_24m_days"], t.loc[0, "rmst_24m_ci_lower"], t.loc[0, "rmst_24m_ci_upper"]) == (
        580.5, 540.25, 620.75)
    assert math.isnan(t.loc[2, "rmst_24m_days"]) and math.isnan(t.loc[2, "rmst_24m_ci_lower"])
    assert math.isnan(t.loc[3, "survival_12m_ci_upper"])  # suppressed group
    assert str(t["survival_24m_ci_upper"].dtype) == "float64"
    assert (res.retention.loc[0, "mean_retention_ci_lower"], res.retention.loc[0, "mean_retention_ci_upper"]) == (
        0.88, 0.94)


def test_outcome_rates_carry_their_wilson_intervals_per_100():
    t = OutcomesResult.from_response(outcomes_by_year()).table
    row = t[(t.group == "2020") & (t.outcome == "ots_prevented")].iloc[0]
    assert (row.per_100_referrals, row.per_100_referrals_ci_lower, row.per_100_referrals_ci_upper) == (
        25.0, 15.8, 37.1)
    lifted = t[(t.group == "2020") & (t.outcome == "ots_lifted")].iloc[0]
    assert lifted.per_100_referrals == 10.0 and math.isnan(lifted.per_100_referrals_ci_lower)


def test_every_interval_of_every_answer_becomes_two_columns():
    # Every ConfidenceInterval field of every message the frames read.
    for message in (pb.NetworkSizeStats, pb.RelationShare, pb.OutcomeFigure, pb.RetentionFigure, pb.SupportGroup,
                    pb.FunnelStepFigure, pb.PlanRightFigures):
        names = [c[0] for c in cv.columns(message.DESCRIPTOR)]
        intervals = [f.name for f in message.DESCRIPTOR.fields if cv.is_interval(f)]
        assert intervals, message
        for name in intervals:
            assert f"{name}_lower" in names and f"{name}_upper" in names, (message, name)
            assert name not in names


# ---------------------------------------------------------------------------
# Comparisons and log-rank tests
# ---------------------------------------------------------------------------


def test_comparisons_frame_lists_each_difference_with_its_interval():
    res = OutcomesResult.from_response(outcomes_by_year())
    c = res.comparisons
    assert list(c.columns) == ["group", "measure", "item", "estimate", "ci_lower", "ci_upper", "method"]
    assert res.reference == "2020"
    assert c.shape == (2, 7)
    first = c.iloc[0]
    assert first[["group", "measure", "item", "estimate", "ci_lower", "ci_upper"]].tolist() == [
        "2021", "per_100_referrals", "ots_lifted", 2.5, -9.1, 17.0]
    assert first.method == "Newcombe hybrid score (Wilson)"
    # The item names an outcome as the table does, so the two join.
    assert set(c["item"]) <= set(res.table["outcome"])
    assert math.isnan(c.iloc[1].estimate) and math.isnan(c.iloc[1].ci_lower)  # absent: either figure is


def test_comparisons_with_then_by_name_groups_by_key_slash_key2():
    res = SupportResult.from_response(support_two_way())
    assert res.reference == "2020/DOMAIN_HOUSING"
    assert list(res.comparisons["group"]) == ["2020/DOMAIN_YOUTH_PROTECTION"] * 2 + ["2021/DOMAIN_HOUSING"]
    assert list(res.comparisons["measure"]) == ["survival_12m", "rmst_24m_days", "survival_12m"]
    assert list(res.comparisons["item"]) == ["", "", ""]


def test_log_rank_frame_has_pairwise_rows_then_the_k_sample_test():
    lr = SupportResult.from_response(support_two_way()).log_rank
    assert list(lr.columns) == ["test", "group", "groups", "chi_square", "degrees_of_freedom", "p_value",
                                "absent_reason"]
    assert list(lr["test"]) == ["pairwise", "pairwise", "k-sample"]
    assert list(lr["group"]) == ["2020/DOMAIN_YOUTH_PROTECTION", "2021/DOMAIN_HOUSING", ""]
    assert lr.loc[0, "groups"] == "2020/DOMAIN_HOUSING, 2020/DOMAIN_YOUTH_PROTECTION"
    assert (lr.loc[0, "chi_square"], lr.loc[0, "p_value"], lr.loc[0, "degrees_of_freedom"]) == (1.25, 0.2635, 1)
    assert math.isnan(lr.loc[1, "chi_square"]) and lr.loc[1, "absent_reason"].endswith("cases suppressed")
    assert lr.loc[2, "degrees_of_freedom"] == 2 and math.isnan(lr.loc[2, "p_value"])


def test_answer_without_comparison_has_empty_typed_frames():
    res = SupportResult.from_response(pb.SupportResponse())
    assert res.reference is None
    assert len(res.comparisons) == 0 and str(res.comparisons["estimate"].dtype) == "float64"
    assert len(res.log_rank) == 0 and list(res.log_rank.columns)[0] == "test"
    assert list(res.frames()) == ["table", "retention", "curve", "comparisons", "log_rank"]


# ---------------------------------------------------------------------------
# The arguments: then_by and compare_with
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [pb.NetworkSizeRequest, pb.OutcomesRequest, pb.CostBenefitRequest,
                                 pb.SupportRequest, pb.FunnelRequest])
def test_then_by_and_compare_with_on_every_request(cls):
    r = cv.fill_selection(cls(), group_by="year", then_by="domain", compare_with="2020/DOMAIN_HOUSING")
    assert (r.group_by, r.then_by, r.compare_with) == (pb.GROUPING_YEAR, pb.GROUPING_DOMAIN, "2020/DOMAIN_HOUSING")
    assert {f.name: f.number for f in cls.DESCRIPTOR.fields if f.name in ("then_by", "compare_with")} == {
        "then_by": 20, "compare_with": 21}
    r = cv.fill_selection(cls(), group_by="GROUPING_MUNICIPALITY", then_by="GROUPING_LEGAL_FRAMEWORK")
    assert r.then_by == pb.GROUPING_LEGAL_FRAMEWORK and r.compare_with == ""


def test_compare_with_takes_short_domain_and_legal_framework_names():
    r = cv.fill_selection(pb.SupportRequest(), group_by="year", then_by="domain", compare_with="2020/housing")
    assert r.compare_with == "2020/DOMAIN_HOUSING"
    r = cv.fill_selection(pb.SupportRequest(), group_by="legal_framework", then_by="domain",
                          compare_with="wmo/DOMAIN_YOUTH_PROTECTION")
    assert r.compare_with == "LEGAL_FRAMEWORK_WMO/DOMAIN_YOUTH_PROTECTION"
    # Keys of other groupings, and names that are no value, go as given (the server judges them).
    r = cv.fill_selection(pb.SupportRequest(), group_by="municipality", compare_with="GM0363")
    assert r.compare_with == "GM0363"
    r = cv.fill_selection(pb.SupportRequest(), group_by="domain", compare_with="space")
    assert r.compare_with == "space"


@pytest.mark.parametrize("kw, match", [
    (dict(then_by="week", group_by="year"), r"^then_by: unknown value 'week'"),
    (dict(then_by="domain"), r"^then_by: needs group_by"),
    (dict(then_by="year", group_by="GROUPING_YEAR"), r"^then_by: must differ from group_by"),
    (dict(compare_with="2020"), r"^compare_with: needs group_by"),
    (dict(compare_with=2020, group_by="year"), r"^compare_with: expected a group's label"),
    (dict(compare_with=" ", group_by="year"), r"^compare_with: expected a group's label"),
    (dict(compare_with="all", group_by="year"), r"^compare_with: \"all\" is the overall row"),
    (dict(compare_with="2020", group_by="year", then_by="domain"), r"^compare_with: with then_by"),
    (dict(compare_with="2020/DOMAIN_HOUSING", group_by="year"), r"^compare_with: .* then_by is not set"),
])
def test_bad_then_by_or_compare_with_is_refused_naming_the_argument(kw, match):
    with pytest.raises(ValueError, match=match):
        cv.fill_selection(pb.SupportRequest(), **kw)


class _Fake(research_pb2_grpc.ResearchServiceServicer):
    """Answers with the canned issue-15 answers, refusing an unknown reference
    group as the server does."""

    def __init__(self):
        self.requests = []

    def _answer(self, request, context, answer):
        self.requests.append(request)
        if request.compare_with == "1999":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "compare_with: '1999' is not a listed group")
        return answer

    def GetSustainedSupport(self, request, context):
        return self._answer(request, context, support_two_way())

    def GetOutcomes(self, request, context):
        return self._answer(request, context, outcomes_by_year())

    def GetNetworkSize(self, request, context):
        return self._answer(request, context, pb.NetworkSizeResponse())

    def GetCostBenefit(self, request, context):
        return self._answer(request, context, pb.CostBenefitResponse())

    def GetFunnel(self, request, context):
        return self._answer(request, context, pb.FunnelResponse())


@pytest.fixture()
def fake():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = _Fake()
    research_pb2_grpc.add_ResearchServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with Client(f"127.0.0.1:{port}", timeout=10, token="") as client:
        yield client, servicer
    server.stop(None)


def test_every_method_sends_then_by_and_compare_with(fake):
    client, servicer = fake
    calls = [client.network_size, client.outcomes, client.cost_benefit, client.sustained_support, client.funnel]
    for call in calls:
        res = call(group_by="year", then_by="domain", compare_with="2020/DOMAIN_HOUSING")
        req = servicer.requests[-1]
        assert (req.group_by, req.then_by, req.compare_with) == (
            pb.GROUPING_YEAR, pb.GROUPING_DOMAIN, "2020/DOMAIN_HOUSING"), call.__name__
        assert list(res.table.columns[:2]) == ["group", "key2"], call.__name__  # then_by asked: key2 even if empty
    assert len(servicer.requests) == len(calls)


def test_one_way_call_has_no_key2_and_gets_the_comparison(fake):
    client, servicer = fake
    res = client.outcomes(group_by="year", compare_with="2020")
    assert servicer.requests[-1].then_by == pb.GROUPING_UNSPECIFIED
    assert "key2" not in res.table.columns
    assert res.reference == "2020" and len(res.comparisons) == 2


def test_refused_arguments_are_not_sent_and_the_servers_refusal_is_a_research_error(fake):
    client, servicer = fake
    with pytest.raises(ValueError, match="^then_by"):
        client.sustained_support(then_by="domain")
    with pytest.raises(ValueError, match="^compare_with"):
        client.funnel(compare_with="2020")
    assert servicer.requests == []
    with pytest.raises(ResearchError) as info:
        client.sustained_support(group_by="year", compare_with="1999")
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT and info.value.details.startswith("compare_with")


def test_frames_keep_their_dtypes_with_then_by():
    res = SupportResult.from_response(support_two_way())
    assert str(res.table["cases"].dtype) == "Int64" and res.table.loc[3, "cases"] is pd.NA
    assert str(res.curve["day"].dtype) == "int64"
