// Limits and back-pressure of the ingest edge (issue 12, defects 6 and 12),
// each driven over a real socket against an in-process KringServer whose
// limits the test sets small:
//  - the append-queue bound (services/admission.h): a unary Append that does
//    not fit is refused with RESOURCE_EXHAUSTED, a stream stops reading until
//    budget frees and then answers, and one connection flooding many streams
//    stays within its per-connection share while another client's appends
//    are answered;
//  - gRPC's own limits as kringd sets them: request metadata size, concurrent
//    streams per connection, idle connections closed, compressed requests
//    refused, a message larger than the memory quota refused;
//  - the flags that set them.
// No assertion is on time: each waits for a condition with a generous
// deadline and checks counts.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "services/options.h"
#include "services/server.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

using services::AdmissionController;
using services::KringServer;
using services::ServerOptions;

constexpr auto kDeadline = std::chrono::seconds(60);

std::chrono::system_clock::time_point Deadline() { return std::chrono::system_clock::now() + kDeadline; }

// Waits (bounded) until `condition` holds; false if it never did.
bool WaitFor(const std::function<bool()>& condition) { return testing::WaitFor(condition, kDeadline); }

// A new case's first batch: a referral and n-1 costs.
v1::AppendRequest Batch(const std::string& case_id, size_t events, uint64_t request_id = 0) {
  v1::AppendRequest r;
  r.set_case_id(case_id);
  for (auto& e : testing::SomeEvents(events)) *r.add_events() = std::move(e);
  r.set_request_id(request_id);
  return r;
}

grpc::Status Append(v1::IngestService::Stub& stub, const v1::AppendRequest& request,
                    grpc::ClientContext* context = nullptr) {
  grpc::ClientContext own;
  if (!context) context = &own;
  context->set_deadline(Deadline());
  v1::AppendResult result;
  return stub.Append(context, request, &result);
}

class IngestLimitsTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options) {
    options.data_dir = dir_.Sub("data");
    options.listen = "127.0.0.1:0";
    options.shutdown_timeout = std::chrono::milliseconds(5000);
    auto server = KringServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  AdmissionController& admission() { return server_->ingest().admission(); }
  size_t Version(const std::string& case_id) {
    auto v = server_->store().CaseVersion(CaseId(case_id));
    return v.ok() ? v->value() : 0;
  }

  testing::TempDir dir_;
  std::unique_ptr<KringServer> server_;
};

TEST_F(IngestLimitsTest, AppendIsRefusedWithResourceExhaustedWhileTheQueueIsFullAndAcceptedOnceItFrees) {
  ServerOptions options;
  options.admission.max_queued_events = 100;
  Start(options);
  auto stub = v1::IngestService::NewStub(testing::NewChannel(server_->address()));
  // Another connection holds the whole overall budget (as batches in the
  // store's queue would).
  ASSERT_TRUE(admission().Admit("holder", {100, 1000}).ok());

  grpc::Status refused = Append(*stub, Batch("queue-full-1", 3));
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_NE(refused.error_message().find("ingest queue full: at most 100 events waiting to be stored"),
            std::string::npos)
      << refused.error_message();
  EXPECT_EQ(Version("queue-full-1"), 0u) << "a refused batch is not stored";

  admission().Release("holder", {100, 1000});
  grpc::Status ok = Append(*stub, Batch("queue-full-1", 3));
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(Version("queue-full-1"), 3u);
  EXPECT_EQ(admission().stats().queued_events, 0u) << "every admitted batch is released once answered";
}

TEST_F(IngestLimitsTest, StreamStopsReadingWhileTheQueueIsFullAndAnswersOnceItFrees) {
  ServerOptions options;
  options.admission.max_queued_events = 100;
  Start(options);
  auto stub = v1::IngestService::NewStub(testing::NewChannel(server_->address()));
  ASSERT_TRUE(admission().Admit("holder", {100, 1000}).ok());

  grpc::ClientContext context;
  context.set_deadline(Deadline());
  auto stream = stub->AppendStream(&context);
  ASSERT_TRUE(stream->Write(Batch("held-1", 2, 1)));
  // The stream read the batch and waits for budget, without storing it.
  ASSERT_TRUE(WaitFor([&] { return admission().stats().waiters == 1; }));
  EXPECT_EQ(Version("held-1"), 0u);
  EXPECT_EQ(server_->ingest().open_streams(), 1u);

  admission().Release("holder", {100, 1000});
  v1::AppendAck ack;
  ASSERT_TRUE(stream->Read(&ack));
  EXPECT_EQ(ack.request_id(), 1u);
  EXPECT_EQ(ack.code(), 0) << ack.message();
  EXPECT_EQ(Version("held-1"), 2u);
  ASSERT_TRUE(stream->Write(Batch("held-2", 2, 2)));
  ASSERT_TRUE(stream->Read(&ack));
  EXPECT_EQ(ack.request_id(), 2u);
  ASSERT_TRUE(stream->WritesDone());
  grpc::Status finished = stream->Finish();
  EXPECT_TRUE(finished.ok()) << finished.error_message();
}

// A waiter that is never woken usefully: stands for a stream in the tests
// that drive the admission controller directly.
class IdleWaiter : public AdmissionController::Waiter {
 public:
  void OnBudgetFreed() override {}
};

TEST_F(IngestLimitsTest, StreamsLeaveAQuarterOfTheQueueForUnaryAppends) {
  ServerOptions options;
  options.admission.max_queued_events = 400;
  options.admission.max_queued_events_per_connection = 1000;
  Start(options);
  IdleWaiter waiter;
  // Streams (callers that can wait) on many connections fill three quarters.
  for (int c = 0; c < 3; ++c) ASSERT_TRUE(admission().Admit(absl::StrCat("stream-", c), {100, 10}, &waiter).ok());
  EXPECT_EQ(admission().Admit("stream-3", {1, 10}, &waiter).code(), absl::StatusCode::kResourceExhausted);
  admission().RemoveWaiter(&waiter);
  // A unary Append from another client still fits.
  auto stub = v1::IngestService::NewStub(testing::NewChannel(server_->address()));
  grpc::Status ok = Append(*stub, Batch("reserve-1", 3));
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  for (int c = 0; c < 3; ++c) admission().Release(absl::StrCat("stream-", c), {100, 10});
}

TEST_F(IngestLimitsTest, FloodingConnectionStaysWithinItsShareAndAnotherClientIsAnswered) {
  ServerOptions options;
  options.admission.max_queued_events = 400;
  options.admission.max_queued_events_per_connection = 100;
  Start(options);
  constexpr int kStreams = 24;
  constexpr int kBatches = 40;
  constexpr size_t kEvents = 10;

  // The flood: one connection, many streams, each writing all its batches
  // before reading a single acknowledgement.
  auto flood_channel = testing::NewChannel(server_->address());
  std::atomic<int> flood_acked{0};
  std::atomic<int> flood_refused{0};
  std::vector<std::thread> flood;
  for (int s = 0; s < kStreams; ++s) {
    flood.emplace_back([&, s] {
      auto stub = v1::IngestService::NewStub(flood_channel);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
      auto stream = stub->AppendStream(&context);
      for (int b = 0; b < kBatches; ++b) {
        if (!stream->Write(Batch(absl::StrCat("flood-", s, "-", b), kEvents, b))) break;
      }
      stream->WritesDone();
      v1::AppendAck ack;
      while (stream->Read(&ack)) (ack.code() == 0 ? flood_acked : flood_refused)++;
      EXPECT_TRUE(stream->Finish().ok());
    });
  }
  // Meanwhile another client, on its own connection, appends one by one.
  auto stub = v1::IngestService::NewStub(testing::NewChannel(server_->address()));
  int other_ok = 0;
  for (int i = 0; i < 20; ++i) {
    grpc::Status s = Append(*stub, Batch(absl::StrCat("other-", i), 3));
    EXPECT_TRUE(s.ok()) << s.error_message();
    other_ok += s.ok();
  }
  for (auto& t : flood) t.join();

  EXPECT_EQ(other_ok, 20);
  EXPECT_EQ(flood_acked.load(), kStreams * kBatches);
  EXPECT_EQ(flood_refused.load(), 0);
  const AdmissionController::Stats stats = admission().stats();
  EXPECT_LE(stats.peak_connection_events, 100u) << "one connection never holds more than its share";
  EXPECT_LE(stats.peak_events, 400u);
  EXPECT_GT(stats.refused, 0u) << "the flood must have reached its share for this test to mean anything";
  EXPECT_EQ(stats.queued_events, 0u);
  EXPECT_EQ(stats.queued_bytes, 0u);
}

TEST_F(IngestLimitsTest, RequestMetadataOverTheLimitIsRefused) {
  ServerOptions options;
  options.max_metadata_bytes = 64 << 10;  // above gRPC's own 8 KiB, to see that the option is applied
  Start(options);
  auto stub = v1::IngestService::NewStub(testing::NewChannel(server_->address()));
  grpc::ClientContext within;
  within.AddMetadata("x-note", std::string(32 << 10, 'a'));
  grpc::Status ok = Append(*stub, Batch("metadata-1", 2), &within);
  EXPECT_TRUE(ok.ok()) << ok.error_message();

  auto fresh = v1::IngestService::NewStub(testing::NewChannel(server_->address()));
  grpc::ClientContext large;
  large.AddMetadata("x-note", std::string(1 << 20, 'a'));  // 1 MiB
  grpc::Status refused = Append(*fresh, Batch("metadata-2", 2), &large);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_NE(refused.error_message().find("metadata size exceeds limit"), std::string::npos) << refused.error_message();
  EXPECT_EQ(Version("metadata-2"), 0u);
}

TEST_F(IngestLimitsTest, StreamsOfOneConnectionBeyondTheLimitWaitForAFreeSlot) {
  ServerOptions options;
  options.max_concurrent_streams = 4;
  Start(options);
  constexpr int kClients = 8;
  auto channel = testing::NewChannel(server_->address());
  std::mutex mu;
  std::condition_variable cv;
  int acked = 0;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      auto stub = v1::IngestService::NewStub(channel);
      grpc::ClientContext context;
      context.set_deadline(Deadline());
      auto stream = stub->AppendStream(&context);
      if (!stream->Write(Batch(absl::StrCat("slots-", i), 2, i))) return;
      v1::AppendAck ack;
      if (!stream->Read(&ack) || ack.code() != 0) return;
      {
        // Hold the stream open until as many streams as the limit allows
        // have been answered: without the limit, all would be open by then.
        std::unique_lock<std::mutex> lock(mu);
        ++acked;
        cv.notify_all();
        cv.wait(lock, [&] { return acked >= 4; });
      }
      stream->WritesDone();
      if (stream->Finish().ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kClients) << "the streams beyond the limit waited and then ran";
  EXPECT_LE(server_->ingest().peak_open_streams(), 4u);
}

TEST_F(IngestLimitsTest, IdleConnectionIsClosed) {
  ServerOptions options;
  options.max_connection_idle = std::chrono::milliseconds(300);
  Start(options);
  auto channel = testing::NewChannel(server_->address());
  auto stub = v1::IngestService::NewStub(channel);
  ASSERT_TRUE(Append(*stub, Batch("idle-1", 2)).ok());
  ASSERT_EQ(channel->GetState(false), GRPC_CHANNEL_READY);
  // The server's GOAWAY takes the channel out of READY (to IDLE).
  EXPECT_TRUE(channel->WaitForStateChange(GRPC_CHANNEL_READY, Deadline()));
  EXPECT_NE(channel->GetState(false), GRPC_CHANNEL_READY);
  // The client reconnects on its next call.
  EXPECT_TRUE(Append(*stub, Batch("idle-2", 2)).ok());
}

TEST_F(IngestLimitsTest, CompressedRequestIsRefused) {
  Start(ServerOptions());
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetCompressionAlgorithm(GRPC_COMPRESS_GZIP);
  auto stub = v1::IngestService::NewStub(
      grpc::CreateCustomChannel(server_->address(), grpc::InsecureChannelCredentials(), args));
  grpc::Status refused = Append(*stub, Batch("gzip-1", 2));
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNIMPLEMENTED) << refused.error_message();
  EXPECT_EQ(refused.error_message(), "Compression algorithm 'gzip' is disabled.");
  EXPECT_EQ(Version("gzip-1"), 0u);
}

// Freed heap memory is given back to the system (malloc_trim) when the last
// open AppendStream ends and at least kStreamEndsPerMemoryReturn streams
// ended since the last time; not per stream, and not while one is open.
TEST_F(IngestLimitsTest, FreedMemoryIsReturnedWhenTheLastOfManyStreamsEnds) {
  Start(ServerOptions());
  auto stub = v1::IngestService::NewStub(testing::NewChannel(server_->address()));
  struct Open {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::AppendRequest, v1::AppendAck>> stream;
  };
  auto open = [&] {
    auto o = std::make_unique<Open>();
    o->context.set_deadline(Deadline());
    o->stream = stub->AppendStream(&o->context);
    return o;
  };
  auto end = [](Open& o) {
    o.stream->WritesDone();
    return o.stream->Finish().ok();
  };
  services::IngestService& ingest = server_->ingest();

  // The last open stream ends, but too few have ended.
  auto single = open();
  ASSERT_TRUE(WaitFor([&] { return ingest.open_streams() == 1; }));
  ASSERT_TRUE(end(*single));
  ASSERT_TRUE(WaitFor([&] { return ingest.open_streams() == 0; }));
  EXPECT_EQ(ingest.memory_returns(), 0u);

  // Enough end (with the one above), but one stays open.
  constexpr size_t kEnds = services::IngestService::kStreamEndsPerMemoryReturn;
  std::vector<std::unique_ptr<Open>> streams;
  for (size_t i = 0; i < kEnds + 1; ++i) streams.push_back(open());
  ASSERT_TRUE(WaitFor([&] { return ingest.open_streams() == kEnds + 1; }));
  for (size_t i = 0; i < kEnds; ++i) ASSERT_TRUE(end(*streams[i]));
  ASSERT_TRUE(WaitFor([&] { return ingest.open_streams() == 1; }));
  EXPECT_EQ(ingest.memory_returns(), 0u);

  // The last one ends: once.
  ASSERT_TRUE(end(*streams[kEnds]));
  ASSERT_TRUE(WaitFor([&] { return ingest.open_streams() == 0; }));
  EXPECT_EQ(ingest.memory_returns(), 1u);
}

// Batches of 5000 events (about 300 KB) pass kringd's own validation.
ServerOptions LargeBatchesAllowed() {
  ServerOptions options;
  options.validation.max_batch_events = 5000;
  return options;
}

// gRPC 1.51 counts the bytes it reads from a connection against the
// ResourceQuota. A message larger than the whole quota cannot be taken in:
// gRPC resets that call (HTTP/2 RST_STREAM ENHANCE_YOUR_CALM), which the
// client sees as RESOURCE_EXHAUSTED, and nothing of it is stored. Small calls
// still pass. With the default quota the same message is stored.
TEST_F(IngestLimitsTest, MessageLargerThanTheMemoryQuotaIsRefusedAndSmallOnesPass) {
  ServerOptions options = LargeBatchesAllowed();
  options.memory_quota_bytes = 256 * 1024;
  Start(options);
  auto stub = v1::IngestService::NewStub(testing::NewChannel(server_->address()));
  ASSERT_TRUE(Append(*stub, Batch("quota-small", 3)).ok());
  const v1::AppendRequest large = Batch("quota-large", 5000);
  ASSERT_GT(large.ByteSizeLong(), options.memory_quota_bytes);
  grpc::Status refused = Append(*stub, large);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_EQ(Version("quota-large"), 0u) << "a refused batch is not stored";
  EXPECT_EQ(Version("quota-small"), 3u);
}

TEST_F(IngestLimitsTest, MessageLargerThanATinyMemoryQuotaIsStoredWithTheDefaultQuota) {
  Start(LargeBatchesAllowed());
  auto stub = v1::IngestService::NewStub(testing::NewChannel(server_->address()));
  grpc::Status ok = Append(*stub, Batch("quota-large", 5000));
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(Version("quota-large"), 5000u);
}

TEST(IngestLimitFlagsTest, FlagsSetEveryLimit) {
  const char* argv[] = {"kringd",
                        "--max-queued-events=7000",
                        "--max-queued-bytes=1048576",
                        "--max-queued-events-per-connection=700",
                        "--max-queued-bytes-per-connection=65536",
                        "--max-metadata-bytes=4096",
                        "--max-concurrent-streams=9",
                        "--max-connection-idle-ms=60000",
                        "--memory-quota-bytes=268435456"};
  auto o = services::ParseServerOptions(9, const_cast<char**>(argv));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->admission.max_queued_events, 7000u);
  EXPECT_EQ(o->admission.max_queued_bytes, 1048576u);
  EXPECT_EQ(o->admission.max_queued_events_per_connection, 700u);
  EXPECT_EQ(o->admission.max_queued_bytes_per_connection, 65536u);
  EXPECT_EQ(o->max_metadata_bytes, 4096);
  EXPECT_EQ(o->max_concurrent_streams, 9);
  EXPECT_EQ(o->max_connection_idle, std::chrono::milliseconds(60000));
  EXPECT_EQ(o->memory_quota_bytes, 268435456u);
  const char* bad[] = {"kringd", "--max-concurrent-streams=0"};
  auto r = services::ParseServerOptions(2, const_cast<char**>(bad));
  EXPECT_NE(r.status().message().find("--max-concurrent-streams"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace kring
