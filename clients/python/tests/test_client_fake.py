"""The Client against an in-process fake ResearchService (no kringd): requests
arrive as built, answers become frames, gRPC errors become ResearchError."""

from concurrent import futures

import grpc
import pandas as pd
import pytest

from kring_research import Client, ResearchError, events_pb2 as ev, research_pb2 as pb, research_pb2_grpc


class FakeResearch(research_pb2_grpc.ResearchServiceServicer):
    def __init__(self):
        self.requests = []

    def GetNetworkSize(self, request, context):
        self.requests.append(request)
        if request.disclosure.min_cell_size in (1, 2, 3, 4):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "disclosure.min_cell_size: must be 0 (the default, 10) or at least 5")
        r = pb.NetworkSizeResponse(as_of_position=request.as_of_position)
        r.overall.conferences, r.overall.mean = 12, 9.5
        r.groups.add(key="2020").stats.conferences = 12
        r.watermark.events_applied = 99
        return r

    def GetCostBenefit(self, request, context):
        self.requests.append(request)
        r = pb.CostBenefitResponse()
        r.cost_model.CopyFrom(request.cost_model)
        return r

    def GetSustainedSupport(self, request, context):
        self.requests.append(request)
        return pb.SupportResponse()

    # GetOutcomes and GetFunnel: the generated base answers UNIMPLEMENTED.


@pytest.fixture()
def fake():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = FakeResearch()
    research_pb2_grpc.add_ResearchServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with Client(f"127.0.0.1:{port}", timeout=10) as client:
        yield client, servicer
    server.stop(None)


def test_request_and_answer(fake):
    client, servicer = fake
    res = client.network_size(group_by="year", domains=["youth_protection"], municipality_codes=["GM0363"],
                              legal_frameworks=["jeugdwet"], referral_period=("2020-01-01", "2021-12-31"),
                              conference_period=(None, "2022-06-30"), min_cell_size=10, as_of_position=7)
    req = servicer.requests[-1]
    assert req.group_by == pb.GROUPING_YEAR
    assert list(req.domains) == [ev.DOMAIN_YOUTH_PROTECTION]
    assert list(req.legal_frameworks) == [ev.LEGAL_FRAMEWORK_JEUGDWET]
    assert list(req.municipality_codes) == ["GM0363"]
    assert getattr(req.referral_period, "from") == "2020-01-01" and req.referral_period.to == "2021-12-31"
    assert req.conference_period.to == "2022-06-30"
    assert req.disclosure.min_cell_size == 10 and req.as_of_position == 7
    assert isinstance(res.table, pd.DataFrame)
    assert list(res.table["group"]) == ["all", "2020"]
    assert res.table.loc[0, "conferences"] == 12 and res.table.loc[1, "mean"] != res.table.loc[1, "mean"]
    assert res.watermark["events_applied"] == 99 and res.as_of_position == 7


def test_server_error_becomes_research_error(fake):
    client, _ = fake
    with pytest.raises(ResearchError) as info:
        client.network_size(min_cell_size=3)
    err = info.value
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details.startswith("disclosure.min_cell_size")
    assert err.method == "GetNetworkSize"
    assert "INVALID_ARGUMENT" in str(err) and "disclosure.min_cell_size" in str(err)
    assert not isinstance(err, grpc.RpcError)


def test_unimplemented(fake):
    client, _ = fake
    with pytest.raises(ResearchError) as info:
        client.outcomes()
    assert info.value.code == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(ResearchError):
        client.funnel(group_by="quarter")


def test_client_side_errors_do_not_call(fake):
    client, servicer = fake
    with pytest.raises(ValueError, match="^domains"):
        client.network_size(domains=["space"])
    with pytest.raises(ValueError, match="^window_days"):
        client.sustained_support(window_days=-3)
    with pytest.raises(ValueError, match="^lapse_threshold"):
        client.sustained_support(lapse_threshold="high")
    with pytest.raises(ValueError, match="^data_cutoff"):
        client.sustained_support(data_cutoff="30/06/2026")
    assert servicer.requests == []


def test_support_and_cost_model_arguments(fake):
    client, servicer = fake
    client.sustained_support(window_days=60, lapse_threshold=0.5, data_cutoff="2026-06-30")
    req = servicer.requests[-1]
    assert (req.window_days, req.lapse_threshold, req.data_cutoff) == (60, 0.5, "2026-06-30")
    res = client.cost_benefit(cost_model={"version": "v9", "currency": "EUR",
                                          "savings": [{"outcome": "ots_prevented", "amount_cents": 5}]})
    req = servicer.requests[-1]
    assert req.HasField("cost_model") and req.cost_model.savings[0].outcome == ev.OUTCOME_TYPE_OTS_PREVENTED
    assert res.cost_model["version"] == "v9"
    client.cost_benefit()
    assert not servicer.requests[-1].HasField("cost_model")  # the built-in model


def test_unreachable_server():
    with Client("127.0.0.1:1", timeout=2) as c:
        with pytest.raises(ResearchError) as info:
            c.network_size()
    assert info.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def test_credentials_must_be_channel_credentials():
    with pytest.raises(ValueError, match="^credentials"):
        Client("127.0.0.1:1", credentials="tls")
    c = Client("127.0.0.1:1", grpc.ssl_channel_credentials())
    c.close()
