#include "services/ingest_service.h"

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <malloc.h>

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

#include "common/log.h"
#include "services/grpc_status.h"

namespace kring::services {
namespace {

// The batch of `request` as sent by `sender`: its name is every event's
// source; a partner may append only to its own cases (case_rules.h).
absl::StatusOr<eventstore::AppendBatch> BatchFrom(v1::AppendRequest&& request, const security::Identity& sender) {
  auto batch = ToBatch(std::move(request), sender.name);
  if (batch.ok()) batch->own_cases_only = !sender.every_role;
  return batch;
}

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// A request as read from the wire: decoded, or why not (with the request_id
// when it could still be read).
struct Decoded {
  absl::Status status;
  v1::AppendRequest request;
  uint64_t request_id = 0;
  uint64_t sequence = 0;  // the stream's count of requests read before this one
  AdmissionCost cost;
};

// Protobuf parses straight from gRPC's slices; only bytes it refuses are
// copied and walked to say why.
Decoded Decode(grpc::ByteBuffer* buffer) {
  Decoded d;
  d.cost.bytes = buffer->Length();
  grpc::ProtoBufferReader reader(buffer);
  if (d.request.ParseFromZeroCopyStream(&reader) && reader.status().ok()) {
    d.request_id = d.request.request_id();
    d.cost.events = static_cast<size_t>(d.request.events_size());
    return d;
  }
  const std::string bytes = Flatten(*buffer);
  d.status = UndecodableRequestError(bytes);
  d.request_id = ReadableRequestId(bytes).value_or(0);
  d.request.Clear();
  return d;
}

template <typename Message>
grpc::ByteBuffer Serialize(const Message& message) {
  grpc::ByteBuffer buffer;
  bool own_buffer = false;
  grpc::SerializationTraits<Message>::Serialize(message, &buffer, &own_buffer);
  return buffer;
}

v1::AppendAck AckFor(uint64_t request_id, const std::string& case_id,
                     const absl::StatusOr<eventstore::AppendOutcome>& r) {
  v1::AppendAck ack;
  ack.set_request_id(request_id);
  if (r.ok()) {
    ToResult(case_id, *r, ack.mutable_result());
  } else {
    google::rpc::Status status = ToRpcStatus(r.status());
    ack.set_code(status.code());
    ack.set_message(std::move(*status.mutable_message()));
    *ack.mutable_details() = std::move(*status.mutable_details());
  }
  return ack;
}

// Gives the heap memory that is free back to the system. glibc's malloc
// keeps freed memory in its arenas (one per thread that allocated, up to
// 8 per core) and returns on its own only what lies at the top of a heap, so
// what many streams' gRPC threads freed stays in the process's RSS until
// malloc_trim gives back every free page. It walks every arena under its
// lock, so it runs only after many streams ended, not per stream.
void ReturnFreedMemory(size_t streams_ended) {
#ifdef __GLIBC__
  const struct mallinfo2 heap = mallinfo2();
  const auto start = std::chrono::steady_clock::now();
  const int returned = malloc_trim(0);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  Logger("ingest")->info(
      "msg=freed_memory_returned streams_ended={} heap_in_use_mib={} heap_free_mib={} returned={} ms={}", streams_ended,
      heap.uordblks >> 20, heap.fordblks >> 20, returned == 1, took.count());
#else
  (void)streams_ended;
#endif
}

}  // namespace

class AppendStreamReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                                  public AdmissionController::Waiter {
 public:
  AppendStreamReactor(IngestService* service, security::Identity sender, std::string connection)
      : service_(service), store_(service->store_), sender_(std::move(sender)), connection_(std::move(connection)) {
    std::lock_guard<std::mutex> lock(service_->streams_mu_);
    service_->streams_.insert(this);
    draining_ = service_->shutting_down_;
    if (draining_) {
      finished_ = true;
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down; retry on another instance"));
    } else {
      const size_t running = ++service_->running_;
      size_t peak = service_->peak_running_.load();
      while (running > peak && !service_->peak_running_.compare_exchange_weak(peak, running)) {
      }
      StartRead(&request_);
    }
  }

  // Stops reading; ends the stream once every read batch is acknowledged.
  void Drain() {
    std::lock_guard<std::mutex> lock(mu_);
    draining_ = true;
    MaybeFinishLocked();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      std::lock_guard<std::mutex> lock(mu_);
      reads_done_ = true;
      MaybeFinishLocked();
      return;
    }
    Decoded decoded = Decode(&request_);
    request_.Clear();
    const bool decodable = decoded.status.ok();
    std::optional<Decoded> admitted;
    uint64_t sequence;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // A read that completes after the stream was finished (a drain with a
      // read outstanding) could no longer be acknowledged: do not store it.
      if (finished_) return;
      ++in_flight_;
      sequence = decoded.sequence = next_sequence_++;
      if (decodable) {
        held_ = std::move(decoded);
        admitted = TryAdmitLocked();
      }
    }
    // Submit and Acknowledge may call back at once, so no lock is held here.
    if (!decodable) {
      // Not decodable: nothing to store; answered in its turn, the stream
      // goes on.
      Acknowledge(sequence, AckFor(decoded.request_id, "", decoded.status));
    } else if (admitted) {
      Submit(*std::move(admitted));
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_ || finished_) {
      MaybeFinishLocked();
    } else if (CanReadLocked()) {
      StartRead(&request_);
    } else {
      read_paused_ = true;
    }
  }

  // The admission controller freed budget: the batch held back may fit now.
  void OnBudgetFreed() override {
    std::optional<Decoded> admitted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (held_) admitted = TryAdmitLocked();
    }
    if (!admitted) return;
    Submit(*std::move(admitted));
    std::lock_guard<std::mutex> lock(mu_);
    ResumeReadingLocked();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    acks_.pop_front();
    if (!ok) {
      // The call is gone (client away, or cancelled): nothing more can be
      // sent. Batches already stored stay stored; a retry finds them.
      if (!broken_)
        Logger("ingest")->warn("msg=stream_broken unsent_acknowledgements={} in_flight={}", acks_.size() + 1,
                               in_flight_);
      broken_ = true;
      acks_.clear();
      ready_.clear();
    }
    writing_ = !acks_.empty();
    if (writing_) StartWrite(&acks_.front());
    ResumeReadingLocked();
    MaybeFinishLocked();
  }

  void OnDone() override {
    service_->admission_.RemoveWaiter(this);
    size_t return_memory_after = 0;  // streams ended, when the last one just did
    {
      std::lock_guard<std::mutex> lock(service_->streams_mu_);
      service_->streams_.erase(this);
      if (++service_->streams_ended_since_return_ >= IngestService::kStreamEndsPerMemoryReturn &&
          service_->streams_.empty()) {
        return_memory_after = service_->streams_ended_since_return_;
        service_->streams_ended_since_return_ = 0;
        ++service_->memory_returns_;
      }
    }
    delete this;
    if (return_memory_after > 0) ReturnFreedMemory(return_memory_after);
  }

 private:
  // Takes the held batch if the admission controller lets it in; otherwise
  // keeps it (reading stays paused) and waits for OnBudgetFreed.
  std::optional<Decoded> TryAdmitLocked() {
    if (!service_->admission_.Admit(connection_, held_->cost, this).ok()) return std::nullopt;
    std::optional<Decoded> out = std::move(held_);
    held_.reset();
    return out;
  }

  // Hands an admitted batch to the store; its answer returns the budget and
  // becomes the acknowledgement.
  void Submit(Decoded d) {
    const uint64_t request_id = d.request_id;
    const uint64_t sequence = d.sequence;
    const std::string case_id = d.request.case_id();
    const AdmissionCost cost = d.cost;
    auto done = [this, request_id, sequence, case_id, cost](absl::StatusOr<eventstore::AppendOutcome> r) {
      service_->admission_.Release(connection_, cost);
      Acknowledge(sequence, AckFor(request_id, case_id, r));  // last: the stream may end and be deleted
    };
    auto batch = BatchFrom(std::move(d.request), sender_);
    if (batch.ok()) {
      store_->AppendAsync(*std::move(batch), std::move(done));
    } else {
      done(batch.status());
    }
  }

  // Acknowledgements leave in the order of the requests: an answer that is
  // ready before an earlier request's (a refused batch, an undecodable
  // request, a batch of a later group) waits in ready_ for its turn.
  void Acknowledge(uint64_t sequence, const v1::AppendAck& ack) {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    if (!broken_) {
      ready_.emplace(sequence, Serialize(ack));
      for (auto it = ready_.begin(); it != ready_.end() && it->first == next_to_send_; it = ready_.erase(it)) {
        acks_.push_back(std::move(it->second));
        ++next_to_send_;
      }
      if (!writing_ && !acks_.empty()) {
        writing_ = true;
        StartWrite(&acks_.front());
      }
    }
    ResumeReadingLocked();
    MaybeFinishLocked();
  }

  // Batches read but not yet acknowledged to the client: held for budget,
  // being stored, or acknowledgements waiting to be written (a client that
  // does not read its acknowledgements must not make the server buffer
  // without bound).
  int Unanswered() const { return in_flight_ + static_cast<int>(ready_.size() + acks_.size()); }
  bool CanReadLocked() const { return !held_ && Unanswered() < IngestService::kMaxInFlightPerStream; }

  void ResumeReadingLocked() {
    if (read_paused_ && !reads_done_ && !draining_ && !finished_ && CanReadLocked()) {
      read_paused_ = false;
      StartRead(&request_);
    }
  }

  void MaybeFinishLocked() {
    // Reads end (ok=false) when the client half-closes or the call is
    // cancelled; every batch read by then must be acknowledged first.
    if (finished_ || in_flight_ > 0 || writing_ || !(reads_done_ || draining_)) return;
    finished_ = true;
    --service_->running_;
    Finish(reads_done_
               ? grpc::Status::OK
               : grpc::Status(
                     grpc::StatusCode::UNAVAILABLE,
                     "server shutting down; send the batches that were not acknowledged again (retries are safe)"));
  }

  IngestService* const service_;
  eventstore::EventStore* const store_;
  const security::Identity sender_;
  const std::string connection_;  // the peer: the admission controller's per-connection key
  grpc::ByteBuffer request_;
  std::mutex mu_;
  std::optional<Decoded> held_;        // read, waiting for admission (reading paused meanwhile)
  std::deque<grpc::ByteBuffer> acks_;  // front is being written when writing_
  // Answers waiting for an earlier request's, by sequence number (the order
  // in which requests were read, from 0); next_to_send_ is the next in turn.
  std::map<uint64_t, grpc::ByteBuffer> ready_;
  uint64_t next_sequence_ = 0;
  uint64_t next_to_send_ = 0;
  int in_flight_ = 0;  // read and not yet acknowledged (held_ included)
  bool writing_ = false;
  bool reads_done_ = false;
  bool read_paused_ = false;
  bool broken_ = false;
  bool draining_ = false;
  bool finished_ = false;
};

grpc::ServerUnaryReactor* IngestService::Append(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                                grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<security::Identity> sender = auth_->Authorize(*context, security::Role::kPartner);
  if (!sender.ok()) {
    reactor->Finish(ToGrpc(sender.status()));
    return reactor;
  }
  Decoded decoded = Decode(const_cast<grpc::ByteBuffer*>(request));  // read only
  if (!decoded.status.ok()) {
    reactor->Finish(ToGrpc(decoded.status));
    return reactor;
  }
  std::string connection = context->peer();
  const AdmissionCost cost = decoded.cost;
  if (absl::Status admitted = admission_.Admit(connection, cost); !admitted.ok()) {
    reactor->Finish(ToGrpc(admitted));
    return reactor;
  }
  const std::string case_id = decoded.request.case_id();
  auto done = [this, reactor, response, case_id, connection = std::move(connection),
               cost](absl::StatusOr<eventstore::AppendOutcome> r) {
    admission_.Release(connection, cost);
    if (r.ok()) {
      v1::AppendResult result;
      ToResult(case_id, *r, &result);
      *response = Serialize(result);
    }
    reactor->Finish(ToGrpc(r.status()));
  };
  auto batch = BatchFrom(std::move(decoded.request), *sender);
  if (batch.ok()) {
    store_->AppendAsync(*std::move(batch), std::move(done));
  } else {
    done(batch.status());
  }
  return reactor;
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* IngestService::AppendStream(
    grpc::CallbackServerContext* context) {
  absl::StatusOr<security::Identity> sender = auth_->Authorize(*context, security::Role::kPartner);
  if (!sender.ok()) return new RefusedBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>(sender.status());
  return new AppendStreamReactor(this, *std::move(sender), context->peer());
}

void IngestService::BeginShutdown() {
  std::lock_guard<std::mutex> lock(streams_mu_);
  shutting_down_ = true;
  for (AppendStreamReactor* stream : streams_) stream->Drain();
}

size_t IngestService::open_streams() const {
  std::lock_guard<std::mutex> lock(streams_mu_);
  return streams_.size();
}

size_t IngestService::memory_returns() const {
  std::lock_guard<std::mutex> lock(streams_mu_);
  return memory_returns_;
}

}  // namespace kring::services
