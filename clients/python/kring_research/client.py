"""The Client: one method per ResearchService RPC, answers as pandas frames."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple, Union

import grpc
import pandas as pd

from kring_research import _convert as cv
from kring_research import provenance as provenance_mod
from kring_research._proto.kring.v1 import research_pb2 as pb
from kring_research._proto.kring.v1 import research_pb2_grpc as pb_grpc

DateLike = Union[str, datetime.date, None]
Period = Optional[Tuple[DateLike, DateLike]]

# Answers with many groups and curves can pass gRPC's default 4 MiB.
_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 64 << 20)]

PathOrBytes = Union[str, bytes, "os.PathLike[str]", None]

# The environment variable a token is taken from when ``token`` is not given.
TOKEN_ENV = "KRING_TOKEN"


class ResearchError(Exception):
    """A ResearchService call failed.

    Attributes:
        code: the ``grpc.StatusCode`` (e.g. ``INVALID_ARGUMENT``,
            ``UNIMPLEMENTED``, ``UNAVAILABLE`` when no server answers,
            ``UNAUTHENTICATED`` without credentials, ``PERMISSION_DENIED``
            for an identity that is not a researcher).
        details: the server's message; for a refused argument it starts with
            the field path, e.g. ``"disclosure.min_cell_size: ..."``.
        method: the RPC, e.g. ``"GetNetworkSize"``.
    """

    def __init__(self, code: grpc.StatusCode, details: str, method: str = ""):
        self.code = code
        self.details = details or ""
        self.method = method
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        super().__init__(f"{method + ': ' if method else ''}{name}: {self.details}")


# ---------------------------------------------------------------------------
# Authentication: bearer token metadata, TLS
# ---------------------------------------------------------------------------


class _MetadataInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                           grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds fixed metadata (``authorization: Bearer ...``) to every call.

    Plain metadata rather than ``grpc.access_token_call_credentials``: call
    credentials are only sent over TLS, and the token must also reach a
    kringd on a plaintext loopback port."""

    def __init__(self, metadata: Sequence[Tuple[str, str]]):
        self.metadata = tuple(metadata)

    def _details(self, details):
        metadata = tuple(details.metadata or ()) + self.metadata
        return details._replace(metadata=metadata) if hasattr(details, "_replace") else _CallDetails(
            details.method, details.timeout, metadata, details.credentials,
            getattr(details, "wait_for_ready", None), getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)


class _CallDetails(grpc.ClientCallDetails):
    def __init__(self, method, timeout, metadata, credentials, wait_for_ready, compression):
        self.method, self.timeout, self.metadata = method, timeout, metadata
        self.credentials, self.wait_for_ready, self.compression = credentials, wait_for_ready, compression


def _check_token(token: str) -> str:
    if not isinstance(token, str):
        raise ValueError("token: expected a str (e.g. from kringctl token new)")
    if not token or any(not (0x21 <= ord(c) <= 0x7E) for c in token):
        raise ValueError("token: must be printable ASCII without spaces (a token from kringctl token new)")
    return token


def _read_pem(value: PathOrBytes, name: str) -> Optional[bytes]:
    """PEM contents: bytes as given, a str or path-like is a file to read."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif isinstance(value, (str, os.PathLike)):
        try:
            with open(value, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ValueError(f"{name}: cannot read {os.fspath(value)}: {e.strerror or e}") from None
    else:
        raise ValueError(f"{name}: expected a file path or the PEM bytes")
    if not data:
        raise ValueError(f"{name}: empty")
    return data


def auth_metadata(token: Optional[str]) -> Tuple[Tuple[str, str], ...]:
    """The metadata sent with every call for ``token``: ``(("authorization",
    "Bearer <token>"),)``, or nothing without a token."""
    return (("authorization", f"Bearer {_check_token(token)}"),) if token else ()


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclass(eq=False, repr=False)
class Result:
    """What every answer carries.

    Attributes:
        table: one row per group, the overall row (group "all") first. With
            ``then_by`` a ``key2`` column follows ``group``.
        watermark: {"events_applied", "max_global_position"} of the read model
            the answer reflects.
        definition: the definition the figures follow, in words.
        disclosure: {"min_cell_size", "primary_cells", "secondary_cells", "method", "ptable_version",
            "max_count_perturbation", "sum_rule"} (the cell key method; docs/research.md).
        as_of_position: as asked (0: the live read model).
        response: the protobuf response message itself.
        provenance: {"log_position", "min_cell_size", "disclosure_method",
            "filters_json", "definition_version", "cost_model_version",
            "answer_sha256", "server_version"}; every frame carries it in
            ``df.attrs["provenance"]``.
        comparisons: with ``compare_with``: one row per difference (group
            minus reference) of a compared group: group, measure, item,
            estimate, ci_lower, ci_upper, method. Empty without.
        reference: the reference group's label (``compare_with``), or None.
    """

    table: pd.DataFrame
    watermark: dict
    definition: str
    disclosure: dict
    as_of_position: int
    response: Any
    provenance: dict
    comparisons: pd.DataFrame
    reference: Optional[str]

    # Frames listed after the read model's own ones.
    _TRAILING_FRAMES = ("comparisons", "log_rank")

    def __post_init__(self) -> None:
        for df in self.frames().values():
            df.attrs["provenance"] = dict(self.provenance)

    def frames(self) -> dict:
        """The result's DataFrames by name: ``table`` first, then the read
        model's own frames, then ``comparisons`` (and ``log_rank``)."""
        own = {k: v for k, v in vars(self).items() if isinstance(v, pd.DataFrame)}
        trailing = {k: own.pop(k) for k in self._TRAILING_FRAMES if k in own}
        return {**own, **trailing}

    def to_csv(self, path: Any = None, table: str = "table", **to_csv_kwargs) -> Optional[str]:
        """Writes one frame as CSV, after one ``# <field>: <value>`` line per
        provenance field; read it back with ``pandas.read_csv(path,
        comment="#")`` or ``kring_research.read_csv(path)`` (which keeps the
        provenance in ``df.attrs``).

        Args:
            path: a file path or an open text file; None returns the text.
            table: which frame (``res.frames()`` names them), e.g. "curve".
            to_csv_kwargs: passed on to ``DataFrame.to_csv`` (index=False
                unless given).
        """
        frames = self.frames()
        if table not in frames:
            raise ValueError(f"table: {table!r} is not a frame of {type(self).__name__}; "
                             f"expected one of {', '.join(frames)}")
        return provenance_mod.write_csv(frames[table], self.provenance, path, **to_csv_kwargs)

    def verify(self) -> bool:
        """Whether the provenance's answer_sha256 matches the SHA-256
        recomputed from the response (deterministic serialization,
        provenance cleared). False when it differs or when the server sent
        no hash."""
        return provenance_mod.verify(self.response)

    def __repr__(self) -> str:
        frames = ", ".join(f"{k}[{len(v)}]" for k, v in self.frames().items() if k not in self._TRAILING_FRAMES
                           or len(v))
        return (f"{type(self).__name__}({frames}; events_applied={self.watermark.get('events_applied')}, "
                f"as_of_position={self.as_of_position}, k={self.disclosure.get('min_cell_size')}, "
                f"perturbation={self.disclosure.get('method') or 'none'} {self.disclosure.get('ptable_version') or ''}"
                f" (counts within +-{self.disclosure.get('max_count_perturbation')}))")

    def _repr_html_(self) -> str:  # notebooks show the main table
        return self.table._repr_html_()

    @classmethod
    def _common(cls, response) -> dict:
        return dict(
            watermark=cv.message_to_dict(response.watermark),
            definition=response.definition,
            disclosure=cv.message_to_dict(response.disclosure),
            as_of_position=int(response.as_of_position),
            response=response,
            provenance=provenance_mod.to_dict(response),
            comparisons=cv.comparisons_frame(response.comparison),
            reference=response.comparison.reference or None,
        )

    @staticmethod
    def _two_way(response, two_way: Optional[bool]) -> bool:
        return cv.is_two_way(response) if two_way is None else bool(two_way)


@dataclass(eq=False, repr=False)
class NetworkSizeResult(Result):
    """``table``: group, conferences, mean, mean_ci_lower, mean_ci_upper,
    median, p10, p25, p75, p90, central_persons_mean (and its interval),
    suppression. ``histogram``: group, size, conferences, suppression (sizes
    of 30 and more share the bin 30). ``composition``: group, relation,
    attendees, mean_per_conference (and its interval), share (and its
    interval), conferences, suppression."""

    histogram: pd.DataFrame = None
    composition: pd.DataFrame = None

    @classmethod
    def from_response(cls, r: pb.NetworkSizeResponse, two_way: Optional[bool] = None) -> "NetworkSizeResult":
        two = cls._two_way(r, two_way)
        return cls(
            table=cv.frame(pb.NetworkSizeStats.DESCRIPTOR, cv.groups_of(r, two), cv.leading_columns(two)),
            histogram=cv.nested_frame(r, "histogram", pb.HistogramBin.DESCRIPTOR, two),
            composition=cv.nested_frame(r, "composition", pb.RelationShare.DESCRIPTOR, two),
            **cls._common(r),
        )

    def plot(self, group: str = cv.OVERALL, **kwargs):
        """The histogram of network sizes and the composition by relation of
        one group (default the overall row); see kring_research.plot."""
        from kring_research import plot

        return plot.network_size(self, group=group, **kwargs)


@dataclass(eq=False, repr=False)
class OutcomesResult(Result):
    """``table``: one row per group and outcome type: group, outcome,
    referred_cases, referred_suppression, conference_cases,
    conference_suppression, per_100_referrals (and its interval),
    per_100_conferences (and its interval). ``groups``: one row per group:
    group, referred, referred_suppression, conferences,
    conferences_suppression."""

    groups: pd.DataFrame = None

    @classmethod
    def from_response(cls, r: pb.OutcomesResponse, two_way: Optional[bool] = None) -> "OutcomesResult":
        two = cls._two_way(r, two_way)
        return cls(
            table=cv.nested_frame(r, "outcomes", pb.OutcomeFigure.DESCRIPTOR, two),
            groups=cv.group_frame(r, pb.OutcomeGroup.DESCRIPTOR, two),
            **cls._common(r),
        )

    def plot(self, measure: str = "per_100_referrals", **kwargs):
        """Rates per 100 with their 95% intervals as error bars, per outcome
        and group; see kring_research.plot."""
        from kring_research import plot

        return plot.outcomes(self, measure=measure, **kwargs)


@dataclass(eq=False, repr=False)
class CostBenefitResult(Result):
    """``table``: one row per group: group, conferences,
    conferences_suppression, conference_costs_cents,
    conferences_with_recorded_cost, gross_savings_cents, net_savings_cents,
    net_savings_per_conference_cents (EUR cents), ... ``lines``: one row per
    group and outcome: group, outcome, cases, suppression, units,
    savings_cents. ``cost_model``: the model applied, as a dict (the same
    shape ``Client.cost_benefit(cost_model=...)`` accepts)."""

    lines: pd.DataFrame = None
    cost_model: dict = None

    @classmethod
    def from_response(cls, r: pb.CostBenefitResponse, two_way: Optional[bool] = None) -> "CostBenefitResult":
        two = cls._two_way(r, two_way)
        return cls(
            table=cv.group_frame(r, pb.CostBenefitGroup.DESCRIPTOR, two),
            lines=cv.nested_frame(r, "lines", pb.SavingLine.DESCRIPTOR, two),
            cost_model=cv.message_to_dict(r.cost_model),
            **cls._common(r),
        )

    def plot(self, **kwargs):
        """Net savings per group, in EUR; see kring_research.plot."""
        from kring_research import plot

        return plot.cost_benefit(self, **kwargs)


@dataclass(eq=False, repr=False)
class SupportResult(Result):
    """``table``: one row per group: group, cases, suppression, survival_12m,
    survival_24m, curve_truncated, their intervals, rmst_24m_days and its
    interval. ``retention``: group, months, cases, suppression,
    mean_retention (and its interval) (6, 12 and 24 months). ``curve``: the
    Kaplan-Meier table of "support held": group, day, at_risk, events,
    censored, survival, lower_95, upper_95. ``log_rank`` (with
    ``compare_with``): test, group, groups, chi_square, degrees_of_freedom,
    p_value, absent_reason."""

    retention: pd.DataFrame = None
    curve: pd.DataFrame = None
    log_rank: pd.DataFrame = None

    @classmethod
    def from_response(cls, r: pb.SupportResponse, two_way: Optional[bool] = None) -> "SupportResult":
        two = cls._two_way(r, two_way)
        return cls(
            table=cv.group_frame(r, pb.SupportGroup.DESCRIPTOR, two),
            retention=cv.nested_frame(r, "retention", pb.RetentionFigure.DESCRIPTOR, two),
            curve=cv.nested_frame(r, "curve", pb.SurvivalRow.DESCRIPTOR, two),
            log_rank=cv.log_rank_frame(r.comparison),
            **cls._common(r),
        )

    def plot(self, groups: Optional[Sequence[str]] = None, **kwargs):
        """The Kaplan-Meier curves of "support held" with their 95% bands,
        from day 0; see kring_research.plot."""
        from kring_research import plot

        return plot.support(self, groups=groups, **kwargs)


@dataclass(eq=False, repr=False)
class FunnelResult(Result):
    """``table``: one row per group: group, plan_rejected,
    plan_rejected_suppression, then the ``plan_right`` columns. ``steps``:
    group, step, cases, suppression, share_of_referred (and its interval),
    median_days_from_previous. ``stop_reasons``: group, reason, cases,
    suppression. ``plan_right``: one row per group: group, protection_cases,
    protection_suppression, plan_offered, offered_suppression, plan_made,
    made_suppression, share_offered, share_made (and their intervals)."""

    steps: pd.DataFrame = None
    stop_reasons: pd.DataFrame = None
    plan_right: pd.DataFrame = None

    @classmethod
    def from_response(cls, r: pb.FunnelResponse, two_way: Optional[bool] = None) -> "FunnelResult":
        two = cls._two_way(r, two_way)
        leading = cv.leading_columns(two)
        plan_right = cv.frame(pb.PlanRightFigures.DESCRIPTOR,
                              [(lead, g.plan_right) for lead, g in cv.groups_of(r, two)], leading)
        own = cv.group_frame(r, pb.FunnelGroup.DESCRIPTOR, two)
        return cls(
            table=pd.concat([own, plan_right.drop(columns=list(leading))], axis=1),  # same rows, same order
            steps=cv.nested_frame(r, "steps", pb.FunnelStepFigure.DESCRIPTOR, two),
            stop_reasons=cv.nested_frame(r, "stop_reasons", pb.StopReasonFigure.DESCRIPTOR, two),
            plan_right=plan_right,
            **cls._common(r),
        )

    def plot(self, value: str = "cases", **kwargs):
        """Bars per funnel step and group (cases, or share_of_referred with
        its interval); see kring_research.plot."""
        from kring_research import plot

        return plot.funnel(self, value=value, **kwargs)


# ---------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------


class Client:
    """A client of Kring's ResearchService.

    >>> c = Client("127.0.0.1:50051")
    >>> res = c.network_size(group_by="year", domains=["youth_protection"])
    >>> res.table

    Args:
        target: the server's "host:port".
        credentials: a ``grpc.ChannelCredentials`` for a TLS channel; without
            it (and without ``root_certificates``) the channel is insecure,
            meant for loopback or a tunnel.
        timeout: default deadline of each call, in seconds (None: none).
            Answers as of a position replay the log and take longer on a
            large one.
        channel: an existing ``grpc.Channel`` to use instead (then target and
            credentials are ignored, and ``close`` leaves it open; the token
            is still added).
        token: bearer token (``kringctl token new``), sent as
            ``authorization: Bearer <token>`` metadata on every call. None:
            ``$KRING_TOKEN`` if set; "": no token.
        root_certificates: the CA that signed the server's certificate, as a
            PEM file path or PEM bytes; enables TLS.
        private_key, certificate_chain: a client certificate for mTLS (path
            or PEM bytes, both or neither; they need root_certificates). The
            server takes the certificate's CN as who is calling.
        server_name: the name to check in the server's certificate instead of
            the host in ``target`` (e.g. when connecting by IP address).

    Every method takes the selection that all read models share (all
    keyword-only, all optional):

        group_by            None (one overall row), "year", "quarter", "domain",
                            "municipality" or "legal_framework"
        domains             e.g. ["youth_protection", "housing"] (empty: all)
        municipality_codes  CBS codes, e.g. ["GM0363"] (empty: all)
        legal_frameworks    e.g. ["jeugdwet", "wmo"] (empty: all)
        referral_period     (from, to) on the referral date; None bounds are open
        conference_period   (from, to) on the (first) conference date; when set,
                            cases without a conference are left out
        min_cell_size       disclosure control's k; None: the server's default
                            (10); 1-4 are refused by the server
        as_of_position      None: the live read model; P: replayed up to and
                            including global position P (the same answer every
                            time)
        then_by             a second grouping (same names as group_by): one
                            row per (group, key2) pair; needs group_by and
                            must differ from it
        compare_with        a listed group's label ("2023", "DOMAIN_HOUSING",
                            or "2023/DOMAIN_HOUSING" with then_by): every
                            other group is compared with it (``comparisons``,
                            and ``log_rank`` for support); needs group_by
        timeout             this call's deadline in seconds

    Enum arguments take short lowercase names, full enum names
    ("DOMAIN_YOUTH_PROTECTION") or numbers; an unknown one raises ValueError
    naming the argument. A refused call raises ResearchError.
    """

    def __init__(
        self,
        target: str = "127.0.0.1:50051",
        credentials: Optional[grpc.ChannelCredentials] = None,
        *,
        timeout: Optional[float] = 120.0,
        channel: Optional[grpc.Channel] = None,
        token: Optional[str] = None,
        root_certificates: PathOrBytes = None,
        private_key: PathOrBytes = None,
        certificate_chain: PathOrBytes = None,
        server_name: Optional[str] = None,
    ):
        if token is None:
            token = os.environ.get(TOKEN_ENV) or None
        self.metadata = auth_metadata(token)  # checks the token
        if credentials is not None and not isinstance(credentials, grpc.ChannelCredentials):
            raise ValueError("credentials: expected a grpc.ChannelCredentials")
        if (private_key is None) != (certificate_chain is None):
            raise ValueError("private_key: needs certificate_chain" if certificate_chain is None
                             else "certificate_chain: needs private_key")
        if root_certificates is None and private_key is not None:
            raise ValueError("private_key: needs root_certificates (the CA of the server's certificate)")
        if root_certificates is not None and credentials is not None:
            raise ValueError("root_certificates: give either credentials or root_certificates")
        tls = credentials is not None or root_certificates is not None
        if server_name is not None and not tls:
            raise ValueError("server_name: needs root_certificates (it applies to TLS only)")
        if server_name is not None and (not isinstance(server_name, str) or not server_name):
            raise ValueError("server_name: expected a non-empty str")
        if channel is not None:
            base, self._owns_channel = channel, False
        else:
            options = list(_CHANNEL_OPTIONS)
            if server_name is not None:
                options.append(("grpc.ssl_target_name_override", server_name))
            if root_certificates is not None:
                credentials = grpc.ssl_channel_credentials(
                    root_certificates=_read_pem(root_certificates, "root_certificates"),
                    private_key=_read_pem(private_key, "private_key"),
                    certificate_chain=_read_pem(certificate_chain, "certificate_chain"))
            if credentials is not None:
                base = grpc.secure_channel(target, credentials, options)
            else:
                base = grpc.insecure_channel(target, options)
            self._owns_channel = True
        self._base_channel = base
        self._channel = grpc.intercept_channel(base, _MetadataInterceptor(self.metadata)) if self.metadata else base
        self.target = target
        self.timeout = timeout
        self._stub = pb_grpc.ResearchServiceStub(self._channel)

    def close(self) -> None:
        """Closes the channel (unless it was passed in)."""
        if self._owns_channel:
            self._base_channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.target!r})"

    # -- plumbing ----------------------------------------------------------

    _NOT_SET = object()

    def _call(self, method: str, request, timeout):
        deadline = self.timeout if timeout is Client._NOT_SET else timeout
        try:
            return getattr(self._stub, method)(request, timeout=deadline)
        except grpc.RpcError as e:
            code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
            details = e.details() if hasattr(e, "details") else str(e)
            raise ResearchError(code, details, method) from None

    # -- the read models ---------------------------------------------------

    def network_size(
        self,
        *,
        group_by: Any = None,
        domains: Any = None,
        municipality_codes: Any = None,
        legal_frameworks: Any = None,
        referral_period: Period = None,
        conference_period: Period = None,
        min_cell_size: Optional[int] = None,
        as_of_position: Optional[int] = None,
        then_by: Any = None,
        compare_with: Optional[str] = None,
        timeout: Any = _NOT_SET,
    ) -> NetworkSizeResult:
        """Network size per conference: distinct non-professional attendees.

        Here ``conference_period`` and year/quarter grouping are on the date of
        each conference. Returns a NetworkSizeResult: ``table`` (stats per
        group), ``histogram``, ``composition``.
        """
        request = cv.fill_selection(
            pb.NetworkSizeRequest(), group_by=group_by, domains=domains, municipality_codes=municipality_codes,
            legal_frameworks=legal_frameworks, referral_period=referral_period,
            conference_period=conference_period, min_cell_size=min_cell_size, as_of_position=as_of_position,
            then_by=then_by, compare_with=compare_with)
        response = self._call("GetNetworkSize", request, timeout)
        return NetworkSizeResult.from_response(response, two_way=bool(request.then_by))

    def outcomes(
        self,
        *,
        group_by: Any = None,
        domains: Any = None,
        municipality_codes: Any = None,
        legal_frameworks: Any = None,
        referral_period: Period = None,
        conference_period: Period = None,
        min_cell_size: Optional[int] = None,
        as_of_position: Optional[int] = None,
        then_by: Any = None,
        compare_with: Optional[str] = None,
        timeout: Any = _NOT_SET,
    ) -> OutcomesResult:
        """Outcomes per referral cohort (intention to treat) and per held
        conference (completers); year/quarter grouping is of the referral.

        Returns an OutcomesResult: ``table`` (one row per group and outcome),
        ``groups`` (referred and conference counts per group).
        """
        request = cv.fill_selection(
            pb.OutcomesRequest(), group_by=group_by, domains=domains, municipality_codes=municipality_codes,
            legal_frameworks=legal_frameworks, referral_period=referral_period,
            conference_period=conference_period, min_cell_size=min_cell_size, as_of_position=as_of_position,
            then_by=then_by, compare_with=compare_with)
        response = self._call("GetOutcomes", request, timeout)
        return OutcomesResult.from_response(response, two_way=bool(request.then_by))

    def cost_benefit(
        self,
        *,
        group_by: Any = None,
        domains: Any = None,
        municipality_codes: Any = None,
        legal_frameworks: Any = None,
        referral_period: Period = None,
        conference_period: Period = None,
        min_cell_size: Optional[int] = None,
        as_of_position: Optional[int] = None,
        then_by: Any = None,
        compare_with: Optional[str] = None,
        cost_model: Any = None,
        timeout: Any = _NOT_SET,
    ) -> CostBenefitResult:
        """Conference costs and first-year savings per group (EUR cents).

        Args:
            cost_model: None for the server's built-in model; else a dict
                shaped like the CostModel message (proto or camelCase field
                names; outcomes by short or full name), the path of a JSON
                file holding one, or a CostModel message. The server checks
                it first.

        Returns a CostBenefitResult: ``table``, ``lines`` (savings per
        outcome), ``cost_model`` (the model applied, as a dict).
        """
        request = cv.fill_selection(
            pb.CostBenefitRequest(), group_by=group_by, domains=domains, municipality_codes=municipality_codes,
            legal_frameworks=legal_frameworks, referral_period=referral_period,
            conference_period=conference_period, min_cell_size=min_cell_size, as_of_position=as_of_position,
            then_by=then_by, compare_with=compare_with)
        if cost_model is not None:
            request.cost_model.CopyFrom(cv.load_cost_model(cost_model))
        response = self._call("GetCostBenefit", request, timeout)
        return CostBenefitResult.from_response(response, two_way=bool(request.then_by))

    def sustained_support(
        self,
        *,
        group_by: Any = None,
        domains: Any = None,
        municipality_codes: Any = None,
        legal_frameworks: Any = None,
        referral_period: Period = None,
        conference_period: Period = None,
        min_cell_size: Optional[int] = None,
        as_of_position: Optional[int] = None,
        then_by: Any = None,
        compare_with: Optional[str] = None,
        window_days: Optional[int] = None,
        lapse_threshold: Optional[float] = None,
        data_cutoff: DateLike = None,
        timeout: Any = _NOT_SET,
    ) -> SupportResult:
        """Two-year sustained support: retention at 6, 12 and 24 months and a
        Kaplan-Meier curve of "support held".

        Args:
            window_days: half-width of the windows around 6, 12 and 24 months
                (None: the server's 91; at most 180).
            lapse_threshold: retention under this is a lapse (None: 0.8;
                otherwise in (0, 1]).
            data_cutoff: "YYYY-MM-DD"; follow-ups after it are ignored and
                cases censored at it (None: no cut-off).

        Returns a SupportResult: ``table``, ``retention``, ``curve``.
        """
        request = cv.fill_selection(
            pb.SupportRequest(), group_by=group_by, domains=domains, municipality_codes=municipality_codes,
            legal_frameworks=legal_frameworks, referral_period=referral_period,
            conference_period=conference_period, min_cell_size=min_cell_size, as_of_position=as_of_position,
            then_by=then_by, compare_with=compare_with)
        request.window_days = cv.non_negative_int(window_days, "window_days")
        if lapse_threshold is not None:
            if isinstance(lapse_threshold, bool) or not isinstance(lapse_threshold, (int, float)):
                raise ValueError(f"lapse_threshold: expected a number in (0, 1], got {lapse_threshold!r}")
            request.lapse_threshold = float(lapse_threshold)
        request.data_cutoff = cv._date_bound(data_cutoff, "data_cutoff")
        response = self._call("GetSustainedSupport", request, timeout)
        return SupportResult.from_response(response, two_way=bool(request.then_by))

    def funnel(
        self,
        *,
        group_by: Any = None,
        domains: Any = None,
        municipality_codes: Any = None,
        legal_frameworks: Any = None,
        referral_period: Period = None,
        conference_period: Period = None,
        min_cell_size: Optional[int] = None,
        as_of_position: Optional[int] = None,
        then_by: Any = None,
        compare_with: Optional[str] = None,
        timeout: Any = _NOT_SET,
    ) -> FunnelResult:
        """The funnel referral -> coordinator -> conference -> plan ->
        accepted, stop reasons, and the right to a plan.

        Returns a FunnelResult: ``table`` (per group: plan_rejected and the
        plan-right figures), ``steps``, ``stop_reasons``, ``plan_right``.
        """
        request = cv.fill_selection(
            pb.FunnelRequest(), group_by=group_by, domains=domains, municipality_codes=municipality_codes,
            legal_frameworks=legal_frameworks, referral_period=referral_period,
            conference_period=conference_period, min_cell_size=min_cell_size, as_of_position=as_of_position,
            then_by=then_by, compare_with=compare_with)
        response = self._call("GetFunnel", request, timeout)
        return FunnelResult.from_response(response, two_way=bool(request.then_by))
