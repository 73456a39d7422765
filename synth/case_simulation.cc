#include "synth/case_simulation.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "synth/calibration.h"

namespace kring::synth {
namespace {

namespace cal = calibration;

constexpr int64_t kHour = 3600;

int64_t DayOf(int64_t t) { return t / kSecondsPerDay; }  // times here are after 1989

// Coordinator k of the pool (1-based) speaks Dutch, most also one other
// language and some a third: a fixed property of the synthetic pool.
std::vector<std::string> CoordinatorLanguages(int64_t k) {
  constexpr size_t n = std::size(cal::kOtherLanguages);
  std::vector<std::string> languages = {"nl"};
  if (k % 5 != 0) languages.emplace_back(cal::kOtherLanguages[(k * 7) % n].value);
  if (k % 9 == 0) {
    std::string third = cal::kOtherLanguages[(k * 5 + 3) % n].value;
    if (std::find(languages.begin(), languages.end(), third) == languages.end()) languages.push_back(third);
  }
  return languages;
}

bool Speaks(const std::vector<std::string>& languages, const std::string& language) {
  return std::find(languages.begin(), languages.end(), language) != languages.end();
}

v1::EndReason EndReasonAfterStop(v1::PreparationStopReason reason) {
  switch (reason) {
    case v1::PREPARATION_STOP_REASON_FAMILY_DECLINED:
      return v1::END_REASON_CLIENT_ENDED;
    case v1::PREPARATION_STOP_REASON_NO_NETWORK_REACHED:
      return v1::END_REASON_PROVIDER_ENDED;
    case v1::PREPARATION_STOP_REASON_SITUATION_RESOLVED:
      return v1::END_REASON_MUTUAL_AGREEMENT;
    case v1::PREPARATION_STOP_REASON_SITUATION_ESCALATED:
      return v1::END_REASON_REFERRED_ELSEWHERE;
    default:
      return v1::END_REASON_OTHER;
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Timeline

std::string Timeline::Add(int64_t at, v1::Event event) {
  event.set_event_id(rng_->Uuid());
  std::string id = event.event_id();
  events_.push_back(Timed{at, std::move(event)});
  last_ = std::max(last_, at);
  return id;
}

v1::Event* Timeline::Find(const std::string& event_id, int64_t* at) {
  for (Timed& t : events_) {
    if (t.event.event_id() == event_id) {
      *at = t.at;
      return &t.event;
    }
  }
  return nullptr;
}

void Timeline::Finish(int64_t cutoff, std::vector<v1::Event>* out) {
  // Sort (time, insertion index) pairs rather than the events themselves:
  // the index breaks ties in insertion order, and each event moves once.
  std::vector<std::pair<int64_t, size_t>> order;
  order.reserve(events_.size());
  for (size_t i = 0; i < events_.size(); ++i) order.emplace_back(events_[i].at, i);
  std::sort(order.begin(), order.end());
  out->clear();
  out->reserve(order.size());
  for (const auto& [at, i] : order) {
    if (at > cutoff) break;
    v1::Event& event = events_[i].event;
    event.mutable_occurred_at()->set_seconds(at);
    out->push_back(std::move(event));
  }
  events_.clear();
}

// ---------------------------------------------------------------------------
// CaseSimulation

CaseSimulation::CaseSimulation(std::string case_id, Rng rng, int year, int64_t referral_day, double correction_share)
    : rng_(std::move(rng)),
      case_id_(std::move(case_id)),
      year_(year),
      referral_day_(referral_day),
      correction_share_(correction_share) {}

void CaseSimulation::Run() {
  Refer();
  AssignCoordinator();
  const bool held = Prepare();
  bool planned = false;
  if (held) {
    HoldConference();
    planned = MakePlan();
    if (planned) FollowUp();
    RecordOutcomes();
  }
  RecordCosts(held);
  Close(held, planned);
  // Last, so that its draws change nothing drawn before: with or without
  // corrections, every other event of the case is the same, byte for byte.
  if (correction_share_ > 0 && rng_.Bernoulli(correction_share_)) CorrectCost();
}

int64_t CaseSimulation::DaytimeOn(int64_t day) { return day * kSecondsPerDay + 8 * kHour + Between(0, 10 * kHour - 1); }

std::string CaseSimulation::ParticipantId(int number) const {
  return absl::StrCat(case_id_, "-P", absl::Dec(number, absl::kZeroPad2));
}

// Referral: domain, legal framework, measures, referrer, municipality,
// languages and the central persons; sometimes the right to a plan is offered.
void CaseSimulation::Refer() {
  domain_ = cal::kDomains[rng_.Weighted(cal::kDomains)].value;
  // The size of the circle that would gather is a property of the case, drawn
  // up front (it shapes the invitations even if preparation stops).
  network_size_ = 1 + rng_.NegativeBinomial(cal::kNetworkSizeDispersion, cal::MeanNetworkSize(year_) - 1.0);
  central_count_ = std::min(static_cast<int>(rng_.Weighted(cal::kCentralPersons)), network_size_);

  v1::Event event;
  v1::CaseReferred* referral = event.mutable_case_referred();
  referral->set_domain(domain_);
  const v1::LegalFramework framework = cal::DrawLegalFramework(domain_, rng_);
  referral->set_legal_framework(framework);
  cal::DrawThreatenedMeasures(domain_, rng_, referral);
  referral->set_referrer_kind(cal::DrawReferrer(domain_, rng_));
  referral->set_municipality_code(cal::kMunicipalities[rng_.Weighted(cal::kMunicipalities)].value);

  const int64_t u = Between(0, 999);
  if (u >= cal::kOnlyDutchPerMille) {
    other_language_ = cal::kOtherLanguages[rng_.Weighted(cal::kOtherLanguages)].value;
  }
  if (u < cal::kOnlyDutchPerMille + cal::kDutchAndOtherPerMille) languages_.emplace_back("nl");
  if (!other_language_.empty()) languages_.push_back(other_language_);
  for (const std::string& language : languages_) referral->add_preferred_languages(language);
  for (int i = 1; i <= central_count_; ++i) referral->add_central_person_ids(ParticipantId(i));

  const bool measures_threatened = referral->threatened_measures_size() > 0;
  const int64_t referred_at = DaytimeOn(referral_day_);
  timeline_.Add(referred_at, std::move(event));

  if (framework != v1::LEGAL_FRAMEWORK_NONE) {
    plan_right_offered_ =
        rng_.Bernoulli(measures_threatened ? cal::kPlanRightOfferedProtection : cal::kPlanRightOffered);
  }
  if (plan_right_offered_) {
    v1::Event offer;
    offer.mutable_plan_right_offered()->set_legal_framework(framework);
    timeline_.Add(DaytimeOn(referral_day_ + Between(1, 2)), std::move(offer));
  }
}

// A coordinator from the pool, matched on language where the family asked.
void CaseSimulation::AssignCoordinator() {
  int64_t k = Between(1, cal::kCoordinatorPool);
  if (!other_language_.empty() && rng_.Bernoulli(cal::kLanguageMatched)) {
    for (int step = 0; step < cal::kCoordinatorPool; ++step) {
      const int64_t candidate = (k - 1 + step) % cal::kCoordinatorPool + 1;
      if (Speaks(CoordinatorLanguages(candidate), other_language_)) {
        k = candidate;
        break;
      }
    }
  }
  const std::vector<std::string> languages = CoordinatorLanguages(k);
  coordinator_speaks_language_ = other_language_.empty() || Speaks(languages, other_language_);

  v1::Event event;
  v1::CoordinatorAssigned* assigned = event.mutable_coordinator_assigned();
  assigned->set_coordinator_id(absl::StrCat("SYNTH-C-", absl::Dec(k, absl::kZeroPad4)));
  for (const std::string& language : languages) assigned->add_languages(language);
  assigned->set_language_preference_met(coordinator_speaks_language_);
  assigned->set_background_preference_met(rng_.Bernoulli(cal::kBackgroundMatched));
  assigned_day_ = referral_day_ + Between(3, 21);
  timeline_.Add(DaytimeOn(assigned_day_), std::move(event));
}

// Who is asked: central persons, network members who will come (so that the
// non-professional attendees number exactly network_size_), network members
// who will not, and professionals. Ids are given after shuffling, so an id
// says nothing about the role.
void CaseSimulation::DrawParticipants() {
  for (int i = 1; i <= central_count_; ++i) {
    participants_.push_back({ParticipantId(i), v1::RELATION_FAMILY, true, v1::INVITATION_RESPONSE_ACCEPTED});
  }
  std::vector<Participant> others;
  const int coming = network_size_ - central_count_;
  for (int i = 0; i < coming; ++i) {
    others.push_back({"", cal::kNetworkRelations[rng_.Weighted(cal::kNetworkRelations)].value, false,
                      v1::INVITATION_RESPONSE_ACCEPTED});
  }
  const int absent = rng_.Poisson(cal::kAbsentInviteesBase + cal::kAbsentInviteesPerAttendee * coming);
  for (int i = 0; i < absent; ++i) {
    const v1::Relation relation = cal::kNetworkRelations[rng_.Weighted(cal::kNetworkRelations)].value;
    others.push_back({"", relation, false,
                      rng_.Bernoulli(cal::kAbsentDeclined) ? v1::INVITATION_RESPONSE_DECLINED
                                                           : v1::INVITATION_RESPONSE_NO_RESPONSE});
  }
  const size_t professionals = rng_.Weighted(cal::kProfessionals);
  for (size_t i = 0; i < professionals; ++i) {
    others.push_back({"", v1::RELATION_PROFESSIONAL, false,
                      rng_.Bernoulli(cal::kProfessionalAttends) ? v1::INVITATION_RESPONSE_ACCEPTED
                                                                : v1::INVITATION_RESPONSE_DECLINED});
  }
  for (size_t i = others.size(); i > 1; --i) {  // Fisher-Yates
    std::swap(others[i - 1], others[Between(0, static_cast<int64_t>(i) - 1)]);
  }
  for (Participant& p : others) {
    p.id = ParticipantId(static_cast<int>(participants_.size()) + 1);
    participants_.push_back(std::move(p));
  }
}

// Preparation: invitations and responses over four to ten weeks; about one
// case in five stops before a conference.
bool CaseSimulation::Prepare() {
  DrawParticipants();
  const bool stops = rng_.Bernoulli(cal::StopProbability(domain_));
  const int64_t preparation_days = Between(28, 70);
  conference_day_ = assigned_day_ + preparation_days;
  stopped_at_ = stops ? DaytimeOn(assigned_day_ + Between(3, preparation_days - 3)) : INT64_MAX;

  for (const Participant& p : participants_) {
    const int64_t invited_day =
        p.central ? assigned_day_ + Between(1, 5) : assigned_day_ + Between(2, preparation_days - 7);
    int64_t responded_day =
        p.central ? invited_day + Between(1, 3) : std::min(invited_day + Between(1, 10), conference_day_ - 2);
    if (p.response == v1::INVITATION_RESPONSE_NO_RESPONSE) responded_day = conference_day_ - 2;
    const int64_t invited_at = DaytimeOn(invited_day);
    const int64_t responded_at = DaytimeOn(responded_day);
    if (invited_at >= stopped_at_) continue;

    v1::Event invite;
    v1::ParticipantInvited* invited = invite.mutable_participant_invited();
    invited->set_participant_id(p.id);
    invited->set_relation(p.relation);
    invited->set_central_person(p.central);
    const std::string invite_id = timeline_.Add(invited_at, std::move(invite));
    if (responded_at >= stopped_at_) continue;

    v1::Event response;
    response.set_causation_id(invite_id);
    response.mutable_participant_responded()->set_participant_id(p.id);
    response.mutable_participant_responded()->set_response(p.response);
    timeline_.Add(responded_at, std::move(response));
  }
  if (!stops) return true;

  stop_reason_ = cal::kStopReasons[rng_.Weighted(cal::kStopReasons)].value;
  if (stop_reason_ == v1::PREPARATION_STOP_REASON_FAMILY_DECLINED && plan_right_offered_) {
    v1::Event declined;
    declined.mutable_plan_right_declined()->set_reason_code("family_declined");
    timeline_.Add(stopped_at_, std::move(declined));
  }
  v1::Event stopped;
  stopped.mutable_preparation_stopped()->set_reason(stop_reason_);
  timeline_.Add(stopped_at_, std::move(stopped));
  return false;
}

// The conference: central persons, every network member who accepted and
// the professionals who accepted (never the coordinator).
void CaseSimulation::HoldConference() {
  conference_at_ = DaytimeOn(conference_day_);
  interpreter_used_ = !other_language_.empty() && rng_.Bernoulli(coordinator_speaks_language_ ? 0.10 : 0.70);

  v1::Event event;
  v1::ConferenceHeld* held = event.mutable_conference_held();
  for (const Participant& p : participants_) {
    if (p.attends()) held->add_attendee_ids(p.id);
  }
  held->set_private_family_time_held(rng_.Bernoulli(cal::kPrivateFamilyTime));
  held->set_interpreter_used(interpreter_used_);
  if (!Speaks(languages_, "nl")) held->add_languages("nl");
  for (const std::string& language : languages_) held->add_languages(language);
  timeline_.Add(conference_at_, std::move(event));
}

// The plan, made at the end of the conference, the referrer's decision, and
// progress on its actions.
bool CaseSimulation::MakePlan() {
  if (!rng_.Bernoulli(cal::kPlanAdopted)) return false;

  // Actions go to network members who came (or, if only the central persons
  // came, to them) or to an invited professional.
  std::vector<const Participant*> network;
  std::vector<const Participant*> professionals;
  for (const Participant& p : participants_) {
    if (p.professional()) {
      professionals.push_back(&p);
    } else if (p.attends() && !p.central) {
      network.push_back(&p);
    }
  }
  if (network.empty()) {
    for (const Participant& p : participants_) {
      if (p.central) network.push_back(&p);
    }
  }

  v1::Event event;
  v1::PlanAdopted* plan = event.mutable_plan_adopted();
  const int64_t actions = Between(cal::kMinActions, cal::kMaxActions);
  std::vector<std::string> owners;
  std::vector<std::string> action_ids;
  for (int64_t i = 1; i <= actions; ++i) {
    v1::PlanAction* action = plan->add_actions();
    action_ids.push_back(absl::StrCat(case_id_, "-A", i));
    action->set_action_id(action_ids.back());
    const bool by_network = professionals.empty() || rng_.Bernoulli(cal::kNetworkOwnedAction);
    const auto& pool = by_network ? network : professionals;
    const Participant* owner = pool[Between(0, static_cast<int64_t>(pool.size()) - 1)];
    action->set_owner_id(owner->id);
    action->set_owner_kind(by_network ? v1::ACTION_OWNER_KIND_NETWORK : v1::ACTION_OWNER_KIND_PROFESSIONAL);
    action->set_category_code(cal::kActionCategories[Between(0, std::size(cal::kActionCategories) - 1)]);
    if (by_network) owners.push_back(owner->id);
  }

  // Support network (DESIGN section 4): non-professional action owners, or
  // every non-professional attendee if the plan names none.
  for (const Participant& p : participants_) {
    const bool owns = std::find(owners.begin(), owners.end(), p.id) != owners.end();
    if (owners.empty() ? (p.attends() && !p.professional()) : owns) support_network_.push_back(p.id);
  }

  const int64_t adopted_at = conference_at_ + Between(1 * kHour, 4 * kHour);
  plan_event_id_ = timeline_.Add(adopted_at, std::move(event));

  plan_accepted_ = rng_.Bernoulli(cal::kPlanAccepted);
  v1::Event decision;
  decision.set_causation_id(plan_event_id_);
  decision.mutable_plan_decided()->set_decision(plan_accepted_ ? v1::PLAN_DECISION_ACCEPTED
                                                               : v1::PLAN_DECISION_REJECTED);
  decision.mutable_plan_decided()->set_reason_code(
      plan_accepted_ ? "safety_and_feasibility_met"
                     : (rng_.Bernoulli(0.6) ? "safety_not_assured" : "plan_not_feasible"));
  timeline_.Add(DaytimeOn(conference_day_ + Between(1, 21)), std::move(decision));

  for (const std::string& action_id : action_ids) {
    if (!rng_.Bernoulli(0.6)) continue;
    const int64_t started_day = conference_day_ + Between(7, 60);
    v1::Event started;
    started.set_causation_id(plan_event_id_);
    started.mutable_plan_action_status_changed()->set_action_id(action_id);
    started.mutable_plan_action_status_changed()->set_status(v1::ACTION_STATUS_IN_PROGRESS);
    timeline_.Add(DaytimeOn(started_day), std::move(started));

    const double u = rng_.Uniform01();
    if (u >= 0.77) continue;  // still in progress
    v1::Event ended;
    ended.set_causation_id(plan_event_id_);
    ended.mutable_plan_action_status_changed()->set_action_id(action_id);
    ended.mutable_plan_action_status_changed()->set_status(u < 0.65 ? v1::ACTION_STATUS_DONE
                                                                    : v1::ACTION_STATUS_ABANDONED);
    timeline_.Add(DaytimeOn(started_day + Between(30, 300)), std::move(ended));
  }
  return true;
}

v1::PlanExecution CaseSimulation::DrawPlanExecution() {
  static constexpr cal::Choice<v1::PlanExecution> kAccepted[] = {{v1::PLAN_EXECUTION_FULLY, 30},
                                                                 {v1::PLAN_EXECUTION_MOSTLY, 35},
                                                                 {v1::PLAN_EXECUTION_PARTLY, 25},
                                                                 {v1::PLAN_EXECUTION_NOT_EXECUTED, 10}};
  static constexpr cal::Choice<v1::PlanExecution> kRejected[] = {{v1::PLAN_EXECUTION_FULLY, 10},
                                                                 {v1::PLAN_EXECUTION_MOSTLY, 20},
                                                                 {v1::PLAN_EXECUTION_PARTLY, 40},
                                                                 {v1::PLAN_EXECUTION_NOT_EXECUTED, 30}};
  return plan_accepted_ ? kAccepted[rng_.Weighted(kAccepted)].value : kRejected[rng_.Weighted(kRejected)].value;
}

// Follow-ups at about 6, 12 and 24 months: who of the support network still
// actively supports; sometimes a review conference.
void CaseSimulation::FollowUp() {
  static constexpr cal::Choice<v1::Reporter> kReporters[] = {{v1::REPORTER_COORDINATOR, 40},
                                                             {v1::REPORTER_CENTRAL_PERSON, 20},
                                                             {v1::REPORTER_NETWORK_MEMBER, 15},
                                                             {v1::REPORTER_REFERRER, 15},
                                                             {v1::REPORTER_RESEARCHER, 10}};
  std::vector<bool> active(support_network_.size(), true);
  for (size_t round = 0; round < std::size(cal::kFollowUpMonths); ++round) {
    for (size_t i = 0; i < active.size(); ++i) {
      if (active[i]) active[i] = rng_.Bernoulli(cal::kSupporterStays[round]);
    }
    const bool recorded = rng_.Bernoulli(cal::kFollowUpRecorded);
    const int64_t day = conference_day_ + cal::kFollowUpMonths[round] * 365 / 12 + Between(-14, 14);
    const v1::PlanExecution execution = DrawPlanExecution();
    const bool good = execution == v1::PLAN_EXECUTION_FULLY || execution == v1::PLAN_EXECUTION_MOSTLY;
    v1::Event event;
    v1::FollowUpRecorded* follow_up = event.mutable_follow_up_recorded();
    for (size_t i = 0; i < active.size(); ++i) {
      if (active[i]) follow_up->add_active_supporter_ids(support_network_[i]);
    }
    follow_up->set_plan_execution(execution);
    follow_up->set_problems_resolved(rng_.Bernoulli(good ? 0.70 : 0.30));
    follow_up->set_escalation_prevented(rng_.Bernoulli(good ? 0.85 : 0.55));
    follow_up->set_reported_by(kReporters[rng_.Weighted(kReporters)].value);
    const int64_t at = DaytimeOn(day);
    if (recorded) timeline_.Add(at, std::move(event));

    if (round == 0 && rng_.Bernoulli(cal::kReviewConference)) {
      v1::Event review;
      v1::ReviewConferenceHeld* held = review.mutable_review_conference_held();
      for (const Participant& p : participants_) {
        const auto it = std::find(support_network_.begin(), support_network_.end(), p.id);
        const bool active_supporter = it != support_network_.end() && active[it - support_network_.begin()];
        if (p.central || active_supporter || (p.professional() && p.attends())) held->add_attendee_ids(p.id);
      }
      held->set_plan_adjusted(rng_.Bernoulli(0.5));
      timeline_.Add(DaytimeOn(conference_day_ + Between(90, 270)), std::move(review));
    }
  }
}

void CaseSimulation::AddOutcome(int64_t at, v1::OutcomeType outcome, uint32_t children) {
  v1::Event event;
  event.mutable_outcome_recorded()->set_outcome(outcome);
  event.mutable_outcome_recorded()->set_children_affected(children);
  timeline_.Add(at, std::move(event));
}

// Outcomes per held conference, in the seed's proportions (calibration.h).
void CaseSimulation::RecordOutcomes() {
  const int64_t at = DaytimeOn(conference_day_ + Between(180, 420));
  const auto children = static_cast<uint32_t>(central_count_);
  switch (domain_) {
    case v1::DOMAIN_YOUTH_PROTECTION: {
      if (rng_.Bernoulli(cal::kOtsPreventedOrLifted)) {
        AddOutcome(at,
                   rng_.Bernoulli(cal::kOtsLiftedShare) ? v1::OUTCOME_TYPE_OTS_LIFTED : v1::OUTCOME_TYPE_OTS_PREVENTED,
                   children);
      }
      double u = rng_.Uniform01();
      if (u < cal::kPlacementPrevented) {
        AddOutcome(at, v1::OUTCOME_TYPE_PLACEMENT_PREVENTED, children);
      } else if ((u -= cal::kPlacementPrevented) < cal::kPlacementEnded) {
        AddOutcome(at, v1::OUTCOME_TYPE_PLACEMENT_ENDED, children);
      } else if ((u -= cal::kPlacementEnded) < cal::kPlacedWithKin) {
        AddOutcome(at, v1::OUTCOME_TYPE_PLACED_WITH_KIN, children);
      } else if ((u -= cal::kPlacedWithKin) < cal::kPlacedOutsideNetwork) {
        AddOutcome(at, v1::OUTCOME_TYPE_PLACED_OUTSIDE_NETWORK, children);
      }
      break;
    }
    case v1::DOMAIN_HOUSING:
      if (rng_.Bernoulli(cal::kEvictionPrevented)) {
        AddOutcome(DaytimeOn(conference_day_ + Between(30, 120)), v1::OUTCOME_TYPE_EVICTION_PREVENTED, 0);
        if (rng_.Bernoulli(cal::kRentPaidOnTime)) {
          AddOutcome(DaytimeOn(conference_day_ + Between(365, 400)), v1::OUTCOME_TYPE_RENT_PAID_ON_TIME_12M, 0);
        }
      }
      break;
    case v1::DOMAIN_DIVORCE:
      if (rng_.Bernoulli(cal::kParentingArrangement)) {
        AddOutcome(at, v1::OUTCOME_TYPE_PARENTING_ARRANGEMENT_REACHED, 0);
      }
      break;
    case v1::DOMAIN_MENTAL_HEALTH:
      if (rng_.Bernoulli(cal::kHouseholdTakenOver)) {
        AddOutcome(at, v1::OUTCOME_TYPE_HOUSEHOLD_TAKEN_OVER_BY_NETWORK, 0);
      }
      break;
    case v1::DOMAIN_MULTI_PROBLEM:
      if (rng_.Bernoulli(cal::kProfessionalHelpReduced)) {
        AddOutcome(at, v1::OUTCOME_TYPE_PROFESSIONAL_HELP_REDUCED, 0);
      }
      break;
    default:
      if (rng_.Bernoulli(cal::kProfessionalHelpReducedOther)) {
        AddOutcome(at, v1::OUTCOME_TYPE_PROFESSIONAL_HELP_REDUCED, 0);
      }
      break;
  }
  if (rng_.Bernoulli(cal::kReReferral)) {
    AddOutcome(DaytimeOn(conference_day_ + Between(365, 730)), v1::OUTCOME_TYPE_RE_REFERRAL, 0);
  }
}

// What the case cost: about EUR 4,000 for a conference (plus an interpreter),
// coordinator hours for a case stopped in preparation.
void CaseSimulation::RecordCosts(bool held) {
  // Each draw is its own statement: the order in which function arguments
  // are evaluated is unspecified, and the order of draws must not vary.
  auto add_cost = [this](int64_t earliest_day, int64_t latest_day, v1::CostKind kind, int64_t min_eur,
                         int64_t max_eur) {
    const int64_t at = DaytimeOn(Between(earliest_day, latest_day));
    const int64_t euros = Between(min_eur, max_eur);
    v1::Event event;
    event.mutable_cost_recorded()->set_kind(kind);
    event.mutable_cost_recorded()->set_amount_cents(euros * 100);
    event.mutable_cost_recorded()->set_currency("EUR");
    std::string id = timeline_.Add(at, std::move(event));
    if (first_cost_id_.empty()) first_cost_id_ = std::move(id);
  };
  if (!held) {
    const int64_t stopped_day = DayOf(stopped_at_);
    add_cost(stopped_day + 3, stopped_day + 30, v1::COST_KIND_COORDINATOR_HOURS, cal::kStoppedCostMinEur,
             cal::kStoppedCostMaxEur);
    return;
  }
  add_cost(conference_day_ + 7, conference_day_ + 45, v1::COST_KIND_CONFERENCE, cal::kConferenceCostMinEur,
           cal::kConferenceCostMaxEur);
  if (interpreter_used_) {
    add_cost(conference_day_ + 7, conference_day_ + 45, v1::COST_KIND_INTERPRETER, cal::kInterpreterCostMinEur,
             cal::kInterpreterCostMaxEur);
  }
}

// Closure, after everything else: after the 24-month follow-up when there is
// a plan, a few weeks after the stop or the conference otherwise.
void CaseSimulation::Close(bool held, bool planned) {
  v1::EndReason reason;
  int64_t earliest_day;
  if (!held) {
    reason = EndReasonAfterStop(stop_reason_);
    earliest_day = DayOf(stopped_at_) + Between(1, 30);
  } else if (planned) {
    reason = cal::kEndReasonsAfterPlan[rng_.Weighted(cal::kEndReasonsAfterPlan)].value;
    earliest_day = conference_day_ + 730 + Between(14, 70);
  } else {
    reason = cal::kEndReasonsWithoutPlan[rng_.Weighted(cal::kEndReasonsWithoutPlan)].value;
    earliest_day = conference_day_ + Between(30, 90);
  }
  const int64_t day = std::max(earliest_day, DayOf(timeline_.last()) + Between(1, 30));
  v1::Event event;
  event.mutable_case_closed()->set_end_reason(reason);
  timeline_.Add(DaytimeOn(day), std::move(event));
}

// A cost entered with a wrong amount (a digit too many or too few) and put
// right 1-14 days later: an EventRetracted naming it, then a CostRecorded with
// the right amount. The live costs of the case stay what they were without
// the correction. The fix may fall after CaseClosed, which the write side
// allows for retractions and costs.
void CaseSimulation::CorrectCost() {
  int64_t at = 0;
  v1::Event* wrong = first_cost_id_.empty() ? nullptr : timeline_.Find(first_cost_id_, &at);
  if (wrong == nullptr) return;
  v1::Event corrected = *wrong;
  const int64_t right = wrong->cost_recorded().amount_cents();
  const bool digit_too_many = rng_.Bernoulli(0.5);
  wrong->mutable_cost_recorded()->set_amount_cents(digit_too_many ? right * 10 : right / 10);

  const int64_t fixed_at = at + Between(1, 14) * kSecondsPerDay;
  v1::Event retraction;
  retraction.set_causation_id(first_cost_id_);
  retraction.mutable_event_retracted()->set_retracted_event_id(first_cost_id_);
  retraction.mutable_event_retracted()->set_reason("amount entered wrongly; re-recorded with the right amount");
  const std::string retraction_id = timeline_.Add(fixed_at, std::move(retraction));
  corrected.set_causation_id(retraction_id);
  timeline_.Add(fixed_at, std::move(corrected));  // same time, added later: stays after the retraction
}

}  // namespace kring::synth
