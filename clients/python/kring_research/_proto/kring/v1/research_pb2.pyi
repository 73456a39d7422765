from kring_research._proto.kring.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Grouping(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GROUPING_UNSPECIFIED: _ClassVar[Grouping]
    GROUPING_YEAR: _ClassVar[Grouping]
    GROUPING_QUARTER: _ClassVar[Grouping]
    GROUPING_DOMAIN: _ClassVar[Grouping]
    GROUPING_MUNICIPALITY: _ClassVar[Grouping]
    GROUPING_LEGAL_FRAMEWORK: _ClassVar[Grouping]

class Suppression(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUPPRESSION_NONE: _ClassVar[Suppression]
    SUPPRESSION_PRIMARY: _ClassVar[Suppression]
    SUPPRESSION_SECONDARY: _ClassVar[Suppression]

class FunnelStep(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FUNNEL_STEP_UNSPECIFIED: _ClassVar[FunnelStep]
    FUNNEL_STEP_REFERRED: _ClassVar[FunnelStep]
    FUNNEL_STEP_COORDINATOR_ASSIGNED: _ClassVar[FunnelStep]
    FUNNEL_STEP_CONFERENCE_HELD: _ClassVar[FunnelStep]
    FUNNEL_STEP_PLAN_ADOPTED: _ClassVar[FunnelStep]
    FUNNEL_STEP_PLAN_ACCEPTED: _ClassVar[FunnelStep]
GROUPING_UNSPECIFIED: Grouping
GROUPING_YEAR: Grouping
GROUPING_QUARTER: Grouping
GROUPING_DOMAIN: Grouping
GROUPING_MUNICIPALITY: Grouping
GROUPING_LEGAL_FRAMEWORK: Grouping
SUPPRESSION_NONE: Suppression
SUPPRESSION_PRIMARY: Suppression
SUPPRESSION_SECONDARY: Suppression
FUNNEL_STEP_UNSPECIFIED: FunnelStep
FUNNEL_STEP_REFERRED: FunnelStep
FUNNEL_STEP_COORDINATOR_ASSIGNED: FunnelStep
FUNNEL_STEP_CONFERENCE_HELD: FunnelStep
FUNNEL_STEP_PLAN_ADOPTED: FunnelStep
FUNNEL_STEP_PLAN_ACCEPTED: FunnelStep

class DateRange(_message.Message):
    __slots__ = ("to",)
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    to: str
    def __init__(self, to: _Optional[str] = ..., **kwargs) -> None: ...

class ConfidenceInterval(_message.Message):
    __slots__ = ("lower", "upper")
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    lower: float
    upper: float
    def __init__(self, lower: _Optional[float] = ..., upper: _Optional[float] = ...) -> None: ...

class Provenance(_message.Message):
    __slots__ = ("log_position", "min_cell_size", "disclosure_method", "filters_json", "definition_version", "cost_model_version", "answer_sha256", "server_version")
    LOG_POSITION_FIELD_NUMBER: _ClassVar[int]
    MIN_CELL_SIZE_FIELD_NUMBER: _ClassVar[int]
    DISCLOSURE_METHOD_FIELD_NUMBER: _ClassVar[int]
    FILTERS_JSON_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_VERSION_FIELD_NUMBER: _ClassVar[int]
    COST_MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ANSWER_SHA256_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    log_position: int
    min_cell_size: int
    disclosure_method: str
    filters_json: str
    definition_version: str
    cost_model_version: str
    answer_sha256: str
    server_version: str
    def __init__(self, log_position: _Optional[int] = ..., min_cell_size: _Optional[int] = ..., disclosure_method: _Optional[str] = ..., filters_json: _Optional[str] = ..., definition_version: _Optional[str] = ..., cost_model_version: _Optional[str] = ..., answer_sha256: _Optional[str] = ..., server_version: _Optional[str] = ...) -> None: ...

class Difference(_message.Message):
    __slots__ = ("measure", "item", "estimate", "ci", "method")
    MEASURE_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    CI_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    measure: str
    item: str
    estimate: float
    ci: ConfidenceInterval
    method: str
    def __init__(self, measure: _Optional[str] = ..., item: _Optional[str] = ..., estimate: _Optional[float] = ..., ci: _Optional[_Union[ConfidenceInterval, _Mapping]] = ..., method: _Optional[str] = ...) -> None: ...

class LogRankTest(_message.Message):
    __slots__ = ("groups", "chi_square", "degrees_of_freedom", "p_value", "absent_reason")
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    CHI_SQUARE_FIELD_NUMBER: _ClassVar[int]
    DEGREES_OF_FREEDOM_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    ABSENT_REASON_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedScalarFieldContainer[str]
    chi_square: float
    degrees_of_freedom: int
    p_value: float
    absent_reason: str
    def __init__(self, groups: _Optional[_Iterable[str]] = ..., chi_square: _Optional[float] = ..., degrees_of_freedom: _Optional[int] = ..., p_value: _Optional[float] = ..., absent_reason: _Optional[str] = ...) -> None: ...

class GroupComparison(_message.Message):
    __slots__ = ("group", "differences", "log_rank")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    LOG_RANK_FIELD_NUMBER: _ClassVar[int]
    group: str
    differences: _containers.RepeatedCompositeFieldContainer[Difference]
    log_rank: LogRankTest
    def __init__(self, group: _Optional[str] = ..., differences: _Optional[_Iterable[_Union[Difference, _Mapping]]] = ..., log_rank: _Optional[_Union[LogRankTest, _Mapping]] = ...) -> None: ...

class Comparison(_message.Message):
    __slots__ = ("reference", "groups", "log_rank_all")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    LOG_RANK_ALL_FIELD_NUMBER: _ClassVar[int]
    reference: str
    groups: _containers.RepeatedCompositeFieldContainer[GroupComparison]
    log_rank_all: LogRankTest
    def __init__(self, reference: _Optional[str] = ..., groups: _Optional[_Iterable[_Union[GroupComparison, _Mapping]]] = ..., log_rank_all: _Optional[_Union[LogRankTest, _Mapping]] = ...) -> None: ...

class DisclosureControl(_message.Message):
    __slots__ = ("min_cell_size",)
    MIN_CELL_SIZE_FIELD_NUMBER: _ClassVar[int]
    min_cell_size: int
    def __init__(self, min_cell_size: _Optional[int] = ...) -> None: ...

class DisclosureReport(_message.Message):
    __slots__ = ("min_cell_size", "primary_cells", "secondary_cells", "method", "ptable_version", "max_count_perturbation", "sum_rule")
    MIN_CELL_SIZE_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_CELLS_FIELD_NUMBER: _ClassVar[int]
    SECONDARY_CELLS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PTABLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_COUNT_PERTURBATION_FIELD_NUMBER: _ClassVar[int]
    SUM_RULE_FIELD_NUMBER: _ClassVar[int]
    min_cell_size: int
    primary_cells: int
    secondary_cells: int
    method: str
    ptable_version: str
    max_count_perturbation: int
    sum_rule: str
    def __init__(self, min_cell_size: _Optional[int] = ..., primary_cells: _Optional[int] = ..., secondary_cells: _Optional[int] = ..., method: _Optional[str] = ..., ptable_version: _Optional[str] = ..., max_count_perturbation: _Optional[int] = ..., sum_rule: _Optional[str] = ...) -> None: ...

class ReadModelWatermark(_message.Message):
    __slots__ = ("events_applied", "max_global_position")
    EVENTS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    MAX_GLOBAL_POSITION_FIELD_NUMBER: _ClassVar[int]
    events_applied: int
    max_global_position: int
    def __init__(self, events_applied: _Optional[int] = ..., max_global_position: _Optional[int] = ...) -> None: ...

class NetworkSizeRequest(_message.Message):
    __slots__ = ("domains", "municipality_codes", "conference_period", "group_by", "as_of_position", "legal_frameworks", "referral_period", "disclosure", "then_by", "compare_with")
    DOMAINS_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODES_FIELD_NUMBER: _ClassVar[int]
    CONFERENCE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    AS_OF_POSITION_FIELD_NUMBER: _ClassVar[int]
    LEGAL_FRAMEWORKS_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_PERIOD_FIELD_NUMBER: _ClassVar[int]
    DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    THEN_BY_FIELD_NUMBER: _ClassVar[int]
    COMPARE_WITH_FIELD_NUMBER: _ClassVar[int]
    domains: _containers.RepeatedScalarFieldContainer[_events_pb2.Domain]
    municipality_codes: _containers.RepeatedScalarFieldContainer[str]
    conference_period: DateRange
    group_by: Grouping
    as_of_position: int
    legal_frameworks: _containers.RepeatedScalarFieldContainer[_events_pb2.LegalFramework]
    referral_period: DateRange
    disclosure: DisclosureControl
    then_by: Grouping
    compare_with: str
    def __init__(self, domains: _Optional[_Iterable[_Union[_events_pb2.Domain, str]]] = ..., municipality_codes: _Optional[_Iterable[str]] = ..., conference_period: _Optional[_Union[DateRange, _Mapping]] = ..., group_by: _Optional[_Union[Grouping, str]] = ..., as_of_position: _Optional[int] = ..., legal_frameworks: _Optional[_Iterable[_Union[_events_pb2.LegalFramework, str]]] = ..., referral_period: _Optional[_Union[DateRange, _Mapping]] = ..., disclosure: _Optional[_Union[DisclosureControl, _Mapping]] = ..., then_by: _Optional[_Union[Grouping, str]] = ..., compare_with: _Optional[str] = ...) -> None: ...

class HistogramBin(_message.Message):
    __slots__ = ("size", "conferences", "suppression")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CONFERENCES_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    size: int
    conferences: int
    suppression: Suppression
    def __init__(self, size: _Optional[int] = ..., conferences: _Optional[int] = ..., suppression: _Optional[_Union[Suppression, str]] = ...) -> None: ...

class RelationShare(_message.Message):
    __slots__ = ("relation", "attendees", "mean_per_conference", "share", "conferences", "suppression", "share_ci", "mean_per_conference_ci")
    RELATION_FIELD_NUMBER: _ClassVar[int]
    ATTENDEES_FIELD_NUMBER: _ClassVar[int]
    MEAN_PER_CONFERENCE_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    CONFERENCES_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    SHARE_CI_FIELD_NUMBER: _ClassVar[int]
    MEAN_PER_CONFERENCE_CI_FIELD_NUMBER: _ClassVar[int]
    relation: _events_pb2.Relation
    attendees: int
    mean_per_conference: float
    share: float
    conferences: int
    suppression: Suppression
    share_ci: ConfidenceInterval
    mean_per_conference_ci: ConfidenceInterval
    def __init__(self, relation: _Optional[_Union[_events_pb2.Relation, str]] = ..., attendees: _Optional[int] = ..., mean_per_conference: _Optional[float] = ..., share: _Optional[float] = ..., conferences: _Optional[int] = ..., suppression: _Optional[_Union[Suppression, str]] = ..., share_ci: _Optional[_Union[ConfidenceInterval, _Mapping]] = ..., mean_per_conference_ci: _Optional[_Union[ConfidenceInterval, _Mapping]] = ...) -> None: ...

class NetworkSizeStats(_message.Message):
    __slots__ = ("conferences", "mean", "median", "p10", "p25", "p75", "p90", "histogram", "composition", "central_persons_mean", "suppression", "mean_ci", "central_persons_mean_ci")
    CONFERENCES_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_FIELD_NUMBER: _ClassVar[int]
    P10_FIELD_NUMBER: _ClassVar[int]
    P25_FIELD_NUMBER: _ClassVar[int]
    P75_FIELD_NUMBER: _ClassVar[int]
    P90_FIELD_NUMBER: _ClassVar[int]
    HISTOGRAM_FIELD_NUMBER: _ClassVar[int]
    COMPOSITION_FIELD_NUMBER: _ClassVar[int]
    CENTRAL_PERSONS_MEAN_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    MEAN_CI_FIELD_NUMBER: _ClassVar[int]
    CENTRAL_PERSONS_MEAN_CI_FIELD_NUMBER: _ClassVar[int]
    conferences: int
    mean: float
    median: float
    p10: float
    p25: float
    p75: float
    p90: float
    histogram: _containers.RepeatedCompositeFieldContainer[HistogramBin]
    composition: _containers.RepeatedCompositeFieldContainer[RelationShare]
    central_persons_mean: float
    suppression: Suppression
    mean_ci: ConfidenceInterval
    central_persons_mean_ci: ConfidenceInterval
    def __init__(self, conferences: _Optional[int] = ..., mean: _Optional[float] = ..., median: _Optional[float] = ..., p10: _Optional[float] = ..., p25: _Optional[float] = ..., p75: _Optional[float] = ..., p90: _Optional[float] = ..., histogram: _Optional[_Iterable[_Union[HistogramBin, _Mapping]]] = ..., composition: _Optional[_Iterable[_Union[RelationShare, _Mapping]]] = ..., central_persons_mean: _Optional[float] = ..., suppression: _Optional[_Union[Suppression, str]] = ..., mean_ci: _Optional[_Union[ConfidenceInterval, _Mapping]] = ..., central_persons_mean_ci: _Optional[_Union[ConfidenceInterval, _Mapping]] = ...) -> None: ...

class NetworkSizeGroup(_message.Message):
    __slots__ = ("key", "stats", "key2")
    KEY_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    KEY2_FIELD_NUMBER: _ClassVar[int]
    key: str
    stats: NetworkSizeStats
    key2: str
    def __init__(self, key: _Optional[str] = ..., stats: _Optional[_Union[NetworkSizeStats, _Mapping]] = ..., key2: _Optional[str] = ...) -> None: ...

class NetworkSizeResponse(_message.Message):
    __slots__ = ("overall", "groups", "watermark", "definition", "disclosure", "as_of_position", "comparison", "provenance")
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_POSITION_FIELD_NUMBER: _ClassVar[int]
    COMPARISON_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    overall: NetworkSizeStats
    groups: _containers.RepeatedCompositeFieldContainer[NetworkSizeGroup]
    watermark: ReadModelWatermark
    definition: str
    disclosure: DisclosureReport
    as_of_position: int
    comparison: Comparison
    provenance: Provenance
    def __init__(self, overall: _Optional[_Union[NetworkSizeStats, _Mapping]] = ..., groups: _Optional[_Iterable[_Union[NetworkSizeGroup, _Mapping]]] = ..., watermark: _Optional[_Union[ReadModelWatermark, _Mapping]] = ..., definition: _Optional[str] = ..., disclosure: _Optional[_Union[DisclosureReport, _Mapping]] = ..., as_of_position: _Optional[int] = ..., comparison: _Optional[_Union[Comparison, _Mapping]] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ...) -> None: ...

class OutcomesRequest(_message.Message):
    __slots__ = ("domains", "municipality_codes", "conference_period", "group_by", "as_of_position", "legal_frameworks", "referral_period", "disclosure", "then_by", "compare_with")
    DOMAINS_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODES_FIELD_NUMBER: _ClassVar[int]
    CONFERENCE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    AS_OF_POSITION_FIELD_NUMBER: _ClassVar[int]
    LEGAL_FRAMEWORKS_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_PERIOD_FIELD_NUMBER: _ClassVar[int]
    DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    THEN_BY_FIELD_NUMBER: _ClassVar[int]
    COMPARE_WITH_FIELD_NUMBER: _ClassVar[int]
    domains: _containers.RepeatedScalarFieldContainer[_events_pb2.Domain]
    municipality_codes: _containers.RepeatedScalarFieldContainer[str]
    conference_period: DateRange
    group_by: Grouping
    as_of_position: int
    legal_frameworks: _containers.RepeatedScalarFieldContainer[_events_pb2.LegalFramework]
    referral_period: DateRange
    disclosure: DisclosureControl
    then_by: Grouping
    compare_with: str
    def __init__(self, domains: _Optional[_Iterable[_Union[_events_pb2.Domain, str]]] = ..., municipality_codes: _Optional[_Iterable[str]] = ..., conference_period: _Optional[_Union[DateRange, _Mapping]] = ..., group_by: _Optional[_Union[Grouping, str]] = ..., as_of_position: _Optional[int] = ..., legal_frameworks: _Optional[_Iterable[_Union[_events_pb2.LegalFramework, str]]] = ..., referral_period: _Optional[_Union[DateRange, _Mapping]] = ..., disclosure: _Optional[_Union[DisclosureControl, _Mapping]] = ..., then_by: _Optional[_Union[Grouping, str]] = ..., compare_with: _Optional[str] = ...) -> None: ...

class OutcomeFigure(_message.Message):
    __slots__ = ("outcome", "referred_cases", "referred_suppression", "conference_cases", "conference_suppression", "per_100_referrals", "per_100_conferences", "per_100_referrals_ci", "per_100_conferences_ci")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REFERRED_CASES_FIELD_NUMBER: _ClassVar[int]
    REFERRED_SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    CONFERENCE_CASES_FIELD_NUMBER: _ClassVar[int]
    CONFERENCE_SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    PER_100_REFERRALS_FIELD_NUMBER: _ClassVar[int]
    PER_100_CONFERENCES_FIELD_NUMBER: _ClassVar[int]
    PER_100_REFERRALS_CI_FIELD_NUMBER: _ClassVar[int]
    PER_100_CONFERENCES_CI_FIELD_NUMBER: _ClassVar[int]
    outcome: _events_pb2.OutcomeType
    referred_cases: int
    referred_suppression: Suppression
    conference_cases: int
    conference_suppression: Suppression
    per_100_referrals: float
    per_100_conferences: float
    per_100_referrals_ci: ConfidenceInterval
    per_100_conferences_ci: ConfidenceInterval
    def __init__(self, outcome: _Optional[_Union[_events_pb2.OutcomeType, str]] = ..., referred_cases: _Optional[int] = ..., referred_suppression: _Optional[_Union[Suppression, str]] = ..., conference_cases: _Optional[int] = ..., conference_suppression: _Optional[_Union[Suppression, str]] = ..., per_100_referrals: _Optional[float] = ..., per_100_conferences: _Optional[float] = ..., per_100_referrals_ci: _Optional[_Union[ConfidenceInterval, _Mapping]] = ..., per_100_conferences_ci: _Optional[_Union[ConfidenceInterval, _Mapping]] = ...) -> None: ...

class OutcomeGroup(_message.Message):
    __slots__ = ("key", "referred", "referred_suppression", "conferences", "conferences_suppression", "outcomes", "key2")
    KEY_FIELD_NUMBER: _ClassVar[int]
    REFERRED_FIELD_NUMBER: _ClassVar[int]
    REFERRED_SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    CONFERENCES_FIELD_NUMBER: _ClassVar[int]
    CONFERENCES_SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    KEY2_FIELD_NUMBER: _ClassVar[int]
    key: str
    referred: int
    referred_suppression: Suppression
    conferences: int
    conferences_suppression: Suppression
    outcomes: _containers.RepeatedCompositeFieldContainer[OutcomeFigure]
    key2: str
    def __init__(self, key: _Optional[str] = ..., referred: _Optional[int] = ..., referred_suppression: _Optional[_Union[Suppression, str]] = ..., conferences: _Optional[int] = ..., conferences_suppression: _Optional[_Union[Suppression, str]] = ..., outcomes: _Optional[_Iterable[_Union[OutcomeFigure, _Mapping]]] = ..., key2: _Optional[str] = ...) -> None: ...

class OutcomesResponse(_message.Message):
    __slots__ = ("overall", "groups", "watermark", "definition", "disclosure", "as_of_position", "comparison", "provenance")
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_POSITION_FIELD_NUMBER: _ClassVar[int]
    COMPARISON_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    overall: OutcomeGroup
    groups: _containers.RepeatedCompositeFieldContainer[OutcomeGroup]
    watermark: ReadModelWatermark
    definition: str
    disclosure: DisclosureReport
    as_of_position: int
    comparison: Comparison
    provenance: Provenance
    def __init__(self, overall: _Optional[_Union[OutcomeGroup, _Mapping]] = ..., groups: _Optional[_Iterable[_Union[OutcomeGroup, _Mapping]]] = ..., watermark: _Optional[_Union[ReadModelWatermark, _Mapping]] = ..., definition: _Optional[str] = ..., disclosure: _Optional[_Union[DisclosureReport, _Mapping]] = ..., as_of_position: _Optional[int] = ..., comparison: _Optional[_Union[Comparison, _Mapping]] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ...) -> None: ...

class OutcomeSaving(_message.Message):
    __slots__ = ("outcome", "amount_cents", "per_child", "source")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_CENTS_FIELD_NUMBER: _ClassVar[int]
    PER_CHILD_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    outcome: _events_pb2.OutcomeType
    amount_cents: int
    per_child: bool
    source: str
    def __init__(self, outcome: _Optional[_Union[_events_pb2.OutcomeType, str]] = ..., amount_cents: _Optional[int] = ..., per_child: bool = ..., source: _Optional[str] = ...) -> None: ...

class CostModel(_message.Message):
    __slots__ = ("version", "currency", "conference_cost_cents", "conference_cost_source", "savings", "professional_input_reduction", "professional_input_source", "domain_savings")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CONFERENCE_COST_CENTS_FIELD_NUMBER: _ClassVar[int]
    CONFERENCE_COST_SOURCE_FIELD_NUMBER: _ClassVar[int]
    SAVINGS_FIELD_NUMBER: _ClassVar[int]
    PROFESSIONAL_INPUT_REDUCTION_FIELD_NUMBER: _ClassVar[int]
    PROFESSIONAL_INPUT_SOURCE_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_SAVINGS_FIELD_NUMBER: _ClassVar[int]
    version: str
    currency: str
    conference_cost_cents: int
    conference_cost_source: str
    savings: _containers.RepeatedCompositeFieldContainer[OutcomeSaving]
    professional_input_reduction: float
    professional_input_source: str
    domain_savings: _containers.RepeatedCompositeFieldContainer[DomainSaving]
    def __init__(self, version: _Optional[str] = ..., currency: _Optional[str] = ..., conference_cost_cents: _Optional[int] = ..., conference_cost_source: _Optional[str] = ..., savings: _Optional[_Iterable[_Union[OutcomeSaving, _Mapping]]] = ..., professional_input_reduction: _Optional[float] = ..., professional_input_source: _Optional[str] = ..., domain_savings: _Optional[_Iterable[_Union[DomainSaving, _Mapping]]] = ...) -> None: ...

class DomainSaving(_message.Message):
    __slots__ = ("domain", "amount_cents", "source")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_CENTS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    domain: _events_pb2.Domain
    amount_cents: int
    source: str
    def __init__(self, domain: _Optional[_Union[_events_pb2.Domain, str]] = ..., amount_cents: _Optional[int] = ..., source: _Optional[str] = ...) -> None: ...

class CostBenefitRequest(_message.Message):
    __slots__ = ("domains", "municipality_codes", "conference_period", "group_by", "as_of_position", "legal_frameworks", "referral_period", "disclosure", "cost_model", "then_by", "compare_with")
    DOMAINS_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODES_FIELD_NUMBER: _ClassVar[int]
    CONFERENCE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    AS_OF_POSITION_FIELD_NUMBER: _ClassVar[int]
    LEGAL_FRAMEWORKS_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_PERIOD_FIELD_NUMBER: _ClassVar[int]
    DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    COST_MODEL_FIELD_NUMBER: _ClassVar[int]
    THEN_BY_FIELD_NUMBER: _ClassVar[int]
    COMPARE_WITH_FIELD_NUMBER: _ClassVar[int]
    domains: _containers.RepeatedScalarFieldContainer[_events_pb2.Domain]
    municipality_codes: _containers.RepeatedScalarFieldContainer[str]
    conference_period: DateRange
    group_by: Grouping
    as_of_position: int
    legal_frameworks: _containers.RepeatedScalarFieldContainer[_events_pb2.LegalFramework]
    referral_period: DateRange
    disclosure: DisclosureControl
    cost_model: CostModel
    then_by: Grouping
    compare_with: str
    def __init__(self, domains: _Optional[_Iterable[_Union[_events_pb2.Domain, str]]] = ..., municipality_codes: _Optional[_Iterable[str]] = ..., conference_period: _Optional[_Union[DateRange, _Mapping]] = ..., group_by: _Optional[_Union[Grouping, str]] = ..., as_of_position: _Optional[int] = ..., legal_frameworks: _Optional[_Iterable[_Union[_events_pb2.LegalFramework, str]]] = ..., referral_period: _Optional[_Union[DateRange, _Mapping]] = ..., disclosure: _Optional[_Union[DisclosureControl, _Mapping]] = ..., cost_model: _Optional[_Union[CostModel, _Mapping]] = ..., then_by: _Optional[_Union[Grouping, str]] = ..., compare_with: _Optional[str] = ...) -> None: ...

class SavingLine(_message.Message):
    __slots__ = ("outcome", "cases", "suppression", "units", "savings_cents")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    SAVINGS_CENTS_FIELD_NUMBER: _ClassVar[int]
    outcome: _events_pb2.OutcomeType
    cases: int
    suppression: Suppression
    units: int
    savings_cents: int
    def __init__(self, outcome: _Optional[_Union[_events_pb2.OutcomeType, str]] = ..., cases: _Optional[int] = ..., suppression: _Optional[_Union[Suppression, str]] = ..., units: _Optional[int] = ..., savings_cents: _Optional[int] = ...) -> None: ...

class CostBenefitGroup(_message.Message):
    __slots__ = ("key", "conferences", "conferences_suppression", "conference_costs_cents", "conferences_with_recorded_cost", "gross_savings_cents", "net_savings_cents", "net_savings_per_conference_cents", "lines", "domain_savings_cents", "conferences_with_recorded_cost_suppression", "domain_savings_suppression", "key2")
    KEY_FIELD_NUMBER: _ClassVar[int]
    CONFERENCES_FIELD_NUMBER: _ClassVar[int]
    CONFERENCES_SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    CONFERENCE_COSTS_CENTS_FIELD_NUMBER: _ClassVar[int]
    CONFERENCES_WITH_RECORDED_COST_FIELD_NUMBER: _ClassVar[int]
    GROSS_SAVINGS_CENTS_FIELD_NUMBER: _ClassVar[int]
    NET_SAVINGS_CENTS_FIELD_NUMBER: _ClassVar[int]
    NET_SAVINGS_PER_CONFERENCE_CENTS_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_SAVINGS_CENTS_FIELD_NUMBER: _ClassVar[int]
    CONFERENCES_WITH_RECORDED_COST_SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_SAVINGS_SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    KEY2_FIELD_NUMBER: _ClassVar[int]
    key: str
    conferences: int
    conferences_suppression: Suppression
    conference_costs_cents: int
    conferences_with_recorded_cost: int
    gross_savings_cents: int
    net_savings_cents: int
    net_savings_per_conference_cents: int
    lines: _containers.RepeatedCompositeFieldContainer[SavingLine]
    domain_savings_cents: int
    conferences_with_recorded_cost_suppression: Suppression
    domain_savings_suppression: Suppression
    key2: str
    def __init__(self, key: _Optional[str] = ..., conferences: _Optional[int] = ..., conferences_suppression: _Optional[_Union[Suppression, str]] = ..., conference_costs_cents: _Optional[int] = ..., conferences_with_recorded_cost: _Optional[int] = ..., gross_savings_cents: _Optional[int] = ..., net_savings_cents: _Optional[int] = ..., net_savings_per_conference_cents: _Optional[int] = ..., lines: _Optional[_Iterable[_Union[SavingLine, _Mapping]]] = ..., domain_savings_cents: _Optional[int] = ..., conferences_with_recorded_cost_suppression: _Optional[_Union[Suppression, str]] = ..., domain_savings_suppression: _Optional[_Union[Suppression, str]] = ..., key2: _Optional[str] = ...) -> None: ...

class CostBenefitResponse(_message.Message):
    __slots__ = ("overall", "groups", "watermark", "definition", "disclosure", "as_of_position", "cost_model", "comparison", "provenance")
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_POSITION_FIELD_NUMBER: _ClassVar[int]
    COST_MODEL_FIELD_NUMBER: _ClassVar[int]
    COMPARISON_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    overall: CostBenefitGroup
    groups: _containers.RepeatedCompositeFieldContainer[CostBenefitGroup]
    watermark: ReadModelWatermark
    definition: str
    disclosure: DisclosureReport
    as_of_position: int
    cost_model: CostModel
    comparison: Comparison
    provenance: Provenance
    def __init__(self, overall: _Optional[_Union[CostBenefitGroup, _Mapping]] = ..., groups: _Optional[_Iterable[_Union[CostBenefitGroup, _Mapping]]] = ..., watermark: _Optional[_Union[ReadModelWatermark, _Mapping]] = ..., definition: _Optional[str] = ..., disclosure: _Optional[_Union[DisclosureReport, _Mapping]] = ..., as_of_position: _Optional[int] = ..., cost_model: _Optional[_Union[CostModel, _Mapping]] = ..., comparison: _Optional[_Union[Comparison, _Mapping]] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ...) -> None: ...

class SupportRequest(_message.Message):
    __slots__ = ("domains", "municipality_codes", "conference_period", "group_by", "as_of_position", "legal_frameworks", "referral_period", "disclosure", "window_days", "lapse_threshold", "data_cutoff", "then_by", "compare_with")
    DOMAINS_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODES_FIELD_NUMBER: _ClassVar[int]
    CONFERENCE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    AS_OF_POSITION_FIELD_NUMBER: _ClassVar[int]
    LEGAL_FRAMEWORKS_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_PERIOD_FIELD_NUMBER: _ClassVar[int]
    DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    LAPSE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    DATA_CUTOFF_FIELD_NUMBER: _ClassVar[int]
    THEN_BY_FIELD_NUMBER: _ClassVar[int]
    COMPARE_WITH_FIELD_NUMBER: _ClassVar[int]
    domains: _containers.RepeatedScalarFieldContainer[_events_pb2.Domain]
    municipality_codes: _containers.RepeatedScalarFieldContainer[str]
    conference_period: DateRange
    group_by: Grouping
    as_of_position: int
    legal_frameworks: _containers.RepeatedScalarFieldContainer[_events_pb2.LegalFramework]
    referral_period: DateRange
    disclosure: DisclosureControl
    window_days: int
    lapse_threshold: float
    data_cutoff: str
    then_by: Grouping
    compare_with: str
    def __init__(self, domains: _Optional[_Iterable[_Union[_events_pb2.Domain, str]]] = ..., municipality_codes: _Optional[_Iterable[str]] = ..., conference_period: _Optional[_Union[DateRange, _Mapping]] = ..., group_by: _Optional[_Union[Grouping, str]] = ..., as_of_position: _Optional[int] = ..., legal_frameworks: _Optional[_Iterable[_Union[_events_pb2.LegalFramework, str]]] = ..., referral_period: _Optional[_Union[DateRange, _Mapping]] = ..., disclosure: _Optional[_Union[DisclosureControl, _Mapping]] = ..., window_days: _Optional[int] = ..., lapse_threshold: _Optional[float] = ..., data_cutoff: _Optional[str] = ..., then_by: _Optional[_Union[Grouping, str]] = ..., compare_with: _Optional[str] = ...) -> None: ...

class RetentionFigure(_message.Message):
    __slots__ = ("months", "cases", "suppression", "mean_retention", "mean_retention_ci")
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    MEAN_RETENTION_FIELD_NUMBER: _ClassVar[int]
    MEAN_RETENTION_CI_FIELD_NUMBER: _ClassVar[int]
    months: int
    cases: int
    suppression: Suppression
    mean_retention: float
    mean_retention_ci: ConfidenceInterval
    def __init__(self, months: _Optional[int] = ..., cases: _Optional[int] = ..., suppression: _Optional[_Union[Suppression, str]] = ..., mean_retention: _Optional[float] = ..., mean_retention_ci: _Optional[_Union[ConfidenceInterval, _Mapping]] = ...) -> None: ...

class SurvivalRow(_message.Message):
    __slots__ = ("day", "at_risk", "events", "censored", "survival", "lower_95", "upper_95")
    DAY_FIELD_NUMBER: _ClassVar[int]
    AT_RISK_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    CENSORED_FIELD_NUMBER: _ClassVar[int]
    SURVIVAL_FIELD_NUMBER: _ClassVar[int]
    LOWER_95_FIELD_NUMBER: _ClassVar[int]
    UPPER_95_FIELD_NUMBER: _ClassVar[int]
    day: int
    at_risk: int
    events: int
    censored: int
    survival: float
    lower_95: float
    upper_95: float
    def __init__(self, day: _Optional[int] = ..., at_risk: _Optional[int] = ..., events: _Optional[int] = ..., censored: _Optional[int] = ..., survival: _Optional[float] = ..., lower_95: _Optional[float] = ..., upper_95: _Optional[float] = ...) -> None: ...

class SupportGroup(_message.Message):
    __slots__ = ("key", "cases", "suppression", "retention", "curve", "survival_12m", "survival_24m", "curve_truncated", "survival_12m_ci", "survival_24m_ci", "rmst_24m_days", "rmst_24m_ci", "key2")
    KEY_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    RETENTION_FIELD_NUMBER: _ClassVar[int]
    CURVE_FIELD_NUMBER: _ClassVar[int]
    SURVIVAL_12M_FIELD_NUMBER: _ClassVar[int]
    SURVIVAL_24M_FIELD_NUMBER: _ClassVar[int]
    CURVE_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    SURVIVAL_12M_CI_FIELD_NUMBER: _ClassVar[int]
    SURVIVAL_24M_CI_FIELD_NUMBER: _ClassVar[int]
    RMST_24M_DAYS_FIELD_NUMBER: _ClassVar[int]
    RMST_24M_CI_FIELD_NUMBER: _ClassVar[int]
    KEY2_FIELD_NUMBER: _ClassVar[int]
    key: str
    cases: int
    suppression: Suppression
    retention: _containers.RepeatedCompositeFieldContainer[RetentionFigure]
    curve: _containers.RepeatedCompositeFieldContainer[SurvivalRow]
    survival_12m: float
    survival_24m: float
    curve_truncated: bool
    survival_12m_ci: ConfidenceInterval
    survival_24m_ci: ConfidenceInterval
    rmst_24m_days: float
    rmst_24m_ci: ConfidenceInterval
    key2: str
    def __init__(self, key: _Optional[str] = ..., cases: _Optional[int] = ..., suppression: _Optional[_Union[Suppression, str]] = ..., retention: _Optional[_Iterable[_Union[RetentionFigure, _Mapping]]] = ..., curve: _Optional[_Iterable[_Union[SurvivalRow, _Mapping]]] = ..., survival_12m: _Optional[float] = ..., survival_24m: _Optional[float] = ..., curve_truncated: bool = ..., survival_12m_ci: _Optional[_Union[ConfidenceInterval, _Mapping]] = ..., survival_24m_ci: _Optional[_Union[ConfidenceInterval, _Mapping]] = ..., rmst_24m_days: _Optional[float] = ..., rmst_24m_ci: _Optional[_Union[ConfidenceInterval, _Mapping]] = ..., key2: _Optional[str] = ...) -> None: ...

class SupportResponse(_message.Message):
    __slots__ = ("overall", "groups", "watermark", "definition", "disclosure", "as_of_position", "comparison", "provenance")
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_POSITION_FIELD_NUMBER: _ClassVar[int]
    COMPARISON_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    overall: SupportGroup
    groups: _containers.RepeatedCompositeFieldContainer[SupportGroup]
    watermark: ReadModelWatermark
    definition: str
    disclosure: DisclosureReport
    as_of_position: int
    comparison: Comparison
    provenance: Provenance
    def __init__(self, overall: _Optional[_Union[SupportGroup, _Mapping]] = ..., groups: _Optional[_Iterable[_Union[SupportGroup, _Mapping]]] = ..., watermark: _Optional[_Union[ReadModelWatermark, _Mapping]] = ..., definition: _Optional[str] = ..., disclosure: _Optional[_Union[DisclosureReport, _Mapping]] = ..., as_of_position: _Optional[int] = ..., comparison: _Optional[_Union[Comparison, _Mapping]] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ...) -> None: ...

class FunnelStepFigure(_message.Message):
    __slots__ = ("step", "cases", "suppression", "share_of_referred", "median_days_from_previous", "share_of_referred_ci")
    STEP_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    SHARE_OF_REFERRED_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_DAYS_FROM_PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    SHARE_OF_REFERRED_CI_FIELD_NUMBER: _ClassVar[int]
    step: FunnelStep
    cases: int
    suppression: Suppression
    share_of_referred: float
    median_days_from_previous: float
    share_of_referred_ci: ConfidenceInterval
    def __init__(self, step: _Optional[_Union[FunnelStep, str]] = ..., cases: _Optional[int] = ..., suppression: _Optional[_Union[Suppression, str]] = ..., share_of_referred: _Optional[float] = ..., median_days_from_previous: _Optional[float] = ..., share_of_referred_ci: _Optional[_Union[ConfidenceInterval, _Mapping]] = ...) -> None: ...

class StopReasonFigure(_message.Message):
    __slots__ = ("reason", "cases", "suppression")
    REASON_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    reason: _events_pb2.PreparationStopReason
    cases: int
    suppression: Suppression
    def __init__(self, reason: _Optional[_Union[_events_pb2.PreparationStopReason, str]] = ..., cases: _Optional[int] = ..., suppression: _Optional[_Union[Suppression, str]] = ...) -> None: ...

class PlanRightFigures(_message.Message):
    __slots__ = ("protection_cases", "protection_suppression", "plan_offered", "offered_suppression", "plan_made", "made_suppression", "share_offered", "share_made", "share_offered_ci", "share_made_ci")
    PROTECTION_CASES_FIELD_NUMBER: _ClassVar[int]
    PROTECTION_SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    PLAN_OFFERED_FIELD_NUMBER: _ClassVar[int]
    OFFERED_SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    PLAN_MADE_FIELD_NUMBER: _ClassVar[int]
    MADE_SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    SHARE_OFFERED_FIELD_NUMBER: _ClassVar[int]
    SHARE_MADE_FIELD_NUMBER: _ClassVar[int]
    SHARE_OFFERED_CI_FIELD_NUMBER: _ClassVar[int]
    SHARE_MADE_CI_FIELD_NUMBER: _ClassVar[int]
    protection_cases: int
    protection_suppression: Suppression
    plan_offered: int
    offered_suppression: Suppression
    plan_made: int
    made_suppression: Suppression
    share_offered: float
    share_made: float
    share_offered_ci: ConfidenceInterval
    share_made_ci: ConfidenceInterval
    def __init__(self, protection_cases: _Optional[int] = ..., protection_suppression: _Optional[_Union[Suppression, str]] = ..., plan_offered: _Optional[int] = ..., offered_suppression: _Optional[_Union[Suppression, str]] = ..., plan_made: _Optional[int] = ..., made_suppression: _Optional[_Union[Suppression, str]] = ..., share_offered: _Optional[float] = ..., share_made: _Optional[float] = ..., share_offered_ci: _Optional[_Union[ConfidenceInterval, _Mapping]] = ..., share_made_ci: _Optional[_Union[ConfidenceInterval, _Mapping]] = ...) -> None: ...

class FunnelGroup(_message.Message):
    __slots__ = ("key", "steps", "stop_reasons", "plan_right", "plan_rejected", "plan_rejected_suppression", "key2")
    KEY_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    STOP_REASONS_FIELD_NUMBER: _ClassVar[int]
    PLAN_RIGHT_FIELD_NUMBER: _ClassVar[int]
    PLAN_REJECTED_FIELD_NUMBER: _ClassVar[int]
    PLAN_REJECTED_SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    KEY2_FIELD_NUMBER: _ClassVar[int]
    key: str
    steps: _containers.RepeatedCompositeFieldContainer[FunnelStepFigure]
    stop_reasons: _containers.RepeatedCompositeFieldContainer[StopReasonFigure]
    plan_right: PlanRightFigures
    plan_rejected: int
    plan_rejected_suppression: Suppression
    key2: str
    def __init__(self, key: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[FunnelStepFigure, _Mapping]]] = ..., stop_reasons: _Optional[_Iterable[_Union[StopReasonFigure, _Mapping]]] = ..., plan_right: _Optional[_Union[PlanRightFigures, _Mapping]] = ..., plan_rejected: _Optional[int] = ..., plan_rejected_suppression: _Optional[_Union[Suppression, str]] = ..., key2: _Optional[str] = ...) -> None: ...

class FunnelResponse(_message.Message):
    __slots__ = ("overall", "groups", "watermark", "definition", "disclosure", "as_of_position", "comparison", "provenance")
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_POSITION_FIELD_NUMBER: _ClassVar[int]
    COMPARISON_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    overall: FunnelGroup
    groups: _containers.RepeatedCompositeFieldContainer[FunnelGroup]
    watermark: ReadModelWatermark
    definition: str
    disclosure: DisclosureReport
    as_of_position: int
    comparison: Comparison
    provenance: Provenance
    def __init__(self, overall: _Optional[_Union[FunnelGroup, _Mapping]] = ..., groups: _Optional[_Iterable[_Union[FunnelGroup, _Mapping]]] = ..., watermark: _Optional[_Union[ReadModelWatermark, _Mapping]] = ..., definition: _Optional[str] = ..., disclosure: _Optional[_Union[DisclosureReport, _Mapping]] = ..., as_of_position: _Optional[int] = ..., comparison: _Optional[_Union[Comparison, _Mapping]] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ...) -> None: ...

class FunnelRequest(_message.Message):
    __slots__ = ("domains", "municipality_codes", "conference_period", "group_by", "as_of_position", "legal_frameworks", "referral_period", "disclosure", "then_by", "compare_with")
    DOMAINS_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODES_FIELD_NUMBER: _ClassVar[int]
    CONFERENCE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    AS_OF_POSITION_FIELD_NUMBER: _ClassVar[int]
    LEGAL_FRAMEWORKS_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_PERIOD_FIELD_NUMBER: _ClassVar[int]
    DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    THEN_BY_FIELD_NUMBER: _ClassVar[int]
    COMPARE_WITH_FIELD_NUMBER: _ClassVar[int]
    domains: _containers.RepeatedScalarFieldContainer[_events_pb2.Domain]
    municipality_codes: _containers.RepeatedScalarFieldContainer[str]
    conference_period: DateRange
    group_by: Grouping
    as_of_position: int
    legal_frameworks: _containers.RepeatedScalarFieldContainer[_events_pb2.LegalFramework]
    referral_period: DateRange
    disclosure: DisclosureControl
    then_by: Grouping
    compare_with: str
    def __init__(self, domains: _Optional[_Iterable[_Union[_events_pb2.Domain, str]]] = ..., municipality_codes: _Optional[_Iterable[str]] = ..., conference_period: _Optional[_Union[DateRange, _Mapping]] = ..., group_by: _Optional[_Union[Grouping, str]] = ..., as_of_position: _Optional[int] = ..., legal_frameworks: _Optional[_Iterable[_Union[_events_pb2.LegalFramework, str]]] = ..., referral_period: _Optional[_Union[DateRange, _Mapping]] = ..., disclosure: _Optional[_Union[DisclosureControl, _Mapping]] = ..., then_by: _Optional[_Union[Grouping, str]] = ..., compare_with: _Optional[str] = ...) -> None: ...
