// kringctl append --file: cutting an NDJSON file into batches, locating the
// server's errors in the file, appending against a real kringd, and the
// kringctl binary's output and exit codes.
#include "cli/append_file.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "eventstore/event_store.h"
#include "tests/testing/kringd_process.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

using client::AppendFileOptions;
using client::AppendFileResult;
using client::BatchReader;
using client::FileBatch;
using client::LineError;

// One NDJSON line: a CaseEvent in the protobuf JSON mapping, with the .proto
// field names or (original_names = false) lowerCamelCase ones.
std::string Line(const std::string& case_id, const v1::Event& event, bool original_names = true) {
  v1::CaseEvent line;
  line.set_case_id(case_id);
  *line.mutable_event() = event;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = original_names;
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(line, &out, options).ok());
  return out;
}

std::string WriteFile(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path);
  for (const auto& l : lines) out << l << "\n";
  return path;
}

std::vector<FileBatch> ReadBatches(const std::string& path, const AppendFileOptions& options) {
  auto reader = BatchReader::Open(path, options);
  EXPECT_TRUE(reader.ok()) << reader.status();
  std::vector<FileBatch> batches;
  FileBatch b;
  while ((*reader)->Next(&b)) batches.push_back(b);
  return batches;
}

std::vector<std::string> EventIds(const std::vector<v1::RecordedEvent>& events) {
  std::vector<std::string> ids;
  for (const auto& e : events) ids.push_back(e.event().event_id());
  return ids;
}

// ---------------------------------------------------------------------------
// Without a server
// ---------------------------------------------------------------------------

TEST(BatchReaderTest, GroupsConsecutiveLinesOfACaseAndSplitsAtTheEventLimit) {
  testing::TempDir dir;
  std::vector<std::string> lines = {"# export of 2024-05-01", ""};
  for (int i = 0; i < 7; ++i) lines.push_back(Line("case-a", testing::CaseReferredEvent(), i % 2 == 0));
  lines.push_back("   ");
  lines.push_back(Line("case-b", testing::CaseReferredEvent()));
  lines.push_back(Line("case-a", testing::CaseReferredEvent()));
  const std::string path = WriteFile(dir.Sub("cases.ndjson"), lines);

  AppendFileOptions options;
  options.max_batch_events = 3;
  const auto batches = ReadBatches(path, options);
  ASSERT_EQ(batches.size(), 5u);
  const std::vector<std::vector<uint64_t>> expected = {{3, 4, 5}, {6, 7, 8}, {9}, {11}, {12}};
  for (size_t i = 0; i < batches.size(); ++i) {
    EXPECT_EQ(batches[i].lines, expected[i]) << i;
    EXPECT_TRUE(batches[i].unparsable.empty());
    EXPECT_EQ(batches[i].request.events_size(), static_cast<int>(expected[i].size()));
    EXPECT_FALSE(batches[i].request.has_expected_version());
  }
  EXPECT_EQ(batches[3].request.case_id(), "case-b");
  EXPECT_EQ(batches[4].request.case_id(), "case-a");

  // The same file always gives the same batches.
  const auto again = ReadBatches(path, options);
  ASSERT_EQ(again.size(), batches.size());
  for (size_t i = 0; i < batches.size(); ++i) {
    EXPECT_EQ(again[i].request.SerializeAsString(), batches[i].request.SerializeAsString());
  }
}

TEST(BatchReaderTest, SplitsAtTheByteLimitAndRefusesAnEventLargerThanABatch) {
  testing::TempDir dir;
  const v1::Event event = testing::CaseReferredEvent();
  const size_t size = event.ByteSizeLong();
  v1::Event big = testing::CaseReferredEvent();
  big.mutable_case_referred()->set_municipality_code(std::string(3 * size, 'x'));
  std::vector<std::string> lines;
  for (int i = 0; i < 5; ++i) lines.push_back(Line("case-a", testing::CaseReferredEvent()));
  lines.push_back(Line("case-a", big));
  const std::string path = WriteFile(dir.Sub("cases.ndjson"), lines);

  AppendFileOptions options;
  options.max_batch_bytes = 2 * size + size / 2;  // two events fit, three do not
  const auto batches = ReadBatches(path, options);
  ASSERT_EQ(batches.size(), 4u);
  EXPECT_EQ(batches[0].lines, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(batches[1].lines, (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(batches[2].lines, (std::vector<uint64_t>{5}));
  EXPECT_EQ(batches[3].lines, (std::vector<uint64_t>{6}));
  ASSERT_EQ(batches[3].unparsable.size(), 1u);
  EXPECT_EQ(batches[3].unparsable[0].code, "RESOURCE_EXHAUSTED");
  EXPECT_EQ(batches[3].unparsable[0].line, 6u);
}

TEST(BatchReaderTest, AttributesAnUnparsableLineToItsCaseOrToTheRunBeforeIt) {
  testing::TempDir dir;
  const std::string path = WriteFile(
      dir.Sub("cases.ndjson"),
      {Line("case-a", testing::CaseReferredEvent()), R"({"case_id": "case-a", "event": {"eventId": )",
       R"({"caseId": "case-b", "event": {"caseReferred": {"domain": "NO_SUCH_DOMAIN"}}})",
       R"({"case_id": "case-b", "event": {}, "unknown_field": 1})", Line("case-c", testing::CaseReferredEvent())});
  const auto batches = ReadBatches(path, AppendFileOptions());
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].request.case_id(), "case-a");
  EXPECT_EQ(batches[0].lines, (std::vector<uint64_t>{1, 2}));
  ASSERT_EQ(batches[0].unparsable.size(), 1u);
  EXPECT_EQ(batches[0].unparsable[0].code, client::kUnparsable);
  EXPECT_FALSE(batches[0].unparsable[0].message.empty());
  EXPECT_EQ(batches[1].request.case_id(), "case-b");
  EXPECT_EQ(batches[1].lines, (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(batches[1].unparsable.size(), 2u);
  EXPECT_EQ(batches[1].request.events_size(), 0);
  EXPECT_TRUE(batches[2].unparsable.empty());
}

TEST(LocateServerErrorTest, MapsTheEventIndexToItsLineAndTheRestToTheBatch) {
  const std::vector<uint64_t> lines = {10, 11, 13, 14};
  LineError e = client::LocateServerError(
      3, "events[2].conference_held.attendee_ids[2]: must be an invited participant of this case", lines);
  EXPECT_EQ(e.line, 13u);
  EXPECT_EQ(e.lines, 1u);
  EXPECT_EQ(e.code, "INVALID_ARGUMENT");
  EXPECT_EQ(e.message, "event.conference_held.attendee_ids[2]: must be an invited participant of this case");
  EXPECT_EQ(client::FormatLineError("cases.ndjson", e),
            "cases.ndjson:13: INVALID_ARGUMENT: event.conference_held.attendee_ids[2]: must be an invited "
            "participant of this case");

  e = client::LocateServerError(10, "expected_version: expected version 3, but the case is at version 5", lines);
  EXPECT_EQ(e.line, 10u);
  EXPECT_EQ(e.last_line, 14u);
  EXPECT_EQ(e.lines, 4u);
  EXPECT_EQ(client::FormatLineError("f", e),
            "f:10: ABORTED: expected_version: expected version 3, but the case is at version 5 (4 lines, 10-14)");
  // An index outside the batch is not trusted.
  EXPECT_EQ(client::LocateServerError(3, "events[9].event_id: x", lines).lines, 4u);
}

// ---------------------------------------------------------------------------
// Against a real kringd
// ---------------------------------------------------------------------------

class AppendFileTest : public ::testing::Test {
 protected:
  void SetUp() override { server_ = std::make_unique<testing::KringdProcess>(dir_.Sub("data")); }
  void TearDown() override {
    if (server_) server_->Terminate();
  }

  AppendFileResult Append(const std::string& path, AppendFileOptions options = {}) {
    auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    AppendFileResult r = client::AppendFile(channel, path, options);
    EXPECT_TRUE(r.status.ok()) << r.status;
    // Every line is accounted for exactly once.
    EXPECT_EQ(r.lines_read, r.skipped + r.appended + r.already_present + r.refused + r.unacknowledged);
    return r;
  }

  // Stops the server and reads the cases back from its store.
  std::map<std::string, std::vector<v1::RecordedEvent>> StopAndRead(const std::vector<std::string>& cases) {
    EXPECT_EQ(server_->Terminate(), 0);
    server_.reset();
    eventstore::EventStoreOptions options;
    options.path = dir_.Sub("data") + "/events";
    auto store = std::move(eventstore::EventStore::Open(options)).value();
    std::map<std::string, std::vector<v1::RecordedEvent>> out;
    for (const auto& c : cases) out[c] = store->ReadCase(CaseId(c), StreamVersion(1)).value();
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::KringdProcess> server_;
};

TEST_F(AppendFileTest, AppendsAMultiCaseFileInOrderAndARerunFindsEverythingPresent) {
  // case-a in two runs (split at 4 events), case-b and case-c in one each.
  std::map<std::string, std::vector<std::string>> ids;
  std::vector<std::string> lines = {"# SYNTHETIC export"};
  auto add = [&](const std::string& c, v1::Event e, bool original_names = true) {
    ids[c].push_back(e.event_id());
    lines.push_back(Line(c, e, original_names));
  };
  add("case-a", testing::CaseReferredEvent());
  add("case-a", testing::CoordinatorAssignedEvent("coord-1"));
  for (int i = 0; i < 5; ++i)
    add("case-a", testing::ParticipantInvitedEvent("p-" + std::to_string(i), v1::RELATION_FAMILY), i % 2);
  lines.push_back("");
  add("case-b", testing::CaseReferredEvent(v1::DOMAIN_HOUSING), false);
  add("case-b", testing::CostRecordedEvent(), false);
  add("case-c", testing::CaseReferredEvent());
  add("case-a", testing::ConferenceHeldEvent({"p-1", "p-2"}));
  const std::string path = WriteFile(dir_.Sub("cases.ndjson"), lines);

  AppendFileOptions options;
  options.max_batch_events = 4;
  const AppendFileResult first = Append(path, options);
  EXPECT_EQ(first.lines_read, 13u);
  EXPECT_EQ(first.skipped, 2u);
  EXPECT_EQ(first.appended, 11u);
  EXPECT_EQ(first.already_present, 0u);
  EXPECT_EQ(first.refused, 0u);
  EXPECT_EQ(first.batches, 5u);  // a: 4 + 3, b, c, a
  EXPECT_TRUE(first.errors.empty());

  // The same file again: the same batches, every one already recorded.
  const AppendFileResult second = Append(path, options);
  EXPECT_EQ(second.appended, 0u);
  EXPECT_EQ(second.already_present, 11u);
  EXPECT_EQ(second.refused, 0u);
  EXPECT_TRUE(second.errors.empty());

  const auto stored = StopAndRead({"case-a", "case-b", "case-c"});
  for (const auto& [c, events] : stored) {
    EXPECT_EQ(EventIds(events), ids[c]) << c;
    for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].stream_version(), i + 1) << c;
  }
}

TEST_F(AppendFileTest, ReportsBadLinesByLineNumberAndAppendsTheOtherCases) {
  v1::Event bad_id = testing::CoordinatorAssignedEvent("coord-2");
  bad_id.set_event_id("not-a-uuid");
  const v1::Event b1 = testing::CaseReferredEvent(), b3 = testing::ConferenceHeldEvent({"coord-2"});
  const v1::Event c1 = testing::CaseReferredEvent(), c2 = testing::CoordinatorAssignedEvent("coord-1");
  const std::vector<std::string> good_b2 = {Line("case-b", testing::CoordinatorAssignedEvent("coord-9"))};
  std::vector<std::string> lines = {
      "# line 1 is a comment",
      Line("case-a", testing::CaseReferredEvent()),
      Line("case-a", testing::CoordinatorAssignedEvent("coord-1")),
      Line("case-b", b1),
      Line("case-b", bad_id, false),                      // 5: refused by the server
      Line("case-c", c1),                                 // 6: held back with line 7
      R"({"case_id": "case-c", "event": {"event_id": )",  // 7: not JSON
      Line("case-d", testing::CaseReferredEvent(), false),
      Line("case-b", b3),  // 9: held back, case-b was refused
      Line("case-a", testing::ConferenceHeldEvent({"coord-1"})),
      Line("case-c", c2),  // 11: held back, case-c was refused
  };
  const std::string path = WriteFile(dir_.Sub("cases.ndjson"), lines);

  std::vector<std::string> reported;
  AppendFileOptions options;
  options.on_error = [&](const LineError& e) { reported.push_back(client::FormatLineError("cases.ndjson", e)); };
  const AppendFileResult first = Append(path, options);
  EXPECT_EQ(first.lines_read, 11u);
  EXPECT_EQ(first.skipped, 1u);
  EXPECT_EQ(first.appended, 4u);  // a: 3, d: 1
  EXPECT_EQ(first.refused, 6u);   // b: 2 + 1, c: 2 + 1
  EXPECT_EQ(first.held_back, 3u);
  ASSERT_EQ(first.errors.size(), 5u);
  EXPECT_EQ(first.errors[0].line, 5u);
  EXPECT_EQ(first.errors[0].code, "INVALID_ARGUMENT");
  EXPECT_EQ(first.errors[0].message, "event.event_id: must be a UUID in lowercase hexadecimal (8-4-4-4-12 digits)");
  EXPECT_EQ(first.errors[1].line, 6u);
  EXPECT_EQ(first.errors[1].code, client::kNotSent);
  EXPECT_EQ(first.errors[2].line, 7u);
  EXPECT_EQ(first.errors[2].code, client::kUnparsable);
  EXPECT_EQ(first.errors[3].line, 9u);
  EXPECT_EQ(first.errors[3].code, client::kNotSent);
  EXPECT_EQ(first.errors[4].line, 11u);
  EXPECT_EQ(reported.size(), 5u);
  EXPECT_NE(std::find(reported.begin(), reported.end(),
                      "cases.ndjson:5: INVALID_ARGUMENT: event.event_id: must be a UUID in lowercase hexadecimal "
                      "(8-4-4-4-12 digits)"),
            reported.end());

  // Again: what was stored is already present, the same lines are refused.
  const AppendFileResult second = Append(path, options);
  EXPECT_EQ(second.appended, 0u);
  EXPECT_EQ(second.already_present, 4u);
  EXPECT_EQ(second.refused, 6u);
  ASSERT_EQ(second.errors.size(), first.errors.size());
  for (size_t i = 0; i < first.errors.size(); ++i) EXPECT_EQ(second.errors[i].message, first.errors[i].message);

  // Fixed in place: the batches keep their cut, so the refused lines are
  // appended and every case keeps the file's order.
  v1::Event fixed_id = bad_id;
  fixed_id.set_event_id(testing::NewUuid());
  lines[4] = Line("case-b", fixed_id);
  const v1::Event c_fixed = testing::ParticipantInvitedEvent("p-1", v1::RELATION_FRIEND);
  lines[6] = Line("case-c", c_fixed);
  WriteFile(path, lines);
  const AppendFileResult third = Append(path, options);
  EXPECT_EQ(third.appended, 6u);
  EXPECT_EQ(third.already_present, 4u);
  EXPECT_EQ(third.refused, 0u);
  EXPECT_TRUE(third.errors.empty());

  const auto stored = StopAndRead({"case-a", "case-b", "case-c", "case-d"});
  EXPECT_EQ(stored.at("case-a").size(), 3u);
  EXPECT_EQ(EventIds(stored.at("case-b")),
            (std::vector<std::string>{b1.event_id(), fixed_id.event_id(), b3.event_id()}));
  EXPECT_EQ(EventIds(stored.at("case-c")),
            (std::vector<std::string>{c1.event_id(), c_fixed.event_id(), c2.event_id()}));
  EXPECT_EQ(stored.at("case-d").size(), 1u);
}

// ---------------------------------------------------------------------------
// The kringctl binary
// ---------------------------------------------------------------------------

int ExitCode(const testing::CommandResult& r) { return WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1; }

TEST_F(AppendFileTest, KringctlPrintsTheSummaryAndReturnsTheDocumentedExitCodes) {
  const std::string kringctl = std::string(KRING_KRINGCTL_PATH) + " --server " + server_->address();
  const std::string good = WriteFile(dir_.Sub("good.ndjson"), {Line("case-a", testing::CaseReferredEvent()),
                                                               Line("case-a", testing::CostRecordedEvent())});
  auto r = testing::RunCommand(kringctl + " append --file " + good + " 2>&1");
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("events appended +2\n"))) << r.output;

  r = testing::RunCommand(kringctl + " append --json --file " + good + " 2>/dev/null");
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  const auto summary = nlohmann::json::parse(r.output);
  EXPECT_EQ(summary["lines_read"], 2);
  EXPECT_EQ(summary["events_appended"], 0);
  EXPECT_EQ(summary["already_present"], 2);
  EXPECT_EQ(summary["refused"], 0);
  EXPECT_EQ(summary["skipped"], 0);

  const std::string bad = WriteFile(dir_.Sub("bad.ndjson"), {Line("case-b", testing::CaseReferredEvent()), "{oops"});
  r = testing::RunCommand(kringctl + " append --no-progress --file " + bad + " 2>&1");
  EXPECT_EQ(ExitCode(r), 1) << r.output;
  EXPECT_NE(r.output.find(bad + ":2: UNPARSABLE: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(bad + ":1: NOT_SENT: "), std::string::npos) << r.output;

  r = testing::RunCommand(kringctl + " append --file " + dir_.Sub("missing.ndjson") + " 2>&1");
  EXPECT_EQ(ExitCode(r), 2) << r.output;
  r = testing::RunCommand(kringctl + " append --file " + good + " --no-such-flag 2>&1");
  EXPECT_EQ(ExitCode(r), 2) << r.output;
  r = testing::RunCommand(kringctl + " append 2>&1");
  EXPECT_EQ(ExitCode(r), 2) << r.output;

  const std::string port = server_->address().substr(server_->address().rfind(':') + 1);
  EXPECT_EQ(server_->Terminate(), 0);
  server_.reset();
  r = testing::RunCommand(std::string(KRING_KRINGCTL_PATH) + " --server 127.0.0.1:" + port +
                          " append --connect-timeout 1 --file " + good + " 2>&1");
  EXPECT_EQ(ExitCode(r), 3) << r.output;
}

}  // namespace
}  // namespace kring
