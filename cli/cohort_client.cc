#include "cli/cohort_client.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "kring/v1/ingest.grpc.pb.h"

namespace kring::client {
namespace {

struct SharedTotals {
  std::mutex mu;
  CohortStreamTotals totals;
};

// One AppendStream carrying cases [first, first + count).
grpc::Status StreamCases(v1::IngestService::Stub& stub, const CohortStreamOptions& options, size_t first, size_t count,
                         SharedTotals& shared) {
  synth::CohortOptions cohort = options.cohort;
  cohort.first_case = first;
  cohort.cases = count;
  synth::CohortGenerator generator(cohort);

  grpc::ClientContext context;
  auto stream = stub.AppendStream(&context);
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  bool stream_closed = false;                          // no more acknowledgements will come
  std::vector<std::pair<std::string, uint64_t>> sent;  // by request id: case, events

  std::thread reader([&] {
    v1::AppendAck ack;
    while (stream->Read(&ack)) {
      std::pair<std::string, uint64_t> batch;
      {
        std::lock_guard<std::mutex> lock(mu);
        batch = sent[ack.request_id()];
        --outstanding;
      }
      cv.notify_one();
      std::lock_guard<std::mutex> lock(shared.mu);
      CohortStreamTotals& t = shared.totals;
      t.cases++;
      if (ack.code() != 0) {
        t.refused += batch.second;
        if (t.errors.size() < 10) t.errors.push_back(absl::StrCat(batch.first, ": ", ack.message()));
      } else if (ack.result().already_recorded()) {
        t.already_recorded += batch.second;
      } else {
        t.appended += batch.second;
      }
      if (options.acknowledged_batches) options.acknowledged_batches->fetch_add(1);
    }
    std::lock_guard<std::mutex> lock(mu);
    stream_closed = true;
    cv.notify_one();
  });

  synth::SyntheticCase c;
  v1::AppendRequest request;
  bool writing = true;
  while (writing && generator.Next(&c)) {
    request.Clear();
    request.set_case_id(c.case_id);
    request.mutable_expected_version()->set_no_stream(true);
    for (auto& e : c.events) *request.add_events() = std::move(e);
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return outstanding < options.window || stream_closed; });
      if (stream_closed) break;
      request.set_request_id(sent.size());
      sent.emplace_back(c.case_id, request.events_size());
      ++outstanding;
    }
    writing = stream->Write(request);
  }
  stream->WritesDone();
  reader.join();
  return stream->Finish();
}

}  // namespace

CohortStreamTotals StreamCohort(const std::shared_ptr<grpc::Channel>& channel, const CohortStreamOptions& options) {
  auto stub = v1::IngestService::NewStub(channel);
  SharedTotals shared;
  std::vector<std::thread> threads;
  std::vector<grpc::Status> results(options.streams);
  const auto started = std::chrono::steady_clock::now();
  for (int s = 0; s < options.streams; ++s) {
    const size_t begin = options.cohort.cases * s / options.streams;
    const size_t end = options.cohort.cases * (s + 1) / options.streams;
    threads.emplace_back([&, s, begin, end] {
      results[s] = StreamCases(*stub, options, options.cohort.first_case + begin, end - begin, shared);
    });
  }
  for (auto& t : threads) t.join();
  shared.totals.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (const auto& r : results) {
    if (!r.ok() && shared.totals.status.ok()) {
      shared.totals.status = absl::Status(static_cast<absl::StatusCode>(r.error_code()),
                                          absl::StrCat("append stream failed: ", r.error_message()));
    }
  }
  return std::move(shared.totals);
}

}  // namespace kring::client
