"""A deterministic SYNTHETIC edge cohort for the research oracle (issue 13).

Writes NDJSON `kring.v1.CaseEvent` lines that `kringctl append --file` accepts
(docs/api.md "Appending a file"): every line obeys the case rules of
docs/case-rules.md. The cohort is built to hit the edges of the research
definitions (docs/read-models.md, docs/research.md and the lead's decisions):

- follow-ups exactly at and just outside the window edges of 6, 12 and 24
  months (a month is 30.44 days: marks 182.64, 365.28, 730.56) for the
  default window (91 days) and for 30 days, e.g. days 91/92, 182/183,
  273/274, 365/366, 456/457, 639/640, 700/701, 730/731, 760/761, 821/822;
- a follow-up dated before the first conference (time 0), several follow-ups
  on one day (the first in log order wins), follow-ups after CaseClosed;
- retention exactly at the lapse thresholds (4/5 = 0.8, 3/4 = 0.75);
- ties in Kaplan-Meier times (several lapses and censorings on one day);
- erasure before a follow-up (phase 2: follow-ups recorded after the case's
  PersonalDataErased, some back-dated before it);
- cases referred in December with conferences in January; two conferences in
  one case (in a few, the second recorded later but dated before the
  first); zero non-professional attendees; attendees never invited (central
  persons named only in the referral; a coordinator whose assignment was
  retracted); retractions of outcomes, follow-ups, conferences, invitations,
  costs, coordinator assignments and a referral;
- recorded conference costs (and costs of kinds that do not count), outcomes
  per child (children_affected 0, 2, 3, recorded twice);
- four municipalities, six domains, four legal frameworks, three years;
- each kind of case copied several times (different ids) so that most cells
  reach k = 5 or 10, and a few kinds copied once or twice so that some do not.

Usage: python3 cohort.py OUT_DIR   (writes phase1.ndjson, phase2.ndjson and
erase.txt, the case ids to erase between the two phases).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from pathlib import Path

NAMESPACE = uuid.UUID("6f1c2a52-2d7e-4c55-9a0e-13c0de000013")

MUNICIPALITIES = ["GM0363", "GM0518", "GM0599", "GM0014"]
DOMAINS = [
    "DOMAIN_YOUTH_PROTECTION",
    "DOMAIN_HOUSING",
    "DOMAIN_MULTI_PROBLEM",
    "DOMAIN_DIVORCE",
    "DOMAIN_MENTAL_HEALTH",
    "DOMAIN_YOUTH_CARE",
]
FRAMEWORKS = ["LEGAL_FRAMEWORK_JEUGDWET", "LEGAL_FRAMEWORK_WMO", "LEGAL_FRAMEWORK_WVGGZ", "LEGAL_FRAMEWORK_NONE"]
OUTCOMES_BY_DOMAIN = {
    "DOMAIN_YOUTH_PROTECTION": ["OUTCOME_TYPE_PLACEMENT_PREVENTED", "OUTCOME_TYPE_OTS_PREVENTED"],
    "DOMAIN_HOUSING": ["OUTCOME_TYPE_EVICTION_PREVENTED", "OUTCOME_TYPE_RENT_PAID_ON_TIME_12M"],
    "DOMAIN_MULTI_PROBLEM": ["OUTCOME_TYPE_PROFESSIONAL_HELP_REDUCED", "OUTCOME_TYPE_PLACEMENT_ENDED"],
    "DOMAIN_DIVORCE": ["OUTCOME_TYPE_PARENTING_ARRANGEMENT_REACHED"],
    "DOMAIN_MENTAL_HEALTH": ["OUTCOME_TYPE_HOUSEHOLD_TAKEN_OVER_BY_NETWORK"],
    "DOMAIN_YOUTH_CARE": ["OUTCOME_TYPE_PLACED_WITH_KIN", "OUTCOME_TYPE_OTS_LIFTED"],
}

# Days after the first conference at which follow-ups are recorded: the
# window edges of the default window (91) and of 30 days, around the marks
# 182.64, 365.28 and 730.56.
EDGE_DAYS = [
    91, 92, 152, 153, 182, 183, 212, 213, 273, 274, 275, 335, 336, 365, 366,
    395, 396, 456, 457, 639, 640, 700, 701, 730, 731, 760, 761, 821, 822,
]


# occurred_at may not lie after the server's clock: later dates are moved here.
LATEST_DAY = dt.date(2026, 11, 30)


def ts(day: dt.date, hour: int = 10, minute: int = 0, second: int = 0) -> str:
    day = min(day, LATEST_DAY)
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}Z"


class CaseWriter:
    """Collects one case's events in order, with deterministic event ids."""

    def __init__(self, case_id: str):
        self.case_id = case_id
        self.lines: list[dict] = []
        self.n = 0

    def add(self, occurred_at: str, payload_name: str, payload: dict) -> str:
        self.n += 1
        event_id = str(uuid.uuid5(NAMESPACE, f"{self.case_id}/{self.n}"))
        self.lines.append({
            "case_id": self.case_id,
            "event": {"event_id": event_id, "occurred_at": occurred_at, payload_name: payload},
        })
        return event_id

    def retract(self, occurred_at: str, event_id: str, reason: str = "entered in error") -> str:
        return self.add(occurred_at, "event_retracted", {"retracted_event_id": event_id, "reason": reason})


def clamp_offset(secret: bytes | None, first_serial: int, k: int = 10) -> int:
    """How many serials to skip so that the eleven cases ORC-K-… from there,
    ten lapsing on one day and one censored later, make a Kaplan-Meier row
    whose perturbed events exceed its perturbed at-risk under `secret`
    (decisions D17: events are clamped to the at-risk). 0 without a secret."""
    if secret is None:
        return 0
    import hashlib
    import hmac

    def key(serial: int) -> int:
        digest = hmac.new(secret, f"case:ORC-K-{serial:05d}".encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big")

    def p(cell: int) -> int:
        i = cell >> 56
        return -2 if i < 16 else -1 if i < 64 else 0 if i < 192 else 1 if i < 240 else 2

    for offset in range(1000):
        keys = [key(first_serial + offset + j) for j in range(11)]
        at_risk = max(k, 11 + p(sum(keys) % (1 << 64)))
        events = max(1, 10 + p(sum(keys[:10]) % (1 << 64)))
        if events > at_risk:
            return offset
    raise ValueError("no offset gives a clamped Kaplan-Meier row")


def build(secret: bytes | None = None) -> tuple[list[dict], list[dict], list[str]]:
    """Returns (phase 1 lines, phase 2 lines, case ids to erase in between).
    `secret`: the cell-key secret the cohort is asked under (it only chooses
    the case ids of the clamp cluster, see clamp_offset)."""
    phase1: list[dict] = []
    phase2: list[dict] = []
    erase: list[str] = []
    serial = 0

    def new_case(kind: str) -> CaseWriter:
        nonlocal serial
        serial += 1
        return CaseWriter(f"ORC-{kind}-{serial:05d}")

    def referral(w: CaseWriter, day: dt.date, domain: str, framework: str, municipality: str,
                 measures: list[str], central: list[str], hour: int = 9) -> str:
        payload = {
            "domain": domain,
            "legal_framework": framework,
            "referrer_kind": "REFERRER_KIND_MUNICIPALITY",
            "municipality_code": municipality,
            "preferred_languages": ["nl"],
        }
        if measures:
            payload["threatened_measures"] = measures
        if central:
            payload["central_person_ids"] = central
        return w.add(ts(day, hour), "case_referred", payload)

    def full_case(kind: str, i: int, *, year: int, month: int, dom_index: int, followups: list[tuple[int, int]],
                  network_owners: bool = True, extra_conference: bool = False, closed: bool = False,
                  december: bool = False, zero_network: bool = False, retract: str = "",
                  invite_central: bool = False, uninvited_central_attends: bool = True,
                  recorded_costs: str = "", phase2_followups: list[tuple[int, int, int]] | None = None,
                  erase_it: bool = False, rejected_first: bool = False, same_day_pair: bool = False,
                  followup_before_conference: bool = False, backdated_second: bool = False,
                  municipality: str = "") -> None:
        """A case from referral to follow-ups.

        followups: (days after the first conference, active supporters among
        the 5 network members fam1..fam4, cp) recorded in phase 1.
        phase2_followups: (days, active, hour) recorded in phase 2 (after any
        erasure).
        """
        w = new_case(kind)
        domain = DOMAINS[dom_index % len(DOMAINS)]
        framework = FRAMEWORKS[(i // 2) % len(FRAMEWORKS)]
        municipality = municipality or MUNICIPALITIES[(i + dom_index) % len(MUNICIPALITIES)]
        measures = ["PROTECTION_MEASURE_OTS"] if domain == "DOMAIN_YOUTH_PROTECTION" and i % 3 != 2 else []
        if december:
            ref_day = dt.date(year, 12, 10 + (i % 15))
        else:
            ref_day = dt.date(year, month, 1 + (i % 27))
        referral(w, ref_day, domain, framework, municipality, measures, ["cp"])
        if measures and i % 2 == 0:
            w.add(ts(ref_day + dt.timedelta(days=1)), "plan_right_offered", {"legal_framework": framework})
        coord_day = ref_day + dt.timedelta(days=3 + i % 5)
        coord_event = w.add(ts(coord_day), "coordinator_assigned", {"coordinator_id": "coord1"})
        invites = {}
        relations = [("fam1", "RELATION_FAMILY"), ("fam2", "RELATION_FRIEND"), ("fam3", "RELATION_NEIGHBOUR"),
                     ("fam4", "RELATION_COMMUNITY"), ("prof", "RELATION_PROFESSIONAL")]
        for k, (pid, rel) in enumerate(relations):
            invites[pid] = w.add(ts(coord_day + dt.timedelta(days=1 + k)), "participant_invited",
                                 {"participant_id": pid, "relation": rel})
        if invite_central:
            w.add(ts(coord_day + dt.timedelta(days=7)), "participant_invited",
                  {"participant_id": "cp", "relation": "RELATION_FAMILY", "central_person": True})
        w.add(ts(coord_day + dt.timedelta(days=8)), "participant_responded",
              {"participant_id": "fam1", "response": "INVITATION_RESPONSE_ACCEPTED"})
        if december:
            conf_day = dt.date(year + 1, 1, 5 + (i % 20))
        else:
            conf_day = coord_day + dt.timedelta(days=20 + (i * 7) % 40)
        if zero_network:
            attendees = ["coord1", "prof"]
        else:
            attendees = ["fam1", "fam2", "fam3", "fam4", "prof", "coord1"][: 3 + i % 4] + ["coord1"]
            attendees = list(dict.fromkeys(attendees))
            if uninvited_central_attends:
                attendees.insert(0, "cp")
        conf_event = w.add(ts(conf_day, 14), "conference_held",
                           {"attendee_ids": attendees, "private_family_time_held": True})
        if retract == "coordinator":
            # The assignment of coord1 (an attendee) withdrawn after the
            # conference: coord1 counts as never invited (relation UNSPECIFIED).
            w.add(ts(conf_day, 17), "coordinator_assigned", {"coordinator_id": "coord2"})
            w.retract(ts(conf_day, 18), coord_event)
        if extra_conference:
            # Back-dated: recorded after the first conference but dated before
            # it (time zero stays the first ConferenceHeld in log order).
            conf2_day = conf_day + dt.timedelta(days=-10 if backdated_second else 30)
            conf2 = ["fam1", "fam3", "prof", "coord1", "cp"] if not zero_network else ["prof"]
            w.add(ts(conf2_day, 14), "conference_held", {"attendee_ids": conf2})
        if zero_network:
            actions = [{"action_id": "a1", "owner_id": "prof", "owner_kind": "ACTION_OWNER_KIND_PROFESSIONAL",
                        "category_code": "school"}]
        elif network_owners:
            actions = [
                {"action_id": "a1", "owner_id": "fam1", "owner_kind": "ACTION_OWNER_KIND_NETWORK",
                 "category_code": "housing"},
                {"action_id": "a2", "owner_id": "fam2", "owner_kind": "ACTION_OWNER_KIND_NETWORK",
                 "category_code": "school"},
                {"action_id": "a3", "owner_id": "fam3", "owner_kind": "ACTION_OWNER_KIND_NETWORK",
                 "category_code": "childcare"},
                {"action_id": "a4", "owner_id": "fam4", "owner_kind": "ACTION_OWNER_KIND_NETWORK",
                 "category_code": "transport"},
                {"action_id": "a5", "owner_id": "cp", "owner_kind": "ACTION_OWNER_KIND_NETWORK",
                 "category_code": "finance"},
                {"action_id": "a6", "owner_id": "prof", "owner_kind": "ACTION_OWNER_KIND_PROFESSIONAL",
                 "category_code": "care"},
            ]
        else:
            # Only a professional owns an action: the support network falls back
            # to the non-professional attendees of every conference.
            actions = [{"action_id": "a1", "owner_id": "prof", "owner_kind": "ACTION_OWNER_KIND_PROFESSIONAL",
                        "category_code": "care"}]
        plan_day = conf_day + dt.timedelta(days=1)
        w.add(ts(plan_day, 15), "plan_adopted", {"actions": actions})
        if rejected_first:
            w.add(ts(plan_day + dt.timedelta(days=3)), "plan_decided",
                  {"decision": "PLAN_DECISION_REJECTED", "reason_code": "too-vague"})
            w.add(ts(plan_day + dt.timedelta(days=10)), "plan_adopted", {"actions": actions})
            w.add(ts(plan_day + dt.timedelta(days=12)), "plan_decided", {"decision": "PLAN_DECISION_ACCEPTED"})
        elif i % 5 != 4:
            w.add(ts(plan_day + dt.timedelta(days=2 + i % 9)), "plan_decided", {"decision": "PLAN_DECISION_ACCEPTED"})
        members = ["fam1", "fam2", "fam3", "fam4", "cp"]
        followup_ids = []
        if followup_before_conference:
            # Dated the day before the first conference (recorded after the plan): time 0.
            w.add(ts(conf_day - dt.timedelta(days=1), 12), "follow_up_recorded",
                  {"active_supporter_ids": members[:2], "plan_execution": "PLAN_EXECUTION_PARTLY",
                   "reported_by": "REPORTER_COORDINATOR"})
        for k, (days, active) in enumerate(followups):
            day = conf_day + dt.timedelta(days=days)
            if day > dt.date(2026, 11, 30):
                continue
            # Late evening for some, so that the UTC date (not the time) decides.
            hour = 23 if k % 3 == 2 else 8
            fid = w.add(ts(day, hour, 30), "follow_up_recorded",
                        {"active_supporter_ids": members[:active] + (["prof"] if k % 2 else []),
                         "plan_execution": "PLAN_EXECUTION_MOSTLY", "reported_by": "REPORTER_NETWORK_MEMBER"})
            followup_ids.append(fid)
            if same_day_pair and k == 0:
                # A second follow-up on the same day: the first in log order is the one taken.
                w.add(ts(day, 7), "follow_up_recorded",
                      {"active_supporter_ids": members[:1], "plan_execution": "PLAN_EXECUTION_PARTLY",
                       "reported_by": "REPORTER_COORDINATOR"})
        outcome_types = OUTCOMES_BY_DOMAIN[domain]
        out_day = conf_day + dt.timedelta(days=60)
        first_outcome = w.add(ts(out_day), "outcome_recorded",
                              {"outcome": outcome_types[0], "children_affected": [0, 2, 3][i % 3]})
        if i % 4 == 1 and len(outcome_types) > 1:
            w.add(ts(out_day + dt.timedelta(days=5)), "outcome_recorded", {"outcome": outcome_types[1]})
        if i % 6 == 0:
            # The same outcome recorded twice: the case counts once, children add up.
            w.add(ts(out_day + dt.timedelta(days=9)), "outcome_recorded",
                  {"outcome": outcome_types[0], "children_affected": 1})
        if retract == "outcome":
            w.retract(ts(out_day + dt.timedelta(days=20)), first_outcome)
        if recorded_costs == "conference":
            cost = w.add(ts(conf_day, 16), "cost_recorded",
                         {"kind": "COST_KIND_CONFERENCE", "amount_cents": str(250000 + 1000 * (i % 7)),
                          "currency": "EUR"})
            w.add(ts(conf_day, 17), "cost_recorded",
                  {"kind": "COST_KIND_INTERPRETER", "amount_cents": "12345", "currency": "EUR"})
            if i % 3 == 0:
                # A wrong amount corrected by retraction and a new entry.
                w.retract(ts(conf_day + dt.timedelta(days=2)), cost)
                w.add(ts(conf_day + dt.timedelta(days=2), 11), "cost_recorded",
                      {"kind": "COST_KIND_CONFERENCE", "amount_cents": "301000", "currency": "EUR"})
        elif recorded_costs == "other":
            # Only a kind that does not count: the model's default applies.
            w.add(ts(conf_day, 16), "cost_recorded",
                  {"kind": "COST_KIND_PROFESSIONAL_CARE", "amount_cents": "99900", "currency": "EUR"})
        if retract == "invitation":
            # The invitation of fam2 withdrawn after the conference, the plan and
            # the follow-ups: fam2 counts with relation UNSPECIFIED (still of the network).
            w.retract(ts(conf_day + dt.timedelta(days=850)), invites["fam2"])
        if retract == "followup" and followup_ids:
            w.retract(ts(conf_day + dt.timedelta(days=800)), followup_ids[-1])
        if retract == "conference":
            # The only conference withdrawn: no conference case any more (plan
            # and follow-ups stay recorded).
            w.retract(ts(conf_day + dt.timedelta(days=90)), conf_event)
        if closed:
            w.add(ts(conf_day + dt.timedelta(days=100)), "case_closed", {"end_reason": "END_REASON_COMPLETED_AS_PLANNED"})
            # A follow-up after closure still counts.
            day = conf_day + dt.timedelta(days=366)
            w.add(ts(day, 9), "follow_up_recorded",
                  {"active_supporter_ids": members[:3], "plan_execution": "PLAN_EXECUTION_FULLY",
                   "reported_by": "REPORTER_CENTRAL_PERSON"})
        phase1.extend(w.lines)
        if erase_it:
            erase.append(w.case_id)
        if phase2_followups:
            w2 = CaseWriter(w.case_id)
            w2.n = w.n
            for days, active, hour in phase2_followups:
                day = conf_day + dt.timedelta(days=days)
                w2.add(ts(day, hour), "follow_up_recorded",
                       {"active_supporter_ids": members[:active], "plan_execution": "PLAN_EXECUTION_NOT_EXECUTED",
                        "reported_by": "REPORTER_RESEARCHER"})
            if retract == "phase2-followup" and followup_ids:
                w2.retract(ts(dt.date(2026, 1, 5)), followup_ids[0])
            phase2.extend(w2.lines)

    def stopped_case(kind: str, i: int, year: int, dom_index: int, reason: str) -> None:
        w = new_case(kind)
        domain = DOMAINS[dom_index % len(DOMAINS)]
        ref_day = dt.date(year, 2 + i % 10, 1 + i % 27)
        measures = ["PROTECTION_MEASURE_VOOGDIJ"] if domain == "DOMAIN_YOUTH_PROTECTION" else []
        referral(w, ref_day, domain, FRAMEWORKS[i % 4], MUNICIPALITIES[i % 4], measures, ["cp"])
        if i % 3 != 0:
            w.add(ts(ref_day + dt.timedelta(days=4)), "coordinator_assigned", {"coordinator_id": "c9"})
        w.add(ts(ref_day + dt.timedelta(days=10)), "preparation_stopped", {"reason": reason})
        if i % 4 == 0:
            # A second stop: only the first one's reason counts.
            w.add(ts(ref_day + dt.timedelta(days=12)), "preparation_stopped",
                  {"reason": "PREPARATION_STOP_REASON_OTHER"})
        w.add(ts(ref_day + dt.timedelta(days=15)), "cost_recorded",
              {"kind": "COST_KIND_COORDINATOR_HOURS", "amount_cents": "50000", "currency": "EUR"})
        if i % 2 == 0:
            w.add(ts(ref_day + dt.timedelta(days=30)), "case_closed", {"end_reason": "END_REASON_CLIENT_ENDED"})
        phase1.extend(w.lines)

    def followups_for(pattern: int, i: int) -> list[tuple[int, int]]:
        """Follow-up days and active supporters: edge days, ties, lapses."""
        a = EDGE_DAYS[(i * 5 + pattern) % len(EDGE_DAYS)]
        b = EDGE_DAYS[(i * 7 + pattern * 3 + 11) % len(EDGE_DAYS)]
        c = EDGE_DAYS[(i * 3 + pattern * 2 + 19) % len(EDGE_DAYS)]
        days = sorted({a, b, c})
        active_cycle = [5, 4, 3, 5, 2, 4, 5, 1, 0, 4]
        return [(d, active_cycle[(i + k + pattern) % len(active_cycle)]) for k, d in enumerate(days)]

    # The bulk: enough copies that most cells reach k.
    for i in range(240):
        year = 2022 + i % 3
        full_case("A", i, year=year, month=1 + (i * 5) % 12, dom_index=i % 6,
                  followups=followups_for(i % 4, i), network_owners=(i % 7 != 3),
                  extra_conference=(i % 11 == 5), closed=(i % 9 == 2), invite_central=(i % 8 == 1),
                  recorded_costs=["", "conference", "other", ""][i % 4],
                  same_day_pair=(i % 13 == 6), followup_before_conference=(i % 17 == 8))
    # Ties in Kaplan-Meier times: the same lapse day and censoring day.
    for i in range(24):
        full_case("T", i, year=2023, month=3, dom_index=(i % 2) * 2,
                  followups=[(183, 5), (365, 5 if i % 3 else 2), (731, 3 if i % 2 else 5)],
                  recorded_costs="conference" if i % 5 == 0 else "")
    # Referred in December, conferences in January of the next year.
    for i in range(14):
        full_case("D", i, year=2022 + i % 2, month=12, dom_index=1 + i % 2, december=True,
                  followups=[(182, 5), (366, 4), (700, 4), (701, 3)])
    # Zero non-professional attendees (size 0, no support network).
    for i in range(12):
        full_case("Z", i, year=2023, month=5, dom_index=3, zero_network=True, followups=[(200, 0)])
    # Two conferences in one case.
    for i in range(12):
        full_case("W", i, year=2024, month=2, dom_index=4, extra_conference=True, network_owners=(i % 2 == 0),
                  followups=[(90, 5), (275, 4), (456, 3)])
    # A second conference recorded later but dated before the first.
    for i in range(6):
        full_case("B", i, year=2023, month=8, dom_index=i % 3, extra_conference=True, backdated_second=True,
                  followups=[(180, 5), (365, 3)])
    # Retractions.
    for kind, n in (("invitation", 8), ("outcome", 8), ("followup", 8), ("conference", 6), ("coordinator", 6)):
        for i in range(n):
            full_case("R" + kind[:3].upper(), i, year=2023, month=6, dom_index=i % 3,
                      followups=followups_for(1, i + 3), retract=kind)
    # Erasure before a follow-up: phase 1 has follow-ups without a lapse;
    # the case is erased; phase 2 records lapses after it (some back-dated
    # to before the erasure), which must be ignored.
    for i in range(12):
        full_case("E", i, year=2023, month=4, dom_index=i % 2, followups=[(182, 5), (365, 5)],
                  phase2_followups=[(400 + i, 1, 10), (200, 0, 6)], erase_it=True)
    # Not erased, with phase-2 follow-ups that count (and one retraction in phase 2).
    for i in range(12):
        full_case("P", i, year=2023, month=4, dom_index=i % 2, followups=[(182, 5), (365, 5)],
                  phase2_followups=[(640 + i, 2, 10), (731, 3, 22)], retract="phase2-followup" if i % 3 == 0 else "")
    # A plan rejected, then a new plan accepted.
    for i in range(10):
        full_case("J", i, year=2024, month=3, dom_index=5, rejected_first=True, followups=[(183, 4), (366, 4)])
    # Small cells: a municipality/domain with very few cases.
    for i in range(2):
        full_case("S", i, year=2024, month=9, dom_index=0, followups=[(183, 1)])
    # Preparation stopped (no conference).
    reasons = ["PREPARATION_STOP_REASON_FAMILY_DECLINED", "PREPARATION_STOP_REASON_NO_NETWORK_REACHED",
               "PREPARATION_STOP_REASON_SITUATION_RESOLVED", "PREPARATION_STOP_REASON_REFERRER_WITHDREW"]
    for i in range(60):
        stopped_case("X", i, 2022 + i % 3, i % 6, reasons[(i // 3) % 4] if i < 57 else "PREPARATION_STOP_REASON_OTHER")
    # Referral only; and a referral that is retracted (the case counts nowhere).
    for i in range(20):
        w = new_case("N")
        referral(w, dt.date(2024, 1 + i % 12, 3), DOMAINS[i % 6], FRAMEWORKS[i % 4], MUNICIPALITIES[i % 4],
                 [], [])
        phase1.extend(w.lines)
    for i in range(3):
        w = new_case("V")
        ev = referral(w, dt.date(2023, 7, 7), DOMAINS[0], FRAMEWORKS[0], MUNICIPALITIES[0], [], ["cp"])
        w.retract(ts(dt.date(2023, 7, 8)), ev, "wrong case")
        phase1.extend(w.lines)
    # A municipality of its own (GM0200): eleven cases, ten lapsing on day 183
    # and one censored at 365, with ids chosen so that under the test's secret
    # the perturbed events of day 183 exceed its perturbed at-risk (clamped).
    serial += clamp_offset(secret, serial + 1)
    for i in range(11):
        full_case("K", i, year=2024, month=4, dom_index=1, municipality="GM0200",
                  followups=[(183, 1)] if i < 10 else [(183, 5), (365, 5)])
    return phase1, phase2, erase


def write(out_dir: Path, secret: bytes | None = None) -> tuple[Path, Path, list[str]]:
    phase1, phase2, erase = build(secret)
    out_dir.mkdir(parents=True, exist_ok=True)
    p1 = out_dir / "phase1.ndjson"
    p2 = out_dir / "phase2.ndjson"
    header = "# SYNTHETIC edge cohort for the research oracle (tests/oracle/cohort.py)\n"
    p1.write_text(header + "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in phase1))
    p2.write_text(header + "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in phase2))
    (out_dir / "erase.txt").write_text("".join(c + "\n" for c in erase))
    return p1, p2, erase


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    a, b, e = write(out)
    print(f"wrote {a} ({sum(1 for _ in open(a)) - 1} events), {b} ({sum(1 for _ in open(b)) - 1} events), "
          f"{len(e)} cases to erase")
