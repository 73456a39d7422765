from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Domain(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DOMAIN_UNSPECIFIED: _ClassVar[Domain]
    DOMAIN_YOUTH_PROTECTION: _ClassVar[Domain]
    DOMAIN_YOUTH_CARE: _ClassVar[Domain]
    DOMAIN_DOMESTIC_VIOLENCE: _ClassVar[Domain]
    DOMAIN_HOUSING: _ClassVar[Domain]
    DOMAIN_MENTAL_HEALTH: _ClassVar[Domain]
    DOMAIN_MULTI_PROBLEM: _ClassVar[Domain]
    DOMAIN_DIVORCE: _ClassVar[Domain]
    DOMAIN_ELDERLY_CARE: _ClassVar[Domain]
    DOMAIN_DEBT: _ClassVar[Domain]
    DOMAIN_DETENTION_RETURN: _ClassVar[Domain]
    DOMAIN_OTHER: _ClassVar[Domain]

class LegalFramework(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEGAL_FRAMEWORK_UNSPECIFIED: _ClassVar[LegalFramework]
    LEGAL_FRAMEWORK_JEUGDWET: _ClassVar[LegalFramework]
    LEGAL_FRAMEWORK_WMO: _ClassVar[LegalFramework]
    LEGAL_FRAMEWORK_WVGGZ: _ClassVar[LegalFramework]
    LEGAL_FRAMEWORK_NONE: _ClassVar[LegalFramework]

class ProtectionMeasure(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROTECTION_MEASURE_UNSPECIFIED: _ClassVar[ProtectionMeasure]
    PROTECTION_MEASURE_OTS: _ClassVar[ProtectionMeasure]
    PROTECTION_MEASURE_VOORLOPIGE_OTS: _ClassVar[ProtectionMeasure]
    PROTECTION_MEASURE_VOOGDIJ: _ClassVar[ProtectionMeasure]
    PROTECTION_MEASURE_VOORLOPIGE_VOOGDIJ: _ClassVar[ProtectionMeasure]
    PROTECTION_MEASURE_MACHTIGING_UITHUISPLAATSING: _ClassVar[ProtectionMeasure]

class ReferrerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFERRER_KIND_UNSPECIFIED: _ClassVar[ReferrerKind]
    REFERRER_KIND_MUNICIPALITY: _ClassVar[ReferrerKind]
    REFERRER_KIND_GENERAL_PRACTITIONER: _ClassVar[ReferrerKind]
    REFERRER_KIND_YOUTH_DOCTOR: _ClassVar[ReferrerKind]
    REFERRER_KIND_CERTIFIED_INSTITUTION: _ClassVar[ReferrerKind]
    REFERRER_KIND_MEDICAL_SPECIALIST: _ClassVar[ReferrerKind]
    REFERRER_KIND_JUDICIARY: _ClassVar[ReferrerKind]
    REFERRER_KIND_SELF: _ClassVar[ReferrerKind]
    REFERRER_KIND_HOUSING_CORPORATION: _ClassVar[ReferrerKind]
    REFERRER_KIND_OTHER: _ClassVar[ReferrerKind]

class Relation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RELATION_UNSPECIFIED: _ClassVar[Relation]
    RELATION_FAMILY: _ClassVar[Relation]
    RELATION_FRIEND: _ClassVar[Relation]
    RELATION_NEIGHBOUR: _ClassVar[Relation]
    RELATION_COMMUNITY: _ClassVar[Relation]
    RELATION_PROFESSIONAL: _ClassVar[Relation]

class InvitationResponse(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVITATION_RESPONSE_UNSPECIFIED: _ClassVar[InvitationResponse]
    INVITATION_RESPONSE_ACCEPTED: _ClassVar[InvitationResponse]
    INVITATION_RESPONSE_DECLINED: _ClassVar[InvitationResponse]
    INVITATION_RESPONSE_NO_RESPONSE: _ClassVar[InvitationResponse]

class PreparationStopReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PREPARATION_STOP_REASON_UNSPECIFIED: _ClassVar[PreparationStopReason]
    PREPARATION_STOP_REASON_FAMILY_DECLINED: _ClassVar[PreparationStopReason]
    PREPARATION_STOP_REASON_REFERRER_WITHDREW: _ClassVar[PreparationStopReason]
    PREPARATION_STOP_REASON_SITUATION_RESOLVED: _ClassVar[PreparationStopReason]
    PREPARATION_STOP_REASON_SITUATION_ESCALATED: _ClassVar[PreparationStopReason]
    PREPARATION_STOP_REASON_NO_NETWORK_REACHED: _ClassVar[PreparationStopReason]
    PREPARATION_STOP_REASON_OTHER: _ClassVar[PreparationStopReason]

class PlanDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLAN_DECISION_UNSPECIFIED: _ClassVar[PlanDecision]
    PLAN_DECISION_ACCEPTED: _ClassVar[PlanDecision]
    PLAN_DECISION_REJECTED: _ClassVar[PlanDecision]

class ActionOwnerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_OWNER_KIND_UNSPECIFIED: _ClassVar[ActionOwnerKind]
    ACTION_OWNER_KIND_NETWORK: _ClassVar[ActionOwnerKind]
    ACTION_OWNER_KIND_PROFESSIONAL: _ClassVar[ActionOwnerKind]

class ActionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_STATUS_UNSPECIFIED: _ClassVar[ActionStatus]
    ACTION_STATUS_PLANNED: _ClassVar[ActionStatus]
    ACTION_STATUS_IN_PROGRESS: _ClassVar[ActionStatus]
    ACTION_STATUS_DONE: _ClassVar[ActionStatus]
    ACTION_STATUS_ABANDONED: _ClassVar[ActionStatus]

class PlanExecution(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLAN_EXECUTION_UNSPECIFIED: _ClassVar[PlanExecution]
    PLAN_EXECUTION_NOT_EXECUTED: _ClassVar[PlanExecution]
    PLAN_EXECUTION_PARTLY: _ClassVar[PlanExecution]
    PLAN_EXECUTION_MOSTLY: _ClassVar[PlanExecution]
    PLAN_EXECUTION_FULLY: _ClassVar[PlanExecution]

class Reporter(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORTER_UNSPECIFIED: _ClassVar[Reporter]
    REPORTER_CENTRAL_PERSON: _ClassVar[Reporter]
    REPORTER_NETWORK_MEMBER: _ClassVar[Reporter]
    REPORTER_COORDINATOR: _ClassVar[Reporter]
    REPORTER_REFERRER: _ClassVar[Reporter]
    REPORTER_RESEARCHER: _ClassVar[Reporter]

class OutcomeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_TYPE_UNSPECIFIED: _ClassVar[OutcomeType]
    OUTCOME_TYPE_OTS_PREVENTED: _ClassVar[OutcomeType]
    OUTCOME_TYPE_OTS_LIFTED: _ClassVar[OutcomeType]
    OUTCOME_TYPE_PLACEMENT_PREVENTED: _ClassVar[OutcomeType]
    OUTCOME_TYPE_PLACEMENT_ENDED: _ClassVar[OutcomeType]
    OUTCOME_TYPE_PLACED_WITH_KIN: _ClassVar[OutcomeType]
    OUTCOME_TYPE_PLACED_OUTSIDE_NETWORK: _ClassVar[OutcomeType]
    OUTCOME_TYPE_EVICTION_PREVENTED: _ClassVar[OutcomeType]
    OUTCOME_TYPE_RENT_PAID_ON_TIME_12M: _ClassVar[OutcomeType]
    OUTCOME_TYPE_PARENTING_ARRANGEMENT_REACHED: _ClassVar[OutcomeType]
    OUTCOME_TYPE_HOUSEHOLD_TAKEN_OVER_BY_NETWORK: _ClassVar[OutcomeType]
    OUTCOME_TYPE_PROFESSIONAL_HELP_REDUCED: _ClassVar[OutcomeType]
    OUTCOME_TYPE_RE_REFERRAL: _ClassVar[OutcomeType]

class CostKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COST_KIND_UNSPECIFIED: _ClassVar[CostKind]
    COST_KIND_CONFERENCE: _ClassVar[CostKind]
    COST_KIND_COORDINATOR_HOURS: _ClassVar[CostKind]
    COST_KIND_INTERPRETER: _ClassVar[CostKind]
    COST_KIND_PROFESSIONAL_CARE: _ClassVar[CostKind]
    COST_KIND_PLACEMENT: _ClassVar[CostKind]
    COST_KIND_OTHER: _ClassVar[CostKind]

class EndReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    END_REASON_UNSPECIFIED: _ClassVar[EndReason]
    END_REASON_COMPLETED_AS_PLANNED: _ClassVar[EndReason]
    END_REASON_MUTUAL_AGREEMENT: _ClassVar[EndReason]
    END_REASON_CLIENT_ENDED: _ClassVar[EndReason]
    END_REASON_PROVIDER_ENDED: _ClassVar[EndReason]
    END_REASON_REFERRED_ELSEWHERE: _ClassVar[EndReason]
    END_REASON_CLIENT_MOVED: _ClassVar[EndReason]
    END_REASON_CLIENT_DECEASED: _ClassVar[EndReason]
    END_REASON_OTHER: _ClassVar[EndReason]
DOMAIN_UNSPECIFIED: Domain
DOMAIN_YOUTH_PROTECTION: Domain
DOMAIN_YOUTH_CARE: Domain
DOMAIN_DOMESTIC_VIOLENCE: Domain
DOMAIN_HOUSING: Domain
DOMAIN_MENTAL_HEALTH: Domain
DOMAIN_MULTI_PROBLEM: Domain
DOMAIN_DIVORCE: Domain
DOMAIN_ELDERLY_CARE: Domain
DOMAIN_DEBT: Domain
DOMAIN_DETENTION_RETURN: Domain
DOMAIN_OTHER: Domain
LEGAL_FRAMEWORK_UNSPECIFIED: LegalFramework
LEGAL_FRAMEWORK_JEUGDWET: LegalFramework
LEGAL_FRAMEWORK_WMO: LegalFramework
LEGAL_FRAMEWORK_WVGGZ: LegalFramework
LEGAL_FRAMEWORK_NONE: LegalFramework
PROTECTION_MEASURE_UNSPECIFIED: ProtectionMeasure
PROTECTION_MEASURE_OTS: ProtectionMeasure
PROTECTION_MEASURE_VOORLOPIGE_OTS: ProtectionMeasure
PROTECTION_MEASURE_VOOGDIJ: ProtectionMeasure
PROTECTION_MEASURE_VOORLOPIGE_VOOGDIJ: ProtectionMeasure
PROTECTION_MEASURE_MACHTIGING_UITHUISPLAATSING: ProtectionMeasure
REFERRER_KIND_UNSPECIFIED: ReferrerKind
REFERRER_KIND_MUNICIPALITY: ReferrerKind
REFERRER_KIND_GENERAL_PRACTITIONER: ReferrerKind
REFERRER_KIND_YOUTH_DOCTOR: ReferrerKind
REFERRER_KIND_CERTIFIED_INSTITUTION: ReferrerKind
REFERRER_KIND_MEDICAL_SPECIALIST: ReferrerKind
REFERRER_KIND_JUDICIARY: ReferrerKind
REFERRER_KIND_SELF: ReferrerKind
REFERRER_KIND_HOUSING_CORPORATION: ReferrerKind
REFERRER_KIND_OTHER: ReferrerKind
RELATION_UNSPECIFIED: Relation
RELATION_FAMILY: Relation
RELATION_FRIEND: Relation
RELATION_NEIGHBOUR: Relation
RELATION_COMMUNITY: Relation
RELATION_PROFESSIONAL: Relation
INVITATION_RESPONSE_UNSPECIFIED: InvitationResponse
INVITATION_RESPONSE_ACCEPTED: InvitationResponse
INVITATION_RESPONSE_DECLINED: InvitationResponse
INVITATION_RESPONSE_NO_RESPONSE: InvitationResponse
PREPARATION_STOP_REASON_UNSPECIFIED: PreparationStopReason
PREPARATION_STOP_REASON_FAMILY_DECLINED: PreparationStopReason
PREPARATION_STOP_REASON_REFERRER_WITHDREW: PreparationStopReason
PREPARATION_STOP_REASON_SITUATION_RESOLVED: PreparationStopReason
PREPARATION_STOP_REASON_SITUATION_ESCALATED: PreparationStopReason
PREPARATION_STOP_REASON_NO_NETWORK_REACHED: PreparationStopReason
PREPARATION_STOP_REASON_OTHER: PreparationStopReason
PLAN_DECISION_UNSPECIFIED: PlanDecision
PLAN_DECISION_ACCEPTED: PlanDecision
PLAN_DECISION_REJECTED: PlanDecision
ACTION_OWNER_KIND_UNSPECIFIED: ActionOwnerKind
ACTION_OWNER_KIND_NETWORK: ActionOwnerKind
ACTION_OWNER_KIND_PROFESSIONAL: ActionOwnerKind
ACTION_STATUS_UNSPECIFIED: ActionStatus
ACTION_STATUS_PLANNED: ActionStatus
ACTION_STATUS_IN_PROGRESS: ActionStatus
ACTION_STATUS_DONE: ActionStatus
ACTION_STATUS_ABANDONED: ActionStatus
PLAN_EXECUTION_UNSPECIFIED: PlanExecution
PLAN_EXECUTION_NOT_EXECUTED: PlanExecution
PLAN_EXECUTION_PARTLY: PlanExecution
PLAN_EXECUTION_MOSTLY: PlanExecution
PLAN_EXECUTION_FULLY: PlanExecution
REPORTER_UNSPECIFIED: Reporter
REPORTER_CENTRAL_PERSON: Reporter
REPORTER_NETWORK_MEMBER: Reporter
REPORTER_COORDINATOR: Reporter
REPORTER_REFERRER: Reporter
REPORTER_RESEARCHER: Reporter
OUTCOME_TYPE_UNSPECIFIED: OutcomeType
OUTCOME_TYPE_OTS_PREVENTED: OutcomeType
OUTCOME_TYPE_OTS_LIFTED: OutcomeType
OUTCOME_TYPE_PLACEMENT_PREVENTED: OutcomeType
OUTCOME_TYPE_PLACEMENT_ENDED: OutcomeType
OUTCOME_TYPE_PLACED_WITH_KIN: OutcomeType
OUTCOME_TYPE_PLACED_OUTSIDE_NETWORK: OutcomeType
OUTCOME_TYPE_EVICTION_PREVENTED: OutcomeType
OUTCOME_TYPE_RENT_PAID_ON_TIME_12M: OutcomeType
OUTCOME_TYPE_PARENTING_ARRANGEMENT_REACHED: OutcomeType
OUTCOME_TYPE_HOUSEHOLD_TAKEN_OVER_BY_NETWORK: OutcomeType
OUTCOME_TYPE_PROFESSIONAL_HELP_REDUCED: OutcomeType
OUTCOME_TYPE_RE_REFERRAL: OutcomeType
COST_KIND_UNSPECIFIED: CostKind
COST_KIND_CONFERENCE: CostKind
COST_KIND_COORDINATOR_HOURS: CostKind
COST_KIND_INTERPRETER: CostKind
COST_KIND_PROFESSIONAL_CARE: CostKind
COST_KIND_PLACEMENT: CostKind
COST_KIND_OTHER: CostKind
END_REASON_UNSPECIFIED: EndReason
END_REASON_COMPLETED_AS_PLANNED: EndReason
END_REASON_MUTUAL_AGREEMENT: EndReason
END_REASON_CLIENT_ENDED: EndReason
END_REASON_PROVIDER_ENDED: EndReason
END_REASON_REFERRED_ELSEWHERE: EndReason
END_REASON_CLIENT_MOVED: EndReason
END_REASON_CLIENT_DECEASED: EndReason
END_REASON_OTHER: EndReason

class CaseReferred(_message.Message):
    __slots__ = ("domain", "legal_framework", "threatened_measures", "referrer_kind", "municipality_code", "preferred_languages", "central_person_ids")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    LEGAL_FRAMEWORK_FIELD_NUMBER: _ClassVar[int]
    THREATENED_MEASURES_FIELD_NUMBER: _ClassVar[int]
    REFERRER_KIND_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    CENTRAL_PERSON_IDS_FIELD_NUMBER: _ClassVar[int]
    domain: Domain
    legal_framework: LegalFramework
    threatened_measures: _containers.RepeatedScalarFieldContainer[ProtectionMeasure]
    referrer_kind: ReferrerKind
    municipality_code: str
    preferred_languages: _containers.RepeatedScalarFieldContainer[str]
    central_person_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, domain: _Optional[_Union[Domain, str]] = ..., legal_framework: _Optional[_Union[LegalFramework, str]] = ..., threatened_measures: _Optional[_Iterable[_Union[ProtectionMeasure, str]]] = ..., referrer_kind: _Optional[_Union[ReferrerKind, str]] = ..., municipality_code: _Optional[str] = ..., preferred_languages: _Optional[_Iterable[str]] = ..., central_person_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PlanRightOffered(_message.Message):
    __slots__ = ("legal_framework",)
    LEGAL_FRAMEWORK_FIELD_NUMBER: _ClassVar[int]
    legal_framework: LegalFramework
    def __init__(self, legal_framework: _Optional[_Union[LegalFramework, str]] = ...) -> None: ...

class PlanRightDeclined(_message.Message):
    __slots__ = ("reason_code",)
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    reason_code: str
    def __init__(self, reason_code: _Optional[str] = ...) -> None: ...

class CoordinatorAssigned(_message.Message):
    __slots__ = ("coordinator_id", "languages", "language_preference_met", "background_preference_met")
    COORDINATOR_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_PREFERENCE_MET_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_PREFERENCE_MET_FIELD_NUMBER: _ClassVar[int]
    coordinator_id: str
    languages: _containers.RepeatedScalarFieldContainer[str]
    language_preference_met: bool
    background_preference_met: bool
    def __init__(self, coordinator_id: _Optional[str] = ..., languages: _Optional[_Iterable[str]] = ..., language_preference_met: bool = ..., background_preference_met: bool = ...) -> None: ...

class ParticipantInvited(_message.Message):
    __slots__ = ("participant_id", "relation", "central_person")
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    CENTRAL_PERSON_FIELD_NUMBER: _ClassVar[int]
    participant_id: str
    relation: Relation
    central_person: bool
    def __init__(self, participant_id: _Optional[str] = ..., relation: _Optional[_Union[Relation, str]] = ..., central_person: bool = ...) -> None: ...

class ParticipantResponded(_message.Message):
    __slots__ = ("participant_id", "response")
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    participant_id: str
    response: InvitationResponse
    def __init__(self, participant_id: _Optional[str] = ..., response: _Optional[_Union[InvitationResponse, str]] = ...) -> None: ...

class PreparationStopped(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: PreparationStopReason
    def __init__(self, reason: _Optional[_Union[PreparationStopReason, str]] = ...) -> None: ...

class ConferenceHeld(_message.Message):
    __slots__ = ("attendee_ids", "private_family_time_held", "interpreter_used", "languages")
    ATTENDEE_IDS_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_FAMILY_TIME_HELD_FIELD_NUMBER: _ClassVar[int]
    INTERPRETER_USED_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    attendee_ids: _containers.RepeatedScalarFieldContainer[str]
    private_family_time_held: bool
    interpreter_used: bool
    languages: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, attendee_ids: _Optional[_Iterable[str]] = ..., private_family_time_held: bool = ..., interpreter_used: bool = ..., languages: _Optional[_Iterable[str]] = ...) -> None: ...

class PlanAction(_message.Message):
    __slots__ = ("action_id", "owner_id", "owner_kind", "category_code")
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_KIND_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_CODE_FIELD_NUMBER: _ClassVar[int]
    action_id: str
    owner_id: str
    owner_kind: ActionOwnerKind
    category_code: str
    def __init__(self, action_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., owner_kind: _Optional[_Union[ActionOwnerKind, str]] = ..., category_code: _Optional[str] = ...) -> None: ...

class PlanAdopted(_message.Message):
    __slots__ = ("actions",)
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    actions: _containers.RepeatedCompositeFieldContainer[PlanAction]
    def __init__(self, actions: _Optional[_Iterable[_Union[PlanAction, _Mapping]]] = ...) -> None: ...

class PlanDecided(_message.Message):
    __slots__ = ("decision", "reason_code")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    decision: PlanDecision
    reason_code: str
    def __init__(self, decision: _Optional[_Union[PlanDecision, str]] = ..., reason_code: _Optional[str] = ...) -> None: ...

class PlanActionStatusChanged(_message.Message):
    __slots__ = ("action_id", "status")
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    action_id: str
    status: ActionStatus
    def __init__(self, action_id: _Optional[str] = ..., status: _Optional[_Union[ActionStatus, str]] = ...) -> None: ...

class FollowUpRecorded(_message.Message):
    __slots__ = ("active_supporter_ids", "plan_execution", "problems_resolved", "escalation_prevented", "reported_by")
    ACTIVE_SUPPORTER_IDS_FIELD_NUMBER: _ClassVar[int]
    PLAN_EXECUTION_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_PREVENTED_FIELD_NUMBER: _ClassVar[int]
    REPORTED_BY_FIELD_NUMBER: _ClassVar[int]
    active_supporter_ids: _containers.RepeatedScalarFieldContainer[str]
    plan_execution: PlanExecution
    problems_resolved: bool
    escalation_prevented: bool
    reported_by: Reporter
    def __init__(self, active_supporter_ids: _Optional[_Iterable[str]] = ..., plan_execution: _Optional[_Union[PlanExecution, str]] = ..., problems_resolved: bool = ..., escalation_prevented: bool = ..., reported_by: _Optional[_Union[Reporter, str]] = ...) -> None: ...

class ReviewConferenceHeld(_message.Message):
    __slots__ = ("attendee_ids", "plan_adjusted")
    ATTENDEE_IDS_FIELD_NUMBER: _ClassVar[int]
    PLAN_ADJUSTED_FIELD_NUMBER: _ClassVar[int]
    attendee_ids: _containers.RepeatedScalarFieldContainer[str]
    plan_adjusted: bool
    def __init__(self, attendee_ids: _Optional[_Iterable[str]] = ..., plan_adjusted: bool = ...) -> None: ...

class OutcomeRecorded(_message.Message):
    __slots__ = ("outcome", "children_affected")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_AFFECTED_FIELD_NUMBER: _ClassVar[int]
    outcome: OutcomeType
    children_affected: int
    def __init__(self, outcome: _Optional[_Union[OutcomeType, str]] = ..., children_affected: _Optional[int] = ...) -> None: ...

class CostRecorded(_message.Message):
    __slots__ = ("kind", "amount_cents", "currency")
    KIND_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_CENTS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    kind: CostKind
    amount_cents: int
    currency: str
    def __init__(self, kind: _Optional[_Union[CostKind, str]] = ..., amount_cents: _Optional[int] = ..., currency: _Optional[str] = ...) -> None: ...

class CaseClosed(_message.Message):
    __slots__ = ("end_reason",)
    END_REASON_FIELD_NUMBER: _ClassVar[int]
    end_reason: EndReason
    def __init__(self, end_reason: _Optional[_Union[EndReason, str]] = ...) -> None: ...

class EventRetracted(_message.Message):
    __slots__ = ("retracted_event_id", "reason")
    RETRACTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    retracted_event_id: str
    reason: str
    def __init__(self, retracted_event_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PersonalDataErased(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class CaseAccessGranted(_message.Message):
    __slots__ = ("partner",)
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    partner: str
    def __init__(self, partner: _Optional[str] = ...) -> None: ...

class PersonalData(_message.Message):
    __slots__ = ("fields",)
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.ScalarMap[str, str]
    def __init__(self, fields: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SealedPersonalData(_message.Message):
    __slots__ = ("key_id", "nonce", "ciphertext")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    nonce: bytes
    ciphertext: bytes
    def __init__(self, key_id: _Optional[str] = ..., nonce: _Optional[bytes] = ..., ciphertext: _Optional[bytes] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("event_id", "occurred_at", "correlation_id", "causation_id", "personal", "payload_version", "case_referred", "plan_right_offered", "plan_right_declined", "coordinator_assigned", "participant_invited", "participant_responded", "preparation_stopped", "conference_held", "plan_adopted", "plan_decided", "plan_action_status_changed", "follow_up_recorded", "review_conference_held", "outcome_recorded", "cost_recorded", "case_closed", "event_retracted", "personal_data_erased", "case_access_granted")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CAUSATION_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONAL_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_VERSION_FIELD_NUMBER: _ClassVar[int]
    CASE_REFERRED_FIELD_NUMBER: _ClassVar[int]
    PLAN_RIGHT_OFFERED_FIELD_NUMBER: _ClassVar[int]
    PLAN_RIGHT_DECLINED_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_ASSIGNED_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_INVITED_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_RESPONDED_FIELD_NUMBER: _ClassVar[int]
    PREPARATION_STOPPED_FIELD_NUMBER: _ClassVar[int]
    CONFERENCE_HELD_FIELD_NUMBER: _ClassVar[int]
    PLAN_ADOPTED_FIELD_NUMBER: _ClassVar[int]
    PLAN_DECIDED_FIELD_NUMBER: _ClassVar[int]
    PLAN_ACTION_STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_UP_RECORDED_FIELD_NUMBER: _ClassVar[int]
    REVIEW_CONFERENCE_HELD_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_RECORDED_FIELD_NUMBER: _ClassVar[int]
    COST_RECORDED_FIELD_NUMBER: _ClassVar[int]
    CASE_CLOSED_FIELD_NUMBER: _ClassVar[int]
    EVENT_RETRACTED_FIELD_NUMBER: _ClassVar[int]
    PERSONAL_DATA_ERASED_FIELD_NUMBER: _ClassVar[int]
    CASE_ACCESS_GRANTED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    correlation_id: str
    causation_id: str
    personal: PersonalData
    payload_version: int
    case_referred: CaseReferred
    plan_right_offered: PlanRightOffered
    plan_right_declined: PlanRightDeclined
    coordinator_assigned: CoordinatorAssigned
    participant_invited: ParticipantInvited
    participant_responded: ParticipantResponded
    preparation_stopped: PreparationStopped
    conference_held: ConferenceHeld
    plan_adopted: PlanAdopted
    plan_decided: PlanDecided
    plan_action_status_changed: PlanActionStatusChanged
    follow_up_recorded: FollowUpRecorded
    review_conference_held: ReviewConferenceHeld
    outcome_recorded: OutcomeRecorded
    cost_recorded: CostRecorded
    case_closed: CaseClosed
    event_retracted: EventRetracted
    personal_data_erased: PersonalDataErased
    case_access_granted: CaseAccessGranted
    def __init__(self, event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., correlation_id: _Optional[str] = ..., causation_id: _Optional[str] = ..., personal: _Optional[_Union[PersonalData, _Mapping]] = ..., payload_version: _Optional[int] = ..., case_referred: _Optional[_Union[CaseReferred, _Mapping]] = ..., plan_right_offered: _Optional[_Union[PlanRightOffered, _Mapping]] = ..., plan_right_declined: _Optional[_Union[PlanRightDeclined, _Mapping]] = ..., coordinator_assigned: _Optional[_Union[CoordinatorAssigned, _Mapping]] = ..., participant_invited: _Optional[_Union[ParticipantInvited, _Mapping]] = ..., participant_responded: _Optional[_Union[ParticipantResponded, _Mapping]] = ..., preparation_stopped: _Optional[_Union[PreparationStopped, _Mapping]] = ..., conference_held: _Optional[_Union[ConferenceHeld, _Mapping]] = ..., plan_adopted: _Optional[_Union[PlanAdopted, _Mapping]] = ..., plan_decided: _Optional[_Union[PlanDecided, _Mapping]] = ..., plan_action_status_changed: _Optional[_Union[PlanActionStatusChanged, _Mapping]] = ..., follow_up_recorded: _Optional[_Union[FollowUpRecorded, _Mapping]] = ..., review_conference_held: _Optional[_Union[ReviewConferenceHeld, _Mapping]] = ..., outcome_recorded: _Optional[_Union[OutcomeRecorded, _Mapping]] = ..., cost_recorded: _Optional[_Union[CostRecorded, _Mapping]] = ..., case_closed: _Optional[_Union[CaseClosed, _Mapping]] = ..., event_retracted: _Optional[_Union[EventRetracted, _Mapping]] = ..., personal_data_erased: _Optional[_Union[PersonalDataErased, _Mapping]] = ..., case_access_granted: _Optional[_Union[CaseAccessGranted, _Mapping]] = ...) -> None: ...

class RecordedEvent(_message.Message):
    __slots__ = ("case_id", "stream_version", "global_position", "recorded_at", "source", "event", "sealed_personal", "prev_hash", "case_prev_hash", "hash")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_VERSION_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_POSITION_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    SEALED_PERSONAL_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    CASE_PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    stream_version: int
    global_position: int
    recorded_at: _timestamp_pb2.Timestamp
    source: str
    event: Event
    sealed_personal: SealedPersonalData
    prev_hash: bytes
    case_prev_hash: bytes
    hash: bytes
    def __init__(self, case_id: _Optional[str] = ..., stream_version: _Optional[int] = ..., global_position: _Optional[int] = ..., recorded_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ..., event: _Optional[_Union[Event, _Mapping]] = ..., sealed_personal: _Optional[_Union[SealedPersonalData, _Mapping]] = ..., prev_hash: _Optional[bytes] = ..., case_prev_hash: _Optional[bytes] = ..., hash: _Optional[bytes] = ...) -> None: ...
