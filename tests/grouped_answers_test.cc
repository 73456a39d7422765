// Which groups a grouped research answer lists (issue 13, decision C10;
// docs/research.md, the selection table's group_by): one row per group with
// at least one unit of that answer's population after the filters — a
// referred case (outcomes, funnel), a case with a conference (cost–benefit),
// a case of the support population, a conference (network size) — in key
// order; groups without one are not listed.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "eventstore/event_store.h"
#include "projections/engine.h"
#include "projections/funnel.h"
#include "projections/network_size.h"
#include "projections/outcomes.h"
#include "projections/support.h"
#include "tests/testing/cell_key_testing.h"
#include "tests/testing/test_support.h"

namespace kring::projections {
namespace {

using kring::testing::Batch;

// A case in `municipality`, referred 2022-01-10; with `conference`, also a
// coordinator, a conference of two family members (2022-03-01), a plan they
// own and a follow-up a year later in which both still support.
std::vector<v1::Event> CaseEvents(const std::string& id, const std::string& municipality, bool conference) {
  std::vector<v1::Event> ev = {testing::CaseReferredEvent(v1::DOMAIN_YOUTH_PROTECTION, municipality, 2022, 1, 10)};
  if (!conference) return ev;
  ev.push_back(testing::CoordinatorAssignedEvent(id + "-coord", 2022, 1, 12));
  ev.push_back(testing::ParticipantInvitedEvent(id + "-a", v1::RELATION_FAMILY));
  ev.push_back(testing::ParticipantInvitedEvent(id + "-b", v1::RELATION_FAMILY));
  const google::protobuf::Timestamp referred = ev.front().occurred_at();
  for (v1::Event& e : ev) *e.mutable_occurred_at() = referred;  // the invitations' 2023 date is too late
  ev.push_back(testing::ConferenceHeldEvent({id + "-a", id + "-b", id + "-coord"}, 2022, 3, 1));
  ev.push_back(testing::PlanAdoptedEvent(
      {{id + "-a", v1::ACTION_OWNER_KIND_NETWORK}, {id + "-b", v1::ACTION_OWNER_KIND_NETWORK}}, 2022, 3, 1));
  ev.push_back(testing::FollowUpRecordedEvent({id + "-a", id + "-b"}, 2023, 3, 1));
  return ev;
}

class GroupedAnswersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = kring::testing::OpenUnsyncedStore(dir_.Sub("store"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
    // GM0363: five cases with a conference; GM0599: five referred cases
    // without one.
    for (int i = 0; i < 5; ++i) {
      const std::string with = "with-" + std::to_string(i), without = "without-" + std::to_string(i);
      ASSERT_TRUE(store_->Append(Batch(with, CaseEvents(with, "GM0363", true))).ok());
      ASSERT_TRUE(store_->Append(Batch(without, CaseEvents(without, "GM0599", false))).ok());
    }
  }

  template <typename Model>
  std::unique_ptr<ProjectionEngine> Rebuilt(const std::string& folder) {
    ProjectionOptions options;
    options.path = dir_.Sub(folder);
    auto engine =
        ProjectionEngine::Open(options, std::make_unique<Model>(kring::testing::TestCellKeySecret()), store_.get());
    EXPECT_TRUE(engine.ok()) << engine.status();
    EXPECT_TRUE((*engine)->CatchUpFromStore().ok());
    return std::move(engine).value();
  }

  template <typename Request>
  static Request ByMunicipality() {
    Request r;
    r.set_group_by(v1::GROUPING_MUNICIPALITY);
    r.mutable_disclosure()->set_min_cell_size(5);
    return r;
  }

  template <typename Response>
  static std::vector<std::string> GroupKeys(const absl::StatusOr<Response>& r) {
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> keys;
    if (r.ok()) {
      for (const auto& g : r->groups()) keys.push_back(g.key());
    }
    return keys;
  }

  testing::TempDir dir_;
  std::unique_ptr<eventstore::EventStore> store_;
};

using Keys = std::vector<std::string>;

TEST_F(GroupedAnswersTest, ReferredCaseAnswersListEveryMunicipalityWithAReferral) {
  auto outcomes = Rebuilt<OutcomesProjection>("outcomes");
  EXPECT_EQ(GroupKeys(QueryOutcomes(*outcomes, ByMunicipality<v1::OutcomesRequest>())), Keys({"GM0363", "GM0599"}));
  auto funnel = Rebuilt<FunnelProjection>("funnel");
  EXPECT_EQ(GroupKeys(QueryFunnel(*funnel, ByMunicipality<v1::FunnelRequest>())), Keys({"GM0363", "GM0599"}));
}

// GM0599 has referred cases but none with a conference: cost–benefit,
// network size and support leave it out rather than list a row of zeros.
TEST_F(GroupedAnswersTest, ConferenceAnswersLeaveOutMunicipalitiesWithoutAConference) {
  auto outcomes = Rebuilt<OutcomesProjection>("outcomes");
  EXPECT_EQ(GroupKeys(QueryCostBenefit(*outcomes, ByMunicipality<v1::CostBenefitRequest>())), Keys({"GM0363"}));
  auto network = Rebuilt<NetworkSizeProjection>("network");
  EXPECT_EQ(GroupKeys(QueryNetworkSize(*network, ByMunicipality<v1::NetworkSizeRequest>())), Keys({"GM0363"}));
  auto support = Rebuilt<SupportProjection>("support");
  EXPECT_EQ(GroupKeys(QuerySupport(*support, ByMunicipality<v1::SupportRequest>())), Keys({"GM0363"}));
}

}  // namespace
}  // namespace kring::projections
