"""kring_research: the researchers' Python client of Kring's ResearchService.

    from kring_research import Client
    c = Client("127.0.0.1:50051")
    res = c.network_size(group_by="year", domains=["youth_protection"])
    res.table          # one row per group, the overall row ("all") first

Suppressed figures (disclosure control) are pd.NA in integer columns and NaN
in float columns; the `*suppression` columns say why ("primary",
"secondary" or ""). Every result has ``.provenance`` (also in each frame's
``df.attrs["provenance"]``), ``.to_csv(path, table=...)`` (provenance lines,
then the CSV), ``.verify()`` (the answer's SHA-256) and ``.plot()``
(matplotlib, ``pip install 'kring-research[plot]'``). See
clients/python/README.md.

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
from kring_research.provenance import read_csv

__version__ = "0.2.0"

__all__ = [
    "Client",
    "ResearchError",
    "Result",
    "NetworkSizeResult",
    "OutcomesResult",
    "CostBenefitResult",
    "SupportResult",
    "FunnelResult",
    "read_csv",
    "events_pb2",
    "research_pb2",
    "research_pb2_grpc",
]
