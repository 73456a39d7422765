// The research read models (outcomes and cost–benefit, funnel, sustained
// support, network size) against hand-made cohorts whose figures are computed
// by hand below; live through Kafka against rebuilds from the store (with a
// worker restarted midway and redeliveries); retractions against a store that
// never held the withdrawn events; answers "as of" a position against the same
// replay after 10,000 more events; and disclosure control.
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "bus/kafka.h"
#include "bus/relay.h"
#include "eventstore/event_store.h"
#include "projections/engine.h"
#include "projections/funnel.h"
#include "projections/network_size.h"
#include "projections/outcomes.h"
#include "projections/replay.h"
#include "projections/support.h"
#include "synth/cohort.h"
#include "tests/testing/cell_key_testing.h"
#include "tests/testing/test_support.h"

namespace kring::projections {
namespace {

using absl::CivilDay;
using eventstore::EventStore;
using kring::testing::Batch;

// ---------------------------------------------------------------------------
// Hand-made cases

v1::Event On(v1::Event e, CivilDay day) {
  const absl::Time t =
      absl::FromCivil(absl::CivilSecond(day.year(), day.month(), day.day(), 12, 0, 0), absl::UTCTimeZone());
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(t));
  return e;
}

std::string DayText(CivilDay day) { return absl::FormatCivilTime(day); }

// One case's shape. Participants: "<id>-pro" (PROFESSIONAL), the network
// "<id>-p<i>" (FAMILY, every third FRIEND, p0 a central person) and the
// coordinator "<id>-coord"; all of them attend the conference.
struct CaseSpec {
  v1::Domain domain = v1::DOMAIN_YOUTH_PROTECTION;
  std::string municipality = "GM0363";
  v1::LegalFramework framework = v1::LEGAL_FRAMEWORK_JEUGDWET;
  CivilDay referred{2022, 3, 1};
  bool protection = false;  // a threatened OTS
  bool plan_right_offered = false;
  std::optional<int> coordinator_after;  // days after the referral
  std::optional<int> conference_after;   // days after the coordinator
  int network = 3;
  std::optional<int> plan_after;  // days after the conference
  // Network members p0.. owning an action; the professional always owns one.
  int owners = 0;
  std::optional<std::pair<int, v1::PlanDecision>> decision;  // days after the plan
  v1::PreparationStopReason stop = v1::PREPARATION_STOP_REASON_UNSPECIFIED;
  // (days after the conference, indexes of the network members still active)
  std::vector<std::pair<int, std::vector<int>>> follow_ups;
  std::vector<std::pair<v1::OutcomeType, uint32_t>> outcomes;  // (type, children affected)
  std::optional<int64_t> conference_cost;                      // a CostRecorded CONFERENCE
};

std::string Member(const std::string& id, int i) { return id + "-p" + std::to_string(i); }

std::vector<v1::Event> CaseEvents(const std::string& id, const CaseSpec& s) {
  std::vector<v1::Event> ev;
  v1::Event referral = testing::CaseReferredEvent(s.domain, s.municipality, static_cast<int>(s.referred.year()),
                                                  s.referred.month(), s.referred.day());
  referral.mutable_case_referred()->set_legal_framework(s.framework);
  if (s.protection) referral.mutable_case_referred()->add_threatened_measures(v1::PROTECTION_MEASURE_OTS);
  ev.push_back(referral);
  CivilDay day = s.referred;
  if (s.plan_right_offered) ev.push_back(On(testing::PlanRightOfferedEvent(s.framework), day));
  ev.push_back(On(testing::ParticipantInvitedEvent(id + "-pro", v1::RELATION_PROFESSIONAL), day));
  std::vector<std::string> attendees;
  for (int i = 0; i < s.network; ++i) {
    const v1::Relation relation = i % 3 == 2 ? v1::RELATION_FRIEND : v1::RELATION_FAMILY;
    ev.push_back(On(testing::ParticipantInvitedEvent(Member(id, i), relation, i == 0), day));
    attendees.push_back(Member(id, i));
  }
  if (s.coordinator_after) {
    day += *s.coordinator_after;
    ev.push_back(On(testing::CoordinatorAssignedEvent(id + "-coord"), day));
  }
  if (s.stop != v1::PREPARATION_STOP_REASON_UNSPECIFIED) {
    ev.push_back(On(testing::PreparationStoppedEvent(s.stop), day + 1));
  }
  if (s.conference_after) {
    day += *s.conference_after;
    const CivilDay conference = day;
    attendees.push_back(id + "-coord");
    attendees.push_back(id + "-pro");
    ev.push_back(On(testing::ConferenceHeldEvent(attendees), conference));
    if (s.plan_after) {
      const CivilDay plan = conference + *s.plan_after;
      std::vector<std::pair<std::string, v1::ActionOwnerKind>> owners;
      for (int i = 0; i < s.owners; ++i) owners.emplace_back(Member(id, i), v1::ACTION_OWNER_KIND_NETWORK);
      owners.emplace_back(id + "-pro", v1::ACTION_OWNER_KIND_PROFESSIONAL);
      ev.push_back(On(testing::PlanAdoptedEvent(owners), plan));
      if (s.decision) ev.push_back(On(testing::PlanDecidedEvent(s.decision->second), plan + s.decision->first));
      for (const auto& [after, active] : s.follow_ups) {
        std::vector<std::string> ids;
        for (int i : active) ids.push_back(Member(id, i));
        ev.push_back(On(testing::FollowUpRecordedEvent(ids), conference + after));
      }
    }
    if (s.conference_cost) ev.push_back(On(testing::CostRecordedEvent(*s.conference_cost), conference));
  }
  for (const auto& [type, children] : s.outcomes) {
    ev.push_back(On(testing::OutcomeRecordedEvent(type, children), s.referred + 300));
  }
  return ev;
}

template <typename Request>
Request WithK(Request r, uint32_t k) {
  r.mutable_disclosure()->set_min_cell_size(k);
  return r;
}

std::string Text(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::TextFormat::PrintToString(m, &out);
  return out;
}

// ---------------------------------------------------------------------------
// The four read models, and a fixed set of queries over each

struct ModelKind {
  std::string name;
  ProjectionFactory factory;
  // Text of every answer to a fixed set of queries (watermark cleared when
  // asked).
  std::function<std::vector<std::string>(const ProjectionEngine&, bool clear_watermark)> answers;
};

template <typename Response>
std::string AnswerText(absl::StatusOr<Response> r, bool clear_watermark) {
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "error: " + r.status().ToString();
  if (clear_watermark) r->clear_watermark();
  return Text(*r);
}

const std::vector<v1::Grouping>& AllGroupings() {
  static const std::vector<v1::Grouping> g = {v1::GROUPING_UNSPECIFIED,  v1::GROUPING_YEAR,
                                              v1::GROUPING_QUARTER,      v1::GROUPING_DOMAIN,
                                              v1::GROUPING_MUNICIPALITY, v1::GROUPING_LEGAL_FRAMEWORK};
  return g;
}

std::vector<ModelKind> AllModels() {
  std::vector<ModelKind> models;
  models.push_back({"network-size",
                    [] { return std::make_unique<NetworkSizeProjection>(kring::testing::TestCellKeySecret()); },
                    [](const ProjectionEngine& e, bool clear) {
                      std::vector<std::string> out;
                      for (v1::Grouping g : AllGroupings()) {
                        for (uint32_t k : {5u, 10u}) {
                          v1::NetworkSizeRequest r;
                          r.set_group_by(g);
                          out.push_back(AnswerText(QueryNetworkSize(e, WithK(r, k)), clear));
                        }
                      }
                      return out;
                    }});
  models.push_back({"outcomes",
                    [] { return std::make_unique<OutcomesProjection>(kring::testing::TestCellKeySecret()); },
                    [](const ProjectionEngine& e, bool clear) {
                      std::vector<std::string> out;
                      for (v1::Grouping g : AllGroupings()) {
                        for (uint32_t k : {5u, 10u}) {
                          v1::OutcomesRequest r;
                          r.set_group_by(g);
                          out.push_back(AnswerText(QueryOutcomes(e, WithK(r, k)), clear));
                          v1::CostBenefitRequest c;
                          c.set_group_by(g);
                          out.push_back(AnswerText(QueryCostBenefit(e, WithK(c, k)), clear));
                        }
                      }
                      v1::OutcomesRequest filtered;
                      filtered.add_domains(v1::DOMAIN_YOUTH_PROTECTION);
                      filtered.mutable_conference_period()->set_from("2021-01-01");
                      out.push_back(AnswerText(QueryOutcomes(e, WithK(filtered, 5)), clear));
                      return out;
                    }});
  models.push_back({"funnel", [] { return std::make_unique<FunnelProjection>(kring::testing::TestCellKeySecret()); },
                    [](const ProjectionEngine& e, bool clear) {
                      std::vector<std::string> out;
                      for (v1::Grouping g : AllGroupings()) {
                        for (uint32_t k : {5u, 10u}) {
                          v1::FunnelRequest r;
                          r.set_group_by(g);
                          out.push_back(AnswerText(QueryFunnel(e, WithK(r, k)), clear));
                        }
                      }
                      return out;
                    }});
  models.push_back({"support", [] { return std::make_unique<SupportProjection>(kring::testing::TestCellKeySecret()); },
                    [](const ProjectionEngine& e, bool clear) {
                      std::vector<std::string> out;
                      for (v1::Grouping g : AllGroupings()) {
                        for (uint32_t k : {5u, 10u}) {
                          v1::SupportRequest r;
                          r.set_group_by(g);
                          out.push_back(AnswerText(QuerySupport(e, WithK(r, k)), clear));
                        }
                      }
                      v1::SupportRequest cut;
                      cut.set_data_cutoff("2024-12-31");
                      cut.set_window_days(120);
                      cut.set_lapse_threshold(0.6);
                      out.push_back(AnswerText(QuerySupport(e, WithK(cut, 5)), clear));
                      return out;
                    }});
  return models;
}

void ExpectSameAnswers(const std::vector<std::string>& want, const std::vector<std::string>& got,
                       const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i], got[i]) << what << ", query " << i;
  }
}

// ---------------------------------------------------------------------------
// The fixture

class ResearchTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = OpenStore(dir_.Sub("store")); }

  static std::unique_ptr<EventStore> OpenStore(const std::string& path) {
    eventstore::EventStoreOptions options;
    options.path = path;
    options.sync = false;  // figures, not durability, are tested here
    auto store = EventStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return std::move(store).value();
  }

  std::unique_ptr<ProjectionEngine> OpenEngine(const std::string& folder, const ProjectionFactory& factory,
                                               const EventStore* store = nullptr, const std::string& bootstrap = "",
                                               bool fill_from_store = true) {
    ProjectionOptions options;
    options.path = dir_.Sub(folder);
    options.kafka.bootstrap = bootstrap;
    options.fill_from_store = fill_from_store;
    auto engine = ProjectionEngine::Open(options, factory(), store ? store : store_.get());
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? std::move(engine).value() : nullptr;
  }

  template <typename Model>
  std::unique_ptr<ProjectionEngine> Rebuilt(const std::string& folder) {
    auto engine = OpenEngine(folder, [] { return std::make_unique<Model>(kring::testing::TestCellKeySecret()); });
    EXPECT_TRUE(engine->CatchUpFromStore().ok());
    return engine;
  }

  void Add(const std::string& id, const CaseSpec& spec) {
    auto r = store_->Append(Batch(id, CaseEvents(id, spec)));
    ASSERT_TRUE(r.ok()) << id << ": " << r.status();
    ids_.push_back(id);
  }
  void AddMany(const std::string& prefix, int n, const CaseSpec& spec) {
    for (int i = 0; i < n; ++i) Add(prefix + "-" + std::to_string(i), spec);
  }

  // The outcomes cohort (31 cases):
  //  G1 10 YOUTH_PROTECTION GM0363 JEUGDWET, referred 2022-03-01, conference
  //     2022-04-05, PLACEMENT_PREVENTED with 2 children each
  //  G2  6 YOUTH_PROTECTION GM0363 JEUGDWET, referred 2022-05-01, stopped
  //     (no conference), PLACED_OUTSIDE_NETWORK
  //  G3  5 HOUSING GM0599 NONE, referred 2023-02-01, conference 2023-03-01,
  //     EVICTION_PREVENTED, conference cost recorded EUR 2,500
  //  G4  5 MULTI_PROBLEM GM0599 WMO, referred 2023-06-01, conference
  //     2023-07-01, HOUSEHOLD_TAKEN_OVER and PLACEMENT_PREVENTED (1 child)
  //  G5  5 MULTI_PROBLEM GM0599 WMO, referred 2023-08-01, nothing more
  void AddOutcomeCohort() {
    CaseSpec g1;
    g1.referred = CivilDay(2022, 3, 1);
    g1.coordinator_after = 5;
    g1.conference_after = 30;
    g1.plan_after = 0;
    g1.owners = 2;
    g1.outcomes = {{v1::OUTCOME_TYPE_PLACEMENT_PREVENTED, 2}};
    AddMany("oc-g1", 10, g1);
    CaseSpec g2;
    g2.referred = CivilDay(2022, 5, 1);
    g2.coordinator_after = 5;
    g2.stop = v1::PREPARATION_STOP_REASON_FAMILY_DECLINED;
    g2.outcomes = {{v1::OUTCOME_TYPE_PLACED_OUTSIDE_NETWORK, 1}};
    AddMany("oc-g2", 6, g2);
    CaseSpec g3;
    g3.domain = v1::DOMAIN_HOUSING;
    g3.municipality = "GM0599";
    g3.framework = v1::LEGAL_FRAMEWORK_NONE;
    g3.referred = CivilDay(2023, 2, 1);
    g3.coordinator_after = 3;
    g3.conference_after = 25;
    g3.outcomes = {{v1::OUTCOME_TYPE_EVICTION_PREVENTED, 0}};
    g3.conference_cost = 250000;
    AddMany("oc-g3", 5, g3);
    CaseSpec g4;
    g4.domain = v1::DOMAIN_MULTI_PROBLEM;
    g4.municipality = "GM0599";
    g4.framework = v1::LEGAL_FRAMEWORK_WMO;
    g4.referred = CivilDay(2023, 6, 1);
    g4.coordinator_after = 3;
    g4.conference_after = 27;
    g4.outcomes = {{v1::OUTCOME_TYPE_HOUSEHOLD_TAKEN_OVER_BY_NETWORK, 0}, {v1::OUTCOME_TYPE_PLACEMENT_PREVENTED, 1}};
    AddMany("oc-g4", 5, g4);
    CaseSpec g5 = g4;
    g5.referred = CivilDay(2023, 8, 1);
    g5.coordinator_after.reset();
    g5.conference_after.reset();
    g5.outcomes.clear();
    AddMany("oc-g5", 5, g5);
  }

  // Appends a synthetic cohort, each case in batches of at most 1000 events;
  // returns the number of events appended.
  size_t AppendSynthetic(EventStore& store, synth::CohortOptions options, std::vector<std::string>* case_ids = nullptr,
                         size_t stop_after_events = SIZE_MAX) {
    synth::CohortGenerator generator(options);
    synth::SyntheticCase c;
    size_t events = 0;
    while (events < stop_after_events && generator.Next(&c)) {
      for (size_t begin = 0; begin < c.events.size(); begin += 1000) {
        const size_t end = std::min(c.events.size(), begin + 1000);
        std::vector<v1::Event> part(c.events.begin() + static_cast<ptrdiff_t>(begin),
                                    c.events.begin() + static_cast<ptrdiff_t>(end));
        auto r = store.Append(Batch(c.case_id, std::move(part)));
        EXPECT_TRUE(r.ok()) << c.case_id << ": " << r.status();
        if (!r.ok()) return events;
        events += end - begin;
      }
      if (case_ids) case_ids->push_back(c.case_id);
    }
    return events;
  }

  static synth::CohortOptions Synthetic(uint64_t seed, size_t cases, double correction_share = 0) {
    synth::CohortOptions options;
    options.seed = seed;
    options.cases = cases;
    options.first_referral_year = 2019;
    options.last_referral_year = 2024;
    options.as_of = absl::FromCivil(absl::CivilDay(2026, 6, 30), absl::UTCTimeZone());
    options.correction_share = correction_share;
    return options;
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
  std::vector<std::string> ids_;  // hand-made case ids
};

const v1::OutcomeFigure& Figure(const v1::OutcomeGroup& g, v1::OutcomeType t) {
  const v1::OutcomeFigure& f = g.outcomes(static_cast<int>(t) - 1);
  EXPECT_EQ(f.outcome(), t);
  return f;
}

// ---------------------------------------------------------------------------
// 1. Each read model against a hand-made cohort

TEST_F(ResearchTest, OutcomesCountReferredAndConferenceCasesPerOutcomeAsComputedByHand) {
  // Figures computed by hand are exact: this test checks the definition, not
  // the cell key method (cell_key_test, differencing_test).
  const ExactFiguresForTesting exact;
  AddOutcomeCohort();
  auto engine = Rebuilt<OutcomesProjection>("outcomes");
  auto r = QueryOutcomes(*engine, WithK(v1::OutcomesRequest(), 5));
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::OutcomeGroup o = r->overall();  // a copy: r is asked again below
  EXPECT_EQ(o.key(), "");
  EXPECT_EQ(o.referred(), 31u);     // 10 + 6 + 5 + 5 + 5
  EXPECT_EQ(o.conferences(), 20u);  // G1, G3, G4
  ASSERT_EQ(o.outcomes_size(), v1::OutcomeType_ARRAYSIZE - 1);
  // PLACEMENT_PREVENTED: G1 and G4, all with a conference.
  EXPECT_EQ(Figure(o, v1::OUTCOME_TYPE_PLACEMENT_PREVENTED).referred_cases(), 15u);
  EXPECT_EQ(Figure(o, v1::OUTCOME_TYPE_PLACEMENT_PREVENTED).conference_cases(), 15u);
  EXPECT_DOUBLE_EQ(Figure(o, v1::OUTCOME_TYPE_PLACEMENT_PREVENTED).per_100_referrals(), 100.0 * 15 / 31);
  EXPECT_DOUBLE_EQ(Figure(o, v1::OUTCOME_TYPE_PLACEMENT_PREVENTED).per_100_conferences(), 75.0);
  // PLACED_OUTSIDE_NETWORK: G2, none with a conference (intention to treat).
  EXPECT_EQ(Figure(o, v1::OUTCOME_TYPE_PLACED_OUTSIDE_NETWORK).referred_cases(), 6u);
  EXPECT_EQ(Figure(o, v1::OUTCOME_TYPE_PLACED_OUTSIDE_NETWORK).conference_cases(), 0u);
  EXPECT_DOUBLE_EQ(Figure(o, v1::OUTCOME_TYPE_PLACED_OUTSIDE_NETWORK).per_100_referrals(), 100.0 * 6 / 31);
  EXPECT_TRUE(Figure(o, v1::OUTCOME_TYPE_PLACED_OUTSIDE_NETWORK).has_per_100_conferences());
  EXPECT_DOUBLE_EQ(Figure(o, v1::OUTCOME_TYPE_PLACED_OUTSIDE_NETWORK).per_100_conferences(), 0.0);
  for (v1::OutcomeType t : {v1::OUTCOME_TYPE_EVICTION_PREVENTED, v1::OUTCOME_TYPE_HOUSEHOLD_TAKEN_OVER_BY_NETWORK}) {
    EXPECT_EQ(Figure(o, t).referred_cases(), 5u);
    EXPECT_EQ(Figure(o, t).conference_cases(), 5u);
    EXPECT_DOUBLE_EQ(Figure(o, t).per_100_referrals(), 100.0 * 5 / 31);
    EXPECT_DOUBLE_EQ(Figure(o, t).per_100_conferences(), 25.0);  // 5 of 20
  }
  EXPECT_EQ(Figure(o, v1::OUTCOME_TYPE_OTS_PREVENTED).referred_cases(), 0u);
  EXPECT_DOUBLE_EQ(Figure(o, v1::OUTCOME_TYPE_OTS_PREVENTED).per_100_referrals(), 0.0);
  EXPECT_EQ(r->disclosure().min_cell_size(), 5u);
  EXPECT_EQ(r->disclosure().primary_cells(), 0u);
  EXPECT_EQ(r->disclosure().secondary_cells(), 0u);
  EXPECT_EQ(r->definition(), kOutcomesDefinition);
  EXPECT_EQ(r->watermark().events_applied(), store_->Head().value());

  // By referral year: 2022 = G1 + G2, 2023 = G3 + G4 + G5.
  v1::OutcomesRequest by_year;
  by_year.set_group_by(v1::GROUPING_YEAR);
  r = QueryOutcomes(*engine, WithK(by_year, 5));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->groups_size(), 2);
  const v1::OutcomeGroup& y22 = r->groups(0);
  const v1::OutcomeGroup& y23 = r->groups(1);
  EXPECT_EQ(y22.key(), "2022");
  EXPECT_EQ(y22.referred(), 16u);
  EXPECT_EQ(y22.conferences(), 10u);
  EXPECT_DOUBLE_EQ(Figure(y22, v1::OUTCOME_TYPE_PLACEMENT_PREVENTED).per_100_referrals(), 62.5);  // 10 of 16
  EXPECT_DOUBLE_EQ(Figure(y22, v1::OUTCOME_TYPE_PLACEMENT_PREVENTED).per_100_conferences(), 100.0);
  EXPECT_DOUBLE_EQ(Figure(y22, v1::OUTCOME_TYPE_PLACED_OUTSIDE_NETWORK).per_100_referrals(), 37.5);  // 6 of 16
  EXPECT_EQ(y23.key(), "2023");
  EXPECT_EQ(y23.referred(), 15u);
  EXPECT_EQ(y23.conferences(), 10u);
  EXPECT_EQ(Figure(y23, v1::OUTCOME_TYPE_PLACEMENT_PREVENTED).referred_cases(), 5u);
  EXPECT_DOUBLE_EQ(Figure(y23, v1::OUTCOME_TYPE_PLACEMENT_PREVENTED).per_100_referrals(), 100.0 * 5 / 15);
  EXPECT_DOUBLE_EQ(Figure(y23, v1::OUTCOME_TYPE_PLACEMENT_PREVENTED).per_100_conferences(), 50.0);
  EXPECT_DOUBLE_EQ(Figure(y23, v1::OUTCOME_TYPE_EVICTION_PREVENTED).per_100_conferences(), 50.0);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(r->overall(), o));
}

TEST_F(ResearchTest, OutcomeFiltersChangeTheCountsAsExpected) {
  // Figures computed by hand are exact: this test checks the definition, not
  // the cell key method (cell_key_test, differencing_test).
  const ExactFiguresForTesting exact;
  AddOutcomeCohort();
  auto engine = Rebuilt<OutcomesProjection>("outcomes");
  auto overall = [&](v1::OutcomesRequest request) {
    auto r = QueryOutcomes(*engine, WithK(request, 5));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->overall() : v1::OutcomeGroup();
  };
  v1::OutcomesRequest housing;
  housing.add_domains(v1::DOMAIN_HOUSING);
  EXPECT_EQ(overall(housing).referred(), 5u);  // G3
  EXPECT_DOUBLE_EQ(Figure(overall(housing), v1::OUTCOME_TYPE_EVICTION_PREVENTED).per_100_referrals(), 100.0);

  v1::OutcomesRequest multi;
  multi.add_domains(v1::DOMAIN_MULTI_PROBLEM);
  const v1::OutcomeGroup m = overall(multi);  // G4 + G5
  EXPECT_EQ(m.referred(), 10u);
  EXPECT_EQ(m.conferences(), 5u);
  EXPECT_DOUBLE_EQ(Figure(m, v1::OUTCOME_TYPE_HOUSEHOLD_TAKEN_OVER_BY_NETWORK).per_100_referrals(), 50.0);
  EXPECT_DOUBLE_EQ(Figure(m, v1::OUTCOME_TYPE_HOUSEHOLD_TAKEN_OVER_BY_NETWORK).per_100_conferences(), 100.0);

  v1::OutcomesRequest two_domains;
  two_domains.add_domains(v1::DOMAIN_HOUSING);
  two_domains.add_domains(v1::DOMAIN_YOUTH_PROTECTION);
  EXPECT_EQ(overall(two_domains).referred(), 21u);  // G1 + G2 + G3

  v1::OutcomesRequest wmo;
  wmo.add_legal_frameworks(v1::LEGAL_FRAMEWORK_WMO);
  EXPECT_EQ(overall(wmo).referred(), 10u);  // G4 + G5
  v1::OutcomesRequest jeugdwet;
  jeugdwet.add_legal_frameworks(v1::LEGAL_FRAMEWORK_JEUGDWET);
  EXPECT_EQ(overall(jeugdwet).referred(), 16u);  // G1 + G2
  EXPECT_EQ(overall(jeugdwet).conferences(), 10u);

  v1::OutcomesRequest place;
  place.add_municipality_codes("GM0599");
  EXPECT_EQ(overall(place).referred(), 15u);  // G3 + G4 + G5
  EXPECT_EQ(overall(place).conferences(), 10u);
  EXPECT_EQ(Figure(overall(place), v1::OUTCOME_TYPE_PLACEMENT_PREVENTED).referred_cases(), 5u);

  v1::OutcomesRequest period;  // inclusive on both ends: G1 (2022-03-01) to G3 (2023-02-01)
  period.mutable_referral_period()->set_from("2022-03-01");
  period.mutable_referral_period()->set_to("2023-02-01");
  EXPECT_EQ(overall(period).referred(), 21u);
  v1::OutcomesRequest until_2022;
  until_2022.mutable_referral_period()->set_to("2022-12-31");
  EXPECT_EQ(overall(until_2022).referred(), 16u);
  v1::OutcomesRequest from_may;
  from_may.mutable_referral_period()->set_from("2022-05-02");
  EXPECT_EQ(overall(from_may).referred(), 15u);

  v1::OutcomesRequest conferences_2023;  // leaves out cases without a conference
  conferences_2023.mutable_conference_period()->set_from("2023-01-01");
  EXPECT_EQ(overall(conferences_2023).referred(), 10u);  // G3 + G4
  EXPECT_EQ(overall(conferences_2023).conferences(), 10u);

  v1::OutcomesRequest bad;
  bad.mutable_referral_period()->set_from("2023-02-30");
  EXPECT_EQ(QueryOutcomes(*engine, bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ResearchTest, CostBenefitWithTheBuiltInModelAsComputedByHand) {
  // Figures computed by hand are exact: this test checks the definition, not
  // the cell key method (cell_key_test, differencing_test).
  const ExactFiguresForTesting exact;
  AddOutcomeCohort();
  auto engine = Rebuilt<OutcomesProjection>("outcomes");
  auto r = QueryCostBenefit(*engine, WithK(v1::CostBenefitRequest(), 5));
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::CostBenefitGroup& o = r->overall();
  EXPECT_EQ(o.conferences(), 20u);
  // Costs: G3 recorded 5 x 2,500 = 12,500; the 15 others the default 4,000.
  EXPECT_EQ(o.conferences_with_recorded_cost(), 5u);
  EXPECT_EQ(o.conference_costs_cents(), 5 * 250000 + 15 * 400000);  // 7,250,000
  // Lines in the model's order.
  ASSERT_EQ(o.lines_size(), 4);
  // PLACEMENT_PREVENTED per child: G1 10 x 2 + G4 5 x 1 = 25 children.
  EXPECT_EQ(o.lines(0).outcome(), v1::OUTCOME_TYPE_PLACEMENT_PREVENTED);
  EXPECT_EQ(o.lines(0).cases(), 15u);
  EXPECT_EQ(o.lines(0).units(), 25u);
  EXPECT_EQ(o.lines(0).savings_cents(), 25 * 2080000);  // 52,000,000
  EXPECT_EQ(o.lines(1).outcome(), v1::OUTCOME_TYPE_HOUSEHOLD_TAKEN_OVER_BY_NETWORK);
  EXPECT_EQ(o.lines(1).units(), 5u);
  EXPECT_EQ(o.lines(1).savings_cents(), 5 * 486000);  // 2,430,000
  EXPECT_EQ(o.lines(2).outcome(), v1::OUTCOME_TYPE_PARENTING_ARRANGEMENT_REACHED);
  EXPECT_EQ(o.lines(2).cases(), 0u);
  EXPECT_EQ(o.lines(2).savings_cents(), 0);
  EXPECT_EQ(o.lines(3).outcome(), v1::OUTCOME_TYPE_EVICTION_PREVENTED);
  EXPECT_EQ(o.lines(3).units(), 5u);
  EXPECT_EQ(o.lines(3).savings_cents(), 5 * 1850000);  // 9,250,000
  // DOMAIN_MULTI_PROBLEM: G4's 5 conference cases (G5 has none).
  EXPECT_EQ(o.domain_savings_cents(), 5 * 4800000);                   // 24,000,000
  const int64_t gross = 52000000 + 2430000 + 0 + 9250000 + 24000000;  // 87,680,000
  EXPECT_EQ(o.gross_savings_cents(), gross);
  EXPECT_EQ(o.net_savings_cents(), gross - 7250000);               // 80,430,000
  EXPECT_EQ(o.net_savings_per_conference_cents(), 80430000 / 20);  // 4,021,500
  EXPECT_EQ(r->cost_model().version(), BuiltInCostModel().version());

  // By year: 2022 = G1 alone, 10 conferences at the default cost.
  v1::CostBenefitRequest by_year;
  by_year.set_group_by(v1::GROUPING_YEAR);
  r = QueryCostBenefit(*engine, WithK(by_year, 5));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->groups_size(), 2);
  EXPECT_EQ(r->groups(0).key(), "2022");
  EXPECT_EQ(r->groups(0).conference_costs_cents(), 10 * 400000);
  EXPECT_EQ(r->groups(0).gross_savings_cents(), 20 * 2080000);
  EXPECT_EQ(r->groups(0).domain_savings_cents(), 0);
  EXPECT_EQ(r->groups(1).gross_savings_cents(), gross - 20 * 2080000);
}

// A row keeps children counts in a byte; a case with more children for one
// outcome type is counted from its state, exactly.
TEST_F(ResearchTest, CostBenefitCountsChildrenBeyondWhatARowHolds) {
  // Figures computed by hand are exact: this test checks the definition, not
  // the cell key method (cell_key_test, differencing_test).
  const ExactFiguresForTesting exact;
  CaseSpec many;
  many.referred = CivilDay(2022, 3, 1);
  many.coordinator_after = 5;
  many.conference_after = 30;
  for (int i = 0; i < 11; ++i) many.outcomes.push_back({v1::OUTCOME_TYPE_PLACEMENT_PREVENTED, 25});  // 275
  AddMany("many", 5, many);
  CaseSpec few = many;
  few.outcomes = {{v1::OUTCOME_TYPE_PLACEMENT_PREVENTED, 3}};
  AddMany("few", 5, few);
  auto engine = Rebuilt<OutcomesProjection>("outcomes");
  auto r = QueryCostBenefit(*engine, WithK(v1::CostBenefitRequest(), 5));
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::SavingLine& line = r->overall().lines(0);
  ASSERT_EQ(line.outcome(), v1::OUTCOME_TYPE_PLACEMENT_PREVENTED);
  EXPECT_EQ(line.cases(), 10u);
  EXPECT_EQ(line.units(), 5u * 275 + 5u * 3);  // 1,390 children
  EXPECT_EQ(line.savings_cents(), int64_t{1390} * 2080000);
}

v1::CostModel TestModel() {
  v1::CostModel m;
  m.set_version("test-1");
  m.set_currency("EUR");
  m.set_conference_cost_cents(300000);
  auto* s = m.add_savings();
  s->set_outcome(v1::OUTCOME_TYPE_EVICTION_PREVENTED);
  s->set_amount_cents(1000000);
  s = m.add_savings();
  s->set_outcome(v1::OUTCOME_TYPE_PLACEMENT_PREVENTED);
  s->set_amount_cents(1000000);  // per case here
  return m;
}

TEST_F(ResearchTest, CostBenefitWithAQuerySuppliedModelAndInvalidModelsNamingTheField) {
  // Figures computed by hand are exact: this test checks the definition, not
  // the cell key method (cell_key_test, differencing_test).
  const ExactFiguresForTesting exact;
  AddOutcomeCohort();
  auto engine = Rebuilt<OutcomesProjection>("outcomes");
  v1::CostBenefitRequest request = WithK(v1::CostBenefitRequest(), 5);
  *request.mutable_cost_model() = TestModel();
  auto r = QueryCostBenefit(*engine, request);
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::CostBenefitGroup& o = r->overall();
  // Costs: G3 recorded 12,500, the 15 others the model's 3,000.
  EXPECT_EQ(o.conference_costs_cents(), 1250000 + 15 * 300000);  // 5,750,000
  ASSERT_EQ(o.lines_size(), 2);
  EXPECT_EQ(o.lines(0).outcome(), v1::OUTCOME_TYPE_EVICTION_PREVENTED);
  EXPECT_EQ(o.lines(0).savings_cents(), 5 * 1000000);
  EXPECT_EQ(o.lines(1).units(), 15u);  // not per child
  EXPECT_EQ(o.lines(1).savings_cents(), 15 * 1000000);
  EXPECT_EQ(o.domain_savings_cents(), 0);
  EXPECT_EQ(o.gross_savings_cents(), 20000000);
  EXPECT_EQ(o.net_savings_cents(), 20000000 - 5750000);            // 14,250,000
  EXPECT_EQ(o.net_savings_per_conference_cents(), 14250000 / 20);  // 712,500
  EXPECT_EQ(r->cost_model().version(), "test-1");

  struct Bad {
    std::function<void(v1::CostModel&)> change;
    std::string field;
  };
  const std::vector<Bad> bad = {
      {[](v1::CostModel& m) { m.mutable_savings(1)->set_amount_cents(-1); }, "cost_model.savings[1].amount_cents"},
      {[](v1::CostModel& m) { m.mutable_savings(1)->set_outcome(v1::OUTCOME_TYPE_EVICTION_PREVENTED); },
       "cost_model.savings[1].outcome"},
      {[](v1::CostModel& m) { m.set_currency("USD"); }, "cost_model.currency"},
      {[](v1::CostModel& m) { m.set_conference_cost_cents(-400000); }, "cost_model.conference_cost_cents"},
  };
  for (const Bad& b : bad) {
    v1::CostBenefitRequest req = request;
    b.change(*req.mutable_cost_model());
    auto refused = QueryCostBenefit(*engine, req);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << b.field;
    EXPECT_TRUE(absl::StartsWith(refused.status().message(), b.field + ": ")) << refused.status();
  }
}

// The funnel cohort (21 cases):
//  FA 10 YOUTH_PROTECTION with a threatened OTS and the right to a plan
//     offered, referred 2022-01-10; coordinator after 1,1,2,3,5,8,13,21,34,55
//     days; conference 20,22,…,38 days later; plan the same day; cases 0-4
//     accepted 7,7,14,21,28 days later, cases 5-9 rejected.
//  FB  6 YOUTH_PROTECTION with a threatened OTS (plan right offered in 5),
//     referred 2022-02-01, coordinator after 6,6,6,30,30,30 days, stopped:
//     FAMILY_DECLINED.
//  FC  5 HOUSING, referred 2022-03-01, no coordinator, stopped:
//     REFERRER_WITHDREW.
TEST_F(ResearchTest, FunnelCountsStepsMediansStopReasonsAndPlanRightAsComputedByHand) {
  // Figures computed by hand are exact: this test checks the definition, not
  // the cell key method (cell_key_test, differencing_test).
  const ExactFiguresForTesting exact;
  const int coordinator[] = {1, 1, 2, 3, 5, 8, 13, 21, 34, 55};
  const int accepted[] = {7, 7, 14, 21, 28};
  for (int i = 0; i < 10; ++i) {
    CaseSpec s;
    s.protection = true;
    s.plan_right_offered = true;
    s.referred = CivilDay(2022, 1, 10);
    s.coordinator_after = coordinator[i];
    s.conference_after = 20 + 2 * i;
    s.plan_after = 0;
    s.owners = 1;
    s.decision = i < 5 ? std::make_pair(accepted[i], v1::PLAN_DECISION_ACCEPTED)
                       : std::make_pair(10, v1::PLAN_DECISION_REJECTED);
    Add("fa-" + std::to_string(i), s);
  }
  const int fb_coordinator[] = {6, 6, 6, 30, 30, 30};
  for (int j = 0; j < 6; ++j) {
    CaseSpec s;
    s.protection = true;
    s.plan_right_offered = j < 5;
    s.referred = CivilDay(2022, 2, 1);
    s.coordinator_after = fb_coordinator[j];
    s.stop = v1::PREPARATION_STOP_REASON_FAMILY_DECLINED;
    Add("fb-" + std::to_string(j), s);
  }
  CaseSpec fc;
  fc.domain = v1::DOMAIN_HOUSING;
  fc.referred = CivilDay(2022, 3, 1);
  fc.stop = v1::PREPARATION_STOP_REASON_REFERRER_WITHDREW;
  AddMany("fc", 5, fc);

  auto engine = Rebuilt<FunnelProjection>("funnel");
  auto r = QueryFunnel(*engine, WithK(v1::FunnelRequest(), 5));
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::FunnelGroup& o = r->overall();
  ASSERT_EQ(o.steps_size(), 5);
  EXPECT_EQ(o.steps(0).step(), v1::FUNNEL_STEP_REFERRED);
  EXPECT_EQ(o.steps(0).cases(), 21u);
  EXPECT_DOUBLE_EQ(o.steps(0).share_of_referred(), 1.0);
  // Coordinator: 16 cases; days sorted 1,1,2,3,5,6,6,6,8,13,21,30,30,30,34,55:
  // rank 0.5 x 15 = 7.5 between 6 and 8: 7.
  EXPECT_EQ(o.steps(1).step(), v1::FUNNEL_STEP_COORDINATOR_ASSIGNED);
  EXPECT_EQ(o.steps(1).cases(), 16u);
  EXPECT_DOUBLE_EQ(o.steps(1).share_of_referred(), 16.0 / 21);
  EXPECT_DOUBLE_EQ(o.steps(1).median_days_from_previous(), 7.0);
  // Conference: 10 cases, 20,22,…,38 days: rank 4.5 between 28 and 30: 29.
  EXPECT_EQ(o.steps(2).step(), v1::FUNNEL_STEP_CONFERENCE_HELD);
  EXPECT_EQ(o.steps(2).cases(), 10u);
  EXPECT_DOUBLE_EQ(o.steps(2).share_of_referred(), 10.0 / 21);
  EXPECT_DOUBLE_EQ(o.steps(2).median_days_from_previous(), 29.0);
  EXPECT_EQ(o.steps(3).step(), v1::FUNNEL_STEP_PLAN_ADOPTED);
  EXPECT_EQ(o.steps(3).cases(), 10u);
  EXPECT_DOUBLE_EQ(o.steps(3).median_days_from_previous(), 0.0);
  // Accepted: 7,7,14,21,28: rank 2: 14.
  EXPECT_EQ(o.steps(4).step(), v1::FUNNEL_STEP_PLAN_ACCEPTED);
  EXPECT_EQ(o.steps(4).cases(), 5u);
  EXPECT_DOUBLE_EQ(o.steps(4).share_of_referred(), 5.0 / 21);
  EXPECT_DOUBLE_EQ(o.steps(4).median_days_from_previous(), 14.0);
  EXPECT_EQ(o.plan_rejected(), 5u);
  ASSERT_EQ(o.stop_reasons_size(), v1::PreparationStopReason_ARRAYSIZE - 1);
  EXPECT_EQ(o.stop_reasons(0).reason(), v1::PREPARATION_STOP_REASON_FAMILY_DECLINED);
  EXPECT_EQ(o.stop_reasons(0).cases(), 6u);
  EXPECT_EQ(o.stop_reasons(1).reason(), v1::PREPARATION_STOP_REASON_REFERRER_WITHDREW);
  EXPECT_EQ(o.stop_reasons(1).cases(), 5u);
  for (int i = 2; i < o.stop_reasons_size(); ++i) EXPECT_EQ(o.stop_reasons(i).cases(), 0u);
  // Right to a plan: FA + FB have a protection measure (16); offered in
  // 10 + 5; a plan made in FA's 10.
  // Offered in 15 of the 16: published, it would tell that 1 case was not
  // offered a plan, so it is suppressed (nested counts differ by 1..k-1).
  EXPECT_EQ(o.plan_right().protection_cases(), 16u);
  EXPECT_FALSE(o.plan_right().has_plan_offered());
  EXPECT_EQ(o.plan_right().offered_suppression(), v1::SUPPRESSION_PRIMARY);
  EXPECT_FALSE(o.plan_right().has_share_offered());
  EXPECT_EQ(o.plan_right().plan_made(), 10u);
  EXPECT_DOUBLE_EQ(o.plan_right().share_made(), 10.0 / 16);
  EXPECT_EQ(r->disclosure().primary_cells(), 1u);
  EXPECT_EQ(r->definition(), kFunnelDefinition);
}

// The support cohort: 12 cases with a conference on 2021-01-15 (day 0) and a
// plan the same day. S0-S9: six network attendees p0-p5, of whom p0-p4 own an
// action (network of 5: "still active" p0-p3 is 0.8, no lapse — it would be
// 4/6 with the attendees). S10, S11: five network attendees, the plan names
// only the professional (network = the 5 attendees). Retention per follow-up
// (day: retention); a lapse is retention < 0.8:
//   S0  183:1.0 365:0.8 730:0.8        censored 730
//   S1  183:1.0 365:1.0 730:1.0        censored 730 (p5 reported too)
//   S2  183:0.8 365:0.6 730:0.4        event 365
//   S3  183:0.6 365:0.8                event 183
//   S4  183:0.6                        event 183
//   S5  183:1.0 365:1.0                censored 365
//   S6  183:1.0                        censored 183
//   S7  183:0.8 365:0.4                event 365
//   S8   90:0.4                        event 90
//   S9  183:1.0 365:1.0 548:0.6        event 548
//   S10 183:1.0 365:0.8 548:0.8 730:0.8 censored 730
//   S11 183:1.0 365:1.0 730:0.6        event 730
// plus S12 with a plan and no follow-up (not in the population).
class SupportTest : public ResearchTest {
 protected:
  void AddSupportCohort(const std::string& prefix = "sc-") {
    const std::vector<int> r10 = {0, 1, 2, 3, 4}, r08 = {0, 1, 2, 3}, r06 = {0, 1, 2}, r04 = {0, 1};
    const std::vector<std::vector<std::pair<int, std::vector<int>>>> follow_ups = {
        {{183, r10}, {365, r08}, {730, r08}},
        {{183, {0, 1, 2, 3, 4, 5}}, {365, r10}, {730, {5, 4, 3, 2, 1, 0}}},
        {{183, r08}, {365, r06}, {730, r04}},
        {{183, r06}, {365, r08}},
        {{183, r06}},
        {{183, r10}, {365, r10}},
        {{183, r10}},
        {{183, r08}, {365, r04}},
        {{90, r04}},
        {{183, r10}, {365, r10}, {548, r06}},
        {{183, r10}, {365, r08}, {548, r08}, {730, r08}},
        {{183, r10}, {365, r10}, {730, r06}},
        {},
    };
    for (size_t i = 0; i < follow_ups.size(); ++i) {
      CaseSpec s;
      s.referred = CivilDay(2021, 1, 1);
      s.coordinator_after = 4;
      s.conference_after = 10;  // 2021-01-15
      s.plan_after = 0;
      const bool attendees_only = i == 10 || i == 11;
      s.network = attendees_only ? 5 : 6;
      s.owners = attendees_only ? 0 : 5;
      s.follow_ups = follow_ups[i];
      Add(prefix + std::to_string(i), s);
    }
  }
};

TEST_F(SupportTest, RetentionAndKaplanMeierAsComputedByHand) {
  // Figures computed by hand are exact: this test checks the definition, not
  // the cell key method (cell_key_test, differencing_test).
  const ExactFiguresForTesting exact;
  AddSupportCohort();
  auto engine = Rebuilt<SupportProjection>("support");
  auto r = QuerySupport(*engine, WithK(v1::SupportRequest(), 5));
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::SupportGroup& o = r->overall();
  EXPECT_EQ(o.cases(), 12u);
  ASSERT_EQ(o.retention_size(), 3);
  // 6 months (182.6 days, +-91): the day-183 follow-ups of all but S8:
  // 1+1+.8+.6+.6+1+1+.8+1+1+1 = 9.8 over 11. (S8's day 90 is 93 days off.)
  // 12 months: day 365 in S0,S1,S2,S3,S5,S7,S9,S10,S11:
  // .8+1+.6+.8+1+.4+1+.8+1 = 7.4 over 9.
  // Both are suppressed here: 11 and 9 of the 12 cases would tell that 1 and 3
  // cases had no follow-up near the mark (fewer than k = 5). With k = 5 and
  // the cohort five times over (55 and 45 of 60) they are published:
  // SupportTest.RetentionFiguresOfALargerCohort.
  EXPECT_EQ(o.retention(0).months(), 6u);
  EXPECT_FALSE(o.retention(0).has_cases());
  EXPECT_EQ(o.retention(0).suppression(), v1::SUPPRESSION_PRIMARY);
  EXPECT_FALSE(o.retention(0).has_mean_retention());
  EXPECT_EQ(o.retention(1).months(), 12u);
  EXPECT_FALSE(o.retention(1).has_cases());
  EXPECT_EQ(o.retention(1).suppression(), v1::SUPPRESSION_PRIMARY);
  // 24 months: day 730 in S0,S1,S2,S10,S11: .8+1+.4+.8+.6 = 3.6 over 5
  // (day 548 is 182 days off).
  EXPECT_EQ(o.retention(2).months(), 24u);
  EXPECT_EQ(o.retention(2).cases(), 5u);
  EXPECT_NEAR(o.retention(2).mean_retention(), 0.72, 1e-6);

  // Kaplan–Meier: day 0 n=12 (the published cases), S = 1; day 90 n=12 d=1
  // -> 11/12; day 183 n=11 d=2 c=1 -> 9/12; day 365 n=8 d=2 c=1 -> 0.5625;
  // day 548 n=5 d=1 -> 0.45; day 730 n=4 < k: left off.
  struct Row {
    uint32_t day;
    uint64_t at_risk, events, censored;
    double survival;
  };
  const std::vector<Row> want = {{0, 12, 0, 0, 1.0},
                                 {90, 12, 1, 0, 11.0 / 12},
                                 {183, 11, 2, 1, 0.75},
                                 {365, 8, 2, 1, 0.5625},
                                 {548, 5, 1, 0, 0.45}};
  ASSERT_EQ(o.curve_size(), static_cast<int>(want.size())) << o.DebugString();
  EXPECT_EQ(o.curve(0).lower_95(), 1.0);  // day 0: the band is 1 to 1
  EXPECT_EQ(o.curve(0).upper_95(), 1.0);
  for (size_t i = 1; i < want.size(); ++i) {
    const v1::SurvivalRow& row = o.curve(static_cast<int>(i));
    EXPECT_EQ(row.day(), want[i].day);
    EXPECT_EQ(row.at_risk(), want[i].at_risk);
    EXPECT_EQ(row.events(), want[i].events);
    EXPECT_EQ(row.censored(), want[i].censored);
    EXPECT_NEAR(row.survival(), want[i].survival, 1e-12);
    EXPECT_LT(row.lower_95(), row.survival());
    EXPECT_GT(row.upper_95(), row.survival());
  }
  EXPECT_TRUE(o.curve_truncated());
  EXPECT_NEAR(o.survival_12m(), 0.5625, 1e-12);
  EXPECT_FALSE(o.has_survival_24m());   // day 730 lies in the hidden rows
  EXPECT_FALSE(o.has_rmst_24m_days());  // truncated, the last published row (548) before day 730
  EXPECT_FALSE(o.has_rmst_24m_ci());
  EXPECT_EQ(r->definition(), kSupportDefinition);

  // With k = 10 the curve stops before day 365 (8 at risk).
  r = QuerySupport(*engine, WithK(v1::SupportRequest(), 10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->overall().curve_size(), 3);  // days 0, 90, 183
  EXPECT_TRUE(r->overall().curve_truncated());
  EXPECT_FALSE(r->overall().has_survival_12m());
}

// The published curve is the exact table above perturbed as docs/research.md
// says: at risk, events and censored by the cell keys of their cases, S from
// the perturbed counts.
TEST_F(SupportTest, KaplanMeierRowsAreTheDocumentedPerturbationOfTheExactTable) {
  AddSupportCohort();
  auto engine = Rebuilt<SupportProjection>("support");
  auto r = QuerySupport(*engine, WithK(v1::SupportRequest(), 5));
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::SupportGroup& o = r->overall();
  // (days to the lapse or censoring, lapse) of S0..S11, from the table above.
  const std::vector<std::pair<int64_t, bool>> cases = {{730, false}, {730, false}, {365, true},  {183, true},
                                                       {183, true},  {365, false}, {183, false}, {365, true},
                                                       {90, true},   {548, true},  {730, false}, {730, true}};
  const auto secret = kring::testing::TestCellKeySecret();
  auto key = [&](size_t i) { return secret->CaseKey("sc-" + std::to_string(i)); };
  uint64_t all = 0;
  for (size_t i = 0; i < cases.size(); ++i) all += key(i);
  EXPECT_EQ(o.cases(), PerturbCount(12, all, 5));
  // The day-0 row: the published cases at risk, S = 1.
  ASSERT_GT(o.curve_size(), 0);
  EXPECT_EQ(o.curve(0).day(), 0u);
  EXPECT_EQ(o.curve(0).at_risk(), o.cases());
  EXPECT_EQ(o.curve(0).survival(), 1.0);
  double survival = 1;
  int row = 1;
  for (int64_t day : {90, 183, 365, 548}) {  // day 730: 4 at risk, under k
    uint64_t n = 0, d = 0, c = 0, kn = 0, kd = 0, kc = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
      if (cases[i].first < day) continue;
      ++n;
      kn += key(i);
      if (cases[i].first != day) continue;
      (cases[i].second ? d : c) += 1;
      (cases[i].second ? kd : kc) += key(i);
    }
    const uint64_t n1 = PerturbCount(n, kn, 5);
    const uint64_t d1 = d == 0 ? 0 : std::min(n1, PerturbCount(d, kd, 1));
    const uint64_t c1 = c == 0 ? 0 : PerturbCount(c, kc, 1);
    survival = d1 == n1 ? 0 : survival * (static_cast<double>(n1 - d1) / n1);
    ASSERT_LT(row, o.curve_size());
    const v1::SurvivalRow& got = o.curve(row++);
    EXPECT_EQ(got.day(), day);
    EXPECT_EQ(got.at_risk(), n1) << day;
    EXPECT_EQ(got.events(), d1) << day;
    EXPECT_EQ(got.censored(), c1) << day;
    EXPECT_EQ(got.survival(), survival) << day;
    if (day == 365) EXPECT_EQ(o.survival_12m(), survival);
  }
  EXPECT_EQ(o.curve_size(), row);
  EXPECT_TRUE(o.curve_truncated());
}

TEST_F(SupportTest, RetentionFiguresOfALargerCohort) {
  // Figures computed by hand are exact: this test checks the definition, not
  // the cell key method (cell_key_test, differencing_test).
  const ExactFiguresForTesting exact;
  for (int copy = 0; copy < 5; ++copy) AddSupportCohort("sc" + std::to_string(copy) + "-");
  auto engine = Rebuilt<SupportProjection>("support");
  auto r = QuerySupport(*engine, WithK(v1::SupportRequest(), 5));
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::SupportGroup& o = r->overall();
  EXPECT_EQ(o.cases(), 60u);
  ASSERT_EQ(o.retention_size(), 3);
  // The figures of RetentionAndKaplanMeierAsComputedByHand, five times: 55,
  // 45 and 25 of the 60 cases (5, 15 and 35 without a follow-up near the
  // mark: not fewer than k), with the same means.
  EXPECT_EQ(o.retention(0).cases(), 55u);
  EXPECT_NEAR(o.retention(0).mean_retention(), 9.8 / 11, 1e-6);
  EXPECT_EQ(o.retention(1).cases(), 45u);
  EXPECT_NEAR(o.retention(1).mean_retention(), 7.4 / 9, 1e-6);
  EXPECT_EQ(o.retention(2).cases(), 25u);
  EXPECT_NEAR(o.retention(2).mean_retention(), 0.72, 1e-6);
  EXPECT_EQ(r->disclosure().primary_cells(), 0u);
}

TEST_F(SupportTest, DataCutoffIgnoresLaterFollowUpsAndWindowWidens) {
  // Figures computed by hand are exact: this test checks the definition, not
  // the cell key method (cell_key_test, differencing_test).
  const ExactFiguresForTesting exact;
  AddSupportCohort();
  auto engine = Rebuilt<SupportProjection>("support");
  // Cut-off at day 400: S0,S1,S5,S9,S10,S11 are censored at 365.
  v1::SupportRequest cut;
  cut.set_data_cutoff(DayText(CivilDay(2021, 1, 15) + 400));
  auto r = QuerySupport(*engine, WithK(cut, 5));
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::SupportGroup& o = r->overall();
  EXPECT_EQ(o.cases(), 12u);
  ASSERT_EQ(o.curve_size(), 4) << o.DebugString();
  EXPECT_EQ(o.curve(0).day(), 0u);
  EXPECT_EQ(o.curve(1).day(), 90u);
  EXPECT_EQ(o.curve(2).day(), 183u);
  EXPECT_EQ(o.curve(3).day(), 365u);
  EXPECT_EQ(o.curve(3).at_risk(), 8u);
  EXPECT_EQ(o.curve(3).events(), 2u);
  EXPECT_EQ(o.curve(3).censored(), 6u);
  EXPECT_NEAR(o.curve(3).survival(), 0.5625, 1e-12);
  EXPECT_FALSE(o.curve_truncated());
  EXPECT_NEAR(o.survival_24m(), 0.5625, 1e-12);  // carried forward, every row published
  EXPECT_EQ(o.survival_24m_ci().lower(), o.curve(3).lower_95());
  EXPECT_EQ(o.survival_24m_ci().upper(), o.curve(3).upper_95());
  // RMST to day 730, by hand: 90 days at 1, 93 at 11/12, 182 at 3/4, 365 at
  // 0.5625 = 517.0625. Variance: Σ A_i² d_i / (n_i (n_i − d_i)) with A_i the
  // area from the row's day to 730.
  EXPECT_NEAR(o.rmst_24m_days(), 517.0625, 1e-9);
  const double a90 = 517.0625 - 90, a183 = a90 - 93 * 11.0 / 12, a365 = 365 * 0.5625;
  const double variance = a90 * a90 * 1 / (12.0 * 11) + a183 * a183 * 2 / (11.0 * 9) + a365 * a365 * 2 / (8.0 * 6);
  EXPECT_NEAR(o.rmst_24m_ci().lower(), 517.0625 - 1.959963984540054 * std::sqrt(variance), 1e-9);
  EXPECT_NEAR(o.rmst_24m_ci().upper(), 517.0625 + 1.959963984540054 * std::sqrt(variance), 1e-9);
  EXPECT_EQ(o.retention(2).cases(), 0u);
  EXPECT_FALSE(o.retention(2).has_mean_retention());

  // A window of 100 days takes S8's day 90 into the 6-month figure.
  v1::SupportRequest wide;
  wide.set_window_days(100);
  r = QuerySupport(*engine, WithK(wide, 5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->overall().retention(0).cases(), 12u);
  EXPECT_NEAR(r->overall().retention(0).mean_retention(), 10.2 / 12, 1e-6);

  v1::SupportRequest too_wide;
  too_wide.set_window_days(181);
  EXPECT_EQ(QuerySupport(*engine, too_wide).status().code(), absl::StatusCode::kInvalidArgument);
}

// Ten conferences with network sizes 2,3,3,4,5,6,7,8,10,12 (every third
// member a friend, p0 the central person), plus the coordinator and a
// professional attending. Sorted, n = 10: mean 60/10 = 6; median rank 4.5:
// (5+6)/2 = 5.5; p10 rank 0.9: 2 + 0.9 = 2.9; p25 rank 2.25: 3 + 0.25 = 3.25;
// p75 rank 6.75: 7 + 0.75 = 7.75; p90 rank 8.1: 10 + 0.1 x 2 = 10.2.
TEST_F(ResearchTest, NetworkSizeMeanMedianAndPercentilesAsComputedByHand) {
  // Figures computed by hand are exact: this test checks the definition, not
  // the cell key method (cell_key_test, differencing_test).
  const ExactFiguresForTesting exact;
  const int sizes[] = {7, 3, 12, 2, 5, 10, 4, 3, 8, 6};
  for (int i = 0; i < 10; ++i) {
    CaseSpec s;
    s.referred = CivilDay(2022, 1 + i, 3);
    s.coordinator_after = 2;
    s.conference_after = 20;
    s.network = sizes[i];
    Add("ns-" + std::to_string(i), s);
  }
  auto engine = Rebuilt<NetworkSizeProjection>("network");
  auto r = QueryNetworkSize(*engine, WithK(v1::NetworkSizeRequest(), 5));
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::NetworkSizeStats& s = r->overall();
  EXPECT_EQ(s.conferences(), 10u);
  EXPECT_DOUBLE_EQ(s.mean(), 6.0);
  EXPECT_DOUBLE_EQ(s.median(), 5.5);
  EXPECT_DOUBLE_EQ(s.p10(), 2.9);
  EXPECT_DOUBLE_EQ(s.p25(), 3.25);
  EXPECT_DOUBLE_EQ(s.p75(), 7.75);
  EXPECT_DOUBLE_EQ(s.p90(), 10.2);
  EXPECT_DOUBLE_EQ(s.central_persons_mean(), 1.0);
  // Friends (members 2, 5, 8, 11): 0+1+1+1+1+2+2+2+3+4 = 17 in 9 conferences.
  ASSERT_EQ(s.composition_size(), 2);
  EXPECT_EQ(s.composition(0).relation(), v1::RELATION_FAMILY);
  // Family attended all 10 conferences, 43 of the 60 attendees: published
  // beside the mean (60 = 6 x 10), it would give the friends' 17 back, so it
  // is the friends' complement (the relations' attendees add up to mean x n).
  EXPECT_FALSE(s.composition(0).has_attendees());
  EXPECT_FALSE(s.composition(0).has_conferences());
  EXPECT_EQ(s.composition(0).suppression(), v1::SUPPRESSION_SECONDARY);
  // Friends attended 9 of the 10 conferences: published, that would tell that
  // 1 conference had none (fewer than k), so the row is suppressed.
  EXPECT_EQ(s.composition(1).relation(), v1::RELATION_FRIEND);
  EXPECT_FALSE(s.composition(1).has_conferences());
  EXPECT_FALSE(s.composition(1).has_attendees());
  EXPECT_FALSE(s.composition(1).has_share());
  EXPECT_EQ(s.composition(1).suppression(), v1::SUPPRESSION_PRIMARY);
  // Histogram bins of 1 or 2 conferences are under k.
  for (const v1::HistogramBin& bin : s.histogram()) {
    EXPECT_FALSE(bin.has_conferences());
    EXPECT_NE(bin.suppression(), v1::SUPPRESSION_NONE);
  }
}

// ---------------------------------------------------------------------------
// 2. Live through Kafka (a worker restarted midway, redeliveries) equals a
// rebuild from the store, and reopening an engine (Load) keeps its state.

// Whether `engine` has applied (or skipped) every message on the topic.
bool ConsumedToTheEnd(const ProjectionEngine& engine, const std::string& bootstrap) {
  return testing::ConsumedToTheEnd(bootstrap, "kring.case-events.v1",
                                   [&](const std::string& cluster_id, int32_t partition) -> std::optional<int64_t> {
                                     auto stored = engine.StoredOffset(cluster_id, KafkaPartition(partition));
                                     if (!stored.ok() || !stored->has_value()) return std::nullopt;
                                     return (*stored)->value();
                                   });
}

// The store fallback is off (ProjectionOptions::fill_from_store): the live
// workers have only Kafka to go by, so a broken Kafka path fails this test.
TEST_F(ResearchTest, LiveThroughKafkaWithRestartAndRedeliveryEqualsRebuildForAllFourModels) {
  auto kafka = std::move(bus::EmbeddedKafka::Start(1, "kring.case-events.v1", 6)).value();
  bus::RelayOptions relay_options;
  relay_options.kafka.bootstrap = kafka->bootstrap();
  auto relay = std::move(bus::OutboxRelay::Start(store_.get(), relay_options)).value();
  const std::vector<ModelKind> models = AllModels();
  std::vector<std::unique_ptr<ProjectionEngine>> live;
  for (const ModelKind& m : models) {
    live.push_back(OpenEngine("live-" + m.name, m.factory, nullptr, kafka->bootstrap(), /*fill_from_store=*/false));
    live.back()->StartConsumer();
  }
  // 300 synthetic cases (with corrections: retractions through Kafka), in two
  // halves; the outcomes worker stops during the first.
  AppendSynthetic(*store_, Synthetic(21, 150, 0.1));
  ASSERT_TRUE(testing::WaitFor([&] { return live[1]->watermark().events_applied > 0; }));
  live[1]->StopConsumer();
  live[1].reset();  // stopped, possibly mid-stream
  synth::CohortOptions second = Synthetic(21, 150, 0.1);
  second.first_case = 151;
  AppendSynthetic(*store_, second);
  ASSERT_TRUE(relay->Flush(std::chrono::seconds(60)));
  relay.reset();
  relay_options.republish_from_start = true;  // every event a second time
  relay = std::move(bus::OutboxRelay::Start(store_.get(), relay_options)).value();
  ASSERT_TRUE(relay->Flush(std::chrono::seconds(60)));
  live[1] = OpenEngine("live-" + models[1].name, models[1].factory, nullptr, kafka->bootstrap(),
                       /*fill_from_store=*/false);  // restarted
  live[1]->StartConsumer();

  const uint64_t head = store_->Head().value();
  for (size_t i = 0; i < live.size(); ++i) {
    // Every message, the republished duplicates included, applied or skipped.
    ASSERT_TRUE(testing::WaitFor([&] { return ConsumedToTheEnd(*live[i], kafka->bootstrap()); }))
        << models[i].name << " applied " << live[i]->watermark().events_applied << " of " << head;
    EXPECT_EQ(live[i]->watermark().events_applied, head) << models[i].name;
  }
  for (auto& e : live) e->StopConsumer();
  relay.reset();

  // Redelivery by hand: everything again, forwards and backwards.
  const auto all = store_->ReadAll(GlobalPosition(1), SIZE_MAX).value();
  ASSERT_EQ(all.size(), head);
  std::vector<v1::RecordedEvent> reversed(all.rbegin(), all.rend());
  for (auto& e : live) {
    ASSERT_TRUE(e->ApplyBatch(all).ok());
    ASSERT_TRUE(e->ApplyBatch(reversed).ok());
    EXPECT_EQ(e->watermark().events_applied, head);
  }

  for (size_t i = 0; i < models.size(); ++i) {
    auto rebuilt = OpenEngine("rebuilt-" + models[i].name, models[i].factory);
    ASSERT_TRUE(rebuilt->CatchUpFromStore().ok());
    const auto want = models[i].answers(*rebuilt, /*clear_watermark=*/false);
    const auto got = models[i].answers(*live[i], /*clear_watermark=*/false);
    ExpectSameAnswers(want, got, models[i].name + " live vs rebuilt");

    // Reopened: the state comes back through Load().
    live[i].reset();
    auto reopened = OpenEngine("live-" + models[i].name, models[i].factory);
    EXPECT_EQ(reopened->watermark().events_applied, head);
    ExpectSameAnswers(got, models[i].answers(*reopened, false), models[i].name + " reopened");
  }
}

// Large models answer over several threads (CaseStateProjection::Reduce):
// split in two, three and seven (uneven parts, groups first met in a later
// part), every answer equals the one counted on one thread.
TEST_F(ResearchTest, QueriesSplitOverThreadsGiveTheAnswersOfOneThread) {
  AppendSynthetic(*store_, Synthetic(23, 400, 0.1));
  for (const ModelKind& m : AllModels()) {
    auto engine = OpenEngine("split-" + m.name, m.factory);
    ASSERT_TRUE(engine->CatchUpFromStore().ok());
    SetQuerySplit({.parallel_from = SIZE_MAX, .threads = 1});
    const auto one = m.answers(*engine, /*clear_watermark=*/false);
    for (size_t threads : {2, 3, 7}) {
      SetQuerySplit({.parallel_from = 1, .threads = threads});
      ExpectSameAnswers(one, m.answers(*engine, false), m.name + " over " + std::to_string(threads) + " threads");
    }
    SetQuerySplit({});
  }
}

// ---------------------------------------------------------------------------
// 3. A retraction changes the figures exactly as if the event had never been
// recorded.

TEST_F(ResearchTest, RetractionsGiveTheFiguresOfAStoreThatNeverHeldTheEvents) {
  std::vector<synth::SyntheticCase> cases;
  {
    synth::CohortGenerator generator(Synthetic(31, 250));
    synth::SyntheticCase c;
    while (generator.Next(&c)) cases.push_back(c);
  }
  // Per case at most one retracted event; per kind the first few cases where
  // leaving the event out is a valid case (checked on a scratch store).
  auto scratch = OpenStore(dir_.Sub("scratch"));
  using Has = bool (v1::Event::*)() const;
  const std::vector<std::pair<std::string, Has>> kinds = {
      {"OutcomeRecorded", &v1::Event::has_outcome_recorded},
      {"FollowUpRecorded", &v1::Event::has_follow_up_recorded},
      {"PlanAdopted", &v1::Event::has_plan_adopted},
      {"ConferenceHeld", &v1::Event::has_conference_held},
  };
  std::map<size_t, size_t> retract;  // case index -> event index
  std::map<std::string, int> found;
  for (const auto& [kind, has] : kinds) {
    for (size_t c = 0; c < cases.size() && found[kind] < 3; ++c) {
      if (retract.count(c)) continue;
      const auto& events = cases[c].events;
      for (size_t e = 0; e < events.size(); ++e) {
        if (!(events[e].*has)()) continue;
        std::vector<v1::Event> without = events;
        without.erase(without.begin() + static_cast<ptrdiff_t>(e));
        if (without.size() <= 1000 && scratch->Append(Batch(cases[c].case_id, without)).ok()) {
          retract[c] = e;
          ++found[kind];
        }
        break;  // only the first event of the kind
      }
    }
  }
  // A synthetic plan is always followed by what needs one (a decision, a
  // follow-up): five hand-made cases get a second plan (network owners p0-p2
  // instead of p0 alone), which is then withdrawn; their follow-ups report
  // p0 and p1, then p0 (retention 2/3 and 1/3 with it, 1 and 1 without).
  for (int i = 0; i < 5; ++i) {
    CaseSpec spec;
    spec.referred = CivilDay(2021, 3, 1);
    spec.coordinator_after = 5;
    spec.conference_after = 20;
    spec.network = 4;
    spec.plan_after = 0;
    spec.owners = 1;
    spec.follow_ups = {{183, {0, 1}}, {365, {0}}};
    synth::SyntheticCase c;
    c.case_id = "rc-" + std::to_string(i);
    c.events = CaseEvents(c.case_id, spec);
    size_t plan = 0;
    while (!c.events[plan].has_plan_adopted()) ++plan;
    v1::Event second = testing::PlanAdoptedEvent({{Member(c.case_id, 0), v1::ACTION_OWNER_KIND_NETWORK},
                                                  {Member(c.case_id, 1), v1::ACTION_OWNER_KIND_NETWORK},
                                                  {Member(c.case_id, 2), v1::ACTION_OWNER_KIND_NETWORK}});
    *second.mutable_occurred_at() = c.events[plan].occurred_at();
    c.events.insert(c.events.begin() + static_cast<ptrdiff_t>(plan + 1), second);
    cases.push_back(std::move(c));
    retract[cases.size() - 1] = plan + 1;
    ++found["PlanAdopted"];
  }
  for (const auto& [kind, has] : kinds) EXPECT_GT(found[kind], 0) << "no case where a " << kind << " can be left out";

  // Store A: the cohort, then the retractions. Store B: the cohort without
  // the retracted events.
  auto other = OpenStore(dir_.Sub("without"));
  for (size_t c = 0; c < cases.size(); ++c) {
    ASSERT_LE(cases[c].events.size(), 1000u);
    ASSERT_TRUE(store_->Append(Batch(cases[c].case_id, cases[c].events)).ok());
    std::vector<v1::Event> events = cases[c].events;
    if (auto it = retract.find(c); it != retract.end())
      events.erase(events.begin() + static_cast<ptrdiff_t>(it->second));
    ASSERT_TRUE(other->Append(Batch(cases[c].case_id, events)).ok());
  }
  const std::vector<ModelKind> models = AllModels();
  std::vector<std::unique_ptr<ProjectionEngine>> live;
  const auto before = store_->ReadAll(GlobalPosition(1), SIZE_MAX).value();
  for (const ModelKind& m : models) {
    live.push_back(OpenEngine("live-" + m.name, m.factory));
    ASSERT_TRUE(live.back()->ApplyBatch(before).ok());
  }
  for (const auto& [c, e] : retract) {
    ASSERT_TRUE(store_->Append(Batch(cases[c].case_id, {testing::RetractionOf(cases[c].events[e], 2026, 7, 1)})).ok());
  }
  const auto all = store_->ReadAll(GlobalPosition(1), SIZE_MAX).value();
  const std::vector<v1::RecordedEvent> retractions(all.begin() + static_cast<ptrdiff_t>(before.size()), all.end());
  for (auto& engine : live) {
    for (const auto& e : retractions) ASSERT_TRUE(engine->ApplyBatch({e}).ok());
    ASSERT_TRUE(engine->ApplyBatch(all).ok());  // redelivered
  }

  for (size_t i = 0; i < models.size(); ++i) {
    auto expected = OpenEngine("expected-" + models[i].name, models[i].factory, other.get());
    ASSERT_TRUE(expected->CatchUpFromStore().ok());
    auto rebuilt = OpenEngine("rebuilt-" + models[i].name, models[i].factory);
    ASSERT_TRUE(rebuilt->CatchUpFromStore().ok());
    const auto want = models[i].answers(*expected, /*clear_watermark=*/true);
    ExpectSameAnswers(want, models[i].answers(*live[i], true), models[i].name + " live with retractions");
    ExpectSameAnswers(want, models[i].answers(*rebuilt, true), models[i].name + " rebuilt with retractions");
    // Before the retractions the figures differed (the test tests something).
    auto unretracted = OpenEngine("unretracted-" + models[i].name, models[i].factory);
    ASSERT_TRUE(unretracted->ApplyBatch(before).ok());
    EXPECT_NE(want, models[i].answers(*unretracted, true)) << models[i].name;
  }
}

// ---------------------------------------------------------------------------
// 4. "As of P" gives the same answers before and after 10,000 more events.

TEST_F(ResearchTest, AsOfPositionAnswersStayTheSameAfterTenThousandMoreEvents) {
  std::vector<std::string> old_cases;
  AppendSynthetic(*store_, Synthetic(41, 200, 0.05), &old_cases);
  const GlobalPosition p = store_->Head();
  const std::vector<ModelKind> models = AllModels();
  std::vector<std::vector<std::string>> first;
  for (const ModelKind& m : models) {
    auto replayed = ReplayedModel::Build(dir_.Sub("as-of"), m.factory, store_.get(), p);
    ASSERT_TRUE(replayed.ok()) << replayed.status();
    first.push_back(m.answers((*replayed)->engine(), /*clear_watermark=*/false));
  }
  // More cases, and more events in the old ones.
  size_t added = AppendSynthetic(*store_, Synthetic(42, 5000), nullptr, 10000);
  for (size_t i = 0; i < old_cases.size(); i += 4) {
    ASSERT_TRUE(store_
                    ->Append(Batch(old_cases[i], {testing::OutcomeRecordedEvent(v1::OUTCOME_TYPE_PLACEMENT_PREVENTED, 1,
                                                                                2026, 8, 1)}))
                    .ok());
    ++added;
  }
  ASSERT_GE(added, 10000u);
  ASSERT_GE(store_->Head().value(), p.value() + 10000);
  for (size_t i = 0; i < models.size(); ++i) {
    auto replayed = ReplayedModel::Build(dir_.Sub("as-of"), models[i].factory, store_.get(), p);
    ASSERT_TRUE(replayed.ok()) << replayed.status();
    EXPECT_EQ((*replayed)->engine().watermark().max_global_position, p.value());
    ExpectSameAnswers(first[i], models[i].answers((*replayed)->engine(), false), models[i].name + " as of P");
    // The head's answers differ.
    auto at_head = ReplayedModel::Build(dir_.Sub("as-of"), models[i].factory, store_.get(), store_->Head());
    ASSERT_TRUE(at_head.ok()) << at_head.status();
    EXPECT_NE(first[i], models[i].answers((*at_head)->engine(), true)) << models[i].name;
  }
}

// ---------------------------------------------------------------------------
// 5. Disclosure control

// Cases referred in three municipalities: GM0363 12, GM0599 15, GM0014 3.
class DisclosureTest : public ResearchTest {
 protected:
  void AddCohort() {
    for (const auto& [municipality, n] :
         std::vector<std::pair<std::string, int>>{{"GM0363", 12}, {"GM0599", 15}, {"GM0014", 3}}) {
      CaseSpec s;
      s.municipality = municipality;
      s.referred = CivilDay(2022, 6, 1);
      s.coordinator_after = 5;
      s.conference_after = 20;
      s.network = 4;
      s.plan_after = 1;
      s.owners = 2;
      s.follow_ups = {{180, {0, 1}}, {360, {0}}};
      s.outcomes = {{v1::OUTCOME_TYPE_OTS_PREVENTED, 1}};
      AddMany("dc-" + municipality, n, s);
    }
  }

  // For a group count published or not per municipality, and the overall:
  // the small cell is primary, some other one secondary, and the overall
  // minus the published groups is not the small cell's count.
  template <typename Group, typename Get>
  void ExpectProtected(const google::protobuf::RepeatedPtrField<Group>& groups, const Group& overall, Get get,
                       const std::string& what) {
    ASSERT_EQ(groups.size(), 3) << what;
    std::optional<uint64_t> total;
    v1::Suppression total_s;
    std::tie(total, total_s) = get(overall);
    ASSERT_TRUE(total.has_value()) << what << ": the overall count is published";
    EXPECT_EQ(*total, 30u) << what;
    uint64_t published = 0;
    int absent = 0, secondary = 0;
    for (const Group& g : groups) {
      auto [value, s] = get(g);
      if (g.key() == "GM0014") {
        EXPECT_FALSE(value.has_value()) << what;
        EXPECT_EQ(s, v1::SUPPRESSION_PRIMARY) << what;
      }
      if (value) {
        EXPECT_EQ(s, v1::SUPPRESSION_NONE) << what;
        published += *value;
      } else {
        ++absent;
        secondary += s == v1::SUPPRESSION_SECONDARY;
      }
    }
    EXPECT_GE(absent, 2) << what;
    EXPECT_GE(secondary, 1) << what;
    EXPECT_NE(*total - published, 3u) << what;
  }
};

std::pair<std::optional<uint64_t>, v1::Suppression> Opt(bool has, uint64_t value, v1::Suppression s) {
  return {has ? std::optional<uint64_t>(value) : std::nullopt, s};
}

TEST_F(DisclosureTest, ASmallCellIsSuppressedWithAComplementAndCannotBeRecomputed) {
  // Figures computed by hand are exact: this test checks the definition, not
  // the cell key method (cell_key_test, differencing_test).
  const ExactFiguresForTesting exact;
  AddCohort();
  auto outcomes = Rebuilt<OutcomesProjection>("outcomes");
  auto funnel = Rebuilt<FunnelProjection>("funnel");
  auto network = Rebuilt<NetworkSizeProjection>("network");

  v1::OutcomesRequest o;
  o.set_group_by(v1::GROUPING_MUNICIPALITY);
  auto ro = QueryOutcomes(*outcomes, o);  // default k = 10
  ASSERT_TRUE(ro.ok()) << ro.status();
  EXPECT_EQ(ro->disclosure().min_cell_size(), 10u);
  EXPECT_GT(ro->disclosure().primary_cells(), 0u);
  EXPECT_GT(ro->disclosure().secondary_cells(), 0u);
  ExpectProtected(
      ro->groups(), ro->overall(),
      [](const v1::OutcomeGroup& g) { return Opt(g.has_referred(), g.referred(), g.referred_suppression()); },
      "outcomes referred");
  ExpectProtected(
      ro->groups(), ro->overall(),
      [](const v1::OutcomeGroup& g) { return Opt(g.has_conferences(), g.conferences(), g.conferences_suppression()); },
      "outcomes conferences");
  ExpectProtected(
      ro->groups(), ro->overall(),
      [](const v1::OutcomeGroup& g) {
        const v1::OutcomeFigure& f = Figure(g, v1::OUTCOME_TYPE_OTS_PREVENTED);
        return Opt(f.has_referred_cases(), f.referred_cases(), f.referred_suppression());
      },
      "outcomes OTS_PREVENTED");
  for (const auto& g : ro->groups()) {
    if (g.key() != "GM0014") continue;
    EXPECT_FALSE(Figure(g, v1::OUTCOME_TYPE_OTS_PREVENTED).has_per_100_referrals());
  }

  v1::FunnelRequest f;
  f.set_group_by(v1::GROUPING_MUNICIPALITY);
  auto rf = QueryFunnel(*funnel, f);
  ASSERT_TRUE(rf.ok()) << rf.status();
  for (int step = 0; step < 4; ++step) {  // referred, coordinator, conference, plan
    ExpectProtected(
        rf->groups(), rf->overall(),
        [step](const v1::FunnelGroup& g) {
          const v1::FunnelStepFigure& s = g.steps(step);
          return Opt(s.has_cases(), s.cases(), s.suppression());
        },
        "funnel step " + std::to_string(step));
  }
  for (const auto& g : rf->groups()) {
    if (g.key() != "GM0014") continue;
    EXPECT_FALSE(g.steps(2).has_median_days_from_previous());
    EXPECT_FALSE(g.steps(2).has_share_of_referred());
  }

  v1::NetworkSizeRequest n;
  n.set_group_by(v1::GROUPING_MUNICIPALITY);
  auto rn = QueryNetworkSize(*network, n);
  ASSERT_TRUE(rn.ok()) << rn.status();
  ASSERT_EQ(rn->groups_size(), 3);
  // NetworkSizeGroup carries its figures in `stats`: check them as a group.
  std::optional<uint64_t> total =
      rn->overall().has_conferences() ? std::optional<uint64_t>(rn->overall().conferences()) : std::nullopt;
  ASSERT_TRUE(total.has_value());
  EXPECT_EQ(*total, 30u);
  uint64_t published = 0;
  int absent = 0, secondary = 0;
  for (const auto& g : rn->groups()) {
    if (g.key() == "GM0014") {
      EXPECT_FALSE(g.stats().has_conferences());
      EXPECT_FALSE(g.stats().has_mean());
      EXPECT_FALSE(g.stats().has_median());
      EXPECT_EQ(g.stats().suppression(), v1::SUPPRESSION_PRIMARY);
    }
    if (g.stats().has_conferences()) {
      published += g.stats().conferences();
    } else {
      ++absent;
      secondary += g.stats().suppression() == v1::SUPPRESSION_SECONDARY;
    }
  }
  EXPECT_GE(absent, 2);
  EXPECT_GE(secondary, 1);
  EXPECT_NE(*total - published, 3u);
}

// Nested counts: in GM0363, 12 cases are referred and 10 get a coordinator
// (and a conference, and a plan, 8 of which are accepted); GM0599 has 15,
// all the way to acceptance. Published side by side, 12 and 10 would tell
// that 2 cases stopped before a coordinator: the inner count is suppressed,
// and so is every later step whose difference to a published earlier one is
// under k, with complements so that the overall column gives nothing back.
TEST_F(DisclosureTest, ADifferenceOfNestedCountsUnderKIsNotPublished) {
  CaseSpec full;
  full.referred = CivilDay(2022, 6, 1);
  full.coordinator_after = 5;
  full.conference_after = 20;
  full.plan_after = 1;
  full.decision = {{7, v1::PLAN_DECISION_ACCEPTED}};
  CaseSpec referred_only = full;
  referred_only.coordinator_after.reset();
  referred_only.conference_after.reset();
  referred_only.plan_after.reset();
  referred_only.decision.reset();
  CaseSpec not_accepted = full;
  not_accepted.decision.reset();
  AddMany("nd-a", 8, full);
  AddMany("nd-b", 2, not_accepted);
  AddMany("nd-c", 2, referred_only);
  full.municipality = "GM0599";
  AddMany("nd-d", 15, full);

  auto engine = Rebuilt<FunnelProjection>("funnel");
  v1::FunnelRequest request = WithK(v1::FunnelRequest(), 5);
  request.set_group_by(v1::GROUPING_MUNICIPALITY);
  auto r = QueryFunnel(*engine, request);
  ASSERT_TRUE(r.ok()) << r.status();
  // In every row, no two published step counts differ by 1..k-1.
  auto check = [&](const v1::FunnelGroup& g) {
    std::vector<uint64_t> published;
    for (const auto& step : g.steps()) {
      if (step.has_cases()) published.push_back(step.cases());
    }
    for (size_t i = 0; i < published.size(); ++i) {
      for (size_t j = i + 1; j < published.size(); ++j) {
        const uint64_t d = published[i] - published[j];
        EXPECT_TRUE(d == 0 || d >= 5) << g.key() << ": " << published[i] << " - " << published[j];
      }
    }
  };
  check(r->overall());
  for (const auto& g : r->groups()) check(g);
  ASSERT_EQ(r->groups_size(), 2);
  const v1::FunnelGroup& small = r->groups(0);
  ASSERT_EQ(small.key(), "GM0363");
  EXPECT_EQ(small.steps(0).cases(), 12u);  // referred
  EXPECT_FALSE(small.steps(1).has_cases());
  EXPECT_EQ(small.steps(1).suppression(), v1::SUPPRESSION_PRIMARY);
  // Overall: 27 referred, 25 with a coordinator: 2 again, suppressed; the
  // column of coordinators then has two blanks (GM0363 and the overall) and
  // GM0599's 15 alone gives neither back.
  EXPECT_EQ(r->overall().steps(0).cases(), 27u);
  EXPECT_FALSE(r->overall().steps(1).has_cases());
}

TEST_F(DisclosureTest, MinCellSizeBelowFiveIsRefusedAndFiveAllowed) {
  AddCohort();
  auto outcomes = Rebuilt<OutcomesProjection>("outcomes");
  auto funnel = Rebuilt<FunnelProjection>("funnel");
  auto network = Rebuilt<NetworkSizeProjection>("network");
  auto support = Rebuilt<SupportProjection>("support");
  auto expect_refused = [](const absl::Status& s, const std::string& what) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << what << ": " << s;
    EXPECT_NE(s.message().find("disclosure.min_cell_size"), std::string::npos) << what << ": " << s;
  };
  for (uint32_t k : {1u, 4u}) {
    expect_refused(QueryOutcomes(*outcomes, WithK(v1::OutcomesRequest(), k)).status(), "outcomes");
    expect_refused(QueryCostBenefit(*outcomes, WithK(v1::CostBenefitRequest(), k)).status(), "cost-benefit");
    expect_refused(QueryFunnel(*funnel, WithK(v1::FunnelRequest(), k)).status(), "funnel");
    expect_refused(QueryNetworkSize(*network, WithK(v1::NetworkSizeRequest(), k)).status(), "network size");
    expect_refused(QuerySupport(*support, WithK(v1::SupportRequest(), k)).status(), "support");
  }
  v1::OutcomesRequest o;
  o.set_group_by(v1::GROUPING_MUNICIPALITY);
  auto r = QueryOutcomes(*outcomes, WithK(o, 5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->disclosure().min_cell_size(), 5u);
  for (const auto& g : r->groups()) {
    // 3 < 5 still: GM0014 primary, GM0363 (the smallest other) its complement.
    EXPECT_EQ(g.has_referred(), g.key() == "GM0599") << g.key();
  }
  EXPECT_TRUE(QueryFunnel(*funnel, WithK(v1::FunnelRequest(), 5)).ok());
  EXPECT_TRUE(QueryNetworkSize(*network, WithK(v1::NetworkSizeRequest(), 5)).ok());
  EXPECT_TRUE(QuerySupport(*support, WithK(v1::SupportRequest(), 5)).ok());
  EXPECT_TRUE(QueryCostBenefit(*outcomes, WithK(v1::CostBenefitRequest(), 5)).ok());
}

TEST_F(DisclosureTest, NoAnswerContainsACaseParticipantOrCoordinatorId) {
  AddCohort();
  std::vector<std::string> ids;
  for (const std::string& c : ids_) {
    ids.push_back(c);
    ids.push_back(c + "-coord");
    ids.push_back(c + "-pro");
    for (int i = 0; i < 4; ++i) ids.push_back(Member(c, i));
  }
  size_t answers = 0;
  for (const ModelKind& m : AllModels()) {
    auto engine = OpenEngine("ids-" + m.name, m.factory);
    ASSERT_TRUE(engine->CatchUpFromStore().ok());
    for (const std::string& text : m.answers(*engine, /*clear_watermark=*/false)) {
      ++answers;
      for (const std::string& id : ids) EXPECT_EQ(text.find(id), std::string::npos) << m.name << ": " << id;
    }
  }
  // The binary form as well (ids could only hide in strings).
  auto outcomes = Rebuilt<OutcomesProjection>("outcomes");
  v1::OutcomesRequest o;
  o.set_group_by(v1::GROUPING_MUNICIPALITY);
  const std::string bytes = QueryOutcomes(*outcomes, WithK(o, 5))->SerializeAsString();
  for (const std::string& id : ids) EXPECT_EQ(bytes.find(id), std::string::npos) << id;
  EXPECT_GT(answers, 40u);
}

}  // namespace
}  // namespace kring::projections
