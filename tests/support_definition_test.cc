// Sustained support follows its published definition (issue 13, defect 1;
// docs/research.md "Two-year sustained support"): marks at months of 30.44
// days with exact window distances, the nearest follow-up (the first in log
// order on one day), retention as one division in double, observation ended
// by the erasure's log position, closure not ending it, and the fallback
// network with the attendees never invited. Hand-made cases, each at least k
// (5) times so that nothing is suppressed; every figure is worked out here.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "eventstore/event_store.h"
#include "projections/cell_key.h"
#include "projections/engine.h"
#include "projections/support.h"
#include "tests/testing/cell_key_testing.h"
#include "tests/testing/test_support.h"

namespace kring::projections {
namespace {

using absl::CivilDay;
using kring::testing::Batch;

constexpr uint32_t kK = 5;
const CivilDay kReferral(2021, 1, 1);
const CivilDay kConference(2021, 1, 15);  // day 0 of every case below

v1::Event On(v1::Event e, CivilDay day) {
  const absl::Time t =
      absl::FromCivil(absl::CivilSecond(day.year(), day.month(), day.day(), 12, 0, 0), absl::UTCTimeZone());
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(t));
  return e;
}

std::string Member(const std::string& id, int i) { return id + "-m" + std::to_string(i); }

// Members m0..m(n-1) of a case reported as still active.
std::vector<std::string> Active(const std::string& id, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(Member(id, i));
  return out;
}

// A case referred 2021-01-01 (central person "<id>-cp", named only in the
// referral), coordinator "<id>-coord", `members` FAMILY members "<id>-m<i>"
// and a professional "<id>-pro" invited; a conference on 2021-01-15 attended
// by the members, the coordinator and the professional (and the central
// person when `central_attends`); a plan the same day whose actions are owned
// by `owners` (kind NETWORK) and the professional (kind PROFESSIONAL).
std::vector<v1::Event> CaseStart(const std::string& id, int members, const std::vector<std::string>& owners,
                                 bool central_attends = false) {
  std::vector<v1::Event> ev;
  v1::Event referral = testing::CaseReferredEvent(
      v1::DOMAIN_YOUTH_PROTECTION, "GM0363", static_cast<int>(kReferral.year()), kReferral.month(), kReferral.day());
  referral.mutable_case_referred()->add_central_person_ids(id + "-cp");
  ev.push_back(referral);
  ev.push_back(On(testing::CoordinatorAssignedEvent(id + "-coord"), kReferral + 4));
  ev.push_back(On(testing::ParticipantInvitedEvent(id + "-pro", v1::RELATION_PROFESSIONAL), kReferral + 5));
  std::vector<std::string> attendees = {id + "-coord", id + "-pro"};
  for (int i = 0; i < members; ++i) {
    ev.push_back(On(testing::ParticipantInvitedEvent(Member(id, i), v1::RELATION_FAMILY), kReferral + 5));
    attendees.push_back(Member(id, i));
  }
  if (central_attends) attendees.push_back(id + "-cp");
  ev.push_back(On(testing::ConferenceHeldEvent(attendees), kConference));
  std::vector<std::pair<std::string, v1::ActionOwnerKind>> actions;
  for (const std::string& owner : owners) actions.emplace_back(owner, v1::ACTION_OWNER_KIND_NETWORK);
  actions.emplace_back(id + "-pro", v1::ACTION_OWNER_KIND_PROFESSIONAL);
  ev.push_back(On(testing::PlanAdoptedEvent(actions), kConference));
  return ev;
}

// A follow-up `days` after the conference reporting `active` as still active.
v1::Event FollowUp(int days, const std::vector<std::string>& active) {
  return On(testing::FollowUpRecordedEvent(active), kConference + days);
}

// Retention of `still` of `network` as the definition computes it: the double
// nearest the rational, one IEEE division of two integers.
double Retention(uint32_t still, uint32_t network) { return static_cast<double>(still) / network; }

class SupportDefinitionTest : public ::testing::Test {
 protected:
  // The definition is checked on exact figures worked out by hand; the cell
  // key perturbation on top is research_test's and cell_key_test's.
  const projections::ExactFiguresForTesting exact_;

  void SetUp() override {
    auto store = kring::testing::OpenUnsyncedStore(dir_.Sub("store"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
    ProjectionOptions engine_options;
    engine_options.path = dir_.Sub("support");
    auto engine = ProjectionEngine::Open(
        engine_options, std::make_unique<SupportProjection>(kring::testing::TestCellKeySecret()), store_.get());
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(engine).value();
  }

  void Append(const std::string& id, std::vector<v1::Event> events) {
    auto r = store_->Append(Batch(id, std::move(events)));
    ASSERT_TRUE(r.ok()) << id << ": " << r.status();
  }
  // The server's PersonalDataErased for the case (as services/erasure.cc
  // appends it), recorded now: after every event appended before.
  void Erase(const std::string& id) {
    eventstore::AppendBatch batch = Batch(id, {});
    batch.server_written = true;
    v1::Event& erased = batch.events.emplace_back(testing::EventOn(2024, 6, 1));
    erased.mutable_personal_data_erased()->set_key_id("k1");
    auto r = store_->Append(std::move(batch));
    ASSERT_TRUE(r.ok()) << id << ": " << r.status();
  }

  // The answer of the read model caught up with the store, at k = 5.
  v1::SupportResponse Query(v1::SupportRequest request = {}) {
    EXPECT_TRUE(engine_->CatchUpFromStore().ok());
    request.mutable_disclosure()->set_min_cell_size(kK);
    auto r = QuerySupport(*engine_, request);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::SupportResponse();
  }

  testing::TempDir dir_;
  std::unique_ptr<eventstore::EventStore> store_;
  std::unique_ptr<ProjectionEngine> engine_;
};

// The 24-month mark is 24 x 30.44 = 730.56 days. With a window of +-30 days a
// follow-up lies in it when |t - 730.56| <= 30 exactly: 701 (29.56) and 760
// (29.44) do, 700 (30.56) and 761 (30.44) do not. (Months of 30.436875 days put
// the mark at 730.485 and 700 at 30.485 from it; a distance rounded to whole
// days takes 761 in as 30.)
TEST_F(SupportDefinitionTest, TwentyFourMonthWindowUsesMonthsOf3044DaysAndExactDistances) {
  // (day, still of 5): five cases each.
  const std::vector<std::pair<int, int>> shapes = {{700, 4}, {701, 3}, {761, 2}, {760, 5}};
  for (size_t s = 0; s < shapes.size(); ++s) {
    for (int copy = 0; copy < 5; ++copy) {
      const std::string id = "w" + std::to_string(s) + "-" + std::to_string(copy);
      std::vector<v1::Event> ev = CaseStart(id, 5, Active(id, 5));
      ev.push_back(FollowUp(shapes[s].first, Active(id, shapes[s].second)));
      Append(id, ev);
    }
  }
  v1::SupportRequest request;
  request.set_window_days(30);
  const v1::SupportResponse r = Query(request);
  const v1::SupportGroup& o = r.overall();
  EXPECT_EQ(o.cases(), 20u);
  ASSERT_EQ(o.retention_size(), 3);
  EXPECT_EQ(o.retention(0).cases(), 0u);
  EXPECT_EQ(o.retention(1).cases(), 0u);
  EXPECT_EQ(o.retention(2).months(), 24u);
  EXPECT_EQ(o.retention(2).suppression(), v1::SUPPRESSION_NONE);
  // The day-701 cases (3/5) and the day-760 cases (5/5).
  ASSERT_TRUE(o.retention(2).has_cases());
  EXPECT_EQ(o.retention(2).cases(), 10u);
  double sum = 0;
  for (int i = 0; i < 5; ++i) sum += Retention(3, 5);
  for (int i = 0; i < 5; ++i) sum += Retention(5, 5);
  EXPECT_DOUBLE_EQ(o.retention(2).mean_retention(), sum / 10);
  EXPECT_EQ(r.disclosure().primary_cells(), 0u);
}

// The 6-month mark is 182.64 days: of follow-ups on days 182 (0.64 off) and
// 183 (0.36 off) the one on 183 is nearest, whichever was recorded first; of
// two follow-ups on one day the first in log order is taken. The 12-month mark
// is 365.28: 365 (0.28 off) beats 366 (0.72 off). The 24-month mark is 730.56:
// 731 (0.44 off) beats 730 (0.56 off); with months of 30.436875 days the mark
// would be 730.485 and 730 the nearer.
TEST_F(SupportDefinitionTest, NearestFollowUpByExactDistanceAndFirstInLogOrderOnOneDay) {
  for (int copy = 0; copy < 5; ++copy) {
    const std::string id = "n-" + std::to_string(copy);
    std::vector<v1::Event> ev = CaseStart(id, 5, Active(id, 5));
    ev.push_back(FollowUp(183, Active(id, 4)));  // 0.8: nearest to 6 months
    ev.push_back(FollowUp(182, Active(id, 1)));  // 0.2: recorded later, dated earlier, farther
    ev.push_back(FollowUp(366, Active(id, 2)));  // 0.4: 0.72 from 365.28
    ev.push_back(FollowUp(365, Active(id, 5)));  // 1.0: nearest to 12 months, first on its day
    ev.push_back(FollowUp(365, Active(id, 3)));  // 0.6: same day, later in the log
    ev.push_back(FollowUp(730, Active(id, 3)));  // 0.6: 0.56 from 730.56
    ev.push_back(FollowUp(731, Active(id, 4)));  // 0.8: nearest to 24 months
    Append(id, ev);
  }
  const v1::SupportGroup o = Query().overall();
  EXPECT_EQ(o.cases(), 5u);
  ASSERT_EQ(o.retention_size(), 3);
  EXPECT_EQ(o.retention(0).cases(), 5u);
  EXPECT_DOUBLE_EQ(o.retention(0).mean_retention(), Retention(4, 5));
  EXPECT_EQ(o.retention(1).cases(), 5u);
  EXPECT_DOUBLE_EQ(o.retention(1).mean_retention(), Retention(5, 5));
  EXPECT_EQ(o.retention(2).cases(), 5u);
  EXPECT_DOUBLE_EQ(o.retention(2).mean_retention(), Retention(4, 5));
  // Kaplan–Meier: the first lapse (retention < 0.8) in time is day 182's 0.2.
  ASSERT_GE(o.curve_size(), 2);
  EXPECT_EQ(o.curve(0).day(), 0u);  // the day-0 row
  EXPECT_EQ(o.curve(0).survival(), 1.0);
  EXPECT_EQ(o.curve(1).day(), 182u);
  EXPECT_EQ(o.curve(1).at_risk(), 5u);
  EXPECT_EQ(o.curve(1).events(), 5u);
  EXPECT_EQ(o.curve(1).survival(), 0.0);
}

// Follow-ups recorded in the log after the case's PersonalDataErased are
// ignored, whatever their occurred_at: a lapse dated 548 days after the
// conference, and one dated 183 days after it (back-dated, before the
// erasure's time). The case keeps what was recorded before the erasure and is
// censored at its last follow-up (365): the erasure does not censor it.
TEST_F(SupportDefinitionTest, FollowUpsRecordedAfterTheErasureAreIgnoredWhateverTheirDate) {
  for (int copy = 0; copy < 5; ++copy) {
    const std::string id = "e-" + std::to_string(copy);
    std::vector<v1::Event> ev = CaseStart(id, 5, Active(id, 5));
    ev.push_back(FollowUp(190, Active(id, 5)));
    ev.push_back(FollowUp(365, Active(id, 4)));
    Append(id, ev);
    Erase(id);
    Append(id, {FollowUp(548, Active(id, 1)), FollowUp(183, Active(id, 2))});
  }
  const v1::SupportGroup o = Query().overall();
  EXPECT_EQ(o.cases(), 5u);
  ASSERT_EQ(o.retention_size(), 3);
  EXPECT_EQ(o.retention(0).cases(), 5u);
  EXPECT_DOUBLE_EQ(o.retention(0).mean_retention(), 1.0);  // day 190, not the back-dated 183
  EXPECT_EQ(o.retention(1).cases(), 5u);
  EXPECT_DOUBLE_EQ(o.retention(1).mean_retention(), Retention(4, 5));
  EXPECT_EQ(o.retention(2).cases(), 0u);  // 548 was the only follow-up within 91 days of 730.56
  // No lapse observed: all five censored at 365.
  ASSERT_EQ(o.curve_size(), 2) << o.DebugString();
  EXPECT_EQ(o.curve(0).day(), 0u);  // the day-0 row
  EXPECT_EQ(o.curve(1).day(), 365u);
  EXPECT_EQ(o.curve(1).at_risk(), 5u);
  EXPECT_EQ(o.curve(1).events(), 0u);
  EXPECT_EQ(o.curve(1).censored(), 5u);
  EXPECT_EQ(o.curve(1).survival(), 1.0);
  EXPECT_EQ(o.survival_12m(), 1.0);
}

// Cases whose only follow-up was recorded after the erasure are not in the
// population at all.
TEST_F(SupportDefinitionTest, CaseWithOnlyFollowUpsAfterTheErasureIsNotInThePopulation) {
  for (int copy = 0; copy < 10; ++copy) {
    const std::string id = "p-" + std::to_string(copy);
    std::vector<v1::Event> ev = CaseStart(id, 5, Active(id, 5));
    if (copy < 5) ev.push_back(FollowUp(365, Active(id, 5)));
    Append(id, ev);
    if (copy >= 5) {
      Erase(id);
      Append(id, {FollowUp(365, Active(id, 5))});
    }
  }
  EXPECT_EQ(Query().overall().cases(), 5u);
}

// The mean at a mark is the exact sum of the per-case retentions (each the
// double nearest still / network), rounded once to double (Python's
// math.fsum), divided by the cases: here 16 cases whose retentions add up to
// 403/30, so the mean is 403/480 to the last bit (math.fsum(...) / 16 ==
// 403 / 480 in Python). Rounding each retention to single precision first
// gives 0.8395833373069763 instead, the 0.8395833373.
TEST_F(SupportDefinitionTest, MeanRetentionIsComputedInDoubleFromExactRetentions) {
  const std::vector<std::pair<int, int>> retentions = {{2, 3},  {3, 3},  {3, 3},   {3, 3},  {3, 5}, {4, 5},
                                                       {4, 5},  {4, 6},  {4, 6},   {5, 5},  {5, 6}, {6, 10},
                                                       {9, 10}, {9, 10}, {10, 10}, {10, 10}};
  for (size_t i = 0; i < retentions.size(); ++i) {
    const auto [still, network] = retentions[i];
    const std::string id = "m-" + std::to_string(i);
    std::vector<v1::Event> ev = CaseStart(id, network, Active(id, network));
    ev.push_back(FollowUp(365, Active(id, still)));
    Append(id, ev);
  }
  const v1::SupportGroup o = Query().overall();
  EXPECT_EQ(o.cases(), 16u);
  ASSERT_EQ(o.retention_size(), 3);
  EXPECT_EQ(o.retention(1).cases(), 16u);
  EXPECT_EQ(o.retention(1).mean_retention(), 403.0 / 480);
}

// The mean does not depend on the order in which cases are kept: the same 40
// cases folded in two different orders (one batch each, first to last and
// last to first) give the same bits. Retentions 1/3, 1/5, 1/7 ... summed
// naively in double differ in the last bits between the two orders.
TEST_F(SupportDefinitionTest, MeanRetentionIsTheSameInAnyOrderOfCases) {
  std::vector<std::pair<int, int>> retentions;
  for (int i = 0; i < 40; ++i) retentions.emplace_back(1 + i % 3, 3 + i % 9);
  for (size_t i = 0; i < retentions.size(); ++i) {
    const auto [still, network] = retentions[i];
    const std::string id = "o-" + std::to_string(i);
    std::vector<v1::Event> ev = CaseStart(id, network, Active(id, network));
    ev.push_back(FollowUp(365, Active(id, still)));
    Append(id, ev);
    // One case per batch: the model keeps the cases in the order they come.
    ASSERT_TRUE(engine_->CatchUpFromStore().ok());
  }
  const double forward = Query().overall().retention(1).mean_retention();

  // A second store holding the same cases' events in the reverse order.
  testing::TempDir other;
  auto store = kring::testing::OpenUnsyncedStore(other.Sub("store"));
  ASSERT_TRUE(store.ok()) << store.status();
  ProjectionOptions engine_options;
  engine_options.path = other.Sub("support");
  auto engine = ProjectionEngine::Open(
      engine_options, std::make_unique<SupportProjection>(kring::testing::TestCellKeySecret()), store->get());
  ASSERT_TRUE(engine.ok()) << engine.status();
  for (size_t i = retentions.size(); i-- > 0;) {
    const auto [still, network] = retentions[i];
    const std::string id = "o-" + std::to_string(i);
    std::vector<v1::Event> ev = CaseStart(id, network, Active(id, network));
    ev.push_back(FollowUp(365, Active(id, still)));
    ASSERT_TRUE((*store)->Append(Batch(id, ev)).ok());
    ASSERT_TRUE((*engine)->CatchUpFromStore().ok());
  }
  v1::SupportRequest request;
  request.mutable_disclosure()->set_min_cell_size(kK);
  auto backward = QuerySupport(**engine, request);
  ASSERT_TRUE(backward.ok()) << backward.status();
  EXPECT_EQ(backward->overall().retention(1).cases(), 40u);
  EXPECT_EQ(backward->overall().retention(1).mean_retention(), forward);
}

// When the plans name no network owner, the support network is every own
// attendee of the conferences, invited or not: here the four invited members
// and the central person named only in the referral (5); not the coordinator
// or the professional. A follow-up naming the four members keeps 4 of 5 (not
// 4 of 4).
TEST_F(SupportDefinitionTest, FallbackNetworkIncludesAttendeesNeverInvited) {
  for (int copy = 0; copy < 5; ++copy) {
    const std::string id = "f-" + std::to_string(copy);
    std::vector<v1::Event> ev = CaseStart(id, 4, /*owners=*/{}, /*central_attends=*/true);
    ev.push_back(FollowUp(365, Active(id, 4)));
    Append(id, ev);
  }
  const v1::SupportGroup o = Query().overall();
  EXPECT_EQ(o.cases(), 5u);
  ASSERT_EQ(o.retention_size(), 3);
  EXPECT_EQ(o.retention(1).cases(), 5u);
  EXPECT_DOUBLE_EQ(o.retention(1).mean_retention(), Retention(4, 5));
}

// An action owner never invited (the central person named in the referral)
// is in the support network too: network {cp, m0}; a follow-up naming cp
// keeps 1 of 2.
TEST_F(SupportDefinitionTest, ActionOwnerNeverInvitedIsInTheSupportNetwork) {
  for (int copy = 0; copy < 5; ++copy) {
    const std::string id = "o-" + std::to_string(copy);
    std::vector<v1::Event> ev = CaseStart(id, 3, {id + "-cp", Member(id, 0)}, /*central_attends=*/true);
    ev.push_back(FollowUp(365, {id + "-cp", Member(id, 1)}));  // m1 owns nothing: not in the network
    Append(id, ev);
  }
  const v1::SupportGroup o = Query().overall();
  EXPECT_EQ(o.cases(), 5u);
  EXPECT_EQ(o.retention(1).cases(), 5u);
  EXPECT_DOUBLE_EQ(o.retention(1).mean_retention(), Retention(1, 2));
}

// Closure does not end observation: a follow-up two years after the
// conference, recorded after CaseClosed, counts for the 24-month figure and
// the curve.
TEST_F(SupportDefinitionTest, FollowUpsAfterCaseClosedCount) {
  for (int copy = 0; copy < 5; ++copy) {
    const std::string id = "c-" + std::to_string(copy);
    std::vector<v1::Event> ev = CaseStart(id, 5, Active(id, 5));
    ev.push_back(FollowUp(365, Active(id, 5)));
    v1::Event closed = On(testing::EventOn(2021, 1, 1), kConference + 400);
    closed.mutable_case_closed()->set_end_reason(v1::END_REASON_COMPLETED_AS_PLANNED);
    ev.push_back(closed);
    ev.push_back(FollowUp(731, Active(id, 3)));
    Append(id, ev);
  }
  const v1::SupportGroup o = Query().overall();
  EXPECT_EQ(o.cases(), 5u);
  ASSERT_EQ(o.retention_size(), 3);
  EXPECT_EQ(o.retention(2).cases(), 5u);
  EXPECT_DOUBLE_EQ(o.retention(2).mean_retention(), Retention(3, 5));
  // The lapse at 731, after the closure: five events (the only row after
  // the day-0 row).
  ASSERT_EQ(o.curve_size(), 2) << o.DebugString();
  EXPECT_EQ(o.curve(0).day(), 0u);
  EXPECT_EQ(o.curve(1).day(), 731u);
  EXPECT_EQ(o.curve(1).at_risk(), 5u);
  EXPECT_EQ(o.curve(1).events(), 5u);
  // S = 1 through day 730: the RMST is the whole 730 days.
  EXPECT_EQ(o.rmst_24m_days(), 730.0);
}

// A follow-up dated before the first conference has t = 0.
TEST_F(SupportDefinitionTest, FollowUpDatedBeforeTheConferenceIsAtDayZero) {
  for (int copy = 0; copy < 5; ++copy) {
    const std::string id = "z-" + std::to_string(copy);
    std::vector<v1::Event> ev = CaseStart(id, 5, Active(id, 5));
    ev.push_back(FollowUp(-3, Active(id, 1)));
    Append(id, ev);
  }
  const v1::SupportGroup o = Query().overall();
  EXPECT_EQ(o.cases(), 5u);
  ASSERT_EQ(o.curve_size(), 1) << o.DebugString();
  EXPECT_EQ(o.curve(0).day(), 0u);
  EXPECT_EQ(o.curve(0).events(), 5u);
}

}  // namespace
}  // namespace kring::projections
