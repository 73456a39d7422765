// Tests of the synthetic cohort generator: reproducibility, valid events,
// the write side's stream rules, and the calibration targets on 10,000 cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "eventstore/event_store.h"
#include "eventstore/validation.h"
#include "synth/cohort.h"
#include "tests/testing/test_support.h"

namespace kring::synth {
namespace {

using v1::Event;

absl::Time Day(int year, int month, int day) {
  return absl::FromCivil(absl::CivilDay(year, month, day), absl::UTCTimeZone());
}

CohortOptions Options(uint64_t seed, size_t cases) {
  CohortOptions options;
  options.seed = seed;
  options.cases = cases;
  options.as_of = Day(2026, 1, 1);  // a fixed cut-off: reproducible on any day
  return options;
}

std::vector<SyntheticCase> Generate(const CohortOptions& options) {
  std::vector<SyntheticCase> cases;
  CohortGenerator generator(options);
  SyntheticCase c;
  while (generator.Next(&c)) cases.push_back(c);
  return cases;
}

// Checks one case against the rules the write side enforces (DESIGN section
// 2) and the formats of eventstore/validation.h. Returns the first problem, or
// "" when the case is valid.
std::string CheckCase(const SyntheticCase& c, int64_t latest_seconds) {
  const int64_t floor_seconds = absl::ToUnixSeconds(Day(1989, 1, 1));
  if (!eventstore::IsValidId(c.case_id) || !absl::StartsWith(c.case_id, "SYNTH-")) return "bad case id";
  if (c.events.empty()) return "no events";
  if (!c.events[0].has_case_referred()) return "does not start with CaseReferred";

  std::map<std::string, v1::Relation> invited;
  std::set<std::string> central_named;
  std::set<std::string> event_ids;
  std::set<std::string> action_ids;
  std::string coordinator;
  bool conference = false, plan = false, stopped = false, closed = false;
  int64_t previous = 0;
  auto all_invited = [&](const auto& ids) {
    for (const std::string& id : ids) {
      if (!invited.count(id)) return false;
    }
    return true;
  };
  for (size_t i = 0; i < c.events.size(); ++i) {
    const Event& e = c.events[i];
    const std::string at = absl::StrCat("event ", i, ": ");
    if (closed) return at + "event after CaseClosed";
    if (!eventstore::IsValidUuid(e.event_id())) return at + "event id is not a UUID";
    if (!event_ids.insert(e.event_id()).second) return at + "event id repeats";
    if (!e.causation_id().empty() && !event_ids.count(e.causation_id())) return at + "causation id unknown";
    if (e.payload_case() == Event::PAYLOAD_NOT_SET) return at + "no payload";
    if (!e.has_occurred_at() || e.occurred_at().nanos() != 0) return at + "no occurred_at";
    const int64_t t = e.occurred_at().seconds();
    if (t < floor_seconds) return at + "before 1989";
    if (t > latest_seconds) return at + "in the future";
    if (t < previous) return at + "occurred_at goes back in time";
    previous = t;

    switch (e.payload_case()) {
      case Event::kCaseReferred:
        if (i != 0) return at + "second CaseReferred";
        for (const std::string& id : e.case_referred().central_person_ids()) central_named.insert(id);
        if (central_named.empty() || central_named.size() > 3) return at + "needs 1-3 central persons";
        break;
      case Event::kCoordinatorAssigned:
        coordinator = e.coordinator_assigned().coordinator_id();
        if (!eventstore::IsValidId(coordinator) || !absl::StartsWith(coordinator, "SYNTH-")) {
          return at + "bad coordinator id";
        }
        break;
      case Event::kParticipantInvited: {
        const auto& p = e.participant_invited();
        if (!eventstore::IsValidId(p.participant_id()) || !absl::StartsWith(p.participant_id(), "SYNTH-")) {
          return at + "bad participant id";
        }
        if (p.central_person() != (central_named.count(p.participant_id()) > 0)) return at + "central flag";
        if (!invited.emplace(p.participant_id(), p.relation()).second) return at + "invited twice";
        break;
      }
      case Event::kParticipantResponded:
        if (!invited.count(e.participant_responded().participant_id())) return at + "response of a stranger";
        break;
      case Event::kPreparationStopped:
        if (conference) return at + "stopped after the conference";
        stopped = true;
        break;
      case Event::kConferenceHeld: {
        const auto& ids = e.conference_held().attendee_ids();
        if (stopped) return at + "conference after PreparationStopped";
        if (coordinator.empty()) return at + "conference without coordinator";
        if (!all_invited(ids)) return at + "attendee not invited";
        if (std::set<std::string>(ids.begin(), ids.end()).size() != static_cast<size_t>(ids.size())) {
          return at + "attendee twice";
        }
        if (std::find(ids.begin(), ids.end(), coordinator) != ids.end()) return at + "coordinator attends";
        for (const std::string& id : central_named) {
          if (std::find(ids.begin(), ids.end(), id) == ids.end()) return at + "central person absent";
        }
        conference = true;
        break;
      }
      case Event::kPlanAdopted: {
        if (!conference) return at + "plan without conference";
        const auto& actions = e.plan_adopted().actions();
        if (actions.size() < 3 || actions.size() > 8) return at + "plan needs 3-8 actions";
        for (const v1::PlanAction& a : actions) {
          if (!eventstore::IsValidId(a.action_id())) return at + "bad action id";
          if (!invited.count(a.owner_id())) return at + "action owner not invited";
          const bool professional = invited[a.owner_id()] == v1::RELATION_PROFESSIONAL;
          if (professional != (a.owner_kind() == v1::ACTION_OWNER_KIND_PROFESSIONAL)) return at + "owner kind";
          action_ids.insert(a.action_id());
        }
        plan = true;
        break;
      }
      case Event::kPlanDecided:
        if (!plan) return at + "decision without plan";
        break;
      case Event::kPlanActionStatusChanged:
        if (!action_ids.count(e.plan_action_status_changed().action_id())) return at + "unknown action";
        break;
      case Event::kFollowUpRecorded:
        if (!plan) return at + "follow-up without plan";
        if (!all_invited(e.follow_up_recorded().active_supporter_ids())) return at + "supporter not invited";
        break;
      case Event::kReviewConferenceHeld:
        if (!plan) return at + "review without plan";
        if (!all_invited(e.review_conference_held().attendee_ids())) return at + "review attendee not invited";
        break;
      case Event::kOutcomeRecorded:
        if (!conference) return at + "outcome without conference";
        break;
      case Event::kCostRecorded:
        if (e.cost_recorded().amount_cents() <= 0 || e.cost_recorded().currency() != "EUR") return at + "cost";
        break;
      case Event::kCaseClosed:
        closed = true;
        break;
      default:
        break;
    }
  }
  return "";
}

// The figures the research read models must be able to show.
struct CohortFigures {
  size_t cases = 0;
  size_t stopped = 0;
  size_t conferences = 0;
  size_t plans = 0;
  std::vector<int> network_sizes;
  std::map<int, std::pair<double, int>> by_year;  // referral year -> (sum, conferences)
  size_t youth_protection_conferences = 0;
  std::map<v1::OutcomeType, int> youth_protection_outcomes;
  double retention_24m_sum = 0;
  int retention_24m_count = 0;
};

// Network size as DESIGN section 4 defines it: distinct attendees that are
// not professionals and not the coordinator, central persons included.
void AddCase(const SyntheticCase& c, CohortFigures* f) {
  ++f->cases;
  std::map<std::string, v1::Relation> relation;
  std::string coordinator;
  int year = 0;
  int64_t conference_at = 0;
  bool youth_protection = false;
  size_t support_network = 0;
  std::set<std::string> owners;
  for (const Event& e : c.events) {
    switch (e.payload_case()) {
      case Event::kCaseReferred:
        year = static_cast<int>(
            absl::ToCivilYear(absl::FromUnixSeconds(e.occurred_at().seconds()), absl::UTCTimeZone()).year());
        youth_protection = e.case_referred().domain() == v1::DOMAIN_YOUTH_PROTECTION;
        break;
      case Event::kCoordinatorAssigned:
        coordinator = e.coordinator_assigned().coordinator_id();
        break;
      case Event::kParticipantInvited:
        relation[e.participant_invited().participant_id()] = e.participant_invited().relation();
        break;
      case Event::kPreparationStopped:
        ++f->stopped;
        break;
      case Event::kConferenceHeld: {
        std::set<std::string> network;
        for (const std::string& id : e.conference_held().attendee_ids()) {
          if (id != coordinator && relation[id] != v1::RELATION_PROFESSIONAL) network.insert(id);
        }
        const int size = static_cast<int>(network.size());
        f->network_sizes.push_back(size);
        f->by_year[year].first += size;
        f->by_year[year].second += 1;
        ++f->conferences;
        if (youth_protection) ++f->youth_protection_conferences;
        conference_at = e.occurred_at().seconds();
        support_network = network.size();
        break;
      }
      case Event::kPlanAdopted:
        ++f->plans;
        for (const v1::PlanAction& a : e.plan_adopted().actions()) {
          if (relation[a.owner_id()] != v1::RELATION_PROFESSIONAL) owners.insert(a.owner_id());
        }
        if (!owners.empty()) support_network = owners.size();
        break;
      case Event::kFollowUpRecorded:
        if (e.occurred_at().seconds() - conference_at > 600 * 86400 && support_network > 0) {
          f->retention_24m_sum +=
              static_cast<double>(e.follow_up_recorded().active_supporter_ids_size()) / support_network;
          ++f->retention_24m_count;
        }
        break;
      case Event::kOutcomeRecorded:
        if (youth_protection) ++f->youth_protection_outcomes[e.outcome_recorded().outcome()];
        break;
      default:
        break;
    }
  }
}

TEST(CohortGeneratorTest, SameSeedGivesIdenticalBytes) {
  const std::vector<SyntheticCase> a = Generate(Options(7, 300));
  const std::vector<SyntheticCase> b = Generate(Options(7, 300));
  ASSERT_EQ(a.size(), 300u);
  ASSERT_EQ(b.size(), 300u);
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].case_id, b[i].case_id);
    ASSERT_EQ(a[i].events.size(), b[i].events.size()) << a[i].case_id;
    for (size_t j = 0; j < a[i].events.size(); ++j) {
      ASSERT_EQ(a[i].events[j].SerializeAsString(), b[i].events[j].SerializeAsString()) << a[i].case_id << " #" << j;
    }
  }
  EXPECT_EQ(a[0].case_id, "SYNTH-7-000001");
}

TEST(CohortGeneratorTest, DifferentSeedGivesDifferentCases) {
  const std::vector<SyntheticCase> a = Generate(Options(1, 50));
  const std::vector<SyntheticCase> b = Generate(Options(2, 50));
  size_t identical = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    std::string x, y;
    for (const Event& e : a[i].events) x += e.SerializeAsString();
    for (const Event& e : b[i].events) y += e.SerializeAsString();
    if (x == y) ++identical;
  }
  EXPECT_EQ(identical, 0u);
  EXPECT_TRUE(absl::StartsWith(b[0].case_id, "SYNTH-2-"));
}

TEST(CohortGeneratorTest, StopsAfterTheRequestedNumberOfCases) {
  CohortGenerator generator(Options(3, 4));
  SyntheticCase c;
  int n = 0;
  while (generator.Next(&c)) ++n;
  EXPECT_EQ(n, 4);
  EXPECT_FALSE(generator.Next(&c));
}

TEST(CohortGeneratorTest, CaseDependsOnlyOnSeedAndNumber) {
  const std::vector<SyntheticCase> all = Generate(Options(11, 120));
  CohortOptions tail = Options(11, 5);
  tail.first_case = 101;
  const std::vector<SyntheticCase> part = Generate(tail);
  ASSERT_EQ(part.size(), 5u);
  for (size_t i = 0; i < part.size(); ++i) {
    const SyntheticCase& whole = all[100 + i];
    EXPECT_EQ(part[i].case_id, whole.case_id);
    ASSERT_EQ(part[i].events.size(), whole.events.size());
    for (size_t j = 0; j < whole.events.size(); ++j) {
      EXPECT_EQ(part[i].events[j].SerializeAsString(), whole.events[j].SerializeAsString());
    }
  }
}

TEST(CohortGeneratorTest, EarlierCutOffGivesAPrefixOfEachCase) {
  // Both cut-offs lie after the last referral year, so the referrals are the
  // same and only later events (conferences, follow-ups) fall away.
  CohortOptions late = Options(5, 200);
  late.first_referral_year = 2023;
  late.last_referral_year = 2024;
  CohortOptions early = late;
  early.as_of = Day(2025, 3, 1);
  const std::vector<SyntheticCase> full = Generate(late);
  const std::vector<SyntheticCase> cut = Generate(early);
  size_t shorter = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    ASSERT_LE(cut[i].events.size(), full[i].events.size());
    if (cut[i].events.size() < full[i].events.size()) ++shorter;
    for (size_t j = 0; j < cut[i].events.size(); ++j) {
      ASSERT_EQ(cut[i].events[j].SerializeAsString(), full[i].events[j].SerializeAsString());
      ASSERT_LE(cut[i].events[j].occurred_at().seconds(), absl::ToUnixSeconds(Day(2025, 2, 28)));
    }
  }
  EXPECT_GT(shorter, 50u);  // recent cases lose their later events
}

TEST(CohortGeneratorTest, NothingLiesInTheFutureWhenReferralsReachToday) {
  CohortOptions options;
  options.seed = 9;
  options.cases = 2000;
  const int this_year = static_cast<int>(absl::ToCivilYear(absl::Now(), absl::UTCTimeZone()).year());
  options.first_referral_year = this_year - 2;
  options.last_referral_year = this_year + 3;  // clamped to this year
  CohortGenerator generator(options);
  const int64_t latest = absl::ToUnixSeconds(absl::Now() - absl::Hours(24));
  EXPECT_LE(absl::ToUnixSeconds(generator.cutoff()), latest + 1);
  SyntheticCase c;
  size_t open = 0;
  while (generator.Next(&c)) {
    const std::string problem = CheckCase(c, latest + 1);
    ASSERT_EQ(problem, "") << c.case_id;
    if (!c.events.back().has_case_closed()) ++open;
  }
  EXPECT_GT(open, 100u);  // recent referrals are still running
}

TEST(CohortGeneratorTest, EveryCaseFollowsTheStreamRules) {
  CohortOptions options;  // the real clock as cut-off
  options.seed = 2024;
  options.cases = 10000;
  CohortGenerator generator(options);
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  std::unordered_set<std::string> event_ids;
  SyntheticCase c;
  size_t events = 0;
  std::map<Event::PayloadCase, size_t> kinds;
  while (generator.Next(&c)) {
    const std::string problem = CheckCase(c, now);
    ASSERT_EQ(problem, "") << c.case_id;
    // The write side's own format checks accept each case as one batch.
    const absl::Status valid =
        eventstore::ValidateBatch(testing::Batch(c.case_id, c.events), eventstore::ValidationOptions{}, absl::Now());
    ASSERT_TRUE(valid.ok()) << c.case_id << ": " << valid;
    for (const Event& e : c.events) {
      ASSERT_TRUE(event_ids.insert(e.event_id()).second) << "event id repeats across cases: " << e.event_id();
      ++kinds[e.payload_case()];
    }
    events += c.events.size();
  }
  std::printf("events: %zu in 10000 cases\n", events);
  // Every payload of the partner catalog appears (all but the correction and
  // erasure events, which a partner does not send in a normal lifecycle).
  for (int k = Event::kCaseReferred; k <= Event::kCaseClosed; ++k) {
    EXPECT_GT(kinds[static_cast<Event::PayloadCase>(k)], 0u) << "payload " << k << " never generated";
  }
}

TEST(CohortGeneratorTest, MatchesTheCalibrationOnTenThousandCases) {
  CohortOptions options;
  options.seed = 1;
  options.cases = 10000;
  // Generation speed first, on its own (a figure to read, not a target).
  const auto start = std::chrono::steady_clock::now();
  size_t events = 0;
  {
    CohortGenerator generator(options);
    SyntheticCase c;
    while (generator.Next(&c)) events += c.events.size();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("generated 10000 cases (%zu events) in %.3f s: %.0f cases/s, %.0f events/s\n", events, seconds,
              10000 / seconds, events / seconds);

  CohortFigures f;
  CohortGenerator generator(options);
  SyntheticCase c;
  while (generator.Next(&c)) AddCase(c, &f);

  ASSERT_GT(f.conferences, 0u);
  std::vector<int> sizes = f.network_sizes;
  std::sort(sizes.begin(), sizes.end());
  double sum = 0;
  for (int s : sizes) sum += s;
  const double mean = sum / sizes.size();
  auto pct = [&](double p) { return sizes[static_cast<size_t>(p * (sizes.size() - 1))]; };
  std::printf("network size: mean %.2f, min %d, p10 %d, p25 %d, median %d, p75 %d, p90 %d, p99 %d, max %d\n", mean,
              sizes.front(), pct(0.1), pct(0.25), pct(0.5), pct(0.75), pct(0.9), pct(0.99), sizes.back());
  EXPECT_GE(mean, 10.5);
  EXPECT_LE(mean, 11.5);
  EXPECT_GE(sizes.front(), 1);
  EXPECT_GE(sizes.back(), 20);  // a tail into the 20s
  for (const auto& [year, acc] : f.by_year) {
    const double year_mean = acc.first / acc.second;
    std::printf("  referral year %d: %d conferences, mean network size %.2f\n", year, acc.second, year_mean);
    EXPECT_GE(year_mean, 8.5) << year;
    EXPECT_LE(year_mean, 11.7) << year;
  }
  EXPECT_EQ(f.by_year.size(), 6u);

  const double stopped = static_cast<double>(f.stopped) / f.cases;
  const double with_plan = static_cast<double>(f.plans) / f.conferences;
  std::printf("stopped in preparation: %.3f of cases; conferences: %zu; with a plan: %.3f\n", stopped, f.conferences,
              with_plan);
  // The issue's ranges: stops in 16-33% of referrals (cases), plans in
  // 82-86% of held conferences (synth/README.md explains the denominators).
  EXPECT_GE(stopped, 0.16);
  EXPECT_LE(stopped, 0.33);
  EXPECT_GE(with_plan, 0.82);
  EXPECT_LE(with_plan, 0.86);

  const double retention = f.retention_24m_sum / f.retention_24m_count;
  std::printf("retention at 24 months: %.3f over %d follow-ups\n", retention, f.retention_24m_count);
  EXPECT_GE(retention, 0.85);
  EXPECT_LE(retention, 0.95);

  const double per100 = 100.0 / f.youth_protection_conferences;
  auto count = [&](v1::OutcomeType t) { return f.youth_protection_outcomes[t]; };
  const double ots = (count(v1::OUTCOME_TYPE_OTS_PREVENTED) + count(v1::OUTCOME_TYPE_OTS_LIFTED)) * per100;
  const double prevented = count(v1::OUTCOME_TYPE_PLACEMENT_PREVENTED) * per100;
  const double ended = count(v1::OUTCOME_TYPE_PLACEMENT_ENDED) * per100;
  std::printf(
      "per 100 youth-protection conferences (%zu): OTS prevented/lifted %.1f, placement prevented %.1f, "
      "placement ended %.1f\n",
      f.youth_protection_conferences, ots, prevented, ended);
  EXPECT_NEAR(ots, 29, 4);
  EXPECT_NEAR(prevented, 44, 4);
  EXPECT_NEAR(ended, 14, 3);
}

// The optional modes leave the calibrated cohort alone: invalid batches come
// from their own random stream, and a correction only changes the wrongly
// entered cost's amount and adds its retraction and the right cost, so the
// live costs (and every other event) stay the same.
TEST(CohortGeneratorTest, CorrectionsAndInvalidModeKeepTheCalibratedEvents) {
  const std::vector<SyntheticCase> plain = Generate(Options(17, 400));
  CohortOptions with_modes = Options(17, 400);
  with_modes.correction_share = 1.0;
  with_modes.invalid_share = 0.5;
  const std::vector<SyntheticCase> modes = Generate(with_modes);
  ASSERT_EQ(plain.size(), modes.size());
  size_t corrected = 0, with_invalid = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_TRUE(plain[i].invalid.empty());
    if (!modes[i].invalid.empty()) ++with_invalid;
    for (const InvalidBatch& b : modes[i].invalid) {
      EXPECT_LE(b.after, modes[i].events.size());
      EXPECT_NE(b.expected.code, absl::StatusCode::kOk) << b.label;
      EXPECT_EQ(b.expected.violation_type.empty(), b.expected.code != absl::StatusCode::kFailedPrecondition) << b.label;
    }
    // Live costs: every CostRecorded not named by an EventRetracted.
    auto live_costs = [](const SyntheticCase& c) {
      std::set<std::string> retracted;
      for (const Event& e : c.events) {
        if (e.has_event_retracted()) retracted.insert(e.event_retracted().retracted_event_id());
      }
      std::multiset<std::pair<int, int64_t>> costs;
      for (const Event& e : c.events) {
        if (e.has_cost_recorded() && !retracted.count(e.event_id())) {
          costs.emplace(e.cost_recorded().kind(), e.cost_recorded().amount_cents());
        }
      }
      return costs;
    };
    EXPECT_EQ(live_costs(plain[i]), live_costs(modes[i])) << plain[i].case_id;
    // Everything else is the same, event for event, in the same order.
    std::vector<std::string> a, b;
    for (const Event& e : plain[i].events) {
      if (!e.has_cost_recorded()) a.push_back(e.SerializeAsString());
    }
    for (const Event& e : modes[i].events) {
      if (!e.has_cost_recorded() && !e.has_event_retracted()) b.push_back(e.SerializeAsString());
    }
    EXPECT_EQ(a, b) << plain[i].case_id;
    const size_t extra = modes[i].events.size() - plain[i].events.size();
    EXPECT_TRUE(extra == 0 || extra == 2) << plain[i].case_id;
    if (extra == 2) ++corrected;
  }
  EXPECT_GT(corrected, 300u);  // every case with a cost before the cut-off
  EXPECT_GT(with_invalid, 150u);
  EXPECT_LT(with_invalid, 250u);
}

}  // namespace
}  // namespace kring::synth
