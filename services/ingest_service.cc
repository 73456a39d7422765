#include "services/ingest_service.h"

#include <deque>
#include <mutex>

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

}  // namespace

class AppendStreamReactor final : public grpc::ServerBidiReactor<v1::AppendRequest, v1::AppendAck> {
 public:
  AppendStreamReactor(IngestService* service, security::Identity sender)
      : service_(service), store_(service->store_), sender_(std::move(sender)) {
    std::lock_guard<std::mutex> lock(service_->streams_mu_);
    service_->streams_.insert(this);
    draining_ = service_->shutting_down_;
    if (draining_) {
      finished_ = true;
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down; retry on another instance"));
    } else {
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
    const uint64_t request_id = request_.request_id();
    const std::string case_id = request_.case_id();
    {
      std::lock_guard<std::mutex> lock(mu_);
      // A read that completes after the stream was finished (a drain with a
      // read outstanding) could no longer be acknowledged: do not store it.
      if (finished_) return;
      ++in_flight_;
    }
    auto done = [this, request_id, case_id](absl::StatusOr<eventstore::AppendOutcome> r) {
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
      Acknowledge(std::move(ack));
    };
    // May call back at once (malformed batch), so no lock is held here.
    auto batch = BatchFrom(std::move(request_), sender_);
    if (batch.ok()) {
      store_->AppendAsync(*std::move(batch), std::move(done));
    } else {
      done(batch.status());
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_ || finished_) {
      MaybeFinishLocked();
    } else if (Unanswered() < IngestService::kMaxInFlightPerStream) {
      StartRead(&request_);
    } else {
      read_paused_ = true;
    }
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
    }
    writing_ = !acks_.empty();
    if (writing_) StartWrite(&acks_.front());
    ResumeReadingLocked();
    MaybeFinishLocked();
  }

  void OnDone() override {
    {
      std::lock_guard<std::mutex> lock(service_->streams_mu_);
      service_->streams_.erase(this);
    }
    delete this;
  }

 private:
  void Acknowledge(v1::AppendAck ack) {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    if (!broken_) {
      acks_.push_back(std::move(ack));
      if (!writing_) {
        writing_ = true;
        StartWrite(&acks_.front());
      }
    }
    ResumeReadingLocked();
    MaybeFinishLocked();
  }

  // Batches read but not yet acknowledged to the client: being stored, or
  // acknowledgements waiting to be written (a client that does not read its
  // acknowledgements must not make the server buffer without bound).
  int Unanswered() const { return in_flight_ + static_cast<int>(acks_.size()); }

  void ResumeReadingLocked() {
    if (read_paused_ && !reads_done_ && !draining_ && Unanswered() < IngestService::kMaxInFlightPerStream) {
      read_paused_ = false;
      StartRead(&request_);
    }
  }

  void MaybeFinishLocked() {
    // Reads end (ok=false) when the client half-closes or the call is
    // cancelled; every batch read by then must be acknowledged first.
    if (finished_ || in_flight_ > 0 || writing_ || !(reads_done_ || draining_)) return;
    finished_ = true;
    Finish(reads_done_
               ? grpc::Status::OK
               : grpc::Status(
                     grpc::StatusCode::UNAVAILABLE,
                     "server shutting down; send the batches that were not acknowledged again (retries are safe)"));
  }

  IngestService* const service_;
  eventstore::EventStore* const store_;
  const security::Identity sender_;
  v1::AppendRequest request_;
  std::mutex mu_;
  std::deque<v1::AppendAck> acks_;  // front is being written when writing_
  int in_flight_ = 0;
  bool writing_ = false;
  bool reads_done_ = false;
  bool read_paused_ = false;
  bool broken_ = false;
  bool draining_ = false;
  bool finished_ = false;
};

grpc::ServerUnaryReactor* IngestService::Append(grpc::CallbackServerContext* context, const v1::AppendRequest* request,
                                                v1::AppendResult* result) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<security::Identity> sender = auth_->Authorize(*context, security::Role::kPartner);
  if (!sender.ok()) {
    reactor->Finish(ToGrpc(sender.status()));
    return reactor;
  }
  v1::AppendRequest copy = *request;
  const std::string case_id = copy.case_id();
  auto batch = BatchFrom(std::move(copy), *sender);
  if (!batch.ok()) {
    reactor->Finish(ToGrpc(batch.status()));
    return reactor;
  }
  store_->AppendAsync(*std::move(batch), [reactor, result, case_id](absl::StatusOr<eventstore::AppendOutcome> r) {
    if (r.ok()) ToResult(case_id, *r, result);
    reactor->Finish(ToGrpc(r.status()));
  });
  return reactor;
}

grpc::ServerBidiReactor<v1::AppendRequest, v1::AppendAck>* IngestService::AppendStream(
    grpc::CallbackServerContext* context) {
  absl::StatusOr<security::Identity> sender = auth_->Authorize(*context, security::Role::kPartner);
  if (!sender.ok()) return new RefusedBidiReactor<v1::AppendRequest, v1::AppendAck>(sender.status());
  return new AppendStreamReactor(this, *std::move(sender));
}

void IngestService::BeginShutdown() {
  std::lock_guard<std::mutex> lock(streams_mu_);
  shutting_down_ = true;
  for (AppendStreamReactor* stream : streams_) stream->Drain();
}

}  // namespace kring::services
