// Requests that do not decode (issue 12, defect 5), sent as raw bytes over a
// real socket to an in-process KringServer:
//  - unary Append answers INVALID_ARGUMENT naming what could not be decoded
//    and where (a google.rpc.BadRequest field path), for truncated varints,
//    unmatched end-groups, nesting past protobuf's limit and invalid UTF-8;
//  - on AppendStream such a request is acknowledged with INVALID_ARGUMENT
//    under its request_id (when that can be read), and the stream's valid
//    batches before and after it are stored and answered;
//  - the wire walk itself agrees with the protobuf parser on every case.
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/sync_stream.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "services/append_request.h"
#include "services/server.h"
#include "services/wire_walk.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

constexpr char kAppend[] = "/kring.v1.IngestService/Append";
constexpr char kAppendStream[] = "/kring.v1.IngestService/AppendStream";

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// A valid request for a new case: a referral and a coordinator.
v1::AppendRequest Valid(const std::string& case_id, uint64_t request_id) {
  v1::AppendRequest r;
  r.set_case_id(case_id);
  *r.add_events() = testing::CaseReferredEvent();
  *r.add_events() = testing::CoordinatorAssignedEvent("coord-1");
  r.set_request_id(request_id);
  return r;
}

// The undecodable requests, each with what the error must say. Every one is a
// valid request with damage after (or inside) it, so its request_id (field 4)
// is readable unless the damage breaks the top level before it.
struct Garbage {
  std::string name;
  std::string bytes;
  std::string field;  // the BadRequest field path
  std::string rule;   // a part of the description
};

std::vector<Garbage> GarbageCases(uint64_t request_id) {
  std::vector<Garbage> out;
  const std::string valid = Valid("garbage-case", request_id).SerializeAsString();
  // Field 5 (unknown) as a varint with a continuation bit and nothing after.
  out.push_back({"truncated varint", valid + "\x28\xff", "<field 5>",
                 absl::StrCat("truncated varint at byte ", valid.size() + 1)});
  // An end-group tag (field 5, wire type 4) with no group open.
  out.push_back({"unmatched end-group", valid + "\x2c", "request",
                 absl::StrCat("end-group tag of field 5 at byte ", valid.size(), " without a group")});
  // 150 nested groups of field 5, properly closed: past the limit of 100.
  out.push_back({"deep nesting", valid + std::string(150, '\x2b') + std::string(150, '\x2c'), "<field 5>",
                 "nesting deeper than 100"});
  // Invalid UTF-8 in a proto3 string: the first attendee of the third event.
  v1::AppendRequest with_conference = Valid("garbage-case", request_id);
  *with_conference.add_events() = testing::ConferenceHeldEvent({"ZZZZ", "p-2"});
  std::string bad_utf8 = with_conference.SerializeAsString();
  bad_utf8.replace(bad_utf8.find("ZZZZ"), 4, "\xff\xfe\xc3\x28");
  out.push_back(
      {"invalid UTF-8", bad_utf8, "events[2].conference_held.attendee_ids[0]", "invalid UTF-8 in a string field"});
  return out;
}

TEST(WireWalkTest, NamesWhatTheProtobufParserRefuses) {
  for (const Garbage& g : GarbageCases(12)) {
    SCOPED_TRACE(g.name);
    v1::AppendRequest parsed;
    ASSERT_FALSE(parsed.ParseFromString(g.bytes)) << "the case must be garbage to protobuf itself";
    auto problem = services::FindWireProblem(*v1::AppendRequest::descriptor(), g.bytes);
    ASSERT_TRUE(problem.has_value());
    EXPECT_EQ(problem->field.empty() ? "request" : problem->field, g.field);
    EXPECT_NE(problem->rule.find(g.rule), std::string::npos) << problem->rule;
    EXPECT_EQ(services::ReadableRequestId(g.bytes), std::optional<uint64_t>(12));
  }
}

TEST(WireWalkTest, FindsNothingInWhatParsesAndAgreesOnTheNestingLimit) {
  const std::string valid = Valid("walk-case", 3).SerializeAsString();
  EXPECT_FALSE(services::FindWireProblem(*v1::AppendRequest::descriptor(), valid).has_value());
  // Exactly at protobuf's limit: both accept; one deeper: both refuse.
  for (int depth : {99, 100, 101}) {
    SCOPED_TRACE(depth);
    const std::string bytes = valid + std::string(depth, '\x2b') + std::string(depth, '\x2c');
    v1::AppendRequest parsed;
    const bool parses = parsed.ParseFromString(bytes);
    EXPECT_EQ(parses, !services::FindWireProblem(*v1::AppendRequest::descriptor(), bytes).has_value());
  }
  // A truncated top level: request_id (written last) cannot be read.
  EXPECT_FALSE(services::ReadableRequestId(valid.substr(0, valid.size() / 2)).has_value());
  EXPECT_TRUE(services::IsValidUtf8("Zoë 👪"));
  EXPECT_FALSE(services::IsValidUtf8("\xc0\xaf"));      // overlong '/'
  EXPECT_FALSE(services::IsValidUtf8("\xed\xa0\x80"));  // a surrogate
  EXPECT_FALSE(services::IsValidUtf8("\xe2\x82"));      // truncated
}

// Random damage (seeded: flipped bytes, cuts, inserted bytes) to a request
// with every kind of field: the walk finds a problem exactly when protobuf
// refuses the bytes, so every refusal can be named.
TEST(WireWalkTest, AgreesWithTheProtobufParserOnRandomDamage) {
  v1::AppendRequest request = Valid("random-case", 77);
  *request.add_events() = testing::ConferenceHeldEvent({"p-1", "p-2", "coord-1"});
  *request.add_events() = testing::PlanAdoptedEvent({{"p-1", v1::ACTION_OWNER_KIND_NETWORK}});
  request.mutable_expected_version()->set_exact(4);
  const std::string valid = request.SerializeAsString();
  std::mt19937 random(12);
  int refused = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = valid;
    const int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      const size_t at = random() % bytes.size();
      switch (random() % 3) {
        case 0:
          bytes[at] = static_cast<char>(random());
          break;
        case 1:
          bytes.resize(at);
          break;
        default:
          bytes.insert(at, 1, static_cast<char>(random()));
      }
    }
    v1::AppendRequest parsed;
    const bool parses = parsed.ParseFromString(bytes);
    const auto problem = services::FindWireProblem(*v1::AppendRequest::descriptor(), bytes);
    ASSERT_EQ(parses, !problem.has_value())
        << "case " << i << ": " << (problem ? problem->field + ": " + problem->rule : "no problem found");
    refused += !parses;
  }
  EXPECT_GT(refused, 1000) << "the damage must often be fatal for this test to mean anything";
}

class GarbageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    services::ServerOptions options;
    options.data_dir = dir_->Sub("data");
    options.listen = "127.0.0.1:0";
    options.shutdown_timeout = std::chrono::milliseconds(5000);
    auto server = services::KringServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }

  static grpc::Status RawAppend(const std::string& bytes, v1::AppendResult* result = nullptr) {
    auto channel = testing::NewChannel(server_->address());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::ByteBuffer response;
    grpc::Status s = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
        channel.get(), grpc::internal::RpcMethod(kAppend, grpc::internal::RpcMethod::NORMAL_RPC), &context,
        ToBuffer(bytes), &response);
    if (s.ok() && result) EXPECT_TRUE(result->ParseFromString(FromBuffer(response)));
    return s;
  }

  // An AppendStream that sends and receives raw bytes.
  static std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> RawStream(
      const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext* context) {
    return std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>>(
        grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
            channel.get(), grpc::internal::RpcMethod(kAppendStream, grpc::internal::RpcMethod::BIDI_STREAMING),
            context));
  }

  static size_t Version(const std::string& case_id) {
    auto v = server_->store().CaseVersion(CaseId(case_id));
    return v.ok() ? v->value() : 0;
  }

  static testing::TempDir* dir_;
  static services::KringServer* server_;
};

testing::TempDir* GarbageTest::dir_ = nullptr;
services::KringServer* GarbageTest::server_ = nullptr;

TEST_F(GarbageTest, UnaryAppendRefusesUndecodableBytesWithInvalidArgumentNamingTheFieldPath) {
  for (const Garbage& g : GarbageCases(7)) {
    SCOPED_TRACE(g.name);
    grpc::Status s = RawAppend(g.bytes);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_NE(s.error_message().find(g.field + ": "), std::string::npos) << s.error_message();
    EXPECT_NE(s.error_message().find(g.rule), std::string::npos) << s.error_message();
    google::rpc::Status details;
    ASSERT_TRUE(details.ParseFromString(s.error_details()));
    ASSERT_EQ(details.details_size(), 1);
    google::rpc::BadRequest bad;
    ASSERT_TRUE(details.details(0).UnpackTo(&bad));
    ASSERT_EQ(bad.field_violations_size(), 1);
    EXPECT_EQ(bad.field_violations(0).field(), g.field);
  }
  EXPECT_EQ(Version("garbage-case"), 0u) << "nothing of an undecodable request is stored";
  // The server still takes a valid request.
  v1::AppendResult result;
  grpc::Status ok = RawAppend(Valid("unary-after-garbage", 1).SerializeAsString(), &result);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(result.last_stream_version(), 2u);
}

TEST_F(GarbageTest, StreamAcknowledgesUndecodableRequestsAndAnswersTheBatchesBeforeAndAfter) {
  auto channel = testing::NewChannel(server_->address());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = RawStream(channel, &context);
  // valid 100, garbage 101, valid 102, garbage 103, ..., then one whose top
  // level breaks before its request_id (acknowledged under 0), then valid.
  std::map<uint64_t, std::string> garbage_rule;  // request id -> part of the message
  std::vector<uint64_t> valid_ids;
  uint64_t id = 100;
  for (const Garbage& g : GarbageCases(0)) {
    ASSERT_TRUE(stream->Write(ToBuffer(Valid(absl::StrCat("stream-case-", id), id).SerializeAsString())));
    valid_ids.push_back(id++);
    auto bytes = g.bytes;
    // Re-number: the request_id of every damaged request, written after the
    // damage-free part (protobuf keeps the last value of a field).
    v1::AppendRequest id_only;
    id_only.set_request_id(id);
    const std::string id_field = id_only.SerializeAsString();
    // Put the id before the damage where the damage is appended at the end.
    const std::string valid = Valid("garbage-case", 0).SerializeAsString();
    if (bytes.compare(0, valid.size(), valid) == 0) {
      bytes = valid + id_field + bytes.substr(valid.size());
    } else {
      bytes = id_field + bytes;
    }
    ASSERT_TRUE(stream->Write(ToBuffer(bytes)));
    garbage_rule[id++] = g.rule.substr(0, g.rule.find(" at byte"));  // offsets moved with the id
  }
  const std::string truncated = Valid("never-stored", 999).SerializeAsString();
  ASSERT_TRUE(stream->Write(ToBuffer(truncated.substr(0, truncated.size() / 2))));
  ASSERT_TRUE(stream->Write(ToBuffer(Valid(absl::StrCat("stream-case-", id), id).SerializeAsString())));
  valid_ids.push_back(id++);
  ASSERT_TRUE(stream->WritesDone());

  std::map<uint64_t, v1::AppendAck> acks;
  grpc::ByteBuffer buffer;
  while (stream->Read(&buffer)) {
    v1::AppendAck ack;
    ASSERT_TRUE(ack.ParseFromString(FromBuffer(buffer)));
    EXPECT_TRUE(acks.emplace(ack.request_id(), ack).second) << "one acknowledgement per request " << ack.request_id();
  }
  grpc::Status finished = stream->Finish();
  EXPECT_TRUE(finished.ok()) << finished.error_message();
  EXPECT_EQ(acks.size(), valid_ids.size() + garbage_rule.size() + 1);
  for (uint64_t v : valid_ids) {
    ASSERT_TRUE(acks.count(v)) << v;
    EXPECT_EQ(acks[v].code(), 0) << acks[v].message();
    EXPECT_EQ(Version(absl::StrCat("stream-case-", v)), 2u) << v;
  }
  for (const auto& [g, rule] : garbage_rule) {
    ASSERT_TRUE(acks.count(g)) << g;
    EXPECT_EQ(acks[g].code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(acks[g].message().find(rule), std::string::npos) << acks[g].message();
    google::rpc::BadRequest bad;
    ASSERT_EQ(acks[g].details_size(), 1);
    EXPECT_TRUE(acks[g].details(0).UnpackTo(&bad));
  }
  ASSERT_TRUE(acks.count(0)) << "the request whose request_id cannot be read is acknowledged under 0";
  EXPECT_EQ(acks[0].code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(acks[0].message(), "events[0]: length 66 at byte 15 runs past the end (59 bytes left)");
  EXPECT_EQ(Version("garbage-case"), 0u);
  EXPECT_EQ(Version("never-stored"), 0u);
}

// Defect 9 of issue 12: acknowledgements of one stream leave in the order of
// its requests. A request answered at once (undecodable, or a batch refused
// before it is queued) must wait for the answers of the batches before it,
// which need their group's synced write.
TEST_F(GarbageTest, StreamAcknowledgesInTheOrderOfItsRequests) {
  auto channel = testing::NewChannel(server_->address());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  auto stream = RawStream(channel, &context);
  const Garbage garbage = GarbageCases(0).front();
  std::vector<uint64_t> sent;
  uint64_t id = 1;
  // Written from a thread of its own, so the flow control of a stream that
  // answers in order cannot block the test's reads.
  std::thread writer([&] {
    for (int round = 0; round < 100; ++round) {
      // A valid batch (stored by the writer thread, answered after its sync)…
      stream->Write(ToBuffer(Valid(absl::StrCat("ordered-case-", id), id).SerializeAsString()));
      sent.push_back(id++);
      // …an undecodable request (answered by the reactor at once)…
      v1::AppendRequest id_only;
      id_only.set_request_id(id);
      const std::string before_damage = Valid("garbage-case", 0).SerializeAsString();
      std::string bytes = garbage.bytes;
      if (bytes.compare(0, before_damage.size(), before_damage) == 0) {
        bytes = before_damage + id_only.SerializeAsString() + bytes.substr(before_damage.size());
      } else {
        bytes = id_only.SerializeAsString() + bytes;
      }
      stream->Write(ToBuffer(bytes));
      sent.push_back(id++);
      // …and a batch refused before it is queued (no case id).
      v1::AppendRequest refused = Valid("", id);
      stream->Write(ToBuffer(refused.SerializeAsString()));
      sent.push_back(id++);
    }
    stream->WritesDone();
  });
  std::vector<uint64_t> received;
  grpc::ByteBuffer buffer;
  while (stream->Read(&buffer)) {
    v1::AppendAck ack;
    ASSERT_TRUE(ack.ParseFromString(FromBuffer(buffer)));
    received.push_back(ack.request_id());
  }
  writer.join();
  grpc::Status finished = stream->Finish();
  EXPECT_TRUE(finished.ok()) << finished.error_message();
  ASSERT_EQ(received.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    ASSERT_EQ(received[i], sent[i]) << "acknowledgement " << i << " out of request order";
  }
}

}  // namespace
}  // namespace kring
