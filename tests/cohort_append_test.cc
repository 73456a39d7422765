// The synthetic cohort against the real write side: a cohort of 10,000 cases
// appended to an EventStore (RocksDB) in partner-sized batches with zero
// refusals, and the generator's invalid mode refused event for event as
// labelled, with nothing of a refused batch stored.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/errors.h"
#include "eventstore/event_store.h"
#include "google/rpc/error_details.pb.h"
#include "synth/cohort.h"
#include "tests/testing/test_support.h"

namespace kring::synth {
namespace {

using eventstore::AppendBatch;
using eventstore::AppendOutcome;
using eventstore::EventStore;
using eventstore::ExpectedVersion;

// A new batch starts when an event lies more than this after the first event
// of the batch: a partner system sends what happened in the last two weeks or
// so (a referral with its coordinator, a round of invitations, a conference
// with its plan, each follow-up), so a case arrives in a handful of batches.
constexpr int64_t kBatchWindowSeconds = 14 * 86400;

std::unique_ptr<EventStore> OpenStore(const testing::TempDir& dir) {
  eventstore::EventStoreOptions options;
  options.path = dir.Sub("store");
  // sync=false: these tests check which events the write side accepts and
  // refuses, not durability (eventstore_test covers that), and an fsync per
  // group write, with one batch per group here, would make the 10,000-case
  // cohort take minutes instead of seconds on this machine's disk.
  options.sync = false;
  auto store = EventStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return std::move(*store);
}

absl::Time Day(int year, int month, int day) {
  return absl::FromCivil(absl::CivilDay(year, month, day), absl::UTCTimeZone());
}

// Where the batches of a case begin: at the first event, when the time window
// is over, and at every point where an invalid batch is to be sent.
std::vector<size_t> BatchStarts(const SyntheticCase& c) {
  std::set<size_t> starts = {0};
  int64_t first = c.events.empty() ? 0 : c.events[0].occurred_at().seconds();
  for (size_t i = 1; i < c.events.size(); ++i) {
    if (c.events[i].occurred_at().seconds() - first > kBatchWindowSeconds) {
      starts.insert(i);
      first = c.events[i].occurred_at().seconds();
    }
  }
  for (const InvalidBatch& b : c.invalid) starts.insert(b.after);
  return {starts.begin(), starts.end()};
}

// "" when `result` is the refusal `b` expects; else what differs.
std::string CompareRefusal(const absl::StatusOr<AppendOutcome>& result, const InvalidBatch& b) {
  if (result.ok()) return "was accepted";
  const absl::Status& s = result.status();
  const ExpectedRefusal& x = b.expected;
  if (s.code() != x.code) {
    return absl::StrCat("code ", absl::StatusCodeToString(s.code()), ", expected ", absl::StatusCodeToString(x.code),
                        ": ", s.message());
  }
  if (!absl::StartsWith(s.message(), x.field + ": ")) {
    return absl::StrCat("message \"", s.message(), "\" does not start with \"", x.field, ": \"");
  }
  if (x.code == absl::StatusCode::kFailedPrecondition) {
    const auto payload = s.GetPayload(kPreconditionFailureTypeUrl);
    google::rpc::PreconditionFailure details;
    if (!payload || !details.ParseFromString(std::string(*payload))) return "no PreconditionFailure details";
    if (details.violations_size() != 1) return absl::StrCat(details.violations_size(), " violations, expected 1");
    if (details.violations(0).type() != x.violation_type) {
      return absl::StrCat("violation type ", details.violations(0).type(), ", expected ", x.violation_type);
    }
    if (details.violations(0).subject() != x.field) {
      return absl::StrCat("violation subject ", details.violations(0).subject(), ", expected ", x.field);
    }
    if (s.GetPayload(kBadRequestTypeUrl)) return "also carries BadRequest details";
    return "";
  }
  const auto payload = s.GetPayload(kBadRequestTypeUrl);
  google::rpc::BadRequest details;
  if (!payload || !details.ParseFromString(std::string(*payload))) return "no BadRequest details";
  if (details.field_violations_size() != 1) {
    return absl::StrCat(details.field_violations_size(), " field violations, expected 1: ", s.message());
  }
  if (details.field_violations(0).field() != x.field) {
    return absl::StrCat("field ", details.field_violations(0).field(), ", expected ", x.field);
  }
  if (s.GetPayload(kPreconditionFailureTypeUrl)) return "also carries PreconditionFailure details";
  return "";
}

// What appending a cohort gave.
struct AppendTally {
  size_t cases = 0;
  size_t events = 0;
  size_t batches = 0;
  size_t refused = 0;  // valid batches refused: must stay 0
  size_t stopped = 0;
  size_t conferences = 0;
  size_t plans = 0;
  size_t retractions = 0;
  size_t invalid_sent = 0;
  size_t invalid_as_expected = 0;
  std::map<std::string, size_t> labels;  // invalid batches refused as labelled, by label
  std::string first_problem;
};

// Appends every case of `options` to `store`: the valid events in batches
// with exact expected versions, and each invalid batch alone at its point.
AppendTally AppendCohort(const CohortOptions& options, EventStore& store) {
  AppendTally t;
  CohortGenerator generator(options);
  SyntheticCase c;
  while (generator.Next(&c)) {
    ++t.cases;
    for (const v1::Event& e : c.events) {
      t.stopped += e.has_preparation_stopped();
      t.conferences += e.has_conference_held();
      t.plans += e.has_plan_adopted();
      t.retractions += e.has_event_retracted();
    }
    const std::vector<size_t> starts = BatchStarts(c);
    size_t next_invalid = 0;
    uint64_t version = 0;
    for (size_t k = 0; k <= starts.size(); ++k) {
      const size_t begin = k < starts.size() ? starts[k] : c.events.size();
      // The invalid batches due before events[begin].
      for (; next_invalid < c.invalid.size() && c.invalid[next_invalid].after <= begin; ++next_invalid) {
        const InvalidBatch& b = c.invalid[next_invalid];
        const GlobalPosition head = store.Head();
        const absl::StatusOr<AppendOutcome> r = store.Append(testing::Batch(b.case_id, {b.event}));
        ++t.invalid_sent;
        std::string problem = b.after == begin ? CompareRefusal(r, b) : "sent at the wrong point";
        if (problem.empty() && store.Head() != head) problem = "the head moved";
        if (problem.empty()) {
          ++t.invalid_as_expected;
          ++t.labels[b.label];
        } else if (t.first_problem.empty()) {
          t.first_problem = absl::StrCat(c.case_id, " invalid ", b.label, " after ", b.after, ": ", problem);
        }
      }
      if (k == starts.size()) break;
      const size_t end = k + 1 < starts.size() ? starts[k + 1] : c.events.size();
      if (begin == end) continue;
      std::vector<v1::Event> events(c.events.begin() + static_cast<ptrdiff_t>(begin),
                                    c.events.begin() + static_cast<ptrdiff_t>(end));
      const absl::StatusOr<AppendOutcome> r =
          store.Append(testing::Batch(c.case_id, std::move(events), ExpectedVersion::Exact(version)));
      ++t.batches;
      if (!r.ok()) {
        ++t.refused;
        if (t.first_problem.empty()) {
          t.first_problem = absl::StrCat(c.case_id, " events [", begin, ", ", end, "): ", r.status().ToString());
        }
        break;  // the rest of the case would be refused too
      }
      version = r->last_version.value();
      t.events += end - begin;
    }
  }
  return t;
}

TEST(CohortAppendTest, TenThousandCasesAppendWithZeroRefusals) {
  testing::TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  CohortOptions options;
  options.seed = 1;
  options.cases = 10000;
  options.as_of = Day(2026, 6, 30);  // the demo's cut-off: the same cohort on any later day
  // 1% of cases correct a wrongly entered cost (retraction + new cost), so
  // the corrections pass the write side's retraction rules too.
  options.correction_share = 0.01;

  const auto start = std::chrono::steady_clock::now();
  const AppendTally t = AppendCohort(options, *store);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("appended %zu cases, %zu events in %zu batches in %.1f s (%.0f events/s); refused %zu\n", t.cases,
              t.events, t.batches, seconds, t.events / seconds, t.refused);
  std::printf("stopped in preparation: %.3f of referrals; plan at %.3f of conferences (%zu); %zu corrections\n",
              static_cast<double>(t.stopped) / t.cases, static_cast<double>(t.plans) / t.conferences, t.conferences,
              t.retractions);
  EXPECT_EQ(t.refused, 0u) << t.first_problem;
  EXPECT_EQ(t.cases, 10000u);
  EXPECT_EQ(store->Head().value(), t.events);
  EXPECT_GT(t.batches, 3 * t.cases);  // a few batches per case, not one
  EXPECT_GT(t.retractions, 50u);
  // The calibration ranges of the issue (synth/README.md): stops among
  // referrals, plans among held conferences.
  EXPECT_GE(static_cast<double>(t.stopped) / t.cases, 0.16);
  EXPECT_LE(static_cast<double>(t.stopped) / t.cases, 0.33);
  EXPECT_GE(static_cast<double>(t.plans) / t.conferences, 0.82);
  EXPECT_LE(static_cast<double>(t.plans) / t.conferences, 0.86);
}

TEST(CohortAppendTest, InvalidModeIsRefusedAsLabelledAndStoresNothing) {
  testing::TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  CohortOptions options;
  options.seed = 3;
  options.cases = 1000;
  options.as_of = Day(2026, 6, 30);
  options.invalid_share = 0.3;
  // Corrections give the retraction rules (RETRACTION_OF_RETRACTION,
  // ALREADY_RETRACTED) something to refuse.
  options.correction_share = 0.2;

  const AppendTally t = AppendCohort(options, *store);
  std::printf("%zu invalid batches, %zu refused as labelled, %zu labels:\n", t.invalid_sent, t.invalid_as_expected,
              t.labels.size());
  for (const auto& [label, n] : t.labels) std::printf("  %-32s %zu\n", label.c_str(), n);

  EXPECT_EQ(t.invalid_as_expected, t.invalid_sent) << t.first_problem;
  EXPECT_EQ(t.refused, 0u) << t.first_problem;
  EXPECT_EQ(store->Head().value(), t.events);
  EXPECT_GE(t.invalid_sent, 200u);
  EXPECT_GE(t.labels.size(), 20u);
  // Every case rule and every kind of format error the generator knows shows
  // up in this (deterministic) cohort.
  for (const char* label : {"REFERRAL_FIRST",
                            "REFERRAL_ONCE",
                            "PARTICIPANT_NOT_INVITED",
                            "PREPARATION_OVER",
                            "CONFERENCE_NEEDS_COORDINATOR",
                            "ATTENDEE_NOT_INVITED",
                            "PLAN_NEEDS_CONFERENCE",
                            "ACTION_OWNER_NOT_INVITED",
                            "DECISION_NEEDS_PLAN",
                            "UNKNOWN_ACTION",
                            "FOLLOW_UP_NEEDS_PLAN",
                            "SUPPORTER_NOT_INVITED",
                            "REVIEW_NEEDS_PLAN",
                            "REVIEW_ATTENDEE_NOT_INVITED",
                            "CASE_CLOSED",
                            "RETRACTED_EVENT_UNKNOWN",
                            "RETRACTION_OF_RETRACTION",
                            "ALREADY_RETRACTED",
                            "BATCH_TOO_LARGE",
                            "CASE_ID_MALFORMED",
                            "EVENT_ID_NOT_UUID",
                            "OCCURRED_AT_IN_FUTURE",
                            "ENUM_UNSPECIFIED",
                            "ENUM_UNKNOWN"}) {
    EXPECT_GT(t.labels.count(label), 0u) << label;
  }
}

}  // namespace
}  // namespace kring::synth
