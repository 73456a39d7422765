// The differencing attack of issue 13 against the real outcomes read model:
// two answers whose referral periods differ by one day differ by that day's
// referrals; the same pair restricted to every domain but one tells whether
// they were of that domain. With exact figures this isolates every family
// whose referral is alone on its day and domain; with the cell key method
// (projections/cell_key.h) the attacker's inference is noise, while the same
// question keeps giving the same answer, live and "as of" a position.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "eventstore/event_store.h"
#include "projections/cell_key.h"
#include "projections/engine.h"
#include "projections/outcomes.h"
#include "projections/replay.h"
#include "tests/testing/cell_key_testing.h"
#include "tests/testing/test_support.h"

namespace kring::projections {
namespace {

using absl::CivilDay;

constexpr uint32_t kK = 5;
const std::vector<v1::Domain> kDomains = {v1::DOMAIN_YOUTH_PROTECTION, v1::DOMAIN_YOUTH_CARE,
                                          v1::DOMAIN_DOMESTIC_VIOLENCE, v1::DOMAIN_HOUSING};
const CivilDay kFirst{2023, 1, 1};
constexpr int kDays = 400;

class DifferencingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = kring::testing::OpenUnsyncedStore(dir_.Sub("store"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
    // 0 to 3 referrals a day, domains in a fixed irregular pattern: many
    // (day, domain) pairs hold exactly one referral.
    int n = 0;
    for (int d = 0; d < kDays; ++d) {
      const CivilDay day = kFirst + d;
      const int referrals = (d * 7 + 3) % 4;
      for (int i = 0; i < referrals; ++i, ++n) {
        const v1::Domain domain = kDomains[(d * 5 + i * 3 + n) % kDomains.size()];
        const std::string id = "diff-case-" + std::to_string(n);
        auto r = store_->Append(testing::Batch(
            id, {testing::CaseReferredEvent(domain, "GM0363", static_cast<int>(day.year()), day.month(), day.day())}));
        ASSERT_TRUE(r.ok()) << r.status();
        ++truth_[{d, domain}];
      }
    }
    ProjectionOptions engine_options;
    engine_options.path = dir_.Sub("outcomes");
    auto engine = ProjectionEngine::Open(engine_options, Factory()(), store_.get());
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(engine).value();
    ASSERT_TRUE(engine_->CatchUpFromStore().ok());
  }

  static ProjectionFactory Factory() {
    return [] { return std::make_unique<OutcomesProjection>(kring::testing::TestCellKeySecret()); };
  }

  // The published referrals of [kFirst + from, kFirst + to], of every domain
  // but `except` (none: all). Every answer here is far above k.
  int64_t Referred(int from, int to, v1::Domain except = v1::DOMAIN_UNSPECIFIED,
                   const ProjectionEngine* engine = nullptr) const {
    v1::OutcomesRequest request;
    request.mutable_disclosure()->set_min_cell_size(kK);
    request.mutable_referral_period()->set_from(absl::FormatCivilTime(kFirst + from));
    request.mutable_referral_period()->set_to(absl::FormatCivilTime(kFirst + to));
    if (except != v1::DOMAIN_UNSPECIFIED) {
      for (v1::Domain d = v1::DOMAIN_YOUTH_PROTECTION; d <= v1::DOMAIN_OTHER; d = static_cast<v1::Domain>(d + 1)) {
        if (d != except) request.add_domains(d);
      }
    }
    auto r = QueryOutcomes(engine ? *engine : *engine_, request);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->overall().referred_suppression(), v1::SUPPRESSION_NONE);
    return r.ok() ? static_cast<int64_t>(r->overall().referred()) : -1;
  }

  // The attack on (day, domain): the one-day difference of all domains minus
  // that of every domain but this one.
  int64_t Inferred(int day, v1::Domain domain) const {
    return (Referred(0, day) - Referred(0, day - 1)) - (Referred(0, day, domain) - Referred(0, day - 1, domain));
  }

  struct Outcome {
    int targets = 0;       // (day, domain) pairs with exactly one referral
    int isolated = 0;      // of those, inferred as exactly one
    int inferred_one = 0;  // pairs (any truth) inferred as exactly one
    int right = 0;         // pairs (any truth) inferred exactly
    int pairs = 0;
  };
  Outcome Attack() const {
    Outcome o;
    for (int d = 40; d < kDays; ++d) {  // periods of 40 days and more: every answer well above k
      for (v1::Domain domain : kDomains) {
        const auto it = truth_.find({d, domain});
        const int64_t truth = it == truth_.end() ? 0 : it->second;
        const int64_t inferred = Inferred(d, domain);
        ++o.pairs;
        o.right += inferred == truth;
        o.inferred_one += inferred == 1;
        if (truth == 1) {
          ++o.targets;
          o.isolated += inferred == 1;
        }
      }
    }
    std::printf("pairs=%d right=%d targets=%d isolated=%d inferred_one=%d\n", o.pairs, o.right, o.targets, o.isolated,
                o.inferred_one);
    return o;
  }

  testing::TempDir dir_;
  std::unique_ptr<eventstore::EventStore> store_;
  std::unique_ptr<ProjectionEngine> engine_;
  std::map<std::pair<int, v1::Domain>, int64_t> truth_;  // referrals per (day index, domain)
};

TEST_F(DifferencingTest, WithExactFiguresOneDayAndComplementDifferencesIsolateEveryLoneReferral) {
  const ExactFiguresForTesting exact;  // the attack as it worked before the cell key method
  const Outcome o = Attack();
  ASSERT_GT(o.targets, 50);
  EXPECT_EQ(o.isolated, o.targets);
  EXPECT_EQ(o.right, o.pairs);
}

TEST_F(DifferencingTest, WithTheCellKeyMethodTheSameAttackIsWrongMoreOftenThanRight) {
  const Outcome o = Attack();
  ASSERT_GT(o.targets, 50);
  // Four perturbations of -2..2 enter each inference; it is exact only when
  // they cancel (about 22% of pairs for independent cell keys).
  EXPECT_LT(o.isolated * 2, o.targets) << "most families alone on their day and domain are still isolated";
  // An inferred "exactly one referral of that domain on that day" is more
  // often wrong than right.
  int right_ones = 0, ones = 0;
  for (int d = 40; d < kDays; ++d) {
    for (v1::Domain domain : kDomains) {
      if (Inferred(d, domain) != 1) continue;
      ++ones;
      const auto it = truth_.find({d, domain});
      right_ones += it != truth_.end() && it->second == 1;
    }
  }
  std::printf("inferred_one=%d of_which_right=%d\n", ones, right_ones);
  ASSERT_GT(ones, 0);
  EXPECT_LT(right_ones * 2, ones);
}

TEST_F(DifferencingTest, TheSameQueryAlwaysGetsTheSameAnswerSoRepeatingItAveragesNothingAway) {
  for (int d = 40; d < 50; ++d) {
    const int64_t first = Referred(0, d, kDomains[d % kDomains.size()]);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(Referred(0, d, kDomains[d % kDomains.size()]), first);
  }
}

TEST_F(DifferencingTest, AsOfAnswersAreIdenticalAcrossTwoReplaysAndEqualTheLiveOnesAtThatPosition) {
  const GlobalPosition head = store_->Head();
  auto first = ReplayedModel::Build(dir_.Sub("replays"), Factory(), store_.get(), head);
  auto second = ReplayedModel::Build(dir_.Sub("replays"), Factory(), store_.get(), head);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  for (int d = 40; d < kDays; d += 7) {
    for (v1::Domain domain : kDomains) {
      const int64_t live = Referred(0, d, domain);
      EXPECT_EQ(Referred(0, d, domain, &(*first)->engine()), live);
      EXPECT_EQ(Referred(0, d, domain, &(*second)->engine()), live);
    }
  }
}

// What the method does not stop (docs/security.md, docs/research.md):
// averaging the one-day difference over many different periods that all end
// on the target day. Asserted so that the documented residual risk stays
// true: should a defence be added, this test fails and the docs change.
TEST_F(DifferencingTest, AveragingOverThirtyDifferentPeriodsStillRecoversADaysReferralsTheDocumentedResidualRisk) {
  int right = 0, pairs = 0;
  for (int d = 80; d < 120; ++d) {
    double sum = 0;
    constexpr int kStarts = 30;
    for (int s = 0; s < kStarts; ++s) sum += Referred(s, d) - Referred(s, d - 1);
    int64_t truth = 0;
    for (v1::Domain domain : kDomains) {
      const auto it = truth_.find({d, domain});
      if (it != truth_.end()) truth += it->second;
    }
    right += std::llround(sum / kStarts) == truth;
    ++pairs;
  }
  std::printf("averaging over 30 periods: right=%d of %d days\n", right, pairs);
  EXPECT_GT(right * 4, pairs * 3);
}

}  // namespace
}  // namespace kring::projections
