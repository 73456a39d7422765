// CaseSimulation: the life of one synthetic case, phase by phase, as events
// of the kring.v1 catalog. Internal to synth/; CohortGenerator is the API.
//
// Lifecycle: construct with the case's own random generator and referral
// day, Run() once, then Finish() once. Run() draws the whole life of the case
// without looking at the cut-off, so that a later cut-off only ever adds
// events at the end (the random draws, and so every earlier event, stay the
// same). Not thread-safe; one simulation per case.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kring/v1/events.pb.h"
#include "synth/random.h"

namespace kring::synth {

// Seconds in a day; times are Unix seconds, days are days since 1970-01-01.
inline constexpr int64_t kSecondsPerDay = 86400;

// Events gathered with their occurred_at, put in stream order at the end.
class Timeline {
 public:
  explicit Timeline(Rng* rng) : rng_(rng) { events_.reserve(64); }

  // Adds `event` at `at` (Unix seconds) with a fresh random event id, and
  // returns that id (for causation ids of later events).
  std::string Add(int64_t at, v1::Event event);

  // The latest time added so far (0 when empty).
  int64_t last() const { return last_; }

  // The event added with `event_id` and its time, or nullptr.
  v1::Event* Find(const std::string& event_id, int64_t* at);

  // Orders the events by time (stable: equal times keep the order in which
  // they were added), sets occurred_at, and moves every event at or before
  // `cutoff` into `out`. Prerequisites always lie earlier in time than what
  // depends on them, so dropping a suffix keeps the stream valid.
  void Finish(int64_t cutoff, std::vector<v1::Event>* out);

 private:
  struct Timed {
    int64_t at;
    v1::Event event;
  };
  Rng* rng_;
  std::vector<Timed> events_;
  int64_t last_ = 0;
};

class CaseSimulation {
 public:
  // `year` is the calendar year of `referral_day` (it sets the mean network
  // size of the case). `correction_share` is CohortOptions::correction_share.
  CaseSimulation(std::string case_id, Rng rng, int year, int64_t referral_day, double correction_share = 0.0);

  // Draws the whole lifecycle of the case.
  void Run();

  // Moves the events at or before `cutoff` (Unix seconds) into `out`.
  void Finish(int64_t cutoff, std::vector<v1::Event>* out) { timeline_.Finish(cutoff, out); }

 private:
  struct Participant {
    std::string id;
    v1::Relation relation = v1::RELATION_UNSPECIFIED;
    bool central = false;
    v1::InvitationResponse response = v1::INVITATION_RESPONSE_UNSPECIFIED;
    bool attends() const { return response == v1::INVITATION_RESPONSE_ACCEPTED; }
    bool professional() const { return relation == v1::RELATION_PROFESSIONAL; }
  };

  // Phases, in the order of the conference process.
  void Refer();
  void AssignCoordinator();
  bool Prepare();  // false when preparation stopped: no conference
  void HoldConference();
  bool MakePlan();  // false when the conference made no plan
  void FollowUp();
  void RecordOutcomes();
  void RecordCosts(bool held);
  void Close(bool held, bool planned);
  void CorrectCost();  // after everything else: draws nothing earlier phases use

  // Helpers.
  void DrawParticipants();
  void AddOutcome(int64_t at, v1::OutcomeType outcome, uint32_t children);
  v1::PlanExecution DrawPlanExecution();
  std::string ParticipantId(int number) const;
  // A time on `day` between 08:00 and 18:00 UTC.
  int64_t DaytimeOn(int64_t day);
  int64_t Between(int64_t lo, int64_t hi) { return rng_.UniformInt(lo, hi); }

  Rng rng_;
  Timeline timeline_{&rng_};
  std::string case_id_;
  int year_;
  int64_t referral_day_;
  double correction_share_;

  // What the referral said.
  v1::Domain domain_ = v1::DOMAIN_UNSPECIFIED;
  bool plan_right_offered_ = false;
  std::string other_language_;  // a preferred language besides Dutch, or ""
  std::vector<std::string> languages_;
  int network_size_ = 0;  // non-professional attendees if a conference is held
  int central_count_ = 0;

  // What happened since.
  int64_t assigned_day_ = 0;
  bool coordinator_speaks_language_ = true;
  std::vector<Participant> participants_;  // central persons first
  int64_t stopped_at_ = 0;
  v1::PreparationStopReason stop_reason_ = v1::PREPARATION_STOP_REASON_UNSPECIFIED;
  int64_t conference_day_ = 0;
  int64_t conference_at_ = 0;
  bool interpreter_used_ = false;
  std::string plan_event_id_;
  bool plan_accepted_ = false;
  std::vector<std::string> support_network_;  // DESIGN section 4 definition
  std::string first_cost_id_;                 // the event CorrectCost() may get wrong
};

}  // namespace kring::synth
