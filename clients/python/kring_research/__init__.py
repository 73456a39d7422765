"""kring_research: the researchers' Python client of Kring's ResearchService.

    from kring_research import Client
    c = Client("127.0.0.1:50051")
    res = c.network_size(group_by="year", domains=["youth_protection"])
    res.table          # one row per group, the overall row ("all") first

Suppressed figures (disclosure control) are pd.NA in integer columns and NaN
in float columns; the `*suppression` columns say why ("primary",
"secondary" or ""). See clients/python/README.md.

The generated protobuf modules live in kring_research._proto.kring.v1 (also
reachable as kring_research.research_pb2 and kring_research.events_pb2);
clients/python/generate.sh regenerates them from proto/.
"""

from kring_research._proto.kring.v1 import events_pb2, research_pb2, research_pb2_grpc
from kring_research.client import (
    Client,
    CostBenefitResult,
    FunnelResult,
    NetworkSizeResult,
    OutcomesResult,
    ResearchError,
    Result,
    SupportResult,
)

__version__ = "0.1.0"

__all__ = [
    "Client",
    "ResearchError",
    "Result",
    "NetworkSizeResult",
    "OutcomesResult",
    "CostBenefitResult",
    "SupportResult",
    "FunnelResult",
    "events_pb2",
    "research_pb2",
    "research_pb2_grpc",
]
